"""Data and ground truth, measured: label noise, readers who disagree, class imbalance, another site.

Taught in Chapter 5 (``course/05_data_and_ground_truth``). Every experiment uses the same
cheap model so that only the data change: CT phantom nodules (benign 0 / malignant 1)
described by intensity and texture features inside the mask, and a logistic regression
(:mod:`radlab.features`). Cohen's kappa is written out by hand (tests compare it with
scikit-learn's ``cohen_kappa_score``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
from scipy.ndimage import gaussian_filter

from radlab.errors import DataError


# --------------------------------------------------------------------------- the data

@dataclass
class NoduleData:
    """Feature rows of CT phantom nodules, with labels and patient ids (two slices per patient) (Chapter 5)."""

    X: np.ndarray
    y: np.ndarray
    patient_ids: np.ndarray
    crops_hu: np.ndarray
    masks: np.ndarray


def nodule_data(n_patients: int = 200, *, seed: int = 0, malignant_fraction: float | None = None,
                site: dict | None = None) -> NoduleData:
    """CT phantom nodules as intensity + GLCM features (no shape); optionally only ``malignant_fraction``
    malignant patients kept, and images passed through :func:`simulate_site` first (Chapter 5)."""
    from radlab.features import feature_table, phantom_malignancy_task  # noqa: PLC0415

    task = phantom_malignancy_task(n_patients, seed=seed)
    crops, masks, y = task["crops_hu"], task["masks"], task["y"]
    pid = task["phantoms"].patient_ids
    if malignant_fraction is not None:
        keep = _keep_prevalence(y, pid, malignant_fraction, seed)
        crops, masks, y, pid = crops[keep], masks[keep], y[keep], pid[keep]
    if site:
        crops = simulate_site(crops, seed=seed + 1, **site)
    X, _ = feature_table(crops, masks, lo=-1000.0, hi=200.0, shape=False)
    return NoduleData(X, y, pid, crops, masks)


def _keep_prevalence(y: np.ndarray, pid: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Indices of the images of all benign patients and just enough malignant ones for ``fraction`` malignant."""
    if not 0.0 < fraction < 1.0:
        raise DataError(f"malignant_fraction must lie in (0, 1), got {fraction}", fix="e.g. 0.05")
    rng = np.random.default_rng(seed)
    benign = np.unique(pid[y == 0])
    malignant = rng.permutation(np.unique(pid[y == 1]))
    n_mal = max(1, int(round(fraction / (1 - fraction) * len(benign))))
    if n_mal > len(malignant):
        raise DataError(f"not enough malignant patients for {fraction:.0%}", fix="ask for more patients")
    return np.flatnonzero(np.isin(pid, np.concatenate([benign, malignant[:n_mal]])))


def simulate_site(images_hu: Any, *, noise_hu: float = 0.0, blur_px: float = 0.0, offset_hu: float = 0.0,
                  seed: int = 0) -> np.ndarray:
    """Another scanner or protocol: a smoother or sharper kernel (blur), more quantum noise (lower dose),
    a calibration offset in HU (Chapter 5)."""
    x = np.asarray(images_hu, dtype=np.float32)
    if blur_px > 0:
        x = gaussian_filter(x, sigma=(0, blur_px, blur_px))
    rng = np.random.default_rng(seed)
    return (x + offset_hu + noise_hu * rng.standard_normal(x.shape)).astype(np.float32)


def patient_split(pid: np.ndarray, *, fractions: Sequence[float] = (0.6, 0.2, 0.2),
                  seed: int = 0) -> tuple[np.ndarray, ...]:
    """Image indices of train / validation / test, each patient in exactly one (Chapter 5)."""
    patients = np.random.default_rng(seed).permutation(np.unique(pid))
    cuts = np.cumsum([int(round(f * len(patients))) for f in fractions[:-1]])
    return tuple(np.flatnonzero(np.isin(pid, part)) for part in np.split(patients, cuts))


def _fit_score(X_train, y_train, X_eval, *, seed: int = 0, sample_weight=None) -> np.ndarray:
    from radlab.features import classical_classifier  # noqa: PLC0415

    clf = classical_classifier(seed=seed)
    clf.fit(X_train, y_train, logisticregression__sample_weight=sample_weight)
    return clf.predict_proba(X_eval)[:, 1]


