"""TrainingProgress: mini-batches done, an estimate of the time left, throttled updates (a fake clock)."""
from __future__ import annotations

import threading

import pytest
import torch
from torch import nn

from radlab.train import ProgressState, TrainingProgress, fit, format_seconds_left


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, now: float = 100.0):
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def progress_with(clock: FakeClock, interval_s: float = 0.25) -> tuple[TrainingProgress, list[ProgressState]]:
    shown: list[ProgressState] = []
    return TrainingProgress(shown.append, interval_s=interval_s, clock=clock), shown


def test_time_left_is_the_mean_step_time_so_far_times_the_steps_to_go():
    clock = FakeClock()
    progress, shown = progress_with(clock, interval_s=0.0)
    progress.on_fit_start(epochs=4, batches=10)
    clock.advance(0.5)
    progress.on_batch_end(1, 1)             # 1 of 40 steps in 0.5 s: 39 × 0.5 s to go
    assert shown[-1].left_s == pytest.approx(19.5)
    for b in range(2, 11):
        clock.advance(0.5)
        progress.on_batch_end(1, b)
    clock.advance(1.0)                      # validation between epochs: counted in the mean
    progress.on_batch_end(2, 1)
    state = shown[-1]
    assert (state.done, state.total, state.elapsed_s) == (11, 40, pytest.approx(6.0))
    assert state.left_s == pytest.approx(6.0 / 11 * 29)
    assert state.fraction == pytest.approx(11 / 40)
    assert state.text() == f"epoch 2/4 · batch 1/10 · {6.0 / 11 * 29:.1f} s left"


def test_updates_are_throttled_but_the_first_and_the_last_step_are_shown():
    clock = FakeClock()
    progress, shown = progress_with(clock, interval_s=0.25)
    progress.on_fit_start(epochs=2, batches=50)
    for epoch in (1, 2):
        for b in range(1, 51):
            clock.advance(0.01)             # 100 steps in 1 s
            progress.on_batch_end(epoch, b)
    assert len(shown) <= 1 + 1 / 0.25 + 1, f"{len(shown)} updates for 1 s of training"
    assert (shown[0].epoch, shown[0].batch) == (1, 1)
    assert (shown[-1].epoch, shown[-1].batch) == (2, 50)
    gaps = [b.elapsed_s - a.elapsed_s for a, b in zip(shown, shown[1:-1])]
    assert all(g >= 0.25 - 1e-9 for g in gaps), gaps
    assert shown[-1].left_s == pytest.approx(0.0) and shown[-1].fraction == 1.0
    assert progress.state is shown[-1]


def test_an_interval_of_zero_shows_every_step_and_a_bad_interval_is_refused():
    clock = FakeClock()
    progress, shown = progress_with(clock, interval_s=0.0)
    progress.on_fit_start(epochs=1, batches=5)
    for b in range(1, 6):
        clock.advance(0.001)
        progress.on_batch_end(1, b)
    assert [s.batch for s in shown] == [1, 2, 3, 4, 5]
    with pytest.raises(ValueError, match="interval_s"):
        TrainingProgress(print, interval_s=-1)


def test_no_estimate_before_any_time_has_passed():
    clock = FakeClock()
    progress, shown = progress_with(clock)
    progress.on_fit_start(epochs=3, batches=4)
    progress.on_batch_end(1, 1)             # the clock did not move: no basis for an estimate
    assert shown[-1].left_s is None
    assert shown[-1].text() == "epoch 1/3 · batch 1/4 · estimating time left…"


@pytest.mark.parametrize("seconds, text", [
    (4.06, "4.1 s left"), (0.0, "0.0 s left"), (-0.2, "0.0 s left"), (59.94, "59.9 s left"),
    (125, "2 min 05 s left"), (3725, "1 h 02 min left"), (None, "estimating time left…"),
    (float("inf"), "estimating time left…"),
])
def test_seconds_left_are_written_for_people(seconds, text):
    assert format_seconds_left(seconds) == text


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                                 nn.Linear(4, 1))

    def forward(self, x):
        return self.net(x)


def test_fit_tells_the_progress_how_many_epochs_and_batches_there_are_even_in_a_thread():
    g = torch.Generator().manual_seed(0)
    x, y = torch.rand(70, 1, 8, 8, generator=g), torch.arange(70) % 2
    shown: list[ProgressState] = []
    progress = TrainingProgress(shown.append, interval_s=0.0)
    done = threading.Event()

    def train() -> None:
        fit(Tiny(), (x[:50], y[:50]), (x[50:], y[50:]), epochs=3, batch_size=16, save=False, progress=False,
            callbacks=[progress])
        done.set()

    worker = threading.Thread(target=train)
    worker.start()
    worker.join(60)
    assert done.is_set()
    assert (progress.epochs, progress.batches) == (3, 4)   # 50 images in batches of 16: 3 full + one of 2
    assert [(s.epoch, s.batch) for s in shown] == [(e, b) for e in (1, 2, 3) for b in (1, 2, 3, 4)]
    assert shown[-1].fraction == 1.0 and shown[-1].left_s == pytest.approx(0.0)
    assert all(a.elapsed_s <= b.elapsed_s for a, b in zip(shown, shown[1:]))
