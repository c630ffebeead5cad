"""Parameters, receptive fields and tuning on validation only (Chapter 4)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from radlab import hyper as H
from radlab.errors import DataError
from radlab.models import TeachingCNN, summary


@pytest.mark.parametrize("k,cin,cout,bias", [(3, 1, 16, True), (3, 8, 16, False), (5, 3, 7, True), (1, 32, 4, True)])
def test_conv_parameter_formula_matches_pytorch(k, cin, cout, bias):
    layer = torch.nn.Conv2d(cin, cout, k, bias=bias)
    assert H.conv_parameters(k, cin, cout, bias=bias) == sum(p.numel() for p in layer.parameters())


@pytest.mark.parametrize("n_in,n_out,bias", [(2048, 64, True), (64, 1, True), (10, 3, False)])
def test_dense_parameter_formula_matches_pytorch(n_in, n_out, bias):
    layer = torch.nn.Linear(n_in, n_out, bias=bias)
    assert H.dense_parameters(n_in, n_out, bias=bias) == sum(p.numel() for p in layer.parameters())


def test_receptive_field_formula_matches_the_model_summary():
    info = summary(TeachingCNN(width=8, n_blocks=3, image_size=64), (1, 64, 64))
    rows = [r.receptive_field for r in info.rows if r.layer in ("Conv2d", "MaxPool2d")]
    assert H.receptive_field([(3, 1), (2, 2)] * 3) == rows
    assert H.receptive_field([(3, 1), (3, 1)]) == [3, 5]
    with pytest.raises(DataError):
        H.receptive_field([(0, 1)])


def test_tuning_experiment_scores_every_setting_on_three_sets():
    result = H.tuning_experiment(6, n_train=30, n_val=10, n_test=10, n_fresh=30, seed=1)
    assert len(result.settings) == len(result.val_auc) == len(result.test_auc) == len(result.fresh_auc) == 6
    assert result.test_auc[result.chosen_on_test] == result.test_auc.max()
    assert result.val_auc[result.chosen_on_val] == result.val_auc.max()
    s = result.summary()
    assert s["chosen on test: reported test AUC"] >= s["chosen on validation: reported test AUC"]
    assert all(0.0 <= v <= 1.0 for v in s.values())
    with pytest.raises(DataError):
        H.tuning_experiment(1)


def test_tuning_optimism_averages_repetitions():
    one = H.tuning_experiment(4, n_train=30, n_val=10, n_test=10, n_fresh=30, seed=2).summary()
    avg = H.tuning_optimism(1, n_settings=4, n_train=30, n_val=10, n_test=10, n_fresh=30, seed=2)
    assert avg == pytest.approx(one)
    assert np.isfinite(list(avg.values())).all()
