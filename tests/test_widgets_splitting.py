"""Lab 2 widget: the controls change the figures; the leaky split is flagged, the patient split is clean."""
from __future__ import annotations

import re

import numpy as np
import pytest

from radlab.data.phantoms import make_phantoms
from radlab.data.splits import split_by_image
from radlab.widgets.splitting import SplittingLab
from figures import shown_leaks, shown_splits, trace_named


@pytest.fixture(scope="module")
def phantoms():
    return make_phantoms("chest", n_patients=24, images_per_patient=3, size=32, seed=0)


@pytest.fixture()
def lab(phantoms):
    return SplittingLab(phantoms, seed=0, k=4)


def grid_rows(lab: SplittingLab, panel: int) -> dict[str, set]:
    """Patient id -> the split names its images have in grid panel 0 (by image) or 1 (by patient)."""
    rows: dict[str, set] = {}
    trace = trace_named(lab.figure, f"{('image', 'patient')[panel]}: images")
    for pid, name in zip(trace.customdata, shown_splits(trace)):
        rows.setdefault(pid, set()).add(name)
    return rows


def shown_counts(lab: SplittingLab) -> dict[str, list[int]]:
    """The counts table as a student reads it: per split, images without and with a lesion, and patients."""
    rows = re.findall(r"<tr><th[^>]*>(\w+)</th>(.*?)</tr>", lab.counts_html.value)
    return {name: [int(v) for v in re.findall(r"<span>(\d+)</span>", cells)] for name, cells in rows}


def test_switching_the_method_changes_the_counts_the_titles_and_the_report(lab):
    assert lab.method.value == "image"
    patients = lambda: tuple(v[2] for v in shown_counts(lab).values())  # noqa: E731
    before = (patients(), lab.report_html.value, lab.figure.layout.annotations[0].text)
    lab.method.value = "patient"
    after = (patients(), lab.report_html.value, lab.figure.layout.annotations[0].text)
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
    patients = sorted(set(phantoms.patient_ids))
    assert shown_leaks(trace_named(lab.figure, "image: leak"), patients) == leaky.leaking_patients
    assert all(len(names) == 1 for names in right.values())
    assert shown_leaks(trace_named(lab.figure, "patient: leak"), patients) == []
    assert "LEAKAGE" in lab.report_html.value
    lab.method.value = "patient"
    assert "no leakage found" in lab.report_html.value


def test_moving_the_seed_reshuffles_both_grids(lab):
    grids = [f"{m}: images" for m in ("image", "patient")]
    before = [shown_splits(trace_named(lab.figure, g)) for g in grids]
    sent = []   # messages to the browser: one per figure, so each is redrawn once
    for name, fig in (("grids", lab.figure), ("folds", lab.kfold_figure)):
        fig.observe(lambda change, name=name: sent.append(name) if change["new"] else None,
                    names=["_py2js_update", "_py2js_restyle", "_py2js_relayout"])
    lab.seed_slider.value = 7
    after = [shown_splits(trace_named(lab.figure, g)) for g in grids]
    assert before[0] != after[0] and before[1] != after[1]
    assert after == [list(lab.splits[m].assignment()) for m in ("image", "patient")]
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
    from radlab.viz.splits import HELD_OUT_COLOR

    lab.k_slider.value = 3
    squares = trace_named(lab.kfold_figure, "held out")
    assert sorted(set(squares.x)) == [0, 1, 2] and list(lab.kfold_figure.layout.xaxis.ticktext) == [
        "fold 1", "fold 2", "fold 3"]
    held = np.asarray(squares.marker.color).reshape(24, 3) == HELD_OUT_COLOR
    assert np.array_equal(held.sum(axis=1), np.ones(24))
    assert list(squares.customdata[:3]) == [sorted(set(lab.patient_ids))[0]] * 3
    lab.k_slider.value = 4
    assert sorted(set(trace_named(lab.kfold_figure, "held out").x)) == [0, 1, 2, 3]


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


def test_the_grids_keep_their_points_and_colour_each_image_by_its_split(lab, phantoms):
    """One point per image and one leak mark per patient whatever the seed (so the page recolours them in
    place); each image in its split's colour, hovering its patient and split; red marks on leaking rows only."""
    from radlab.viz.splits import LEAK_COLOR, NO_MARK, SPLIT_COLORS

    images = trace_named(lab.figure, "image: images")
    points = (tuple(images.x), tuple(images.y), tuple(images.customdata))
    assert len(images.x) == len(phantoms.labels) and list(images.customdata) == list(phantoms.patient_ids)
    names = lab.splits["image"].assignment()
    assert list(images.marker.color) == [SPLIT_COLORS[n] for n in names]
    leaking = set(lab.reports["image"].leaking_patients)
    assert [t.endswith("(this patient is in 2+ splits)") for t in images.text] == [
        p in leaking for p in phantoms.patient_ids]
    marks = trace_named(lab.figure, "image: leak")
    assert list(marks.marker.color) == [LEAK_COLOR if p in leaking else NO_MARK for p in sorted(set(phantoms.patient_ids))]
    lab.seed_slider.value = 3
    images = trace_named(lab.figure, "image: images")
    assert (tuple(images.x), tuple(images.y), tuple(images.customdata)) == points
    assert list(images.marker.color) == [SPLIT_COLORS[n] for n in lab.splits["image"].assignment()]
    assert [t.name for t in lab.figure.data if t.showlegend is not False] == [*SPLIT_COLORS, "patient in 2+ splits"]


def test_the_counts_table_shows_each_splits_images_and_patients(lab, phantoms):
    """The counts under the grids: per split, images without and with a lesion and distinct patients, for the
    split the toggle selects; each bar as long as its share of all images (or patients)."""
    for method in ("image", "patient"):
        lab.method.value = method
        rows = lab.splits[method].counts(phantoms.labels, phantoms.patient_ids)
        assert shown_counts(lab) == {r["split"]: [r.get("label 0", 0), r.get("label 1", 0), r["patients"]] for r in rows}
    train = next(r for r in rows if r["split"] == "train")
    assert f"width:{100 * train['patients'] / 24:.1f}%" in lab.counts_html.value


def test_the_figure_the_page_first_draws_has_the_grid_titles(lab):
    """The grid titles are in the figure's first state (what a page draws), not only in later update messages."""
    first = lab.figure._widget_layout["annotations"]
    assert [a["text"] for a in first] == [a.text for a in lab.figure.layout.annotations]
    assert first[0]["text"].startswith("▶ ") and "patients leak" in first[1]["text"]
