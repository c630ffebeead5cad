"""One training loop for every task of the course: ``fit()``, its ``History``, checkpoints.

``fit(model, (x_train, y_train), (x_val, y_val), task=...)`` trains a classifier
(BCE-with-logits or cross-entropy), a segmentation network (Dice + BCE) or a denoiser
(MSE or L1) with mini-batch SGD / Adam / AdamW, a learning-rate schedule, weight decay,
augmentation on the device and class weights for imbalanced data. After every epoch it
measures the loss and a metric on the training and validation data (AUC or accuracy,
Dice, PSNR), keeps the best weights (lowest validation loss) in memory and in
``<run folder>/best.pt``, and asks an optional :class:`~radlab.monitor.OverfittingMonitor`
whether to stop early.

Seeded: the same ``seed`` on the same machine gives the same history and weights (on CPU;
GPUs can differ in the last bits). Interrupting (the stop button, or the kernel's
interrupt) ends training cleanly: the best weights are put back and the history is kept.
"""
from __future__ import annotations

import json
import math
import os
import re
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Sequence

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

from radlab.data.transforms import augmentation as make_augmentation
from radlab.device import pick_device, seed_everything
from radlab.errors import DataError
from radlab.paths import runs_dir

if TYPE_CHECKING:  # the monitor is passed in; train.py does not need to import it
    from radlab.monitor import OverfittingMonitor

TASKS = ("classification", "segmentation", "denoising")
OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULES = ("onecycle", "cosine", None)
LOSSES = {"classification": ("bce", "ce"), "segmentation": ("dice_bce",), "denoising": ("mse", "l1")}
METRIC_NAMES = {"classification": "AUC", "segmentation": "Dice", "denoising": "PSNR"}


# --------------------------------------------------------------------------------------
# History and result
# --------------------------------------------------------------------------------------

