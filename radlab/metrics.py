"""How good is the model, and how sure are we? Metrics for classification, segmentation and denoising.

- ROC curve and AUC with a stratified-bootstrap 95 % confidence interval;
- what happens at one threshold: sensitivity, specificity, PPV, NPV, confusion matrix;
- how to choose that threshold (on validation!) and how PPV/NPV move with prevalence;
- calibration (reliability bins, expected calibration error);
- class imbalance: class weights, ``pos_weight``, a balanced sampler, balanced accuracy;
- segmentation (Dice, IoU) and denoising (PSNR, SSIM), from :mod:`radlab.image_metrics`;
- :class:`TestSetGuard` (:mod:`radlab.testset`), which counts looks at the test set and warns from the second on.

Everything is plain NumPy (SSIM uses a torch convolution) and checked against
scikit-learn, scikit-image and torchmetrics in ``tests/test_metrics.py``. Labels are 0/1
with 1 = the positive finding (e.g. pneumonia); scores are probabilities or any number
that is higher for "more likely positive".
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from radlab.errors import DataError
from radlab.image_metrics import dice, iou, psnr, ssim  # noqa: F401  (re-exported: one place to find a metric)
from radlab.testset import TestSetGuard, TestSetWarning  # noqa: F401  (re-exported)

# ---------------------------------------------------------------------------- input checks


def _binary_inputs(y_true: Any, y_score: Any) -> tuple[np.ndarray, np.ndarray]:
    """Labels as 0/1 ints and scores as floats, both 1-D and of the same length."""
    y = np.asarray(y_true).reshape(-1)
    s = np.asarray(y_score, dtype=np.float64).reshape(-1)
    if y.shape != s.shape:
        raise DataError(f"{y.size} labels but {s.size} scores",
                        fix="pass one score per image (for a 2-column softmax output use column 1)")
    if not np.isin(y, (0, 1)).all():
        raise DataError(f"labels must be 0 or 1, got values {np.unique(y)[:5]}",
                        fix="binarise the labels first, e.g. y = (labels == positive_class)")
    if not np.isfinite(s).all():
        raise DataError("scores contain NaN or infinity", fix="check the model output for NaN (diverged training?)")
    return y.astype(np.int64), s


def _both_classes(y: np.ndarray) -> None:
    if y.min() == y.max():
        raise DataError(f"only one class ({int(y[0])}) is present, so the ROC curve is undefined",
                        fix="evaluate on a set with both positive and negative cases")


def _ratio(num: float, den: float) -> float:
    """num / den, or NaN when the denominator is 0 (e.g. PPV when nothing is called positive)."""
    return float(num) / float(den) if den else float("nan")


# ---------------------------------------------------------------------------- ROC and AUC


def roc_curve(y_true: Any, y_score: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """False/true positive rates at every distinct score used as threshold (``score >= t`` is positive).

    The first threshold is +inf (nothing positive: the point (0, 0)), like scikit-learn's
    ``roc_curve(..., drop_intermediate=False)``.
    """
    y, s = _binary_inputs(y_true, y_score)
    _both_classes(y)
    order = np.argsort(-s, kind="mergesort")
    s, y = s[order], y[order]
    last_of_each_value = np.r_[np.flatnonzero(np.diff(s)), y.size - 1]
    tps = np.cumsum(y)[last_of_each_value]
    fps = (last_of_each_value + 1) - tps
    tpr = np.r_[0.0, tps / tps[-1]]
    fpr = np.r_[0.0, fps / fps[-1]]
    return fpr, tpr, np.r_[np.inf, s[last_of_each_value]]


def roc_auc(y_true: Any, y_score: Any, *, undefined: str = "raise") -> float:
    """Area under the ROC curve = the probability that a random positive outscores a random negative.

    Computed from ranks (the Mann–Whitney U statistic; ties count one half). The one AUC of
    RadLab (training, reference runs, attacks and the labs all call it):

    - binary: labels ``(N,)`` or ``(N, 1)`` of 0/1, scores ``(N,)`` or ``(N, 1)``;
    - multi-label: labels and scores ``(N, K)``: the mean AUC over the K findings (macro);
    - multi-class: labels ``(N,)`` of class numbers, scores ``(N, K)`` (e.g. softmax): the
      mean one-vs-rest AUC (scikit-learn's ``multi_class="ovr"``).

    The AUC is undefined when a class (or a finding's column) has only one kind of label,
    or when scores are NaN/inf. ``undefined="raise"`` (the default) raises a
    :class:`~radlab.errors.DataError` that says so; ``undefined="nan"`` returns NaN instead
    and, for multi-label/multi-class data, averages the columns whose AUC is defined (what
    ``fit`` wants: a validation batch with one class must not stop training).
    """
    if undefined not in ("raise", "nan"):
        raise ValueError(f"undefined={undefined!r}: use 'raise' or 'nan'")
    y, s = np.asarray(y_true), np.asarray(y_score, dtype=np.float64)
    if y.ndim == 2 and y.shape[1] == 1:  # binary labels as a column
        y = y[:, 0]
    if s.ndim == 2 and s.shape[1] == 1:
        s = s[:, 0]
    if s.ndim == 2:  # one column per finding (multi-label) or per class (multi-class, one-vs-rest)
        if len(y) != len(s):
            raise DataError(f"{len(y)} labels but {len(s)} rows of scores", fix="pass one row of scores per image")
        columns = y if y.ndim == 2 else (y.reshape(-1, 1) == np.arange(s.shape[1])).astype(np.int64)
        if columns.shape != s.shape:
            raise DataError(f"labels of shape {y.shape} do not match scores of shape {s.shape}",
                            fix="multi-label: one 0/1 column per finding; multi-class: one class number per image")
        per_column = [roc_auc(columns[:, k], s[:, k], undefined=undefined) for k in range(s.shape[1])]
        defined = [a for a in per_column if math.isfinite(a)]
        return float(np.mean(defined)) if defined else float("nan")
    if undefined == "nan":
        if y.size == s.size and (not np.isfinite(s).all() or np.unique(y).size < 2):
            return float("nan")
    y, s = _binary_inputs(y, s)
    _both_classes(y)
    return float(_auc_from_ranks(y[None], s[None])[0])


def average_ranks(s: np.ndarray) -> np.ndarray:
    """Ranks 1…n along each row of a 2-D array of finite scores, tied scores sharing their average rank:
    ``scipy.stats.rankdata(s, axis=1)`` (the test checks it is), without importing scipy.stats, which
    took 0.4–1 s of a lab kernel's start for this one function."""
    s = np.asarray(s)
    rows, n = s.shape
    order = np.argsort(s, axis=1, kind="stable")
    ordered = np.take_along_axis(s, order, axis=1)
    starts = np.ones((rows, n), dtype=bool)              # where a run of equal scores begins
    starts[:, 1:] = ordered[:, 1:] != ordered[:, :-1]
    run = np.cumsum(starts.ravel()) - 1                  # run number, counted through all rows
    position = np.tile(np.arange(1, n + 1, dtype=np.float64), rows)
    mean_position = np.bincount(run, weights=position) / np.bincount(run)
    ranks = np.empty((rows, n), dtype=np.float64)
    np.put_along_axis(ranks, order, mean_position[run].reshape(rows, n), axis=1)
    return ranks


def _auc_from_ranks(y: np.ndarray, s: np.ndarray) -> np.ndarray:
    """AUC of each row of (labels, scores) matrices, vectorised for the bootstrap."""
    ranks = average_ranks(s)
    n_pos = y.sum(axis=1)
    n_neg = y.shape[1] - n_pos
    rank_sum = (ranks * y).sum(axis=1)
    return (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


@dataclass
class AUCResult:
    """AUC with its bootstrap confidence interval, and the ROC curve with a pointwise band."""

    auc: float
    low: float                 # lower end of the (1 - alpha) confidence interval
    high: float                # upper end
    fpr: np.ndarray
    tpr: np.ndarray
    thresholds: np.ndarray
    n_boot: int
    alpha: float
    seed: int
    n_pos: int
    n_neg: int
    boot_aucs: np.ndarray      # the AUC of every bootstrap resample
    fpr_grid: np.ndarray       # false positive rates at which the band is given
    tpr_low: np.ndarray        # the band: pointwise percentiles of the resampled ROC curves
    tpr_high: np.ndarray

    @property
    def level(self) -> float:
        """Confidence level, e.g. 0.95."""
        return 1.0 - self.alpha

    def __str__(self) -> str:
        return (f"AUC {self.auc:.3f} ({100 * self.level:.0f}% CI {self.low:.3f}–{self.high:.3f}; "
                f"{self.n_pos} positive, {self.n_neg} negative, {self.n_boot} stratified bootstrap resamples)")


def roc_auc_ci(y_true: Any, y_score: Any, *, n_boot: int = 1000, seed: int = 0, alpha: float = 0.05,
               n_grid: int = 101) -> AUCResult:
    """ROC AUC with a stratified bootstrap (1 - alpha) confidence interval (percentile method).

    Each resample draws the positives from the positives and the negatives from the
    negatives (with replacement), so every resample keeps the test set's prevalence and
    always has both classes. The same ``seed`` always gives the same interval.
    """
    y, s = _binary_inputs(y_true, y_score)
    _both_classes(y)
    if n_boot < 1 or not 0.0 < alpha < 1.0:
        raise ValueError(f"need n_boot >= 1 and 0 < alpha < 1, got n_boot={n_boot}, alpha={alpha}")
    fpr, tpr, thresholds = roc_curve(y, s)
    pos, neg = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    rng = np.random.default_rng(seed)
    idx = np.concatenate([rng.choice(pos, size=(n_boot, pos.size)),
                          rng.choice(neg, size=(n_boot, neg.size))], axis=1)
    boot = _auc_from_ranks(y[idx], s[idx])
    low, high = np.quantile(boot, [alpha / 2, 1 - alpha / 2])

    grid = np.linspace(0.0, 1.0, n_grid)            # "vertical averaging" of the resampled curves
    curves = np.empty((n_boot, n_grid))
    for b in range(n_boot):
        f, t, _ = roc_curve(y[idx[b]], s[idx[b]])
        curves[b] = np.interp(grid, f, t)
    tpr_low, tpr_high = np.quantile(curves, [alpha / 2, 1 - alpha / 2], axis=0)
    return AUCResult(auc=roc_auc(y, s), low=float(low), high=float(high), fpr=fpr, tpr=tpr,
                     thresholds=thresholds, n_boot=n_boot, alpha=alpha, seed=seed, n_pos=pos.size,
                     n_neg=neg.size, boot_aucs=boot, fpr_grid=grid, tpr_low=tpr_low, tpr_high=tpr_high)


# ---------------------------------------------------------------------------- one threshold


def confusion_matrix(y_true: Any, y_pred: Any, n_classes: int | None = None) -> np.ndarray:
    """Counts ``[true class, predicted class]``; for 0/1 labels ``[[TN, FP], [FN, TP]]`` (scikit-learn's layout)."""
    y = np.asarray(y_true).reshape(-1).astype(np.int64)
    p = np.asarray(y_pred).reshape(-1).astype(np.int64)
    if y.shape != p.shape:
        raise DataError(f"{y.size} labels but {p.size} predictions", fix="pass one prediction per image")
    k = n_classes or int(max(y.max(initial=0), p.max(initial=0)) + 1)
    cm = np.zeros((k, k), dtype=np.int64)
    np.add.at(cm, (y, p), 1)
    return cm


def balanced_accuracy(y_true: Any, y_pred: Any) -> float:
    """The mean of the per-class recalls: a classifier that always says "pneumonia" scores 0.5, not 0.74."""
    cm = confusion_matrix(y_true, y_pred)
    present = cm.sum(axis=1) > 0
    return float(np.mean(np.diag(cm)[present] / cm.sum(axis=1)[present]))


def threshold_metrics(y_true: Any, y_score: Any, threshold: float) -> dict[str, float]:
    """Sensitivity, specificity, PPV, NPV, accuracy, balanced accuracy and the four counts at ``threshold``.

    An image is called positive when ``score >= threshold``. A ratio whose denominator is 0
    (e.g. PPV when nothing is called positive) is NaN.
    """
    y, s = _binary_inputs(y_true, y_score)
    pred = s >= threshold
    tp = int(np.sum(pred & (y == 1)))
    fp = int(np.sum(pred & (y == 0)))
    fn = int(np.sum(~pred & (y == 1)))
    tn = int(np.sum(~pred & (y == 0)))
    sens, spec = _ratio(tp, tp + fn), _ratio(tn, tn + fp)
    return {"threshold": float(threshold), "sensitivity": sens, "specificity": spec,
            "ppv": _ratio(tp, tp + fp), "npv": _ratio(tn, tn + fn), "accuracy": _ratio(tp + tn, y.size),
            "balanced_accuracy": float(np.nanmean([sens, spec])) if not (math.isnan(sens) and math.isnan(spec))
            else float("nan"),
            "prevalence": _ratio(tp + fn, y.size), "tp": tp, "fp": fp, "tn": tn, "fn": fn}


def threshold_sweep(y_true: Any, y_score: Any, thresholds: Sequence[float] | None = None) -> dict[str, np.ndarray]:
    """:func:`threshold_metrics` at many thresholds at once (default 0, 0.01, …, 1), as arrays."""
    y, s = _binary_inputs(y_true, y_score)
    t = np.linspace(0.0, 1.0, 101) if thresholds is None else np.asarray(thresholds, dtype=np.float64)
    pos, neg = np.sort(s[y == 1]), np.sort(s[y == 0])
    tp = pos.size - np.searchsorted(pos, t, side="left")     # positives with score >= t
    fp = neg.size - np.searchsorted(neg, t, side="left")
    fn, tn = pos.size - tp, neg.size - fp
    with np.errstate(invalid="ignore", divide="ignore"):
        out = {"threshold": t, "sensitivity": tp / pos.size, "specificity": tn / neg.size,
               "ppv": np.where(tp + fp > 0, tp / np.maximum(tp + fp, 1), np.nan),
               "npv": np.where(tn + fn > 0, tn / np.maximum(tn + fn, 1), np.nan),
               "accuracy": (tp + tn) / y.size}
    out["balanced_accuracy"] = (out["sensitivity"] + out["specificity"]) / 2
    return out


THRESHOLD_RULES = {
    "youden": "maximise sensitivity + specificity − 1 (Youden's J)",
    "accuracy": "maximise accuracy (depends on the prevalence of the set it is tuned on!)",
    "sensitivity": "the highest threshold that keeps sensitivity ≥ target (a screening choice)",
    "0.5": "the default 0.5 (no tuning)",
}


def choose_threshold(y_true: Any, y_score: Any, rule: str = "youden", *, target: float = 0.9) -> float:
    """Pick a decision threshold on **validation** data by one of :data:`THRESHOLD_RULES`.

    Candidate thresholds are the observed scores; ``score >= threshold`` is positive.
    """
    if rule == "0.5":
        return 0.5
    if rule not in THRESHOLD_RULES:
        raise ValueError(f"unknown rule {rule!r}; choose one of {list(THRESHOLD_RULES)}")
    y, s = _binary_inputs(y_true, y_score)
    fpr, tpr, thresholds = roc_curve(y, s)
    fpr, tpr, thresholds = fpr[1:], tpr[1:], thresholds[1:]            # drop the +inf threshold
    if rule == "youden":
        best = int(np.argmax(tpr - fpr))
    elif rule == "accuracy":
        n_pos = y.sum()
        best = int(np.argmax(tpr * n_pos + (1 - fpr) * (y.size - n_pos)))
    else:
        if not 0.0 < target <= 1.0:
            raise ValueError(f"target sensitivity must be in (0, 1], got {target}")
        best = int(np.flatnonzero(tpr >= target)[0])                   # thresholds fall as tpr rises
    return float(thresholds[best])


def ppv_npv_at_prevalence(sensitivity: float, specificity: float, prevalence: Any) -> tuple[Any, Any]:
    """PPV and NPV that a test with this sensitivity and specificity has at another prevalence (Bayes' rule).

    Sensitivity and specificity do not depend on how common the disease is; PPV and NPV
    do. ``prevalence`` may be a number or an array.
    """
    p = np.asarray(prevalence, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        ppv = sensitivity * p / (sensitivity * p + (1 - specificity) * (1 - p))
        npv = specificity * (1 - p) / (specificity * (1 - p) + (1 - sensitivity) * p)
    return (float(ppv), float(npv)) if p.ndim == 0 else (ppv, npv)


# ---------------------------------------------------------------------------- calibration


@dataclass
class CalibrationResult:
    """Reliability diagram data: per probability bin, the mean prediction and the observed positive rate."""

    bin_edges: np.ndarray        # (n_bins + 1,)
    mean_predicted: np.ndarray   # (n_bins,) NaN for empty bins
    fraction_positive: np.ndarray
    counts: np.ndarray           # images per bin
    ece: float                   # expected calibration error: sum over bins of |gap| weighted by bin size
    mce: float                   # maximum calibration error: the worst bin's |gap|


def calibration_curve(y_true: Any, y_prob: Any, *, n_bins: int = 10) -> CalibrationResult:
    """Bin the predicted probabilities into ``n_bins`` equal-width bins and compare with what happened.

    A calibrated model's "70 %" comes true 70 % of the time: its points lie on the diagonal.
    """
    y, p = _binary_inputs(y_true, y_prob)
    if p.min() < 0 or p.max() > 1:
        raise DataError("calibration needs probabilities in [0, 1]", fix="apply the sigmoid to the logits first")
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    which = np.clip(np.searchsorted(edges[1:-1], p, side="left"), 0, n_bins - 1)
    counts = np.bincount(which, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_pred = np.bincount(which, weights=p, minlength=n_bins) / counts
        frac_pos = np.bincount(which, weights=y, minlength=n_bins) / counts
    gaps = np.abs(frac_pos - mean_pred)
    filled = counts > 0
    return CalibrationResult(bin_edges=edges, mean_predicted=mean_pred, fraction_positive=frac_pos,
                             counts=counts, ece=float(np.sum(gaps[filled] * counts[filled]) / y.size),
                             mce=float(gaps[filled].max()))


# ---------------------------------------------------------------------------- class imbalance


def class_weights(labels: Any, n_classes: int | None = None) -> np.ndarray:
    """Weight per class ``n / (K · n_c)``: rare classes count more in a weighted loss (``CrossEntropyLoss(weight=...)``).

    Every class then contributes the same total weight, as if the data were balanced.
    """
    y = np.asarray(labels).reshape(-1).astype(np.int64)
    counts = np.bincount(y, minlength=n_classes or 0)
    if (counts == 0).any():
        raise DataError(f"class(es) {np.flatnonzero(counts == 0).tolist()} have no examples",
                        fix="check the labels, or pass n_classes equal to the classes that occur")
    return y.size / (counts.size * counts.astype(np.float64))


def pos_weight(labels: Any) -> float:
    """Negatives / positives: the ``pos_weight`` of ``BCEWithLogitsLoss`` that balances a binary task."""
    y = np.asarray(labels).reshape(-1)
    n_pos = int(np.sum(y == 1))
    if n_pos == 0:
        raise DataError("no positive examples, so no pos_weight", fix="check the labels (1 = positive finding)")
    return float(np.sum(y == 0)) / n_pos


def balanced_sampler(labels: Any, *, seed: int = 0,
                     num_samples: int | None = None) -> torch.utils.data.WeightedRandomSampler:
    """A sampler that draws each class equally often (with replacement): the other cure for imbalance.

    Use it as ``DataLoader(dataset, sampler=balanced_sampler(labels))``; rare images are
    then seen several times per epoch, common ones sometimes not at all.
    """
    y = np.asarray(labels).reshape(-1).astype(np.int64)
    per_image = 1.0 / np.bincount(y)[y]
    return torch.utils.data.WeightedRandomSampler(
        torch.as_tensor(per_image, dtype=torch.double), num_samples=num_samples or y.size,
        replacement=True, generator=torch.Generator().manual_seed(seed))
