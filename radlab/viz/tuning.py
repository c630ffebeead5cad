"""Figure for Chapter 4: what each hyperparameter setting scored on validation, test and new patients."""
from __future__ import annotations

from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots
from radlab.viz.style import plotly_white


def tuning_figure(result: Any, *, height: int = 340) -> go.Figure:
    """Left: validation vs test AUC per setting; right: test AUC vs AUC on new patients; the two choices marked (Chapter 4)."""
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.12,
                        subplot_titles=("validation vs test (what you see)", "test vs new patients (what is true)"))
    pairs = ((result.val_auc, result.test_auc), (result.test_auc, result.fresh_auc))
    for col, (x, y) in enumerate(pairs, start=1):
        fig.add_trace(go.Scatter(x=x, y=y, mode="markers", name="a setting", showlegend=col == 1,
                                 marker=dict(color="#9e9e9e", size=8),
                                 hovertemplate="%{x:.3f}, %{y:.3f}<extra></extra>"), row=1, col=col)
        for idx, name, color in ((result.chosen_on_val, "chosen on validation", "#2ca02c"),
                                 (result.chosen_on_test, "chosen on test", "#d62728")):
            fig.add_trace(go.Scatter(x=[x[idx]], y=[y[idx]], mode="markers", name=name, showlegend=col == 1,
                                     legendgroup=name, marker=dict(color=color, size=14, symbol="star")), row=1, col=col)
        lo = float(min(np.min(x), np.min(y))) - 0.02
        fig.add_trace(go.Scatter(x=[lo, 1], y=[lo, 1], mode="lines", showlegend=False,
                                 line=dict(color="#cccccc", dash="dot")), row=1, col=col)
    fig.update_xaxes(title_text="validation AUC", row=1, col=1)
    fig.update_yaxes(title_text="test AUC", row=1, col=1)
    fig.update_xaxes(title_text="test AUC", row=1, col=2)
    fig.update_yaxes(title_text="AUC on new patients", row=1, col=2)
    plotly_white(fig)
    fig.update_layout(height=height, margin=dict(l=50, r=10, t=40, b=40),
                      legend=dict(orientation="h", y=-0.25))
    return fig


__all__ = ["tuning_figure"]
