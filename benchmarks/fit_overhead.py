"""Overhead of radlab's fit() (monitor on, checkpoints written) over a bare PyTorch loop.

Same model, data, seed, optimiser (AdamW), one-cycle schedule, loss and per-epoch
evaluation (training loss + AUC from the epoch's outputs, validation loss + AUC) in both.
Runs alternate (fit, bare, fit, bare, ...) so that a busy machine slows both alike; the
ratio uses the medians. Prints ``name: value`` lines.

    .venv/bin/python benchmarks/fit_overhead.py [--repeats 3] [--epochs 3] [--n-train 2000]
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from radlab.data.transforms import to_model_input
from radlab.models.cnn import TeachingCNN
from radlab.monitor import OverfittingMonitor
from radlab.paths import shared_datasets
from radlab.metrics import roc_auc
from radlab.train import fit


def load_data(n_train: int) -> tuple[tuple[torch.Tensor, np.ndarray], tuple[torch.Tensor, np.ndarray]]:
    """PneumoniaMNIST from ../shared/datasets (or the data cache): the first n_train training images + val."""
    folder = shared_datasets()
    path = folder / "pneumoniamnist.npz" if folder else None
    if path is not None and path.is_file():
        with np.load(path) as npz:
            parts = {k: npz[k] for k in ("train_images", "train_labels", "val_images", "val_labels")}
    else:
        from radlab.data.medmnist import load_medmnist

        data = load_medmnist("pneumoniamnist")
        parts = {"train_images": data.train.images, "train_labels": data.train.labels,
                 "val_images": data.val.images, "val_labels": data.val.labels}
    train = (to_model_input(parts["train_images"][:n_train]), parts["train_labels"][:n_train].reshape(-1))
    val = (to_model_input(parts["val_images"]), parts["val_labels"].reshape(-1))
    return train, val


def bare_loop(model: nn.Module, train, val, *, epochs: int, batch_size: int, lr: float, seed: int) -> float:
    """The same training a student would write by hand; returns the final validation loss."""
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    x, y = train[0], torch.as_tensor(train[1]).float().reshape(-1, 1)
    xv, yv = val[0], torch.as_tensor(val[1]).float().reshape(-1, 1)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    steps = len(x) // batch_size + (1 if len(x) % batch_size > 1 else 0)
    schedule = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=epochs * steps)
    loss_fn = nn.BCEWithLogitsLoss()
    val_loss = float("nan")
    for _epoch in range(epochs):
        model.train()
        order = torch.randperm(len(x), generator=generator)
        total, outputs = torch.zeros(()), []
        for b in range(steps):
            idx = order[b * batch_size:(b + 1) * batch_size]
            out = model(x[idx])
            loss = loss_fn(out, y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            schedule.step()
            total += loss.detach() * len(idx)
            outputs.append(out.detach())
        _train_loss = float(total) / len(x)
        _train_auc = roc_auc(y[order[:steps * batch_size]].numpy(), torch.cat(outputs)[:, 0].numpy(), undefined="nan")
        model.eval()
        with torch.inference_mode():
            out = torch.cat([model(xv[i:i + 256]) for i in range(0, len(xv), 256)])
            val_loss = float(loss_fn(out, yv))
            _val_auc = roc_auc(yv.numpy(), out[:, 0].numpy(), undefined="nan")
    return val_loss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--n-train", type=int, default=2000)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    train, val = load_data(args.n_train)
    lr, seed = 3e-3, 0
    times: dict[str, list[float]] = {"fit": [], "bare": []}
    with tempfile.TemporaryDirectory() as runs:
        for repeat in range(args.repeats):
            for name in ("fit", "bare"):
                torch.manual_seed(seed)
                model = TeachingCNN()
                start = time.perf_counter()
                if name == "fit":
                    result = fit(model, train, val, epochs=args.epochs, batch_size=args.batch_size, lr=lr,
                                 seed=seed, monitor=OverfittingMonitor(patience=args.epochs + 1),
                                 run_dir=Path(runs) / f"run{repeat}", progress=False, device="cpu")
                    final = result.history.val_loss[-1]
                else:
                    final = bare_loop(model, train, val, epochs=args.epochs, batch_size=args.batch_size, lr=lr,
                                      seed=seed)
                seconds = time.perf_counter() - start
                times[name].append(seconds)
                print(f"{name}_seconds_run{repeat + 1}: {seconds:.2f}   (final val loss {final:.4f})", flush=True)
    fit_median, bare_median = statistics.median(times["fit"]), statistics.median(times["bare"])
    print(f"fit_median_seconds: {fit_median:.2f}")
    print(f"bare_median_seconds: {bare_median:.2f}")
    print(f"fit_overhead_ratio: {fit_median / bare_median:.3f}")
    print(f"fit_overhead_ratio_best_of: {min(times['fit']) / min(times['bare']):.3f}")


if __name__ == "__main__":
    main()
