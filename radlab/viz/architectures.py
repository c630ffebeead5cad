"""Chapter 8's figure: the classic architectures' parameter counts on a timeline."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import plotly.graph_objects as go
from radlab.viz.style import plotly_white


def timeline_figure(rows: Sequence[Any], counts: Sequence[int], *, height: int = 360) -> go.Figure:
    """Bars of trainable parameters (log scale) per architecture, labelled with year and idea (chapter 8)."""
    if len(rows) != len(counts):
        raise ValueError(f"{len(rows)} architectures but {len(counts)} parameter counts")
    names = [f"{r.name} ({r.year})" for r in rows]
    fig = go.Figure(go.Bar(name="parameters", x=names, y=list(counts), text=[f"{c:,}" for c in counts], textposition="outside",
                           hovertext=[r.idea for r in rows], hoverinfo="x+text", marker_color="#4c78a8"))
    plotly_white(fig)
    fig.update_layout(title="Trainable parameters of each miniature (1-channel 64 × 64 input)", height=height,
                      yaxis=dict(type="log", title="parameters (log scale)"), margin=dict(t=50, b=40, l=60, r=20))
    return fig


__all__ = ["timeline_figure"]
