"""Natural domain shift versus adversarial perturbation, measured on the same model (course chapter 10).

A scanner change alters every image the same plausible way (more quantum noise, a different
contrast curve, a softer kernel); an adversarial perturbation is a tiny, worst-case pattern
computed for one image and one model. Both lower accuracy; they are different problems with
different remedies (multi-site training and recalibration vs. robust training and input checks).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from scipy.ndimage import gaussian_filter


@dataclass(frozen=True)
class ScannerProfile:
    """A simulated acquisition (chapter 10): extra noise (image units), contrast gamma and blur (pixels)."""

    name: str
    noise_sd: float = 0.0
    gamma: float = 1.0
    blur_px: float = 0.0


def acquire(images: Any, profile: ScannerProfile, *, seed: int = 0) -> torch.Tensor:
    """Images in [0, 1] ``(N, 1, H, W)`` as another scanner would show them: blur, gamma, noise (chapter 10)."""
    x = images.detach().cpu().numpy() if isinstance(images, torch.Tensor) else np.asarray(images, dtype=np.float32)
    if x.ndim != 4 or x.shape[1] != 1:
        raise ValueError(f"acquire expects (N, 1, H, W) images in [0, 1], got shape {x.shape}")
    if profile.gamma <= 0 or profile.noise_sd < 0 or profile.blur_px < 0:
        raise ValueError(f"invalid scanner profile {profile}")
    out = x.astype(np.float64)
    if profile.blur_px > 0:
        out = gaussian_filter(out, sigma=(0, 0, profile.blur_px, profile.blur_px))
    out = np.clip(out, 0.0, 1.0) ** profile.gamma
    if profile.noise_sd > 0:
        out = out + np.random.default_rng(seed).normal(0.0, profile.noise_sd, out.shape)
    return torch.from_numpy(np.clip(out, 0.0, 1.0).astype(np.float32))


@dataclass
class ShiftRow:
    """One condition of chapter 10's comparison: its AUC, its accuracy and the mean pixel change."""

    condition: str
    auc: float
    accuracy: float
    mean_abs_change: float

    def line(self) -> str:
        """One printable row."""
        return f"{self.condition:<44} AUC {self.auc:.3f}  accuracy {self.accuracy:.3f}  mean |Δpixel| {self.mean_abs_change:.4f}"


def shift_versus_attack(model: torch.nn.Module, x: torch.Tensor, y: Any, profiles: list[ScannerProfile], *,
                        eps: float, threshold: float = 0.5, seed: int = 0) -> list[ShiftRow]:
    """The same model and test images: as acquired, through each scanner profile, and under FGSM at ``eps`` (chapter 10).

    Accuracy uses ``threshold`` (choose it on validation images of scanner A).
    """
    from radlab.attacks import fgsm  # noqa: PLC0415
    from radlab.metrics import roc_auc  # noqa: PLC0415
    from radlab.predict import predict  # noqa: PLC0415

    y = np.asarray(y).reshape(-1)

    def row(name: str, xs: torch.Tensor) -> ShiftRow:
        p = np.asarray(predict(model, xs)).reshape(-1)
        return ShiftRow(name, float(roc_auc(y, p)), float(np.mean((p >= threshold) == y)),
                        float((xs - x).abs().mean()))

    rows = [row("as acquired (scanner A, the training scanner)", x)]
    rows += [row(f"{p.name}", acquire(x, p, seed=seed)) for p in profiles]
    rows.append(row(f"adversarial FGSM, eps = {eps:g} (scanner A)", fgsm(model, x, y, eps).detach().cpu()))
    return rows


__all__ = ["ScannerProfile", "ShiftRow", "acquire", "shift_versus_attack"]
