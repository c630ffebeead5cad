"""A small trained model for the explanation labs (CAM, adversarial examples, inside the CNN).

``reference_model()`` trains a GAP-head CNN on synthetic chest phantoms, split by patient,
once, and caches its weights in ``data_cache()/models/<key>.pt``; later calls load them
(``weights_only=True``) in well under a second. The phantoms are regenerated from the seed,
so the images, masks and boxes returned are the ones the model was trained and tested on.
The key names the recipe, so changing the recipe trains a new model instead of loading a
stale one.
"""
from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from radlab.data.transforms import to_model_input
from radlab.errors import DataError
from radlab.metrics import roc_auc
from radlab.paths import data_cache
from radlab.train import fit, load_checkpoint, predict, save_checkpoint

DATASETS = ("chest-phantoms",)
ARCHS = ("gap_cnn", "teaching_cnn")
_RECIPE_VERSION = 1

#: How the reference model is trained: ``fast`` for CI and quick starts, the full one for the labs.
RECIPES: dict[bool, dict[str, Any]] = {
    True: dict(n_patients=240, images_per_patient=3, size=64, width=8, epochs=6, batch_size=32, lr=4e-3),
    False: dict(n_patients=400, images_per_patient=3, size=64, width=8, epochs=10, batch_size=32, lr=4e-3),
}


@dataclass
class SplitArrays:
    """One split of the phantom data, ready for the model: ``x`` is ``(N, 1, H, W)`` in [0, 1]."""

    x: torch.Tensor
    y: np.ndarray            # 0 = no lesion, 1 = lesion
    masks: np.ndarray        # bool (N, H, W) lesion masks
    boxes: np.ndarray        # float32 (N, 4) x0, y0, x1, y1 in pixels; NaN without a lesion
    lesion_type: np.ndarray  # 0 none, 1 benign, 2 malignant
    patient_ids: np.ndarray

    def __len__(self) -> int:
        return len(self.y)


@dataclass
class ReferenceData:
    """The train / val / test splits (by patient); ``data["test"]`` works as well as ``data.test``."""

    train: SplitArrays
    val: SplitArrays
    test: SplitArrays

    def __getitem__(self, split: str) -> SplitArrays:
        if split not in ("train", "val", "test"):
            raise KeyError(f"no split {split!r}: use 'train', 'val' or 'test'")
        return getattr(self, split)


@dataclass
class ReferenceModel:
    """A trained model (in eval mode, on the CPU), its data, and how it was made (``info``)."""

    model: nn.Module
    data: ReferenceData
    info: dict[str, Any]


def _recipe(dataset: str, arch: str, fast: bool, seed: int) -> dict[str, Any]:
    return {"dataset": dataset, "arch": arch, "seed": seed, "version": _RECIPE_VERSION, **RECIPES[bool(fast)]}


def cache_key(dataset: str = "chest-phantoms", arch: str = "gap_cnn", *, fast: bool = False, seed: int = 0) -> str:
    """The file name stem of a reference model: readable, plus a hash of the full recipe."""
    recipe = _recipe(dataset, arch, fast, seed)
    digest = hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:10]
    return f"{dataset}-{arch}-{'fast' if fast else 'full'}-seed{seed}-{digest}"


def _build(arch: str, recipe: dict[str, Any]) -> nn.Module:
    from radlab.models.cnn import GapCNN, TeachingCNN  # noqa: PLC0415

    if arch == "gap_cnn":
        return GapCNN(in_channels=1, num_classes=1, width=recipe["width"], n_blocks=4)
    return TeachingCNN(in_channels=1, num_classes=1, width=recipe["width"], n_blocks=3,
                       image_size=recipe["size"])


def _phantom_data(recipe: dict[str, Any]) -> ReferenceData:
    """Chest phantoms, split by patient (the same seed always gives the same images and split)."""
    from radlab.data.phantoms import make_phantoms  # noqa: PLC0415
    from radlab.data.splits import split_by_patient  # noqa: PLC0415

    ph = make_phantoms("chest", n_patients=recipe["n_patients"], images_per_patient=recipe["images_per_patient"],
                       size=recipe["size"], seed=recipe["seed"])
    split = split_by_patient(ph.labels, ph.patient_ids, seed=recipe["seed"])
    parts = {}
    for name in ("train", "val", "test"):
        idx = getattr(split, name)
        parts[name] = SplitArrays(x=to_model_input(ph.images[idx], units="unit"),
                                  y=np.asarray(ph.labels[idx], dtype=np.int64),
                                  masks=np.asarray(ph.masks[idx], dtype=bool),
                                  boxes=np.asarray(ph.boxes[idx], dtype=np.float32),
                                  lesion_type=np.asarray(ph.lesion_type[idx], dtype=np.int64),
                                  patient_ids=np.asarray(ph.patient_ids[idx]))
    return ReferenceData(**parts)


def reference_model(dataset: str = "chest-phantoms", arch: str = "gap_cnn", *, fast: bool = False,
                    seed: int = 0, retrain: bool = False) -> ReferenceModel:
    """Train (first time) or load (afterwards) the small reference CNN and its phantom data.

    ``fast=True`` trains a smaller model on fewer phantoms (about 10 s on 2 cores); the full
    one takes up to a minute once. ``retrain=True`` ignores the cached weights (and
    replaces them). The model comes back in eval mode on the CPU.
    """
    if dataset not in DATASETS:
        raise DataError(f"no reference model for dataset {dataset!r}", fix=f"use one of {', '.join(DATASETS)}")
    if arch not in ARCHS:
        raise DataError(f"no reference architecture {arch!r}", fix=f"use one of {', '.join(ARCHS)}")
    recipe = _recipe(dataset, arch, fast, seed)
    key = cache_key(dataset, arch, fast=fast, seed=seed)
    path = data_cache() / "models" / f"{key}.pt"
    data = _phantom_data(recipe)
    model = _build(arch, recipe)

    if path.is_file() and not retrain:
        try:
            info = load_checkpoint(model, path)
            info.update(cached=True, path=str(path))
            return ReferenceModel(model.eval(), data, info)
        except DataError:
            pass  # a damaged or incompatible cache file: train again and replace it

    started = time.perf_counter()
    torch.manual_seed(seed)
    model = _build(arch, recipe)
    result = fit(model, (data.train.x, data.train.y), (data.val.x, data.val.y), task="classification",
                 epochs=recipe["epochs"], batch_size=recipe["batch_size"], lr=recipe["lr"],
                 augment=("flip", "shift"), seed=seed, device="cpu", save=False, progress=False)
    seconds = time.perf_counter() - started
    info = {"dataset": dataset, "arch": arch, "key": key, "fast": bool(fast), "seed": seed,
            "epochs": len(result.history), "best_epoch": result.best_epoch, "seconds": round(seconds, 2),
            "val_auc": roc_auc(data.val.y, predict(model, data.val.x), undefined="nan"),
            "test_auc": roc_auc(data.test.y, predict(model, data.test.x), undefined="nan"),
            "n_train": len(data.train), "image_size": recipe["size"], "width": recipe["width"]}
    save_checkpoint(path, model.cpu(), **info)
    info.update(cached=False, path=str(path))
    return ReferenceModel(model.cpu().eval(), data, info)
