"""Small data: learning curves, and transfer learning's two strategies measured side by side.

Lab 9's experiments, callable from notebooks, widgets, tests and benchmarks alike:

- :func:`learning_curves`: validation AUC against the size of the training set (nested random
  subsets: 1 %, 5 %, 20 %, 100 %) for a small CNN trained from scratch, the same with
  augmentation, and transfer (a pretrained ResNet-18 as a *fixed feature extractor*: its 512
  features are computed once per image, then only a linear head learns: that is why it is cheap).
- :func:`compare_strategies`: on one small training set and one seed, ResNet-18 from scratch,
  fixed feature extraction (frozen backbone, new head) and fine-tuning (the last ``unfreeze``
  stages train): trainable and frozen parameters, seconds per epoch, curves, best validation
  AUC, and a check that frozen weights really stayed as they were.

The weights come from :mod:`radlab.pretrain` (RadLab's CT-phantom source model standing in for
ImageNet, real ImageNet weights, a file, or none).
"""
from __future__ import annotations

import functools
import math
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
from torch import nn

from radlab.data.transforms import to_model_input
from radlab.device import evaluating
from radlab.errors import DataError
from radlab.models.cnn import GapCNN
from radlab.models.transfer import STAGES, count_parameters, resnet18_transfer
from radlab.train import History, fit

DATASETS = {"pneumoniamnist": "PneumoniaMNIST (real chest X-rays, 28 px)",
            "phantoms": "chest phantoms (synthetic radiographs, 28 px, split by patient)"}
FRACTIONS = (0.01, 0.05, 0.2, 1.0)
METHODS = {"scratch": "small CNN from scratch", "augmented": "small CNN from scratch + augmentation",
           "transfer": "transfer: pretrained ResNet-18, fixed features + new head"}
STRATEGIES = {"scratch": "ResNet-18 from scratch", "fixed": "fixed feature extraction",
              "finetune": "fine-tuning"}
AUGMENT = ("flip", "shift")


# ------------------------------------------------------------------------- data

@dataclass
class TargetData:
    """The target task's training pool and validation images (``x``: ``(N, 1, 28, 28)`` in [0, 1])."""

    name: str
    x_train: torch.Tensor
    y_train: np.ndarray
    x_val: torch.Tensor
    y_val: np.ndarray
    note: str


def load_target_data(dataset: str = "pneumoniamnist", *, fast: bool = False, seed: int = 0) -> TargetData:
    """PneumoniaMNIST's train / val splits (from the data cache), or chest phantoms split by patient offline.

    ``fast`` keeps a random 300 training and 120 validation images (CI).
    """
    if dataset not in DATASETS:
        raise DataError(f"unknown dataset {dataset!r}", fix=f"use one of {', '.join(DATASETS)}")
    rng = np.random.default_rng(seed)
    if dataset == "phantoms":
        from radlab.data.phantoms import make_phantoms  # noqa: PLC0415
        from radlab.data.splits import split_by_patient  # noqa: PLC0415

        n_patients = 80 if fast else 500
        ph = make_phantoms("chest", n_patients=n_patients, images_per_patient=3, size=28, seed=seed)
        split = split_by_patient(ph.labels, ph.patient_ids, seed=seed)
        x = to_model_input(ph.images, units="unit")
        return TargetData("phantoms", x[split.train], ph.labels[split.train], x[split.val], ph.labels[split.val],
                          f"chest phantoms (synthetic), 28 px, {n_patients} patients split by patient")
    from radlab.data.medmnist import load_medmnist  # noqa: PLC0415

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # an unofficial copy is named in the note instead
        data = load_medmnist("pneumoniamnist")
    train_idx, val_idx = np.arange(len(data.train)), np.arange(len(data.val))
    if fast:
        train_idx = np.sort(rng.choice(train_idx, min(300, len(train_idx)), replace=False))
        val_idx = np.sort(rng.choice(val_idx, min(120, len(val_idx)), replace=False))
    copy = "official file" if data.official else "UNOFFICIAL copy"
    return TargetData("pneumoniamnist", to_model_input(data.train.images[train_idx]),
                      data.train.labels[train_idx].reshape(-1).astype(np.int64),
                      to_model_input(data.val.images[val_idx]), data.val.labels[val_idx].reshape(-1).astype(np.int64),
                      f"PneumoniaMNIST ({copy}), 28 px: training pool of {len(train_idx)} of its "
                      f"{len(data.train)} training images, {len(val_idx)} validation images")


