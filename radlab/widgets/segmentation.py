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

from radlab.course.lab10_segmentation import THRESHOLDS, exercises
from radlab.segmentation import LUNG_WINDOW, SIZE_GROUPS, SegmentationScores, dice_vs_threshold, score_masks
from radlab.viz.segmentation import (contour_figure, contour_view, dice_by_size_figure, dice_distribution_figure,
                                     threshold_curve_figure, threshold_marker)
from radlab.widgets.common import STYLE
from radlab.widgets.exercise import exercise_panel
from radlab.widgets.figure import Figure

UNET = "U-Net"


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
        self.overlay_fig = Figure(self._overlay())
        scores = self.scores()
        self.distribution_fig = Figure(self._distribution(scores))
        self.size_fig = Figure(self._by_size(scores))
        self.threshold_fig = Figure(threshold_curve_figure(THRESHOLDS, self.curve, self.threshold))
        self._summarise(scores)

        self.threshold_slider.observe(lambda _c: self.refresh(), names="value")
        for control in (self.image_dropdown, self.method_dropdown):
            control.observe(lambda _c: self.refresh_overlay(), names="value")

        self.exercises = exercises(self)
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
    def _overlay_title(self, pred: np.ndarray) -> str:
        i, method = self.index, self.method_dropdown.value
        from radlab.metrics import dice  # noqa: PLC0415

        title = f"slice #{i} · {method}: Dice {dice(pred, self.masks[i]):.2f}"
        if method in self.probabilities:
            title += f" at threshold {self.threshold:.2f}"
        return title

    def _overlay(self) -> go.Figure:
        i = self.index
        pred = self.predicted(self.method_dropdown.value)[i]
        return contour_figure(self.images_hu[i], self.masks[i], pred, level=LUNG_WINDOW[0], width=LUNG_WINDOW[1],
                              title=self._overlay_title(pred))

    def _distribution_title(self) -> str:
        return f"Dice per test slice with a nodule (threshold {self.threshold:.2f})"

    @staticmethod
    def _per_method(scores: Mapping[str, SegmentationScores], what: str) -> dict[str, np.ndarray]:
        """One score field (dice, lesion_area, lesion_contrast_hu) per method, on the slices with a nodule."""
        return {m: getattr(s, what)[s.has_lesion] for m, s in scores.items()}

    def _distribution(self, scores: Mapping[str, SegmentationScores]) -> go.Figure:
        return dice_distribution_figure(self._per_method(scores, "dice"), title=self._distribution_title())

    def _by_size(self, scores: Mapping[str, SegmentationScores]) -> go.Figure:
        return dice_by_size_figure(self._per_method(scores, "lesion_area"), self._per_method(scores, "dice"),
                                   contrast_hu=self._per_method(scores, "lesion_contrast_hu"), groups=SIZE_GROUPS)

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

    # Each figure's values are updated in place (plotly sends only those that changed), not copied
    # from a rebuilt figure: building and copying four figures took ~75 ms of a threshold step.
    def refresh_overlay(self) -> None:
        """Redraw the chosen slice's outlines."""
        i = self.index
        pred = self.predicted(self.method_dropdown.value)[i]
        picture, outlines = contour_view(self.images_hu[i], self.masks[i], pred, level=LUNG_WINDOW[0],
                                         width=LUNG_WINDOW[1])
        with self.overlay_fig.batch_update():
            self.overlay_fig.data[0].update(picture)
            for shape, path in zip(self.overlay_fig.layout.shapes, outlines):
                shape.path = path
            self.overlay_fig.layout.title.text = self._overlay_title(pred)

    def refresh(self) -> None:
        """The threshold moved: redraw everything that depends on it."""
        scores = self.scores()
        self.refresh_overlay()
        dice = self._per_method(scores, "dice")
        with self.distribution_fig.batch_update():
            for trace, values in zip(self.distribution_fig.data, dice.values()):
                trace.y = np.asarray(values, dtype=float)
            self.distribution_fig.layout.title.text = self._distribution_title()
        area, contrast = self._per_method(scores, "lesion_area"), self._per_method(scores, "lesion_contrast_hu")
        with self.size_fig.batch_update():
            for trace, m in zip(self.size_fig.data, dice):
                trace.update(x=np.asarray(area[m]), y=np.asarray(dice[m], dtype=float),
                             customdata=np.asarray(contrast[m], dtype=float))
        self.threshold_fig.data[1].update(threshold_marker(THRESHOLDS, self.curve, self.threshold))
        self._summarise(scores)


__all__ = ["SegmentationLab", "THRESHOLDS"]
