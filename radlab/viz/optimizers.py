"""Figures for Chapter 3: optimisers on one loss surface, per-layer gradient norms."""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
import plotly.graph_objects as go

from radlab.errors import DataError
from radlab.viz.learning import DescentPath, descent_figure
from radlab.viz.style import plotly_white

_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd")


def optimizers_figure(landscape: Any, paths: Sequence[Any], *, title: str | None = None, height: int = 340) -> go.Figure:
    """Each optimiser's path on the loss contours, and the loss per step of all of them (Chapter 3)."""
    if not paths:
        raise DataError("no optimiser paths to draw", fix="pass the results of radlab.learning.optimize(...)")
    as_descent = [DescentPath(lr=p.lr, weights=p.weights, losses=p.losses, batch_size=None, outcome=p.method)
                  for p in paths]
    return descent_figure(landscape, as_descent, title=title or "Plain gradient descent, momentum and Adam",
                          height=height)


def gradient_norms_figure(norms: Mapping[str, Sequence[float]], *, height: int = 330) -> go.Figure:
    """Gradient norm of each hidden layer's weights (log scale), input side on the left (Chapter 3)."""
    if not norms:
        raise DataError("no gradient norms to draw", fix="pass {'name': layer_gradient_norms(...)}")
    fig = go.Figure([go.Scatter(x=np.arange(1, len(v) + 1), y=np.asarray(v), mode="lines+markers", name=name,
                                line=dict(color=_COLORS[i % len(_COLORS)]),
                                hovertemplate="layer %{x}: %{y:.2e}<extra></extra>")
                     for i, (name, v) in enumerate(norms.items())])
    plotly_white(fig)
    fig.update_layout(height=height, xaxis_title="hidden layer (1 = next to the input)",
                      yaxis_title="gradient norm of the layer's weights", yaxis_type="log",
                      yaxis_exponentformat="power", margin=dict(l=60, r=10, t=30, b=40),
                      legend=dict(orientation="h", y=-0.25))
    return fig


__all__ = ["gradient_norms_figure", "optimizers_figure"]
