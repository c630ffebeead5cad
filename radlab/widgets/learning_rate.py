"""Chapter 3's learning-rate explorer: gradient descent on a two-weight loss surface, one slider.

The figure comes from :mod:`radlab.viz.learning`; the widget only composes a slider with it and
redraws the same traces in place (the FigureWidget rule, :func:`radlab.widgets.common.copy_figure`).
"""
from __future__ import annotations

from typing import Sequence

import ipywidgets as W
import numpy as np
import plotly.graph_objects as go

from radlab.viz.learning import Landscape, descent_figure, gradient_descent
from radlab.widgets.common import copy_figure
from radlab.widgets.figure import Figure


def learning_rate_explorer(landscape: Landscape, start: Sequence[float], *, lr: float = 0.1, steps: int = 25,
                           lr_range: tuple[float, float] = (10 ** -2.3, 0.25), title: str = "",
                           height: int = 320) -> W.VBox:
    """A learning-rate slider over ``steps`` of gradient descent from ``start`` (taught in Chapter 3).

    The returned box exposes ``.slider`` and ``.figure`` (for tests and for the notebook).
    """
    def figure(rate: float) -> go.Figure:
        return descent_figure(landscape, [gradient_descent(landscape, start, rate, steps=steps)], height=height,
                              title=title)

    fig = Figure(figure(lr))            # all traces built once; the slider only updates them
    slider = W.FloatLogSlider(value=lr, base=10, min=float(np.log10(lr_range[0])), max=float(np.log10(lr_range[1])),
                              step=0.02, description="learning rate", continuous_update=False)
    slider.observe(lambda change: copy_figure(fig, figure(change["new"])), names="value")
    box = W.VBox([slider, fig])
    box.slider, box.figure = slider, fig  # type: ignore[attr-defined]
    return box
