"""Lab 7 — CAM explorer: where does the CNN look, and is it the lesion?

Pick a test image and a method (CAM, Grad-CAM at a chosen layer, saliency): the map is
drawn over the image, windowed as the student likes, with the true lesion outlined and the
map's peak marked. Below, the whole test set is scored: how often the peak falls inside the
lesion (pointing game) and how well the thresholded map overlaps it (IoU), per method, at
the threshold on the slider. Maps explain the "lesion" score of the model.
"""
from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

import ipywidgets as W
import numpy as np
import plotly.graph_objects as go
import torch
from torch import nn

from radlab.course.lab07_cam_explorer import exercises as lab_exercises
from radlab.errors import DataError
from radlab.explain import (METHODS, RightReasonReport, explain, explainable_layers, find_layer, has_gap_head,
                            lesion_positive, mask_iou, pointing_hit, score_heatmaps)
from radlab.predict import predict
from radlab.viz.explain import overlay_figure, overlay_view, right_reason_figure, right_reason_view
from radlab.viz.images import box_shape
from radlab.widgets.common import STYLE, image_options, window_sliders
from radlab.widgets.exercise import exercise_panel
from radlab.widgets.figure import Figure

class CamExplorerLab(W.VBox):
    """The Lab 7 widget: a heatmap overlay for one image and right-for-the-right-reason scores for all.

    ``x`` are the model inputs (N, 1, H, W); ``masks`` the lesion masks (N, H, W); ``images``
    what is shown (default: ``x`` itself), in ``units`` with the window ``level``/``width``.
    Controls (attributes): ``method_dropdown``, ``image_dropdown``, ``layer_dropdown``,
    ``level_slider``, ``width_slider``, ``threshold_slider``. Figures: ``overlay_fig``,
    ``report_fig``.
    """

    def __init__(self, model: nn.Module, x: Any, y: Any, masks: Any, *, images: Any = None,
                 boxes: Any = None, units: str = "detector units", level: float = 0.5, width: float = 1.0,
                 class_names: Sequence[str] = ("no lesion", "lesion"), threshold: float = 0.5,
                 tolerance: float = 4.0):
        self.model = model
        self.x = x.detach().float().cpu() if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x)).float()
        self.y = np.asarray(y).reshape(-1)
        self.masks = np.asarray(masks).astype(bool)
        self.images = self.x[:, 0].numpy() if images is None else np.asarray(images, dtype=np.float32)
        self.boxes = None if boxes is None else np.asarray(boxes, dtype=np.float32)
        if not (len(self.x) == len(self.y) == len(self.masks) == len(self.images)):
            raise DataError(f"{len(self.x)} inputs, {len(self.y)} labels, {len(self.masks)} masks and "
                            f"{len(self.images)} images", fix="pass the same images' inputs, labels and masks")
        self.positive = lesion_positive(self.masks)
        if self.positive.size == 0:
            raise DataError("no test image has a lesion mask", fix="use a phantom set with lesions")
        self.units, self.class_names = units, list(class_names)
        self.scores = predict(model, self.x)
        self.methods = [m for m in METHODS if m != "cam" or has_gap_head(model)]
        self.layers = explainable_layers(model)
        default_layer = find_layer(model)
        self.default_layer = next((n for n, m in model.named_modules() if m is default_layer), self.layers[-1])
        self._maps: dict[tuple[str, str], np.ndarray] = {}

        self.method_dropdown = W.Dropdown(options=[(METHODS[m], m) for m in self.methods], value=self.methods[0],
                                          description="method", style=STYLE, layout=W.Layout(width="430px"))
        start = int(self.positive[np.argmax(self.scores[self.positive])])   # the surest lesion
        self.image_dropdown = W.Dropdown(options=image_options(self.y, self.scores, self.class_names), value=start,
                                         description="image", style=STYLE, layout=W.Layout(width="430px"))
        self.layer_dropdown = W.Dropdown(options=self.layers, value=self.default_layer, description="layer",
                                         style=STYLE, disabled=True)
        self.level_slider, self.width_slider = window_sliders(self.images, level, width, units)
        self.threshold_slider = W.FloatSlider(value=float(np.clip(threshold, 0.05, 0.95)), min=0.05, max=0.95,
                                              step=0.05, description="IoU threshold", style=STYLE,
                                              continuous_update=False)
        self.tolerance_slider = W.FloatSlider(value=float(np.clip(tolerance, 0, 16)), min=0.0, max=16.0, step=1.0,
                                              description="tolerance (px)", style=STYLE, continuous_update=False)
        self.default_tolerance = float(self.tolerance_slider.value)
        self.image_html, self.report_html = W.HTML(), W.HTML()

        # FigureWidget rule: every trace is in the constructor; updates only touch fig.data[i].
        self.overlay_fig = Figure(self._overlay())
        reports = self.reports()
        self.report_fig = Figure(right_reason_figure(reports))
        self._refresh_text(reports)

        for control in (self.method_dropdown, self.image_dropdown, self.layer_dropdown,
                        self.level_slider, self.width_slider):
            control.observe(lambda _c: self.refresh_image(), names="value")
        for control in (self.layer_dropdown, self.threshold_slider, self.tolerance_slider):
            control.observe(lambda _c: self.refresh_report(), names="value")

        self.exercises = lab_exercises(self)  # the lab's ExerciseSet (labs/NN_name)
        self.exercise_panel = exercise_panel(self.exercises)
        super().__init__([
            W.HBox([self.method_dropdown, self.layer_dropdown]),
            W.HBox([self.image_dropdown]),
            W.HBox([self.level_slider, self.width_slider]),
            W.HBox([self.overlay_fig, self.image_html]),
            W.HTML("<b>The whole test set</b>: does each method's map point at the lesion?"),
            W.HBox([self.threshold_slider, self.tolerance_slider]), self.report_fig, self.report_html,
            self.exercise_panel,
        ])

    # ------------------------------------------------------------------ validated state
    @property
    def method(self) -> str:
        """The chosen method, checked against the ones this model supports."""
        if self.method_dropdown.value not in self.methods:
            raise DataError(f"unknown method {self.method_dropdown.value!r}", fix=f"choose one of {self.methods}")
        return self.method_dropdown.value

    @property
    def layer(self) -> str:
        """The chosen Grad-CAM layer, checked against the model's layers."""
        if self.layer_dropdown.value not in self.layers:
            raise DataError(f"unknown layer {self.layer_dropdown.value!r}", fix=f"choose one of {self.layers}")
        return self.layer_dropdown.value

    @property
    def index(self) -> int:
        """The chosen image, clamped to the images there are."""
        return int(np.clip(int(self.image_dropdown.value), 0, len(self.x) - 1))

    @property
    def window(self) -> tuple[float, float]:
        """(level, width) in the image's units; the width is kept positive."""
        return float(self.level_slider.value), max(float(self.width_slider.value), 1e-6)

    @property
    def threshold(self) -> float:
        """The IoU threshold on the [0, 1] maps."""
        return float(np.clip(self.threshold_slider.value, 0.0, 1.0))

    @property
    def tolerance(self) -> float:
        """How far (pixels) the peak may lie from the lesion and still count as a hit."""
        return float(np.clip(self.tolerance_slider.value, 0.0, 16.0))

    # ----------------------------------------------------------------------- compute
    def heatmaps(self, method: str | None = None, layer: str | None = None) -> np.ndarray:
        """The lesion-score maps (N, H, W) of every image by ``method`` (cached; the layer matters for Grad-CAM)."""
        method = method or self.method
        layer = (layer or self.layer) if method == "grad_cam" else ""
        key = (method, layer)
        if key not in self._maps:
            self._maps[key] = explain(self.model, self.x, method, target=1, layer=layer or None)
        return self._maps[key]

    def reports(self) -> list[RightReasonReport]:
        """One score per method over the lesion-positive images, at the threshold slider's value."""
        return [score_heatmaps(self.heatmaps(m), self.masks, method=m, threshold=self.threshold,
                               tolerance=self.tolerance) for m in self.methods]

    # ----------------------------------------------------------------------- figures
    def _overlay_title(self) -> str:
        where = f" at {self.layer}" if self.method == "grad_cam" else ""
        i = self.index
        return f"{METHODS[self.method].split(' (')[0]}{where} · image #{i} · {self.class_names[int(self.y[i])]}"

    def _box(self) -> Any:
        return None if self.boxes is None else self.boxes[self.index]

    def _overlay(self) -> go.Figure:
        i, (level, width) = self.index, self.window
        return overlay_figure(self.images[i], self.heatmaps()[i], level=level, width=width, mask=self.masks[i],
                              box=self._box(), title=self._overlay_title(), units=self.units)

    def _refresh_text(self, reports: Sequence[RightReasonReport] | None = None) -> None:
        """The chosen image's scores, and (given the test set's ``reports``) the report text."""
        i, heat = self.index, self.heatmaps()[self.index]
        p = float(self.scores[i])
        lines = [f"<b>truth</b>: {html.escape(self.class_names[int(self.y[i])])}",
                 f"<b>model</b>: p({html.escape(self.class_names[1])}) = {p:.2f}"]
        if self.masks[i].any():
            hit = pointing_hit(heat, self.masks[i], self.tolerance)
            lines += [f"<b>peak in the lesion</b>: {'yes ✅' if hit else 'no ❌'}",
                      f"<b>IoU</b> at {self.threshold:.2f}: {mask_iou(heat, self.masks[i], self.threshold):.2f}"]
        else:
            lines.append("no lesion here: the map shows what pushes the score <i>towards</i> 'lesion'")
        self.image_html.value = "<br>".join(lines)
        if reports is not None:
            self.report_html.value = "<br>".join(html.escape(str(r)) for r in reports)

    def refresh_image(self) -> None:
        """Redraw the overlay for the chosen method, image, layer and window."""
        self.layer_dropdown.disabled = self.method != "grad_cam"
        i, (level, width) = self.index, self.window
        traces, outline = overlay_view(self.images[i], self.heatmaps()[i], level=level, width=width,
                                       mask=self.masks[i], units=self.units)
        with self.overlay_fig.batch_update():   # only what changed is sent (plotly compares each value)
            for trace, data in zip(self.overlay_fig.data, traces):
                trace.update(data)
            self.overlay_fig.layout.title.text = self._overlay_title()
            self.overlay_fig.layout.shapes[0].update(box_shape(self._box()))
            self.overlay_fig.layout.shapes[1].path = outline
        self._refresh_text()   # the report is the whole test set's: another image or method leaves it

    def refresh_report(self) -> None:
        """Rescore the test set at the chosen threshold (and Grad-CAM layer)."""
        reports = self.reports()
        with self.report_fig.batch_update():   # the bars' values in place (the title's count never changes)
            for trace, data in zip(self.report_fig.data, right_reason_view(reports)):
                trace.update(data)
        self._refresh_text(reports)


def cam_lab_from_reference(reference: Any, *, split: str = "test", max_images: int | None = None,
                           **kwargs: Any) -> CamExplorerLab:
    """A :class:`CamExplorerLab` on ``radlab.reference.reference_model()``'s data (chest phantoms, [0, 1])."""
    data = reference.data[split]
    n = len(data.y) if max_images is None else min(int(max_images), len(data.y))
    return CamExplorerLab(reference.model, data.x[:n], data.y[:n], data.masks[:n], boxes=data.boxes[:n], **kwargs)
