"""Parameters and hyperparameters: counting them, the receptive field, and tuning on validation only.

Taught in Chapter 4 (``course/04_parameters_and_hyperparameters``). Learnable parameters are
what training fits (kernels, weights, biases); hyperparameters are what you choose before
training (Yamashita et al. 2018, Table 1). Choosing hyperparameters is itself a kind of
fitting: :func:`tuning_experiment` measures what happens to the reported performance when
the choice is made on the test set instead of the validation set.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from radlab.errors import DataError


def conv_parameters(kernel: int, in_channels: int, out_channels: int, *, bias: bool = True) -> int:
    """Learnable numbers in a 2-D convolution: k·k·C_in weights per kernel, C_out kernels, (+ C_out biases) (Chapter 4)."""
    return kernel * kernel * in_channels * out_channels + (out_channels if bias else 0)


def dense_parameters(n_in: int, n_out: int, *, bias: bool = True) -> int:
    """Learnable numbers in a fully connected layer: one weight per input–output pair (+ one bias per output) (Chapter 4)."""
    return n_in * n_out + (n_out if bias else 0)


def receptive_field(layers: Sequence[tuple[int, int]]) -> list[int]:
    """Receptive field after each layer, given (kernel, stride) pairs: r ← r + (k − 1)·j, j ← j·s (Chapter 4).

    ``j`` is the distance, in input pixels, between neighbouring outputs: a pooling layer with
    stride 2 doubles it, so every later 3×3 kernel adds twice as many input pixels.
    """
    r, j, out = 1, 1, []
    for kernel, stride in layers:
        if kernel < 1 or stride < 1:
            raise DataError(f"kernel {kernel} and stride {stride} must be >= 1", fix="e.g. [(3, 1), (2, 2)]")
        r, j = r + (kernel - 1) * j, j * stride
        out.append(r)
    return out


# --------------------------------------------------------------------------- tuning on validation only

@dataclass
class TuningResult:
    """Many hyperparameter settings, each scored on validation, on test, and on a large fresh set (Chapter 4)."""

    settings: list[dict]          # one dict per setting: {"C": ..., "features": (...)}
    val_auc: np.ndarray
    test_auc: np.ndarray
    fresh_auc: np.ndarray         # new patients: the performance the model will really have

    @property
    def chosen_on_val(self) -> int:
        return int(np.argmax(self.val_auc))

    @property
    def chosen_on_test(self) -> int:
        return int(np.argmax(self.test_auc))

    def summary(self) -> dict[str, float]:
        """Reported test AUC vs real (fresh-patient) AUC, for a choice made on validation and one made on test."""
        v, t = self.chosen_on_val, self.chosen_on_test
        return {"chosen on validation: reported test AUC": float(self.test_auc[v]),
                "chosen on validation: AUC on new patients": float(self.fresh_auc[v]),
                "chosen on test: reported test AUC": float(self.test_auc[t]),
                "chosen on test: AUC on new patients": float(self.fresh_auc[t])}


def _nodule_features(n_patients: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CT phantom nodules reduced to intensity and GLCM features inside the mask (no shape features:
    as if the outlines were too rough to trust): one row per slice, benign 0 / malignant 1, patient ids."""
    from radlab.features import feature_table, phantom_malignancy_task  # noqa: PLC0415

    task = phantom_malignancy_task(n_patients, seed=seed)
    X, _ = feature_table(task["crops_hu"], task["masks"], lo=-1000.0, hi=200.0, shape=False)
    return X, task["y"], task["phantoms"].patient_ids


def tuning_experiment(n_settings: int = 30, *, n_train: int = 60, n_val: int = 15, n_test: int = 15,
                      n_fresh: int = 200, seed: int = 0) -> TuningResult:
    """Try ``n_settings`` random (regularisation C, pair of features) settings of a logistic regression on CT
    phantom nodules (patients: ``n_train`` / ``n_val`` / ``n_test``, 2 slices each); score each on
    validation, test and ``n_fresh`` new patients (Chapter 4)."""
    from radlab.features import classical_classifier  # noqa: PLC0415
    from radlab.metrics import roc_auc  # noqa: PLC0415

    if n_settings < 2 or min(n_train, n_val, n_test, n_fresh) < 5:
        raise DataError("too few settings or patients for a tuning experiment",
                        fix="use n_settings >= 2 and at least 5 patients per set")
    X, y, pid = _nodule_features(n_train + n_val + n_test + n_fresh, seed)
    rng = np.random.default_rng(seed)
    patients = rng.permutation(np.unique(pid))
    sets = np.split(patients, np.cumsum([n_train, n_val, n_test]))
    tr, va, te, new = (np.flatnonzero(np.isin(pid, s)) for s in sets)    # split by patient
    X_new, y_new = X[new], y[new]                 # the patients the model will meet next: the truth
    settings, val, test, fresh = [], [], [], []
    for _ in range(n_settings):
        cols = tuple(sorted(rng.choice(X.shape[1], size=2, replace=False).tolist()))
        C = float(10 ** rng.uniform(-3, 2))
        clf = classical_classifier(C=C, seed=seed).fit(X[tr][:, cols], y[tr])
        settings.append({"C": C, "features": cols})
        val.append(roc_auc(y[va], clf.predict_proba(X[va][:, cols])[:, 1]))
        test.append(roc_auc(y[te], clf.predict_proba(X[te][:, cols])[:, 1]))
        fresh.append(roc_auc(y_new, clf.predict_proba(X_new[:, cols])[:, 1]))
    return TuningResult(settings, np.array(val), np.array(test), np.array(fresh))


def tuning_optimism(repeats: int = 5, **kwargs) -> dict[str, float]:
    """Average of :meth:`TuningResult.summary` over ``repeats`` seeds: how much choosing on test flatters (Chapter 4)."""
    base = int(kwargs.pop("seed", 0))
    rows = [tuning_experiment(seed=base + r, **kwargs).summary() for r in range(repeats)]
    return {k: float(np.mean([row[k] for row in rows])) for k in rows[0]}


__all__ = ["TuningResult", "conv_parameters", "dense_parameters", "receptive_field", "tuning_experiment",
           "tuning_optimism"]
