"""Figures of Lab 12 (volumes): an axial slice with its coronal reformat, per-slice scores, the 2-D vs 3-D table.

Fixed traces per figure (update ``fig.data[i]`` only; voila#1533). Images are windowed
(``level_hu`` ± ``width_hu`` / 2 → black … white) before they reach plotly, as pictures; a nodule's
outline is a ``layout.shapes`` path (:func:`radlab.viz.images.outline_shape`); the axes' ranges are
fixed. So scrolling, windowing and changing volume swap pictures and shapes in the browser instead
of redrawing the figures (heatmaps and contour traces did, ~100 ms a step on 2 cores).
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from radlab.viz.images import colour_bar_trace, grey_levels, image_source, outline_shape, plotly_array
from radlab.viz.style import plotly_white

MASK_COLOR = "#ff7f0e"


def _grey_picture(image_hu: np.ndarray, level_hu: float, width_hu: float) -> dict[str, Any]:
    """A slice in a window as an image trace's picture (its grey levels), pixel (row, col) at (col, row)."""
    return {"source": image_source(grey_levels(image_hu, level_hu, width_hu))}


def _fixed_image_axes(fig: go.Figure, shape: tuple[int, int], row: int, col: int, anchor: str) -> None:
    """Square pixels, rows going down, and fixed ranges: nothing moves while the pictures, outlines
    and marks change (the page then swaps them without redrawing the figure)."""
    h, w = shape
    fig.update_xaxes(showticklabels=False, showgrid=False, zeroline=False, range=[-0.5, w - 0.5],
                     constrain="domain", row=row, col=col)
    fig.update_yaxes(showticklabels=False, showgrid=False, zeroline=False, range=[h - 0.5, -0.5],
                     scaleanchor=anchor, constrain="domain", row=row, col=col)


def slice_view_data(volume_hu: np.ndarray, z: int, *, level_hu: float, width_hu: float,
                    mask: np.ndarray | None = None,
                    row: int | None = None) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Trace data (the axial slice ``z``, the coronal reformat at ``row``, the z line, the row line) and
    the nodule's outlines on both (``layout.shapes`` paths), in figure order."""
    depth, height, width = volume_hu.shape
    z = int(np.clip(z, 0, depth - 1))
    row = height // 2 if row is None else int(np.clip(row, 0, height - 1))
    masks = (None, None) if mask is None else (mask[z], mask[:, row, :])
    return ([_grey_picture(volume_hu[z], level_hu, width_hu), _grey_picture(volume_hu[:, row, :], level_hu, width_hu),
             {"x": [-0.5, width - 0.5], "y": [z, z]},
             {"x": [-0.5, width - 0.5], "y": [row, row]}],
            [{"path": outline_shape(m)["path"]} for m in masks])


def slice_view_figure(volume_hu: np.ndarray, z: int, *, level_hu: float, width_hu: float,
                      mask: np.ndarray | None = None, row: int | None = None, height: int = 360) -> go.Figure:
    """Left: axial slice ``z`` (the dashed line marks the coronal row); right: the coronal reformat (line: slice ``z``).
    The nodule's outline (orange) is a shape on each; the slices are pictures."""
    traces, outlines = slice_view_data(volume_hu, z, level_hu=level_hu, width_hu=width_hu, mask=mask, row=row)
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.08, column_widths=[0.5, 0.5],
                        subplot_titles=("axial slice", "coronal reformat (one row through every slice)"))
    hover = "x %{x}, y %{y}<extra></extra>"
    fig.add_trace(go.Image(**traces[0], hovertemplate=hover, name="axial slice"), row=1, col=1)
    fig.add_trace(go.Image(**traces[1], hovertemplate=hover, name="coronal reformat"), row=1, col=2)
    fig.add_trace(go.Scatter(mode="lines", line=dict(color="#d62728"), hoverinfo="skip", name="this slice",
                             **traces[2]), row=1, col=2)
    fig.add_trace(go.Scatter(mode="lines", line=dict(color="#1f77b4", dash="dash"), hoverinfo="skip",
                             name="coronal row", **traces[3]), row=1, col=1)
    depth, rows, width = volume_hu.shape
    _fixed_image_axes(fig, (rows, width), 1, 1, "x")
    _fixed_image_axes(fig, (depth, width), 1, 2, "x2")
    for outline, name, (xref, yref) in zip(outlines, ("axial outline", "coronal outline"), (("x", "y"), ("x2", "y2"))):
        fig.add_shape(**{**outline_shape(None, xref=xref, yref=yref, color=MASK_COLOR), **outline}, name=name)
    plotly_white(fig)
    fig.update_layout(height=height, showlegend=False, margin=dict(l=10, r=10, t=40, b=10))
    return fig


