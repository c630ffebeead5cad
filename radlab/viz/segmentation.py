"""Figures of Lab 10 (segmentation): contours over the truth, Dice distributions, Dice by lesion size.

Every function returns a ``plotly.graph_objects.Figure`` whose traces keep a fixed order, so
a lab widget can build a FigureWidget once and later replace ``fig.data[i]`` values only.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go

from radlab.viz.images import image_trace, mask_outline, picture_values
from radlab.viz.style import padded_range, plotly_white

TRUE_COLOR = "#30d158"    # the ground truth: green
PRED_COLOR = "#ff9f0a"    # the prediction: orange
METHOD_COLORS = ("#0a84ff", "#ff9f0a", "#bf5af2", "#ff375f", "#64d2ff")


def contour_figure(image_hu: np.ndarray, true_mask: np.ndarray, pred_mask: np.ndarray, *, level: float,
                   width: float, title: str = "", height: int = 380) -> go.Figure:
    """The slice (window level/width, HU) with the true outline (green) and the predicted one (orange).

    Trace 0 is the image; the outlines are path shapes named "true outline" and "predicted outline".
    """
    fig = go.Figure(data=[image_trace(image_hu, level=level, width=width, units="HU")])
    for mask, color, name in ((true_mask, TRUE_COLOR, "true outline"), (pred_mask, PRED_COLOR, "predicted outline")):
        fig.add_shape(**mask_outline(mask, color=color, name=name))
    h, w = np.shape(image_hu)
    fig.update_xaxes(visible=False, range=[-0.5, w - 0.5], constrain="domain")
    fig.update_yaxes(visible=False, range=[h - 0.5, -0.5], scaleanchor="x", scaleratio=1, constrain="domain")
    fig.update_layout(title=dict(text=title, font=dict(size=13)), height=height, width=height + 20,
                      margin=dict(l=10, r=10, t=50, b=10), plot_bgcolor="black", showlegend=False)
    return fig


def contour_view(image_hu: np.ndarray, true_mask: np.ndarray, pred_mask: np.ndarray, *, level: float,
                 width: float) -> tuple[dict, list[str]]:
    """What :func:`contour_figure` shows for another slice, mask or threshold: the picture's values and
    the two outlines' paths.

    A widget updates its live figure with these instead of copying a whole rebuilt figure into it
    (plotly then sends only the values that changed: the predicted outline, for a new threshold).
    """
    picture = image_trace(image_hu, level=level, width=width, units="HU")
    return picture_values(picture), [mask_outline(m)["path"] for m in (true_mask, pred_mask)]


def dice_distribution_figure(per_image: Mapping[str, np.ndarray], *, title: str = "Dice per slice with a nodule",
                             height: int = 360) -> go.Figure:
    """One box (with every slice as a dot) per method: the spread hides behind a mean. One trace per method."""
    data = [go.Box(y=np.asarray(values, dtype=float), name=name, boxpoints="all", jitter=0.4, pointpos=0,
                   marker=dict(color=METHOD_COLORS[i % len(METHOD_COLORS)], size=5), boxmean=True)
            for i, (name, values) in enumerate(per_image.items())]
    fig = go.Figure(data=data)
    plotly_white(fig)
    fig.update_layout(title=title, yaxis=dict(title="Dice", range=[-0.05, 1.05]), height=height,
                      showlegend=False, margin=dict(l=50, r=10, t=50, b=40))
    return fig


def dice_by_size_figure(area: Mapping[str, np.ndarray], per_image: Mapping[str, np.ndarray], *,
                        contrast_hu: Mapping[str, np.ndarray] | None = None, groups: Sequence[tuple] = (),
                        height: int = 360) -> go.Figure:
    """Dice against lesion size (pixels), one trace per method; dotted lines mark the size groups."""
    data = []
    for i, name in enumerate(per_image):
        hover = "size %{x} px, Dice %{y:.2f}"
        extra = {}
        if contrast_hu is not None:
            extra = dict(customdata=np.asarray(contrast_hu[name], dtype=float))
            hover += ", contrast %{customdata:.0f} HU"
        data.append(go.Scatter(x=np.asarray(area[name]), y=np.asarray(per_image[name], dtype=float), mode="markers",
                               name=name, marker=dict(color=METHOD_COLORS[i % len(METHOD_COLORS)], size=7, opacity=0.8),
                               hovertemplate=hover + "<extra>" + name + "</extra>", **extra))
    fig = go.Figure(data=data)
    for _name, low, _high in groups:
        if low > 0:
            fig.add_vline(x=low, line=dict(color="grey", dash="dot"))
    plotly_white(fig)
    fig.update_layout(title="Where it fails: Dice by lesion size", xaxis_title="lesion size (pixels of the true mask)",
                      yaxis=dict(title="Dice", range=[-0.05, 1.05]), height=height,
                      legend=dict(orientation="h", y=-0.25), margin=dict(l=50, r=10, t=50, b=40))
    return fig


def threshold_curve_figure(thresholds: Sequence[float], mean_dice: Sequence[float], current: float, *,
                           height: int = 300) -> go.Figure:
    """Mean test Dice against the probability threshold (trace 0) and the slider's threshold (trace 1)."""
    thresholds, mean_dice = np.asarray(thresholds, dtype=float), np.asarray(mean_dice, dtype=float)
    fig = go.Figure(data=[go.Scatter(x=thresholds, y=mean_dice, mode="lines+markers", name="mean Dice",
                                     line=dict(color=METHOD_COLORS[0])),
                          go.Scatter(**threshold_marker(thresholds, mean_dice, current), mode="markers",
                                     name="slider", marker=dict(color=PRED_COLOR, size=14, symbol="diamond"))])
    plotly_white(fig)
    # a fixed threshold range, so a new threshold moves the diamond alone in the browser
    fig.update_layout(title="U-Net: mean Dice on the test slices against the threshold", xaxis_title="threshold",
                      xaxis_range=padded_range(thresholds, pad=0.03),
                      yaxis=dict(title="mean Dice", range=[0, 1]), height=height,
                      showlegend=False, margin=dict(l=50, r=10, t=50, b=40))
    return fig


def threshold_marker(thresholds: Sequence[float], mean_dice: Sequence[float], current: float) -> dict:
    """x and y of :func:`threshold_curve_figure`'s marker: the slider's threshold on the curve."""
    at = float(np.interp(current, np.asarray(thresholds, dtype=float), np.asarray(mean_dice, dtype=float)))
    return dict(x=[float(current)], y=[at])


def masks_figure(frames: np.ndarray, titles: Sequence[str], *, height: int = 300) -> go.Figure:
    """Binary masks side by side (a DICOM SEG's frames): white = segmented."""
    from plotly.subplots import make_subplots  # noqa: PLC0415

    n = len(frames)
    fig = make_subplots(rows=1, cols=n, subplot_titles=list(titles), horizontal_spacing=0.02)
    for i, frame in enumerate(frames, start=1):
        step = max(1, int(np.ceil(max(frame.shape) / 256)))
        fig.add_trace(go.Heatmap(z=np.asarray(frame[::step, ::step], dtype=np.uint8), colorscale="gray", zmin=0,
                                 zmax=1, showscale=False, hoverinfo="skip"), row=1, col=i)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False, autorange="reversed", scaleanchor="x")
    plotly_white(fig)
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=40, b=10))
    return fig


__all__ = ["contour_figure", "contour_view", "dice_by_size_figure", "dice_distribution_figure", "masks_figure",
           "threshold_curve_figure", "threshold_marker"]
