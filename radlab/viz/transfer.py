"""Figures of Lab 9 (small data, transfer learning): learning curves, strategies, grey to three channels.

Every figure has a fixed set of traces, whatever data it shows (empty traces before a run), so
a widget builds a FigureWidget once and only updates ``fig.data[i]`` afterwards (voila#1533).
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots
from radlab.viz.images import value_picture
from radlab.viz.style import plotly_white

#: One colour per learning-curve method / strategy.
METHOD_COLORS = {"scratch": "#7f7f7f", "augmented": "#1f77b4", "transfer": "#d62728"}
STRATEGY_COLORS = {"scratch": "#7f7f7f", "fixed": "#2ca02c", "finetune": "#9467bd"}


def learning_curve_traces(curves: Any | None, methods: dict[str, str]) -> list[dict[str, Any]]:
    """x (training images), y (validation AUC) and hover text of each method's curve (empty before a run)."""
    out = []
    for method in methods:
        if curves is None:
            out.append({"x": [], "y": [], "text": []})
            continue
        pts = [(n, a, f) for n, a, f in zip(curves.n_train, curves.auc(method), curves.fractions) if np.isfinite(a)]
        out.append({"x": [p[0] for p in pts], "y": [p[1] for p in pts], "text": [f"{p[2]:.0%}" for p in pts]})
    return out


def learning_curves_figure(curves: Any | None, methods: dict[str, str], *, title: str | None = None,
                           height: int = 380) -> go.Figure:
    """Validation AUC against the number of training images (log scale), one line per method."""
    fig = go.Figure([go.Scatter(mode="lines+markers", name=label, line=dict(color=METHOD_COLORS.get(m)),
                                hovertemplate="%{x} images (%{text}): AUC %{y:.3f}<extra>" + label + "</extra>",
                                **data)
                     for (m, label), data in zip(methods.items(), learning_curve_traces(curves, methods))])
    fig.add_hline(y=0.5, line=dict(color="#bbbbbb", dash="dot"), annotation_text="chance",
                  annotation_position="bottom right")
    plotly_white(fig)
    fig.update_layout(title=title or "Learning curves: validation AUC against training-set size",
                      xaxis=dict(title="training images (log scale)", type="log"),
                      yaxis=dict(title="validation AUC", range=[0.4, 1.0]), height=height,
                      margin=dict(l=60, r=20, t=50, b=40), legend=dict(orientation="h", y=-0.2))
    return fig


def strategy_traces(runs: Sequence[Any], strategies: dict[str, str]) -> list[dict[str, Any]]:
    """Per strategy: its validation AUC per epoch, then (second block) its training loss per epoch."""
    by_name = {r.strategy: r for r in runs}
    auc, loss = [], []
    for s in strategies:
        r = by_name.get(s)
        epochs = list(r.history.epoch) if r else []
        auc.append({"x": epochs, "y": list(r.history.val_metric) if r else [], "name": r.label if r else strategies[s]})
        loss.append({"x": epochs, "y": list(r.history.train_loss) if r else []})
    return auc + loss


def strategies_figure(runs: Sequence[Any], strategies: dict[str, str], *, height: int = 360) -> go.Figure:
    """Validation AUC (left) and training loss (right) per epoch for each strategy."""
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.12,
                        subplot_titles=("validation AUC per epoch", "training loss per epoch"))
    traces = strategy_traces(runs, strategies)
    n = len(strategies)
    for i, s in enumerate(strategies):
        color = STRATEGY_COLORS.get(s)
        fig.add_trace(go.Scatter(mode="lines+markers", line=dict(color=color), legendgroup=s, **traces[i],
                                 hovertemplate="epoch %{x}: AUC %{y:.3f}<extra></extra>"), row=1, col=1)
        fig.add_trace(go.Scatter(mode="lines+markers", line=dict(color=color, dash="dot"), legendgroup=s,
                                 showlegend=False, **traces[n + i],
                                 hovertemplate="epoch %{x}: loss %{y:.4f}<extra></extra>"), row=1, col=2)
    fig.update_xaxes(title_text="epoch")
    plotly_white(fig)
    fig.update_layout(height=height, margin=dict(l=50, r=20, t=50, b=40),
                      legend=dict(orientation="h", y=-0.25))
    return fig


#: The five panels of :func:`channel_adaptation_figure`: (name, colour scale, centre of the colours).
ADAPTATION_PANELS = (("gray input", "gray", None), ("R kernel", "RdBu", 0.0), ("summed kernel", "RdBu", 0.0),
                     ("map of repeated input", "Viridis", None), ("map of summed kernel", "Viridis", None))


def adaptation_traces(ca: Any) -> list[dict[str, Any]]:
    """Pictures of the five panels (``source``, ``customdata``: the values): the gray image, the kernel's
    R, G, B slices summed, and the two feature maps; coloured as a heatmap of each would be."""
    values = [ca.image, ca.rgb_kernels[0], ca.gray_kernel, ca.map_repeat, ca.map_sum]
    return [value_picture(v, colorscale=scale, zmid=zmid) for v, (_, scale, zmid) in zip(values, ADAPTATION_PANELS)]


def adaptation_titles(ca: Any) -> list[str]:
    return ["gray input (1 channel)", "kernel: R slice (G, B alike or not)", "kernel summed over R, G, B",
            "conv(gray ×3 copies, RGB kernel)", f"conv(gray, summed kernel): max diff {ca.max_difference:.1e}"]


def channel_adaptation_figure(ca: Any, *, height: int = 260) -> go.Figure:
    """Grey to three channels: repeating the image and summing the kernel give the same feature map."""
    fig = make_subplots(rows=1, cols=5, horizontal_spacing=0.02, subplot_titles=adaptation_titles(ca))
    for i, (data, (name, _, _)) in enumerate(zip(adaptation_traces(ca), ADAPTATION_PANELS), start=1):
        fig.add_trace(go.Image(name=name, hovertemplate="%{customdata:.3f}<extra></extra>", **data), row=1, col=i)
    fig.update_xaxes(showticklabels=False)
    fig.update_yaxes(showticklabels=False, autorange="reversed")
    fig.update_annotations(font_size=11)
    plotly_white(fig)
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=40, b=10))
    return fig


__all__ = ["ADAPTATION_PANELS", "adaptation_titles", "adaptation_traces", "channel_adaptation_figure", "learning_curve_traces",
           "learning_curves_figure", "strategies_figure", "strategy_traces"]
