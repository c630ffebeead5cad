"""Lab 12 — Volumes (3D): scrolling a CT volume, 2-D slice by slice vs a 3-D CNN, phases as channels."""
from __future__ import annotations

from typing import Any

from radlab.course import need
from radlab.exercises import Exercise, ExerciseSet, Mistake, choice, number

NOTEBOOK = "labs/12_volumes_3d"
LOOKALIKE_CHOICES = ("a vessel seen end-on", "a rib", "the heart", "air in the airways")
SHAPE_CHOICES = ("(2, 32, 32)", "(1, 64, 32)", "(32, 32, 2)", "(1, 32, 32)")
MODEL_CHOICES = ("2d", "2d_phases", "3d")


def exercises(lab: Any = None) -> ExerciseSet:
    """The lab's questions; ``nodule_slices``, ``your_best`` and ``your_3d_params`` read ``lab`` (a ``VolumesLab``)."""

    def nodule_slices() -> int:
        extent = need(getattr(lab, "current_extent", lambda: None)(),
                      "show a volume that has a nodule (the volume slider; the title says 'nodule')")
        return extent[1] - extent[0] + 1

    def results() -> dict[str, Any]:
        found = getattr(lab, "results", None) or []
        return need({r.name: r for r in found} or None, "train the models first: press 'Train and compare'")

    def your_best() -> str:
        return max(results().values(), key=lambda r: r.test_auc).name

    def your_3d_params() -> int:
        return int(need(results().get("3d"), "train the 3-D CNN first: press 'Train and compare'").params)

    def gave_2d_params(value: Any) -> bool:
        r = results().get("2d")
        return r is not None and int(value) == r.params

    return ExerciseSet(NOTEBOOK, [
        Exercise(
            "lookalike", "In one axial slice of a chest CT, which structure looks just like a small nodule?",
            choice("a vessel seen end-on"), choices=LOOKALIKE_CHOICES,
            hints=["Scroll the lab's volume: which small bright discs in the lung go on and on through the slices?",
                   "Look at the coronal view: a tube there is a disc in every axial slice it crosses."],
            solution="A vessel cut across is a bright disc, like a nodule. Scrolling tells them apart: the vessel "
                     "continues through many slices, the nodule ends within a few.",
            mistakes=[Mistake("a rib", "ribs are at the body wall and far brighter (bone).")]),
        Exercise(
            "nodule_slices", "In the volume the lab shows now, through how many axial slices does the nodule extend?",
            number(nodule_slices),
            hints=["Scroll with the slice slider and note the first and last slice where the orange outline shows.",
                   "Count both ends: last − first + 1."],
            solution="A nodule of radius r voxels spans about 2r slices; a vessel spans all of them.",
            mistakes=[Mistake(lambda v: int(v) == nodule_slices() - 1, "count both ends: last − first + 1.")]),
        Exercise(
            "conv3d_params", "A 3-D convolution from 8 to 16 channels with 3×3×3 kernels and a bias: how many "
                             "parameters?",
            number(8 * 16 * 27 + 16),
            hints=["Each of the 16 output channels has one 3×3×3 kernel per input channel, plus one bias.",
                   "16 × (8 × 27) + 16."],
            solution="16 × 8 × 27 + 16 = 3472: three times a 2-D 3×3 layer's 1168, for the third dimension.",
            mistakes=[Mistake(8 * 16 * 9 + 16, "that is a 2-D 3×3 layer; 3×3×3 kernels have 27 weights."),
                      Mistake(8 * 16 * 27, "add the 16 biases.")]),
        Exercise(
            "phase_channels", "Non-contrast and venous-phase slices (32×32 each) given to a 2-D CNN as channels: "
                              "what is the shape (C, H, W) of one input?",
            choice("(2, 32, 32)"), choices=SHAPE_CHOICES,
            hints=["Channels are what an RGB photo has three of.",
                   "The two phases are aligned pixel by pixel, so they stack along a new first axis."],
            solution="(2, 32, 32): two channels, one per phase, registered voxel to voxel; the first convolution "
                     "mixes them, so it can respond to 'bright after contrast, not before'.",
            mistakes=[Mistake("(1, 64, 32)", "that puts the phases next to each other, not on top of each other."),
                      Mistake("(32, 32, 2)", "PyTorch puts channels first.")]),
        Exercise(
            "your_best", "In your comparison, which approach reached the highest test AUC?",
            choice(your_best), choices=MODEL_CHOICES,
            hints=["Look at the comparison table or the AUC bars.",
                   "'2d' is slice by slice, '2d_phases' the two phases as channels, '3d' the 3-D CNN."],
            solution="Seeing along z (3-D) tells a ball from a tube; one plain slice cannot. The second phase adds "
                     "a cue (vessels enhance, nodules hardly), which a 2-D CNN may or may not learn from a few "
                     "hundred slices: your numbers say which."),
        Exercise(
            "your_3d_params", "How many parameters does your 3-D CNN have?",
            number(your_3d_params),
            hints=["The comparison table has a parameters column.",
                   "It is the row of the 3-D CNN."],
            solution="A small 3-D CNN can have fewer parameters than a 2-D one and still cost more to run: each "
                     "kernel slides through a whole volume.",
            mistakes=[Mistake(gave_2d_params, "that is the 2-D CNN's count.")]),
    ])
