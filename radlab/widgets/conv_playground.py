"""Lab 5 — Convolution and pooling playground: edit a kernel, watch the feature map change.

The student picks an image, types the nine numbers of a 3×3 kernel (or picks an edge,
blur or sharpen preset), sets stride, padding, activation and pooling; the feature map
and the pooled map redraw as they type. A step slider walks the kernel over the image
one output pixel at a time, showing the patch, the products and their sum.
"""
from __future__ import annotations

import html
import math
from typing import Mapping

import ipywidgets as W
import numpy as np

from radlab.course.lab05_convolution_playground import exercises as lab_exercises
from radlab.data.dicom import WINDOW_PRESETS, apply_window, read_dicom, sample_files
from radlab.data.phantoms import make_phantoms
from radlab.errors import DataError
from radlab.viz import conv as C
from radlab.widgets.exercise import exercise_panel
from radlab.widgets.figure import Figure

#: Kernel entries are clipped to ±KERNEL_LIMIT (a widget value is untrusted input).
KERNEL_LIMIT = 100.0
DEFAULT_KERNEL = "edge: Sobel x (vertical edges)"
NO_ACTIVATION = "none"


def toy_square(size: int = 10) -> np.ndarray:
    """A small dark image with a bright square: every number fits in the step-by-step view."""
    image = np.zeros((size, size), dtype=np.float32)
    image[size // 4: size - size // 4, size // 3: size - size // 5] = 1.0
    return image


def _downsample(image: np.ndarray, size: int) -> np.ndarray:
    """Shrink a square-ish image to at most ``size`` pixels a side by averaging blocks."""
    factor = max(1, math.ceil(max(image.shape) / size))
    h, w = (image.shape[0] // factor) * factor, (image.shape[1] // factor) * factor
    return image[:h, :w].reshape(h // factor, factor, w // factor, factor).mean(axis=(1, 3)).astype(np.float32)


def playground_images(*, size: int = 64, seed: int = 0) -> dict[str, np.ndarray]:
    """Images in [0, 1] to try kernels on: a toy square, chest and CT phantoms, a real CT (DICOM)."""
    images = {"toy: bright square (10×10)": toy_square()}
    chest = make_phantoms("chest", n_patients=4, images_per_patient=1, size=size, seed=seed)
    i = int(np.argmax(chest.labels == 1))                       # an image with a lesion, if any
    images[f"chest phantom ({'lesion' if chest.labels[i] else 'no lesion'})"] = np.clip(chest.images[i], 0, 1)
    ct = make_phantoms("ct", n_patients=4, images_per_patient=1, size=size, seed=seed)
    j = int(np.argmax(ct.labels == 1))
    for window in ("lung", "soft_tissue"):
        images[f"CT phantom, {window.replace('_', '-')} window"] = apply_window(ct.images[j], *WINDOW_PRESETS[window])
    for name, path in sample_files(["CT_small.dcm"]).items():   # ships with pydicom: never downloads
        image_hu = read_dicom(path).frame(0)
        images[f"real CT (pydicom {name}), soft-tissue window"] = _downsample(
            apply_window(image_hu, *WINDOW_PRESETS["soft_tissue"]), size)
    return {name: np.asarray(img, dtype=np.float32) for name, img in images.items()}


def _sanitize(value: float | None) -> float:
    """A kernel entry as a finite number within ±KERNEL_LIMIT (empty or NaN boxes count as 0)."""
    if value is None or not math.isfinite(value):
        return 0.0
    return float(min(max(value, -KERNEL_LIMIT), KERNEL_LIMIT))


class ConvPlaygroundLab(W.VBox):
    """The playground: kernel boxes, stride/padding/pooling controls, live feature maps, step view."""

    def __init__(self, images: Mapping[str, np.ndarray] | None = None, *, seed: int = 0, size: int = 64,
                 kernel: str = DEFAULT_KERNEL):
        self.images = {name: np.asarray(img, dtype=np.float32) for name, img in
                       (images if images is not None else playground_images(size=size, seed=seed)).items()}
        if not self.images or any(img.ndim != 2 for img in self.images.values()):
            raise DataError("the playground needs at least one 2-D image", fix="pass {'name': array (H, W)}")
        if kernel not in C.KERNELS:
            raise DataError(f"unknown kernel preset {kernel!r}", fix=f"use one of {list(C.KERNELS)}")
        self._busy = False      # True while the lab itself sets controls: skip the redraws it would trigger

        style = {"description_width": "90px"}
        self.image_dropdown = W.Dropdown(options=list(self.images), description="image", style=style,
                                         layout=W.Layout(width="420px"))
        self.preset_dropdown = W.Dropdown(options=["custom", *C.KERNELS], value=kernel, description="kernel",
                                          style=style, layout=W.Layout(width="420px"))
        self.kernel_boxes = [W.FloatText(value=float(v), step=0.1, continuous_update=True,
                                         layout=W.Layout(width="72px")) for v in C.KERNELS[kernel].ravel()]
        self.kernel_grid = W.GridBox(self.kernel_boxes, layout=W.Layout(grid_template_columns="repeat(3, 76px)"))
        self.stride_slider = W.IntSlider(value=1, min=1, max=3, description="stride", style=style)
        self.padding_slider = W.IntSlider(value=1, min=0, max=2, description="zero padding", style=style)
        self.activation_dropdown = W.Dropdown(options=[NO_ACTIVATION, *C.ACTIVATIONS], value=NO_ACTIVATION,
                                              description="activation", style=style)
        self.pool_slider = W.IntSlider(value=2, min=1, max=4, description="max pool", style=style)
        self.formula = W.HTML()
        self.position_slider = W.IntSlider(value=0, min=0, max=1, description="step", style=style,
                                           layout=W.Layout(width="600px"))

        self.pipeline = self._compute()
        self._sync_position_slider()
        self.fig = Figure(C.pipeline_figure(self.pipeline))
        self.step = self._compute_step()
        self.step_fig = Figure(C.conv_step_figure(*self.step))
        self.formula.value = self._formula_html()

        self.image_dropdown.observe(self._on_change, names="value")
        self.preset_dropdown.observe(self._on_preset, names="value")
        for box in self.kernel_boxes:
            box.observe(self._on_kernel_edit, names="value")
        for control in (self.stride_slider, self.padding_slider, self.activation_dropdown, self.pool_slider):
            control.observe(self._on_change, names="value")
        self.position_slider.observe(self._on_position, names="value")

        self.exercises = lab_exercises(self)  # the lab's ExerciseSet (labs/NN_name)
        self.exercise_panel = exercise_panel(self.exercises)
        controls = W.HBox([
            W.VBox([self.image_dropdown, self.preset_dropdown,
                    W.HTML("<small>kernel weights (type to edit; the maps follow)</small>"), self.kernel_grid]),
            W.VBox([self.stride_slider, self.padding_slider, self.activation_dropdown, self.pool_slider,
                    self.formula]),
        ])
        super().__init__([
            controls, self.fig,
            W.HTML("<b>One output pixel, step by step</b>: the patch under the kernel, times the kernel, "
                   "summed, is one entry of the feature map (before the activation)."),
            self.position_slider, self.step_fig,
            self.exercise_panel,
        ])

    # ----------------------------------------------------------------- state
    @property
    def image(self) -> np.ndarray:
        """The chosen image (a dropdown value is checked against the known names)."""
        name = self.image_dropdown.value
        if name not in self.images:
            raise DataError(f"unknown image {name!r}", fix=f"choose one of {list(self.images)}")
        return self.images[name]

    def kernel_value(self) -> np.ndarray:
        """The 3×3 kernel the boxes hold, each entry validated."""
        return np.array([_sanitize(box.value) for box in self.kernel_boxes], dtype=np.float32).reshape(3, 3)

    def _settings(self) -> dict:
        activation = self.activation_dropdown.value
        return dict(stride=int(np.clip(self.stride_slider.value, 1, 3)),
                    padding=int(np.clip(self.padding_slider.value, 0, 2)),
                    pool_size=int(np.clip(self.pool_slider.value, 1, 4)),
                    activation=activation if activation in C.ACTIVATIONS else None)

    def _compute(self) -> C.ConvPipeline:
        return C.run_pipeline(self.image, self.kernel_value(), **self._settings())

    def _compute_step(self) -> tuple[C.ConvStep, np.ndarray]:
        s = self._settings()
        raw = C.conv2d(self.image, self.kernel_value(), stride=s["stride"], padding=s["padding"])
        position = int(np.clip(self.position_slider.value, 0, raw.size - 1))
        step = C.conv_step(self.image, self.kernel_value(), position, stride=s["stride"], padding=s["padding"])
        return step, C.feature_map_so_far(raw, position)

    def _formula_html(self) -> str:
        n = self.image.shape[0]
        text = C.output_size_formula(n, 3, self.pipeline.padding, self.pipeline.stride)
        return f"<b>output size</b><br><code>{html.escape(text)}</code>"

    # -------------------------------------------------------------- redraws
    def refresh(self) -> None:
        """Recompute the maps and update both figures in place (the FigureWidget rule), sending only what changed."""
        self.pipeline = self._compute()
        titles = {f"annotations[{i}].text": title for i, title in enumerate(C.pipeline_titles(self.pipeline))}
        self.fig.send_changes(C.pipeline_trace_data(self.pipeline), {**titles, "title.text": self.pipeline.formula})
        self.formula.value = self._formula_html()
        self._sync_position_slider()
        self.refresh_step()

    def refresh_step(self) -> None:
        """Redraw the step-by-step view for the current step slider position."""
        self.step = self._compute_step()
        titles = {f"annotations[{i}].text": title for i, title in enumerate(C.step_titles(self.step[0]))}
        self.step_fig.send_changes(C.step_trace_data(*self.step), titles)

    def _sync_position_slider(self) -> None:
        """The step slider spans the feature map, which changes size with stride and padding."""
        n_positions = self.pipeline.feature_map.size     # the activation keeps the size
        self._busy, was_busy = True, self._busy
        try:
            self.position_slider.max = max(n_positions - 1, 1)
            self.position_slider.value = min(self.position_slider.value, n_positions - 1)
        finally:
            self._busy = was_busy

    # --------------------------------------------------------------- events
    def _on_change(self, _change: dict) -> None:
        if not self._busy:
            self.refresh()

    def _on_position(self, _change: dict) -> None:
        if not self._busy:
            self.refresh_step()

    def _on_preset(self, change: dict) -> None:
        name = change["new"]
        if self._busy or name not in C.KERNELS:
            return                                   # "custom": keep what the boxes hold
        self._busy = True
        try:
            for box, value in zip(self.kernel_boxes, C.KERNELS[name].ravel()):
                box.value = float(value)
        finally:
            self._busy = False
        self.refresh()

    def _on_kernel_edit(self, change: dict) -> None:
        if self._busy:
            return
        clean = _sanitize(change["new"])
        self._busy = True
        try:
            if clean != change["new"]:
                change["owner"].value = clean        # show the student the value actually used
            matching = [n for n, k in C.KERNELS.items() if np.allclose(k, self.kernel_value(), atol=1e-6)]
            self.preset_dropdown.value = matching[0] if matching else "custom"
        finally:
            self._busy = False
        self.refresh()
