"""Lab 2 widget: the controls change the figures; the leaky split is flagged, the patient split is clean."""
from __future__ import annotations

import numpy as np
import pytest

from radlab.data.phantoms import make_phantoms
from radlab.data.splits import split_by_image
from radlab.widgets.splitting import SplittingLab
from figures import trace_named


@pytest.fixture(scope="module")
def phantoms():
    return make_phantoms("chest", n_patients=24, images_per_patient=3, size=32, seed=0)


@pytest.fixture()
def lab(phantoms):
    return SplittingLab(phantoms, seed=0, k=4)


def grid_rows(lab: SplittingLab, panel: int) -> dict[str, set]:
    """Patient id -> the split names its images have in grid panel 0 (by image) or 1 (by patient)."""
    rows: dict[str, set] = {}
    method = ("image", "patient")[panel]
    for trace in (trace_named(lab.figure, f"{method}: {name}") for name in ("train", "val", "test")):
        for pid in trace.y:
            rows.setdefault(pid, set()).add(trace.name)
    return rows


def test_switching_the_method_changes_the_counts_the_titles_and_the_report(lab):
    assert lab.method.value == "image"
    patients_bar = trace_named(lab.figure, "patients")
    before = (tuple(patients_bar.y), lab.report_html.value, lab.figure.layout.annotations[0].text)
    lab.method.value = "patient"
    after = (tuple(patients_bar.y), lab.report_html.value, lab.figure.layout.annotations[0].text)
    assert all(b != a for b, a in zip(before, after))
    assert sum(after[0]) == 24 < sum(before[0])  # by patient, every patient is counted once
    assert lab.figure.layout.annotations[1].text.startswith("▶")


def test_image_level_split_is_flagged_and_patient_level_split_is_clean(lab, phantoms):
    leaky, clean = lab.reports["image"], lab.reports["patient"]
    assert not leaky.ok and len(leaky.leaking_patients) > 0
    assert clean.ok
    # the grid shows the same thing: rows with two colours only on the left, and red crosses there
    left, right = grid_rows(lab, 0), grid_rows(lab, 1)
    assert sorted(p for p, names in left.items() if len(names) > 1) == leaky.leaking_patients
    assert sorted(trace_named(lab.figure, "image: leak").y) == leaky.leaking_patients
    assert all(len(names) == 1 for names in right.values()) and len(trace_named(lab.figure, "patient: leak").y) == 0
    assert "LEAKAGE" in lab.report_html.value
    lab.method.value = "patient"
    assert "no leakage found" in lab.report_html.value


def test_moving_the_seed_reshuffles_both_grids(lab):
    grids = [f"{m}: {s}" for m in ("image", "patient") for s in ("train", "val", "test")]
    before = [tuple(trace_named(lab.figure, g).y) for g in grids]
    sent = []   # messages to the browser: one per figure, so each is redrawn once
    for name, fig in (("grids", lab.figure), ("folds", lab.kfold_figure)):
        fig.observe(lambda change, name=name: sent.append(name) if change["new"] else None,
                    names=["_py2js_update", "_py2js_restyle", "_py2js_relayout"])
    lab.seed_slider.value = 7
    after = [tuple(trace_named(lab.figure, g).y) for g in grids]
    assert before[:3] != after[:3] and before[3:] != after[3:]
    assert lab.splits["patient"].seed == 7
    assert sorted(sent) == ["folds", "grids"]
    leaks = [len(lab.reports[m].near_duplicate_images[("train", "test")]) for m in ("image", "patient")]
    lab.seed_slider.value = 0
    lab.seed_slider.value = 7   # a seed seen before: every image pair's alignment comes from the cache
    misses = lab.registrations.misses
    lab.seed_slider.value = 0
    assert lab.registrations.misses == misses and lab.registrations.hits > 0
    lab.seed_slider.value = 7
    assert [len(lab.reports[m].near_duplicate_images[("train", "test")]) for m in ("image", "patient")] == leaks


def test_the_k_slider_changes_the_folds_and_each_patient_is_held_out_once(lab):
    lab.k_slider.value = 3
    heat = trace_named(lab.kfold_figure, "held out")
    assert len(heat.x) == 3
    assert np.array_equal(np.asarray(heat.z).sum(axis=1), np.ones(24))
    lab.k_slider.value = 4
    assert len(trace_named(lab.kfold_figure, "held out").x) == 4


def test_the_exercises_accept_the_answers_computed_from_the_data(lab, phantoms):
    ex = lab.exercises
    split = split_by_image(phantoms.labels, seed=0)
    leaking = set(phantoms.patient_ids[split.train]) & set(phantoms.patient_ids[split.test])
    assert ex.leaking_patients.check(len(leaking), record=False).correct
    assert not ex.leaking_patients.check(len(leaking) + 1, record=False).correct
    assert ex.vocabulary.check("test", record=False).correct
    assert "tuning" in ex.vocabulary.check("val", record=False).message
    assert ex.kfold.check(1, record=False).correct
    assert "Train both" in ex.leak_gap.check(0.1, record=False).message      # no experiment yet


@pytest.fixture()
def one_thread():
    """Train on one CPU thread: on a shared 2-core machine, two threads mostly wait for each other."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.mark.slow
def test_the_leak_experiment_shows_an_inflated_test_auc(phantoms, one_thread):
    """Fast setting of the lab: 24 patients × 6 images, 8 epochs; AUCs computed, then drawn."""
    series = make_phantoms("chest", n_patients=24, images_per_patient=6, size=32, seed=0)
    lab = SplittingLab(phantoms, seed=0, experiment_data=series, epochs=8)
    assert trace_named(lab.experiment_figure, "its own test set").text == ("not run", "not run")
    result = lab.run_experiment()
    assert result.seen_test_images["image"] > 0 and result.seen_test_images["patient"] == 0
    for value in [*result.auc.values(), *result.auc_new.values()]:
        assert 0.0 <= value <= 1.0
    # the leaky test set flatters the model: it scores lower on patients it has never seen
    assert result.inflation > 0
    test_bars, new_bars = lab.experiment_figure.data
    assert list(test_bars.y) == [result.auc["image"], result.auc["patient"]]
    assert list(new_bars.y) == [result.auc_new["image"], result.auc_new["patient"]]
    assert "overstates" in str(result) and not lab.run_button.disabled
    gap = lab.exercises.leak_gap                        # the exercise reads this very run
    assert gap.check(f"{result.inflation:.2f}", record=False).correct
    assert "leaky test AUC itself" in gap.check(result.auc["image"], record=False).message
