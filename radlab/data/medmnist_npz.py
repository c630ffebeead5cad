"""Read a MedMNIST ``.npz`` file and check what is inside (keys, dtypes, shapes, labels) against its card.

Used by the catalog (to refuse a bad file when it is fetched or imported) and by
:func:`radlab.data.medmnist.load_medmnist`.
"""
from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from radlab.data.cards import DatasetCard
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


__all__ = ["EXPECTED_KEYS", "SPLITS", "LabeledImages", "read_medmnist_npz"]
