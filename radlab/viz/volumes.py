"""Figures of Lab 12 (volumes): an axial slice with its coronal reformat, per-slice scores, the 2-D vs 3-D table.

Fixed traces per figure (update ``fig.data[i]`` only; voila#1533). Images are windowed
(``level_hu`` ± ``width_hu`` / 2 → black … white) before they reach plotly.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from radlab.viz.images import windowed
from radlab.viz.style import plotly_white

MASK_COLOR = "#ff7f0e"


def _outline(mask: np.ndarray | None, shape: tuple[int, int]) -> dict[str, Any]:
    """A contour trace's z for the nodule's outline (all zeros: no outline drawn)."""
    z = np.zeros(shape, dtype=np.float32) if mask is None else mask.astype(np.float32)
    return {"z": z}


def slice_view_data(volume_hu: np.ndarray, z: int, *, level_hu: float, width_hu: float,
                    mask: np.ndarray | None = None, row: int | None = None) -> list[dict[str, Any]]:
    """Trace data: the axial slice ``z``, its nodule outline, the coronal reformat at ``row``, its outline, the z line."""
    depth, height, width = volume_hu.shape
    z = int(np.clip(z, 0, depth - 1))
    row = height // 2 if row is None else int(np.clip(row, 0, height - 1))
    axial = windowed(volume_hu[z], level_hu, width_hu)
    coronal = windowed(volume_hu[:, row, :], level_hu, width_hu)
    return [{"z": axial},
            _outline(None if mask is None else mask[z], axial.shape),
            {"z": coronal},
            _outline(None if mask is None else mask[:, row, :], coronal.shape),
            {"x": [-0.5, width - 0.5], "y": [z, z]},
            {"x": [-0.5, width - 0.5], "y": [row, row]}]


def slice_view_figure(volume_hu: np.ndarray, z: int, *, level_hu: float, width_hu: float,
                      mask: np.ndarray | None = None, row: int | None = None, height: int = 360) -> go.Figure:
    """Left: axial slice ``z`` (the dashed line marks the coronal row); right: the coronal reformat (line: slice ``z``)."""
    data = slice_view_data(volume_hu, z, level_hu=level_hu, width_hu=width_hu, mask=mask, row=row)
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.08, column_widths=[0.5, 0.5],
                        subplot_titles=("axial slice", "coronal reformat (one row through every slice)"))
    grey = dict(colorscale="gray", zmin=0, zmax=1, showscale=False, hovertemplate="x %{x}, y %{y}<extra></extra>")
    contour = dict(showscale=False, contours=dict(start=0.5, end=0.5, size=1, coloring="lines"),
                   colorscale=[[0, MASK_COLOR], [1, MASK_COLOR]], line=dict(width=2), hoverinfo="skip",
                   name="nodule outline")
    fig.add_trace(go.Heatmap(**grey, **data[0], name="axial slice"), row=1, col=1)
    fig.add_trace(go.Contour(**contour, **data[1], meta="axial outline"), row=1, col=1)
    fig.add_trace(go.Heatmap(**grey, **data[2], name="coronal reformat"), row=1, col=2)
    fig.add_trace(go.Contour(**contour, **data[3], meta="coronal outline"), row=1, col=2)
    fig.add_trace(go.Scatter(mode="lines", line=dict(color="#d62728"), hoverinfo="skip", name="this slice",
                             **data[4]), row=1, col=2)
    fig.add_trace(go.Scatter(mode="lines", line=dict(color="#1f77b4", dash="dash"), hoverinfo="skip",
                             name="coronal row", **data[5]), row=1, col=1)
    fig.update_xaxes(showticklabels=False, constrain="domain")
    fig.update_yaxes(showticklabels=False, autorange="reversed", scaleanchor="x", row=1, col=1)
    fig.update_yaxes(showticklabels=False, autorange="reversed", scaleanchor="x2", row=1, col=2)
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
                        height: int = 260) -> go.Figure:
    """What each model says about the volume shown: per slice (2-D) and for the whole volume (3-D)."""
    data = slice_scores_data(slice_scores, z, volume_score)
    fig = go.Figure([
        go.Scatter(mode="lines+markers", name="2-D CNN: score of each slice", line=dict(color="#1f77b4"),
                   hovertemplate="slice %{x}: %{y:.2f}<extra></extra>", **data[0]),
        go.Scatter(mode="lines", name="slice shown", line=dict(color="#d62728"), hoverinfo="skip", **data[1]),
        go.Scatter(mode="lines", name="3-D CNN: score of the volume", line=dict(color="#2ca02c", dash="dash"),
                   hovertemplate="3-D: %{y:.2f}<extra></extra>", **data[2]),
    ])
    plotly_white(fig)
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


def phases_data(non_contrast_hu: np.ndarray, venous_hu: np.ndarray, *, level_hu: float, width_hu: float,
                mask: np.ndarray | None = None) -> list[dict[str, Any]]:
    """:func:`phases_figure`'s trace values in trace order (three images, three outlines): what a widget updates."""
    outline = _outline(mask, np.shape(non_contrast_hu))
    return [{"z": windowed(non_contrast_hu, level_hu, width_hu)}, {"z": windowed(venous_hu, level_hu, width_hu)},
            {"z": venous_hu - non_contrast_hu}] + [dict(outline) for _ in range(3)]


def phases_figure(non_contrast_hu: np.ndarray, venous_hu: np.ndarray, *, level_hu: float, width_hu: float,
                  mask: np.ndarray | None = None, height: int = 280) -> go.Figure:
    """Multi-phase input: the same slice before and after contrast, and what contrast added (HU)."""
    fig = make_subplots(rows=1, cols=3, horizontal_spacing=0.04,
                        subplot_titles=("channel 1: non-contrast", "channel 2: venous phase",
                                        "venous − non-contrast (HU)"))
    data = phases_data(non_contrast_hu, venous_hu, level_hu=level_hu, width_hu=width_hu, mask=mask)
    grey = dict(colorscale="gray", zmin=0, zmax=1, showscale=False, hoverinfo="skip")
    fig.add_trace(go.Heatmap(**data[0], **grey), row=1, col=1)
    fig.add_trace(go.Heatmap(**data[1], **grey), row=1, col=2)
    fig.add_trace(go.Heatmap(**data[2], colorscale="Magma", zmin=-50, zmax=250, showscale=True,
                             colorbar=dict(len=0.8, thickness=10),
                             hovertemplate="%{z:.0f} HU<extra></extra>"), row=1, col=3)
    for col, outline in zip((1, 2, 3), data[3:]):
        fig.add_trace(go.Contour(showscale=False, contours=dict(start=0.5, end=0.5, size=1, coloring="lines"),
                                 colorscale=[[0, MASK_COLOR], [1, MASK_COLOR]], hoverinfo="skip", **outline),
                      row=1, col=col)
    fig.update_xaxes(showticklabels=False)
    fig.update_yaxes(showticklabels=False, autorange="reversed")
    plotly_white(fig)
    fig.update_layout(height=height, showlegend=False, margin=dict(l=10, r=10, t=40, b=10))
    return fig


__all__ = ["comparison_data", "comparison_figure", "phases_data", "phases_figure", "slice_scores_data", "slice_scores_figure",
           "slice_view_data", "slice_view_figure"]
