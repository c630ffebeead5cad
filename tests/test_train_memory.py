"""A finished training run gives the memory it freed back to the system (30 kernels share one class server)."""
from __future__ import annotations

import platform
import subprocess
import sys

import psutil
import pytest
import torch

import radlab.train as train_module
from radlab.train import fit, release_freed_memory

GLIBC = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"


@pytest.mark.skipif(not GLIBC, reason="malloc_trim is glibc's")
def test_release_gives_a_fragmented_heap_back_to_the_system():
    blocks = [bytes(50_000) + bytes([i % 256]) for i in range(2000)]  # ~100 MB of heap blocks (< mmap threshold)
    kept = blocks[::8]                                                 # every 8th stays: the heap cannot shrink
    del blocks
    before = psutil.Process().memory_info().rss
    assert release_freed_memory() is True
    after = psutil.Process().memory_info().rss
    assert before - after > 40e6, f"rss {before / 1e6:.0f} -> {after / 1e6:.0f} MB"
    assert len(kept) == 250


def test_fit_releases_freed_memory_once_the_run_is_over(monkeypatch):
    calls = []
    monkeypatch.setattr(train_module, "release_freed_memory", lambda: calls.append(True) or True)
    x, y = torch.rand(32, 1, 8, 8), (torch.arange(32) % 2).long()
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 1))
    result = fit(model, (x[:24], y[:24]), (x[24:], y[24:]), epochs=2, batch_size=8, save=False, progress=False)
    assert calls == [True]
    assert len(result.history) == 2


def test_the_training_path_does_not_import_torchvision():
    # torchvision pulls in torch._dynamo and sympy (~160 MB in each kernel): only the transfer
    # learning lab, which builds a ResNet-18, should pay for it.
    code = ("import sys, radlab.train, radlab.models, radlab.widgets; "
            "assert 'torchvision' not in sys.modules, 'torchvision imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_building_a_resnet18_still_works_with_the_lazy_import():
    from radlab.models import resnet18_transfer
    with pytest.warns(UserWarning, match="RANDOMLY"):
        model = resnet18_transfer(weights=None)
    assert model(torch.rand(2, 1, 64, 64)).shape == (2, 1)
