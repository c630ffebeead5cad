"""benchmarks/kernel_memory.py measures a kernel with the environment the hub gives students, read from one place.

The hub's ``STUDENT_ENV`` (binder/jupyterhub_config.py) holds the thread limits and glibc's malloc
thresholds that bring Lab 3's kernel down; the benchmark must start its kernel with exactly those, so a
change to the hub's settings is what the benchmark measures.
"""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
from traitlets.config.loader import PyFileConfigLoader

from radlab.paths import PROJECT_ROOT

CONFIG = PROJECT_ROOT / "binder" / "jupyterhub_config.py"


def _kernel_memory():
    bench = PROJECT_ROOT / "benchmarks"
    sys.path.insert(0, str(bench))  # kernel_memory imports its neighbour lab_memory
    try:
        spec = importlib.util.spec_from_file_location("kernel_memory_under_test", bench / "kernel_memory.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # its dataclasses look their module up there
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(bench))
    return module


def _hub_environment(monkeypatch, tmp_path: Path) -> dict[str, str]:
    monkeypatch.setenv("RADLAB_HUB_ROOT", str(tmp_path))
    monkeypatch.delenv("RADLAB_DATA", raising=False)
    return dict(PyFileConfigLoader(CONFIG.name, path=str(CONFIG.parent)).load_config().Spawner.environment)


def test_the_benchmark_starts_kernels_with_the_hubs_student_environment(monkeypatch, tmp_path):
    km = _kernel_memory()
    hub = _hub_environment(monkeypatch, tmp_path)
    assert km.HUB_ENV == {name: hub[name] for name in km.HUB_ENV}
    assert set(hub) - set(km.HUB_ENV) == {"PATH", "RADLAB_DATA"}  # paths differ per machine; the rest is shared


def test_students_kernels_give_freed_memory_back_to_the_system(monkeypatch, tmp_path):
    hub = _hub_environment(monkeypatch, tmp_path)
    assert hub["OMP_NUM_THREADS"] == "1"
    assert int(hub["MALLOC_MMAP_THRESHOLD_"]) <= 128 * 1024   # tensors above it are mmap'd, unmapped when freed
    assert int(hub["MALLOC_TRIM_THRESHOLD_"]) <= 1024 * 1024  # free heap tops above it go back to the OS


def test_a_config_without_the_literal_is_refused(tmp_path):
    km = _kernel_memory()
    config = tmp_path / "jupyterhub_config.py"
    config.write_text("STUDENT_ENV = dict(OMP_NUM_THREADS='1')\n")
    with pytest.raises(ValueError):  # not a literal: the benchmark would not know what the hub sets
        km.kernel_env(config)
    config.write_text("c.Spawner.environment = {}\n")
    with pytest.raises(LookupError):
        km.kernel_env(config)
