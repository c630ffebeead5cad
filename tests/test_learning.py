"""The mathematics of learning (Chapter 3): hand-written backprop and optimisers against PyTorch."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from radlab import learning as L
from radlab.errors import DataError
from radlab.metrics import dice


@pytest.mark.parametrize("seed,y", [(0, 1), (1, 0), (7, 1)])
def test_backprop_by_hand_equals_autograd(seed, y):
    params = L.tiny_network(seed)
    x = np.random.default_rng(seed).normal(0, 1, 2)
    by_hand, auto = L.backward_by_hand(x, y, params), L.autograd_gradients(x, y, params)
    for name in params:
        np.testing.assert_allclose(by_hand[name], auto[name], rtol=1e-10, atol=1e-12)


def test_backprop_output_bias_gradient_is_p_minus_y():
    params = L.tiny_network(3)
    f = L.forward_by_hand([0.2, 0.4], 1, params)
    assert float(L.backward_by_hand([0.2, 0.4], 1, params)["b2"]) == pytest.approx(float(f["p"]) - 1)


def _quadratic():
    a = np.array([[3.0, 0.5], [0.5, 1.0]])
    return (lambda w: 0.5 * w @ a @ w), (lambda w: a @ w), a


@pytest.mark.parametrize("method", L.OPTIMIZERS)
def test_hand_written_optimisers_follow_torch_optim(method):
    loss, grad, a = _quadratic()
    ours = L.optimize(loss, grad, (1.0, -2.0), method=method, lr=0.05, steps=30)
    w = torch.tensor([1.0, -2.0], dtype=torch.float64, requires_grad=True)
    at = torch.tensor(a)
    opt = {"sgd": lambda: torch.optim.SGD([w], lr=0.05),
           "momentum": lambda: torch.optim.SGD([w], lr=0.05, momentum=0.9),
           "adam": lambda: torch.optim.Adam([w], lr=0.05)}[method]()
    for step in range(30):
        opt.zero_grad()
        (0.5 * w @ at @ w).backward()
        opt.step()
        np.testing.assert_allclose(ours.weights[step + 1], w.detach().numpy(), rtol=1e-9, atol=1e-12)


def test_momentum_and_adam_beat_plain_descent_in_a_narrow_valley():
    a = np.diag([1.0, 50.0])
    loss, grad = (lambda w: 0.5 * w @ a @ w), (lambda w: a @ w)
    sgd = L.optimize(loss, grad, (-3.5, 1.5), method="sgd", lr=0.038, steps=150)
    mom = L.optimize(loss, grad, (-3.5, 1.5), method="momentum", lr=0.01, steps=150)
    adam = L.optimize(loss, grad, (-3.5, 1.5), method="adam", lr=0.1, steps=150)
    assert mom.losses[-1] < sgd.losses[-1] and adam.losses[-1] < sgd.losses[-1]
    assert L.steps_to_reach(mom, 1e-2) < (L.steps_to_reach(sgd, 1e-2) or 10**6)


def test_bad_optimiser_settings_raise_data_errors():
    loss, grad, _ = _quadratic()
    with pytest.raises(DataError):
        L.optimize(loss, grad, (0, 0), method="rmsprop")
    with pytest.raises(DataError):
        L.optimize(loss, grad, (0, 0), lr=-1)


def test_soft_dice_loss_is_one_minus_dice_on_binary_masks():
    rng = np.random.default_rng(0)
    a, b = rng.random((16, 16)) > 0.6, rng.random((16, 16)) > 0.5
    assert L.soft_dice_loss(a, b, smooth=0) == pytest.approx(1 - dice(a, b))
    assert L.soft_dice_loss(b, b) == pytest.approx(0.0)


def test_minibatch_gradient_error_shrinks_like_one_over_root_batch_size():
    rng = np.random.default_rng(0)
    x, y = rng.normal(0, 1, 400), rng.integers(0, 2, 400)

    def gradient(w, batch):
        idx = slice(None) if batch is None else batch
        err = 1 / (1 + np.exp(-(w[0] * x[idx] + w[1]))) - y[idx]
        return np.array([np.mean(err * x[idx]), np.mean(err)])

    spread = L.minibatch_gradient_spread(gradient, 400, (0.5, 0.0), [1, 4, 16], draws=400, seed=1)
    assert spread[1] > spread[4] > spread[16]
    assert spread[1] / spread[16] == pytest.approx(4.0, rel=0.25)


def test_gradients_vanish_in_a_deep_sigmoid_network_but_not_with_relu_or_shortcuts():
    sig = L.layer_gradient_norms("sigmoid", depth=15, seed=0)
    relu = L.layer_gradient_norms("relu", depth=15, seed=0)
    res = L.layer_gradient_norms("sigmoid", residual=True, depth=15, seed=0)
    assert len(sig) == 15
    assert sig[0] / sig[-1] < 1e-6
    assert relu[0] / relu[-1] > 1e-2 and res[0] / res[-1] > 1e-2
