"""Find plotly traces by name, not by position: a layout change must not break a test for no reason."""
from __future__ import annotations

from typing import Any

import numpy as np


def trace_named(fig: Any, name: str) -> Any:
    """The one trace of ``fig`` whose ``name`` (or, where a legend name is shared, ``meta``) is ``name``."""
    found = [t for t in fig.data if t.name == name or getattr(t, "meta", None) == name]
    if len(found) != 1:
        names = [t.name if getattr(t, "meta", None) is None else f"{t.name} (meta {t.meta})" for t in fig.data]
        raise AssertionError(f"{len(found)} traces named {name!r}; the figure has {names}")
    return found[0]


def shape_named(fig: Any, name: str) -> Any:
    """The one ``layout.shapes`` entry of ``fig`` named ``name`` (e.g. a mask's outline)."""
    found = [shape for shape in fig.layout.shapes if shape.name == name]
    if len(found) != 1:
        raise AssertionError(f"{len(found)} shapes named {name!r}; the figure has {[s.name for s in fig.layout.shapes]}")
    return found[0]


def outline_area(path: str) -> float:
    """The area a path shape's closed loops ("M x,y L x,y ... Z") enclose (shoelace), in data units²."""
    area = 0.0
    for part in filter(None, path.split("M")):
        if not part.endswith("Z"):
            continue
        xy = np.array([[float(v) for v in point.split(",")] for point in part[:-1].split("L")])
        area += 0.5 * abs(np.dot(xy[:, 0], np.roll(xy[:, 1], -1)) - np.dot(xy[:, 1], np.roll(xy[:, 0], -1)))
    return area


def shown_values(trace: Any) -> np.ndarray:
    """What a trace draws per pixel: a heatmap's z, or an image trace's picture decoded (0…255 grey levels)."""
    if trace.type == "image":
        from radlab.viz.images import decode_source
        return decode_source(trace.source)
    return np.asarray(trace.z)


def assert_heatmap_colours(source: str, values: Any, colorscale: str, zmid: float | None = None,
                           tolerance: float = 3.0) -> None:
    """The picture ``source`` colours ``values`` as plotly's heatmap of them would: ``colorscale`` over
    min…max (or ±max|v − zmid| about ``zmid``), NaN cells white; within ``tolerance`` of 0…255 per
    channel (a picture holds 256 colours of the scale, the heatmap interpolates every value)."""
    from plotly.colors import sample_colorscale, unlabel_rgb

    from radlab.viz.images import decode_source

    values = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(values)
    lo, hi = values[finite].min(), values[finite].max()
    if zmid is not None:
        lo, hi = zmid - max(abs(lo - zmid), abs(hi - zmid)), zmid + max(abs(lo - zmid), abs(hi - zmid))
    where = np.clip((np.where(finite, values, lo) - lo) / ((hi - lo) or 1.0), 0, 1)
    if colorscale.lower() in ("gray", "grey"):   # linear grey levels, as a window shows them (plotly's own
        expected = (where.reshape(-1, 1) * 255).repeat(3, axis=1)   # "gray" is cmocean's, slightly curved)
    else:
        expected = np.array([unlabel_rgb(c) for c in sample_colorscale(colorscale, where.ravel().tolist())],
                            dtype=float)
    expected[~finite.ravel()] = 255.0
    shown = decode_source(source).astype(float)
    shown = shown.reshape(-1, 1).repeat(3, axis=1) if shown.ndim == 2 else shown.reshape(-1, 3)
    assert shown.shape == expected.shape, (shown.shape, expected.shape)
    worst = np.abs(shown - expected).max()
    assert worst <= tolerance, f"a pixel's colour is {worst:.1f} off the heatmap's (of 255)"


def plain_figure(fig: Any, layout_keys: tuple[str, ...] = ("title", "shapes")) -> dict:
    """A figure's traces and some layout parts as plain JSON values (arrays as lists, no uids), to
    compare a live figure a widget updated in place with one built afresh."""
    import json

    from plotly.utils import PlotlyJSONEncoder

    js = json.loads(json.dumps(fig.to_plotly_json(), cls=PlotlyJSONEncoder))
    for trace in js["data"]:
        trace.pop("uid", None)
    return {"data": js["data"], **{k: js["layout"].get(k) for k in layout_keys}}


def shown_splits(trace: Any) -> list[str]:
    """The split each image of a Lab 2 grid trace is drawn in (from its hover text): what a student sees."""
    from radlab.viz.splits import LEAK_NOTE

    return [t.removesuffix(LEAK_NOTE) for t in trace.text]


def shown_leaks(trace: Any, patients: Any) -> list[Any]:
    """The patients a Lab 2 grid's leak trace marks (its red, not see-through, marks)."""
    from radlab.viz.splits import NO_MARK

    return [p for p, colour in zip(patients, trace.marker.color) if colour != NO_MARK]