@dataclass
class History:
    """Per-epoch record of a training run: losses, metrics, learning rate and time.

    Lists are aligned: index ``i`` is epoch ``epoch[i]`` (epochs count from 1). The metric is
    AUC (binary or multi-label classification), accuracy (multi-class), Dice (segmentation)
    or PSNR in dB (denoising); higher is better for all of them.
    """

    task: str = "classification"
    metric_name: str = "AUC"
    epoch: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    train_metric: list[float] = field(default_factory=list)
    val_metric: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)

    _COLUMNS = ("epoch", "train_loss", "val_loss", "train_metric", "val_metric", "lr", "seconds")

    def __len__(self) -> int:
        return len(self.epoch)

    def append(self, *, train_loss: float, val_loss: float, train_metric: float, val_metric: float,
               lr: float, seconds: float) -> None:
        """Add one epoch's numbers."""
        self.epoch.append(len(self.epoch) + 1)
        self.train_loss.append(float(train_loss))
        self.val_loss.append(float(val_loss))
        self.train_metric.append(float(train_metric))
        self.val_metric.append(float(val_metric))
        self.lr.append(float(lr))
        self.seconds.append(float(seconds))

    @property
    def best_epoch(self) -> int:
        """Epoch (from 1) with the lowest validation loss; 0 when there is none yet."""
        finite = [(v, e) for v, e in zip(self.val_loss, self.epoch) if math.isfinite(v)]
        return min(finite)[1] if finite else 0

    def gap(self) -> list[float]:
        """Validation loss minus training loss, per epoch (a widening gap means overfitting)."""
        return [v - t for t, v in zip(self.train_loss, self.val_loss)]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict (NaN/inf become None)."""
        clean = lambda values: [v if isinstance(v, int) or math.isfinite(v) else None for v in values]  # noqa: E731
        return {"task": self.task, "metric_name": self.metric_name,
                **{name: clean(getattr(self, name)) for name in self._COLUMNS}}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> History:
        """Inverse of :meth:`to_dict` (None becomes NaN)."""
        restore = lambda values: [float("nan") if v is None else v for v in values]  # noqa: E731
        return cls(task=data["task"], metric_name=data["metric_name"],
                   epoch=[int(e) for e in data["epoch"]],
                   **{name: restore(data[name]) for name in cls._COLUMNS if name != "epoch"})

    def save(self, path: str | Path) -> Path:
        """Write the history as JSON (atomically: a reader never sees half a file)."""
        path = Path(path)
        _atomic_write(path, lambda f: f.write(json.dumps(self.to_dict(), indent=1).encode()))
        return path

    @classmethod
    def load(cls, path: str | Path) -> History:
        """Read a history written by :meth:`save`."""
        path = Path(path)
        try:
            return cls.from_dict(json.loads(path.read_text()))
        except FileNotFoundError:
            raise DataError("no training history here", path=path,
                            fix="pass the history.json of a run folder (see radlab.paths.runs_dir())") from None
        except (KeyError, TypeError, ValueError) as err:
            raise DataError(f"not a RadLab training history ({err})", path=path,
                            fix="pass a history.json written by fit() / History.save()") from None


@dataclass
class FitResult:
    """What ``fit`` returns: the trained model (best weights unless told otherwise) and how it went.

    ``best_epoch`` counts from 1 (0: no epoch finished). ``stop_reason`` is one of
    "completed", "early stop", "interrupted" or "diverged" (the loss became NaN/inf).
    """

    model: nn.Module
    history: History
    best_epoch: int
    stopped_early: bool
    interrupted: bool
    run_dir: Path | None
    stop_reason: str = "completed"
    seconds: float = 0.0


class Callback:
    """Hooks ``fit`` calls; subclass and override what you need (a plain function is an ``on_epoch_end``)."""

    def on_batch_end(self, epoch: int, batch: int) -> None:
        """After every optimisation step (epochs and batches count from 1)."""

    def on_epoch_end(self, history: History) -> None:
        """After every epoch, once its numbers are in ``history``."""


# --------------------------------------------------------------------------------------
# Checkpoints and run folders
# --------------------------------------------------------------------------------------

def _atomic_write(path: Path, write: Callable[[Any], Any]) -> None:
    """Write via a temporary file in the same folder, then rename: never a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.chmod(tmp, 0o644)  # mkstemp makes files private; runs are meant to be shared
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def save_checkpoint(path: str | Path, model: nn.Module | dict[str, torch.Tensor], **meta: Any) -> Path:
    """Save a model's weights (+ JSON-able ``meta``) atomically, loadable with ``weights_only=True``."""
    state = model.state_dict() if isinstance(model, nn.Module) else model
    payload = {"model_state": {k: v.detach().cpu() for k, v in state.items()}, "meta": meta}
    path = Path(path)
    _atomic_write(path, lambda f: torch.save(payload, f))
    return path


def load_checkpoint(model: nn.Module, path: str | Path) -> dict[str, Any]:
    """Load weights saved by :func:`save_checkpoint` into ``model``; returns the checkpoint's meta."""
    path = Path(path)
    if not path.is_file():
        raise DataError("checkpoint not found", path=path, fix="train first (fit writes best.pt in its run folder)")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
        model.load_state_dict(payload["model_state"])
    except (RuntimeError, KeyError, EOFError, TypeError) as err:
        raise DataError(f"cannot load these weights into {type(model).__name__}: {err}", path=path,
                        fix="build the same architecture (same widths/blocks) that was trained, "
                            "or delete the file to train again") from None
    return dict(payload.get("meta", {}))


def new_run_dir(name: str = "run", *, parent: str | Path | None = None) -> Path:
    """Create and return a new, empty run folder ``<runs_dir>/<timestamp>-<name>``; never reuses one."""
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-.") or "run"
    base = Path(parent) if parent is not None else runs_dir()
    return _fresh_dir(base / f"{datetime.now():%Y%m%d-%H%M%S}-{safe}")


