"""2-D slice by slice, or 3-D: the same CT volumes, three ways to classify them (Lab 12).

- **2-D, slice by slice**: a 2-D CNN learns "is the nodule in this slice?" from single axial
  slices; a volume's score is the highest of its slices' scores (max aggregation).
- **2-D, two phases as channels**: the same, with the non-contrast and the venous-phase slice
  stacked as two input channels (multi-phase input; multi-view input works the same way).
- **3-D CNN**: 3×3×3 convolutions see the volume whole, so a ball (nodule) and a tube (vessel)
  differ.

All three are trained on the same volumes (split by volume) and seed; the comparison reports
test AUC, test accuracy (threshold chosen on validation), parameters, training time and
inference time per volume.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np
import torch
from torch import nn

from radlab.data.transforms import to_model_input
from radlab.data.volumes import VolumeSet, make_ct_volumes
from radlab.metrics import roc_auc
from radlab.models.cnn import CNN3D, GapCNN
from radlab.models.transfer import count_parameters
from radlab.train import History, fit, predict

#: Window presets (level, width) in HU.
WINDOWS = {"lung": (-600.0, 1500.0), "mediastinum": (40.0, 400.0), "bone": (400.0, 1800.0)}
MODELS = {"2d": "2-D CNN, slice by slice (max over slices)",
          "2d_phases": "2-D CNN, two phases as channels (max over slices)",
          "3d": "3-D CNN on the whole volume"}


@dataclass
class VolumeData:
    """Volumes split into train / val / test (by volume), windowed for the models."""

    volumes: VolumeSet
    split: dict[str, np.ndarray]         # indices into ``volumes`` per split
    level_hu: float
    width_hu: float

    def x(self, split: str, *, phases: bool = False) -> torch.Tensor:
        """``(N, C, D, H, W)`` in [0, 1]: one channel, or both phases as two."""
        idx = self.split[split]
        x = to_model_input(self.volumes.volumes[idx], units="HU", level_hu=self.level_hu, width_hu=self.width_hu)
        if phases:
            x2 = to_model_input(self.volumes.enhanced[idx], units="HU", level_hu=self.level_hu,
                                width_hu=self.width_hu)
            x = torch.cat([x, x2], dim=1)
        return x

    def y(self, split: str) -> np.ndarray:
        return self.volumes.labels[self.split[split]]

    def slice_y(self, split: str) -> np.ndarray:
        return self.volumes.slice_labels()[self.split[split]].reshape(-1)


def load_volume_data(*, fast: bool = False, seed: int = 0, window: str = "lung") -> VolumeData:
    """Synthetic chest CT volumes (:func:`radlab.data.volumes.make_ct_volumes`), 60 / 20 / 20 % by volume."""
    n = 64 if fast else 240
    vols = make_ct_volumes(n, seed=seed)
    order = np.random.default_rng(seed).permutation(n)
    n_train, n_val = int(0.6 * n), int(0.2 * n)
    split = {"train": np.sort(order[:n_train]), "val": np.sort(order[n_train:n_train + n_val]),
             "test": np.sort(order[n_train + n_val:])}
    level, width = WINDOWS[window]
    return VolumeData(vols, split, level, width)


def to_slices(x: torch.Tensor) -> torch.Tensor:
    """``(N, C, D, H, W)`` volumes -> ``(N·D, C, H, W)`` axial slices, volume by volume."""
    n, c, d, h, w = x.shape
    return x.permute(0, 2, 1, 3, 4).reshape(n * d, c, h, w).contiguous()


def aggregate_slices(slice_scores: Any, depth: int, how: str = "max") -> np.ndarray:
    """A volume's score from its slices' scores: the highest (``"max"``) or their mean."""
    s = np.asarray(slice_scores, dtype=np.float64).reshape(-1, depth)
    if how == "max":
        return s.max(axis=1)
    if how == "mean":
        return s.mean(axis=1)
    raise ValueError(f"how must be 'max' or 'mean', got {how!r}")


def best_threshold(y: Any, score: Any) -> float:
    """The threshold with the highest accuracy on (validation) data; ties: the middle one."""
    y, score = np.asarray(y), np.asarray(score, dtype=np.float64)
    candidates = np.unique(np.concatenate([[0.0, 1.0], score]))
    mids = (candidates[:-1] + candidates[1:]) / 2
    acc = np.array([np.mean((score >= t) == (y == 1)) for t in mids])
    best = np.flatnonzero(acc == acc.max())
    return float(mids[best[len(best) // 2]])


@dataclass
class ModelResult:
    """One approach's measurements on the test volumes."""

    name: str
    label: str
    params: int
    train_seconds: float
    infer_ms_per_volume: float
    test_auc: float
    test_accuracy: float
    threshold: float
    history: History
    test_scores: np.ndarray                 # one per test volume
    slice_scores: np.ndarray | None = None  # (N_test, D) for the 2-D models
    model: nn.Module | None = field(default=None, repr=False)


