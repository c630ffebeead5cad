"""Overfitting and its mitigations, each measured on the same data and seed (course chapter 6).

:func:`mitigation_study` trains one baseline and one variant per mitigation (more data,
augmentation, weight decay, dropout, a smaller model, batch normalisation, early stopping),
changing exactly one setting each time, and returns a table of the train-validation gap and
the validation AUC per run.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from radlab.device import seed_everything
from radlab.models.cnn import GapCNN
from radlab.monitor import OverfittingMonitor
from radlab.train import fit


@dataclass(frozen=True)
class Recipe:
    """One training recipe (chapter 6): which images, which model, which regularisers."""

    name: str
    more_data: bool = False
    augment: tuple[str, ...] = ()
    weight_decay: float = 0.0
    dropout: float = 0.0
    width: int = 16
    batchnorm: bool = True
    early_stopping: bool = False


BASELINE = Recipe("baseline (small data)")

#: The mitigations of chapter 6, each the baseline with exactly one setting changed.
MITIGATION_RECIPES: tuple[Recipe, ...] = (
    BASELINE,
    replace(BASELINE, name="more data", more_data=True),
    replace(BASELINE, name="augmentation", augment=("flip", "shift", "rotate")),
    replace(BASELINE, name="weight decay", weight_decay=0.1),
    replace(BASELINE, name="dropout", dropout=0.5),
    replace(BASELINE, name="smaller model", width=4),
    replace(BASELINE, name="no batch norm", batchnorm=False),
    replace(BASELINE, name="early stopping", early_stopping=True),
)


@dataclass
class MitigationRow:
    """One run of :func:`mitigation_study` (chapter 6): sizes, the gap, the AUC and the history."""

    name: str
    n_train: int
    trainable: int
    train_loss: float
    val_loss: float
    gap: float
    val_auc: float
    epochs_run: int
    history: Any = field(repr=False, default=None)

    def line(self) -> str:
        """One printable table row."""
        return (f"{self.name:<32} {self.n_train:>6} {self.trainable:>9,} {self.train_loss:>8.3f} "
                f"{self.val_loss:>8.3f} {self.gap:>+7.3f} {self.val_auc:>8.3f} {self.epochs_run:>6}")


HEADER = f"{'run':<32} {'images':>6} {'weights':>9} {'train':>8} {'val':>8} {'gap':>7} {'val AUC':>8} {'epochs':>6}"


def run_recipe(recipe: Recipe, x: Any, y: np.ndarray, small: np.ndarray, large: np.ndarray, val: np.ndarray, *,
               epochs: int, image_size: int, seed: int = 0, lr: float = 3e-3, batch_size: int = 16) -> MitigationRow:
    """Train one recipe from the same initial seed; report the final gap and the best validation AUC (chapter 6)."""
    train = large if recipe.more_data else small
    seed_everything(seed)
    model = GapCNN(width=recipe.width, n_blocks=3, dropout=recipe.dropout, batchnorm=recipe.batchnorm)
    monitor = OverfittingMonitor(patience=5, restore_best=True) if recipe.early_stopping else None
    result = fit(model, (x[train], y[train]), (x[val], y[val]), epochs=epochs, batch_size=batch_size, lr=lr,
                 schedule="onecycle", augment=recipe.augment, weight_decay=recipe.weight_decay, monitor=monitor,
                 seed=seed, save=False, progress=False)
    h = result.history
    # the row reports the weights the run hands back: the last epoch, or the best one when early stopping restored it
    k = (result.best_epoch - 1) if recipe.early_stopping else len(h.epoch) - 1
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return MitigationRow(recipe.name, int(len(train)), trainable, float(h.train_loss[k]), float(h.val_loss[k]),
                         float(h.val_loss[k] - h.train_loss[k]), float(h.val_metric[k]), len(h.epoch), h)


def mitigation_study(x: Any, y: np.ndarray, small: np.ndarray, large: np.ndarray, val: np.ndarray, *, epochs: int,
                     image_size: int, seed: int = 0, recipes: Sequence[Recipe] = MITIGATION_RECIPES,
                     **kwargs: Any) -> list[MitigationRow]:
    """Every recipe on the same images and seed: the chapter 6 table of gaps and validation AUCs."""
    if not set(small) <= set(large):
        raise ValueError("the small training set must be part of the large one (more data = the same patients and more)")
    return [run_recipe(r, x, y, small, large, val, epochs=epochs, image_size=image_size, seed=seed, **kwargs)
            for r in recipes]


__all__ = ["BASELINE", "HEADER", "MITIGATION_RECIPES", "MitigationRow", "Recipe", "mitigation_study", "run_recipe"]