def nested_subsets(y: Any, fractions: Sequence[float], *, seed: int = 0, min_per_class: int = 2) -> list[np.ndarray]:
    """Index sets of the training pool, one per fraction, each inside the next (a smaller set is part of a larger).

    Every subset holds at least ``min_per_class`` images of each class (an AUC needs both).
    """
    y = np.asarray(y).reshape(-1)
    if not fractions or any(not 0 < f <= 1 for f in fractions) or list(fractions) != sorted(fractions):
        raise DataError(f"fractions {tuple(fractions)} must increase and lie in (0, 1]", fix="e.g. (0.01, 0.05, 0.2, 1.0)")
    order = np.random.default_rng(seed).permutation(len(y))
    # the first min_per_class images of each class go to the front, so even the smallest subset has both
    front = np.concatenate([order[y[order] == c][:min_per_class] for c in np.unique(y)])
    order = np.concatenate([front, order[~np.isin(order, front)]])
    return [np.sort(order[:max(len(front), int(round(f * len(y))))]) for f in fractions]


def epochs_for(n_train: int, *, batch_size: int, base_epochs: int, min_steps: int, max_epochs: int) -> int:
    """Epochs for a training set of ``n_train`` images: at least ``min_steps`` weight updates in all.

    A tiny set gives few mini-batches per epoch; without more epochs its model would simply
    not have trained, and the learning curve would measure that instead of the data's size.
    """
    steps_per_epoch = max(1, math.ceil(n_train / batch_size))
    return int(min(max_epochs, max(base_epochs, math.ceil(min_steps / steps_per_epoch))))


# ------------------------------------------------------------------------- models

def transfer_model(strategy: str, weights: str | Path | None, *, unfreeze: int = 2) -> nn.Module:
    """A ResNet-18 for one strategy: ``"scratch"`` (random, all trains), ``"fixed"``, or ``"finetune"``.

    Fine-tuning trains the last ``unfreeze`` of the five stages (stem, layer1 … layer4) and the head.
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {tuple(STRATEGIES)}, got {strategy!r}")
    if not 1 <= unfreeze <= len(STAGES):
        raise ValueError(f"unfreeze must be 1..{len(STAGES)}, got {unfreeze}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # random initialisation is what "from scratch" means
        if strategy == "scratch":
            return resnet18_transfer(1, strategy="finetune", freeze_stages=0, weights=None)
        if strategy == "fixed":
            return resnet18_transfer(1, strategy="fixed", weights=weights)
        return resnet18_transfer(1, strategy="finetune", freeze_stages=len(STAGES) - unfreeze, weights=weights)


@functools.lru_cache(maxsize=1)
def _stage_sizes() -> tuple[dict[str, int], int]:
    """Parameters per stage of a one-channel ResNet-18, and of its one-output head (counted once)."""
    model = transfer_model("scratch", None)
    stages = {name: sum(p.numel() for m in model.stage(name) for p in m.parameters()) for name in STAGES}
    return stages, sum(p.numel() for p in model.classifier.parameters())


def strategy_parameter_counts(unfreeze: int = 2) -> dict[str, tuple[int, int]]:
    """(trainable, total) parameters of each strategy's ResNet-18, without building the three networks."""
    stages, head = _stage_sizes()
    total = sum(stages.values()) + head
    tuned = sum(stages[name] for name in STAGES[len(STAGES) - unfreeze:]) + head
    return {"scratch": (total, total), "fixed": (head, total), "finetune": (tuned, total)}


def extract_features(model: nn.Module, x: torch.Tensor, *, batch_size: int = 256) -> torch.Tensor:
    """The frozen backbone's 512 features per image (what a fixed feature extractor hands the head)."""
    out = []
    with evaluating(model), torch.inference_mode():
        for start in range(0, len(x), batch_size):
            xb = x[start:start + batch_size].float()
            if getattr(model, "repeat", 1) > 1:
                xb = xb.repeat(1, model.repeat, 1, 1)
            out.append(model.backbone((xb - model.mean) / model.std))
    return torch.cat(out) if out else torch.zeros(0, 512)


