"""Load MedMNIST v2 datasets (official ``.npz`` files) from the data cache, checking what is inside.

A MedMNIST file holds six arrays: ``train_images``, ``train_labels``, ``val_images``,
``val_labels``, ``test_images``, ``test_labels``. Images are uint8, (N, 28, 28) for 2D
subsets and (N, 28, 28, 28) for 3D ones; labels are (N, 1) class numbers, or (N, K) 0/1
findings for multi-label ChestMNIST.
"""
from __future__ import annotations

import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from radlab.data.catalog import DatasetCard, UnofficialDataWarning, cached_path, fetch, get_card
from radlab.errors import DataError

SPLITS = ("train", "val", "test")
EXPECTED_KEYS = tuple(f"{split}_{part}" for split in SPLITS for part in ("images", "labels"))


@dataclass
class LabeledImages:
    """One split: uint8 images and their int64 labels ((N,) single-label, (N, K) multi-label)."""

    images: np.ndarray
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.images)

    def class_counts(self) -> dict[int, int]:
        """Images per class (single-label), or images showing each finding (multi-label)."""
        if self.labels.ndim == 2:
            return {k: int(n) for k, n in enumerate(self.labels.sum(axis=0))}
        values, counts = np.unique(self.labels, return_counts=True)
        return {int(v): int(n) for v, n in zip(values, counts)}


@dataclass
class MedMNISTData:
    """A MedMNIST dataset's three splits, with its card and whether the file is the official release."""

    name: str
    train: LabeledImages
    val: LabeledImages
    test: LabeledImages
    official: bool
    path: Path
    card: DatasetCard

    def __str__(self) -> str:
        label = "official release" if self.official else "UNOFFICIAL copy"
        lines = [f"{self.card.title}: {self.path} ({label})"]
        for split in SPLITS:
            part: LabeledImages = getattr(self, split)
            counts = ", ".join(f"{self.card.classes.get(k, k)} {n}" for k, n in part.class_counts().items())
            official = self.card.splits.get(split)
            note = "" if official in (None, len(part)) else f" (official release: {official})"
            lines.append(f"  {split:5s} {len(part):6d} images{note}: {counts}")
        return "\n".join(lines)


def load_medmnist(name: str) -> MedMNISTData:
    """Load a MedMNIST dataset from the data cache (put it there first with ``radlab fetch NAME``)."""
    card = get_card(name)
    if card.kind != "medmnist":
        raise DataError(f"{name} is not a MedMNIST dataset (its kind is {card.kind!r})",
                        fix="use load_medmnist for one of the MedMNIST cards in `radlab datasets`")
    path = cached_path(name)
    if not path.is_file():
        raise DataError(f"{name} is not in the data cache", path=path, fix=(
            f"run `radlab fetch {name}` (downloads {card.url}); offline, import a copy you have: "
            f"radlab fetch {name} --from FILE"))
    # fetch() without a source only verifies a cached file: official, a labelled unofficial
    # copy, or a ChecksumError for a file nobody vouched for.
    checked = fetch(name)
    splits = read_medmnist_npz(path, card)
    data = MedMNISTData(name, *(splits[s] for s in SPLITS), official=checked.official, path=path, card=card)
    if not checked.official:
        warnings.warn(
            f"{path} is an UNOFFICIAL copy of {card.title} (md5 {checked.md5}, official {card.md5}; "
            f"imported from {checked.imported_from}). Split sizes "
            f"{[len(data.train), len(data.val), len(data.test)]} vs official "
            f"{[card.splits.get(s) for s in SPLITS]}: results are not comparable with published ones.",
            UnofficialDataWarning, stacklevel=2)
    return data


def read_medmnist_npz(path: Path, card: DatasetCard) -> dict[str, LabeledImages]:
    """Read a MedMNIST ``.npz`` and check keys, dtypes, shapes and labels; name the file in every error."""
    path = Path(path)
    fix_file = (f"this file is not a usable {card.filename}: delete it and run `radlab fetch {card.name}`, "
                f"or import the official file with `radlab fetch {card.name} --from FILE`")
    try:
        with np.load(path, allow_pickle=False) as npz:
            found = sorted(npz.files)
            missing = [k for k in EXPECTED_KEYS if k not in found]
            if missing:
                raise DataError(f"the npz lacks the key(s) {', '.join(missing)}: expected keys "
                                f"{', '.join(EXPECTED_KEYS)}; found {', '.join(found) or 'none'}",
                                path=path, fix=fix_file)
            arrays = {k: npz[k] for k in EXPECTED_KEYS}
    except DataError:
        raise
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as err:
        raise DataError(f"not a readable .npz file, corrupt or truncated ({type(err).__name__}: {err})",
                        path=path, fix=fix_file) from err
    return {split: _check_split(split, arrays[f"{split}_images"], arrays[f"{split}_labels"],
                                card, path, fix_file) for split in SPLITS}


def _check_split(split: str, images: np.ndarray, labels: np.ndarray, card: DatasetCard,
                 path: Path, fix: str) -> LabeledImages:
    """Check one split's arrays against the card and return them as uint8 images, int64 labels."""
    shape = card.image_shape
    if images.dtype.kind == "f" and np.isnan(images).any():
        raise DataError(f"{split}_images contain NaN values", path=path, fix=fix)
    if images.dtype != np.uint8:
        raise DataError(f"{split}_images have dtype {images.dtype}; MedMNIST images are uint8 (0-255)",
                        path=path, fix=fix)
    if images.shape[1:] != shape:
        raise DataError(f"{split}_images have shape {images.shape}; expected (N, {', '.join(map(str, shape))}) "
                        f"for {card.image_size} images", path=path, fix=fix)
    if labels.dtype.kind == "f":
        if np.isnan(labels).any():
            raise DataError(f"{split}_labels contain NaN values", path=path, fix=fix)
        if not np.array_equal(labels, np.round(labels)):
            raise DataError(f"{split}_labels are not whole numbers", path=path, fix=fix)
    elif labels.dtype.kind not in "iub":
        raise DataError(f"{split}_labels have dtype {labels.dtype}; expected integers", path=path, fix=fix)
    if len(labels) != len(images):
        raise DataError(f"{split} has {len(images)} images but {len(labels)} labels", path=path, fix=fix)
    labels = labels.astype(np.int64)
    n_classes = len(card.classes)
    if card.multi_label:
        if labels.shape[1:] != (n_classes,) or not np.isin(labels, (0, 1)).all():
            raise DataError(f"{split}_labels have shape {labels.shape}; expected (N, {n_classes}) "
                            f"0/1 findings", path=path, fix=fix)
    else:
        if labels.ndim == 2 and labels.shape[1] == 1:
            labels = labels[:, 0]
        if labels.ndim != 1:
            raise DataError(f"{split}_labels have shape {labels.shape}; expected (N,) or (N, 1)",
                            path=path, fix=fix)
        if len(labels) and (labels.min() < 0 or labels.max() >= n_classes):
            raise DataError(f"{split}_labels range from {labels.min()} to {labels.max()}; the card has "
                            f"{n_classes} classes (0-{n_classes - 1})", path=path, fix=fix)
    return LabeledImages(images=images, labels=labels)