# --------------------------------------------------------------------------- garbage in, garbage out

def flip_labels(labels: Any, fraction: float, *, seed: int = 0) -> np.ndarray:
    """A copy of binary ``labels`` with a random ``fraction`` of them flipped (Chapter 5)."""
    y = np.asarray(labels).astype(np.int64).copy()
    if not 0.0 <= fraction <= 1.0:
        raise DataError(f"fraction must lie in [0, 1], got {fraction}", fix="e.g. 0.2 flips one label in five")
    idx = np.random.default_rng(seed).choice(len(y), size=int(round(fraction * len(y))), replace=False)
    y[idx] = 1 - y[idx]
    return y


def label_noise_sweep(data: NoduleData, fractions: Sequence[float], *, seed: int = 0,
                      repeats: int = 3) -> dict[float, float]:
    """Validation AUC (against the TRUE labels) of a model trained on labels with each fraction flipped (Chapter 5)."""
    from radlab.metrics import roc_auc  # noqa: PLC0415

    tr, va, _ = patient_split(data.patient_ids, seed=seed)
    out = {}
    for f in fractions:
        aucs = [roc_auc(data.y[va], _fit_score(data.X[tr], flip_labels(data.y[tr], f, seed=seed + r), data.X[va],
                                              seed=seed)) for r in range(repeats)]
        out[float(f)] = float(np.mean(aucs))
    return out


# --------------------------------------------------------------------------- readers

def simulate_readers(truth: Any, n_readers: int = 5, *, noise: Sequence[float] | float = 0.8,
                     bias: Sequence[float] | None = None, seed: int = 0) -> np.ndarray:
    """Each reader calls each case malignant (1) or benign (0): the case's evidence plus the reader's own noise
    and threshold. Returns (n_readers, n_cases) (Chapter 5).

    A case's evidence is ±(a margin drawn per case): some cases are obvious, some borderline, and
    every reader sees the same case; ``bias`` > 0 makes a reader call malignant more readily.
    """
    y = np.asarray(truth).astype(np.int64)
    rng = np.random.default_rng(seed)
    evidence = (2 * y - 1) * np.abs(rng.normal(1.0, 0.8, len(y)))
    noise = np.broadcast_to(np.asarray(noise, dtype=np.float64), (n_readers,))
    bias = np.zeros(n_readers) if bias is None else np.asarray(bias, dtype=np.float64)
    if len(bias) != n_readers:
        raise DataError(f"{len(bias)} biases for {n_readers} readers", fix="one bias per reader")
    return np.stack([(evidence + noise[r] * rng.standard_normal(len(y)) + bias[r] > 0).astype(np.int64)
                     for r in range(n_readers)])


def cohen_kappa(a: Any, b: Any) -> float:
    """Agreement of two readers beyond chance: (p_observed − p_chance) / (1 − p_chance) (Chapter 5)."""
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape or a.size == 0:
        raise DataError(f"readings of shapes {a.shape} and {b.shape}", fix="give both readers' calls on the same cases")
    categories = np.union1d(a, b)
    p_observed = float(np.mean(a == b))
    p_chance = float(sum(np.mean(a == c) * np.mean(b == c) for c in categories))
    return 1.0 if p_chance == 1.0 else (p_observed - p_chance) / (1.0 - p_chance)


def kappa_matrix(readings: np.ndarray) -> np.ndarray:
    """Cohen's kappa for every pair of readers (1 on the diagonal) (Chapter 5)."""
    n = len(readings)
    return np.array([[cohen_kappa(readings[i], readings[j]) for j in range(n)] for i in range(n)])


def majority_vote(readings: np.ndarray) -> np.ndarray:
    """The reference standard of a panel: malignant when more than half the readers say so (Chapter 5)."""
    r = np.asarray(readings)
    return (2 * r.sum(axis=0) > r.shape[0]).astype(np.int64)


