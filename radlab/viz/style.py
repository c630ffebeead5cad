"""The look RadLab's charts share: plotly's ``plotly_white`` template, set cheaply.

``fig.update_layout(template="plotly_white")`` rebuilds and re-validates the whole registered
template (every trace type's defaults) on each call: about 8 ms a figure on a 2-core machine,
paid again whenever a widget rebuilds a figure to copy it (a threshold step in Lab 10 built
four). :func:`plotly_white` sets the same, already validated template object, the way plotly
itself sets its default template (``BaseFigure._initialize_layout_template``): under 1 ms, and
the same figure JSON (``tests/test_viz_style.py``).
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio

FigureT = TypeVar("FigureT", bound=go.Figure)


def plotly_white(fig: FigureT) -> FigureT:
    """Give ``fig`` plotly's ``plotly_white`` template (shared, not copied: do not edit it); returns ``fig``."""
    layout = fig.layout
    validate = layout._validate
    layout._validate = False
    try:
        layout.template = pio.templates["plotly_white"]
    finally:
        layout._validate = validate
    return fig


def padded_range(values: Iterable[float], *, pad: float = 0.05, log: bool = False) -> list[float]:
    """A fixed axis range holding ``values`` (NaN and None left out) with ``pad`` of their span on
    either side, in log10 units for a log axis (plotly's log axis ranges are log10).

    A chart with a "you are here" mark (the chosen threshold, dose or ε) that the student moves
    gets fixed ranges, so moving the mark never rescales the chart: the page then moves the mark
    alone (``IMAGE_SWAP_JS`` in :mod:`radlab.widgets.figure`) instead of redrawing the chart.
    """
    v = np.asarray([x for x in values if x is not None], dtype=float)
    v = v[np.isfinite(v) & (v > 0)] if log else v[np.isfinite(v)]
    if v.size == 0:
        return [0.0, 1.0]
    if log:
        v = np.log10(v)
    lo, hi = float(v.min()), float(v.max())
    span = hi - lo if hi > lo else max(abs(hi), 1.0)
    return [lo - pad * span, hi + pad * span]


__all__ = ["padded_range", "plotly_white"]
