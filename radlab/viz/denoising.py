"""Figures of Lab 11 (low-dose CT denoising): a slice at a dose, PSNR/SSIM against dose, a lesion before and after.

Trace order is fixed in each figure so a lab widget can update ``fig.data[i]`` in place.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from radlab.viz.images import image_trace, mask_outline
from radlab.viz.style import padded_range, plotly_white

LESION_COLOR = "#ffd60a"
SOFT_TISSUE = (40.0, 400.0)   # the window every CT image of the lab is shown in (level, width HU)
NOISE_RANGE_HU = 150.0        # the noise map's colour scale: ±150 HU
COLORS = {"low_dose": "#8e8e93", "gaussian": "#64d2ff", "nl_means": "#30d158", "cnn": "#ff9f0a",
          "residual_cnn": "#ff375f"}


def _image_axes(fig: go.Figure, n: int, size: int) -> None:
    for i in range(1, n + 1):
        axis = "" if i == 1 else str(i)
        fig.update_layout({f"xaxis{axis}": dict(visible=False, range=[-0.5, size - 0.5], constrain="domain"),
                           f"yaxis{axis}": dict(visible=False, range=[size - 0.5, -0.5], scaleanchor=f"x{axis}",
                                                scaleratio=1, constrain="domain")})


def dose_figure(image_hu: np.ndarray, reference_hu: np.ndarray, denoised_hu: np.ndarray, *, dose: float,
                method: str, noise_std_hu: float, height: int = 330) -> go.Figure:
    """Three panels: the slice at ``dose``, its noise (image − noise-free), and ``method``'s output.

    Traces: 0 the low-dose slice, 1 the noise map, 2 the denoised slice.
    """
    size = np.shape(image_hu)[-1]
    traces, titles = dose_panels(image_hu, reference_hu, denoised_hu, dose=dose, method=method,
                                 noise_std_hu=noise_std_hu)
    fig = make_subplots(rows=1, cols=3, horizontal_spacing=0.02, subplot_titles=titles)
    for col, trace in enumerate(traces, start=1):
        fig.add_trace(trace, row=1, col=col)
    _image_axes(fig, 3, size)
    fig.update_annotations(font_size=12)
    fig.update_layout(height=height, width=3 * (height - 40) + 40, margin=dict(l=10, r=10, t=40, b=10),
                      plot_bgcolor="black", showlegend=False)
    return fig


def dose_panels(image_hu: np.ndarray, reference_hu: np.ndarray, denoised_hu: np.ndarray, *, dose: float,
                method: str, noise_std_hu: float) -> tuple[list[go.BaseTraceType], list[str]]:
    """:func:`dose_figure`'s three traces and three panel titles, without building the figure.

    A widget showing the figure copies these when the dose or the method changes
    (:func:`update_dose_figure`): building the whole figure again costs ~40 ms of Python.
    """
    traces = [image_trace(image_hu, level=SOFT_TISSUE[0], width=SOFT_TISSUE[1], units="HU", name="low-dose slice"),
              # a picture too (not a heatmap), so a new dose only changes the pictures' addresses
              image_trace(np.asarray(image_hu - reference_hu, dtype=np.float32), level=0.0, width=2 * NOISE_RANGE_HU,
                          colorscale="RdBu", units="HU", name="noise"),
              image_trace(denoised_hu, level=SOFT_TISSUE[0], width=SOFT_TISSUE[1], units="HU", name="denoised")]
    titles = [f"{dose:.1%} dose (noise {noise_std_hu:.0f} HU)", "noise = image − no-noise scan", f"denoised: {method}"]
    return traces, titles


def _show_panels(fig: go.Figure, traces: Sequence[go.BaseTraceType], titles: Sequence[str]) -> None:
    """Copy fresh panels' values (an image's picture or a heatmap's z, hover values) and titles into ``fig``, in one batch."""
    with fig.batch_update():
        for shown, fresh in zip(fig.data, traces):
            if fresh.type == "image":
                shown.source = fresh.source
            else:
                shown.z = fresh.z
            if fresh.customdata is not None:
                shown.customdata = fresh.customdata
        for annotation, title in zip(fig.layout.annotations, titles):
            annotation.text = title


def update_dose_figure(fig: go.Figure, image_hu: np.ndarray, reference_hu: np.ndarray, denoised_hu: np.ndarray,
                       **panels) -> None:
    """Make ``fig`` (a :func:`dose_figure` of images of the same size) show new panels, in one batch.

    Only what differs is sent: each trace's values and hover values, and the panel titles.
    """
    _show_panels(fig, *dose_panels(image_hu, reference_hu, denoised_hu, **panels))


def dose_curves_figure(doses: Sequence[float], psnr: Mapping[str, np.ndarray], ssim: Mapping[str, np.ndarray],
                       names: Mapping[str, str], *, current: float | None = None, height: int = 360) -> go.Figure:
    """PSNR (left) and SSIM (right) against dose, one line per method; the last trace marks ``current``.

    Traces: PSNR lines (one per method), SSIM lines (same order), then the dose marker (two points).
    """
    fig = make_subplots(rows=1, cols=2, subplot_titles=["PSNR (dB, soft-tissue window)", "SSIM"],
                        horizontal_spacing=0.1)
    doses = np.asarray(doses, dtype=float)
    for col, table in ((1, psnr), (2, ssim)):
        for method, values in table.items():
            fig.add_trace(go.Scatter(x=doses, y=np.asarray(values, dtype=float), mode="lines+markers",
                                     name=names.get(method, method), legendgroup=method, showlegend=col == 1,
                                     line=dict(color=COLORS.get(method, "black"),
                                               dash="dot" if method == "low_dose" else "solid")), row=1, col=col)
    fig.add_trace(_marker(doses, psnr, ssim, current), row=1, col=1)
    # fixed ranges (the curves' own), so a new dose moves the dashed line alone in the browser
    fig.update_xaxes(type="log", title="dose (fraction of full)", tickformat=".1%",
                     range=padded_range(doses, log=True))
    fig.update_yaxes(range=padded_range(np.concatenate([np.ravel(v) for v in psnr.values()])), row=1, col=1)
    plotly_white(fig)
    fig.update_layout(height=height, legend=dict(orientation="h", y=-0.3),
                      margin=dict(l=50, r=10, t=40, b=40))
    return fig


