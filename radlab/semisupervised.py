"""Semi-supervised learning with pseudo-labels: unlabelled images labelled by the model itself (course chapter 7).

Lee's pseudo-label idea (2013), measured: train on the few labelled images, let the model
label a pool of unlabelled ones, keep only its most confident answers, train again on both.
The true labels of the pool are known here (phantoms), so the pseudo-labels' accuracy can be
reported, which real data never allows.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from radlab.device import seed_everything
from radlab.metrics import roc_auc
from radlab.models.cnn import GapCNN
from radlab.predict import predict
from radlab.train import fit


def confident_pseudo_labels(scores: Any, keep_fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the ``keep_fraction`` most confident scores (farthest from 0.5) and their 0/1 pseudo-labels (chapter 7)."""
    scores = np.asarray(scores, dtype=float).reshape(-1)
    if not 0.0 < keep_fraction <= 1.0:
        raise ValueError(f"keep_fraction must lie in (0, 1], got {keep_fraction}")
    n_keep = max(1, int(round(keep_fraction * len(scores))))
    order = np.argsort(-np.abs(scores - 0.5), kind="stable")[:n_keep]
    keep = np.sort(order)
    return keep, (scores[keep] >= 0.5).astype(np.int64)


@dataclass
class PseudoLabelResult:
    """Validation AUCs of chapter 7's pseudo-label experiment, and how right the pseudo-labels were."""

    n_labelled: int
    n_pseudo: int
    pseudo_accuracy: float
    auc_labelled_only: float
    auc_with_pseudo: float
    auc_all_labels: float

    def lines(self) -> list[str]:
        """The result as printable lines."""
        return [f"labelled only ({self.n_labelled} images):                 val AUC {self.auc_labelled_only:.3f}",
                f"+ {self.n_pseudo} pseudo-labelled ({self.pseudo_accuracy:.0%} of them right): val AUC "
                f"{self.auc_with_pseudo:.3f}",
                f"every pool image with its true label (the ceiling):  val AUC {self.auc_all_labels:.3f}"]


def _train(x: Any, y: np.ndarray, x_val: Any, y_val: np.ndarray, *, epochs: int, seed: int, width: int) -> Any:
    seed_everything(seed)
    return fit(GapCNN(width=width, n_blocks=3), (x, y), (x_val, y_val), epochs=epochs, batch_size=16, lr=3e-3,
               seed=seed, save=False, progress=False).model


def pseudo_label_experiment(x: Any, y: np.ndarray, labelled: np.ndarray, pool: np.ndarray, val: np.ndarray, *,
                            keep_fraction: float = 0.5, epochs: int = 12, seed: int = 0,
                            width: int = 16) -> PseudoLabelResult:
    """Labelled only vs labelled + confident pseudo-labels vs all true labels, same seed and epochs (chapter 7)."""
    y = np.asarray(y).reshape(-1)
    if np.intersect1d(labelled, pool).size or np.intersect1d(pool, val).size:
        raise ValueError("the labelled set, the unlabelled pool and the validation set must not overlap")
    x_val, y_val = x[val], y[val]
    first = _train(x[labelled], y[labelled], x_val, y_val, epochs=epochs, seed=seed, width=width)
    keep, pseudo = confident_pseudo_labels(predict(first, x[pool]), keep_fraction)
    both = np.concatenate([labelled, pool[keep]])
    second = _train(x[both], np.concatenate([y[labelled], pseudo]), x_val, y_val, epochs=epochs, seed=seed,
                    width=width)
    everything = np.concatenate([labelled, pool])
    ceiling = _train(x[everything], y[everything], x_val, y_val, epochs=epochs, seed=seed, width=width)
    return PseudoLabelResult(int(len(labelled)), int(len(keep)), float(np.mean(pseudo == y[pool][keep])),
                             float(roc_auc(y_val, predict(first, x_val))), float(roc_auc(y_val, predict(second, x_val))),
                             float(roc_auc(y_val, predict(ceiling, x_val))))


__all__ = ["PseudoLabelResult", "confident_pseudo_labels", "pseudo_label_experiment"]
