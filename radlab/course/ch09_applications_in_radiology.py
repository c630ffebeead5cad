"""Chapter 9 — Applications in radiology: classification, detection (FROC), segmentation, denoising, reconstruction, registration."""
from __future__ import annotations

from radlab.exercises import Exercise, ExerciseSet, Mistake, choice, number

NOTEBOOK = "course/09_applications_in_radiology"


def exercises() -> ExerciseSet:
    """The chapter's exercises; the notebook calls ``ex.task.check(ANSWER_TASK)`` etc."""
    return ExerciseSet(NOTEBOOK, [
        Exercise(
            "task",
            "Rectangles or points around every suspected rib fracture on a chest CT, each with a score: which task? "
            "'classification', 'detection' or 'segmentation'",
            choice("detection"), choices=("classification", "detection", "segmentation"),
            hints=["One answer per image, one per finding with a location, or one per pixel?",
                   "Several findings per image, each located and scored."],
            solution="Detection: one location and score per finding, scored with an FROC curve.",
            mistakes=[Mistake("segmentation", "segmentation outlines every pixel of the structure; "
                                              "a box or point per finding is detection.")]),
        Exercise(
            "froc_fp",
            "A nodule detector marks 30 false positives on 20 CT scans at its operating threshold. How many false "
            "positives per image (scan) is that, the x-axis of its FROC curve?",
            number(1.5, abs_tol=0.01),
            hints=["FROC's x-axis: false positives divided by the number of images.", "30 / 20."],
            solution="1.5 false positives per scan; read the sensitivity on the curve at x = 1.5.",
            mistakes=[Mistake(0.667, "that is images per false positive; divide the other way round.")]),
        Exercise(
            "dice_value",
            "A nodule covers 40 pixels; the prediction covers 50 pixels, 30 of them inside the nodule. Dice = ?",
            number(2 * 30 / (40 + 50), abs_tol=0.005),
            hints=["Dice = 2·|A ∩ B| / (|A| + |B|).", "2 × 30 / (40 + 50)."],
            solution="0.67. (IoU would be 30 / 60 = 0.5: Dice is always the larger of the two.)",
            mistakes=[Mistake(0.5, "that is the IoU (Jaccard), 30 / (40 + 50 − 30).")]),
        Exercise(
            "fbp_filter",
            "In filtered backprojection, which step is the fixed, known operator that sharpens the projections "
            "before they are smeared back: 'the ramp filter' or 'the Poisson noise'?",
            choice("the ramp filter"), choices=("the ramp filter", "the Poisson noise"),
            hints=["Which one is part of the reconstruction algorithm, and which one part of the physics of "
                   "the measurement?", "Reconstruct without it and the image is blurred."],
            solution="The ramp filter (|frequency|): known from the physics, so a known-operator network keeps it "
                     "(or initialises a learnable filter with it) instead of learning it from data.",
            mistakes=[Mistake("the Poisson noise", "noise comes from counting photons; it is not a step of the "
                                                   "reconstruction.")]),
        Exercise(
            "registration_params",
            "A rigid registration of two 2-D slices: how many parameters does gradient descent search?",
            number(3),
            hints=["A rigid motion in a plane: a rotation and a translation.", "One angle and two shifts."],
            solution="3 (angle, row shift, column shift); a rigid 3-D registration has 6, an affine 2-D one 6, a "
                     "deformable one a displacement per pixel.",
            mistakes=[Mistake(2, "a rotation is needed too."), Mistake(6, "that is 3-D rigid (or 2-D affine).")]),
    ])
