"""One training loop for every task of the course: ``fit()``, its ``History``, and ``predict()``.

``fit(model, (x_train, y_train), (x_val, y_val), task=...)`` trains a classifier
(BCE-with-logits or cross-entropy), a segmentation network (Dice + BCE) or a denoiser
(MSE or L1) with mini-batch SGD / Adam / AdamW, a learning-rate schedule, weight decay,
augmentation on the device and class weights for imbalanced data. After every epoch it
measures the loss and a metric on the training and validation data (AUC or accuracy,
Dice, PSNR), keeps the best weights (lowest validation loss) in memory and in
``<run folder>/best.pt``, and asks an optional :class:`~radlab.monitor.OverfittingMonitor`
whether to stop early. Taught in Lab 3 (training) and the course's chapter on learning.

Seeded: the same ``seed`` on the same machine gives the same history and weights (on CPU;
GPUs can differ in the last bits). Interrupting (the stop button, or the kernel's
interrupt) ends training cleanly: the best weights are put back and the history is kept.
A crash (even ``kill -9``) leaves the run folder with the last complete ``best.pt`` and
``history.json``; a full or read-only disk stops training with a clear error and the best
weights in the model (see :mod:`radlab.runs`).

Losses live in :mod:`radlab.losses`, optimisers in :mod:`radlab.optim`, run folders and
checkpoints in :mod:`radlab.runs`, ``predict`` in :mod:`radlab.predict` (all re-exported
here), the AUC in :mod:`radlab.metrics`.
"""
from __future__ import annotations

import ctypes
import json
import math
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn as nn
from torch.utils.data import Dataset

from radlab.data.batches import (LoaderBatches, TensorBatches, as_tensor_pair, classification_kind, first_input,
                                 target_converter)
from radlab.data.transforms import augmentation as make_augmentation
from radlab.device import evaluating, pick_device, seed_everything
from radlab.history import History
from radlab.losses import LOSSES, DiceBCELoss, make_loss
from radlab.metrics import roc_auc
from radlab.optim import OPTIMIZERS, SCHEDULES, make_optimizer, make_schedule
from radlab.predict import predict
from radlab.runs import (RunFolderError, atomic_write, fresh_dir, load_checkpoint, new_run_dir, read_checkpoint,
                         save_checkpoint)

if TYPE_CHECKING:  # the monitor is passed in; train.py does not need to import it
    from radlab.monitor import OverfittingMonitor

TASKS = ("classification", "segmentation", "denoising")
METRIC_NAMES = {"classification": "AUC", "segmentation": "Dice", "denoising": "PSNR"}

#: The default classifier's recipe: ``fit(TeachingCNN(), train, val, **CLASSIFIER_RECIPE)``. Lab 3's
#: training lab starts from it; benchmarks/time_to_auc.py measures it against the previous recipe
#: (goal, issue 14: test AUC >= 0.96 on PneumoniaMNIST in at most 5 s of training on 2 CPU threads).
#: Few epochs at a higher peak learning rate (one-cycle); shifts but no flips (a mirrored chest
#: radiograph puts the heart on the right, and flips cost AUC in a short run); balanced class weights.
CLASSIFIER_RECIPE: dict[str, Any] = {"epochs": 4, "batch_size": 64, "lr": 6e-3, "schedule": "onecycle",
                                     "augment": ("shift",), "class_weight": "balanced"}


# --------------------------------------------------------------------------------------
# Result and callbacks
# --------------------------------------------------------------------------------------

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

    def on_fit_start(self, epochs: int, batches: int) -> None:
        """Before the first step: ``epochs`` to run, ``batches`` (optimisation steps) in each."""

    def on_batch_end(self, epoch: int, batch: int) -> None:
        """After every optimisation step (epochs and batches count from 1)."""

    def on_epoch_end(self, history: History) -> None:
        """After every epoch, once its numbers are in ``history``."""