class StandardizedHead(nn.Module):
    """The new head on fixed features: standardise each feature (training-set mean and spread), then linear.

    It takes features as ``(N, 512)`` or as ``(N, 512, 1, 1)`` "images" (the shape ``fit`` expects).
    """

    def __init__(self, features: torch.Tensor, num_classes: int = 1):
        super().__init__()
        features = features.flatten(1)
        self.register_buffer("mean", features.mean(dim=0))
        self.register_buffer("std", features.std(dim=0).clamp_min(1e-6) if len(features) > 1
                             else torch.ones(features.shape[1]))
        self.linear = nn.Linear(features.shape[1], num_classes)

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        return self.linear((f.flatten(1) - self.mean) / self.std)


# ------------------------------------------------------------------------- learning curves

@dataclass
class CurvePoint:
    """One run of a learning curve."""

    method: str
    fraction: float
    n_train: int
    val_auc: float
    epochs: int
    seconds: float


@dataclass
class LearningCurves:
    """Validation AUC against training-set size, one curve per method."""

    fractions: list[float]
    n_train: list[int]
    points: list[CurvePoint] = field(default_factory=list)
    weights_note: str = ""
    data_note: str = ""

    def auc(self, method: str) -> list[float]:
        """The method's validation AUC at each size (NaN where it was not run)."""
        found = {p.fraction: p.val_auc for p in self.points if p.method == method}
        return [found.get(f, math.nan) for f in self.fractions]

    def methods(self) -> list[str]:
        return [m for m in METHODS if any(p.method == m for p in self.points)]

    def rows(self) -> list[dict[str, Any]]:
        """One row per size: images, and each method's AUC."""
        return [{"fraction": f, "n_train": n, **{m: self.auc(m)[i] for m in self.methods()}}
                for i, (f, n) in enumerate(zip(self.fractions, self.n_train))]


def _best_auc(history: History) -> float:
    values = [v for v in history.val_metric if np.isfinite(v)]
    return float(max(values)) if values else math.nan


def learning_curves(data: TargetData, weights: str | Path | None, *, fractions: Sequence[float] = FRACTIONS,
                    methods: Sequence[str] = tuple(METHODS), fast: bool = False, seed: int = 0,
                    on_point: Callable[[LearningCurves], None] | None = None) -> LearningCurves:
    """Train every method on every nested subset of ``data``'s training pool; validation AUC of each.

    The AUC reported is the model's at its best validation epoch (what ``fit`` keeps). ``on_point``
    is called after every run (a widget redraws its figure there).
    """
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise ValueError(f"unknown method(s) {unknown}; use {tuple(METHODS)}")
    subsets = nested_subsets(data.y_train, fractions, seed=seed)
    curves = LearningCurves(list(fractions), [len(s) for s in subsets], data_note=data.note)
    base, min_steps, max_epochs = (2, 12, 6) if fast else (3, 30, 15)
    features = None
    if "transfer" in methods:
        started = time.perf_counter()
        backbone = transfer_model("fixed", weights)
        # (N, 512, 1, 1): the features as 512-channel 1×1 "images", the shape fit() takes
        features = tuple(extract_features(backbone, x)[:, :, None, None] for x in (data.x_train, data.x_val))
        feature_seconds = time.perf_counter() - started
    for fraction, idx in zip(fractions, subsets):
        for method in methods:
            started = time.perf_counter()
            if method == "transfer":
                f_train, f_val = features
                head = StandardizedHead(f_train[idx])
                epochs = epochs_for(len(idx), batch_size=32, base_epochs=2 * base, min_steps=2 * min_steps,
                                    max_epochs=3 * max_epochs)
                result = fit(head, (f_train[idx], data.y_train[idx]), (f_val, data.y_val), epochs=epochs,
                             batch_size=32, lr=3e-3, weight_decay=1e-2, class_weight="balanced", seed=seed,
                             device="cpu", save=False, progress=False)
                # the features' one-off cost, shared by the sizes in proportion to their images
                seconds = time.perf_counter() - started + feature_seconds * len(idx) / len(data.y_train)
            else:
                torch.manual_seed(seed)
                model = GapCNN(width=16, n_blocks=3)
                epochs = epochs_for(len(idx), batch_size=32, base_epochs=base, min_steps=min_steps,
                                    max_epochs=max_epochs)
                result = fit(model, (data.x_train[idx], data.y_train[idx]), (data.x_val, data.y_val),
                             epochs=epochs, batch_size=32, lr=3e-3,
                             augment=AUGMENT if method == "augmented" else (), class_weight="balanced",
                             seed=seed, device="cpu", save=False, progress=False)
                seconds = time.perf_counter() - started
            curves.points.append(CurvePoint(method, float(fraction), len(idx), _best_auc(result.history),
                                            len(result.history), round(seconds, 2)))
            if on_point is not None:
                on_point(curves)
    return curves


