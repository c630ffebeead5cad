"""Lab 9 widget: controls change the figures; runs fill the tables; exercises answer from the student's runs."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import pytest

from radlab.viz.transfer import ADAPTATION_PANELS
from radlab.widgets.transfer import TransferLab
from figures import assert_heatmap_colours, trace_named


@pytest.fixture(scope="module")
def lab(tmp_path_factory) -> TransferLab:
    # random weights: the widget's behaviour does not depend on which weights it starts from
    lab = TransferLab(seed=0, fast=True, weights="random", dataset="phantoms", epochs=1)
    lab.fractions = (0.1, 1.0)
    return lab


def test_the_lab_says_which_weights_it_uses_and_builds_figure_widgets(lab):
    assert lab.weights.kind == "random" and "nothing is transferred" in lab.weights_html.value
    for fig in (lab.adaptation_fig, lab.curves_fig, lab.strategies_fig, lab.params_fig):
        assert isinstance(fig, go.FigureWidget)
    assert len(lab.curves_fig.data) == 3 and len(lab.strategies_fig.data) == 6


def test_the_kernel_slider_changes_the_gray_to_rgb_figure(lab):
    def values(name):   # what the hover text reads
        return np.asarray(trace_named(lab.adaptation_fig, name).customdata, dtype=float)

    before = values("map of repeated input")
    lab.kernel_slider.value = 7
    after = values("map of repeated input")
    assert before.shape == after.shape and not np.allclose(before, after)
    assert "Kernel 7" in lab.adaptation_html.value
    assert np.allclose(after, values("map of summed kernel"), atol=1e-5)
    # the pictures are what a fresh figure of the same kernel shows, coloured as its heatmap would be
    ca = lab._adaptation()
    np.testing.assert_array_equal(after, ca.map_repeat)
    for trace, (name, scale, zmid), v in zip(lab.adaptation_fig.data, ADAPTATION_PANELS,
                                             [ca.image, ca.rgb_kernels[0], ca.gray_kernel, ca.map_repeat, ca.map_sum]):
        assert trace.type == "image" and trace.name == name
        assert_heatmap_colours(trace.source, v, scale, zmid)


def test_unfreezing_more_stages_shows_more_trainable_parameters(lab):
    def trainable_of_finetune():
        bar = trace_named(lab.params_fig, "trainable (learns from your images)")
        return dict(zip(bar.y, bar.x))["fine-tuning"]

    lab.unfreeze_slider.value = 1
    one = trainable_of_finetune()
    lab.unfreeze_slider.value = 3
    assert trainable_of_finetune() > one


def test_exercises_about_the_run_wait_for_it(lab):
    fresh = TransferLab.__new__(TransferLab)   # no runs yet: the questions say what to do first
    from radlab.course.lab09_transfer_learning import exercises

    ex = exercises(fresh)
    assert not ex.smallest_gain.check(0.1, record=False).answered
    assert "learning curves" in ex.smallest_gain.check(0.1, record=False).message


def test_the_learning_curves_button_draws_three_curves_and_a_table(lab):
    lab.curves_button.click()
    assert lab.curves is not None, lab.status_html.value
    assert [len(t.x) for t in lab.curves_fig.data] == [2, 2, 2]
    assert "<table>" in lab.curves_html.value
    ex = lab.exercises.smallest_gain
    assert ex.check(ex.expected(), record=False).correct
    assert not ex.check(ex.expected() + 0.2, record=False).correct


def test_compare_fills_the_table_and_the_frozen_question_answers_from_the_run(lab):
    runs = lab.compare(n_train=20, unfreeze=2, epochs=1)
    assert [r.strategy for r in runs] == ["scratch", "fixed", "finetune"]
    assert all(r.frozen_unchanged for r in runs)
    assert lab.strategies_html.value.count("<tr>") == 4
    assert all(len(t.x) == 1 for t in lab.strategies_fig.data)
    ex = lab.exercises.your_frozen
    assert ex.check(ex.expected(), record=False).correct
    trainable = next(r.trainable for r in runs if r.strategy == "finetune")
    wrong = ex.check(trainable, record=False)
    assert not wrong.correct and "trains" in wrong.message


def test_every_exercise_accepts_its_own_answer_and_refuses_a_typical_wrong_one(lab):
    if lab.curves is None or not lab.strategy_runs:
        lab.compare(n_train=20, unfreeze=2, epochs=1)
        lab.run_curves()
    wrong = {"fixed_trainable": 11_170_753, "strategy_first": "fine-tune every layer",
             "gray_to_rgb": "(w_R + w_G + w_B) / 3", "smallest_gain": 5.0, "your_frozen": -1,
             "your_source": "imagenet"}
    assert set(wrong) == set(lab.exercises.names())
    for ex in lab.exercises:
        assert ex.check(ex.expected(), record=False).correct, ex.name
        assert not ex.check(wrong[ex.name], record=False).correct, ex.name
        assert len(ex.hints) >= 2 and ex.solution_text
