"""Lab 10 — Segmentation: a U-Net's outline over the true nodule, a threshold slider, and where it fails.

The lab receives what the notebook computed (the test slices, the U-Net's per-pixel
probabilities, the classical baseline's masks, optionally other networks' probabilities)
and lets the student move the **threshold**: the predicted outline on the chosen slice, the
Dice distribution of every method, Dice against lesion size and the mean-Dice curve all
follow. Its exercises (``lab.exercises``) are read off the student's own run.
"""
from __future__ import annotations

import html
from typing import Mapping

import ipywidgets as W
import numpy as np
import plotly.graph_objects as go

from radlab.exercises import Exercise, ExerciseSet, Mistake, NotReady, choice, number
from radlab.segmentation import LUNG_WINDOW, SIZE_GROUPS, SegmentationScores, dice_vs_threshold, score_masks
from radlab.viz.segmentation import (contour_figure, dice_by_size_figure, dice_distribution_figure,
                                     threshold_curve_figure)
from radlab.widgets.common import STYLE, copy_figure
from radlab.widgets.exercise import exercise_panel

NOTEBOOK = "labs/10_segmentation"
THRESHOLDS = tuple(round(t, 2) for t in np.arange(0.05, 0.96, 0.05))
UNET = "U-Net"
CLASSICAL = "classical"


