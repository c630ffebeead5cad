"""Lab 11 — Low-dose CT denoising: a dose slider, classical filters vs CNNs, and a lesion's fate.

The notebook computes everything (the slice at every dose, each method's output, PSNR/SSIM
against dose, the planted-lesion cases); the lab only shows it, so the **dose slider** is
instant: noise and streaks grow as the dose falls, the noise map shows where, and the
chosen method's output sits beside it. A second part shows each planted lesion before and
after denoising, with its CNR and the share of its contrast each method keeps.
"""
from __future__ import annotations

import html
from typing import Mapping, Sequence

import ipywidgets as W
import numpy as np
import plotly.graph_objects as go

from radlab.data.ct_dose import DoseSeries
from radlab.denoising import METHOD_NAMES, DoseTable, LesionCase, most_erased
from radlab.course.lab11_low_dose_ct_denoising import exercises
from radlab.viz.denoising import (contrast_kept_figure, dose_curves_figure, dose_figure, lesion_figure,
                                  update_dose_figure, update_dose_marker, update_lesion_figure)
from radlab.widgets.common import STYLE
from radlab.widgets.exercise import exercise_panel
from radlab.widgets.figure import Figure



def case_label(case: LesionCase) -> str:
    return f"{case.radius_px:g} px radius, +{case.contrast_hu:g} HU at {case.dose:.1%} dose"


