"""Time to AUC: the default classifier on the real PneumoniaMNIST, 2 CPU threads, new way vs previous way.

Goal (issue 14): test AUC >= 0.96 in at most 5 s of training, median of 3 seeds, with test
accuracy >= 0.88 at threshold 0.5. The default classifier is ``TeachingCNN()`` trained by
``fit(..., **CLASSIFIER_RECIPE)`` (radlab.train: the recipe the training lab starts from). The
official train / val / test splits are used: val picks the best epoch, test is looked at once.

One run measures both ways, seed by seed, on the same machine state: the new way is this
script with ``--single``, the previous way is the baseline commit's own ``time_to_auc.py`` in a
git worktree (``benchmarks/baseline.py``), each a fresh subprocess. Prints ``name: value``
lines: every run, the medians, the ratio previous / new, and the load average before and after.

    .venv/bin/python benchmarks/time_to_auc.py [--threads 2] [--seeds 0 1 2] [--no-baseline]
    .venv/bin/python benchmarks/time_to_auc.py --single --seed 0     # one run, the new way
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

from baseline import BASELINE_REF, baseline_env, baseline_tree, load_average  # benchmarks/baseline.py
from radlab.data.transforms import to_model_input
from radlab.metrics import roc_auc
from radlab.models.cnn import TeachingCNN
from radlab.paths import PROJECT_ROOT, shared_datasets
from radlab.train import CLASSIFIER_RECIPE, fit, predict

GOAL = {"train_seconds": 5.0, "test_auc": 0.96, "test_acc_at_0.5": 0.88}
FIGURES = ("train_seconds", "test_auc", "test_acc_at_0.5", "epochs", "best_epoch")


def load_splits() -> tuple[dict[str, np.ndarray], str]:
    """PneumoniaMNIST's three official splits: ../shared/datasets first, then the data cache."""
    folder = shared_datasets()
    path = folder / "pneumoniamnist.npz" if folder else None
    if path is not None and path.is_file():
        with np.load(path) as npz:
            return {k: npz[k] for k in npz.files}, str(path)
    from radlab.data.medmnist import load_medmnist  # only without the shared copy

    data = load_medmnist("pneumoniamnist")
    arrays = {}
    for split in ("train", "val", "test"):
        part = getattr(data, split)
        arrays[f"{split}_images"], arrays[f"{split}_labels"] = part.images, part.labels
    return arrays, str(data.path)


def single_run(seed: int, threads: int) -> None:
    """One training of the default classifier, the new way; prints its figures."""
    torch.set_num_threads(threads)
    arrays, source = load_splits()
    x = {s: to_model_input(arrays[f"{s}_images"]) for s in ("train", "val", "test")}
    y = {s: arrays[f"{s}_labels"].reshape(-1).astype(np.int64) for s in ("train", "val", "test")}
    torch.manual_seed(seed)
    model = TeachingCNN()
    load_before = os.getloadavg()[0]
    cpu_start = time.process_time()
    result = fit(model, (x["train"], y["train"]), (x["val"], y["val"]), seed=seed, device="cpu", save=False,
                 progress=False, **CLASSIFIER_RECIPE)
    cpu_seconds = time.process_time() - cpu_start
    load_after = os.getloadavg()[0]
    p = predict(result.model, x["test"])
    print(f"data: {source}")
    print(f"train_images: {len(y['train'])}")
    print(f"threads: {threads}")
    print(f"recipe: TeachingCNN() + fit(**CLASSIFIER_RECIPE) = {CLASSIFIER_RECIPE}")
    print(f"epochs: {len(result.history)}")
    print(f"best_epoch: {result.best_epoch}")
    print(f"train_seconds: {result.seconds:.2f}")
    print(f"train_cpu_seconds: {cpu_seconds:.1f}")
    print(f"load_average_before_after: {load_before:.1f} {load_after:.1f}")
    print(f"val_auc_best_epoch: {result.history.val_metric[result.best_epoch - 1]:.4f}")
    print(f"test_auc: {roc_auc(y['test'], p):.4f}")
    print(f"test_acc_at_0.5: {float(((p > 0.5) == y['test']).mean()):.4f}")


