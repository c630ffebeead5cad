"""Lab 3 widget: controls change figures, a run draws live curves, Stop keeps the best weights."""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import torch

from radlab.train import CLASSIFIER_RECIPE, load_checkpoint
from radlab.data.lab_data import load_lab_data, pneumonia_available, stratified_subset
from radlab.widgets.training import TrainingLab, TrainingSettings, build_model
from figures import trace_named
from radlab.viz.conv import from_plotly_array


@pytest.fixture()
def lab(tmp_path: Path, monkeypatch) -> TrainingLab:
    monkeypatch.setenv("RADLAB_RUNS", str(tmp_path / "runs"))
    lab = TrainingLab(seed=0, fast=True, epochs=2, save_runs=True)
    lab.width_slider.value = 4  # tiny and quick
    lab.batch_dropdown.value = 32
    return lab


def shown(trace) -> np.ndarray:
    """The image a preview panel shows: its picture's hover values, (row, col, value) per pixel."""
    values = from_plotly_array(trace.customdata)
    return values[..., 2]


def test_preview_pictures_of_any_size_fill_the_same_box_and_hover_their_pixels():
    """A 28×28 and a 32×32 image span the same 64 axis units (another dataset's image is swapped in
    place); grey is linear (0 black, 1 white); hover names the pixel and its value."""
    from radlab.viz.images import PREVIEW_EXTENT, augmentation_preview_figure, decode_source, preview_picture

    boxes = []
    for side in (28, 32):
        image = np.linspace(0, 1, side * side, dtype=np.float32).reshape(side, side)
        picture = preview_picture(image)
        left, right = picture["x0"] - picture["dx"] / 2, picture["x0"] + (side - 0.5) * picture["dx"]
        boxes.append((left, right, picture["y0"] - picture["dy"] / 2))
        hover = from_plotly_array(picture["customdata"])
        np.testing.assert_array_equal(hover[5, 7], [5, 7, image[5, 7]])
    assert all(box == pytest.approx((-0.5, PREVIEW_EXTENT - 0.5, -0.5)) for box in boxes)
    image = np.linspace(0.2, 0.6, 28 * 28, dtype=np.float32).reshape(28, 28)   # the range is 0…1, not min…max
    fig = augmentation_preview_figure(image, [np.ones((28, 28))])
    np.testing.assert_allclose(decode_source(fig.data[0].source), image * 255, atol=0.51)
    assert (decode_source(fig.data[1].source) == 255).all()
    assert "x %{customdata[1]}, y %{customdata[0]}" in fig.data[1].hovertemplate


def test_the_lab_starts_with_empty_curves_and_an_augmentation_preview(lab: TrainingLab):
    assert len(lab.figure.data) == 10 and all(len(t.x or ()) == 0 for t in lab.figure.data)
    assert len(lab.preview_figure.data) == 6
    assert lab.settings() == TrainingSettings(dataset=lab.dataset_dropdown.value, width=4, batch_size=32, epochs=2), \
        "apart from what the fixture set, the controls start at the default classifier's recipe"
    assert lab.augment_select.value == tuple(CLASSIFIER_RECIPE["augment"])
    lab.augment_select.value = ()
    originals = [shown(t) for t in lab.preview_figure.data]
    assert all(np.array_equal(originals[0], z) for z in originals[1:]), "no augmentation chosen: all the same"


def test_choosing_augmentations_changes_the_preview(lab: TrainingLab):
    before = [shown(t) for t in lab.preview_figure.data]
    lab.augment_select.value = ("flip", "rotate", "noise")
    after = [shown(t) for t in lab.preview_figure.data]
    assert np.array_equal(before[0], after[0]), "the original stays"
    assert all(not np.array_equal(b, a) for b, a in zip(before[1:], after[1:]))


def test_a_run_draws_the_curves_and_the_next_run_is_compared_with_it(lab: TrainingLab):
    first = lab.run()
    assert list(trace_named(lab.figure, "training loss").x) == [1, 2]
    assert len(trace_named(lab.figure, "validation loss").y) == 2
    assert "Diagnosis" in lab.diagnosis_html.value and "<td>1</td>" in lab.runs_html.value
    assert first.stop_reason == "completed" and (first.result.run_dir / "best.pt").is_file()
    lab.lr_slider.value = 0.1
    second = lab.run(epochs=3)
    assert second.settings.lr == pytest.approx(0.1) and len(second.history) == 3
    assert list(trace_named(lab.figure, "training loss").x) == [1, 2, 3]
    assert list(trace_named(lab.figure, "previous: training loss").y) == pytest.approx(first.history.train_loss), "previous run drawn dotted"


