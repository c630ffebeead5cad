"""fit(): seeded, every task, clean interrupts, never overwrites a run; History; predict."""
from __future__ import annotations

import math
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset

from radlab.errors import DataError
from radlab.train import Callback, History, fit, load_checkpoint, make_loss, new_run_dir, predict


class TinyNet(nn.Module):
    """A very small classifier (conv, BN, dropout, GAP, linear) for quick tests."""

    def __init__(self, num_classes: int = 1, dropout: float = 0.2):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 6, 3, padding=1), nn.BatchNorm2d(6), nn.ReLU(),
                                      nn.AdaptiveAvgPool2d(2), nn.Flatten(), nn.Dropout(dropout))
        self.classifier = nn.Linear(24, num_classes)

    def forward(self, x):
        return self.classifier(self.features(x))


class TinyMapNet(nn.Module):
    """Image in, one-channel map out (segmentation logits or a denoised image)."""

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 1, 3, padding=1))

    def forward(self, x):
        return self.body(x)


def squares(n: int = 96, size: int = 12, seed: int = 0):
    """Noise images; label 1 images carry a bright square (an easy, learnable task)."""
    g = torch.Generator().manual_seed(seed)
    x = 0.3 * torch.rand(n, 1, size, size, generator=g)
    y = (torch.arange(n) % 2).long()
    x[y == 1, :, 3:8, 3:8] += 0.6
    return x.clamp(0, 1), y


def split(x, y, n_train: int = 64):
    return (x[:n_train], y[:n_train]), (x[n_train:], y[n_train:])


def quick_fit(seed: int = 0, **kwargs):
    x, y = squares()
    train, val = split(x, y)
    torch.manual_seed(seed)
    options = dict(epochs=3, batch_size=16, augment=("flip", "shift"), seed=seed, save=False, progress=False)
    return fit(TinyNet(), train, val, **{**options, **kwargs})


@pytest.fixture()
def runs(tmp_path: Path, monkeypatch) -> Path:
    folder = tmp_path / "runs"
    monkeypatch.setenv("RADLAB_RUNS", str(folder))
    return folder


def numbers(history: History) -> dict:
    return {k: v for k, v in history.to_dict().items() if k != "seconds"}


def test_same_seed_gives_identical_history_and_weights():
    a, b = quick_fit(seed=3), quick_fit(seed=3)
    assert numbers(a.history) == numbers(b.history)
    for (name, wa), wb in zip(a.model.state_dict().items(), b.model.state_dict().values()):
        assert torch.equal(wa, wb), name
    c = quick_fit(seed=4)
    assert numbers(c.history) != numbers(a.history), "the seed should matter"


def test_fit_learns_an_easy_task_and_records_every_epoch():
    result = quick_fit(epochs=6, lr=1e-2)
    h = result.history
    assert h.epoch == [1, 2, 3, 4, 5, 6] and h.metric_name == "AUC"
    assert len(h.train_loss) == len(h.val_metric) == len(h.lr) == len(h.seconds) == 6
    assert h.train_loss[-1] < h.train_loss[0]
    assert h.val_metric[-1] > 0.9
    assert result.stop_reason == "completed" and not result.interrupted and result.run_dir is None
    assert result.best_epoch == h.best_epoch


def test_one_cycle_schedule_warms_up_then_anneals():
    lr = quick_fit(epochs=6, lr=1e-2, schedule="onecycle").history.lr
    peak = int(np.argmax(lr))
    assert 0 < peak < 5 and lr[-1] < lr[0] < lr[peak] <= 1e-2 + 1e-12
    assert quick_fit(epochs=3, schedule=None, lr=2e-3).history.lr == [2e-3] * 3


