"""The look RadLab's charts share: plotly's ``plotly_white`` template, set cheaply.

``fig.update_layout(template="plotly_white")`` rebuilds and re-validates the whole registered
template (every trace type's defaults) on each call: about 8 ms a figure on a 2-core machine,
paid again whenever a widget rebuilds a figure to copy it (a threshold step in Lab 10 built
four). :func:`plotly_white` sets the same, already validated template object, the way plotly
itself sets its default template (``BaseFigure._initialize_layout_template``): under 1 ms, and
the same figure JSON (``tests/test_viz_style.py``).
"""
from __future__ import annotations

from typing import TypeVar

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


__all__ = ["plotly_white"]
