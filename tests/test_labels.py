"""Data and ground truth (Chapter 5): label noise, readers, kappa against scikit-learn, imbalance, other sites."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score

from radlab import labels as L
from radlab.errors import DataError


@pytest.fixture(scope="module")
def data():
    return L.nodule_data(100, seed=0)


def test_flip_labels_flips_exactly_the_fraction_asked():
    y = np.array([0, 1] * 50)
    flipped = L.flip_labels(y, 0.2, seed=1)
    assert int((flipped != y).sum()) == 20 and set(np.unique(flipped)) <= {0, 1}
    assert (L.flip_labels(y, 0.0) == y).all() and (L.flip_labels(y, 1.0) == 1 - y).all()
    with pytest.raises(DataError):
        L.flip_labels(y, 1.5)


@pytest.mark.parametrize("seed", range(5))
def test_hand_written_kappa_equals_scikit_learn(seed):
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 3, 80)
    b = np.where(rng.random(80) < 0.6, a, rng.integers(0, 3, 80))
    assert L.cohen_kappa(a, b) == pytest.approx(cohen_kappa_score(a, b))


def test_kappa_is_one_for_identical_readers_and_about_zero_for_independent_ones():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 2, 4000)
    assert L.cohen_kappa(a, a) == pytest.approx(1.0)
    assert abs(L.cohen_kappa(a, rng.integers(0, 2, 4000))) < 0.05
    m = L.kappa_matrix(np.stack([a, a, 1 - a]))
    assert m[0, 1] == pytest.approx(1.0) and m[0, 2] == pytest.approx(-1.0, abs=0.01)


def test_majority_of_independent_readers_beats_a_typical_reader():
    truth = np.random.default_rng(3).integers(0, 2, 2000)
    readings = L.simulate_readers(truth, 5, noise=1.0, seed=3)
    single = (readings == truth).mean(axis=1)
    assert (L.majority_vote(readings) == truth).mean() > np.median(single)
    assert L.majority_vote(np.array([[1, 0], [1, 0], [0, 1]])).tolist() == [1, 0]


def test_reader_bias_makes_a_reader_call_malignant_more_often():
    truth = np.random.default_rng(4).integers(0, 2, 3000)
    readings = L.simulate_readers(truth, 2, noise=1.0, bias=[0.0, 1.0], seed=4)
    assert readings[1].mean() > readings[0].mean() + 0.1


def test_label_noise_at_one_half_destroys_what_clean_labels_teach(data):
    sweep = L.label_noise_sweep(data, [0.0, 0.5], seed=0, repeats=3)
    assert sweep[0.0] > 0.7 and sweep[0.5] < sweep[0.0] - 0.1


def test_patient_split_never_puts_a_patient_in_two_sets(data):
    parts = L.patient_split(data.patient_ids, seed=1)
    sets = [set(data.patient_ids[p]) for p in parts]
    assert not (sets[0] & sets[1] or sets[0] & sets[2] or sets[1] & sets[2])
    assert sum(len(p) for p in parts) == len(data.y)


def test_imbalance_cures_raise_sensitivity_and_always_benign_has_accuracy_one_minus_prevalence():
    rare = L.nodule_data(160, seed=0, malignant_fraction=0.15)
    assert 0.1 < rare.y.mean() < 0.2
    out = L.imbalance_experiment(rare, seed=0)
    assert out["always benign"]["sensitivity"] == 0.0 and out["always benign"]["balanced accuracy"] == 0.5
    assert out["weighted loss"]["sensitivity"] >= out["plain"]["sensitivity"]
    assert out["balanced sampler"]["sensitivity"] >= out["plain"]["sensitivity"]


def test_simulate_site_adds_noise_offset_and_blur_in_hu():
    img = np.zeros((2, 16, 16), np.float32)
    img[:, 8, 8] = 100.0
    out = L.simulate_site(img, noise_hu=10.0, offset_hu=40.0, seed=0)
    assert out.mean() == pytest.approx(40.0 + 100 / 256, abs=1.0) and 9 < out.std() < 14
    assert L.simulate_site(img, blur_px=1.0)[0, 8, 8] < 100.0


def test_external_validation_scores_internal_and_every_other_site(data):
    other = {"same": L.nodule_data(30, seed=5), "noisy": L.nodule_data(30, seed=5, site={"noise_hu": 60.0})}
    out = L.external_validation(data, other, seed=0)
    assert set(out) == {"internal test", "same", "noisy"}
    assert all(0 <= v <= 1 for row in out.values() for v in row.values())
