"""Figures for Chapter 5: agreement between readers, and metrics side by side."""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go

from radlab.errors import DataError
from radlab.viz.style import plotly_white


def kappa_figure(matrix: np.ndarray, names: Sequence[str] | None = None, *, height: int = 330) -> go.Figure:
    """Cohen's kappa between every pair of readers as an annotated heat map (Chapter 5)."""
    m = np.asarray(matrix, dtype=float)
    names = list(names) if names else [f"reader {i + 1}" for i in range(len(m))]
    fig = go.Figure(go.Heatmap(z=m, x=names, y=names, zmin=0, zmax=1, colorscale="Blues",
                               text=np.round(m, 2), texttemplate="%{text}", colorbar=dict(title="κ"),
                               hovertemplate="%{y} vs %{x}: κ = %{z:.2f}<extra></extra>"))
    plotly_white(fig)
    fig.update_layout(height=height, yaxis_autorange="reversed",
                      margin=dict(l=70, r=10, t=30, b=40), title="Cohen's kappa between readers")
    return fig


def metrics_figure(results: Mapping[str, Mapping[str, float]], *, metrics: Sequence[str] | None = None,
                   title: str | None = None, height: int = 330) -> go.Figure:
    """Grouped bars: for each method (legend) the value of each metric (x axis) (Chapter 5)."""
    if not results:
        raise DataError("no results to draw", fix="pass {'method': {'metric': value, ...}}")
    metrics = list(metrics or next(iter(results.values())))
    fig = go.Figure([go.Bar(name=name, x=metrics, y=[row[m] for m in metrics], text=[f"{row[m]:.2f}" for m in metrics],
                            textposition="outside") for name, row in results.items()])
    plotly_white(fig)
    fig.update_layout(barmode="group", height=height, yaxis_range=[0, 1.1], title=title,
                      margin=dict(l=40, r=10, t=40 if title else 20, b=40), legend=dict(orientation="h", y=-0.2))
    return fig


__all__ = ["kappa_figure", "metrics_figure"]