@dataclass(frozen=True)
class ProgressState:
    """Where a run is: mini-batches done of all planned, seconds elapsed, and an estimate of the seconds left."""

    epoch: int
    epochs: int
    batch: int
    batches: int
    elapsed_s: float
    left_s: float | None      # None until one step has been timed

    @property
    def done(self) -> int:
        """Optimisation steps done so far, over all epochs."""
        return (self.epoch - 1) * self.batches + self.batch

    @property
    def total(self) -> int:
        """Optimisation steps planned (every epoch; early stopping may end sooner)."""
        return self.epochs * self.batches

    @property
    def fraction(self) -> float:
        """Share of the planned steps done, 0..1 (for a progress bar)."""
        return min(1.0, self.done / self.total) if self.total else 0.0

    def where(self) -> str:
        """``epoch 2/4 · batch 37/92``."""
        return f"epoch {self.epoch}/{self.epochs} · batch {self.batch}/{self.batches}"

    def text(self) -> str:
        """One line for a status bar, e.g. ``epoch 2/4 · batch 37/92 · 4.1 s left``."""
        return f"{self.where()} · {format_seconds_left(self.left_s)}"


def format_seconds_left(seconds: float | None) -> str:
    """``4.1 s left``, ``2 min 05 s left``, ``1 h 02 min left``; ``estimating time left…`` before the first estimate."""
    if seconds is None or not math.isfinite(seconds):
        return "estimating time left…"
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.1f} s left"
    whole = round(seconds)
    if whole < 3600:
        return f"{whole // 60} min {whole % 60:02d} s left"
    return f"{whole // 3600} h {whole % 3600 // 60:02d} min left"


class TrainingProgress(Callback):
    """Progress per mini-batch with an estimate of the time left, passed to ``on_update`` at most every ``interval_s``.

    ``fit(..., callbacks=[TrainingProgress(show)])`` calls ``show(state)`` with a
    :class:`ProgressState` after the first step, then at most every ``interval_s`` seconds
    (a widget's comm is not flooded), and after the run's last step. The estimate
    is the mean time per step so far (validation included, as it is part of every epoch)
    times the steps still to go. ``clock`` is for tests; it runs in whatever thread ``fit`` runs in.
    """

    def __init__(self, on_update: Callable[[ProgressState], Any], *, interval_s: float = 0.25,
                 clock: Callable[[], float] = time.monotonic):
        if not (math.isfinite(interval_s) and interval_s >= 0):
            raise ValueError(f"interval_s={interval_s!r}: use 0 (every step) or a few tenths of a second")
        self.on_update, self.interval_s, self.clock = on_update, float(interval_s), clock
        self.epochs, self.batches = 0, 0
        self.started: float | None = None
        self.last_shown: float | None = None
        self.state: ProgressState | None = None

    def on_fit_start(self, epochs: int, batches: int) -> None:
        self.epochs, self.batches = int(epochs), int(batches)
        self.started, self.last_shown, self.state = self.clock(), None, None

    def on_batch_end(self, epoch: int, batch: int) -> None:
        now = self.clock()
        if self.started is None:  # used without on_fit_start: count from here
            self.started = now
        state = ProgressState(epoch, self.epochs, batch, self.batches, now - self.started, None)
        if state.done > 0 and state.elapsed_s > 0:
            state = replace(state, left_s=state.elapsed_s / state.done * max(state.total - state.done, 0))
        self.state = state
        last_step = state.done >= state.total
        if self.last_shown is None or now - self.last_shown >= self.interval_s or last_step:
            self.last_shown = now
            self.on_update(self.state)


# --------------------------------------------------------------------------------------
# The metric of an epoch
# --------------------------------------------------------------------------------------

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
        return loss, roc_auc(y.numpy(), out.numpy() if self.kind == "multilabel" else out[:, 0].numpy(),
                             undefined="nan")  # a one-class batch must not stop training


# --------------------------------------------------------------------------------------
# fit
# --------------------------------------------------------------------------------------

def _check_options(task: str, epochs: int, batch_size: int, lr: float, optimizer: str,
                   weight_decay: float, schedule: str | None) -> None:
    """Refuse a bad option before any work is done, naming it and a value that works."""
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


def _callback_hooks(callbacks: Iterable[Any]) -> tuple[list[Callable], list[Callable], list[Callable]]:
    """Split ``callbacks`` into start, per-batch and per-epoch hooks (a plain function is per-epoch)."""
    start_hooks, batch_hooks, epoch_hooks = [], [], []
    for cb in callbacks:
        if isinstance(cb, Callback):
            start_hooks.append(cb.on_fit_start)
            batch_hooks.append(cb.on_batch_end)
            epoch_hooks.append(cb.on_epoch_end)
        elif callable(cb):
            epoch_hooks.append(cb)
        else:
            raise TypeError(f"callback {cb!r} is neither a Callback nor a function of the history")
    return start_hooks, batch_hooks, epoch_hooks