def parse_lines(text: str) -> dict[str, str]:
    """``name: value`` lines -> a dict (other lines ignored)."""
    out = {}
    for line in text.splitlines():
        name, sep, value = line.partition(": ")
        if sep and name and " " not in name:
            out[name] = value.strip()
    return out


def run_script(cmd: list[str], cwd: Path, env: dict[str, str]) -> dict[str, str]:
    """Run one measurement in a fresh process; its ``name: value`` lines."""
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} (in {cwd}) failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")
    return parse_lines(done.stdout)


def compare(seeds: list[int], threads: int, with_baseline: bool) -> None:
    """Both ways, seed by seed (new, then previous), then medians and ratios."""
    env = dict(os.environ)
    shared = shared_datasets()
    if shared is not None:  # the baseline tree's own ../shared would be under benchmarks/output
        env["RADLAB_SHARED_DATASETS"] = str(shared)
    ways: dict[str, tuple[list[str], Path, dict[str, str]]] = {
        "new": ([sys.executable, str(Path(__file__).resolve()), "--single"], PROJECT_ROOT, env)}
    if with_baseline:
        tree = baseline_tree()
        ways["previous"] = ([sys.executable, "benchmarks/time_to_auc.py"], tree, baseline_env(tree, env))
        print(f"previous_way: {BASELINE_REF} (git worktree {tree}), TeachingCNN() + its fit defaults + its RECIPE")
    print(f"new_way: TeachingCNN() + fit(**CLASSIFIER_RECIPE) = {CLASSIFIER_RECIPE}")
    print(f"threads: {threads}")
    print(f"seeds: {' '.join(map(str, seeds))}")
    print(f"loadavg_before: {load_average()}")
    results: dict[str, list[dict[str, str]]] = {way: [] for way in ways}
    for seed in seeds:
        for way, (cmd, cwd, way_env) in ways.items():
            figures = run_script(cmd + ["--seed", str(seed), "--threads", str(threads)], cwd, way_env)
            results[way].append(figures)
            print(f"seed_{seed}_{way}: " + " ".join(f"{k} {figures.get(k, '?')}" for k in FIGURES)
                  + f" load {figures.get('load_average_before_after', '?')}", flush=True)
    print(f"loadavg_after: {load_average()}")
    medians = {}
    for way, runs in results.items():
        for k in FIGURES[:3]:
            medians[way, k] = statistics.median(float(r[k]) for r in runs)
            print(f"{way}_{k}_median: {medians[way, k]:.4f}" if k != "train_seconds"
                  else f"{way}_{k}_median: {medians[way, k]:.2f}")
    if with_baseline:
        print(f"train_seconds_ratio_previous_over_new: {medians['previous', 'train_seconds'] / medians['new', 'train_seconds']:.2f}")
    met = (medians["new", "train_seconds"] <= GOAL["train_seconds"] and medians["new", "test_auc"] >= GOAL["test_auc"]
           and medians["new", "test_acc_at_0.5"] >= GOAL["test_acc_at_0.5"])
    print(f"goal: median train_seconds <= {GOAL['train_seconds']:g}, test_auc >= {GOAL['test_auc']:g}, "
          f"test_acc_at_0.5 >= {GOAL['test_acc_at_0.5']:g}")
    print(f"goal_met_new: {'yes' if met else 'no'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--seed", type=int, default=0, help="with --single: the one seed")
    parser.add_argument("--single", action="store_true", help="one run, the new way (what compare runs)")
    parser.add_argument("--no-baseline", action="store_true", help="the new way only")
    args = parser.parse_args()
    if args.single:
        single_run(args.seed, args.threads)
    else:
        compare(args.seeds, args.threads, not args.no_baseline)


if __name__ == "__main__":
    main()
