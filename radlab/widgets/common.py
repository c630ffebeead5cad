"""Helpers every lab widget shares: control style, window sliders, image pickers, figure updates.

One home for what several labs use (Lab 7's CAM explorer and Lab 8's adversarial explorer
both window images and copy rebuilt figures into displayed ones), so no lab borrows
another lab's module.
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import ipywidgets as W
import numpy as np
import plotly.graph_objects as go
from plotly.utils import PlotlyJSONEncoder

STYLE = {"description_width": "90px"}


def copy_figure(target: go.FigureWidget, source: go.Figure) -> None:
    """Copy a freshly built figure's traces, shapes and titles into a displayed FigureWidget.

    The FigureWidget rule: the widget was built with all its traces; only ``fig.data[i]``
    and the layout change afterwards, in one batch.
    """
    with target.batch_update():
        for old, new in zip(target.data, source.data):
            old.update({k: v for k, v in new.to_plotly_json().items() if k != "type"})
        for name in ("title", "shapes", "annotations"):   # re-validating equal shapes costs ~4 ms each
            if _plain(target.layout[name]) != _plain(source.layout[name]):
                if name == "annotations" and _only_texts_differ(target.layout.annotations, source.layout.annotations):
                    for shown, fresh in zip(target.layout.annotations, source.layout.annotations):
                        if shown.text != fresh.text:   # sent as annotations.i.text: the browser rewrites it in place
                            shown.text = fresh.text
                else:
                    target.layout[name] = source.layout[name]


def _only_texts_differ(shown: tuple, fresh: tuple) -> bool:
    """Whether two tuples of annotations (subplot titles) differ in their texts only."""
    strip = [{k: v for k, v in a.to_plotly_json().items() if k != "text"} for a in (*shown, *fresh)]
    return len(shown) == len(fresh) and strip[:len(shown)] == strip[len(shown):]


def _plain(value: Any) -> str:
    """A layout title, or tuple of shapes or annotations, as JSON text (to compare them)."""
    if isinstance(value, tuple):
        value = [item.to_plotly_json() for item in value]
    elif hasattr(value, "to_plotly_json"):
        value = value.to_plotly_json()
    return json.dumps(value, cls=PlotlyJSONEncoder, sort_keys=True)


def window_sliders(images: np.ndarray, level: float, width: float, units: str) -> tuple[W.FloatSlider, W.FloatSlider]:
    """Level and width sliders spanning the images' value range (in their own units)."""
    low, high = float(np.min(images)), float(np.max(images))
    span = max(high - low, 1e-6)
    step = 10 ** np.floor(np.log10(span / 200))
    level_slider = W.FloatSlider(value=float(np.clip(level, low, high)), min=low, max=high, step=step,
                                 description=f"level ({units})", style=STYLE, continuous_update=False)
    width_slider = W.FloatSlider(value=float(np.clip(width, step, 2 * span)), min=step, max=2 * span, step=step,
                                 description=f"width ({units})", style=STYLE, continuous_update=False)
    return level_slider, width_slider


def image_options(labels: np.ndarray, scores: np.ndarray, class_names: Sequence[str]) -> list[tuple[str, int]]:
    """Dropdown entries '#12 · lesion · p(lesion)=0.93' for every image."""
    return [(f"#{i} · {class_names[int(y)]} · p({class_names[1]})={p:.2f}", i)
            for i, (y, p) in enumerate(zip(labels, scores))]


__all__ = ["STYLE", "copy_figure", "image_options", "window_sliders"]
