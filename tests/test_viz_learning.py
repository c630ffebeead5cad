"""Gradient descent on the course's loss landscapes, and the learning figures that show it."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import pytest
import torch
import torch.nn.functional as F

from radlab.errors import DataError
from radlab.train import History
from radlab.viz import learning as L
from figures import trace_named


def _logistic_data(n: int = 120, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    return rng.normal(0, 1, n) + 1.5 * y - 0.75, y


def _history(train: list[float], val: list[float], metric: list[float]) -> History:
    h = History()
    for t, v, m in zip(train, val, metric):
        h.append(train_loss=t, val_loss=v, train_metric=m, val_metric=m, lr=1e-3, seconds=0.1)
    return h


# ------------------------------------------------------------------ gradient descent

def test_gradient_descent_follows_the_hand_written_update_rule():
    bowl = L.Bowl(curvature=(3.0,), center=(2.0,))
    w, expected = -1.0, [-1.0]
    for _ in range(5):
        w = w - 0.1 * 3.0 * (w - 2.0)          # w <- w - lr * dL/dw
        expected.append(w)
    path = L.gradient_descent(bowl, -1.0, lr=0.1, steps=5)
    np.testing.assert_allclose(path.weights[:, 0], expected)
    np.testing.assert_allclose(path.losses, 0.5 * 3.0 * (np.array(expected) - 2.0) ** 2)


@pytest.mark.parametrize("curvature", [1.0, 4.0])
def test_a_bowl_is_walked_down_below_two_over_curvature_and_diverges_above(curvature: float):
    bowl = L.Bowl(curvature=(curvature,), center=(0.0,))
    limit = 2.0 / curvature
    assert L.gradient_descent(bowl, 3.0, lr=0.5 / curvature, steps=30).outcome == "converged"
    assert L.gradient_descent(bowl, 3.0, lr=0.95 * limit, steps=30).outcome == "zig-zagging"
    assert L.gradient_descent(bowl, 3.0, lr=1.05 * limit, steps=30).outcome == "diverged"
    assert L.gradient_descent(bowl, 3.0, lr=0.002 / curvature, steps=30).outcome == "too slow"


def test_an_elongated_bowl_zigzags_across_the_steep_direction_before_the_flat_one_converges():
    ravine = L.Bowl(curvature=(1.0, 10.0), center=(0.0, 0.0))
    path = L.gradient_descent(ravine, (-3.0, 1.0), lr=0.19, steps=15)
    steep_steps = np.diff(path.weights[:, 1])
    assert np.all(steep_steps[1:] * steep_steps[:-1] < 0), "the steep weight overshoots at every step"
    assert path.weights[-1, 0] > -3.0 * 0.1, "the flat weight still moves steadily towards its minimum"


def test_a_diverging_path_stops_once_the_loss_blows_up():
    path = L.gradient_descent(L.Bowl((1.0,), (0.0,)), 1.0, lr=10.0, steps=100, blowup=1e4)
    assert path.outcome == "diverged"
    assert len(path.losses) < 101 and path.losses[-1] > 1e4


def test_the_logistic_loss_is_binary_cross_entropy_and_its_gradient_is_right():
    x, y = _logistic_data()
    land = L.LogisticLandscape(x=x, y=y)
    w = np.array([0.7, -0.3])
    ref = F.binary_cross_entropy_with_logits(torch.tensor(w[0] * x + w[1]), torch.tensor(y, dtype=torch.float64))
    assert float(land.loss(w)) == pytest.approx(float(ref), rel=1e-9)
    eps = 1e-6
    numeric = [(land.loss(w + eps * e) - land.loss(w - eps * e)) / (2 * eps) for e in np.eye(2)]
    np.testing.assert_allclose(land.gradient(w), numeric, rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(L.binary_cross_entropy(0.2, 1), -np.log(0.2))


def test_the_logistic_minimum_is_where_the_gradient_vanishes():
    x, y = _logistic_data()
    land = L.LogisticLandscape(x=x, y=y)
    np.testing.assert_allclose(land.gradient(land.minimum), 0.0, atol=1e-6)
    assert land.minimum[0] > 0, "a larger feature means a lesion more often: the weight is positive"
    assert all(lo < m < hi for m, (lo, hi) in zip(land.minimum, land.bounds)), "the plot is centred on the minimum"
    grid = land.minimum + np.random.default_rng(1).normal(0, 0.3, (50, 2))
    assert np.all(land.loss(grid) >= land.minimum_loss)


def test_mini_batches_are_seeded_noisy_and_still_get_close():
    x, y = _logistic_data()
    land = L.LogisticLandscape(x=x, y=y)
    full = L.gradient_descent(land, (-1.0, 2.0), lr=1.0, steps=40)
    small = L.gradient_descent(land, (-1.0, 2.0), lr=1.0, steps=40, batch_size=4, seed=3)
    again = L.gradient_descent(land, (-1.0, 2.0), lr=1.0, steps=40, batch_size=4, seed=3)
    np.testing.assert_array_equal(small.weights, again.weights)
    assert not np.allclose(small.weights, full.weights)
    assert np.all(np.diff(full.losses) <= 1e-12), "whole-data steps at a small rate always go downhill"
    assert np.any(np.diff(small.losses) > 0), "mini-batch steps sometimes go uphill on the whole-data loss"
    assert small.final_loss < small.losses[0] and small.outcome != "zig-zagging"


def test_bad_arguments_raise_data_errors_that_say_what_to_do():
    with pytest.raises(DataError, match="positive learning rate"):
        L.gradient_descent(L.Bowl(), 0.0, lr=0.0)
    with pytest.raises(DataError, match="batch_size"):
        L.gradient_descent(L.Bowl(), 0.0, lr=0.1, batch_size=4)
    with pytest.raises(DataError, match="weights"):
        L.gradient_descent(L.Bowl((1.0, 2.0), (0.0, 0.0)), 0.0, lr=0.1)
    with pytest.raises(DataError, match="both"):
        L.LogisticLandscape(x=np.ones(5), y=np.ones(5))
    with pytest.raises(DataError):
        L.Bowl(curvature=(-1.0,), center=(0.0,))


# ------------------------------------------------------------------ figures

def test_descent_figure_has_a_panel_per_path_and_cuts_paths_that_leave_the_plot():
    bowl = L.Bowl((1.0,), (2.0,))
    paths = [L.gradient_descent(bowl, -1.0, lr=lr, steps=20) for lr in (0.1, 1.9, 2.5)]
    fig = L.descent_figure(bowl, paths)
    assert [a.text for a in fig.layout.annotations] == [p.label for p in paths] + ["loss per step"]
    on_landscape = [t for t in fig.data if t.customdata is not None]
    assert len(on_landscape) == 3
    assert len(on_landscape[0].x) == 21
    lo, hi = bowl.bounds[0]
    assert len(on_landscape[2].x) < 21 and all(lo <= v <= hi for v in on_landscape[2].x)
    assert fig.layout.yaxis4.type == "log"


def test_descent_figure_draws_contours_and_the_minimum_for_two_weights():
    x, y = _logistic_data()
    land = L.LogisticLandscape(x=x, y=y)
    fig = L.descent_figure(land, [L.gradient_descent(land, (-1.0, 2.0), lr=1.0, steps=10)])
    assert sum(isinstance(t, go.Contour) for t in fig.data) == 1
    star = [t for t in fig.data if isinstance(t, go.Scatter) and t.marker.symbol == "star"]
    np.testing.assert_allclose([star[0].x[0], star[0].y[0]], land.minimum)
    with pytest.raises(DataError):
        L.descent_figure(land, [])


def test_loss_functions_figure_shows_a_confident_mistake_costs_more_under_cross_entropy():
    fig = L.loss_functions_figure()
    bce_lesion = trace_named(fig, "BCE, image with a lesion (y = 1): −ln p")
    squared_lesion = trace_named(fig, "squared error, lesion (y = 1): (1 − p)²")
    assert bce_lesion.y[0] > 5 > 1 >= squared_lesion.y[0]
    np.testing.assert_allclose(bce_lesion.y, -np.log(bce_lesion.x), rtol=1e-6)


def test_runs_figure_gives_each_run_a_colour_and_a_log_scale_when_one_blew_up():
    calm = {"a": _history([0.7, 0.6], [0.7, 0.65], [0.6, 0.7]), "b": _history([0.7, 0.5], [0.7, 0.6], [0.6, 0.8])}
    fig = L.runs_figure(calm)
    assert len(fig.data) == 6 and fig.layout.yaxis.type != "log"
    assert (trace_named(fig, "a: validation loss").line.color == trace_named(fig, "a: validation AUC").line.color
            != trace_named(fig, "b: validation loss").line.color)
    wild = dict(calm, c=_history([700.0, 5.0], [900.0, 3.0], [0.5, 0.5]))
    assert L.runs_figure(wild).layout.yaxis.type == "log"
    with pytest.raises(DataError):
        L.runs_figure({})


def test_sweep_and_parameter_figures_show_the_numbers_given():
    fig = L.sweep_figure([0.0, 0.2, 0.4], {"test AUC": [0.9, 0.85, 0.7]}, x_title="flipped", y_title="AUC",
                         x_percent=True)
    assert list(trace_named(fig, "test AUC").y) == [0.9, 0.85, 0.7] and fig.layout.xaxis.tickformat == ".0%"
    with pytest.raises(DataError):
        L.sweep_figure([0, 1], {"x": [1.0]}, x_title="", y_title="")
    bars = L.parameter_counts_figure({"fixed": (513, 11_177_025), "fine-tune": (11_177_025, 11_177_025)})
    assert list(trace_named(bars, "trainable (learns from your images)").x) == [513, 11_177_025]
    assert list(trace_named(bars, "frozen (kept from pretraining)").x) == [11_177_025 - 513, 0]


def test_segmentation_figure_outlines_truth_and_prediction_and_draws_both_boxes():
    images = np.random.default_rng(0).random((2, 16, 16)).astype(np.float32)
    true = np.zeros((2, 16, 16), bool)
    true[:, 4:8, 4:8] = True
    pred = np.roll(true, 2, axis=2)
    fig = L.segmentation_figure(images, true, pred, titles=["a", "b"],
                                true_boxes=[[4, 4, 8, 8]] * 2, pred_boxes=[[6, 4, 10, 8], [np.nan] * 4])
    contours = [t for t in fig.data if isinstance(t, go.Contour)]
    assert len(contours) == 4
    assert {contours[0].line.color, contours[1].line.color} == {L.TRUE_COLOR, L.PRED_COLOR}
    assert len(fig.layout.shapes) == 4 and fig.layout.shapes[3].visible is False
    with pytest.raises(DataError):
        L.segmentation_figure(images, true[:1], pred)
