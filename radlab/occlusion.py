"""Occlusion sensitivity: a model-agnostic explanation (course chapter 10).

Cover one patch of the image at a time with a plain grey value and record how much the
model's probability of the class drops. Like LIME (Ribeiro et al. 2016) it only needs the
model's outputs for perturbed inputs, never its weights or gradients, so it works for any
model, including one you can only call as a black box (Zeiler & Fergus 2014 used it on CNNs).
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np
import torch


def _scores(model: Any, batch: np.ndarray) -> np.ndarray:
    if isinstance(model, torch.nn.Module):
        from radlab.predict import predict  # noqa: PLC0415  (torch models only)

        return np.asarray(predict(model, torch.from_numpy(batch[:, None].astype(np.float32)))).reshape(-1)
    return np.asarray(model(batch), dtype=float).reshape(-1)


def occlusion_map(model: torch.nn.Module | Callable[[np.ndarray], Any], image: Any, *, patch: int = 8,
                  stride: int = 4, fill: float | str | None = None) -> np.ndarray:
    """Drop of the predicted probability when each patch is greyed out, averaged per pixel (chapter 10).

    ``model``: a torch classifier (one logit) or any function from images ``(N, H, W)`` to scores.
    ``fill``: the grey value of the patch (default: the image's mean), or ``"blur"``: the patch is
    replaced by a strongly blurred copy of the image, which removes small structures such as a
    nodule but keeps the surrounding lung (a plain grey square can itself look like a lesion). Positive values mark
    pixels whose hiding lowers the score: the evidence the model used.
    """
    image = np.asarray(image, dtype=np.float32)
    if image.ndim != 2:
        raise ValueError(f"occlusion_map explains one 2-D image, got shape {image.shape}")
    if not 1 <= patch <= min(image.shape) or stride < 1:
        raise ValueError(f"patch must be 1..{min(image.shape)} pixels and stride >= 1 (got {patch}, {stride})")
    h, w = image.shape
    if isinstance(fill, str):
        if fill != "blur":
            raise ValueError(f"fill must be a number, None or 'blur', got {fill!r}")
        from scipy.ndimage import gaussian_filter  # noqa: PLC0415

        value = gaussian_filter(image, sigma=patch / 2.0).astype(np.float32)
    else:
        value = np.full_like(image, image.mean() if fill is None else float(fill))
    rows = list(range(0, h - patch + 1, stride))
    cols = list(range(0, w - patch + 1, stride))
    if rows[-1] != h - patch:
        rows.append(h - patch)
    if cols[-1] != w - patch:
        cols.append(w - patch)
    corners = [(r, c) for r in rows for c in cols]
    batch = np.repeat(image[None], len(corners), axis=0)
    for k, (r, c) in enumerate(corners):
        batch[k, r:r + patch, c:c + patch] = value[r:r + patch, c:c + patch]
    base = _scores(model, image[None])[0]
    drops = base - _scores(model, batch)
    total, count = np.zeros((h, w)), np.zeros((h, w))
    for (r, c), d in zip(corners, drops):
        total[r:r + patch, c:c + patch] += d
        count[r:r + patch, c:c + patch] += 1
    return total / count


__all__ = ["occlusion_map"]