def test_stop_ends_a_background_run_and_keeps_the_best_weights(lab: TrainingLab):
    lab.epochs_slider.value = 40
    lab.early_stopping_checkbox.value = False
    lab.start()
    deadline = time.monotonic() + 120
    while (lab.live_history is None or len(lab.live_history) < 2) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert lab.running
    lab.stop()
    assert lab.wait(timeout=60)
    record = lab.runs[-1]
    assert record.stop_reason == "interrupted" and 2 <= len(record.history) < 40
    assert not lab.start_button.disabled and lab.stop_button.disabled
    best = build_model(record.settings, lab.data(record.settings.dataset).image_size)
    assert load_checkpoint(best, record.result.run_dir / "best.pt")["epoch"] == record.best_epoch
    for w, w_best in zip(record.result.model.state_dict().values(), best.state_dict().values()):
        assert torch.equal(w, w_best)


def test_the_progress_bar_and_time_left_follow_a_background_run(lab: TrainingLab):
    """Seen from the student's side: the label counts mini-batches with the time left, then says it finished."""
    lab.epochs_slider.value = 40
    lab.early_stopping_checkbox.value = False
    seen: list[tuple[float, str, float]] = []
    lab.progress_label.observe(lambda c: seen.append((time.monotonic(), c["new"], lab.progress_bar.value)),
                               names="value")
    lab.start()
    deadline = time.monotonic() + 120
    while not any(" left" in text for _, text, _ in seen) and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(1.0)
    lab.stop()
    assert lab.wait(timeout=60)
    during = [(t, text, value) for t, text, value in seen if " left" in text]
    assert during, f"no progress with the time left was shown: {seen[:5]}"
    assert all(text.startswith("epoch ") and " · batch " in text for _, text, _ in during), during[:3]
    assert [v for _, _, v in during] == sorted(v for _, _, v in during), "the bar only moves forward"
    assert 0 < during[-1][2] < 1
    times = [t for t, _, _ in during]
    rate = (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 and times[-1] > times[0] else 0.0
    assert rate <= 2 / 0.25, f"{rate:.1f} progress updates a second: the comm would be flooded"
    assert "stopped after" in lab.progress_label.value and lab.progress_bar.bar_style == "warning"
    lab.run(epochs=1)
    assert "finished in" in lab.progress_label.value and lab.progress_bar.bar_style == "success"
    assert lab.progress_bar.value == 1.0 and lab.progress_label.value.startswith("epoch 1/1 · batch ")


BAD_VALUES = [dict(lr=5.0), dict(lr=float("nan")), dict(batch_size=3), dict(epochs=0),
              dict(augment=("../../etc/passwd",)), dict(model="os.system"), dict(dropout=0.95),
              dict(data_fraction=0.3), dict(dataset="/tmp/x.npz")]


def test_values_outside_the_controls_ranges_are_refused(lab: TrainingLab):
    for bad in BAD_VALUES:
        with pytest.raises(ValueError, match="not allowed"):
            TrainingSettings(**bad).validated()
        with pytest.raises(ValueError, match="not allowed"):
            lab.run(**bad)
    assert lab.runs == []


def test_a_bad_value_at_start_is_shown_not_trained(lab: TrainingLab, monkeypatch):
    monkeypatch.setattr(lab, "settings", lambda: TrainingSettings(lr=5.0).validated())
    lab.start()
    assert lab._thread is None and "not allowed" in lab.status_html.value


def test_data_fraction_keeps_both_classes_in_proportion():
    y = np.array([0] * 80 + [1] * 20)
    keep = stratified_subset(y, fraction=0.25, seed=0, min_per_class=2)
    assert np.bincount(y[keep]).tolist() == [20, 5]
    assert np.bincount(y[stratified_subset(y, n=10, seed=0)]).tolist() == [8, 2], "n images in all, same shares"
    assert np.bincount(y[stratified_subset(y, fraction=0.01, seed=0, min_per_class=2)]).tolist() == [2, 2]
    assert (stratified_subset(y, n=10, seed=3) == stratified_subset(y, n=10, seed=3)).all()


def test_exercises_include_one_about_your_own_run(lab: TrainingLab):
    ex = lab.exercises
    assert ex.notebook == "labs/03_training" and "your_best_epoch" in ex
    before = ex.your_best_epoch.check(1, record=False)
    assert not before.answered and "train a model first" in before.message
    record = lab.run(epochs=2)
    mine = ex.your_best_epoch
    assert mine.check(record.best_epoch, record=False).correct
    assert not mine.check(record.best_epoch + 5, record=False).correct
    assert ex.gap.check("overfitting", record=False).correct
    wrong = ex.mitigation.check("dropout", record=False)
    assert not wrong.correct and "does NOT" in wrong.message


def test_pneumoniamnist_is_offered_when_it_is_in_the_cache(data_cache, tmp_path, monkeypatch):
    assert pneumonia_available()
    data = load_lab_data("pneumoniamnist", fast=True)
    assert data.x_train.shape == (600, 1, 28, 28) and len(data.y_val) == 200
    assert set(np.unique(data.y_train)) == {0, 1}
    monkeypatch.setenv("RADLAB_RUNS", str(tmp_path))
    lab = TrainingLab(fast=True)
    assert "pneumoniamnist" in [value for _label, value in lab.dataset_dropdown.options]
