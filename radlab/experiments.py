"""Experiments a lesson runs end to end, callable from notebooks, widgets, tests and benchmarks.

:func:`leak_experiment` (Lab 2): train the same small CNN on a split by image and on a
split by patient, then score each on its own test set and on new patients: the gap is the
AUC that patient leakage makes up.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from radlab.data.phantoms import make_phantoms
from radlab.data.splits import Split, split_by_image, split_by_patient
from radlab.data.transforms import to_model_input
from radlab.metrics import roc_auc, roc_auc_ci
from radlab.models.cnn import TeachingCNN
from radlab.train import fit, predict

#: The two ways Lab 2 splits: by image (leaky) and by patient.
SPLIT_METHODS = {"image": "by image (leaky)", "patient": "by patient"}


def make_split(method: str, labels: np.ndarray, patient_ids: np.ndarray, seed: int) -> Split:
    """The split the lab shows for ``method`` ("image" or "patient"); 15 % val, 15 % test."""
    if method == "image":
        return split_by_image(labels, seed=seed)
    if method == "patient":
        return split_by_patient(labels, patient_ids, seed=seed)
    raise ValueError(f"unknown split method {method!r}; choose one of {sorted(SPLIT_METHODS)}")


@dataclass
class LeakExperiment:
    """One small CNN trained on the split by image and on the split by patient, then scored twice.

    ``auc``: on the split's own test set (what a paper would report). ``auc_new``: on patients
    that appear nowhere in the data (what happens in the clinic). The gap between the two, for
    the leaky split, is the score the leak made up.
    """

    auc: dict[str, float]                    # method -> AUC on its own test set
    auc_ci: dict[str, tuple[float, float]]   # method -> 95 % bootstrap interval of ``auc``
    auc_new: dict[str, float]                # method -> AUC on new patients
    n_test: dict[str, int]                   # method -> test images
    seen_test_images: dict[str, int]         # method -> test images whose patient is also in train
    n_new: int                               # images of new patients
    epochs: int
    seed: int
    seconds: float

    @property
    def inflation(self) -> float:
        """How far the leaky split's test AUC overstates the AUC on new patients."""
        return self.auc["image"] - self.auc_new["image"]

    def __str__(self) -> str:
        lines = [f"Same CNN, same seed ({self.seed}), {self.epochs} epochs; both trained in {self.seconds:.0f} s."]
        for method, label in SPLIT_METHODS.items():
            low, high = self.auc_ci[method]
            lines.append(f"  {label:<17} test AUC {self.auc[method]:.3f} (95% CI {low:.2f}-{high:.2f}), "
                         f"new patients {self.auc_new[method]:.3f}; {self.seen_test_images[method]} of "
                         f"{self.n_test[method]} test images are of patients seen in training")
        lines.append(f"  the leaky test set overstates the AUC on {self.n_new} new patients by {self.inflation:+.3f}")
        return "\n".join(lines)


def leak_experiment(phantoms: Any, new_patients: Any | None = None, *, seed: int = 0, epochs: int = 12,
                    width: int = 8, batch_size: int = 32, lr: float = 3e-3) -> LeakExperiment:
    """Train the same small CNN on the split by image and by patient; compare the test AUCs.

    Everything but the split is the same: architecture, seed, epochs, optimiser. The
    by-image test set holds images of patients the model trained on, so its AUC measures
    partly memory. Both models are also scored on ``new_patients`` (by default 100 fresh
    phantom patients, one image each): the yardstick neither split can leak into. The leak
    shows most with several images per patient (a follow-up series), as in real archives.
    """
    started = time.perf_counter()
    if new_patients is None:  # another seed draws other patients
        kind = "ct" if getattr(phantoms, "units", "detector") == "HU" else "chest"
        new_patients = make_phantoms(kind, n_patients=100, images_per_patient=1,
                                     size=int(phantoms.images.shape[-1]), seed=seed + 10_007)
    units = "HU" if getattr(phantoms, "units", "detector") == "HU" else "unit"  # CT phantoms are in HU
    x = to_model_input(phantoms.images, units=units)
    x_new = to_model_input(new_patients.images, units=units)
    labels, pids = np.asarray(phantoms.labels), np.asarray(phantoms.patient_ids)
    y = labels.astype(np.float32)
    auc, auc_ci, auc_new, n_test, seen = {}, {}, {}, {}, {}
    for method in SPLIT_METHODS:
        split = make_split(method, labels, pids, seed)
        torch.manual_seed(seed)   # both splits' CNNs start from the same weights, whatever ran before
        model = TeachingCNN(width=width, n_blocks=3, image_size=x.shape[-1])
        result = fit(model, (x[split.train], y[split.train]), (x[split.val], y[split.val]), epochs=epochs,
                     batch_size=batch_size, lr=lr, seed=seed, save=False, progress=False)
        ci = roc_auc_ci(labels[split.test], predict(result.model, x[split.test]), seed=seed)
        auc[method], auc_ci[method] = float(ci.auc), (float(ci.low), float(ci.high))
        auc_new[method] = float(roc_auc(new_patients.labels, predict(result.model, x_new)))
        n_test[method] = int(split.test.size)
        seen[method] = int(np.isin(pids[split.test], pids[split.train]).sum())
    return LeakExperiment(auc, auc_ci, auc_new, n_test, seen, len(new_patients.labels), epochs, seed,
                          time.perf_counter() - started)


__all__ = ["SPLIT_METHODS", "LeakExperiment", "leak_experiment", "make_split"]
