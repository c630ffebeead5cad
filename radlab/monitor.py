"""Watch training and validation loss: spot overfitting, stop early, and say what to try.

``fit(..., monitor=OverfittingMonitor(patience=3))`` calls :meth:`OverfittingMonitor.update`
after every epoch. The monitor follows the **gap** between validation and training loss.
While a model learns, both fall. When it starts to memorise the training images, training
loss keeps falling but validation loss turns up: the gap widens. After ``patience`` epochs
without a better validation loss the monitor stops training, and ``fit`` puts back the
weights of the best epoch (``restore_best``).

:func:`diagnose` reads a whole history and names what it sees (overfitting, underfitting,
still improving, unstable, good fit) and the mitigations the reviews list for it: more data,
augmentation, weight decay, dropout, batch normalisation, a smaller (or bigger) model, a
lower learning rate.

No widgets here: a live plot subscribes with :meth:`OverfittingMonitor.subscribe` and is
called after every epoch.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Protocol, Sequence


class HistoryLike(Protocol):
    """What the monitor reads from a :class:`radlab.train.History`."""

    epoch: list[int]
    train_loss: list[float]
    val_loss: list[float]
    train_metric: list[float]
    val_metric: list[float]
    task: str
    metric_name: str


#: Mitigations named by the reviews, with one line on why each helps.
MITIGATIONS: dict[str, str] = {
    "more data": "more training images, from more patients: the surest cure for memorising",
    "augmentation": "augmentation (flip, shift, rotate...): a slightly different image every epoch",
    "weight decay": "weight decay (1e-4 to 1e-2): keeps weights small, so the model stays simple",
    "dropout": "dropout (0.2-0.5): random units switched off, so no single feature is relied on",
    "batch norm": "batch normalisation: steadier training, and a mild regulariser",
    "smaller model": "a smaller model (fewer channels or blocks): less capacity to memorise",
    "early stopping": "early stopping: keep the weights of the epoch with the best validation loss",
    "bigger model": "a bigger model (more channels or blocks): more capacity to learn the pattern",
    "train longer": "more epochs: the curves have not levelled off yet",
    "higher learning rate": "a higher learning rate: the weights move too slowly",
    "less regularisation": "less regularisation (lower dropout / weight decay): it may hold learning back",
    "lower learning rate": "a lower learning rate (e.g. 10x smaller): big steps overshoot the minimum",
    "bigger batch": "a bigger batch: less noisy gradient steps",
}


@dataclass(frozen=True)
class Verdict:
    """The monitor's answer after one epoch."""

    stop: bool
    state: str  # "improving", "plateau", "overfitting" or "diverged"
    epochs_without_improvement: int


@dataclass(frozen=True)
class Diagnosis:
    """What a training history shows, the evidence, and what to try next."""

    kind: str  # "overfitting", "underfitting", "still improving", "unstable", "good fit", "too early", "no data"
    headline: str
    evidence: tuple[str, ...] = ()
    mitigations: tuple[str, ...] = ()

    def __str__(self) -> str:
        lines = [f"Diagnosis: {self.kind.upper()}. {self.headline}"]
        lines += [f"  - {e}" for e in self.evidence]
        if self.mitigations:
            lines.append("What to try:")
            lines += [f"  * {m}" for m in self.mitigations]
        return "\n".join(lines)


def _finite(values: Sequence[float]) -> bool:
    return all(math.isfinite(v) for v in values)


def _ups(values: Sequence[float], tolerance: float = 0.02) -> int:
    """How many epochs a loss went *up* by more than ``tolerance`` (relative)."""
    return sum(b > a * (1 + tolerance) for a, b in zip(values, values[1:]))


def _mitigation(name: str, note: str = "") -> str:
    return MITIGATIONS[name] + (f" ({note})" if note else "")


def _overfitting_advice(settings: Mapping[str, Any]) -> list[str]:
    """The overfitting mitigations, each tailored to the settings of the run when known."""
    advice = []
    fraction = settings.get("data_fraction")
    advice.append(_mitigation("more data", f"you train on {fraction:.0%} of the training images: use them all"
                              if fraction is not None and fraction < 1 else ""))
    augment = list(settings.get("augment") or [])
    advice.append(_mitigation("augmentation", f"you use {', '.join(augment)}: add another, e.g. rotate"
                              if augment else "you use none: try flip + shift"))
    wd = settings.get("weight_decay")
    advice.append(_mitigation("weight decay", "" if wd is None else
                              (f"now {wd:g}: try {max(wd * 10, 1e-4):g}" if wd else "now 0: try 1e-3")))
    dropout = settings.get("dropout")
    advice.append(_mitigation("dropout", "" if dropout is None else
                              (f"now {dropout:g}: try {min(dropout + 0.2, 0.6):.1f}" if dropout else "now 0: try 0.3")))
    if settings.get("batchnorm") is False:
        advice.append(_mitigation("batch norm", "it is off"))
    width = settings.get("width")
    advice.append(_mitigation("smaller model", f"width {width}: try {max(width // 2, 4)}" if width else ""))
    advice.append(_mitigation("early stopping"))
    if settings.get("batchnorm") is not False:
        advice.append(_mitigation("batch norm", "already on"))
    return advice


