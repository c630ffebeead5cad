"""Rigid registration by gradient descent on an image similarity (course chapter 9).

The moving image is rotated and shifted by three parameters (angle, row and column shift);
PyTorch's autograd gives the gradient of the mean squared difference to the fixed image, and
Adam follows it, as training a network does, with three parameters instead of thousands.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F


def _grid(angle_rad: torch.Tensor, shift: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    h, w = size
    cos, sin = torch.cos(angle_rad), torch.sin(angle_rad)
    # grid_sample works in [-1, 1] coordinates: a shift of s pixels is 2s / size
    theta = torch.stack([torch.stack([cos, -sin * h / w, -2 * shift[1] / w]),
                         torch.stack([sin * w / h, cos, -2 * shift[0] / h])])[None]
    return F.affine_grid(theta, [1, 1, h, w], align_corners=False)


def rigid_transform(image: Any, angle_deg: float, shift_px: tuple[float, float]) -> np.ndarray:
    """The image rotated by ``angle_deg`` about its centre and moved by ``shift_px`` (rows, cols) (chapter 9)."""
    x = torch.as_tensor(np.asarray(image, dtype=np.float32))[None, None]
    grid = _grid(torch.tensor(math.radians(angle_deg)), torch.tensor(shift_px, dtype=torch.float32), x.shape[-2:])
    return F.grid_sample(x, grid, align_corners=False, padding_mode="border")[0, 0].numpy()


@dataclass
class Registration:
    """The result of :func:`register_rigid` (chapter 9): the recovered transform and the loss per step."""

    angle_deg: float
    shift_px: tuple[float, float]
    losses: list[float]


def register_rigid(fixed: Any, moving: Any, *, steps: int = 200, lr: float = 0.05, smooth_px: float = 2.0) -> Registration:
    """Find the angle and shift that map ``fixed`` onto ``moving`` by minimising their mean squared difference (chapter 9).

    Both images are first blurred by ``smooth_px`` so the loss is smooth enough for gradient descent.
    The result is the transform with ``rigid_transform(fixed, angle, shift) ≈ moving``.
    """
    from scipy.ndimage import gaussian_filter  # noqa: PLC0415

    f = torch.as_tensor(gaussian_filter(np.asarray(fixed, dtype=np.float32), smooth_px))[None, None]
    m = torch.as_tensor(gaussian_filter(np.asarray(moving, dtype=np.float32), smooth_px))[None, None]
    if f.shape != m.shape:
        raise ValueError(f"fixed {tuple(f.shape[-2:])} and moving {tuple(m.shape[-2:])} must have the same size")
    angle = torch.zeros((), requires_grad=True)
    shift = torch.zeros(2, requires_grad=True)
    optimizer = torch.optim.Adam([angle, shift], lr=lr)
    losses = []
    for _ in range(steps):
        optimizer.zero_grad()
        warped = F.grid_sample(f, _grid(angle, shift, f.shape[-2:]), align_corners=False, padding_mode="border")
        loss = F.mse_loss(warped, m)
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    angle, shift = angle.detach(), shift.detach()
    return Registration(math.degrees(float(angle)), (float(shift[0]), float(shift[1])), losses)


__all__ = ["Registration", "register_rigid", "rigid_transform"]
