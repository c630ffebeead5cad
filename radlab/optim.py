"""Optimisers and learning-rate schedules for ``fit``: SGD with momentum, Adam, AdamW; one-cycle or cosine.

Weight decay goes to weights only (not biases or batch-norm scales). Taught in Chapter 3
(learning) and used by Lab 3's training; :mod:`radlab.train` picks them by name.
"""
from __future__ import annotations

import torch
from torch import nn

OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULES = ("onecycle", "cosine", None)


def make_optimizer(model: nn.Module, name: str, lr: float, weight_decay: float) -> torch.optim.Optimizer:
    """SGD (momentum 0.9), Adam or AdamW; no weight decay on biases and batch-norm scales."""
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError(f"{type(model).__name__} has no trainable parameters (all frozen?)")
    groups = [{"params": [p for p in params if p.ndim > 1], "weight_decay": weight_decay},
              {"params": [p for p in params if p.ndim <= 1], "weight_decay": 0.0}]
    groups = [g for g in groups if g["params"]]
    if name == "sgd":
        return torch.optim.SGD(groups, lr=lr, momentum=0.9, nesterov=True)
    if name == "adam":
        return torch.optim.Adam(groups, lr=lr)
    return torch.optim.AdamW(groups, lr=lr)


def make_schedule(optimizer: torch.optim.Optimizer, name: str | None, lr: float,
                   total_steps: int) -> torch.optim.lr_scheduler.LRScheduler | None:
    """One-cycle (warm up, then anneal), cosine annealing, or a constant rate; stepped every batch."""
    if name == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=max(total_steps, 2))
    if name == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(total_steps, 1))
    return None


__all__ = ["OPTIMIZERS", "SCHEDULES", "make_optimizer", "make_schedule"]