class SegmentationLab(W.VBox):
    """The Lab 10 widget.

    ``images_hu`` / ``masks``: the test slices and their true masks; ``probabilities``: per-pixel
    lesion probabilities by network name (the first is "the U-Net" the threshold is about);
    ``fixed_masks``: masks of methods without a threshold (the classical baseline).
    Controls: ``threshold_slider``, ``image_dropdown``, ``method_dropdown``. Figures:
    ``overlay_fig``, ``distribution_fig``, ``size_fig``, ``threshold_fig``.
    """

    def __init__(self, images_hu: np.ndarray, masks: np.ndarray, probabilities: Mapping[str, np.ndarray],
                 fixed_masks: Mapping[str, np.ndarray] | None = None, *, threshold: float = 0.5):
        self.images_hu = np.asarray(images_hu, dtype=np.float32)
        self.masks = np.asarray(masks, dtype=bool)
        self.probabilities = {k: np.asarray(v, dtype=np.float32) for k, v in probabilities.items()}
        self.fixed_masks = {k: np.asarray(v, dtype=bool) for k, v in (fixed_masks or {}).items()}
        if not self.probabilities:
            raise ValueError("give at least one network's probabilities")
        for name, arr in {**self.probabilities, **self.fixed_masks}.items():
            if arr.shape != self.masks.shape:
                raise ValueError(f"{name}: shape {arr.shape} differs from the masks' {self.masks.shape}")
        self.network = next(iter(self.probabilities))
        self.with_lesion = np.flatnonzero(self.masks.reshape(len(self.masks), -1).any(1))
        if self.with_lesion.size == 0:
            raise ValueError("no test slice has a nodule: nothing to segment")
        self.curve = dice_vs_threshold(self.probabilities[self.network], self.masks, THRESHOLDS)

        self.threshold_slider = W.FloatSlider(value=float(np.clip(threshold, 0.05, 0.95)), min=0.05, max=0.95,
                                              step=0.05, description="threshold", style=STYLE,
                                              continuous_update=False, readout_format=".2f")
        areas = self.masks.reshape(len(self.masks), -1).sum(1)
        options = [(f"#{i} · nodule of {areas[i]} px", int(i)) for i in self.with_lesion]
        options += [(f"#{i} · no nodule", int(i)) for i in np.flatnonzero(areas == 0)[:10]]
        self.image_dropdown = W.Dropdown(options=options, value=int(self.with_lesion[0]), description="slice",
                                         style=STYLE, layout=W.Layout(width="320px"))
        self.method_dropdown = W.Dropdown(options=self.methods, value=self.network, description="outline of",
                                          style=STYLE, layout=W.Layout(width="320px"))
        self.summary_html = W.HTML()

        # FigureWidget rule: every trace is in the constructor; updates replace fig.data[i] values.
        self.overlay_fig = go.FigureWidget(self._overlay())
        scores = self.scores()
        self.distribution_fig = go.FigureWidget(self._distribution(scores))
        self.size_fig = go.FigureWidget(self._by_size(scores))
        self.threshold_fig = go.FigureWidget(threshold_curve_figure(THRESHOLDS, self.curve, self.threshold))
        self._summarise(scores)

        self.threshold_slider.observe(lambda _c: self.refresh(), names="value")
        for control in (self.image_dropdown, self.method_dropdown):
            control.observe(lambda _c: self.refresh_overlay(), names="value")

        self.exercises = make_exercises(self)
        super().__init__([
            W.HTML("<b>Move the threshold</b>: pixels whose lesion probability exceeds it form the outline "
                   "(<span style='color:#ff9f0a'>orange</span>); the truth is "
                   "<span style='color:#30d158'>green</span>."),
            W.HBox([self.threshold_slider, self.image_dropdown, self.method_dropdown], layout=W.Layout(flex_flow="row wrap")),
            W.HBox([self.overlay_fig, self.threshold_fig], layout=W.Layout(flex_flow="row wrap")),
            self.summary_html,
            W.HBox([self.distribution_fig, self.size_fig], layout=W.Layout(flex_flow="row wrap")),
            exercise_panel(self.exercises, title="Exercises (about your run)"),
        ])

    # ------------------------------------------------------------------ state
    @property
    def methods(self) -> list[str]:
        return [*self.probabilities, *self.fixed_masks]

    @property
    def threshold(self) -> float:
        """The slider's threshold, kept inside (0, 1)."""
        return float(np.clip(self.threshold_slider.value, 0.01, 0.99))

    @property
    def index(self) -> int:
        """The chosen slice, checked against the slices there are."""
        value = int(self.image_dropdown.value)
        if not 0 <= value < len(self.masks):
            raise ValueError(f"slice {value} does not exist")
        return value

    def predicted(self, method: str) -> np.ndarray:
        """The masks of ``method`` at the current threshold (fixed masks ignore it)."""
        if method in self.probabilities:
            return self.probabilities[method] > self.threshold
        if method in self.fixed_masks:
            return self.fixed_masks[method]
        raise ValueError(f"unknown method {method!r}; choose one of {self.methods}")

    def scores(self) -> dict[str, SegmentationScores]:
        """Per-slice scores of every method at the current threshold."""
        return {m: score_masks(self.predicted(m), self.masks, self.images_hu, m) for m in self.methods}

    # ------------------------------------------------------------------ figures
    def _overlay(self) -> go.Figure:
        i, method = self.index, self.method_dropdown.value
        pred = self.predicted(method)[i]
        from radlab.metrics import dice  # noqa: PLC0415

        title = f"slice #{i} · {method}: Dice {dice(pred, self.masks[i]):.2f}"
        if method in self.probabilities:
            title += f" at threshold {self.threshold:.2f}"
        return contour_figure(self.images_hu[i], self.masks[i], pred, level=LUNG_WINDOW[0], width=LUNG_WINDOW[1],
                              title=title)

    def _distribution(self, scores: Mapping[str, SegmentationScores]) -> go.Figure:
        return dice_distribution_figure({m: s.dice[s.has_lesion] for m, s in scores.items()},
                                        title=f"Dice per test slice with a nodule (threshold {self.threshold:.2f})")

    def _by_size(self, scores: Mapping[str, SegmentationScores]) -> go.Figure:
        return dice_by_size_figure({m: s.lesion_area[s.has_lesion] for m, s in scores.items()},
                                   {m: s.dice[s.has_lesion] for m, s in scores.items()},
                                   contrast_hu={m: s.lesion_contrast_hu[s.has_lesion] for m, s in scores.items()},
                                   groups=SIZE_GROUPS)

    def _summarise(self, scores: Mapping[str, SegmentationScores]) -> None:
        rows = []
        for m, s in scores.items():
            sizes = "".join(f"<td>{d:.2f} ({n})</td>" for d, n in s.by_size().values())
            rows.append(f"<tr><td>{html.escape(m)}</td><td>{s.mean_dice():.3f}</td><td>{s.median_dice():.3f}</td>"
                        f"<td>{s.mean_iou():.3f}</td>{sizes}<td>{s.clean_negatives():.0%}</td></tr>")
        heads = "".join(f"<th>{name} (n)</th>" for name, *_ in SIZE_GROUPS)
        self.summary_html.value = (
            f"<b>Test slices, threshold {self.threshold:.2f}</b><table><tr><th>method</th><th>mean Dice</th>"
            f"<th>median Dice</th><th>mean IoU</th>{heads}<th>lesion-free slices left empty</th></tr>"
            f"{''.join(rows)}</table><small>size groups in pixels: "
            + ", ".join(f"{n} {lo}–{hi if hi < 10**6 else '…'}" for n, lo, hi in SIZE_GROUPS) + "</small>")

    def refresh_overlay(self) -> None:
        """Redraw the chosen slice's outlines."""
        copy_figure(self.overlay_fig, self._overlay())

    def refresh(self) -> None:
        """The threshold moved: redraw everything that depends on it."""
        scores = self.scores()
        copy_figure(self.overlay_fig, self._overlay())
        copy_figure(self.distribution_fig, self._distribution(scores))
        copy_figure(self.size_fig, self._by_size(scores))
        copy_figure(self.threshold_fig, threshold_curve_figure(THRESHOLDS, self.curve, self.threshold))
        self._summarise(scores)


