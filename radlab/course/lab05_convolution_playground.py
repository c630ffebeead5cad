"""Lab 5 — Convolution and pooling playground: the output-size formula, padding, kernels, pooling, last layer."""
from __future__ import annotations

from typing import Any

from radlab.exercises import Exercise, ExerciseSet, Mistake, choice, number

NOTEBOOK = "labs/05_convolution_playground"

VERTICAL = "edge: Sobel x (vertical edges)"
#: Kernel presets offered as answers (names of :data:`radlab.viz.conv.KERNELS`; a test keeps them in step).
KERNEL_CHOICES = ("identity", VERTICAL, "edge: Sobel y (horizontal edges)", "edge: Laplacian", "blur: Gaussian",
                  "sharpen")


def _size(n: int, k: int, p: int, s: int) -> int:
    """⌊(n + 2p − k)/s⌋ + 1 (the same formula as :func:`radlab.viz.conv.output_size`; a test compares them)."""
    return (n + 2 * p - k) // s + 1


def exercises(lab: Any = None) -> ExerciseSet:
    """The lab's questions: all are about the formulas and kernels the playground shows (none needs a run)."""
    return ExerciseSet(NOTEBOOK, [
        Exercise(
            "output_size", "A 64×64 image, a 3×3 kernel, padding 1, stride 2: how many pixels a side does the "
                           "feature map have?",
            number(_size(64, 3, 1, 2)),
            hints=["Use ⌊(n + 2p − k)/s⌋ + 1; the formula under the sliders shows it filled in.",
                   "Set padding 1 and stride 2 in the playground: (64 + 2 − 3)/2 = 31.5; round down, then add 1."],
            solution="(64 + 2·1 − 3)/2 + 1 = 32.5, and the division is rounded down: ⌊63/2⌋ + 1 = 32.",
            mistakes=[Mistake(33, "you rounded up: the division is rounded down, ⌊63/2⌋ = 31."),
                      Mistake(64, "that is stride 1; stride 2 jumps two pixels per step."),
                      Mistake(31, "31 is ⌊63/2⌋; add the 1 of the formula.")]),
        Exercise(
            "same_padding", "Which padding keeps a 64×64 image 64×64 with a 5×5 kernel and stride 1?",
            number((5 - 1) // 2),
            hints=["Solve (64 + 2p − 5)/1 + 1 = 64 for p.",
                   "A k×k kernel needs (k − 1)/2 extra pixels on each side to be centred on the border pixels."],
            solution="p = (k − 1)/2 = 2 ('same' padding): 64 + 4 − 5 + 1 = 64.",
            mistakes=[Mistake(1, "padding 1 is 'same' for a 3×3 kernel; a 5×5 kernel reaches two pixels out."),
                      Mistake(4, "4 is the total the map would lose (k − 1); padding adds that on both sides, "
                                 "so half on each.")]),
        Exercise(
            "vertical_edges", "Which kernel responds to vertical edges (left-right changes in brightness)?",
            choice(VERTICAL), choices=KERNEL_CHOICES,
            hints=["Try each preset on the toy square and look at which sides light up.",
                   "A vertical edge is a change from left to right: which kernel subtracts its left column from its "
                   "right one?"],
            solution="Sobel x subtracts the left column from the right one: large where brightness changes from "
                     "left to right, i.e. at vertical edges.",
            mistakes=[Mistake("edge: Sobel y (horizontal edges)", "Sobel y compares the row above with the row "
                                                                 "below: horizontal edges."),
                      Mistake("edge: Laplacian", "the Laplacian finds edges in every direction, not vertical ones "
                                                 "in particular.")]),
        Exercise(
            "pooling", "A 32×32 feature map goes through 2×2 max pooling (stride 2). How many pixels a side?",
            number(_size(32, 2, 0, 2)),
            hints=["Pooling uses the same size formula, with k = 2, s = 2, p = 0.",
                   "(32 − 2)/2 + 1: a 2×2 pool with stride 2 keeps one value per 2×2 block."],
            solution="(32 − 2)/2 + 1 = 16: 2×2 pooling halves each side.",
            mistakes=[Mistake(8, "8 is the area halving twice; each side is halved once."),
                      Mistake(31, "that is stride 1; pooling usually jumps by its own size (stride 2).")]),
        Exercise(
            "last_layer", "A chest film can show an effusion and a nodule at the same time. Which last-layer "
                          "activation fits: one output per finding?",
            choice("sigmoid"), choices=("softmax", "sigmoid"),
            hints=["Can both findings be present in the same image?",
                   "Softmax makes the outputs compete (they sum to 1); sigmoid treats each as its own yes/no."],
            solution="Sigmoid: multi-label, one independent probability per finding. Softmax is for exactly one "
                     "class out of several.",
            mistakes=[Mistake("softmax", "softmax makes effusion and nodule compete: their probabilities would "
                                         "sum to 1.")]),
    ])