class _StopRequested(Exception):
    """Raised inside the loop when the stop flag is set (ends training like an interrupt)."""


@dataclass
class _Trainer:
    """Everything one optimisation step needs, built once by :func:`_prepare` (keeps ``fit`` short)."""

    model: nn.Module
    task: str
    kind: str                       # binary | multiclass | multilabel | image
    device: torch.device
    criterion: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler | None
    scaler: torch.amp.GradScaler
    use_amp: bool
    augment: Callable[..., Any] | None
    train_batches: TensorBatches | LoaderBatches
    val_batches: TensorBatches | LoaderBatches
    metric_name: str


def _probe_kind(model: nn.Module, train: Any, val: Any, task: str, device: torch.device) -> tuple[str, int]:
    """Run one validation image through the model: its output width decides the loss and metric."""
    with evaluating(model), torch.inference_mode():
        out_width = model(first_input(val).to(device)).shape[1]
    if task != "classification":
        return "image", out_width
    y_example = torch.as_tensor(np.asarray(train[1][:1])) if not isinstance(train, Dataset) else None
    return classification_kind(out_width, y_example), out_width


def _batches(data: Any, role: str, batch_size: int, *, shuffle: bool, device: torch.device,
             prepare: Callable[[torch.Tensor], torch.Tensor],
             generator: torch.Generator) -> TensorBatches | LoaderBatches:
    """Mini-batches of ``data`` on ``device``: tensors are sliced directly, Datasets use a DataLoader."""
    if isinstance(data, Dataset):
        return LoaderBatches(data, batch_size, shuffle=shuffle, device=device, prepare=prepare,
                              generator=generator if shuffle else None)
    x, y = as_tensor_pair(data, role)
    return TensorBatches(x.to(device), prepare(y).to(device), batch_size if shuffle else max(batch_size, 256),
                          shuffle=shuffle, generator=generator)


def _prepare(model: nn.Module, train: Any, val: Any, *, task: str, epochs: int, batch_size: int, lr: float,
             optimizer: str, weight_decay: float, schedule: str | None, augment: tuple[Any, ...],
             class_weight: Any, loss: str | None, device: torch.device, generator: torch.Generator,
             amp: bool | None) -> _Trainer:
    """Batches, loss, optimiser, schedule and mixed precision for a run (in this order: it keeps seeds exact)."""
    kind, out_width = _probe_kind(model, train, val, task, device)
    prepare = target_converter(task, kind)
    train_batches = _batches(train, "train", batch_size, shuffle=True, device=device, prepare=prepare,
                             generator=generator)
    val_batches = _batches(val, "val", batch_size, shuffle=False, device=device, prepare=prepare, generator=generator)
    targets = None
    if class_weight is not None and task == "classification":
        targets = (train_batches.y if isinstance(train_batches, TensorBatches)
                   else torch.cat([prepare(torch.as_tensor(item[1]).unsqueeze(0)) for item in train]))
    criterion = make_loss(task, loss, kind=kind, class_weight=class_weight, targets=targets,
                          n_outputs=out_width).to(device)
    aug = make_augmentation(augment)
    opt = make_optimizer(model, optimizer, lr, weight_decay)
    scheduler = make_schedule(opt, schedule, lr, epochs * len(train_batches))
    use_amp = (device.type == "cuda") if amp is None else (amp and device.type == "cuda")
    return _Trainer(model=model, task=task, kind=kind, device=device, criterion=criterion, optimizer=opt,
                    scheduler=scheduler, scaler=torch.amp.GradScaler("cuda", enabled=use_amp), use_amp=use_amp,
                    augment=aug, train_batches=train_batches, val_batches=val_batches,
                    metric_name="accuracy" if kind == "multiclass" else METRIC_NAMES[task])