def _marker(doses: np.ndarray, psnr: Mapping[str, np.ndarray], ssim: Mapping[str, np.ndarray],
            current: float | None) -> go.Scatter:
    low = min(float(np.min(v)) for v in psnr.values())
    high = max(float(np.max(v)) for v in psnr.values())
    x = [] if current is None else [current, current]
    return go.Scatter(x=x, y=[low, high] if x else [], mode="lines", line=dict(color="black", dash="dash"),
                      name="slider", showlegend=False, hoverinfo="skip")


def update_dose_marker(fig: go.Figure, current: float) -> None:
    """Move the dashed dose line of :func:`dose_curves_figure` (its last trace)."""
    fig.data[-1].x = [current, current]


def lesion_figure(images_hu: Mapping[str, np.ndarray], mask: np.ndarray, names: Mapping[str, str],
                  cnr: Mapping[str, float], *, crop: int = 16, height: int = 250) -> go.Figure:
    """The planted lesion, zoomed (``crop`` px around it), in each image; the outline marks where it is.

    One picture per panel; the outlines are path shapes (one per panel, in panel order).
    """
    traces, titles, outlines = lesion_panels(images_hu, mask, names, cnr, crop=crop)
    fig = make_subplots(rows=1, cols=len(images_hu), subplot_titles=titles, horizontal_spacing=0.015)
    for col, (trace, path) in enumerate(zip(traces, outlines), start=1):
        fig.add_trace(trace, row=1, col=col)
        axis = "" if col == 1 else str(col)
        fig.add_shape(**{**mask_outline(None, color=LESION_COLOR, xref=f"x{axis}", yref=f"y{axis}"), "path": path})
    _image_axes(fig, len(images_hu), crop)
    fig.update_annotations(font_size=10)
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=60, b=10), plot_bgcolor="black", showlegend=False)
    return fig


def contrast_kept_figure(labels: Sequence[str], kept: Mapping[str, Sequence[float]], names: Mapping[str, str], *,
                         height: int = 320) -> go.Figure:
    """Share of each planted lesion's contrast that each method keeps (1 = all of it; 0 = erased). One bar trace per method."""
    fig = go.Figure(data=[go.Bar(x=list(labels), y=np.asarray(values, dtype=float), name=names.get(m, m),
                                 marker_color=COLORS.get(m, "black")) for m, values in kept.items()])
    fig.add_hline(y=0.5, line=dict(color="grey", dash="dot"))
    plotly_white(fig)
    fig.update_layout(barmode="group", title="Lesion contrast kept (1 = as in the no-noise scan; below 0.5: erased)",
                      yaxis_title="contrast kept", height=height,
                      legend=dict(orientation="h", y=-0.35), margin=dict(l=50, r=10, t=50, b=40))
    return fig


def lesion_panels(images_hu: Mapping[str, np.ndarray], mask: np.ndarray, names: Mapping[str, str],
                  cnr: Mapping[str, float], *,
                  crop: int = 16) -> tuple[list[go.BaseTraceType], list[str], list[str]]:
    """:func:`lesion_figure`'s pictures, panel titles and the lesion's outline (a path, the same in
    every panel), without the figure."""
    rows, cols = np.nonzero(mask)
    r0 = int(np.clip(rows.mean() - crop // 2, 0, mask.shape[0] - crop))
    c0 = int(np.clip(cols.mean() - crop // 2, 0, mask.shape[1] - crop))
    window = (slice(r0, r0 + crop), slice(c0, c0 + crop))
    titles = [f"{names.get(k, k)}<br>CNR {cnr[k]:.2f}" if np.isfinite(cnr.get(k, np.inf)) else names.get(k, k)
              for k in images_hu]
    traces = [image_trace(np.asarray(image)[window], level=SOFT_TISSUE[0], width=120.0, units="HU",
                          name=f"lesion {i}") for i, image in enumerate(images_hu.values(), start=1)]
    outline = mask_outline(mask[window])["path"]
    return traces, titles, [outline] * len(traces)


def update_lesion_figure(fig: go.Figure, images_hu: Mapping[str, np.ndarray], mask: np.ndarray,
                         names: Mapping[str, str], cnr: Mapping[str, float], *, crop: int = 16) -> None:
    """Make ``fig`` (a :func:`lesion_figure` with as many panels and the same ``crop``) show another lesion.

    Only the values (pictures, hover values, outline paths) and the panel titles are sent, in one batch.
    """
    traces, titles, outlines = lesion_panels(images_hu, mask, names, cnr, crop=crop)
    with fig.batch_update():
        _show_panels(fig, traces, titles)
        for shape, path in zip(fig.layout.shapes, outlines):
            shape.path = path


__all__ = ["SOFT_TISSUE", "contrast_kept_figure", "dose_curves_figure", "dose_figure", "dose_panels", "lesion_figure",
           "lesion_panels", "update_dose_figure", "update_dose_marker", "update_lesion_figure"]