def make_exercises(lab: SegmentationLab) -> ExerciseSet:
    """Lab 10's checked questions; the answers come from the lab's own run (at threshold 0.5 unless said)."""
    def at_half() -> dict[str, SegmentationScores]:
        return {m: score_masks(lab.probabilities[m] > 0.5 if m in lab.probabilities else lab.fixed_masks[m],
                               lab.masks, lab.images_hu, m) for m in lab.methods}

    def unet_mean_dice() -> float:
        return at_half()[lab.network].mean_dice()

    def winner() -> str:
        scores = at_half()
        if CLASSICAL not in scores:
            raise NotReady("run the classical baseline first (the lab was built without it)")
        return lab.network if scores[lab.network].mean_dice() > scores[CLASSICAL].mean_dice() else CLASSICAL

    def best_threshold() -> float:
        return float(THRESHOLDS[int(np.argmax(lab.curve))])

    def worst_group() -> str:
        return at_half()[lab.network].worst_size_group()

    choices = (lab.network, CLASSICAL)
    return ExerciseSet(NOTEBOOK, [
        Exercise("unet_mean_dice", f"What is the {lab.network}'s mean Dice on the test slices with a nodule, "
                 "at threshold 0.5? (two decimals)", number(unet_mean_dice, abs_tol=0.01),
                 hints=["Set the threshold slider to 0.50 and read the table under the figures.",
                        "The 'mean Dice' column, the first row."],
                 solution="Read at threshold 0.5, over the slices that have a nodule (lesion-free slices are "
                          "scored separately: a Dice of an empty truth is 1 or 0 and would distort the mean).",
                 mistakes=[Mistake(lambda a: abs(a - at_half()[lab.network].median_dice()) < 0.01,
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
        Exercise("best_threshold", f"At which threshold is the {lab.network}'s mean test Dice highest? "
                 "(the grid of the slider, steps of 0.05)", number(best_threshold, abs_tol=0.026),
                 hints=["Look at the curve: mean Dice against the threshold.",
                        "Move the slider along the curve and find its top."],
                 solution="Chosen on the test slices here to see the effect; in a study, choose it on "
                          "validation slices and test once."),
        Exercise("worst_size", f"In which lesion-size group does the {lab.network} do worst (threshold 0.5)?",
                 choice(worst_group), choices=tuple(name for name, *_ in SIZE_GROUPS),
                 hints=["The table lists the mean Dice per size group.",
                        "Or the scatter plot: where do the low-Dice dots sit on the size axis?"],
                 solution="A pixel missed on a 10-pixel nodule costs far more Dice than on a 60-pixel one, and "
                          "small nodules look like vessels: small lesions are where segmentation fails."),
    ])


__all__ = ["SegmentationLab", "THRESHOLDS", "make_exercises"]