def train_one_epoch(t: _Trainer, epoch: int, batch_hooks: Sequence[Callable] = (),
                    stop_event: threading.Event | None = None) -> tuple[float, float]:
    """One pass over the training data, one optimisation step per mini-batch; returns (loss, metric)."""
    t.model.train()
    running = _MetricSum(t.task, t.kind, t.device)
    for b, (xb, yb) in enumerate(t.train_batches, start=1):
        if t.augment is not None:  # segmentation masks move with their images; labels do not
            xb, yb = (t.augment(xb), yb) if t.task == "classification" else t.augment(
                xb, yb, target_mode="nearest" if t.task == "segmentation" else "bilinear")
        with torch.autocast(t.device.type, dtype=torch.float16, enabled=t.use_amp):
            out = t.model(xb)                       # forward
            batch_loss = t.criterion(out, yb)       # how wrong
        t.optimizer.zero_grad(set_to_none=True)
        t.scaler.scale(batch_loss).backward()       # gradients
        t.scaler.step(t.optimizer)                  # one step downhill
        t.scaler.update()
        if t.scheduler is not None:
            t.scheduler.step()
        running.add(batch_loss, out, yb)
        for hook in batch_hooks:
            hook(epoch, b)
        if stop_event is not None and stop_event.is_set():
            raise _StopRequested
    return running.result()


def evaluate(t: _Trainer) -> tuple[float, float]:
    """Loss and metric on the validation data, in eval mode and without gradients."""
    t.model.eval()
    total = _MetricSum(t.task, t.kind, t.device)
    with torch.inference_mode(), torch.autocast(t.device.type, dtype=torch.float16, enabled=t.use_amp):
        for xb, yb in t.val_batches:
            out = t.model(xb)
            total.add(t.criterion(out, yb), out, yb)
    return total.result()


def _open_run_folder(model: nn.Module, *, name: str | None, run_dir: str | Path | None,
                     config: dict[str, Any]) -> Path:
    """A new run folder (never an existing one) holding ``config.json``: what this run was."""
    folder = fresh_dir(Path(run_dir)) if run_dir is not None else new_run_dir(name or type(model).__name__.lower())
    atomic_write(folder / "config.json", lambda f: f.write(json.dumps(config, indent=1).encode()))
    return folder


def _run_config(model: nn.Module, device: torch.device, *, augment: tuple[Any, ...], seed: int,
                class_weight: Any, **settings: Any) -> dict[str, Any]:
    """The run's settings as JSON-able values (written to ``config.json``)."""
    weight = class_weight if isinstance(class_weight, (str, type(None), float, int)) else list(map(float, class_weight))
    return {"model": type(model).__name__, **settings, "augment": [a for a in augment if isinstance(a, str)],
            "seed": seed, "class_weight": weight, "device": str(device)}


class _BestWeights:
    """The weights of the epoch with the lowest validation loss so far, kept on the CPU."""

    def __init__(self) -> None:
        self.state: dict[str, torch.Tensor] | None = None
        self.epoch, self.loss = 0, math.inf

    def improves(self, val_loss: float) -> bool:
        return val_loss < self.loss

    def keep(self, model: nn.Module, epoch: int, val_loss: float) -> None:
        self.state = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
        self.epoch, self.loss = epoch, val_loss

    def restore(self, model: nn.Module) -> None:
        if self.state is not None:
            model.load_state_dict(self.state)


def _save_epoch(folder: Path | None, model: nn.Module, history: History, *, best: bool) -> None:
    """Checkpoint the best epoch, then the history: each file is replaced whole, never half-written."""
    if folder is None:
        return
    if best:
        save_checkpoint(folder / "best.pt", model, epoch=history.epoch[-1], val_loss=history.val_loss[-1],
                        val_metric=history.val_metric[-1], metric_name=history.metric_name, task=history.task)
    history.save(folder / "history.json")


def _progress_bar(total: int, desc: str, enabled: bool) -> Any:
    from tqdm.auto import tqdm  # noqa: PLC0415  (imported late: a notebook front end may not be ready at import)

    return tqdm(total=total, desc=desc, unit="epoch", disable=not enabled, leave=True)


def _show_progress(bar: Any, history: History) -> None:
    bar.update(1)
    bar.set_postfix(train_loss=f"{history.train_loss[-1]:.4f}", val_loss=f"{history.val_loss[-1]:.4f}",
                    **{f"val_{history.metric_name}": f"{history.val_metric[-1]:.3f}"})