def slice_scores_data(slice_scores: np.ndarray | None, z: int, volume_score: float | None) -> list[dict[str, Any]]:
    """Trace data: the 2-D model's score per slice, the current slice, the 3-D model's score of the volume."""
    if slice_scores is None:
        return [{"x": [], "y": []}, {"x": [], "y": []}, {"x": [], "y": []}]
    depth = len(slice_scores)
    three_d = [] if volume_score is None else [volume_score, volume_score]
    return [{"x": list(range(depth)), "y": list(map(float, slice_scores))},
            {"x": [z, z], "y": [0, 1]},
            {"x": [0, depth - 1] if three_d else [], "y": three_d}]


def slice_scores_figure(slice_scores: np.ndarray | None, z: int, volume_score: float | None, *,
                        depth: int | None = None, height: int = 260) -> go.Figure:
    """What each model says about the volume shown: per slice (2-D) and for the whole volume (3-D).

    ``depth`` (default: the number of slice scores) fixes the slice axis, so the "slice shown" line
    moves without redrawing the chart."""
    data = slice_scores_data(slice_scores, z, volume_score)
    fig = go.Figure([
        go.Scatter(mode="lines+markers", name="2-D CNN: score of each slice", line=dict(color="#1f77b4"),
                   hovertemplate="slice %{x}: %{y:.2f}<extra></extra>", **data[0]),
        go.Scatter(mode="lines", name="slice shown", line=dict(color="#d62728"), hoverinfo="skip", **data[1]),
        go.Scatter(mode="lines", name="3-D CNN: score of the volume", line=dict(color="#2ca02c", dash="dash"),
                   hovertemplate="3-D: %{y:.2f}<extra></extra>", **data[2]),
    ])
    plotly_white(fig)
    depth = len(slice_scores) if depth is None and slice_scores is not None else depth
    if depth:
        fig.update_xaxes(range=[-0.5, depth - 0.5])
    fig.update_layout(height=height, xaxis_title="axial slice", yaxis=dict(
        title="probability of a nodule", range=[0, 1.02]), margin=dict(l=60, r=20, t=20, b=40),
        legend=dict(orientation="h", y=-0.35))
    return fig


def comparison_data(results: Sequence[Any], names: Sequence[str]) -> list[dict[str, Any]]:
    """Bar data: test AUC, test accuracy, parameters (thousands), training seconds, one bar per model name."""
    by_name = {r.name: r for r in results}
    rows = [by_name.get(n) for n in names]
    labels = [n for n in names]
    value = lambda attr, scale=1.0: [getattr(r, attr) * scale if r else None for r in rows]  # noqa: E731
    return [{"x": labels, "y": value("test_auc")}, {"x": labels, "y": value("test_accuracy")},
            {"x": labels, "y": value("params", 1e-3)}, {"x": labels, "y": value("train_seconds")}]


