"""``History``: the per-epoch record of a training run (losses, metrics, learning rate, time), as JSON.

Written by :func:`radlab.train.fit` after every epoch, read by the overfitting monitor,
the learning-curve figures and the labs.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from radlab.errors import DataError
from radlab.runs import atomic_write


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
        atomic_write(path, lambda f: f.write(json.dumps(self.to_dict(), indent=1).encode()))
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


__all__ = ["History"]
