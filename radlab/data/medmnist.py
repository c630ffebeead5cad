"""Load MedMNIST v2 datasets (official ``.npz`` files) from the data cache, checking what is inside.

A MedMNIST file holds six arrays: ``train_images``, ``train_labels``, ``val_images``,
``val_labels``, ``test_images``, ``test_labels``. Images are uint8, (N, 28, 28) for 2D
subsets and (N, 28, 28, 28) for 3D ones; labels are (N, 1) class numbers, or (N, K) 0/1
findings for multi-label ChestMNIST.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

from radlab.data.cards import DatasetCard, UnofficialDataWarning
from radlab.data.catalog import cached_path, fetch, get_card
from radlab.data.medmnist_npz import EXPECTED_KEYS, SPLITS, LabeledImages, read_medmnist_npz  # noqa: F401  (re-exported)
from radlab.errors import DataError


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
