"""RadLab's one ``predict``: a model's outputs as probabilities, in batches, without gradients, mode restored.

Low in the import chain (it needs only the device helpers), so training, attacks, reference
models and the lab widgets all use the same function; :mod:`radlab.train` re-exports it.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from radlab.device import evaluating
from radlab.errors import DataError


def predict(model: nn.Module, x: Any, *, batch_size: int = 256, device: str | torch.device | None = None,
            activation: str = "auto") -> np.ndarray:
    """Model outputs as probabilities, in batches, without gradients: RadLab's one ``predict``.

    ``activation="auto"``: one logit -> sigmoid, shape ``(N,)``; K logits -> softmax,
    ``(N, K)``; a one-channel map ``(N, 1, H, W)`` -> sigmoid, ``(N, H, W)``. Use
    ``"sigmoid"`` for multi-label outputs and ``"none"`` for raw outputs (denoising).
    The model's train/eval mode is restored afterwards.
    """
    if activation not in ("auto", "sigmoid", "softmax", "none"):
        raise ValueError(f"activation={activation!r}: use 'auto', 'sigmoid', 'softmax' or 'none'")
    x = x if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x))
    if not x.is_floating_point():
        raise DataError(f"images are {x.dtype}, not floats in [0, 1]",
                        fix="convert with radlab.data.transforms.to_model_input(images, units='uint8')")
    first = next(model.parameters(), None)
    device = (torch.device(device) if isinstance(device, str) else device) or (
        first.device if first is not None else torch.device("cpu"))
    outs = []
    with evaluating(model), torch.inference_mode():
        for start in range(0, len(x), batch_size):
            out = model(x[start:start + batch_size].to(device).float()).float()
            outs.append(_probabilities(out, activation).cpu())
    return torch.cat(outs).numpy() if outs else np.zeros((0,), dtype=np.float32)


def _probabilities(out: torch.Tensor, activation: str) -> torch.Tensor:
    """Logits -> probabilities (see :func:`predict`); one-channel outputs lose their channel axis."""
    if activation == "none":
        return out
    if activation == "auto":
        activation = "softmax" if out.ndim == 2 and out.shape[1] > 1 else "sigmoid"
    if activation == "softmax":
        return torch.softmax(out, dim=1)
    prob = torch.sigmoid(out)
    return prob[:, 0] if prob.ndim in (2, 4) and prob.shape[1] == 1 else prob


__all__ = ["predict"]
