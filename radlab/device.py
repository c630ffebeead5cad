"""Where computation runs (cuda -> mps -> cpu), how randomness is seeded, and eval mode.

The bottom of the import chain: everything that runs a model (``train``, ``explain``,
``attacks``, ``models.summary``, ``viz``) imports :func:`evaluating` from here.
"""
from __future__ import annotations

import contextlib
import os
import random
from collections.abc import Iterator

import numpy as np
import torch
from torch import nn


def pick_device(prefer: str | None = None) -> torch.device:
    """Return the best available device: cuda, then mps (Apple), then cpu.

    ``prefer`` (or the ``RADLAB_DEVICE`` environment variable) forces one, e.g. "cpu".
    """
    prefer = prefer or os.environ.get("RADLAB_DEVICE")
    if prefer:
        dev = torch.device(prefer)
        if dev.type == "cuda" and not torch.cuda.is_available():
            raise RuntimeError(f"device {prefer!r} was asked for but CUDA is not available here; "
                               "use 'cpu' or unset RADLAB_DEVICE")
        return dev
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and torch; return a torch.Generator seeded the same way."""
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)
    return torch.Generator().manual_seed(seed)


def describe_device(device: torch.device | None = None) -> str:
    """One line saying what will run the training, e.g. 'cpu (2 threads)'."""
    device = device or pick_device()
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    if device.type == "cpu":
        return f"cpu ({torch.get_num_threads()} threads)"
    return device.type


def step_seconds(model: nn.Module, x: torch.Tensor, *, device: torch.device | str | None = None,
                 threads: int | None = None, repeats: int = 3) -> float:
    """Median seconds of one training step (forward, loss, backward) of ``model`` on ``x``.

    Taught in Chapter 8 ("Hardware and software"): the same step on 1 vs 2 CPU threads, or on a GPU.
    ``threads`` sets torch's CPU threads for the measurement only and restores them afterwards.
    """
    import time  # noqa: PLC0415  (only for this measurement)

    device = torch.device(device) if device is not None else pick_device()
    with cpu_threads(threads):
        model = model.to(device)
        x = x.to(device)
        times = []
        for _ in range(repeats + 1):          # the first step warms up (memory, kernels), not timed
            start = time.perf_counter()
            model.zero_grad(set_to_none=True)
            model(x).float().pow(2).mean().backward()
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            times.append(time.perf_counter() - start)
        return float(np.median(times[1:]))


@contextlib.contextmanager
def cpu_threads(threads: int | None) -> Iterator[None]:
    """torch's CPU threads set to ``threads`` inside the block (``None``: unchanged), restored after.

    One small image gains nothing from threads: on a busy or CPU-capped machine they only wait
    for each other (a feature-map forward pass measured ~50x slower with 2 threads under load).
    """
    before = torch.get_num_threads()
    if threads is not None and threads != before:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        if torch.get_num_threads() != before:
            torch.set_num_threads(before)


@contextlib.contextmanager
def evaluating(model: nn.Module) -> Iterator[nn.Module]:
    """Run ``model`` in eval mode (BatchNorm statistics, no dropout), then restore its mode."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)