def test_interrupt_mid_epoch_keeps_best_weights_history_and_a_clean_run_folder(runs: Path):
    class InterruptInEpoch3(Callback):
        def on_batch_end(self, epoch, batch):
            if epoch == 3 and batch == 2:
                raise KeyboardInterrupt  # what the kernel's interrupt button raises

    x, y = squares()
    train, val = split(x, y)
    torch.manual_seed(0)
    result = fit(TinyNet(), train, val, epochs=6, batch_size=16, progress=False, name="interrupted",
                 callbacks=[InterruptInEpoch3()])
    assert result.interrupted and result.stop_reason == "interrupted" and not result.stopped_early
    assert len(result.history) == 2, "the unfinished epoch is not recorded"
    folder = result.run_dir
    assert folder.parent == runs and folder.name.endswith("-interrupted")
    assert sorted(p.name for p in folder.iterdir()) == ["best.pt", "config.json", "history.json"]
    assert History.load(folder / "history.json").to_dict() == result.history.to_dict()
    best = TinyNet()
    meta = load_checkpoint(best, folder / "best.pt")
    assert meta["epoch"] == result.best_epoch == result.history.best_epoch
    for (name, w), w_best in zip(result.model.state_dict().items(), best.state_dict().values()):
        assert torch.equal(w.cpu(), w_best), f"{name}: the model should hold the best checkpoint's weights"


def test_stop_event_ends_training_after_the_current_batch():
    stop = threading.Event()
    result = quick_fit(epochs=8, stop_event=stop, callbacks=[lambda h: stop.set() if len(h) == 2 else None])
    assert result.interrupted and len(result.history) == 2 and result.best_epoch in (1, 2)


def test_a_new_run_never_overwrites_an_existing_run_folder(runs: Path):
    taken = runs / "mine"
    taken.mkdir(parents=True)
    (taken / "best.pt").write_text("a student's checkpoint")
    result = quick_fit(epochs=1, save=True, run_dir=taken)
    assert result.run_dir == runs / "mine-2"
    assert (taken / "best.pt").read_text() == "a student's checkpoint"
    assert (result.run_dir / "best.pt").is_file()
    first, second = new_run_dir("same"), new_run_dir("same")
    assert first != second and first.is_dir() and second.is_dir()


def test_segmentation_trains_with_dice_and_masks_move_with_augmentation():
    x, _ = squares(32)
    masks = (x[:, 0] > 0.5)  # (N, H, W) bool
    torch.manual_seed(0)
    result = fit(TinyMapNet(), (x[:24], masks[:24]), (x[24:], masks[24:]), task="segmentation", epochs=2,
                 batch_size=8, augment=("flip", "rotate"), save=False, progress=False)
    h = result.history
    assert h.metric_name == "Dice" and len(h) == 2
    assert all(0.0 <= d <= 1.0 for d in h.train_metric + h.val_metric)
    assert predict(result.model, x[:3]).shape == (3, 12, 12)


def test_denoising_trains_towards_the_clean_image_and_reports_psnr():
    clean, _ = squares(32)
    noisy = (clean + 0.1 * torch.randn(clean.shape, generator=torch.Generator().manual_seed(1))).clamp(0, 1)
    torch.manual_seed(0)
    result = fit(TinyMapNet(), (noisy[:24], clean[:24]), (noisy[24:], clean[24:]), task="denoising", epochs=2,
                 batch_size=8, loss="l1", save=False, progress=False)
    h = result.history
    assert h.metric_name == "PSNR" and all(math.isfinite(v) and v > 0 for v in h.val_metric)


def test_multiclass_uses_cross_entropy_accuracy_and_softmax():
    x, y = squares(60)
    y3 = y.clone()
    y3[::3] = 2
    torch.manual_seed(0)
    result = fit(TinyNet(num_classes=3), (x[:45], y3[:45]), (x[45:], y3[45:]), epochs=1, batch_size=15,
                 class_weight="balanced", save=False, progress=False)
    assert result.history.metric_name == "accuracy"
    p = predict(result.model, x[:5])
    assert p.shape == (5, 3) and np.allclose(p.sum(1), 1, atol=1e-5)


def test_a_dataset_works_like_tensors():
    x, y = squares()
    torch.manual_seed(0)
    result = fit(TinyNet(), TensorDataset(x[:64], y[:64]), TensorDataset(x[64:], y[64:]), epochs=2, batch_size=16,
                 class_weight="balanced", save=False, progress=False)
    assert len(result.history) == 2 and all(math.isfinite(v) for v in result.history.val_loss)