class DenoisingLab(W.VBox):
    """The Lab 11 widget.

    ``series``: one test slice scanned at every dose; ``outputs``: each method's output for
    ``series.images_hu`` (method -> (K, H, W)); ``table``: PSNR/SSIM by dose on the test
    slices; ``cases``: planted lesions (:func:`radlab.denoising.lesion_study`).
    Controls: ``dose_slider``, ``method_dropdown``, ``case_dropdown``. Figures: ``dose_fig``,
    ``curves_fig``, ``lesion_fig``, ``kept_fig``.
    """

    def __init__(self, series: DoseSeries, outputs: Mapping[str, np.ndarray], table: DoseTable,
                 cases: Sequence[LesionCase], *, network: str = "residual_cnn"):
        self.series, self.table, self.cases = series, table, list(cases)
        self.outputs = {k: np.asarray(v, dtype=np.float32) for k, v in outputs.items()}
        for name, arr in self.outputs.items():
            if arr.shape != series.images_hu.shape:
                raise ValueError(f"{name}: outputs of shape {arr.shape}, the series has {series.images_hu.shape}")
        if tuple(table.doses) != tuple(series.doses):
            raise ValueError("the table and the series must use the same doses")
        if not self.cases:
            raise ValueError("give at least one lesion case")
        self.network = network if network in self.outputs else next(iter(self.outputs))
        soft = (series.object_hu > -60) & (series.object_hu < 120)
        self.noise_hu = series.noise_std_hu(soft)

        self.dose_slider = W.SelectionSlider(options=[(f"{d:.1%}", i) for i, d in enumerate(series.doses)],
                                             value=min(2, len(series.doses) - 1), description="dose",
                                             style=STYLE, continuous_update=True)
        self.method_dropdown = W.Dropdown(options=[(METHOD_NAMES.get(m, m), m) for m in self.outputs],
                                          value=self.network, description="denoiser", style=STYLE,
                                          layout=W.Layout(width="380px"))
        self.case_dropdown = W.Dropdown(options=[(case_label(c), i) for i, c in enumerate(self.cases)],
                                        value=self.cases.index(most_erased(self.cases, self.network)),
                                        description="lesion", style=STYLE, layout=W.Layout(width="380px"))
        self.dose_html, self.case_html = W.HTML(), W.HTML()

        # FigureWidget rule: all traces in the constructor; updates only touch fig.data[i].
        self.dose_fig = Figure(self._dose())
        self.curves_fig = Figure(dose_curves_figure(table.doses, table.psnr, table.ssim, METHOD_NAMES,
                                                             current=self.dose))
        self.lesion_fig = Figure(self._lesion())
        self.kept_fig = Figure(contrast_kept_figure(
            [case_label(c).replace(" at ", "<br>") for c in self.cases],
            {m: [c.kept(m) for c in self.cases] for m in self.cases[0].contrast if m != "reference"}, METHOD_NAMES))
        self._describe_dose()
        self._describe_case()

        self.dose_slider.observe(lambda _c: self.refresh_dose(), names="value")
        self.method_dropdown.observe(lambda _c: self.refresh_dose(), names="value")
        self.case_dropdown.observe(lambda _c: self.refresh_case(), names="value")

        self.exercises = exercises(self)
        super().__init__([
            W.HTML("<b>Lower the dose</b> and watch the noise (and, at the lowest doses, streaks) grow; "
                   "pick a denoiser to see what it makes of the same scan."),
            W.HBox([self.dose_slider, self.method_dropdown], layout=W.Layout(flex_flow="row wrap")),
            self.dose_fig, self.dose_html, self.curves_fig,
            W.HTML("<b>A small low-contrast lesion</b>, planted in soft tissue and scanned again: "
                   "does it survive denoising?"),
            self.case_dropdown, self.lesion_fig, self.case_html, self.kept_fig,
            exercise_panel(self.exercises, title="Exercises (about your run)"),
        ])

    # ------------------------------------------------------------------ state
    @property
    def dose_index(self) -> int:
        """The slider's dose level, checked against the levels there are."""
        k = int(self.dose_slider.value)
        if not 0 <= k < len(self.series.doses):
            raise ValueError(f"dose level {k} does not exist")
        return k

    @property
    def dose(self) -> float:
        return self.series.doses[self.dose_index]

    @property
    def method(self) -> str:
        if self.method_dropdown.value not in self.outputs:
            raise ValueError(f"unknown denoiser {self.method_dropdown.value!r}")
        return self.method_dropdown.value

    @property
    def case(self) -> LesionCase:
        return self.cases[int(np.clip(int(self.case_dropdown.value), 0, len(self.cases) - 1))]

    # ------------------------------------------------------------------ figures
    def _dose(self) -> go.Figure:
        k = self.dose_index
        return dose_figure(self.series.images_hu[k], self.series.reference_hu, self.outputs[self.method][k],
                           dose=self.dose, method=METHOD_NAMES.get(self.method, self.method),
                           noise_std_hu=float(self.noise_hu[k]))

    def _lesion_args(self) -> tuple:
        case = self.case
        return case.images_hu, case.mask, {"reference": "no-noise scan", **METHOD_NAMES}, case.cnr

    def _lesion(self) -> go.Figure:
        return lesion_figure(*self._lesion_args())

    def _describe_dose(self) -> None:
        k = self.dose_index
        rows = "".join(f"<tr><td>{html.escape(METHOD_NAMES.get(m, m))}</td><td>{self.table.psnr[m][k]:.1f}</td>"
                       f"<td>{self.table.ssim[m][k]:.3f}</td></tr>" for m in self.table.psnr)
        self.dose_html.value = (f"<b>{self.dose:.1%} of the full dose</b>: noise {self.noise_hu[k]:.0f} HU in soft "
                                f"tissue (full dose {self.noise_hu[0]:.0f} HU). Test slices:"
                                f"<table><tr><th>method</th><th>PSNR (dB)</th><th>SSIM</th></tr>{rows}</table>")

    def _describe_case(self) -> None:
        case = self.case
        rows = "".join(f"<tr><td>{html.escape(METHOD_NAMES.get(m, m))}</td><td>{case.contrast[m]:.1f}</td>"
                       f"<td>{case.kept(m):.2f}</td><td>{case.cnr[m]:.2f}</td>"
                       f"<td>{'erased' if case.erased_by(m) else ''}</td></tr>"
                       for m in case.contrast if m != "reference")
        self.case_html.value = (f"<b>{html.escape(case_label(case))}</b>: contrast {case.contrast['reference']:.1f} HU "
                                f"in the no-noise scan (means over the noise draws)<table><tr><th>image</th>"
                                f"<th>contrast (HU)</th><th>kept</th><th>CNR</th><th></th></tr>{rows}</table>")

    def refresh_dose(self) -> None:
        """The dose or the denoiser changed: redraw the slice, the noise, the output and the marker."""
        k = self.dose_index
        update_dose_figure(self.dose_fig, self.series.images_hu[k], self.series.reference_hu,
                           self.outputs[self.method][k], dose=self.dose, method=METHOD_NAMES.get(self.method, self.method),
                           noise_std_hu=float(self.noise_hu[k]))
        with self.curves_fig.batch_update():
            update_dose_marker(self.curves_fig, self.dose)
        self._describe_dose()

    def refresh_case(self) -> None:
        """Another planted lesion: redraw its panels and numbers."""
        update_lesion_figure(self.lesion_fig, *self._lesion_args())
        self._describe_case()


__all__ = ["DenoisingLab", "case_label"]
