"""Time to AUC: the default teaching CNN on the real PneumoniaMNIST, 2 CPU threads.

Goal: test AUC >= 0.95 (the MedMNIST v2 paper's ResNet-18 (28) reached 0.944) in at most
30 s of training. ``TeachingCNN()`` with its defaults, trained by ``fit`` with the library's
defaults plus the recommended recipe below (augmentation, class weights). The official
train / val / test splits are used: val picks the best epoch, test is looked at once.
Accuracy is reported at threshold 0.5. Prints ``name: value`` lines.

    .venv/bin/python benchmarks/time_to_auc.py [--threads 2] [--seed 0]
"""
from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch

from radlab.data.transforms import to_model_input
from radlab.models.cnn import TeachingCNN
from radlab.paths import shared_datasets
from radlab.metrics import roc_auc
from radlab.train import fit, predict

#: What is passed to fit besides the data; everything else is a library default.
RECIPE = dict(augment=("flip", "shift"), class_weight="balanced")


def load_splits() -> tuple[dict[str, np.ndarray], str]:
    """PneumoniaMNIST's three official splits: ../shared/datasets first, then the data cache."""
    folder = shared_datasets()
    path = folder / "pneumoniamnist.npz" if folder else None
    if path is not None and path.is_file():
        with np.load(path) as npz:
            return {k: npz[k] for k in npz.files}, str(path)
    from radlab.data.medmnist import load_medmnist

    data = load_medmnist("pneumoniamnist")
    arrays = {}
    for split in ("train", "val", "test"):
        part = getattr(data, split)
        arrays[f"{split}_images"], arrays[f"{split}_labels"] = part.images, part.labels
    return arrays, str(data.path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    arrays, source = load_splits()
    x = {s: to_model_input(arrays[f"{s}_images"]) for s in ("train", "val", "test")}
    y = {s: arrays[f"{s}_labels"].reshape(-1).astype(np.int64) for s in ("train", "val", "test")}

    torch.manual_seed(args.seed)
    model = TeachingCNN()
    load_before = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    cpu_start = time.process_time()
    result = fit(model, (x["train"], y["train"]), (x["val"], y["val"]), seed=args.seed, device="cpu",
                 save=False, progress=False, **RECIPE)
    cpu_seconds = time.process_time() - cpu_start
    load_after = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")

    p = predict(result.model, x["test"])
    print(f"data: {source}")
    print(f"train_images: {len(y['train'])}")
    print(f"threads: {args.threads}")
    print(f"recipe: TeachingCNN() + fit defaults + {RECIPE}")
    print(f"epochs: {len(result.history)}")
    print(f"best_epoch: {result.best_epoch}")
    print(f"train_seconds: {result.seconds:.1f}")
    print(f"train_cpu_seconds: {cpu_seconds:.1f}")
    print(f"load_average_before_after: {load_before:.1f} {load_after:.1f}")
    print(f"val_auc_best_epoch: {result.history.val_metric[result.best_epoch - 1]:.4f}")
    print(f"test_auc: {roc_auc(y['test'], p):.4f}")
    print(f"test_acc_at_0.5: {float(((p > 0.5) == y['test']).mean()):.4f}")


if __name__ == "__main__":
    main()
