"""Turn images into model input, and augment batches of them on the device.

Two jobs, both small:

- :func:`to_model_input` makes the float tensor a CNN wants, ``(N, 1, H, W)`` in [0, 1],
  from images in any of the course's intensity units (uint8 pixels, [0, 1] detector
  units, or Hounsfield units through a CT window).
- :func:`augmentation` builds a random augmentation, chosen by name (``"flip"``,
  ``"shift"``, ...), that works on a whole batch at once on the device the batch lives on.
  Every image of the batch gets its *own* random flip/shift/rotation: the geometric ones
  are done together by one ``affine_grid`` + ``grid_sample`` call, which is what keeps
  augmentation cheap enough to use on 2 CPU cores.

Why not plain ``torchvision.transforms.v2`` for the named ones? A v2 transform called on a
batch draws its random parameters once, so the whole batch would be flipped (or not)
together: far less variety per epoch. A v2 transform object can still be put in the list
of names; it is then applied to the batch as it is.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from radlab.errors import DataError

#: The augmentations :func:`augmentation` knows, with what each does (shown in the lab).
AUGMENTATIONS: dict[str, str] = {
    "flip": "mirror left-right (careful: a flipped chest radiograph puts the heart on the right)",
    "vflip": "mirror top-bottom (rarely realistic for radiographs)",
    "shift": "move by up to ±7 % of the image size (±2 px at 28 px)",
    "rotate": "rotate by up to ±10 degrees",
    "zoom": "scale by 0.9–1.1 (a patient nearer to or farther from the detector)",
    "noise": "add Gaussian noise (sigma 0.03), like a lower-dose exposure",
    "contrast": "change contrast and brightness by up to ±15 %",
}

_GEOMETRIC = ("flip", "vflip", "shift", "rotate", "zoom")
_UNITS = ("uint8", "unit", "HU")


def to_model_input(images: Any, *, units: str = "uint8", level_hu: float = 40.0,
                   width_hu: float = 400.0) -> torch.Tensor:
    """Images ``(N, H, W)`` (or volumes ``(N, D, H, W)``) -> float32 tensor with a channel axis, in [0, 1].

    ``units`` says what the numbers mean: ``"uint8"`` pixels 0..255 (MedMNIST),
    ``"unit"`` values already in [0, 1] (chest phantoms, detector units; clipped), or
    ``"HU"`` Hounsfield units, shown through the window ``level_hu`` ± ``width_hu`` / 2
    (CT phantoms, DICOM CT). A single 2-D image ``(H, W)`` becomes ``(1, 1, H, W)``.
    """
    if units not in _UNITS:
        raise DataError(f"unknown intensity units {units!r}", fix=f"use one of {', '.join(_UNITS)}")
    x = torch.as_tensor(np.asarray(images) if not isinstance(images, torch.Tensor) else images)
    if x.ndim == 2:
        x = x[None]
    if x.ndim not in (3, 4):
        raise DataError(f"expected images (N, H, W) or volumes (N, D, H, W), got shape {tuple(x.shape)}",
                        fix="pass a stack of single-channel images; the channel axis is added here")
    if units == "uint8":
        if x.dtype != torch.uint8 and x.numel() and (x.min() < 0 or x.max() > 255):
            raise DataError(f"values {float(x.min()):g}..{float(x.max()):g} are not 0..255 pixels",
                            fix="pass units='unit' for [0, 1] images or units='HU' for CT")
        x = x.float() / 255.0
    elif units == "unit":
        x = x.float().clamp(0.0, 1.0)
    else:
        if width_hu <= 0:
            raise DataError(f"window width must be positive, got {width_hu} HU",
                            fix="use e.g. width_hu=400 (soft tissue) or 1500 (lung)")
        low = level_hu - width_hu / 2.0
        x = ((x.float() - low) / width_hu).clamp(0.0, 1.0)
    return x.unsqueeze(1).contiguous()


@dataclass(frozen=True)
class BatchAugmentation:
    """A random augmentation of a batch ``(N, C, H, W)``, drawn per image, on the batch's device.

    Call it as ``aug(x)`` or, when a target must move with the image (a segmentation mask,
    a clean image to denoise towards), ``aug(x, target)``: the same flip/shift/rotation is
    applied to both; noise and contrast change only ``x``.
    """

    names: tuple[str, ...]
    extra: tuple[Callable[[torch.Tensor], torch.Tensor], ...] = ()
    max_shift: float = 0.07        # fraction of the image size
    max_degrees: float = 10.0
    zoom_range: float = 0.10
    noise_sigma: float = 0.03
    contrast_range: float = 0.15

    def __call__(self, x: torch.Tensor, target: torch.Tensor | None = None, *,
                 target_mode: str = "bilinear") -> Any:
        """Augment ``x`` (and ``target`` the same way); returns ``x`` or ``(x, target)``."""
        if x.ndim != 4:
            raise DataError(f"augmentation works on 2-D batches (N, C, H, W), got shape {tuple(x.shape)}",
                            fix="augment 2-D images only, or pass augment=() for 3-D volumes")
        if any(name in self.names for name in _GEOMETRIC):
            theta = self._random_affine(x.shape[0], x.shape[-2], x.shape[-1], x.device)
            grid = F.affine_grid(theta, list(x.shape), align_corners=False)
            x = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
            if target is not None and target.ndim == 4:
                t = target.float()
                t = F.grid_sample(t, grid, mode=target_mode, padding_mode="border", align_corners=False)
                target = t.to(target.dtype) if target.dtype.is_floating_point else (t > 0.5).to(target.dtype)
        if "contrast" in self.names:
            n = x.shape[0]
            gain = 1.0 + self.contrast_range * (2 * torch.rand(n, 1, 1, 1, device=x.device) - 1)
            offset = self.contrast_range / 2 * (2 * torch.rand(n, 1, 1, 1, device=x.device) - 1)
            mean = x.mean(dim=(1, 2, 3), keepdim=True)
            x = ((x - mean) * gain + mean + offset).clamp(0.0, 1.0)
        if "noise" in self.names:
            x = (x + self.noise_sigma * torch.randn_like(x)).clamp(0.0, 1.0)
        for transform in self.extra:
            x = transform(x)
        return x if target is None else (x, target)

    def _random_affine(self, n: int, height: int, width: int, device: torch.device) -> torch.Tensor:
        """One 2x3 affine matrix per image (in grid_sample's [-1, 1] coordinates)."""
        def uniform(half_width: float) -> torch.Tensor:
            return (2 * torch.rand(n, device=device) - 1) * half_width

        ones, zeros = torch.ones(n, device=device), torch.zeros(n, device=device)
        angle = uniform(math.radians(self.max_degrees)) if "rotate" in self.names else zeros
        scale = 1.0 + uniform(self.zoom_range) if "zoom" in self.names else ones
        # A sign flip of one axis mirrors the image exactly (pixel centres land on pixel centres).
        sx = torch.where(torch.rand(n, device=device) < 0.5, -ones, ones) if "flip" in self.names else ones
        sy = torch.where(torch.rand(n, device=device) < 0.5, -ones, ones) if "vflip" in self.names else ones
        # Whole-pixel shifts keep the image sharp; one pixel is 2 / width in [-1, 1] units.
        tx, ty = zeros, zeros
        if "shift" in self.names:
            max_px = max(1, round(self.max_shift * max(height, width)))
            tx = torch.randint(-max_px, max_px + 1, (n,), device=device).float() * (2.0 / width)
            ty = torch.randint(-max_px, max_px + 1, (n,), device=device).float() * (2.0 / height)
        cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
        row0 = torch.stack([cos * sx, -sin * sy, tx], dim=1)
        row1 = torch.stack([sin * sx, cos * sy, ty], dim=1)
        return torch.stack([row0, row1], dim=1)


Transform = Callable[[torch.Tensor], torch.Tensor]


def augmentation(names: Sequence[str | Transform] | str | None) -> BatchAugmentation | None:
    """Build a batch augmentation from names in :data:`AUGMENTATIONS` (``None`` when empty).

    >>> aug = augmentation(["flip", "shift"])
    >>> x_aug = aug(x_batch)            # each image gets its own random flip and shift

    A callable in the list (e.g. a ``torchvision.transforms.v2`` transform) is applied to
    the whole batch after the named ones.
    """
    if names is None:
        return None
    if isinstance(names, str):
        names = [names]
    known, extra = [], []
    for name in names:
        if callable(name):
            extra.append(name)
        elif name in AUGMENTATIONS:
            known.append(name)
        else:
            raise DataError(f"unknown augmentation {name!r}",
                            fix=f"choose from {', '.join(AUGMENTATIONS)}")
    if not known and not extra:
        return None
    return BatchAugmentation(tuple(dict.fromkeys(known)), tuple(extra))
