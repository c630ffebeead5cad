"""Chapter 9's figures: an FROC curve and a registration's loss."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import plotly.graph_objects as go
from radlab.viz.style import plotly_white


def froc_figure(curve: Any, *, title: str = "FROC: lesion sensitivity against false positives per image",
                height: int = 340) -> go.Figure:
    """The FROC curve of a :class:`radlab.detection.FROC` as a step line (chapter 9)."""
    fig = go.Figure(go.Scatter(x=list(curve.fp_per_image), y=list(curve.sensitivity), mode="lines+markers",
                               line_shape="hv", name="detector",
                               hovertemplate="%{x:.2f} FP/image: sensitivity %{y:.0%}<extra></extra>"))
    plotly_white(fig)
    fig.update_layout(title=title, height=height, margin=dict(t=50, b=40, l=60, r=20),
                      xaxis_title=f"false positives per image ({curve.n_images} images)",
                      yaxis=dict(title=f"sensitivity ({curve.n_lesions} lesions)", range=[0, 1.02]))
    return fig


def loss_figure(losses: Sequence[float], *, title: str = "Registration: mean squared difference per step",
                height: int = 280) -> go.Figure:
    """A registration's (or any optimisation's) loss per step, log scale (chapter 9)."""
    fig = go.Figure(go.Scatter(y=list(losses), mode="lines", name="loss"))
    plotly_white(fig)
    fig.update_layout(title=title, height=height, margin=dict(t=50, b=40, l=60, r=20),
                      xaxis_title="gradient-descent step", yaxis=dict(type="log", title="loss"))
    return fig


__all__ = ["froc_figure", "loss_figure"]