def reference_standard_experiment(data: NoduleData, readings: np.ndarray, *, seed: int = 0) -> dict[str, float]:
    """Train on each reader's labels and on the panel's majority vote; validation AUC against the truth (Chapter 5).

    ``readings`` are calls on every image of ``data`` (n_readers, n_images).
    """
    from radlab.metrics import roc_auc  # noqa: PLC0415

    tr, va, _ = patient_split(data.patient_ids, seed=seed)
    out = {f"reader {r + 1}": roc_auc(data.y[va], _fit_score(data.X[tr], readings[r][tr], data.X[va], seed=seed))
           for r in range(len(readings))}
    out["majority vote"] = roc_auc(data.y[va], _fit_score(data.X[tr], majority_vote(readings)[tr], data.X[va], seed=seed))
    out["true labels"] = roc_auc(data.y[va], _fit_score(data.X[tr], data.y[tr], data.X[va], seed=seed))
    return {k: float(v) for k, v in out.items()}


# --------------------------------------------------------------------------- class imbalance

def imbalance_experiment(data: NoduleData, *, seed: int = 0, threshold: float = 0.5) -> dict[str, dict[str, float]]:
    """On imbalanced data: 'always benign', a plain model, a weighted loss and a balanced sampler, each scored by
    accuracy, balanced accuracy, sensitivity, specificity and AUC on the test patients (Chapter 5)."""
    from radlab.metrics import balanced_accuracy, balanced_sampler, roc_auc  # noqa: PLC0415

    tr, _, te = patient_split(data.patient_ids, seed=seed)
    X, y = data.X, data.y
    if len(np.unique(y[te])) < 2 or len(np.unique(y[tr])) < 2:
        raise DataError("a split has no malignant case", fix="use more patients or a larger malignant fraction")
    weights = np.where(y[tr] == 1, np.sum(y[tr] == 0) / np.sum(y[tr] == 1), 1.0)    # pos_weight for the rare class
    resampled = tr[np.array(list(balanced_sampler(y[tr], seed=seed)))]
    scores = {"always benign": np.zeros(len(te)),
              "plain": _fit_score(X[tr], y[tr], X[te], seed=seed),
              "weighted loss": _fit_score(X[tr], y[tr], X[te], seed=seed, sample_weight=weights),
              "balanced sampler": _fit_score(X[resampled], y[resampled], X[te], seed=seed)}
    out = {}
    for name, s in scores.items():
        pred = (s >= threshold).astype(np.int64) if name != "always benign" else np.zeros(len(te), np.int64)
        yt = y[te]
        out[name] = {"accuracy": float(np.mean(pred == yt)), "balanced accuracy": float(balanced_accuracy(yt, pred)),
                     "sensitivity": float(np.mean(pred[yt == 1] == 1)), "specificity": float(np.mean(pred[yt == 0] == 0)),
                     "AUC": float(roc_auc(yt, s)) if name != "always benign" else 0.5}
    return out


# --------------------------------------------------------------------------- external validation

def external_validation(train_site: NoduleData, others: dict[str, NoduleData], *, seed: int = 0,
                        threshold: float = 0.5) -> dict[str, dict[str, float]]:
    """Train at one site; AUC, sensitivity and specificity (at ``threshold``) on that site's own test patients
    ("internal test") and on each data set of ``others`` (new patients, other scanners) (Chapter 5)."""
    from radlab.features import classical_classifier  # noqa: PLC0415
    from radlab.metrics import roc_auc  # noqa: PLC0415

    tr, _, te = patient_split(train_site.patient_ids, seed=seed)
    clf = classical_classifier(seed=seed).fit(train_site.X[tr], train_site.y[tr])
    sets = {"internal test": (train_site.X[te], train_site.y[te])}
    sets.update({name: (d.X, d.y) for name, d in others.items()})
    out = {}
    for name, (X, y) in sets.items():
        s = clf.predict_proba(X)[:, 1]
        pred = (s >= threshold).astype(np.int64)
        out[name] = {"AUC": float(roc_auc(y, s)), "sensitivity": float(np.mean(pred[y == 1] == 1)),
                     "specificity": float(np.mean(pred[y == 0] == 0))}
    return out


__all__ = ["NoduleData", "cohen_kappa", "external_validation", "flip_labels", "imbalance_experiment", "kappa_matrix",
           "label_noise_sweep", "majority_vote", "nodule_data", "patient_split", "reference_standard_experiment",
           "simulate_readers", "simulate_site"]
