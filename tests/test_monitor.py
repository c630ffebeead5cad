"""The overfitting monitor: early stop on a widening gap, best weights restored, a diagnosis with mitigations."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from radlab.monitor import OverfittingMonitor, diagnose
from radlab.train import History, fit, load_checkpoint


def make_history(train, val, train_metric=None, val_metric=None) -> History:
    h = History(task="classification", metric_name="AUC")
    train_metric = train_metric or [0.9] * len(train)
    val_metric = val_metric or [0.85] * len(train)
    for t, v, tm, vm in zip(train, val, train_metric, val_metric):
        h.append(train_loss=t, val_loss=v, train_metric=tm, val_metric=vm, lr=1e-3, seconds=0.1)
    return h


def feed(monitor: OverfittingMonitor, train, val):
    """Give the monitor one epoch at a time, as fit does; return the verdicts."""
    h = History()
    verdicts = []
    for t, v in zip(train, val):
        h.append(train_loss=t, val_loss=v, train_metric=0.9, val_metric=0.8, lr=1e-3, seconds=0.1)
        verdicts.append(monitor.update(h))
    return verdicts


OVERFIT_TRAIN = [0.70, 0.50, 0.40, 0.30, 0.20, 0.10]
OVERFIT_VAL = [0.72, 0.60, 0.55, 0.58, 0.63, 0.70]


def test_monitor_stops_after_patience_epochs_of_a_widening_gap():
    monitor = OverfittingMonitor(patience=3)
    verdicts = feed(monitor, OVERFIT_TRAIN, OVERFIT_VAL)
    assert [v.stop for v in verdicts] == [False] * 5 + [True]
    assert [v.state for v in verdicts[3:]] == ["overfitting"] * 3
    assert monitor.best_epoch == 3 and monitor.stopped_epoch == 6
    assert monitor.gap()[-1] > monitor.gap()[2]


def test_improvements_smaller_than_min_delta_do_not_reset_patience():
    monitor = OverfittingMonitor(patience=2, min_delta=0.01)
    verdicts = feed(monitor, [0.5, 0.49, 0.48], [0.60, 0.599, 0.598])  # 0.2 % better: noise
    assert verdicts[-1].stop and monitor.best_epoch == 1
    patient = OverfittingMonitor(patience=2, min_delta=0.0)
    assert not feed(patient, [0.5, 0.49, 0.48], [0.60, 0.599, 0.598])[-1].stop


def test_subscribers_hear_about_every_epoch():
    monitor = OverfittingMonitor(patience=5)
    seen = []
    monitor.subscribe(lambda m: seen.append((len(m.history), m.state)))
    feed(monitor, OVERFIT_TRAIN[:3], OVERFIT_VAL[:3])
    assert seen == [(1, "improving"), (2, "improving"), (3, "improving")]


def test_the_monitor_module_does_not_need_widgets():
    code = "import sys, radlab.monitor; assert 'ipywidgets' not in sys.modules and 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def memorisation_task(seed: int = 0):
    """Random labels: nothing to learn, everything to memorise -> validation loss must rise."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(48, 1, 8, 8, generator=g)
    y = torch.randint(0, 2, (48,), generator=g)
    return (x[:32], y[:32]), (x[32:], y[32:])


def big_model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 1))


def test_fit_stops_early_on_overfitting_and_restores_the_best_weights(tmp_path: Path):
    train, val = memorisation_task()
    monitor = OverfittingMonitor(patience=3)
    result = fit(big_model(), train, val, epochs=40, batch_size=8, lr=1e-2, schedule=None, monitor=monitor,
                 run_dir=tmp_path / "run", progress=False)
    h = result.history
    assert result.stopped_early and result.stop_reason == "early stop" and len(h) < 40
    assert result.best_epoch == h.best_epoch == monitor.best_epoch
    assert h.val_loss[-1] > min(h.val_loss) and h.train_loss[-1] < h.train_loss[result.best_epoch - 1]
    best = big_model()
    load_checkpoint(best, result.run_dir / "best.pt")
    for w, w_best in zip(result.model.state_dict().values(), best.state_dict().values()):
        assert torch.equal(w, w_best)
    text = monitor.diagnosis()
    assert "OVERFITTING" in text and f"epoch {result.best_epoch}" in text and "restored" in text


def test_restore_best_false_keeps_the_last_weights(tmp_path: Path):
    train, val = memorisation_task()
    result = fit(big_model(), train, val, epochs=40, batch_size=8, lr=1e-2, schedule=None,
                 monitor=OverfittingMonitor(patience=2, restore_best=False), run_dir=tmp_path / "run",
                 progress=False)
    best = big_model()
    load_checkpoint(best, result.run_dir / "best.pt")
    assert len(result.history) > result.best_epoch
    assert not torch.equal(result.model[1].weight, best[1].weight)


@pytest.mark.parametrize("kind, train, val, train_metric, words", [
    ("overfitting", OVERFIT_TRAIN, OVERFIT_VAL, None,
     ["more training images", "augmentation", "weight decay", "dropout", "batch normalisation", "smaller model"]),
    ("underfitting", [0.69, 0.68, 0.68, 0.67], [0.69, 0.69, 0.68, 0.68], [0.55, 0.56, 0.58, 0.6],
     ["bigger model", "more epochs"]),
    ("unstable", [0.7, 0.9, 0.6, 1.1, 0.8, 1.2], [0.7, 0.95, 0.7, 1.2, 0.9, 1.3], None, ["lower learning rate"]),
    ("still improving", [0.7, 0.5, 0.4, 0.33], [0.72, 0.55, 0.47, 0.42], None, ["more epochs"]),
    ("good fit", [0.7, 0.4, 0.35, 0.34, 0.34], [0.72, 0.45, 0.41, 0.40, 0.40], None, []),
])
def test_diagnosis_names_what_it_sees_and_the_mitigations_for_it(kind, train, val, train_metric, words):
    d = diagnose(make_history(train, val, train_metric))
    assert d.kind == kind
    text = str(d)
    for word in words:
        assert word in text, f"{kind}: {word!r} missing from\n{text}"


def test_two_epochs_are_too_early_to_diagnose():
    assert diagnose(make_history([0.7, 0.5], [0.6, 0.65])).kind == "too early"


def test_a_diverged_run_is_diagnosed_as_unstable():
    d = diagnose(make_history([0.7, float("nan")], [0.7, float("nan")]), settings={"lr": 0.5})
    assert d.kind == "unstable" and "try 0.05" in str(d)


def test_advice_is_tailored_to_the_settings_used():
    text = str(diagnose(make_history(OVERFIT_TRAIN, OVERFIT_VAL), settings={
        "augment": ["flip"], "dropout": 0.0, "weight_decay": 1e-4, "width": 32, "data_fraction": 0.25,
        "batchnorm": False}))
    for phrase in ("you use flip", "now 0: try 0.3", "now 0.0001: try 0.001", "width 32: try 16",
                   "25% of the training images", "it is off"):
        assert phrase in text, phrase


def test_bad_monitor_settings_are_refused():
    with pytest.raises(ValueError, match="patience"):
        OverfittingMonitor(patience=0)
    with pytest.raises(ValueError, match="min_delta"):
        OverfittingMonitor(min_delta=2.0)
