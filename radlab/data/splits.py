"""Train / validation / test splits by patient, k-fold cross-validation, and a leakage check.

Vocabulary (the course uses the machine-learning words):

- **train**: the images the model learns its weights from.
- **validation** (``val``; also called a *development* set): used again and again while
  building the model, to tune hyper-parameters, pick the epoch and choose between models.
- **test**: used **once**, at the very end, to measure how well the finished model does on
  patients it has never seen. In medicine this held-out evaluation is often called
  *validation* (as in "external validation"): a radiologist's "validation set" is an ML
  engineer's test set.

Images of one patient look alike (same anatomy, same scanner, same disease), so a model can
recognise the patient instead of the disease. If one patient has images in train and in test,
the test score is inflated: that is **leakage**. The cure is to split by patient: every
patient, with all their images, goes to exactly one split. ``split_by_image`` is the naive,
leaky way, kept for the lesson; ``check_leakage`` finds leaks afterwards (shared patients,
byte-identical images, near-identical images).
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from sklearn.model_selection import StratifiedGroupKFold, train_test_split

from radlab.data.duplicates import (DEFAULT_THRESHOLD, SIZE, NearDuplicate, RegistrationCache, as_2d,
                                   find_near_duplicates, prepare)
from radlab.errors import DataError

SPLIT_NAMES = ("train", "val", "test")
SPLIT_PAIRS = (("train", "val"), ("train", "test"), ("val", "test"))
_FORMAT = "radlab-split"
_VERSION = 1


# --------------------------------------------------------------------------------------
# The Split: three index arrays into one dataset, saved to JSON
# --------------------------------------------------------------------------------------

@dataclass(eq=False)
class Split:
    """Which images of a dataset are train, validation (``val``) and test, as index arrays.

    ``val`` is for tuning and model selection; ``test`` is looked at once, at the end (what
    medicine calls validation). ``n_images`` is the size of the dataset the indices point
    into, so a saved split cannot silently be applied to a different dataset.
    """

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    seed: int
    method: str  # "patient", "image", "kfold-patient" or "predefined"
    n_images: int = -1  # -1: take it as 1 + the largest index
    fold: int | None = None  # k-fold only: which fold is held out as val
    k: int | None = None

    def __post_init__(self) -> None:
        self.train, self.val, self.test = (_index_array(getattr(self, name), name)
                                           for name in SPLIT_NAMES)
        largest = max((int(a.max()) for a in (self.train, self.val, self.test) if a.size), default=-1)
        if self.n_images < 0:
            self.n_images = largest + 1
        if largest >= self.n_images:
            raise DataError(f"split index {largest} is out of range for a dataset of "
                            f"{self.n_images} images",
                            fix="build the split from the same dataset you index with it")
        for a, b in SPLIT_PAIRS:
            shared = np.intersect1d(getattr(self, a), getattr(self, b))
            if shared.size:
                raise DataError(f"{shared.size} image indices are in both {a} and {b} "
                                f"(e.g. {shared[:3].tolist()}); a split must be disjoint",
                                fix="build splits with split_by_patient / split_by_image")

    # --- reading a split ------------------------------------------------------------
    def items(self) -> list[tuple[str, np.ndarray]]:
        """``[("train", idx), ("val", idx), ("test", idx)]``."""
        return [(name, getattr(self, name)) for name in SPLIT_NAMES]

    @property
    def sizes(self) -> dict[str, int]:
        """Number of images in each split."""
        return {name: int(idx.size) for name, idx in self.items()}

    def assignment(self) -> np.ndarray:
        """Split name of every image (``""`` for an image in no split), shape (n_images,)."""
        names = np.full(self.n_images, "", dtype="<U5")
        for name, idx in self.items():
            names[idx] = name
        return names

    def counts(self, labels: Any, patient_ids: Any | None = None) -> list[dict[str, Any]]:
        """One row per split: images, patients (if given) and images per label, for a table."""
        labels = _label_vector(labels)
        _check_length(labels, self.n_images, "labels")
        classes = np.unique(labels)
        pids = None if patient_ids is None else _patient_vector(patient_ids, self.n_images)
        rows = []
        for name, idx in self.items():
            row: dict[str, Any] = {"split": name, "images": int(idx.size)}
            if pids is not None:
                row["patients"] = int(np.unique(pids[idx]).size)
            for c in classes:
                row[f"label {c}"] = int(np.sum(labels[idx] == c))
            rows.append(row)
        return rows

    # --- making one from predefined splits ------------------------------------------
    @classmethod
    def from_sizes(cls, n_train: int, n_val: int, n_test: int, *, method: str = "predefined") -> Split:
        """A split of a dataset stored as train, then val, then test (e.g. MedMNIST's files).

        Concatenate the three image arrays in that order and this split indexes them.
        """
        edges = np.cumsum([0, n_train, n_val, n_test])
        return cls(*(np.arange(edges[i], edges[i + 1]) for i in range(3)),
                   seed=0, method=method, n_images=int(edges[-1]))

    # --- saving and loading -----------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (indices as lists)."""
        return {"format": _FORMAT, "version": _VERSION, "method": self.method, "seed": self.seed,
                "n_images": self.n_images, "fold": self.fold, "k": self.k,
                **{name: idx.tolist() for name, idx in self.items()}}

    def save(self, path: str | Path, *, overwrite: bool = False) -> Path:
        """Write the split to JSON atomically; never replace a *different* saved split silently.

        Saving the same split again is a no-op. A different file already at ``path`` raises
        DataError unless ``overwrite=True`` (a student's earlier split is never lost by accident).
        """
        path = Path(path)
        if path.exists() and not overwrite:
            try:
                same = Split.load(path) == self
            except DataError:
                same = False
            if same:
                return path
            raise DataError("a different split (or another file) is already saved here",
                            path=path, fix="choose another file name, or pass overwrite=True to replace it")
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(self.to_dict(), f)
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, 0o644)  # mkstemp makes it private; a split is an ordinary file
            os.replace(tmp, path)  # atomic: readers see the old file or the new one, never half
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return path

    @classmethod
    def load(cls, path: str | Path, *, n_images: int | None = None) -> Split:
        """Read a split saved by :meth:`save`; ``n_images`` checks it fits your dataset."""
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise DataError("no split file here", path=path,
                            fix="check the path, or make the split and call split.save(path)") from None
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise DataError(f"not a JSON file ({err})", path=path,
                            fix="point to a file written by Split.save") from None
        if not isinstance(data, dict) or data.get("format") != _FORMAT:
            raise DataError("this JSON file is not a RadLab split", path=path,
                            fix="point to a file written by Split.save")
        if data.get("version") != _VERSION:
            raise DataError(f"split file version {data.get('version')!r}; this RadLab reads version {_VERSION}",
                            path=path, fix="make the split again with this version of RadLab")
        missing = [key for key in (*SPLIT_NAMES, "seed", "method", "n_images") if key not in data]
        if missing:
            raise DataError(f"the split file lacks {', '.join(missing)}", path=path,
                            fix="make the split again and save it with Split.save")
        try:
            split = cls(*(data[name] for name in SPLIT_NAMES), seed=int(data["seed"]),
                        method=str(data["method"]), n_images=int(data["n_images"]),
                        fold=data.get("fold"), k=data.get("k"))
        except DataError as err:
            raise DataError(err.problem, path=path, fix=err.fix) from None
        except (TypeError, ValueError) as err:
            raise DataError(f"the split file is damaged ({err})", path=path,
                            fix="make the split again and save it with Split.save") from None
        if n_images is not None and split.n_images != n_images:
            raise DataError(f"this split was made for a dataset of {split.n_images} images, "
                            f"yours has {n_images}", path=path,
                            fix="load the split that belongs to this dataset, or make a new one")
        return split

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Split):
            return NotImplemented
        return (self.method, self.seed, self.n_images, self.fold, self.k) == \
            (other.method, other.seed, other.n_images, other.fold, other.k) and \
            all(np.array_equal(a, b) for (_, a), (_, b) in zip(self.items(), other.items()))

    def __repr__(self) -> str:
        sizes = ", ".join(f"{name}={n}" for name, n in self.sizes.items())
        fold = f", fold={self.fold}/{self.k}" if self.fold is not None else ""
        return f"Split(method={self.method!r}, seed={self.seed}{fold}, {sizes}, n_images={self.n_images})"