# ------------------------------------------------------------------------- the two strategies

@dataclass
class StrategyRun:
    """One strategy's run on the shared small training set."""

    strategy: str
    label: str
    trainable: int
    total: int
    frozen_stages: tuple[str, ...]
    history: History
    best_val_auc: float
    seconds_per_epoch: float
    frozen_unchanged: bool      # every frozen stage's weights (and BN statistics) as they were before training
    trained_changed: bool       # the trainable weights moved

    @property
    def frozen(self) -> int:
        return self.total - self.trainable


def _stage_state(model: nn.Module, stages: Sequence[str]) -> dict[str, torch.Tensor]:
    out = {}
    for name in stages:
        for i, module in enumerate(model.stage(name)):
            out.update({f"{name}.{i}.{k}": v.detach().clone() for k, v in module.state_dict().items()})
    return out


def compare_strategies(data: TargetData, weights: str | Path | None, *, n_train: int, unfreeze: int = 2,
                       epochs: int = 8, seed: int = 0, val_limit: int | None = 300,
                       strategies: Sequence[str] = tuple(STRATEGIES),
                       on_run: Callable[[StrategyRun], None] | None = None) -> list[StrategyRun]:
    """ResNet-18 from scratch, as a fixed feature extractor, and fine-tuned, on the same ``n_train`` images and seed.

    ``val_limit`` validation images (a seeded random choice) keep the per-epoch check affordable on a CPU.
    """
    idx = nested_subsets(data.y_train, [min(1.0, n_train / len(data.y_train))], seed=seed)[0]
    val = np.arange(len(data.y_val))
    if val_limit is not None and len(val) > val_limit:
        val = np.sort(np.random.default_rng(seed).choice(val, val_limit, replace=False))
    runs = []
    for strategy in strategies:
        torch.manual_seed(seed)
        model = transfer_model(strategy, weights, unfreeze=unfreeze)
        trainable, total = count_parameters(model)
        frozen_stages = tuple(model.frozen_stages)
        trained_names = [n for n, p in model.named_parameters() if p.requires_grad]
        before_frozen = _stage_state(model, frozen_stages)
        before_trained = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
        result = fit(model, (data.x_train[idx], data.y_train[idx]), (data.x_val[val], data.y_val[val]),
                     epochs=epochs, batch_size=32, lr=1e-3 if strategy == "finetune" else 3e-3,
                     class_weight="balanced", seed=seed, device="cpu", save=False, progress=False)
        after_frozen = _stage_state(result.model, frozen_stages)
        params = dict(result.model.named_parameters())
        run = StrategyRun(
            strategy, STRATEGIES[strategy] + (f" (last {unfreeze} stage{'s' if unfreeze > 1 else ''})"
                                              if strategy == "finetune" else ""),
            trainable, total, frozen_stages, result.history, _best_auc(result.history),
            float(np.mean(result.history.seconds)) if len(result.history) else math.nan,
            all(torch.equal(before_frozen[k], after_frozen[k]) for k in before_frozen),
            any(not torch.equal(before_trained[n], params[n].detach()) for n in trained_names))
        runs.append(run)
        if on_run is not None:
            on_run(run)
    return runs


__all__ = ["AUGMENT", "DATASETS", "FRACTIONS", "METHODS", "STRATEGIES", "CurvePoint", "LearningCurves",
           "StandardizedHead", "StrategyRun", "TargetData", "compare_strategies", "epochs_for", "extract_features",
           "learning_curves", "load_target_data", "nested_subsets", "strategy_parameter_counts",
           "transfer_model"]