def _fresh_dir(path: Path) -> Path:
    """Create ``path``, or ``path-2``, ``path-3``... if it exists: a student's run is never overwritten."""
    path.parent.mkdir(parents=True, exist_ok=True)
    candidate, n = path, 1
    while True:
        try:
            candidate.mkdir()
            return candidate
        except FileExistsError:
            n += 1
            candidate = path.with_name(f"{path.name}-{n}")


# --------------------------------------------------------------------------------------
# Data: tensors in memory are sliced directly; Datasets go through a DataLoader
# --------------------------------------------------------------------------------------

class _TensorBatches:
    """Mini-batches of in-memory tensors by index slicing (faster than a DataLoader on CPU)."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor, batch_size: int, *, shuffle: bool,
                 generator: torch.Generator | None = None):
        self.x, self.y, self.batch_size, self.shuffle, self.generator = x, y, batch_size, shuffle, generator

    def __len__(self) -> int:
        n, bs = len(self.x), self.batch_size
        # Training skips a last batch of one image: batch norm cannot normalise a single image.
        return n // bs + (1 if n % bs > (1 if self.shuffle else 0) else 0)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        n = len(self.x)
        if self.shuffle:
            order = torch.randperm(n, generator=self.generator).to(self.x.device)
            for b in range(len(self)):
                idx = order[b * self.batch_size:(b + 1) * self.batch_size]
                yield self.x[idx], self.y[idx]
        else:
            for start in range(0, n, self.batch_size):
                yield self.x[start:start + self.batch_size], self.y[start:start + self.batch_size]


class _LoaderBatches:
    """Mini-batches from a torch Dataset, moved to the device and given the task's target format."""

    def __init__(self, dataset: Dataset, batch_size: int, *, shuffle: bool, device: torch.device,
                 prepare: Callable[[torch.Tensor], torch.Tensor], generator: torch.Generator | None = None):
        n = len(dataset)  # type: ignore[arg-type]
        self.loader = DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, generator=generator,
                                 drop_last=shuffle and n % batch_size == 1,
                                 pin_memory=device.type == "cuda")
        self.device, self.prepare = device, prepare

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        for xb, yb in self.loader:
            yield (xb.to(self.device, non_blocking=True).float(),
                   self.prepare(torch.as_tensor(yb)).to(self.device, non_blocking=True))


