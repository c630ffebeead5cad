"""Figures for Chapter 2: radiomics features by class, the perceptron's line, depth vs width."""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from radlab.errors import DataError
from radlab.viz.style import plotly_white

_COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd")


def feature_boxes_figure(values_by_feature: Mapping[str, tuple[np.ndarray, np.ndarray]], *,
                         class_names: Sequence[str] = ("benign", "malignant"), height: int = 300) -> go.Figure:
    """One small panel per feature: its values for class 0 and class 1 as box plots with the points (Chapter 2)."""
    if not values_by_feature:
        raise DataError("no features to draw", fix="pass {'feature name': (values class 0, values class 1)}")
    names = list(values_by_feature)
    fig = make_subplots(rows=1, cols=len(names), subplot_titles=names, horizontal_spacing=0.06)
    for i, name in enumerate(names, start=1):
        for k, values in enumerate(values_by_feature[name]):
            fig.add_trace(go.Box(y=np.asarray(values), name=class_names[k], marker_color=_COLORS[k], boxpoints="all",
                                 jitter=0.4, pointpos=0, marker_size=3, showlegend=i == 1, legendgroup=class_names[k]),
                          row=1, col=i)
    fig.update_annotations(font_size=11)
    plotly_white(fig)
    fig.update_layout(height=height, margin=dict(l=40, r=10, t=40, b=30),
                      legend=dict(orientation="h", y=-0.15))
    return fig


def gates_figure(results: Mapping[str, Any], x: np.ndarray, labels: Mapping[str, np.ndarray], *,
                 height: int = 300) -> go.Figure:
    """Each gate's four corners (coloured by label) and the perceptron's line w·x + b = 0 (Chapter 2)."""
    names = list(results)
    fig = make_subplots(rows=1, cols=len(names),
                        subplot_titles=[f"{n}: {'separated' if results[n].converged else 'no line works'}" for n in names])
    grid = np.linspace(-0.5, 1.5, 50)
    for i, name in enumerate(names, start=1):
        y = np.asarray(labels[name])
        for k in (0, 1):
            fig.add_trace(go.Scatter(x=x[y == k, 0], y=x[y == k, 1], mode="markers", name=f"label {k}",
                                     marker=dict(size=16, color=_COLORS[k], symbol="circle" if k else "x"),
                                     showlegend=i == 1, legendgroup=str(k)), row=1, col=i)
        w, b = results[name].weights, results[name].bias
        if abs(w[1]) > 1e-9:
            fig.add_trace(go.Scatter(x=grid, y=-(w[0] * grid + b) / w[1], mode="lines", showlegend=False,
                                     line=dict(color="black", dash="dash")), row=1, col=i)
        fig.update_xaxes(range=[-0.5, 1.5], title_text="x₁", row=1, col=i)
        fig.update_yaxes(range=[-0.5, 1.5], title_text="x₂" if i == 1 else None, row=1, col=i)
    plotly_white(fig)
    fig.update_layout(height=height, margin=dict(l=40, r=10, t=40, b=30))
    return fig


def depth_figure(x: np.ndarray, target: np.ndarray, fits: Mapping[str, np.ndarray],
                 counts: Mapping[str, Sequence[int]], pieces: Sequence[int], *, height: int = 330) -> go.Figure:
    """Left: the zig-zag and networks' fits; right: parameters needed vs number of straight pieces (Chapter 2)."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=("the target and two networks' outputs",
                                                        "parameters for an exact fit"), horizontal_spacing=0.12)
    fig.add_trace(go.Scatter(x=x, y=target, mode="lines", name="target (zig-zag)",
                             line=dict(color="#bbbbbb", width=6)), row=1, col=1)
    for i, (name, y) in enumerate(fits.items()):
        fig.add_trace(go.Scatter(x=x, y=y, mode="lines", name=name, line=dict(color=_COLORS[i], dash="dot")),
                      row=1, col=1)
    for i, (name, c) in enumerate(counts.items()):
        fig.add_trace(go.Scatter(x=list(pieces), y=list(c), mode="lines+markers", name=name,
                                 line=dict(color=_COLORS[i])), row=1, col=2)
    fig.update_xaxes(title_text="x", row=1, col=1)
    fig.update_xaxes(title_text="straight pieces in the zig-zag", type="log", row=1, col=2)
    fig.update_yaxes(title_text="learnable parameters", type="log", row=1, col=2)
    plotly_white(fig)
    fig.update_layout(height=height, margin=dict(l=50, r=10, t=40, b=40),
                      legend=dict(orientation="h", y=-0.2))
    return fig


__all__ = ["depth_figure", "feature_boxes_figure", "gates_figure"]
