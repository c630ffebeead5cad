"""Lab 12's experiment: slices from volumes, aggregation, thresholds, and 2-D vs 3-D on the same volumes."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from radlab.volumetric import (MODELS, aggregate_slices, best_threshold, compare_2d_3d, load_volume_data,
                               nodule_extent, to_slices)


def test_slices_come_out_volume_by_volume_in_order():
    x = torch.arange(2 * 3 * 4 * 5 * 5, dtype=torch.float32).reshape(2, 3, 4, 5, 5)   # N, C, D, H, W
    s = to_slices(x)
    assert s.shape == (8, 3, 5, 5)
    assert torch.equal(s[5], x[1, :, 1])          # volume 1, slice 1, all channels


def test_a_volume_scores_its_highest_slice():
    scores = np.array([0.1, 0.9, 0.2, 0.3, 0.3, 0.3])
    assert np.allclose(aggregate_slices(scores, 3), [0.9, 0.3])
    assert np.allclose(aggregate_slices(scores, 3, "mean"), [0.4, 0.3])
    with pytest.raises(ValueError):
        aggregate_slices(scores, 3, "median")


def test_the_threshold_chosen_on_validation_maximises_accuracy_there():
    y = np.array([0, 0, 0, 1, 1, 1])
    s = np.array([0.90, 0.92, 0.93, 0.95, 0.97, 0.99])   # max aggregation: every score high
    t = best_threshold(y, s)
    assert 0.93 < t < 0.95
    assert np.mean((s >= t) == (y == 1)) == 1.0


@pytest.fixture(scope="module")
def data():
    return load_volume_data(fast=True, seed=0)


def test_the_split_is_by_volume_and_covers_every_volume_once(data):
    idx = np.concatenate(list(data.split.values()))
    assert sorted(idx) == list(range(len(data.volumes)))
    assert data.x("train").shape[1:] == (1, 16, 32, 32)
    assert data.x("val", phases=True).shape[1] == 2
    assert data.slice_y("train").shape == (len(data.split["train"]) * 16,)
    pos = int(np.flatnonzero(data.volumes.labels)[0])
    first, last = nodule_extent(data.volumes, pos)
    assert 0 <= first <= last < 16 and nodule_extent(data.volumes, int(np.flatnonzero(data.volumes.labels == 0)[0])) is None


def test_each_approach_is_trained_and_measured_on_the_same_test_volumes(data):
    results = compare_2d_3d(data, epochs_2d=1, epochs_3d=1, seed=0)
    assert [r.name for r in results] == list(MODELS)
    n_test = len(data.split["test"])
    for r in results:
        assert r.test_scores.shape == (n_test,) and 0 <= r.test_auc <= 1 and 0 <= r.test_accuracy <= 1
        assert r.params > 0 and r.train_seconds > 0 and r.infer_ms_per_volume > 0
    by = {r.name: r for r in results}
    assert by["2d"].slice_scores.shape == (n_test, 16) and by["3d"].slice_scores is None
    assert np.allclose(by["2d"].slice_scores.max(axis=1), by["2d"].test_scores)
    # two phases as channels: only the first layer grows (one more input channel)
    assert by["2d_phases"].params - by["2d"].params == 16 * 9