def release_freed_memory() -> bool:
    """Give the memory a run freed back to the system (glibc's ``malloc_trim``); False where there is none.

    glibc keeps freed blocks (a run's batches, activations, gradients) in the process's heap for reuse, so
    a kernel that trained once stays at its peak size: ~130 MB more for Lab 3 (benchmarks/kernel_memory.py,
    without the hub's ``MALLOC_*`` settings). Other C libraries (macOS, musl, Windows) are left alone.
    """
    try:
        trim = ctypes.CDLL(None).malloc_trim     # the C library the interpreter runs on
    except (OSError, AttributeError, TypeError):  # not glibc, or (Windows) no such handle
        return False
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    trim(0)
    return True


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
    If the run folder cannot be written (disk full, read-only), fit raises a
    :class:`~radlab.runs.RunFolderError`; the model then holds the best weights so far.
    """
    # The lesson of the training loop, top to bottom (~60 lines of code): set up, then per
    # epoch train, validate, record, keep the best, stop when told. Set-up, checkpointing and
    # progress live in the named helpers above.
    _check_options(task, epochs, batch_size, lr, optimizer, weight_decay, schedule)
    augment = (augment,) if isinstance(augment, str) else tuple(augment or ())
    started = time.perf_counter()
    device = device if isinstance(device, torch.device) else pick_device(device)
    generator = seed_everything(seed)
    model.to(device)
    t = _prepare(model, train, val, task=task, epochs=epochs, batch_size=batch_size, lr=lr, optimizer=optimizer,
                 weight_decay=weight_decay, schedule=schedule, augment=augment, class_weight=class_weight,
                 loss=loss, device=device, generator=generator, amp=amp)
    start_hooks, batch_hooks, epoch_hooks = _callback_hooks(callbacks)
    history = History(task=task, metric_name=t.metric_name)
    folder = None
    if save:
        config = _run_config(model, device, task=task, epochs=epochs, batch_size=batch_size, lr=lr,
                             optimizer=optimizer, weight_decay=weight_decay, schedule=schedule, augment=augment,
                             seed=seed, class_weight=class_weight)
        folder = _open_run_folder(model, name=name, run_dir=run_dir, config=config)

    best, reason = _BestWeights(), "completed"
    bar = _progress_bar(epochs, name or type(model).__name__, progress)
    for hook in start_hooks:
        hook(epochs, len(t.train_batches))
    try:
        for epoch in range(1, epochs + 1):
            t0 = time.perf_counter()
            train_loss, train_metric = train_one_epoch(t, epoch, batch_hooks, stop_event)
            val_loss, val_metric = evaluate(t)
            history.append(train_loss=train_loss, val_loss=val_loss, train_metric=train_metric,
                           val_metric=val_metric, lr=t.optimizer.param_groups[0]["lr"],
                           seconds=time.perf_counter() - t0)
            stop = monitor.update(history).stop if monitor is not None else False
            is_best = best.improves(val_loss)    # the best epoch: lowest validation loss so far
            _save_epoch(folder, model, history, best=is_best)
            if is_best:
                best.keep(model, epoch, val_loss)
            _show_progress(bar, history)
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
    except RunFolderError:               # disk full / read-only: keep the best weights, then say so
        best.restore(model)
        model.eval()
        raise
    finally:
        bar.close()
    if best.state is not None and (monitor is None or monitor.restore_best or reason == "interrupted"):
        best.restore(model)
    if folder is not None:
        history.save(folder / "history.json")
    model.eval()
    del t                    # batches, optimiser state, schedule: freed, then handed back to the system
    release_freed_memory()
    return FitResult(model=model, history=history, best_epoch=best.epoch,
                     stopped_early=reason in ("early stop", "diverged"), interrupted=reason == "interrupted",
                     run_dir=folder, stop_reason=reason, seconds=time.perf_counter() - started)


__all__ = ["CLASSIFIER_RECIPE", "LOSSES", "OPTIMIZERS", "SCHEDULES", "Callback", "DiceBCELoss", "FitResult", "History", "ProgressState",
           "RunFolderError", "TrainingProgress", "evaluate", "fit", "format_seconds_left", "load_checkpoint",
           "make_loss", "new_run_dir", "predict", "read_checkpoint", "release_freed_memory", "save_checkpoint",
           "train_one_epoch"]
