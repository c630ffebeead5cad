"""Training survives faults: kill -9, a full or read-only disk, a damaged checkpoint, two runs at once."""
from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch
from torch import nn

from radlab import runs as R
from radlab.errors import DataError
from radlab.train import History, RunFolderError, fit, load_checkpoint, save_checkpoint


def tiny_net() -> nn.Module:
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(4, 1))


def squares(n: int = 64, size: int = 12):
    g = torch.Generator().manual_seed(0)
    x = 0.3 * torch.rand(n, 1, size, size, generator=g)
    y = (torch.arange(n) % 2).long()
    x[y == 1, :, 3:8, 3:8] += 0.6
    return (x[:48].clamp(0, 1), y[:48]), (x[48:].clamp(0, 1), y[48:])


KILLED_RUN = textwrap.dedent("""
    import sys, torch
    from torch import nn
    torch.set_num_threads(1)
    from radlab.train import fit
    g = torch.Generator().manual_seed(0)
    x = 0.3 * torch.rand(256, 1, 16, 16, generator=g)
    y = (torch.arange(256) % 2).long()
    x[y == 1, :, 3:8, 3:8] += 0.6
    model = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                          nn.Linear(8, 1))
    def report(history):
        print("epoch", len(history), flush=True)
    fit(model, (x[:192], y[:192]), (x[192:], y[192:]), epochs=10_000, batch_size=8, run_dir=sys.argv[1],
        callbacks=[report], progress=False, schedule=None, lr=1e-3)
""")


def test_kill_9_during_fit_leaves_the_last_complete_checkpoint_and_history(tmp_path: Path):
    folder = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-c", KILLED_RUN, str(folder)], stdout=subprocess.PIPE, text=True,
                            env=env)
    try:
        deadline = time.monotonic() + 120
        epochs = 0
        while epochs < 3 and time.monotonic() < deadline:  # let a few epochs (and their files) complete
            line = proc.stdout.readline()
            if not line:
                break
            epochs = int(line.split()[1]) if line.startswith("epoch") else epochs
        assert epochs >= 3, "the training subprocess did not get going"
        time.sleep(0.05)  # land somewhere inside the next epoch, or inside a write
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    history = History.load(folder / "history.json")          # complete JSON, not half a file
    assert len(history) >= 3 and history.epoch == list(range(1, len(history) + 1))
    model = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                          nn.Linear(8, 1))
    meta = load_checkpoint(model, folder / "best.pt")         # a complete, loadable checkpoint
    assert 1 <= meta["epoch"] <= len(history) + 1
    if meta["epoch"] <= len(history):
        assert meta["epoch"] == history.best_epoch or history.val_loss[meta["epoch"] - 1] == meta["val_loss"]
    assert (folder / "config.json").is_file()


def test_a_crash_inside_a_write_keeps_the_previous_file_whole(tmp_path: Path):
    path = save_checkpoint(tmp_path / "best.pt", tiny_net(), epoch=1)
    before = path.read_bytes()

    def half_then_crash(f):
        f.write(b"PK\x03\x04 half a checkpoint")
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(RunFolderError, match="disk is full") as info:
        R.atomic_write(path, half_then_crash)
    assert info.value.path == str(path) and "Fix:" in str(info.value)
    assert path.read_bytes() == before, "the old checkpoint is untouched"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.pt"], "no temporary file left behind"


def test_a_full_disk_mid_training_is_a_clear_error_and_the_model_keeps_its_best_weights(tmp_path: Path,
                                                                                            monkeypatch):
    train, val = squares()
    real_save = torch.save
    calls = {"n": 0}

    def save_until_disk_full(obj, f, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] >= 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_save(obj, f, *args, **kwargs)

    monkeypatch.setattr(torch, "save", save_until_disk_full)
    model = tiny_net()
    with pytest.raises(RunFolderError, match="best.pt: could not write best.pt: the disk is full"):
        fit(model, train, val, epochs=20, batch_size=8, lr=3e-2, schedule=None, run_dir=tmp_path / "run",
            progress=False)
    folder = tmp_path / "run"
    history = History.load(folder / "history.json")
    saved = tiny_net()
    meta = load_checkpoint(saved, folder / "best.pt")
    assert meta["epoch"] <= len(history)
    assert not model.training
    assert sorted(p.name for p in folder.iterdir()) == ["best.pt", "config.json", "history.json"]


def test_a_read_only_run_folder_is_refused_before_training_with_a_fix(tmp_path: Path, monkeypatch):
    train, val = squares()

    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(R.tempfile, "mkstemp", read_only)
    started = time.perf_counter()
    with pytest.raises(RunFolderError, match="could not write config.json: the disk is read-only") as info:
        fit(tiny_net(), train, val, epochs=50, run_dir=tmp_path / "run", progress=False)
    assert time.perf_counter() - started < 30, "refused before training, nothing to lose"
    assert "RADLAB_RUNS" in str(info.value)
    monkeypatch.undo()
    if os.geteuid() != 0:  # root ignores permissions: the monkeypatched case above stands in for it
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(0o555)
        try:
            with pytest.raises(RunFolderError, match="permission"):
                fit(tiny_net(), train, val, epochs=1, run_dir=locked / "run", progress=False)
        finally:
            locked.chmod(0o755)


def test_a_damaged_checkpoint_is_a_clear_error_naming_the_file(tmp_path: Path):
    path = save_checkpoint(tmp_path / "best.pt", tiny_net(), epoch=1)
    data = path.read_bytes()
    for name, damage in [("truncated.pt", data[: len(data) // 2]), ("garbage.pt", b"not a checkpoint at all"),
                         ("empty.pt", b"")]:
        bad = tmp_path / name
        bad.write_bytes(damage)
        with pytest.raises(DataError, match="damaged or not a checkpoint") as info:
            load_checkpoint(tiny_net(), bad)
        assert info.value.path == str(bad) and str(bad) in str(info.value)
        assert "train again" in info.value.fix
    torch.save({"something": "else"}, tmp_path / "other.pt")
    with pytest.raises(DataError, match="not a RadLab checkpoint"):
        load_checkpoint(tiny_net(), tmp_path / "other.pt")
    with pytest.raises(DataError, match="cannot load these weights into Linear"):
        load_checkpoint(nn.Linear(3, 3), path)


CLAIM_FOLDERS = textwrap.dedent("""
    import json, sys, time
    from radlab.runs import new_run_dir
    parent, start_at = sys.argv[1], float(sys.argv[2])
    while time.time() < start_at:  # every process asks at the same moment
        pass
    print(json.dumps([str(new_run_dir("same-moment", parent=parent)) for _ in range(5)]))
""")


def test_runs_started_at_the_same_moment_never_share_a_folder(tmp_path: Path):
    start_at = time.time() + 25.0  # time for every process to import radlab (torch) on a busy machine
    procs = [subprocess.Popen([sys.executable, "-c", CLAIM_FOLDERS, str(tmp_path), str(start_at)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(4)]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), [err for _, err in outputs]
    assert time.time() >= start_at
    folders = [f for out, _ in outputs for f in json.loads(out)]
    assert len(folders) == 20 and len(set(folders)) == 20, "two runs got the same folder"
    assert all(Path(f).is_dir() and not any(Path(f).iterdir()) for f in folders)