def _volume_scores(name: str, model: nn.Module, x: torch.Tensor) -> tuple[np.ndarray, np.ndarray | None]:
    if name == "3d":
        return predict(model, x).astype(np.float64), None
    depth = x.shape[2]
    slices = predict(model, to_slices(x)).astype(np.float64)
    return aggregate_slices(slices, depth), slices.reshape(-1, depth)


def train_model(data: VolumeData, name: str, *, epochs: int, seed: int = 0) -> ModelResult:
    """Train one approach of :data:`MODELS` on the training volumes; measure it on the test volumes."""
    if name not in MODELS:
        raise ValueError(f"model must be one of {tuple(MODELS)}, got {name!r}")
    phases = name == "2d_phases"
    x_train, x_val, x_test = (data.x(s, phases=phases) for s in ("train", "val", "test"))
    torch.manual_seed(seed)
    started = time.perf_counter()
    if name == "3d":
        model: nn.Module = CNN3D(in_channels=1, width=8, n_blocks=3)
        result = fit(model, (x_train, data.y("train")), (x_val, data.y("val")), epochs=epochs, batch_size=8,
                     lr=3e-3, class_weight="balanced", seed=seed, device="cpu", save=False, progress=False)
    else:
        model = GapCNN(in_channels=2 if phases else 1, width=16, n_blocks=3)
        result = fit(model, (to_slices(x_train), data.slice_y("train")), (to_slices(x_val), data.slice_y("val")),
                     epochs=epochs, batch_size=32, lr=3e-3, class_weight="balanced", seed=seed, device="cpu",
                     save=False, progress=False)
    train_seconds = time.perf_counter() - started
    val_scores, _ = _volume_scores(name, result.model, x_val)
    threshold = best_threshold(data.y("val"), val_scores)
    started = time.perf_counter()
    test_scores, slice_scores = _volume_scores(name, result.model, x_test)
    infer_ms = 1000 * (time.perf_counter() - started) / max(1, len(x_test))
    y_test = data.y("test")
    return ModelResult(name, MODELS[name], count_parameters(result.model)[1], round(train_seconds, 2),
                       round(infer_ms, 2), float(roc_auc(y_test, test_scores, undefined="nan")),
                       float(np.mean((test_scores >= threshold) == (y_test == 1))), threshold, result.history,
                       test_scores, slice_scores, result.model)


def compare_2d_3d(data: VolumeData, *, epochs_2d: int, epochs_3d: int, seed: int = 0,
                  models: Sequence[str] = tuple(MODELS),
                  on_result: Callable[[ModelResult], None] | None = None) -> list[ModelResult]:
    """Train each approach on the same volumes and seed; their test results, in ``models`` order."""
    results = []
    for name in models:
        result = train_model(data, name, epochs=epochs_3d if name == "3d" else epochs_2d, seed=seed)
        results.append(result)
        if on_result is not None:
            on_result(result)
    return results


def nodule_extent(volumes: VolumeSet, index: int, min_voxels: int = 3) -> tuple[int, int] | None:
    """The first and last axial slice showing the nodule of volume ``index`` (None without one)."""
    rows = np.flatnonzero(volumes.slice_labels(min_voxels)[index])
    return (int(rows[0]), int(rows[-1])) if rows.size else None


__all__ = ["MODELS", "WINDOWS", "ModelResult", "VolumeData", "aggregate_slices", "best_threshold", "compare_2d_3d",
           "load_volume_data", "nodule_extent", "to_slices", "train_model"]
