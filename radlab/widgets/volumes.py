"""Lab 12 — Volumes (3D): scroll a CT volume, then compare a 2-D CNN slice by slice with a 3-D CNN.

The widget composes controls and figures; volumes come from :mod:`radlab.data.volumes`, the
experiment from :mod:`radlab.volumetric`. ``run()`` does what the 'Train and compare' button
does, in the caller's thread (notebooks, tests).
"""
from __future__ import annotations

import html
from typing import Any

import ipywidgets as W
import numpy as np
import plotly.graph_objects as go

from radlab.course.lab12_volumes_3d import exercises as lab_exercises
from radlab.volumetric import MODELS, WINDOWS, ModelResult, compare_2d_3d, load_volume_data, nodule_extent
from radlab.viz.volumes import (comparison_data, comparison_figure, phases_data, phases_figure, slice_scores_data,
                                slice_scores_figure, slice_view_data, slice_view_figure)
from radlab.widgets.exercise import exercise_panel
from radlab.widgets.figure import Figure

STYLE = {"description_width": "110px"}
PHASE_OPTIONS = (("non-contrast", "non-contrast"), ("venous phase", "venous"))
MAX_EPOCHS = 40


def _update(fig: go.FigureWidget, traces: list[dict[str, Any]], shapes: list[dict[str, Any]]) -> None:
    """One message: the figure's first traces and shapes take these values (unchanged ones are not sent)."""
    with fig.batch_update():
        for trace, data in zip(fig.data, traces):
            trace.update(data)
        for shape, data in zip(fig.layout.shapes, shapes):
            shape.update(data)