def comparison_figure(results: Sequence[Any], names: Sequence[str], *, height: int = 300) -> go.Figure:
    """2-D vs 3-D side by side: test AUC and accuracy, parameters, training time."""
    data = comparison_data(results, names)
    fig = make_subplots(rows=1, cols=3, horizontal_spacing=0.08,
                        subplot_titles=("test AUC and accuracy", "parameters (thousands)", "training time (s)"))
    fig.add_trace(go.Bar(name="AUC", marker_color="#1f77b4", **data[0]), row=1, col=1)
    fig.add_trace(go.Bar(name="accuracy", marker_color="#aec7e8", **data[1]), row=1, col=1)
    fig.add_trace(go.Bar(name="parameters", marker_color="#9467bd", showlegend=False, **data[2]), row=1, col=2)
    fig.add_trace(go.Bar(name="seconds", marker_color="#8c564b", showlegend=False, **data[3]), row=1, col=3)
    fig.update_yaxes(range=[0, 1], row=1, col=1)
    plotly_white(fig)
    fig.update_layout(height=height, barmode="group", margin=dict(l=40, r=20, t=50, b=40),
                      legend=dict(orientation="h", y=-0.2))
    return fig


#: The difference panel's colours: −50 … 250 HU of enhancement.
ENHANCEMENT_RANGE_HU = (-50.0, 250.0)


def phases_data(non_contrast_hu: np.ndarray, venous_hu: np.ndarray, *, level_hu: float, width_hu: float,
                mask: np.ndarray | None = None) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """:func:`phases_figure`'s picture values (the two phases windowed, what contrast added, with its
    HU for the hover) and the nodule's outline on each panel (shapes): what a widget updates."""
    lo, hi = ENHANCEMENT_RANGE_HU
    added = np.asarray(venous_hu, dtype=np.float32) - np.asarray(non_contrast_hu, dtype=np.float32)
    difference = {"source": image_source(grey_levels(added, (lo + hi) / 2, hi - lo), "Magma"),
                  "customdata": plotly_array(added)}
    outline = outline_shape(mask)
    return ([_grey_picture(non_contrast_hu, level_hu, width_hu), _grey_picture(venous_hu, level_hu, width_hu),
             difference],
            [{"path": outline["path"]} for _ in range(3)])


def phases_figure(non_contrast_hu: np.ndarray, venous_hu: np.ndarray, *, level_hu: float, width_hu: float,
                  mask: np.ndarray | None = None, height: int = 280) -> go.Figure:
    """Multi-phase input: the same slice before and after contrast, and what contrast added (HU)."""
    fig = make_subplots(rows=1, cols=3, horizontal_spacing=0.04,
                        subplot_titles=("channel 1: non-contrast", "channel 2: venous phase",
                                        "venous − non-contrast (HU)"))
    pictures, outlines = phases_data(non_contrast_hu, venous_hu, level_hu=level_hu, width_hu=width_hu, mask=mask)
    fig.add_trace(go.Image(**pictures[0], hoverinfo="skip", name="non-contrast"), row=1, col=1)
    fig.add_trace(go.Image(**pictures[1], hoverinfo="skip", name="venous"), row=1, col=2)
    fig.add_trace(go.Image(**pictures[2], hovertemplate="%{customdata:.0f} HU<extra></extra>",
                           name="venous − non-contrast"), row=1, col=3)
    fig.add_trace(colour_bar_trace("Magma", *ENHANCEMENT_RANGE_HU, len=0.8, thickness=10), row=1, col=3)
    for col, outline in enumerate(outlines, start=1):
        axis = "" if col == 1 else str(col)
        _fixed_image_axes(fig, np.shape(non_contrast_hu), 1, col, f"x{axis}")
        fig.add_shape(**{**outline_shape(None, xref=f"x{axis}", yref=f"y{axis}", color=MASK_COLOR), **outline})
    plotly_white(fig)
    fig.update_layout(height=height, showlegend=False, margin=dict(l=10, r=10, t=40, b=10))
    return fig


__all__ = ["comparison_data", "comparison_figure", "phases_data", "phases_figure", "slice_scores_data", "slice_scores_figure",
           "slice_view_data", "slice_view_figure"]
