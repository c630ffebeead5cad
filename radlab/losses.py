"""The losses of the course's tasks: BCE / cross-entropy with class weights, Dice + BCE, MSE / L1.

``fit`` picks one with :func:`make_loss`; a student can call it too, to see what
``class_weight="balanced"`` does to ``pos_weight``.
"""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

LOSSES = {"classification": ("bce", "ce"), "segmentation": ("dice_bce",), "denoising": ("mse", "l1")}


class DiceBCELoss(nn.Module):
    """Segmentation loss: BCE (every pixel right) + soft Dice (overlap right even for small lesions)."""

    def __init__(self, smooth: float = 1.0):
        super().__init__()
        self.smooth = smooth

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        bce = F.binary_cross_entropy_with_logits(logits, target)
        prob = torch.sigmoid(logits.float())
        overlap = (prob * target).sum()
        dice = (2 * overlap + self.smooth) / (prob.sum() + target.sum() + self.smooth)
        return bce + (1 - dice)


def _class_counts(y: torch.Tensor, kind: str, n_classes: int) -> torch.Tensor:
    if kind == "multiclass":
        return torch.bincount(y.reshape(-1).long(), minlength=n_classes).float()
    y = y.reshape(len(y), -1).float()
    return torch.stack([(1 - y).sum(0), y.sum(0)])  # (2, K): negatives, positives per output


def make_loss(task: str, loss: str | None = None, *, kind: str = "binary", class_weight: Any = None,
              targets: torch.Tensor | None = None, n_outputs: int = 1) -> nn.Module:
    """The loss for a task. ``class_weight="balanced"`` weighs classes by inverse frequency.

    Binary / multi-label: ``pos_weight = negatives / positives`` in BCE-with-logits, so the
    rare class counts as much as the common one. Multi-class: cross-entropy weights
    ``N / (K * count_k)``. A number (binary) or a sequence (one per class) is used as given.
    """
    default = {"classification": "ce" if kind == "multiclass" else "bce",
               "segmentation": "dice_bce", "denoising": "mse"}[task]
    loss = loss or default
    if loss not in LOSSES[task]:
        raise ValueError(f"loss {loss!r} does not fit task {task!r}; use one of {LOSSES[task]}")
    if class_weight is not None and task != "classification":
        raise ValueError("class_weight is for classification; segmentation's Dice term already "
                         "copes with small lesions")
    weight = None
    if isinstance(class_weight, str):
        if class_weight != "balanced":
            raise ValueError(f"class_weight={class_weight!r}: use None, 'balanced', a number or a list")
        if targets is None:
            raise ValueError("class_weight='balanced' needs the training targets")
        counts = _class_counts(targets, kind, n_outputs)
        if kind == "multiclass":
            weight = counts.sum() / (n_outputs * counts.clamp(min=1))
        else:
            weight = counts[0] / counts[1].clamp(min=1)
    elif class_weight is not None:
        weight = torch.as_tensor(class_weight, dtype=torch.float32).reshape(-1)
    if loss == "bce":
        return nn.BCEWithLogitsLoss(pos_weight=weight)
    if loss == "ce":
        return nn.CrossEntropyLoss(weight=weight)
    if loss == "dice_bce":
        return DiceBCELoss()
    return nn.MSELoss() if loss == "mse" else nn.L1Loss()


__all__ = ["LOSSES", "DiceBCELoss", "make_loss"]