# --------------------------------------------------------------------------------------
# Making splits
# --------------------------------------------------------------------------------------

def patient_labels(labels: Any, patient_ids: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One label per patient: the most common label of their images (ties: the higher label).

    Returns ``(patients, patient_label, image_patient)``: the sorted unique patient ids, their
    labels, and for each image the position of its patient in ``patients``. With 0 = normal
    and 1 = lesion, a patient with one normal and one lesion image counts as lesion.
    """
    labels = _label_vector(labels)
    pids = _patient_vector(patient_ids, labels.size)
    patients, image_patient = np.unique(pids, return_inverse=True)
    classes, label_code = np.unique(labels, return_inverse=True)
    votes = np.zeros((patients.size, classes.size), dtype=np.int64)
    np.add.at(votes, (image_patient, label_code), 1)
    # argmax takes the first maximum; reversing the columns makes ties go to the higher label
    winner = classes.size - 1 - np.argmax(votes[:, ::-1], axis=1)
    return patients, classes[winner], image_patient


def split_by_patient(labels: Any, patient_ids: Any, *, val_fraction: float = 0.15,
                     test_fraction: float = 0.15, seed: int = 0, stratify: bool = True) -> Split:
    """Split by patient: each patient, with all their images, lands in exactly one split.

    The fractions count **patients** (with a similar number of images per patient, they are
    also the image fractions). With ``stratify`` each split gets about the same share of each
    patient label (see :func:`patient_labels`), so a rare disease is not missing from test.
    The shuffling is scikit-learn's ``train_test_split`` on the table of patients: first the
    test patients are drawn, then the validation patients from the rest.
    """
    return _split_groups(labels, patient_ids, val_fraction=val_fraction,
                         test_fraction=test_fraction, seed=seed, stratify=stratify, method="patient")


def split_by_image(labels: Any, *, val_fraction: float = 0.15, test_fraction: float = 0.15,
                   seed: int = 0, stratify: bool = True) -> Split:
    """The naive split: each image on its own, ignoring who the patient is. **Leaky.**

    Images of the same patient end up in train and in test, so the test score measures
    partly how well the model recognises patients it has seen. Kept for the lesson; use
    :func:`split_by_patient` for real work.
    """
    labels = _label_vector(labels)
    return _split_groups(labels, np.arange(labels.size), val_fraction=val_fraction,
                         test_fraction=test_fraction, seed=seed, stratify=stratify, method="image")


def kfold_by_patient(labels: Any, patient_ids: Any, *, k: int = 5, seed: int = 0,
                     stratify: bool = True) -> list[Split]:
    """k-fold cross-validation by patient: k splits whose ``val`` folds partition the patients.

    Each patient is held out (in ``val``) in exactly one of the k splits and trains the
    model in the other k - 1; ``test`` is empty, because the test set is kept apart from
    all of this and used once at the end. Averaging the k validation scores gives a steadier
    estimate than one split when there are few patients. Uses scikit-learn's
    ``StratifiedGroupKFold`` (label proportions kept close across folds, groups = patients).
    """
    labels = _label_vector(labels)
    pids = _patient_vector(patient_ids, labels.size)
    seed = _check_seed(seed)
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 2:
        raise DataError(f"k = {k!r}: k-fold needs an integer k of at least 2",
                        fix="use k=5 (common) or k=10")
    patients, plabel, _ = patient_labels(labels, pids)
    if patients.size < k:
        raise DataError(f"{patients.size} patients cannot fill {k} folds",
                        fix=f"use k <= {patients.size}, or add patients")
    if stratify:
        classes, per_class = np.unique(plabel, return_counts=True)
        if per_class.min() < k:
            c = classes[np.argmin(per_class)]
            raise DataError(f"label {c} has only {per_class.min()} patients, so some of the {k} "
                            "folds would have none of it", fix=f"use k <= {per_class.min()}, "
                            "add patients with that label, or pass stratify=False")
    # with stratify=False every image gets the same label: StratifiedGroupKFold then only
    # balances the fold sizes
    y = labels if stratify else np.zeros_like(labels)
    folds = StratifiedGroupKFold(n_splits=int(k), shuffle=True, random_state=seed)
    return [Split(train=np.sort(tr), val=np.sort(va), test=np.array([], dtype=np.int64),
                  seed=seed, method="kfold-patient", n_images=labels.size, fold=i, k=int(k))
            for i, (tr, va) in enumerate(folds.split(np.zeros(labels.size), y, groups=pids))]


def _split_groups(labels: Any, groups: Any, *, val_fraction: float, test_fraction: float,
                  seed: int, stratify: bool, method: str) -> Split:
    """Split whole groups (patients; or single images for the naive split) into train/val/test."""
    labels = _label_vector(labels)
    groups = _patient_vector(groups, labels.size)
    seed = _check_seed(seed)
    what = "patients" if method == "patient" else "images"
    for name, fraction in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
        if not 0.0 <= float(fraction) < 1.0:
            raise DataError(f"{name} = {fraction!r} must be at least 0 and below 1",
                            fix="use e.g. val_fraction=0.15, test_fraction=0.15")
    if val_fraction + test_fraction >= 1.0:
        raise DataError(f"val_fraction + test_fraction = {val_fraction + test_fraction:g} leaves "
                        "nothing to train on", fix="keep their sum below 1 (e.g. 0.15 + 0.15)")

    patients, plabel, image_patient = patient_labels(labels, groups)
    n = patients.size
    n_test = _group_count(test_fraction, n, "test", what)
    n_val = _group_count(val_fraction, n, "validation", what)
    if n - n_test - n_val < 1:
        raise DataError(f"{n} {what} leave none for training after {n_test} test and {n_val} "
                        "validation", fix=f"add {what} or lower the fractions")
    n_splits = 1 + (n_test > 0) + (n_val > 0)
    if stratify:
        _check_stratifiable(plabel, n_test, n_val, n_splits, what)

    order = np.arange(n)
    rest, test_p = _draw(order, plabel, n_test, seed, stratify)
    train_p, val_p = _draw(rest, plabel[rest], n_val, seed, stratify)
    split_of_patient = np.zeros(n, dtype=np.int64)  # 0 train, 1 val, 2 test
    split_of_patient[val_p], split_of_patient[test_p] = 1, 2
    image_split = split_of_patient[image_patient]
    return Split(*(np.flatnonzero(image_split == i) for i in range(3)),
                 seed=seed, method=method, n_images=labels.size)


def _draw(items: np.ndarray, item_labels: np.ndarray, n_out: int, seed: int,
          stratify: bool) -> tuple[np.ndarray, np.ndarray]:
    """Draw ``n_out`` of ``items`` (stratified by label if asked); return (kept, drawn)."""
    if n_out == 0:
        return items, items[:0]
    try:
        kept, drawn = train_test_split(items, test_size=n_out, random_state=seed, shuffle=True,
                                       stratify=item_labels if stratify else None)
    except ValueError as err:  # sklearn's own check of an infeasible stratification
        raise DataError(f"cannot stratify this split: {err}",
                        fix="add patients, change the fractions, or pass stratify=False") from None
    return kept, drawn


def _group_count(fraction: float, n: int, name: str, what: str) -> int:
    """How many groups a fraction asks for; an error when it rounds to none."""
    count = int(round(fraction * n))
    if fraction > 0 and count == 0:
        raise DataError(f"a {name} fraction of {fraction:g} of {n} {what} is less than one",
                        fix=f"add {what}, raise the fraction, or set it to 0 for no {name} set")
    return count


def _check_stratifiable(plabel: np.ndarray, n_test: int, n_val: int, n_splits: int, what: str) -> None:
    """Explain up front why a stratified split is impossible (rather than sklearn's message)."""
    classes, per_class = np.unique(plabel, return_counts=True)
    if per_class.min() < n_splits:
        c = classes[np.argmin(per_class)]
        raise DataError(f"label {c} has only {per_class.min()} of the {what}, so it cannot "
                        f"appear in all {n_splits} splits", fix=f"add {what} with label {c}, "
                        "or pass stratify=False (that label may then be missing from a split)")
    for name, count in (("test", n_test), ("validation", n_val)):
        if 0 < count < classes.size:
            raise DataError(f"a stratified {name} set needs one of each of the {classes.size} "
                            f"labels but holds only {count} of the {what}", fix=f"add {what}, raise the {name} "
                            "fraction, or pass stratify=False")


# --------------------------------------------------------------------------------------
# The leakage check
# --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class DuplicateGroup:
    """One image content found in two splits: its indices in the first and in the second."""

    indices_a: tuple[int, ...]
    indices_b: tuple[int, ...]


@dataclass
class LeakageReport:
    """What :func:`check_leakage` found, for each pair of splits (train/val, train/test, val/test).

    ``patient_overlaps``: patient ids in both splits. ``duplicate_images``: byte-identical
    images in both. ``near_duplicate_images``: different bytes, near-identical picture.
    A check that was not run (no ``patient_ids`` or no ``images`` given) is listed in
    ``not_checked`` and its dict is empty.
    """

    patient_overlaps: dict[tuple[str, str], list[Any]] = field(default_factory=dict)
    duplicate_images: dict[tuple[str, str], list[DuplicateGroup]] = field(default_factory=dict)
    near_duplicate_images: dict[tuple[str, str], list[NearDuplicate]] = field(default_factory=dict)
    within_split_duplicates: dict[str, int] = field(default_factory=dict)
    near_duplicate_threshold: float = DEFAULT_THRESHOLD
    not_checked: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """True when no patient and no image (exact or near) is shared between splits."""
        return not any(v for d in (self.patient_overlaps, self.duplicate_images,
                                   self.near_duplicate_images) for v in d.values())

    @property
    def leaking_patients(self) -> list[Any]:
        """Every patient found in more than one split (sorted)."""
        return sorted({p for ids in self.patient_overlaps.values() for p in ids})

    def to_rows(self, max_examples: int = 3) -> list[dict[str, Any]]:
        """One row per check and split pair (zeros included, to show what was checked)."""
        rows = []
        for (a, b), ids in self.patient_overlaps.items():
            rows.append(_row("same patient", a, b, len(ids), "patients",
                             [str(p) for p in ids[:max_examples]]))
        for (a, b), groups in self.duplicate_images.items():
            rows.append(_row("identical image", a, b, len(groups), "images",
                             [f"{a} #{g.indices_a[0]} = {b} #{g.indices_b[0]}" for g in groups[:max_examples]]))
        for (a, b), pairs in self.near_duplicate_images.items():
            rows.append(_row("near-identical image", a, b, len(pairs), "pairs",
                             [f"{a} #{p.index_a} ~ {b} #{p.index_b} ({p.describe()}, s={p.similarity:.3f})"
                              for p in pairs[:max_examples]]))
        return rows

    def __str__(self) -> str:
        rows = self.to_rows()
        n_leaks = sum(r["count"] > 0 for r in rows)
        lines = ["Leakage check: " + ("no leakage found" if self.ok else
                                      f"LEAKAGE in {n_leaks} of {len(rows)} checks")]
        for r in rows:
            mark = "!!" if r["count"] else "ok"
            eg = f"   e.g. {r['examples']}" if r["examples"] else ""
            lines.append(f"  {mark} {r['check']:<21} {r['splits']:<13} {r['count']:>5} {r['unit']}{eg}")
        if self.near_duplicate_images:
            lines.append(f"  (near-identical: similarity after alignment >= {self.near_duplicate_threshold:g})")
        dup_inside = {s: n for s, n in self.within_split_duplicates.items() if n}
        if dup_inside:
            lines.append("  note: repeated images inside a split (not leakage, but counted twice): "
                         + ", ".join(f"{s} {n}" for s, n in dup_inside.items()))
        if self.not_checked:
            lines.append("  not checked: " + "; ".join(self.not_checked))
        return "\n".join(lines)

    def _repr_markdown_(self) -> str:
        head = "**Leakage check: " + ("no leakage found**" if self.ok else "LEAKAGE found**")
        table = ["| check | splits | count | examples |", "|---|---|---:|---|"]
        table += [f"| {r['check']} | {r['splits']} | {r['count']} {r['unit']} | {r['examples']} |"
                  for r in self.to_rows()]
        notes = [f"Not checked: {n}." for n in self.not_checked]
        return "\n\n".join([head, "\n".join(table), *notes])

    def __repr__(self) -> str:
        return f"LeakageReport(ok={self.ok}, leaking_patients={len(self.leaking_patients)})"


def _row(check: str, a: str, b: str, count: int, unit: str, examples: list[str]) -> dict[str, Any]:
    return {"check": check, "splits": f"{a} ∩ {b}", "count": count, "unit": unit,
            "examples": ", ".join(examples)}


def check_leakage(split: Split, *, patient_ids: Any | None = None, images: Any | None = None,
                  near_duplicate_threshold: float = DEFAULT_THRESHOLD,
                  registrations: RegistrationCache | None = None) -> LeakageReport:
    """Look for leaks between the splits of ``split``: shared patients and shared images.

    - ``patient_ids`` (one per image): a patient with images in two splits.
    - ``images`` (the array the split indexes): byte-identical images (an MD5 of each image's
      bytes) and near-identical ones: copies that were shifted, cropped, slightly rotated or
      scaled, mirrored, re-windowed or re-compressed. Each image is matched with its most
      similar candidates in the other split, each pair is aligned (shift, rotation, scale,
      mirror) and flagged when its similarity after alignment reaches
      ``near_duplicate_threshold`` (:mod:`radlab.data.duplicates`). Different patients'
      radiographs in PneumoniaMNIST reach 0.968 at most, most planted copies 0.98 and more, hence
      the default 0.972. Volumes (N, D, H, W) fall back to the correlation of
      :func:`fingerprints`. Phantom patients' views are exactly such moved copies, so there
      the check also finds a patient's other views; real radiographs of one patient taken on
      different days differ more: finding those is what ``patient_ids`` is for.

    For datasets shipped as separate train/val/test files (MedMNIST) concatenate the images
    in that order and pass ``Split.from_sizes(len(train), len(val), len(test))``.
    ``registrations``: a :class:`~radlab.data.duplicates.RegistrationCache` kept between calls
    that check other splits of the same images (each image pair is aligned once).
    """
    report = LeakageReport(near_duplicate_threshold=float(near_duplicate_threshold))
    not_checked = []
    if patient_ids is None:
        not_checked.append("shared patients (pass patient_ids=...)")
    else:
        pids = _patient_vector(patient_ids, split.n_images)
        for a, b in SPLIT_PAIRS:
            shared = np.intersect1d(pids[getattr(split, a)], pids[getattr(split, b)])
            report.patient_overlaps[(a, b)] = shared.tolist()
    if images is None:
        not_checked.append("identical and near-identical images (pass images=...)")
    else:
        images = np.asarray(images)
        _check_length(images, split.n_images, "images")
        if not 0.0 < near_duplicate_threshold <= 1.0:
            raise DataError(f"near_duplicate_threshold = {near_duplicate_threshold!r} must be in (0, 1]",
                            fix="use a correlation such as 0.995 (1.0 flags only exact copies)")
        _find_duplicates(split, images, report, registrations)
    report.not_checked = tuple(not_checked)
    return report


def _find_duplicates(split: Split, images: np.ndarray, report: LeakageReport,
                     registrations: RegistrationCache | None = None) -> None:
    """Fill the exact- and near-duplicate parts of ``report``."""
    digests = {name: [hashlib.md5(np.ascontiguousarray(images[i]).tobytes()).hexdigest()
                      for i in idx] for name, idx in split.items()}
    by_digest: dict[str, dict[str, list[int]]] = {}
    for name, idx in split.items():
        table = by_digest[name] = {}
        for i, d in zip(idx.tolist(), digests[name]):
            table.setdefault(d, []).append(i)
        report.within_split_duplicates[name] = len(idx) - len(table)
    for a, b in SPLIT_PAIRS:
        shared = sorted(by_digest[a].keys() & by_digest[b].keys(), key=lambda d: by_digest[a][d][0])
        report.duplicate_images[(a, b)] = [DuplicateGroup(tuple(by_digest[a][d]), tuple(by_digest[b][d]))
                                           for d in shared]

    pictures = as_2d(images)
    prepared = prints = None
    if pictures is not None:
        prepared = prepare(pictures)
        scale = float(pictures.shape[-1]) / SIZE
    else:  # volumes: the correlation of block-averaged fingerprints
        prints = fingerprints(images)
    for a, b in SPLIT_PAIRS:
        pairs = []
        idx_a, idx_b = getattr(split, a), getattr(split, b)
        if prepared is not None:
            found = [(p.index_a, p.index_b, p) for p in find_near_duplicates(
                prepared[idx_a], prepared[idx_b], prepared=True, pixel_scale=scale,
                threshold=report.near_duplicate_threshold, cache=registrations)]
        else:
            found = [(ia, ib, NearDuplicate(0, 0, float(r)))
                     for ia, ib, r in _correlated_pairs(prints[idx_a], prints[idx_b], report.near_duplicate_threshold)]
        for ia, ib, p in found:
            if digests[a][ia] != digests[b][ib]:  # exact copies are reported above
                pairs.append(replace(p, index_a=int(idx_a[ia]), index_b=int(idx_b[ib])))
        report.near_duplicate_images[(a, b)] = sorted(pairs, key=lambda p: -p.similarity)


def fingerprints(images: np.ndarray, max_values: int = 1024) -> np.ndarray:
    """Small, comparable summaries of images: block averages, centred, unit length.

    Every axis after the first is averaged down to at most ``max_values ** (1/ndim)`` bins
    (32×32 for 2-D images), so the dot product of two fingerprints is the Pearson correlation
    of the shrunken images. A constant image gets a zero fingerprint (it correlates with nothing).
    """
    x = np.asarray(images, dtype=np.float32)
    n_axes = x.ndim - 1
    bins = max(1, int(round(max_values ** (1.0 / max(n_axes, 1)))))
    for axis in range(1, x.ndim):
        size = x.shape[axis]
        if size > bins:  # average blocks of nearly equal size along this axis
            starts = np.linspace(0, size, bins + 1).astype(int)[:-1]
            widths = np.diff(np.append(starts, size))
            shape = [1] * x.ndim
            shape[axis] = bins
            x = np.add.reduceat(x, starts, axis=axis) / widths.reshape(shape)
    flat = x.reshape(len(x), int(np.prod(x.shape[1:])))
    flat = flat - flat.mean(axis=1, keepdims=True)
    norm = np.linalg.norm(flat, axis=1, keepdims=True)
    return flat / np.where(norm > 1e-8 * flat.shape[1], norm, np.inf)


def _correlated_pairs(fa: np.ndarray, fb: np.ndarray, threshold: float, chunk: int = 2048):
    """Yield (row in fa, row in fb, correlation) for every pair at or above ``threshold``."""
    for start in range(0, len(fa), chunk):
        corr = fa[start:start + chunk] @ fb.T
        rows, cols = np.nonzero(corr >= threshold - 1e-6)
        for r, c in zip(rows.tolist(), cols.tolist()):
            yield start + r, c, corr[r, c]


# --------------------------------------------------------------------------------------
# Input checks shared by the functions above
# --------------------------------------------------------------------------------------

def _label_vector(labels: Any) -> np.ndarray:
    """Labels as a 1-D integer array; (N, 1) is flattened; multi-label (N, K) is refused."""
    y = np.asarray(labels)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise DataError(f"labels must be one integer per image, got shape {y.shape}",
                        fix="for multi-label data pass one column (labels[:, k]) or "
                            "labels.any(axis=1) to stratify on")
    if y.size == 0:
        raise DataError("there are no labels (an empty dataset)", fix="pass the labels of your images")
    if y.dtype.kind == "f":
        if not np.all(np.isfinite(y)) or not np.all(y == np.round(y)):
            raise DataError("labels must be whole numbers (class numbers), not "
                            f"{y[~(y == np.round(y))][:3].tolist()}",
                            fix="pass class numbers such as 0 / 1")
        y = y.astype(np.int64)
    elif y.dtype.kind not in "iub":
        raise DataError(f"labels must be integers, got {y.dtype}", fix="pass class numbers such as 0 / 1")
    return y.astype(np.int64)


def _patient_vector(patient_ids: Any, n: int) -> np.ndarray:
    """Patient ids as a 1-D array with one entry per image."""
    pids = np.asarray(patient_ids)
    if pids.dtype == object:
        pids = pids.astype(str)
    if pids.ndim != 1:
        raise DataError(f"patient_ids must be one id per image, got shape {pids.shape}",
                        fix="pass a 1-D array such as PhantomSet.patient_ids")
    _check_length(pids, n, "patient_ids")
    return pids


def _index_array(values: Any, name: str) -> np.ndarray:
    """Split indices as a 1-D int64 array of unique, non-negative indices (order kept)."""
    idx = np.asarray(values)
    if idx.size == 0:
        return np.array([], dtype=np.int64)
    if idx.ndim != 1 or idx.dtype.kind not in "iu":
        raise DataError(f"the {name} indices must be a 1-D array of integers, got "
                        f"{idx.dtype} with shape {idx.shape}", fix="pass image indices such as [0, 3, 4]")
    if idx.min() < 0:
        raise DataError(f"the {name} indices include a negative index ({idx.min()})",
                        fix="use indices 0 .. n_images - 1")
    if np.unique(idx).size != idx.size:
        raise DataError(f"the {name} indices repeat an image", fix="list each image once")
    return idx.astype(np.int64)


def _check_length(array: Any, n: int, name: str) -> None:
    if len(array) != n:
        raise DataError(f"{name} has {len(array)} entries but the dataset has {n} images",
                        fix=f"pass {name} for the same images, in the same order")


def _check_seed(seed: Any) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**32:
        raise DataError(f"seed = {seed!r} must be a whole number from 0 to 2**32 - 1",
                        fix="use e.g. seed=0")
    return int(seed)


__all__: Sequence[str] = (
    "Split", "split_by_patient", "split_by_image", "kfold_by_patient", "patient_labels",
    "check_leakage", "LeakageReport", "DuplicateGroup", "NearDuplicate", "fingerprints",
)