def _as_tensor_pair(data: Any, role: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Check an ``(x, y)`` pair and return it as tensors (x float32)."""
    if not (isinstance(data, (tuple, list)) and len(data) == 2):
        raise DataError(f"{role} data must be an (x, y) pair or a torch Dataset, got {type(data).__name__}",
                        fix=f"pass {role}=(x_{role}, y_{role})")
    x, y = (v if isinstance(v, torch.Tensor) else torch.as_tensor(np.asarray(v)) for v in data)
    if x.ndim not in (4, 5):
        raise DataError(f"{role} images have shape {tuple(x.shape)}; a CNN wants (N, C, H, W)",
                        fix="add the channel axis with radlab.data.transforms.to_model_input(images, units=...)")
    if not x.is_floating_point():
        raise DataError(f"{role} images are {x.dtype}, not floats in [0, 1]",
                        fix="convert with radlab.data.transforms.to_model_input(images, units='uint8')")
    if len(x) != len(y):
        raise DataError(f"{role} has {len(x)} images but {len(y)} targets",
                        fix="pass one target (label, mask or clean image) per image")
    if len(x) == 0:
        raise DataError(f"{role} data is empty", fix=f"give {role} at least one image")
    return x.float(), y


def _first_input(data: Any) -> torch.Tensor:
    """One input image with a batch axis, to ask the model what its output looks like."""
    if isinstance(data, Dataset):
        return torch.as_tensor(data[0][0]).float().unsqueeze(0)
    return _as_tensor_pair(data, "val")[0][:1]


def _target_converter(task: str, kind: str) -> Callable[[torch.Tensor], torch.Tensor]:
    """Return a function giving targets the form the task's loss wants."""
    if kind == "binary":
        return lambda y: y.reshape(len(y), 1).float()
    if kind == "multiclass":
        return lambda y: y.reshape(len(y)).long()
    if kind == "multilabel":
        return lambda y: y.float()
    if task == "segmentation":
        return lambda y: (y.unsqueeze(1) if y.ndim == 3 else y).float()
    return lambda y: y.float()  # denoising: the clean image


def _classification_kind(out_width: int, y_example: torch.Tensor | None) -> str:
    """binary (1 logit), multi-label (K logits, K-column targets) or multi-class (K logits, one label)."""
    if out_width == 1:
        return "binary"
    if y_example is not None and y_example.ndim == 2 and y_example.shape[1] == out_width:
        return "multilabel"
    return "multiclass"


# --------------------------------------------------------------------------------------
# Losses and metrics
# --------------------------------------------------------------------------------------

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


def roc_auc(y_true: Any, score: Any) -> float:
    """ROC AUC: the chance that a random positive scores higher than a random negative (ties: half).

    Computed from ranks (the Mann-Whitney U statistic), so it needs no threshold. 2-D inputs
    (multi-label) give the mean AUC over columns. NaN when a class is missing.
    """
    y, s = np.asarray(y_true), np.asarray(score, dtype=np.float64)
    if y.ndim == 2 and y.shape[1] == 1:  # binary targets as a column
        y, s = y[:, 0], s.reshape(len(s), -1)[:, 0]
    if y.ndim == 2:
        per_label = [roc_auc(y[:, k], s[:, k]) for k in range(y.shape[1])]
        valid = [a for a in per_label if math.isfinite(a)]
        return float(np.mean(valid)) if valid else float("nan")
    positive = y.reshape(-1) > 0.5
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    _, inverse, counts = np.unique(s.reshape(-1), return_inverse=True, return_counts=True)
    average_rank = np.cumsum(counts) - (counts - 1) / 2.0  # 1-based rank, tied scores share the mean rank
    rank_sum = average_rank[inverse][positive].sum()
    return float((rank_sum - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


class _MetricSum:
    """Accumulates one epoch's loss and metric on the device; one host sync per epoch in ``result``."""

    def __init__(self, task: str, kind: str, device: torch.device):
        self.task, self.kind = task, kind
        self.loss = torch.zeros((), device=device)
        self.n = 0
        self.outputs: list[torch.Tensor] = []
        self.targets: list[torch.Tensor] = []
        self.stats = torch.zeros(3, device=device)  # Dice: overlap, predicted, true; PSNR: sum, -, -

    def add(self, loss: torch.Tensor, out: torch.Tensor, target: torch.Tensor) -> None:
        n = len(out)
        self.loss += loss.detach().float() * n
        self.n += n
        out = out.detach().float()
        if self.task == "classification":
            self.outputs.append(out)
            self.targets.append(target.detach())
        elif self.task == "segmentation":
            pred = (out > 0).float()  # logit > 0  <=>  probability > 0.5
            self.stats += torch.stack([(pred * target).sum(), pred.sum(), target.sum()])
        else:
            mse = ((out.clamp(0, 1) - target) ** 2).flatten(1).mean(1).clamp(min=1e-10)
            self.stats[0] += (-10 * torch.log10(mse)).sum()

    def result(self) -> tuple[float, float]:
        """(mean loss, metric) of everything added."""
        loss = float(self.loss) / max(self.n, 1)
        if self.task == "segmentation":
            overlap, predicted, true = self.stats.tolist()
            return loss, 1.0 if predicted + true == 0 else 2 * overlap / (predicted + true)
        if self.task == "denoising":
            return loss, float(self.stats[0]) / max(self.n, 1)
        out, y = torch.cat(self.outputs).cpu(), torch.cat(self.targets).cpu()
        if self.kind == "multiclass":
            return loss, float((out.argmax(1) == y).float().mean())
        return loss, roc_auc(y.numpy(), out.numpy() if self.kind == "multilabel" else out[:, 0].numpy())


# --------------------------------------------------------------------------------------
# fit
# --------------------------------------------------------------------------------------

def _make_optimizer(model: nn.Module, name: str, lr: float, weight_decay: float) -> torch.optim.Optimizer:
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


def _make_schedule(optimizer: torch.optim.Optimizer, name: str | None, lr: float,
                   total_steps: int) -> torch.optim.lr_scheduler.LRScheduler | None:
    """One-cycle (warm up, then anneal), cosine annealing, or a constant rate; stepped every batch."""
    if name == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=max(total_steps, 2))
    if name == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(total_steps, 1))
    return None


def _check_options(task: str, epochs: int, batch_size: int, lr: float, optimizer: str,
                   weight_decay: float, schedule: str | None) -> None:
    if task not in TASKS:
        raise ValueError(f"task={task!r}: use one of {TASKS}")
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer={optimizer!r}: use one of {OPTIMIZERS}")
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule={schedule!r}: use one of {SCHEDULES}")
    if not (isinstance(epochs, int) and epochs >= 1):
        raise ValueError(f"epochs={epochs!r}: use a whole number >= 1")
    if not (isinstance(batch_size, int) and batch_size >= 1):
        raise ValueError(f"batch_size={batch_size!r}: use a whole number >= 1")
    if not (math.isfinite(lr) and lr > 0):
        raise ValueError(f"lr={lr!r}: use a positive learning rate such as 1e-3")
    if not (math.isfinite(weight_decay) and weight_decay >= 0):
        raise ValueError(f"weight_decay={weight_decay!r}: use 0 or a small positive number such as 1e-4")


def _callback_hooks(callbacks: Iterable[Any]) -> tuple[list[Callable], list[Callable]]:
    batch_hooks, epoch_hooks = [], []
    for cb in callbacks:
        if isinstance(cb, Callback):
            batch_hooks.append(cb.on_batch_end)
            epoch_hooks.append(cb.on_epoch_end)
        elif callable(cb):
            epoch_hooks.append(cb)
        else:
            raise TypeError(f"callback {cb!r} is neither a Callback nor a function of the history")
    return batch_hooks, epoch_hooks


class _StopRequested(Exception):
    """Raised inside the loop when the stop flag is set (ends training like an interrupt)."""


def fit(model: nn.Module, train: Any, val: Any, *, task: str = "classification", epochs: int = 10,
        batch_size: int = 64, lr: float = 3e-3, optimizer: str = "adamw", weight_decay: float = 0.0,
        schedule: str | None = "onecycle", augment: Sequence[Any] = (), class_weight: Any = None,
        loss: str | None = None, seed: int = 0, device: str | torch.device | None = None,
        monitor: OverfittingMonitor | None = None, run_dir: str | Path | None = None,
        name: str | None = None, save: bool = True, callbacks: Sequence[Any] = (),
        stop_event: threading.Event | None = None, amp: bool | None = None,
        progress: bool = True) -> FitResult:
    """Train ``model`` on ``train``, watching ``val``; return the best model and its history.

    ``train`` / ``val``: ``(x, y)`` pairs (arrays or tensors; x float ``(N, C, H, W)`` in
    [0, 1]) or torch Datasets. ``y`` is a label per image (classification), a mask
    (segmentation) or a clean image (denoising). ``augment`` names augmentations from
    :data:`radlab.data.transforms.AUGMENTATIONS`; ``class_weight="balanced"`` re-weights
    rare classes. Checkpoints go to a new folder ``runs_dir()/<timestamp>-<name>`` (or
    ``run_dir``, suffixed if it exists), nothing when ``save=False``. Setting
    ``stop_event`` (what a Stop button does) or interrupting the kernel ends training
    cleanly with ``interrupted=True``. The returned model (in eval mode) has the weights of
    the epoch with the lowest validation loss, unless ``monitor.restore_best`` is False.
    """
    _check_options(task, epochs, batch_size, lr, optimizer, weight_decay, schedule)
    augment = (augment,) if isinstance(augment, str) else tuple(augment or ())
    started = time.perf_counter()
    device = device if isinstance(device, torch.device) else pick_device(device)
    generator = seed_everything(seed)
    model.to(device)

    # What the model outputs decides the loss (binary, multi-class, multi-label...).
    kind = "image"
    probe = _first_input(val)
    with torch.inference_mode():
        was_training = model.training
        model.eval()
        out_width = model(probe.to(device)).shape[1]
        model.train(was_training)
    if task == "classification":
        y_example = torch.as_tensor(np.asarray(train[1][:1])) if not isinstance(train, Dataset) else None
        kind = _classification_kind(out_width, y_example)
    prepare = _target_converter(task, kind)

    def batches(data: Any, role: str, shuffle: bool) -> _TensorBatches | _LoaderBatches:
        if isinstance(data, Dataset):
            return _LoaderBatches(data, batch_size, shuffle=shuffle, device=device, prepare=prepare,
                                  generator=generator if shuffle else None)
        x, y = _as_tensor_pair(data, role)
        return _TensorBatches(x.to(device), prepare(y).to(device), batch_size if shuffle else max(batch_size, 256),
                              shuffle=shuffle, generator=generator)

    train_batches, val_batches = batches(train, "train", True), batches(val, "val", False)
    targets = None
    if class_weight is not None and task == "classification":
        targets = (train_batches.y if isinstance(train_batches, _TensorBatches)
                   else torch.cat([prepare(torch.as_tensor(item[1]).unsqueeze(0)) for item in train]))
    criterion = make_loss(task, loss, kind=kind, class_weight=class_weight, targets=targets,
                          n_outputs=out_width).to(device)
    aug = make_augmentation(augment)
    target_mode = "nearest" if task == "segmentation" else "bilinear"
    opt = _make_optimizer(model, optimizer, lr, weight_decay)
    steps = len(train_batches)
    scheduler = _make_schedule(opt, schedule, lr, epochs * steps)
    use_amp = (device.type == "cuda") if amp is None else (amp and device.type == "cuda")
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
    batch_hooks, epoch_hooks = _callback_hooks(callbacks)

    history = History(task=task, metric_name="accuracy" if kind == "multiclass" else METRIC_NAMES[task])
    folder = None
    if save:
        label = name or type(model).__name__.lower()
        folder = _fresh_dir(Path(run_dir)) if run_dir is not None else new_run_dir(label)
        config = {"model": type(model).__name__, "task": task, "epochs": epochs, "batch_size": batch_size,
                  "lr": lr, "optimizer": optimizer, "weight_decay": weight_decay, "schedule": schedule,
                  "augment": [a for a in augment if isinstance(a, str)], "seed": seed,
                  "class_weight": class_weight if isinstance(class_weight, (str, type(None), float, int))
                  else list(map(float, class_weight)), "device": str(device)}
        _atomic_write(folder / "config.json", lambda f: f.write(json.dumps(config, indent=1).encode()))

    def run_epoch(epoch: int) -> tuple[float, float]:
        """One pass over the training data; returns (loss, metric) measured on the way."""
        model.train()
        running = _MetricSum(task, kind, device)
        for b, (xb, yb) in enumerate(train_batches, start=1):
            if aug is not None:
                xb, yb = (aug(xb), yb) if task == "classification" else aug(xb, yb, target_mode=target_mode)
            with torch.autocast(device.type, dtype=torch.float16, enabled=use_amp):
                out = model(xb)
                batch_loss = criterion(out, yb)
            opt.zero_grad(set_to_none=True)
            scaler.scale(batch_loss).backward()
            scaler.step(opt)
            scaler.update()
            if scheduler is not None:
                scheduler.step()
            running.add(batch_loss, out, yb)
            for hook in batch_hooks:
                hook(epoch, b)
            if stop_event is not None and stop_event.is_set():
                raise _StopRequested
        return running.result()

    def evaluate() -> tuple[float, float]:
        model.eval()
        total = _MetricSum(task, kind, device)
        with torch.inference_mode(), torch.autocast(device.type, dtype=torch.float16, enabled=use_amp):
            for xb, yb in val_batches:
                out = model(xb)
                total.add(criterion(out, yb), out, yb)
        return total.result()

    best_state: dict[str, torch.Tensor] | None = None
    best_epoch, best_loss = 0, math.inf
    reason = "completed"
    from tqdm.auto import tqdm  # noqa: PLC0415

    bar = tqdm(total=epochs, desc=name or type(model).__name__, unit="epoch", disable=not progress, leave=True)
    try:
        for epoch in range(1, epochs + 1):
            t0 = time.perf_counter()
            train_loss, train_metric = run_epoch(epoch)
            val_loss, val_metric = evaluate()
            history.append(train_loss=train_loss, val_loss=val_loss, train_metric=train_metric,
                           val_metric=val_metric, lr=opt.param_groups[0]["lr"], seconds=time.perf_counter() - t0)
            stop = monitor.update(history).stop if monitor is not None else False
            if val_loss < best_loss:  # the best epoch: lowest validation loss so far
                if folder is not None:
                    save_checkpoint(folder / "best.pt", model, epoch=epoch, val_loss=val_loss,
                                    val_metric=val_metric, metric_name=history.metric_name, task=task)
                best_state = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
                best_epoch, best_loss = epoch, val_loss
            if folder is not None:
                history.save(folder / "history.json")
            bar.update(1)
            bar.set_postfix(train_loss=f"{train_loss:.4f}", val_loss=f"{val_loss:.4f}",
                            **{f"val_{history.metric_name}": f"{val_metric:.3f}"})
            for hook in epoch_hooks:
                hook(history)
            if not math.isfinite(train_loss):
                reason = "diverged"
                break
            if stop:
                reason = "early stop"
                break
    except (KeyboardInterrupt, _StopRequested):
        reason = "interrupted"
    finally:
        bar.close()
    restore = monitor is None or monitor.restore_best
    if best_state is not None and (restore or reason == "interrupted"):
        model.load_state_dict(best_state)
    if folder is not None:
        history.save(folder / "history.json")
    model.eval()
    return FitResult(model=model, history=history, best_epoch=best_epoch,
                     stopped_early=reason in ("early stop", "diverged"), interrupted=reason == "interrupted",
                     run_dir=folder, stop_reason=reason, seconds=time.perf_counter() - started)


# --------------------------------------------------------------------------------------
# predict
# --------------------------------------------------------------------------------------

def predict(model: nn.Module, x: Any, *, batch_size: int = 256, device: str | torch.device | None = None,
            activation: str = "auto") -> np.ndarray:
    """Model outputs as probabilities, in batches, without gradients.

    ``activation="auto"``: one logit -> sigmoid, shape ``(N,)``; K logits -> softmax,
    ``(N, K)``; a one-channel map ``(N, 1, H, W)`` -> sigmoid, ``(N, H, W)``. Use
    ``"sigmoid"`` for multi-label outputs and ``"none"`` for raw outputs (denoising).
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
    was_training = model.training
    model.eval()
    outs = []
    try:
        with torch.inference_mode():
            for start in range(0, len(x), batch_size):
                out = model(x[start:start + batch_size].to(device).float()).float()
                outs.append(_probabilities(out, activation).cpu())
    finally:
        model.train(was_training)
    return torch.cat(outs).numpy() if outs else np.zeros((0,), dtype=np.float32)


def _probabilities(out: torch.Tensor, activation: str) -> torch.Tensor:
    if activation == "none":
        return out
    if activation == "auto":
        activation = "softmax" if out.ndim == 2 and out.shape[1] > 1 else "sigmoid"
    if activation == "softmax":
        return torch.softmax(out, dim=1)
    prob = torch.sigmoid(out)
    return prob[:, 0] if prob.ndim in (2, 4) and prob.shape[1] == 1 else prob


__all__ = ["Callback", "DiceBCELoss", "FitResult", "History", "fit", "load_checkpoint", "make_loss",
           "new_run_dir", "predict", "roc_auc", "save_checkpoint"]