class VolumesLab(W.VBox):
    """A slice scroller with window controls over the test volumes, and the 2-D vs 3-D comparison.

    Controls: ``slice_slider``, ``volume_slider``, ``window_dropdown``, ``level_slider``,
    ``width_slider``, ``phase_toggle``, ``train_button``.
    """

    def __init__(self, *, seed: int = 0, fast: bool = False, epochs_2d: int | None = None,
                 epochs_3d: int | None = None):
        self.seed, self.fast = int(seed), bool(fast)
        self.data = load_volume_data(fast=self.fast, seed=self.seed)
        self.volumes = self.data.volumes
        self.test_index = self.data.split["test"]
        self.epochs_2d = int(np.clip(epochs_2d or (2 if self.fast else 6), 1, MAX_EPOCHS))
        self.epochs_3d = int(np.clip(epochs_3d or (4 if self.fast else 20), 1, MAX_EPOCHS))
        self.results: list[ModelResult] = []
        depth = self.volumes.volumes.shape[1]
        first = next((k for k, i in enumerate(self.test_index) if self.volumes.labels[i] == 1), 0)
        extent = nodule_extent(self.volumes, int(self.test_index[first]))

        self.slice_slider = W.IntSlider(value=extent[0] if extent else depth // 2, min=0, max=depth - 1,
                                        description="slice (z)", style=STYLE)
        self.volume_slider = W.IntSlider(value=first, min=0, max=len(self.test_index) - 1,
                                         description="test volume", style=STYLE, continuous_update=False)
        self.window_dropdown = W.Dropdown(options=list(WINDOWS), value="lung", description="window preset",
                                          style=STYLE)
        level, width = WINDOWS["lung"]
        self.level_slider = W.FloatSlider(value=level, min=-1000, max=1000, step=10, description="level (HU)",
                                          style=STYLE, continuous_update=False)
        self.width_slider = W.FloatSlider(value=width, min=50, max=2500, step=50, description="width (HU)",
                                          style=STYLE, continuous_update=False)
        self.phase_toggle = W.ToggleButtons(options=PHASE_OPTIONS, value="non-contrast", description="phase",
                                            style=STYLE)
        self.train_button = W.Button(description="Train and compare", icon="play", button_style="success",
                                     layout=W.Layout(width="200px"))
        self.view_html, self.results_html, self.status_html = W.HTML(), W.HTML(), W.HTML()

        # FigureWidget rule: all traces in the constructor; later only fig.data[i] changes.
        self.view_fig = Figure(slice_view_figure(*self._view_args(), **self._view_kwargs()))
        self.scores_fig = Figure(slice_scores_figure(None, self.z, None, depth=depth))
        self.compare_fig = Figure(comparison_figure([], list(MODELS)))
        self.phases_fig = Figure(self._phases_figure())
        self._describe()

        self._presetting = False   # a preset moves two sliders: redraw once, after both
        for control in (self.slice_slider, self.volume_slider, self.level_slider, self.width_slider,
                        self.phase_toggle):
            control.observe(lambda _c: None if self._presetting else self.refresh(), names="value")
        self.window_dropdown.observe(lambda _c: self._apply_preset(), names="value")
        self.train_button.on_click(lambda _b: self._train_clicked())

        self.exercises = lab_exercises(self)
        self.exercise_panel = exercise_panel(self.exercises)
        super().__init__([
            W.HBox([self.slice_slider, self.volume_slider]),
            W.HBox([self.window_dropdown, self.level_slider, self.width_slider]), self.phase_toggle,
            self.view_fig, self.view_html,
            W.HTML("<h4>Two phases as two channels</h4>"), self.phases_fig,
            W.HTML("<h4>2-D slice by slice vs 3-D</h4>"), self.train_button, self.status_html,
            self.compare_fig, self.results_html,
            W.HTML("<b>What each model says about this volume</b> (after training)"), self.scores_fig,
            self.exercise_panel,
        ])

    # ------------------------------------------------------------------ validated state
    @property
    def z(self) -> int:
        return int(np.clip(self.slice_slider.value, 0, self.volumes.volumes.shape[1] - 1))

    @property
    def index(self) -> int:
        """The shown volume's index in the whole set (the slider counts test volumes)."""
        k = int(np.clip(self.volume_slider.value, 0, len(self.test_index) - 1))
        return int(self.test_index[k])

    @property
    def window(self) -> tuple[float, float]:
        return float(np.clip(self.level_slider.value, -1000, 1000)), float(np.clip(self.width_slider.value, 50, 2500))

    def current_extent(self) -> tuple[int, int] | None:
        """First and last slice with the shown volume's nodule (None: no nodule in it)."""
        return nodule_extent(self.volumes, self.index)

    def _volume(self) -> np.ndarray:
        source = self.volumes.enhanced if self.phase_toggle.value == "venous" else self.volumes.volumes
        return source[self.index]

    def _row(self) -> int:
        """The coronal row: through the nodule when there is one, the middle otherwise."""
        c = self.volumes.centers[self.index]
        return int(round(c[1])) if np.isfinite(c[1]) else self.volumes.volumes.shape[2] // 2

    def _view_args(self) -> tuple[np.ndarray, int]:
        return self._volume(), self.z

    def _view_kwargs(self) -> dict[str, Any]:
        level, width = self.window
        return {"level_hu": level, "width_hu": width, "mask": self.volumes.masks[self.index], "row": self._row()}

    def _phases_args(self) -> tuple[np.ndarray, np.ndarray]:
        return self.volumes.volumes[self.index, self.z], self.volumes.enhanced[self.index, self.z]

    def _phases_kwargs(self) -> dict[str, Any]:
        level, width = self.window
        return {"level_hu": level, "width_hu": width, "mask": self.volumes.masks[self.index, self.z]}

    def _phases_figure(self) -> go.Figure:
        return phases_figure(*self._phases_args(), **self._phases_kwargs())

    # ------------------------------------------------------------------ updates
    def _apply_preset(self) -> None:
        name = self.window_dropdown.value
        if name in WINDOWS:
            level, width = WINDOWS[name]
            self._presetting = True
            try:
                self.level_slider.value, self.width_slider.value = level, width
            finally:
                self._presetting = False
            self.refresh()

    def refresh(self) -> None:
        """Redraw the slice view, the phases and the per-slice scores for the current controls."""
        _update(self.view_fig, *slice_view_data(*self._view_args(), **self._view_kwargs()))
        _update(self.phases_fig, *phases_data(*self._phases_args(), **self._phases_kwargs()))
        self._show_scores()
        self._describe()

    def _describe(self) -> None:
        extent = self.current_extent()
        truth = (f"a nodule in slices {extent[0]}–{extent[1]} (orange outline)" if extent else "no nodule")
        self.view_html.value = (f"<small>Test volume {int(self.volume_slider.value)}: {truth}. Slice {self.z}; "
                                f"window {self.window[0]:.0f} / {self.window[1]:.0f} HU; "
                                f"{html.escape(self.phase_toggle.value)}. The coronal view (right) shows one row "
                                f"through every slice: vessels are lines, a nodule a blob.</small>")

    def _show_scores(self) -> None:
        by_name = {r.name: r for r in self.results}
        k = int(np.clip(self.volume_slider.value, 0, len(self.test_index) - 1))
        two_d = by_name.get("2d")
        three_d = by_name.get("3d")
        data = slice_scores_data(two_d.slice_scores[k] if two_d is not None else None, self.z,
                                 float(three_d.test_scores[k]) if three_d is not None else None)
        with self.scores_fig.batch_update():
            for trace, d in zip(self.scores_fig.data, data):
                trace.x, trace.y = d["x"], d["y"]

    # ------------------------------------------------------------------ the experiment
    def _train_clicked(self) -> None:
        self.train_button.disabled = True
        try:
            self.run()
        except Exception as err:  # noqa: BLE001  (shown to the student instead of lost in a log)
            self.status_html.value = f'<span style="color:#cf222e">{html.escape(str(err))}</span>'
        finally:
            self.train_button.disabled = False

    def run(self, epochs_2d: int | None = None, epochs_3d: int | None = None) -> list[ModelResult]:
        """Train the 2-D (one phase, two phases) and 3-D models on the same volumes; show the comparison."""
        e2 = int(np.clip(epochs_2d or self.epochs_2d, 1, MAX_EPOCHS))
        e3 = int(np.clip(epochs_3d or self.epochs_3d, 1, MAX_EPOCHS))
        self.results = []
        self.status_html.value = "<i>Training three models…</i>"
        compare_2d_3d(self.data, epochs_2d=e2, epochs_3d=e3, seed=self.seed, on_result=self._add_result)
        self.status_html.value = ""
        return self.results

    def _add_result(self, result: ModelResult) -> None:
        self.results.append(result)
        with self.compare_fig.batch_update():
            for trace, data in zip(self.compare_fig.data, comparison_data(self.results, list(MODELS))):
                trace.x, trace.y = data["x"], data["y"]
        rows = "".join(f"<tr><td>{html.escape(r.label)}</td><td>{r.test_auc:.3f}</td><td>{r.test_accuracy:.2f}</td>"
                       f"<td>{r.params:,}</td><td>{r.train_seconds:.1f}</td><td>{r.infer_ms_per_volume:.1f}</td></tr>"
                       for r in self.results)
        self.results_html.value = ("<table><tr><th>model</th><th>test AUC</th><th>test accuracy</th>"
                                   "<th>parameters</th><th>training s</th><th>ms / volume</th></tr>"
                                   f"{rows}</table><small>{len(self.test_index)} test volumes; accuracy at the "
                                   "threshold chosen on the validation volumes.</small>")
        self._show_scores()

    def table(self) -> list[dict[str, Any]]:
        """The comparison as rows (for printing in a notebook)."""
        return [{"model": r.name, "test AUC": round(r.test_auc, 3), "test accuracy": round(r.test_accuracy, 3),
                 "parameters": r.params, "train s": r.train_seconds, "ms/volume": r.infer_ms_per_volume}
                for r in self.results]
