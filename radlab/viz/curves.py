"""Learning curves: training vs validation loss and metric per epoch, and the learning rate.

The shaded band between the two loss curves is the **gap**: when it widens while training
loss keeps falling, the model is overfitting. A second run can be drawn dotted behind the
current one to compare two settings.

Every figure has the same traces in the same order (:data:`TRACE_NAMES`), empty when there
is nothing to show, so a live plot can be built once and then only have its
``fig.data[i].x / .y`` replaced (:func:`update_history_figure`).
"""
from __future__ import annotations

from typing import Any

import plotly.graph_objects as go
from plotly.subplots import make_subplots
from radlab.viz.style import plotly_white

TRAIN_COLOR, VAL_COLOR, LR_COLOR, BEST_COLOR = "#1f77b4", "#ff7f0e", "#7f7f7f", "#2ca02c"

#: The traces of a history figure, in order.
TRACE_NAMES = ("training loss", "validation loss", "training metric", "validation metric",
               "learning rate", "best epoch",
               "previous: training loss", "previous: validation loss",
               "previous: training metric", "previous: validation metric")


def _xy(x: Any = (), y: Any = ()) -> dict[str, list]:
    return {"x": list(x), "y": list(y)}


def history_trace_data(history: Any | None, previous: Any | None = None) -> list[dict[str, list]]:
    """The x/y of every trace in :data:`TRACE_NAMES` order (empty lists for what is missing)."""
    def four(h: Any | None) -> list[dict[str, list]]:
        if h is None or len(h.epoch) == 0:
            return [_xy() for _ in range(4)]
        return [_xy(h.epoch, h.train_loss), _xy(h.epoch, h.val_loss),
                _xy(h.epoch, h.train_metric), _xy(h.epoch, h.val_metric)]

    current = four(history)
    lr = _xy(history.epoch, history.lr) if history is not None and len(history.epoch) else _xy()
    best = _xy()
    if history is not None and getattr(history, "best_epoch", 0):
        i = history.epoch.index(history.best_epoch)
        best = _xy([history.best_epoch], [history.val_loss[i]])
    return current + [lr, best] + four(previous)


def history_figure(history: Any | None = None, previous: Any | None = None, *, title: str | None = None,
                   height: int = 360) -> go.Figure:
    """Loss | metric | learning rate per epoch for a :class:`radlab.train.History` (and a previous run)."""
    metric = getattr(history, "metric_name", None) or getattr(previous, "metric_name", None) or "metric"
    fig = make_subplots(rows=1, cols=3, column_widths=[0.4, 0.4, 0.2], horizontal_spacing=0.08,
                        subplot_titles=("Loss (shaded: the gap)", f"{metric} (higher is better)", "Learning rate"))
    data = history_trace_data(history, previous)
    styles = [
        dict(name="training", line=dict(color=TRAIN_COLOR), legendgroup="train", col=1),
        dict(name="validation", line=dict(color=VAL_COLOR), legendgroup="val", col=1, fill="tonexty",
             fillcolor="rgba(255,127,14,0.15)"),
        dict(name="training", line=dict(color=TRAIN_COLOR), legendgroup="train", col=2, showlegend=False),
        dict(name="validation", line=dict(color=VAL_COLOR), legendgroup="val", col=2, showlegend=False),
        dict(name="learning rate", line=dict(color=LR_COLOR), col=3, showlegend=False),
        dict(name="best epoch", mode="markers", col=1,
             marker=dict(symbol="star", size=14, color=BEST_COLOR, line=dict(width=1, color="white"))),
        dict(name="previous run: training", line=dict(color=TRAIN_COLOR, dash="dot"), opacity=0.5,
             legendgroup="prev-train", col=1),
        dict(name="previous run: validation", line=dict(color=VAL_COLOR, dash="dot"), opacity=0.5,
             legendgroup="prev-val", col=1),
        dict(name="previous run: training", line=dict(color=TRAIN_COLOR, dash="dot"), opacity=0.5,
             legendgroup="prev-train", col=2, showlegend=False),
        dict(name="previous run: validation", line=dict(color=VAL_COLOR, dash="dot"), opacity=0.5,
             legendgroup="prev-val", col=2, showlegend=False),
    ]
    for xy, style, key in zip(data, styles, TRACE_NAMES):
        col = style.pop("col")
        style.setdefault("mode", "lines+markers")
        fig.add_trace(go.Scatter(**xy, **style, meta=key, hovertemplate="epoch %{x}: %{y:.4g}"), row=1, col=col)
    fig.update_xaxes(title_text="epoch", rangemode="tozero")
    fig.update_yaxes(rangemode="tozero", row=1, col=1)
    fig.update_yaxes(type="log", exponentformat="power", row=1, col=3)
    plotly_white(fig)
    fig.update_layout(title=title, height=height,
                      margin=dict(l=50, r=20, t=70 if title else 50, b=40),
                      legend=dict(orientation="h", y=-0.22))
    return fig


def update_history_figure(fig: go.Figure, history: Any | None, previous: Any | None = None) -> None:
    """Replace the curves of a figure made by :func:`history_figure` (works on a FigureWidget: live)."""
    data = history_trace_data(history, previous)
    metric = getattr(history, "metric_name", None)
    with fig.batch_update():
        for trace, xy in zip(fig.data, data):
            trace.x, trace.y = xy["x"], xy["y"]
        if metric and fig.layout.annotations:
            fig.layout.annotations[1].text = f"{metric} (higher is better)"
