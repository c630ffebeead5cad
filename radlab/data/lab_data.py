"""The data a lab trains and tests on: PneumoniaMNIST when it is in the cache, chest phantoms otherwise.

One loader for every lab (Lab 3 trains on it, Lab 4 tests on it; notebooks, widgets and
benchmarks call the same function), returning one :class:`LabData`: train / validation /
test tensors ready for a CNN (``x`` float ``(N, 1, H, W)`` in [0, 1], ``y`` 0/1 int64).
Phantoms are split by patient; PneumoniaMNIST keeps its official splits. ``fast`` (CI,
browser tests) keeps a stratified part of the larger splits so runs take seconds.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import torch

from radlab.data.transforms import to_model_input

DATASETS = {"phantoms": "chest phantoms (synthetic, split by patient)",
            "pneumoniamnist": "PneumoniaMNIST (real chest X-rays, 28 px)"}


def stratified_subset(labels: np.ndarray, *, n: int | None = None, fraction: float | None = None, seed: int = 0,
                      min_per_class: int = 1) -> np.ndarray:
    """Sorted indices of a random subset that keeps each class's share of the images.

    Give ``n`` (about ``n`` images in all) or ``fraction`` (that fraction of each class);
    every class keeps at least ``min_per_class`` images (a validation AUC needs both).
    The same ``seed`` gives the same subset.
    """
    labels = np.asarray(labels).reshape(-1)
    if (n is None) == (fraction is None):
        raise ValueError("give exactly one of n= (images in all) or fraction= (of each class)")
    classes, counts = np.unique(labels, return_counts=True)
    wanted = np.round(fraction * counts) if fraction is not None else np.round(n * counts / counts.sum())
    wanted = np.minimum(np.maximum(wanted, min_per_class), counts).astype(int)
    rng = np.random.default_rng(seed)
    keep = [rng.permutation(np.flatnonzero(labels == c))[:k] for c, k in zip(classes, wanted)]
    return np.sort(np.concatenate(keep)) if keep else np.zeros(0, dtype=np.int64)


@dataclass
class LabData:
    """Train / val / test tensors for a lab: ``x`` float (N, 1, H, W) in [0, 1], ``y`` 0/1 int64."""

    name: str                       # "phantoms" or "pneumoniamnist"
    source: str                     # what the images are, e.g. "PneumoniaMNIST, cached (UNOFFICIAL copy)"
    class_names: tuple[str, str]    # (negative, positive)
    train: tuple[torch.Tensor, np.ndarray]
    val: tuple[torch.Tensor, np.ndarray]
    test: tuple[torch.Tensor, np.ndarray]
    note: str                       # one line: the data, its size and how it was split

    @property
    def x_train(self) -> torch.Tensor:
        return self.train[0]

    @property
    def y_train(self) -> np.ndarray:
        return self.train[1]

    @property
    def x_val(self) -> torch.Tensor:
        return self.val[0]

    @property
    def y_val(self) -> np.ndarray:
        return self.val[1]

    @property
    def image_size(self) -> int:
        return int(self.train[0].shape[-1])

    def __str__(self) -> str:
        lines = [f"{self.source}; positive class = {self.class_names[1]}"]
        for name in ("train", "val", "test"):
            y = getattr(self, name)[1]
            lines.append(f"  {name:5s} {len(y):5d} images, {100 * np.mean(y == 0):5.1f}% {self.class_names[0]}, "
                         f"{100 * np.mean(y == 1):5.1f}% {self.class_names[1]}")
        return "\n".join(lines)


def pneumonia_available() -> bool:
    """True when PneumoniaMNIST is in the data cache (official or a labelled imported copy)."""
    from radlab.data.catalog import dataset_state  # noqa: PLC0415  (the catalog reads cards: only when asked)
    from radlab.errors import DataError  # noqa: PLC0415

    try:
        return dataset_state("pneumoniamnist").cached
    except (DataError, OSError, KeyError):
        return False


@dataclass(frozen=True)
class Recipe:
    """How much data a lab uses: phantom patients (fast, full), image size, split fractions, fast subsets."""

    n_patients: tuple[int, int]
    size: int
    val_fraction: float
    test_fraction: float
    fast_sizes: dict[str, int]


#: Each lab's data, by name: its notebook, widget, tests and benchmarks load the same.
#: Lab 3 trains on 64-px phantoms; Lab 4 tests on 32-px phantoms (quicker) with a larger test split.
RECIPES: dict[str, Recipe] = {
    "training": Recipe(n_patients=(100, 300), size=64, val_fraction=0.15, test_fraction=0.15,
                       fast_sizes={"train": 600, "val": 200}),
    "testing": Recipe(n_patients=(60, 200), size=32, val_fraction=0.2, test_fraction=0.2,
                      fast_sizes={"train": 1200}),
}


def load_lab_data(dataset: str = "auto", *, recipe: str = "training", fast: bool = False, seed: int = 0) -> LabData:
    """A lab's data: ``"pneumoniamnist"`` (official splits), ``"phantoms"`` (split by patient) or ``"auto"``.

    ``"auto"`` takes PneumoniaMNIST when it is cached, the phantoms otherwise. ``recipe``
    names the lab's sizes in :data:`RECIPES`: phantom patients (3 images each), image size,
    split fractions, and with ``fast`` a stratified subset of the PneumoniaMNIST splits it
    names (the others stay complete, so their prevalence is the real one).
    """
    if recipe not in RECIPES:
        raise ValueError(f"recipe {recipe!r}: choose from {list(RECIPES)}")
    r = RECIPES[recipe]
    if dataset == "auto":
        dataset = "pneumoniamnist" if pneumonia_available() else "phantoms"
    if dataset == "phantoms":
        return _phantom_data(r.n_patients[0] if fast else r.n_patients[1], size=r.size, val_fraction=r.val_fraction,
                             test_fraction=r.test_fraction, seed=seed)
    if dataset == "pneumoniamnist":
        return _pneumonia_data(r.fast_sizes if fast else {}, seed=seed)
    raise ValueError(f"dataset {dataset!r}: choose from {['auto', *DATASETS]}")


def _phantom_data(n_patients: int, *, size: int, val_fraction: float, test_fraction: float, seed: int) -> LabData:
    from radlab.data.catalog import dataset_status  # noqa: PLC0415
    from radlab.data.phantoms import make_phantoms  # noqa: PLC0415
    from radlab.data.splits import split_by_patient  # noqa: PLC0415

    ph = make_phantoms("chest", n_patients=n_patients, images_per_patient=3, size=size, seed=seed)
    split = split_by_patient(ph.labels, ph.patient_ids, val_fraction=val_fraction, test_fraction=test_fraction,
                             seed=seed)
    parts = {name: (to_model_input(ph.images[getattr(split, name)], units="unit"),
                    np.asarray(ph.labels[getattr(split, name)], dtype=np.int64))
             for name in ("train", "val", "test")}
    note = (f"chest phantoms, {size} px: {len(split.train)} training / {len(split.val)} validation images "
            f"of {n_patients} patients (split by patient)")
    return LabData("phantoms", f"chest phantoms (PneumoniaMNIST is {dataset_status('pneumoniamnist')})",
                   ("no lesion", "lesion"), note=note, **parts)


def _pneumonia_data(fast_sizes: dict[str, int], *, seed: int) -> LabData:
    from radlab.data.catalog import dataset_status  # noqa: PLC0415
    from radlab.data.medmnist import load_medmnist  # noqa: PLC0415

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the unofficial-copy warning is shown in the source line instead
        data = load_medmnist("pneumoniamnist")
    parts = {}
    for name in ("train", "val", "test"):
        split = getattr(data, name)
        images, labels = split.images, split.labels.reshape(-1).astype(np.int64)
        if name in fast_sizes:
            keep = stratified_subset(labels, n=fast_sizes[name], seed=seed)
            images, labels = images[keep], labels[keep]
        parts[name] = (to_model_input(images, units="uint8"), labels)
    copy = "official file" if data.official else "UNOFFICIAL copy"
    note = (f"PneumoniaMNIST ({copy}), 28 px: {len(parts['train'][1])} training / {len(parts['val'][1])} "
            "validation images")
    return LabData("pneumoniamnist", f"PneumoniaMNIST, {dataset_status('pneumoniamnist')}", ("normal", "pneumonia"),
                   note=note, **parts)


__all__ = ["DATASETS", "RECIPES", "LabData", "Recipe", "load_lab_data", "pneumonia_available", "stratified_subset"]
