"""Shared fixtures: an isolated data cache seeded with the team's real datasets."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from radlab.paths import PROJECT_ROOT, shared_datasets

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require_shared_file(name: str) -> Path:
    """Path of a real dataset file in ../shared/datasets; fail in CI, skip (loudly) elsewhere."""
    folder = shared_datasets()
    path = folder / name if folder else None
    if path is None or not path.is_file():
        msg = (f"real dataset {name} not found in ../shared/datasets (or RADLAB_SHARED_DATASETS); "
               "the real-data tests need it")
        if IN_CI:
            pytest.fail(msg)
        pytest.skip(msg)
    return path


@pytest.fixture(scope="session")
def data_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh RADLAB_DATA cache for this test session, seeded from ../shared/datasets.

    The shared PneumoniaMNIST is a modified copy of the official file, so it is imported
    with ``unofficial=True`` through the same path a student's ``radlab fetch --from`` takes.
    """
    from radlab.data import catalog

    cache = tmp_path_factory.mktemp("radlab-data")
    old = os.environ.get("RADLAB_DATA")
    os.environ["RADLAB_DATA"] = str(cache)
    src = require_shared_file("pneumoniamnist.npz")
    catalog.fetch("pneumoniamnist", source=src, unofficial=True)
    yield cache
    if old is None:
        os.environ.pop("RADLAB_DATA", None)
    else:
        os.environ["RADLAB_DATA"] = old


@pytest.fixture(autouse=True)
def progress_file(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test records exercise attempts into its own temporary progress file, never ~/.radlab."""
    path = tmp_path_factory.mktemp("radlab-progress") / "progress.jsonl"
    monkeypatch.setenv("RADLAB_PROGRESS", str(path))
    return path


@pytest.fixture()
def project_root() -> Path:
    return PROJECT_ROOT


@pytest.fixture()
def scratch(tmp_path: Path) -> Path:
    """A temporary folder a test may write into (removed by pytest)."""
    return tmp_path


def copy_tree(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst
