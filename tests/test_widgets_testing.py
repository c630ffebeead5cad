"""Lab 4 widget: the threshold drives the numbers, and the test set is looked at once."""
from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from radlab.metrics import THRESHOLD_RULES, TestSetGuard, TestSetWarning, choose_threshold, threshold_metrics
from radlab.data.lab_data import load_lab_data
from radlab.widgets.testing import RULE_LABELS, TestingLab
from figures import plain_figure, trace_named


def _scores(n: int, prevalence: float, seed: int):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < prevalence).astype(int)
    return y, 1 / (1 + np.exp(-(rng.normal(size=n) * 1.2 + 2.0 * y - 0.8)))


@pytest.fixture()
def lab_parts(tmp_path):
    y_val, s_val = _scores(300, 0.74, seed=0)      # PneumoniaMNIST-like prevalences
    y_test, s_test = _scores(400, 0.625, seed=1)
    calls = []

    def test_scores():
        calls.append(1)
        return s_test

    guard = TestSetGuard(tmp_path / "run")
    lab = TestingLab(y_val, s_val, y_test, test_scores, guard=guard, class_names=("normal", "pneumonia"),
                     n_boot=200)
    return lab, calls, guard, (y_val, s_val, y_test, s_test)


def cell_texts(fig, panel: int) -> list[str]:
    """The four cell texts of a confusion panel (0 validation, 1 test), row by row: annotations after the titles."""
    return [a.text for a in fig.layout.annotations[2 + 4 * panel:6 + 4 * panel]]


def counts(fig, panel: int) -> list[list[int]]:
    """The counts a confusion panel shows ('TN 45<br>(90% of row)' → 45), as [[TN, FP], [FN, TP]]."""
    numbers = [int(text.split("<br>")[0].split()[1]) for text in cell_texts(fig, panel)]
    return [numbers[:2], numbers[2:]]


def test_moving_the_threshold_slider_changes_the_confusion_matrix(lab_parts):
    lab, *_ = lab_parts
    lab.threshold_slider.value = 0.3
    before = counts(lab.confusion_fig, 0)
    picture = trace_named(lab.confusion_fig, "validation").source
    lab.threshold_slider.value = 0.8
    after = counts(lab.confusion_fig, 0)
    assert trace_named(lab.confusion_fig, "validation").source != picture
    assert before != after
    m = threshold_metrics(lab.y_val, lab.val_scores, 0.8)
    assert after == [[m["tn"], m["fp"]], [m["fn"], m["tp"]]]
    assert f"{m['sensitivity']:.3f}" in lab.metrics_html.value
    assert list(trace_named(lab.sweep_fig, "threshold").x) == [0.8, 0.8]
    assert trace_named(lab.roc_fig, "compare point").x[0] == pytest.approx(1 - m["specificity"])


def test_the_rule_menu_puts_the_slider_on_the_validation_choice(lab_parts):
    lab, _, _, (y_val, s_val, *_) = lab_parts
    assert set(RULE_LABELS) == set(THRESHOLD_RULES)
    lab.rule_dropdown.value = "sensitivity"
    assert lab.threshold_slider.value == pytest.approx(choose_threshold(y_val, s_val, "sensitivity", target=0.9),
                                                       abs=lab.threshold_slider.step)
    assert lab.val_metrics["sensitivity"] >= 0.89


@pytest.mark.parametrize("seed", range(5))
def test_a_rule_puts_the_slider_on_its_grid_at_or_below_the_rule_threshold(tmp_path, seed):
    """Off the grid, the browser's slider snaps the value and sends it back: a second redraw of all
    four figures after every rule change (seen as two kernel updates per press, 2026-12-06)."""
    y_val, s_val = _scores(300, 0.74, seed=seed)
    y_test, s_test = _scores(100, 0.6, seed=seed + 10)
    lab = TestingLab(y_val, s_val, y_test, s_test, guard=TestSetGuard(tmp_path / "run"), n_boot=50)
    step = lab.threshold_slider.step
    for rule in RULE_LABELS:
        lab.rule_dropdown.value = rule
        value, exact = lab.threshold_slider.value, choose_threshold(y_val, s_val, rule, target=0.9)
        assert value == round(round(value / step) * step, 6), (rule, value)   # what the slider would snap to
        assert exact - step < value <= exact + 1e-9, (rule, value, exact)
        predicted = s_val >= value   # rounding down keeps every image the rule calls positive positive
        assert np.all(predicted[s_val >= exact])
        if rule == "sensitivity":
            assert lab.val_metrics["sensitivity"] >= 0.9


def test_test_scores_are_not_touched_before_the_button(lab_parts):
    lab, calls, guard, _ = lab_parts
    lab.threshold_slider.value = 0.6
    assert calls == [] and guard.looks == []
    assert cell_texts(lab.confusion_fig, 1) == ["?"] * 4
    assert len(trace_named(lab.roc_fig, "curve").x) == 0


def test_the_button_looks_once_locks_the_threshold_and_shows_the_test_roc(lab_parts):
    lab, calls, guard, (_, _, y_test, s_test) = lab_parts
    lab.threshold_slider.value = 0.55
    lab.reveal_button.click()
    report = lab.report
    assert calls == [1] and len(guard.looks) == 1 and lab.reveal_button.disabled
    assert report.threshold == pytest.approx(0.55) and report.look == 1
    assert report.auc.low < report.auc.auc < report.auc.high
    assert "CI" in trace_named(lab.roc_fig, "curve").name and len(trace_named(lab.roc_fig, "curve").x) > 2
    assert lab.evaluate_test() is report and calls == [1]       # no second look
    # moving the slider afterwards updates the test panel but not the reported numbers
    lab.threshold_slider.value = 0.9
    m = threshold_metrics(y_test, s_test, 0.9)
    assert counts(lab.confusion_fig, 1) == [[m["tn"], m["fp"]], [m["fn"], m["tp"]]]
    assert report.metrics == threshold_metrics(y_test, s_test, 0.55)
    assert "look #1" in str(report)


def test_a_second_lab_on_the_same_run_warns_about_the_second_look(lab_parts):
    lab, _, guard, (y_val, s_val, y_test, s_test) = lab_parts
    lab.evaluate_test()
    again = TestingLab(y_val, s_val, y_test, s_test, guard=TestSetGuard(guard.path), n_boot=50)
    with pytest.warns(TestSetWarning, match="look #2"):
        again.evaluate_test()
    assert "Warning" in again.message_html.value and "look #2" in again.message_html.value
    assert [entry["look"] for entry in json.loads(guard.path.read_text())] == [1, 2]


def test_prevalence_figure_marks_both_sets(lab_parts):
    lab, *_ = lab_parts
    xs = list(trace_named(lab.prevalence_fig, "marks PPV").x)
    assert xs == pytest.approx([lab.y_val.mean(), lab.y_test.mean()])
    lab.threshold_slider.value = 0.2
    ppv_low_threshold = list(trace_named(lab.prevalence_fig, "PPV").y)
    lab.threshold_slider.value = 0.9
    assert list(trace_named(lab.prevalence_fig, "PPV").y) != ppv_low_threshold


def test_exercises_accept_the_right_answers(lab_parts):
    ex = lab_parts[0].exercises
    answers = {"prevalence": "the prevalence of the positive class", "bayes": 1 / 3,
               "second_look": "an optimistic estimate: the test set has been used to tune the model",
               "ci_width": "half as wide", "accuracy_threshold": "maximum accuracy"}
    assert set(answers) < set(ex.names())
    for name, answer in answers.items():
        assert ex[name].check(answer, record=False).correct, name
        assert not ex[name].check("0.99" if name == "bayes" else "the image size", record=False).correct


def test_your_test_auc_is_read_from_the_one_look_and_the_validation_auc_is_named(lab_parts):
    lab = lab_parts[0]
    mine = lab.exercises.your_test_auc
    assert not mine.check(0.8, record=False).answered               # not evaluated yet: no answer exists
    lab.reveal_button.click()
    assert mine.check(round(lab.report.auc.auc, 3), record=False).correct
    wrong = mine.check(lab.val_auc.auc, record=False)
    assert not wrong.correct and "validation AUC, not the test AUC" in wrong.message


def test_lab_data_uses_pneumoniamnist_from_the_cache_with_full_val_and_test(data_cache):
    data = load_lab_data(recipe="testing", fast=True, seed=0)
    assert data.class_names == ("normal", "pneumonia")
    assert len(data.val[1]) == 524 and len(data.test[1]) == 624
    assert 1100 <= len(data.train[1]) <= 1300
    assert data.val[1].mean() == pytest.approx(389 / 524) and data.test[1].mean() == pytest.approx(390 / 624)
    assert tuple(data.train[0].shape[1:]) == (1, 28, 28) and float(data.train[0].max()) <= 1.0


def test_lab_data_falls_back_to_phantoms_without_the_dataset(tmp_path, monkeypatch):
    monkeypatch.setenv("RADLAB_DATA", str(tmp_path / "empty-cache"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        data = load_lab_data(recipe="testing", fast=True, seed=0)
    assert "phantoms" in data.source and data.class_names == ("no lesion", "lesion")
    assert set(np.unique(data.test[1])) == {0, 1}


def test_showing_the_lab_puts_the_latest_figures_into_the_widget_state(lab_parts):
    """Voila connects after the notebook ran: the state it reads must already hold the test ROC."""
    lab, *_ = lab_parts
    lab.evaluate_test()
    lab._repr_mimebundle_()
    assert len(lab.roc_fig._widget_data[4]["x"]) == len(lab.report.auc.fpr)
    assert lab.confusion_fig._widget_layout["annotations"][6]["text"] != "?"


def test_the_confusion_pictures_colour_and_label_their_cells_as_plotlys_heatmap_did(lab_parts):
    """Each matrix is a picture, updated in place: "Blues" over 0 … the largest count, as plotly's
    heatmap coloured it; cell texts in white on dark cells (plotly's contrast rule), black on light."""
    from plotly.colors import sample_colorscale, unlabel_rgb

    from radlab.viz.evaluation import confusion_matrix_figure
    from radlab.viz.images import decode_source

    lab, *_ = lab_parts
    for threshold in (0.2, 0.5, 0.85):
        lab.threshold_slider.value = threshold
        m = threshold_metrics(lab.y_val, lab.val_scores, threshold)
        fresh = confusion_matrix_figure([("validation", m), ("test: not looked at yet", None)],
                                        class_names=lab.class_names)
        assert plain_figure(lab.confusion_fig, ())["data"] == plain_figure(fresh, ())["data"]
        assert lab.confusion_fig.layout.annotations[2:] == fresh.layout.annotations[2:]
        z = np.array([[m["tn"], m["fp"]], [m["fn"], m["tp"]]], dtype=float)
        expected = np.array([unlabel_rgb(c) for c in sample_colorscale("Blues", (z / z.max()).ravel().tolist())])
        shown = decode_source(trace_named(lab.confusion_fig, "validation").source).reshape(-1, 3).astype(float)
        assert np.abs(shown - expected).max() <= 3
        dark = expected @ [0.299, 0.587, 0.114] < 128
        assert [a.font.color for a in lab.confusion_fig.layout.annotations[2:6]] == \
               ["white" if d else "black" for d in dark]
    assert {a.font.color for a in lab.confusion_fig.layout.annotations[2:6]} == {"white", "black"}


def test_the_roc_and_prevalence_charts_equal_fresh_ones_before_and_after_the_look(lab_parts):
    """The lab sends a new threshold's operating points and PPV/NPV values alone (the curves only when the
    report changes): what the charts hold equals charts drawn afresh, before and after the test look."""
    from radlab.viz.evaluation import prevalence_figure, roc_figure

    lab, *_ = lab_parts
    for step, threshold in enumerate((0.3, 0.7, 0.45, 0.6)):
        if step == 2:
            lab.reveal_button.click()
        lab.threshold_slider.value = threshold
        roc = roc_figure(lab.report.auc if lab.report else None, point=lab.test_metrics, compare=lab.val_auc,
                         compare_point=lab.val_metrics)
        assert plain_figure(lab.roc_fig, ())["data"] == plain_figure(roc, ())["data"], threshold
        m = lab.val_metrics
        prevalence = prevalence_figure(m["sensitivity"], m["specificity"], lab._prevalences())
        assert plain_figure(lab.prevalence_fig, ())["data"] == plain_figure(prevalence, ())["data"], threshold