def diagnose(history: HistoryLike, *, min_delta: float = 0.005,
             settings: Mapping[str, Any] | None = None) -> Diagnosis:
    """Read a history and say what it shows: overfitting, underfitting, still improving, unstable, good fit.

    ``settings`` (optional: ``augment``, ``dropout``, ``weight_decay``, ``batchnorm``,
    ``width``, ``lr``, ``data_fraction``) tailors the advice, e.g. "dropout is 0: try 0.3".
    """
    # Long on purpose (~75 lines): one ordered decision list, read top to bottom like a
    # clinician's checklist; the first case that matches is the diagnosis. Splitting it into
    # helpers would hide the order, which is the point of the lesson.
    settings = dict(settings or {})
    train, val = list(history.train_loss), list(history.val_loss)
    n = len(train)
    if n == 0:
        return Diagnosis("no data", "No epoch has finished yet.")
    lr = settings.get("lr")
    lr_note = f"now {lr:g}: try {lr / 10:g}" if lr else ""
    if not (_finite(train) and _finite(val)):
        return Diagnosis("unstable", "The loss became NaN or infinite: training diverged.",
                         (f"train loss per epoch: {', '.join(f'{v:.3g}' for v in train)}",),
                         (_mitigation("lower learning rate", lr_note), _mitigation("batch norm")))
    if n < 3:
        return Diagnosis("too early", f"Only {n} epoch{'s' if n > 1 else ''}: too early to tell how training goes.",
                         (f"validation loss {', '.join(f'{v:.3f}' for v in val)}",),
                         (_mitigation("train longer", "at least 5 epochs to see a trend"),))
    gap = [v - t for t, v in zip(train, val)]
    best = min(range(n), key=val.__getitem__)
    metric = history.metric_name
    train_metric = list(history.train_metric)
    val_metric = list(history.val_metric)
    last_metric = (f"{metric}: train {train_metric[-1]:.3f}, validation {val_metric[-1]:.3f}"
                   if train_metric and val_metric else "")

    ups = _ups(train)
    if n >= 3 and (ups >= max(2, (n - 1) // 3) or train[-1] > train[0]):
        return Diagnosis(
            "unstable", "The training loss jumps up and down instead of falling: the learning rate is "
                        "probably too high.",
            (f"training loss rose in {ups} of {n - 1} epochs",
             f"first {train[0]:.3f} -> last {train[-1]:.3f}"),
            (_mitigation("lower learning rate", lr_note), _mitigation("batch norm"), _mitigation("bigger batch")))

    rose = val[-1] > val[best] * (1 + min_delta) and best < n - 1
    if rose and train[-1] < train[best] and gap[-1] > gap[best]:
        return Diagnosis(
            "overfitting", f"Validation loss was lowest at epoch {history.epoch[best]} and has risen since, "
                           "while training loss kept falling: the model is memorising the training images.",
            (f"gap (validation - training loss) widened from {gap[best]:.3f} to {gap[-1]:.3f}",
             f"validation loss {val[best]:.3f} -> {val[-1]:.3f}; training loss {train[best]:.3f} -> {train[-1]:.3f}",
             *([last_metric] if last_metric else [])),
            tuple(_overfitting_advice(settings)))

    poor_metric = {"AUC": 0.75, "accuracy": 0.6, "Dice": 0.5}.get(metric)
    barely_learnt = n >= 3 and train[-1] > 0.9 * train[0]
    if (poor_metric is not None and train_metric and train_metric[-1] < poor_metric) or barely_learnt:
        advice = [_mitigation("bigger model"), _mitigation("train longer")]
        if lr is not None and lr < 1e-3:
            advice.append(_mitigation("higher learning rate", f"now {lr:g}"))
        if (settings.get("dropout") or 0) >= 0.3 or (settings.get("weight_decay") or 0) >= 1e-2:
            advice.append(_mitigation("less regularisation"))
        if settings.get("batchnorm") is False:
            advice.append(_mitigation("batch norm", "it is off"))
        return Diagnosis(
            "underfitting", "The model does not fit even the training images well.",
            tuple(e for e in (f"training loss {train[0]:.3f} -> {train[-1]:.3f}", last_metric) if e),
            tuple(advice))

    if best == n - 1 and n >= 2 and val[-2] - val[-1] > min_delta * val[-2]:
        return Diagnosis(
            "still improving", "Validation loss is still falling at the last epoch: training could go on.",
            tuple(e for e in (f"validation loss {val[0]:.3f} -> {val[-1]:.3f}", last_metric) if e),
            (_mitigation("train longer", "the monitor will stop when validation loss turns up"),))

    return Diagnosis(
        "good fit", "Training and validation loss have levelled off together; the gap is small.",
        tuple(e for e in (f"best validation loss {val[best]:.3f} at epoch {history.epoch[best]}",
                          f"gap at the end {gap[-1]:.3f}", last_metric) if e),
        ())


@dataclass
class OverfittingMonitor:
    """Early stopping on validation loss, with the train/validation gap and a diagnosis.

    ``patience``: epochs without a better validation loss before stopping.
    ``min_delta``: smallest *relative* improvement that counts (0.005 = 0.5 %), so the same
    setting works for BCE, Dice and MSE losses of very different sizes.
    ``restore_best``: ``fit`` puts back the weights of the best epoch at the end.
    """

    patience: int = 3
    min_delta: float = 0.005
    restore_best: bool = True
    settings: dict[str, Any] = field(default_factory=dict)  # run settings, to tailor the advice
    best_epoch: int = field(default=0, init=False)
    best_val_loss: float = field(default=math.inf, init=False)
    epochs_without_improvement: int = field(default=0, init=False)
    stopped_epoch: int | None = field(default=None, init=False)
    state: str = field(default="not started", init=False)
    history: Any = field(default=None, init=False, repr=False)
    _listeners: list[Callable[[OverfittingMonitor], None]] = field(default_factory=list, init=False, repr=False)

    def __post_init__(self) -> None:
        if not (isinstance(self.patience, int) and self.patience >= 1):
            raise ValueError(f"patience={self.patience!r}: use a whole number of epochs >= 1")
        if not (0 <= self.min_delta < 1):
            raise ValueError(f"min_delta={self.min_delta!r}: use a fraction such as 0.005 (0.5 %)")

    def reset(self) -> None:
        """Forget everything seen, to watch a new run (listeners stay subscribed)."""
        self.best_epoch, self.best_val_loss = 0, math.inf
        self.epochs_without_improvement, self.stopped_epoch = 0, None
        self.state, self.history = "not started", None

    def subscribe(self, listener: Callable[[OverfittingMonitor], None]) -> None:
        """Call ``listener(monitor)`` after every epoch (how a live plot updates)."""
        self._listeners.append(listener)

    def update(self, history: HistoryLike) -> Verdict:
        """Look at the newest epoch of ``history``; say whether to stop."""
        if self.history is not history or len(history.epoch) < self.best_epoch:
            if self.history is not None:
                self.reset()
            self.history = history
        val, train, epoch = history.val_loss[-1], history.train_loss[-1], history.epoch[-1]
        if not (math.isfinite(val) and math.isfinite(train)):
            self.state, self.stopped_epoch = "diverged", epoch
            verdict = Verdict(True, self.state, self.epochs_without_improvement)
        else:
            if val < self.best_val_loss * (1 - self.min_delta) or not math.isfinite(self.best_val_loss):
                self.best_val_loss, self.best_epoch, self.epochs_without_improvement = val, epoch, 0
                self.state = "improving"
            else:
                self.epochs_without_improvement += 1
                i_best = history.epoch.index(self.best_epoch)
                widening = train < history.train_loss[i_best] and val - train > self.gap()[i_best]
                self.state = "overfitting" if widening else "plateau"
            stop = self.epochs_without_improvement >= self.patience
            if stop:
                self.stopped_epoch = epoch
            verdict = Verdict(stop, self.state, self.epochs_without_improvement)
        for listener in self._listeners:
            listener(self)
        return verdict

    def gap(self) -> list[float]:
        """Validation minus training loss for every epoch seen."""
        if self.history is None:
            return []
        return [v - t for t, v in zip(self.history.train_loss, self.history.val_loss)]

    def diagnosis(self, settings: Mapping[str, Any] | None = None) -> str:
        """Plain-text diagnosis of the run so far, with tailored mitigations."""
        if self.history is None:
            return "Diagnosis: NO DATA. No epoch has finished yet."
        merged = {**self.settings, **(settings or {})}
        text = str(diagnose(self.history, min_delta=self.min_delta, settings=merged))
        if self.stopped_epoch is not None and self.state != "diverged":
            note = (f"Stopped early after epoch {self.stopped_epoch}: validation loss had not improved "
                    f"for {self.patience} epochs.")
            if self.restore_best:
                note += f" The weights of epoch {self.best_epoch} (best validation loss) were restored."
            text += "\n" + note
        return text
