"""Lab 7 — CAM explorer: pointing game, chance level, CAM vs Grad-CAM, the IoU threshold, right for the wrong reason."""
from __future__ import annotations

from functools import cache
from typing import Any

from radlab.course import need
from radlab.exercises import Exercise, ExerciseSet, Mistake, choice, number

NOTEBOOK = "labs/07_cam_explorer"

WRONG_REASON = "right for the wrong reason: look for a shortcut"


def exercises(lab: Any = None) -> ExerciseSet:
    """The lab's questions; four are answered by ``lab``'s model and test images (a ``CamLab``), not by an author.

    ``cam_vs_gradcam`` is left out when the lab's model has no CAM (no global-average-pooling head).
    """

    def the_lab() -> Any:
        return need(lab, "open the lab first: the answer comes from its model and test images")

    @cache
    def grad_scores(threshold: float = 0.5) -> Any:
        from radlab.explain import score_heatmaps  # noqa: PLC0415  (only with a lab, when torch is loaded)

        lab_ = the_lab()
        return score_heatmaps(lab_.heatmaps("grad_cam", lab_.default_layer), lab_.masks, threshold=threshold,
                              tolerance=lab_.default_tolerance)

    def hit_rate() -> float:
        return 100 * float(grad_scores().hit_rate)

    def chance() -> float:
        return 100 * float(grad_scores().chance_hit_rate)

    def threshold_effect() -> str:
        return "it goes up" if grad_scores(0.7).mean_iou > grad_scores(0.3).mean_iou else "it goes down"

    def cam_equals_gradcam() -> str:
        import numpy as np  # noqa: PLC0415

        lab_ = the_lab()
        same = np.allclose(lab_.heatmaps("cam"), lab_.heatmaps("grad_cam", lab_.default_layer), atol=1e-4)
        return "yes" if same else "no"

    where = "at the default layer with the default tolerance"
    if lab is not None:
        where = f"at the default layer ({lab.default_layer}) with a tolerance of {lab.default_tolerance:g} px"

    items = [
        Exercise(
            "hit_rate", f"What is Grad-CAM's pointing-game hit rate (in %) {where}?",
            number(hit_rate, abs_tol=1.0),
            hints=["The pointing game asks, for each lesion image, whether the map's hottest pixel lies in the lesion.",
                   "Choose Grad-CAM and the default layer; read the first bar of the chart (or the text under it)."],
            solution="The share of lesion images whose hottest map pixel falls in the lesion (within the tolerance): "
                     "it says whether the map points at the lesion, nothing about how much of it it covers.",
            mistakes=[Mistake(lambda v: abs(float(v) - hit_rate() / 100) <= 0.01 and hit_rate() > 1.5,
                              "give it in percent (0–100), not as a fraction."),
                      Mistake(lambda v: abs(float(v) - chance()) <= 1.0 and abs(hit_rate() - chance()) > 2,
                              "that is the chance level (the black mark), not Grad-CAM's hit rate.")]),
        Exercise(
            "cam_vs_gradcam", "Compare CAM with Grad-CAM at the default layer on a few images. Are the maps the same?",
            choice(cam_equals_gradcam), choices=("yes", "no"),
            hints=["Switch the method back and forth on one image.",
                   "For a global-average-pooling head, what is ∂score/∂A_k(i, j)? Does it depend on the pixel?"],
            solution="For global average pooling + one linear layer, ∂score/∂A_k(i,j) = w_k/(h·w) at every pixel: "
                     "Grad-CAM's weights are CAM's divided by a constant, and the normalised maps are equal."),
        Exercise(
            "chance", "A pixel picked at random lands in the lesion how often (in %)? That is the pointing game's "
                      "chance level.",
            number(chance, abs_tol=1.0),
            hints=["A random pixel hits the lesion as often as the lesion's share of the image.",
                   "The black marks in the chart show it; or divide the mean lesion area by the image area."],
            solution="The lesion's mean share of the image: a hit rate far above it means the map really finds "
                     "the lesion.",
            mistakes=[Mistake(lambda v: abs(float(v) - hit_rate()) <= 1.0 and abs(hit_rate() - chance()) > 2,
                              "that is Grad-CAM's hit rate; the chance level is what a random pixel scores."),
                      Mistake(lambda v: abs(float(v) - chance() / 100) <= 0.01 and chance() > 1.5,
                              "give it in percent (0–100), not as a fraction.")]),
        Exercise(
            "threshold", "Raise the IoU threshold from 0.3 to 0.7. What happens to Grad-CAM's mean IoU?",
            choice(threshold_effect), choices=("it goes up", "it goes down"),
            hints=["The threshold cuts the map into 'hot' and 'cold'; IoU compares the hot region with the lesion.",
                   "Move the threshold slider from 0.3 to 0.7 and watch the orange Grad-CAM bar."],
            solution="A low threshold keeps a big blurry region (larger than the lesion), a high one only the core "
                     "of the map; which IoU is higher depends on how wide this model's maps are compared with the "
                     "lesions: the lab measures it."),
        Exercise(
            "wrong_reason", "A lesion image is classified correctly, but the map's peak lies far from the lesion. "
                            "What does that suggest?",
            choice(WRONG_REASON), choices=(WRONG_REASON, "the map must be broken", "the label must be wrong"),
            hints=["Is a correct answer enough to trust the model?",
                   "Something else in the image may go with lesions in the training data (a marker, a position)."],
            solution="Right for the wrong reason: the model may use something that goes with lesions (a marker, a "
                     "position, the patient) instead of the lesion itself. Look for the shortcut before trusting it.",
            mistakes=[Mistake("the map must be broken", "the map explains the score it was computed from; the "
                                                        "question is what the model looked at."),
                      Mistake("the label must be wrong", "the mask shows the lesion is there; the model's reason "
                                                         "is what is in doubt.")]),
    ]
    if lab is not None and "cam" not in getattr(lab, "methods", ()):
        items = [e for e in items if e.name != "cam_vs_gradcam"]
    return ExerciseSet(NOTEBOOK, items)
