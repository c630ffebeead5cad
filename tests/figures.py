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


def shown_values(trace: Any) -> np.ndarray:
    """What a trace draws per pixel: a heatmap's z, or an image trace's picture decoded (0…255 grey levels)."""
    if trace.type == "image":
        from radlab.viz.images import decode_source
        return decode_source(trace.source)
    return np.asarray(trace.z)
