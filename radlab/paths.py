"""Where RadLab's folders are: the project root, dataset cards, the data cache, runs."""
from __future__ import annotations

import os
from pathlib import Path

#: The project checkout (radlab is installed editable from it by make.py).
PROJECT_ROOT = Path(__file__).resolve().parent.parent


def cards_dir() -> Path:
    """Folder of dataset cards (``datasets/*.md``); ``RADLAB_CARDS`` overrides."""
    return Path(os.environ.get("RADLAB_CARDS", PROJECT_ROOT / "datasets"))


def data_cache() -> Path:
    """Data cache: ``RADLAB_DATA`` if set, else a per-user cache folder (created on demand)."""
    env = os.environ.get("RADLAB_DATA")
    if env:
        return Path(env).expanduser()
    import pooch  # noqa: PLC0415  (light, but only needed here)

    return Path(pooch.os_cache("radlab"))


def runs_dir() -> Path:
    """Where training runs are written; ``RADLAB_RUNS`` overrides (default ``./runs``)."""
    return Path(os.environ.get("RADLAB_RUNS", Path.cwd() / "runs")).expanduser()


def shared_datasets() -> Path | None:
    """The team's folder of real datasets (``../shared/datasets`` beside the checkout), if present."""
    env = os.environ.get("RADLAB_SHARED_DATASETS")
    path = Path(env) if env else PROJECT_ROOT.parent / "shared" / "datasets"
    return path if path.is_dir() else None
