"""Image metrics: overlap of masks (Dice, IoU) for segmentation, fidelity (PSNR, SSIM) for denoising.

Checked against scikit-image and torchmetrics in ``tests/test_metrics.py``;
:mod:`radlab.metrics` re-exports them.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from radlab.errors import DataError


# ---------------------------------------------------------------------------- segmentation


def _masks(pred_mask: Any, true_mask: Any) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(pred_mask).astype(bool), np.asarray(true_mask).astype(bool)
    if a.shape != b.shape:
        raise DataError(f"mask shapes differ: {a.shape} vs {b.shape}", fix="threshold the prediction to the mask's shape")
    return a, b


def _overlap(pred_mask: Any, true_mask: Any, per_image: bool, kind: str) -> float | np.ndarray:
    a, b = _masks(pred_mask, true_mask)
    axes = tuple(range(1, a.ndim)) if per_image else None
    inter = np.sum(a & b, axis=axes)
    if kind == "dice":
        den = np.sum(a, axis=axes) + np.sum(b, axis=axes)
        num = 2 * inter
    else:
        den = np.sum(a | b, axis=axes)
        num = inter
    # both masks empty: the prediction is perfect (nothing to find, nothing found)
    score = np.where(den > 0, num / np.maximum(den, 1), 1.0)
    return score if per_image else float(score)


def dice(pred_mask: Any, true_mask: Any, *, per_image: bool = False) -> float | np.ndarray:
    """Dice = 2|A∩B| / (|A| + |B|), over all pixels (or one value per image with ``per_image=True``)."""
    return _overlap(pred_mask, true_mask, per_image, "dice")


def iou(pred_mask: Any, true_mask: Any, *, per_image: bool = False) -> float | np.ndarray:
    """Intersection over union (Jaccard) = |A∩B| / |A∪B|; always ≤ Dice."""
    return _overlap(pred_mask, true_mask, per_image, "iou")


# ---------------------------------------------------------------------------- denoising


def psnr(x: Any, ref: Any, data_range: float = 1.0) -> float:
    """Peak signal-to-noise ratio in dB: ``10·log10(data_range² / MSE)``; higher is better, inf if identical."""
    a, b = np.asarray(x, dtype=np.float64), np.asarray(ref, dtype=np.float64)
    if a.shape != b.shape:
        raise DataError(f"image shapes differ: {a.shape} vs {b.shape}", fix="compare an image with its reference")
    mse = float(np.mean((a - b) ** 2))
    return float("inf") if mse == 0 else 10.0 * math.log10(data_range**2 / mse)


def _gaussian_window(sigma: float = 1.5, truncate: float = 3.5) -> torch.Tensor:
    radius = int(truncate * sigma + 0.5)               # 5 pixels for sigma 1.5: an 11×11 window
    t = torch.arange(-radius, radius + 1, dtype=torch.float64)
    g = torch.exp(-(t**2) / (2 * sigma**2))
    return g / g.sum()


def ssim(x: Any, ref: Any, data_range: float = 1.0, *, sigma: float = 1.5) -> float:
    """Structural similarity (Wang et al., 2004) with an 11×11 Gaussian window (sigma 1.5); 1 = identical.

    Compares local means (luminance), variances (contrast) and covariance (structure)
    rather than pixel differences, which is closer to what a reader notices. Images
    ``(H, W)`` or a batch ``(N, H, W)`` / ``(N, 1, H, W)``; a batch gives the mean SSIM.
    Equal to ``skimage.metrics.structural_similarity(..., gaussian_weights=True,
    sigma=1.5, use_sample_covariance=False, data_range=data_range)``.
    """
    a = torch.as_tensor(np.asarray(x, dtype=np.float64))
    b = torch.as_tensor(np.asarray(ref, dtype=np.float64))
    if a.shape != b.shape:
        raise DataError(f"image shapes differ: {tuple(a.shape)} vs {tuple(b.shape)}",
                        fix="compare an image with its reference")
    a = a.reshape(-1, 1, *a.shape[-2:])
    b = b.reshape(-1, 1, *b.shape[-2:])
    g = _gaussian_window(sigma)
    if min(a.shape[-2:]) < g.numel():
        raise DataError(f"images of {tuple(a.shape[-2:])} pixels are smaller than the {g.numel()}-pixel SSIM window",
                        fix="use larger images or a smaller sigma")

    def blur(img: torch.Tensor) -> torch.Tensor:     # separable Gaussian, "valid" = no border effects
        return F.conv2d(F.conv2d(img, g.view(1, 1, -1, 1)), g.view(1, 1, 1, -1))

    mu_a, mu_b = blur(a), blur(b)
    var_a = blur(a * a) - mu_a**2
    var_b = blur(b * b) - mu_b**2
    cov = blur(a * b) - mu_a * mu_b
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    s = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
    return float(s.mean(dim=(1, 2, 3)).mean())


__all__ = ["dice", "iou", "psnr", "ssim"]
