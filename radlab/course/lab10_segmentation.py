"""Lab 10 — Segmentation: Dice and IoU of your U-Net vs a classical baseline, thresholds, small lesions."""
from __future__ import annotations

from typing import Any

from radlab.course import need
from radlab.exercises import Exercise, ExerciseSet, Mistake, NotReady, choice, number

NOTEBOOK = "labs/10_segmentation"
#: The method key of the classical baseline in the lab's results.
CLASSICAL = "classical"
#: The threshold slider's grid.
THRESHOLDS = tuple(round(0.05 * k, 2) for k in range(1, 20))
#: The lesion-size groups of radlab.segmentation.SIZE_GROUPS (a test checks they agree).
SIZE_GROUP_NAMES = ("small", "medium", "large")


def exercises(lab: Any = None) -> ExerciseSet:
    """Lab 10's checked questions; the answers come from ``lab`` (a ``SegmentationLab``): the student's own run.

    Without a lab (the progress view, nbgrader) the run-based questions answer NotReady.
    """
    network = getattr(lab, "network", "U-Net")

    def ready() -> Any:
        return need(lab, "train the networks first: run the lab's cells above")

    def at_half() -> dict[str, Any]:
        from radlab.segmentation import score_masks  # noqa: PLC0415  (heavy: only when checking)

        lab_ = ready()
        return {m: score_masks(lab_.probabilities[m] > 0.5 if m in lab_.probabilities else lab_.fixed_masks[m],
                               lab_.masks, lab_.images_hu, m) for m in lab_.methods}

    def unet_mean_dice() -> float:
        return at_half()[network].mean_dice()

    def winner() -> str:
        scores = at_half()
        if CLASSICAL not in scores:
            raise NotReady("run the classical baseline first (the lab was built without it)")
        return network if scores[network].mean_dice() > scores[CLASSICAL].mean_dice() else CLASSICAL

    def best_threshold() -> float:
        curve = list(ready().curve)
        return float(THRESHOLDS[curve.index(max(curve))])

    def worst_group() -> str:
        return at_half()[network].worst_size_group()

    choices = (network, CLASSICAL)
    return ExerciseSet(NOTEBOOK, [
        Exercise("unet_mean_dice", f"What is the {network}'s mean Dice on the test slices with a nodule, "
                 "at threshold 0.5? (two decimals)", number(unet_mean_dice, abs_tol=0.01),
                 hints=["Set the threshold slider to 0.50 and read the table under the figures.",
                        "The 'mean Dice' column, the first row."],
                 solution="Read at threshold 0.5, over the slices that have a nodule (lesion-free slices are "
                          "scored separately: a Dice of an empty truth is 1 or 0 and would distort the mean).",
                 mistakes=[Mistake(lambda a: abs(a - at_half()[network].median_dice()) < 0.01,
                                   "that is the median; the question asks for the mean")]),
        Exercise("winner", "Which method has the higher mean Dice at threshold 0.5: the network or the classical "
                 "baseline?", choice(winner), choices=choices,
                 hints=["Compare the two rows of the table at threshold 0.50.",
                        "Look at the box plot as well: which method has more slices near Dice 0?"],
                 solution="The baseline thresholds brightness inside the lungs: vessels, nodules touching the "
                          "chest wall and faint part-solid nodules defeat it; the U-Net learned the shapes."),
        Exercise("iou_from_dice", "A slice has Dice 0.8. What is its IoU? (IoU = Dice / (2 − Dice))",
                 number(0.8 / 1.2, abs_tol=0.01),
                 hints=["Dice = 2|A∩B| / (|A| + |B|) and IoU = |A∩B| / |A∪B|; |A∪B| = |A| + |B| − |A∩B|.",
                        "Write IoU = Dice / (2 − Dice) and put 0.8 in."],
                 solution="0.8 / 1.2 = 0.67: IoU is always below Dice (except at 0 and 1).",
                 mistakes=[Mistake(0.8, "IoU and Dice differ: IoU = Dice / (2 − Dice)")]),
        Exercise("empty_prediction_accuracy", "A network says 'no nodule' at every pixel of a 64 × 64 slice whose "
                 "nodule covers 25 pixels. What share of the pixels is right, in %? (Its Dice is 0.)",
                 number(100 * (1 - 25 / 4096), abs_tol=0.05),
                 hints=["All background pixels are right, all nodule pixels wrong.",
                        "(4096 − 25) / 4096."],
                 solution="99.4 % of pixels right and not one nodule pixel found: pixel accuracy, and BCE, "
                          "reward predicting background; Dice does not. That is why the loss has a Dice term.",
                 mistakes=[Mistake(0.0, "0 is its Dice; the question asks for the share of correct pixels")]),
        Exercise("best_threshold", f"At which threshold is the {network}'s mean test Dice highest? "
                 "(the grid of the slider, steps of 0.05)", number(best_threshold, abs_tol=0.026),
                 hints=["Look at the curve: mean Dice against the threshold.",
                        "Move the slider along the curve and find its top."],
                 solution="Chosen on the test slices here to see the effect; in a study, choose it on "
                          "validation slices and test once."),
        Exercise("worst_size", f"In which lesion-size group does the {network} do worst (threshold 0.5)?",
                 choice(worst_group), choices=SIZE_GROUP_NAMES,
                 hints=["The table lists the mean Dice per size group.",
                        "Or the scatter plot: where do the low-Dice dots sit on the size axis?"],
                 solution="A pixel missed on a 10-pixel nodule costs far more Dice than on a 60-pixel one, and "
                          "small nodules look like vessels: small lesions are where segmentation fails."),
    ])

