"""Settings shared by every notebook: the fast mode CI and the browser tests use."""
from __future__ import annotations

import os


def fast_mode(fast: bool = False) -> bool:
    """True when a notebook should run its quick version.

    A notebook's ``parameters`` cell sets ``FAST = False`` (the full lesson); papermill
    injects ``FAST = True`` in CI, and ``RADLAB_FAST=1`` turns it on where no parameter
    can be injected (Voila in the browser tests).
    """
    return bool(fast) or os.environ.get("RADLAB_FAST", "") not in ("", "0", "false", "False")