def test_balanced_class_weight_counts_negatives_over_positives():
    loss = make_loss("classification", class_weight="balanced", targets=torch.tensor([0, 0, 0, 1.0]).reshape(4, 1))
    assert torch.allclose(loss.pos_weight, torch.tensor([3.0]))
    ce = make_loss("classification", kind="multiclass", class_weight="balanced",
                   targets=torch.tensor([0, 0, 1, 2]), n_outputs=3)
    assert torch.allclose(ce.weight, torch.tensor([4 / 6, 4 / 3, 4 / 3]))
    with pytest.raises(ValueError, match="class_weight"):
        make_loss("denoising", class_weight="balanced")


def test_history_round_trips_through_json_including_nan(tmp_path: Path):
    h = History(task="classification", metric_name="AUC")
    h.append(train_loss=0.7, val_loss=0.69, train_metric=float("nan"), val_metric=0.6, lr=1e-3, seconds=0.5)
    h.append(train_loss=0.5, val_loss=0.6, train_metric=0.8, val_metric=0.7, lr=5e-4, seconds=0.4)
    back = History.load(h.save(tmp_path / "h.json"))
    assert back.epoch == [1, 2] and back.val_loss == h.val_loss and math.isnan(back.train_metric[0])
    assert back.best_epoch == 2 and back.gap() == pytest.approx([-0.01, 0.1])
    with pytest.raises(DataError, match="history"):
        History.load(tmp_path / "missing.json")


def test_predict_gives_probabilities_and_leaves_the_mode_alone():
    model = TinyNet().train()
    p = predict(model, torch.rand(7, 1, 12, 12), batch_size=3)
    assert p.shape == (7,) and ((p > 0) & (p < 1)).all()
    assert model.training


def test_bad_inputs_are_explained_with_a_fix():
    x, y = squares(20)
    with pytest.raises(DataError, match="to_model_input"):
        fit(TinyNet(), ((x * 255).to(torch.uint8), y), (x, y), save=False, progress=False)
    with pytest.raises(DataError, match="to_model_input"):
        fit(TinyNet(), (x[:, 0], y), (x, y), save=False, progress=False)
    with pytest.raises(DataError, match="targets"):
        fit(TinyNet(), (x, y[:5]), (x, y), save=False, progress=False)
    with pytest.raises(ValueError, match="task"):
        fit(TinyNet(), (x, y), (x, y), task="regression", save=False, progress=False)


def test_reference_model_is_trained_once_then_loaded_from_the_cache(tmp_path: Path, monkeypatch):
    from radlab import reference

    monkeypatch.setenv("RADLAB_DATA", str(tmp_path / "cache"))
    tiny = dict(n_patients=16, images_per_patient=2, size=32, width=4, epochs=1, batch_size=16, lr=4e-3)
    monkeypatch.setitem(reference.RECIPES, True, tiny)
    first = reference.reference_model(fast=True, seed=1)
    assert not first.info["cached"] and first.info["epochs"] == 1
    path = Path(first.info["path"])
    assert path.parent == tmp_path / "cache" / "models" and path.name.startswith("chest-phantoms-gap_cnn-fast-seed1")
    assert [p.name for p in path.parent.iterdir()] == [path.name], "no temporary files left behind"
    again = reference.reference_model(fast=True, seed=1)
    assert again.info["cached"] and again.info["epochs"] == first.info["epochs"]
    for w, w_again in zip(first.model.state_dict().values(), again.model.state_dict().values()):
        assert torch.equal(w, w_again)
    data = again.data
    assert data["test"].x.shape[1:] == (1, 32, 32) and 0 <= float(data.train.x.min()) <= float(data.train.x.max()) <= 1
    assert not set(data.train.patient_ids) & set(data.test.patient_ids), "split by patient"
    assert data.val.masks.shape == (len(data.val), 32, 32) and data.val.boxes.shape == (len(data.val), 4)
    assert not again.model.training
    with pytest.raises(DataError, match="chest-phantoms"):
        reference.reference_model("imagenet")
