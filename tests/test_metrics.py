"""Metrics checked against scikit-learn, scikit-image and torchmetrics on random data."""
from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import torch
from sklearn import metrics as skm
from sklearn.calibration import calibration_curve as sk_calibration_curve
from sklearn.utils.class_weight import compute_class_weight

from radlab import metrics as M
from radlab.errors import DataError


def _scores(seed: int, n: int = 300, separation: float = 1.0, ties: bool = False):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.4).astype(int)
    s = rng.normal(size=n) + separation * y
    if ties:
        s = np.round(s, 1)
    return y, 1 / (1 + np.exp(-s))


@pytest.mark.parametrize("seed,ties", [(0, False), (1, True), (2, True)])
def test_roc_curve_and_auc_match_sklearn(seed, ties):
    y, s = _scores(seed, ties=ties)
    fpr, tpr, thr = M.roc_curve(y, s)
    sk_fpr, sk_tpr, sk_thr = skm.roc_curve(y, s, drop_intermediate=False)
    np.testing.assert_allclose(fpr, sk_fpr)
    np.testing.assert_allclose(tpr, sk_tpr)
    np.testing.assert_allclose(thr[1:], sk_thr[1:])
    assert M.roc_auc(y, s) == pytest.approx(skm.roc_auc_score(y, s), abs=1e-12)


def test_auc_matches_torchmetrics():
    from torchmetrics.functional.classification import binary_auroc

    y, s = _scores(3, ties=True)
    expected = float(binary_auroc(torch.tensor(s), torch.tensor(y)))
    assert M.roc_auc(y, s) == pytest.approx(expected, abs=1e-6)


def test_bootstrap_ci_contains_the_auc_is_seeded_and_narrows_with_more_data():
    y, s = _scores(4, n=200)
    a = M.roc_auc_ci(y, s, n_boot=300, seed=7)
    b = M.roc_auc_ci(y, s, n_boot=300, seed=7)
    c = M.roc_auc_ci(y, s, n_boot=300, seed=8)
    assert a.low < a.auc < a.high
    assert (a.low, a.high) == (b.low, b.high)
    assert (a.low, a.high) != (c.low, c.high)
    big_y, big_s = _scores(4, n=2000)
    big = M.roc_auc_ci(big_y, big_s, n_boot=300, seed=7)
    assert big.high - big.low < a.high - a.low
    # the band encloses the curve where the curve is evaluated on the grid
    curve = np.interp(a.fpr_grid, a.fpr, a.tpr)
    inside = (a.tpr_low <= curve + 1e-9) & (curve <= a.tpr_high + 1e-9)
    assert inside.mean() > 0.9
    assert "CI" in str(a)


def test_bootstrap_resamples_are_stratified():
    y, s = _scores(5, n=120)
    result = M.roc_auc_ci(y, s, n_boot=50, seed=0)
    assert (result.n_pos, result.n_neg) == (int(y.sum()), int((1 - y).sum()))
    assert np.isfinite(result.boot_aucs).all()          # no resample lacks a class


@pytest.mark.parametrize("threshold", [0.2, 0.5, 0.73])
def test_threshold_metrics_match_sklearn(threshold):
    y, s = _scores(6)
    m = M.threshold_metrics(y, s, threshold)
    pred = (s >= threshold).astype(int)
    tn, fp, fn, tp = skm.confusion_matrix(y, pred).ravel()
    assert (m["tn"], m["fp"], m["fn"], m["tp"]) == (tn, fp, fn, tp)
    assert m["sensitivity"] == pytest.approx(skm.recall_score(y, pred))
    assert m["specificity"] == pytest.approx(skm.recall_score(y, pred, pos_label=0))
    assert m["ppv"] == pytest.approx(skm.precision_score(y, pred))
    assert m["npv"] == pytest.approx(skm.precision_score(y, pred, pos_label=0))
    assert m["accuracy"] == pytest.approx(skm.accuracy_score(y, pred))
    assert m["balanced_accuracy"] == pytest.approx(skm.balanced_accuracy_score(y, pred))


def test_threshold_sweep_agrees_with_threshold_metrics():
    y, s = _scores(7)
    sweep = M.threshold_sweep(y, s, [0.1, 0.4, 0.6, 0.95])
    for i, t in enumerate(sweep["threshold"]):
        one = M.threshold_metrics(y, s, t)
        for key in ("sensitivity", "specificity", "ppv", "npv", "accuracy"):
            assert sweep[key][i] == pytest.approx(one[key], nan_ok=True)


def test_ppv_is_undefined_when_nothing_is_called_positive():
    m = M.threshold_metrics([0, 1, 1], [0.1, 0.2, 0.3], threshold=0.9)
    assert np.isnan(m["ppv"]) and m["sensitivity"] == 0 and m["specificity"] == 1


def test_confusion_matrix_and_balanced_accuracy_match_sklearn_for_three_classes():
    rng = np.random.default_rng(8)
    y, p = rng.integers(0, 3, 200), rng.integers(0, 3, 200)
    np.testing.assert_array_equal(M.confusion_matrix(y, p), skm.confusion_matrix(y, p))
    assert M.balanced_accuracy(y, p) == pytest.approx(skm.balanced_accuracy_score(y, p))


def test_choose_threshold_rules_do_what_they_promise():
    y, s = _scores(9)
    t_sens = M.choose_threshold(y, s, "sensitivity", target=0.9)
    assert M.threshold_metrics(y, s, t_sens)["sensitivity"] >= 0.9
    assert M.threshold_metrics(y, s, t_sens + 1e-9)["sensitivity"] < 0.9 or t_sens == s.max()
    fpr, tpr, thr = skm.roc_curve(y, s)
    t_youden = M.choose_threshold(y, s, "youden")
    m = M.threshold_metrics(y, s, t_youden)
    assert m["sensitivity"] + m["specificity"] - 1 == pytest.approx(np.max(tpr - fpr))
    t_acc = M.choose_threshold(y, s, "accuracy")
    best = max(M.threshold_metrics(y, s, t)["accuracy"] for t in np.unique(s))
    assert M.threshold_metrics(y, s, t_acc)["accuracy"] == pytest.approx(best)


def test_ppv_npv_at_prevalence_reproduce_the_counts_at_the_sets_own_prevalence():
    y, s = _scores(10)
    m = M.threshold_metrics(y, s, 0.5)
    ppv, npv = M.ppv_npv_at_prevalence(m["sensitivity"], m["specificity"], m["prevalence"])
    assert ppv == pytest.approx(m["ppv"]) and npv == pytest.approx(m["npv"])
    low, _ = M.ppv_npv_at_prevalence(m["sensitivity"], m["specificity"], 0.05)
    assert low < ppv          # rarer disease, more of the positives are false alarms


def test_calibration_curve_matches_sklearn_and_ece_matches_torchmetrics():
    from torchmetrics.functional.classification import binary_calibration_error

    y, p = _scores(11, n=500)
    result = M.calibration_curve(y, p, n_bins=10)
    prob_true, prob_pred = sk_calibration_curve(y, p, n_bins=10, strategy="uniform")
    filled = result.counts > 0
    np.testing.assert_allclose(result.fraction_positive[filled], prob_true)
    np.testing.assert_allclose(result.mean_predicted[filled], prob_pred)
    expected = float(binary_calibration_error(torch.tensor(p), torch.tensor(y), n_bins=10, norm="l1"))
    assert result.ece == pytest.approx(expected, abs=1e-6)
    assert result.counts.sum() == y.size


def test_class_weights_and_pos_weight_balance_the_classes():
    y = np.array([0] * 10 + [1] * 90)
    np.testing.assert_allclose(M.class_weights(y), compute_class_weight("balanced", classes=np.array([0, 1]), y=y))
    assert M.pos_weight(y) == pytest.approx(10 / 90)
    w = M.class_weights(y)
    assert w[0] * 10 == pytest.approx(w[1] * 90)


def test_balanced_sampler_draws_each_class_about_equally_and_is_seeded():
    y = np.array([0] * 20 + [1] * 180)
    drawn = y[list(M.balanced_sampler(y, seed=1, num_samples=4000))]
    assert 0.45 < drawn.mean() < 0.55
    assert list(M.balanced_sampler(y, seed=1)) == list(M.balanced_sampler(y, seed=1))


def test_dice_and_iou_match_sklearn_on_flattened_masks():
    rng = np.random.default_rng(12)
    a, b = rng.random((4, 16, 16)) > 0.6, rng.random((4, 16, 16)) > 0.5
    assert M.dice(a, b) == pytest.approx(skm.f1_score(b.ravel(), a.ravel()))
    assert M.iou(a, b) == pytest.approx(skm.jaccard_score(b.ravel(), a.ravel()))
    per = M.dice(a, b, per_image=True)
    assert per.shape == (4,)
    assert per[2] == pytest.approx(skm.f1_score(b[2].ravel(), a[2].ravel()))
    assert M.iou(a, b) <= M.dice(a, b)


def test_dice_of_two_empty_masks_is_perfect():
    empty = np.zeros((8, 8), bool)
    assert M.dice(empty, empty) == 1.0 and M.iou(empty, empty) == 1.0


def test_psnr_matches_skimage():
    from skimage.metrics import peak_signal_noise_ratio

    rng = np.random.default_rng(13)
    ref = rng.random((32, 32))
    noisy = np.clip(ref + rng.normal(0, 0.05, ref.shape), 0, 1)
    assert M.psnr(noisy, ref, data_range=1.0) == pytest.approx(peak_signal_noise_ratio(ref, noisy, data_range=1.0))
    assert M.psnr(ref, ref) == float("inf")


@pytest.mark.parametrize("data_range,size", [(1.0, 28), (255.0, 40)])
def test_ssim_matches_skimage_gaussian_window(data_range, size):
    from skimage.metrics import structural_similarity

    rng = np.random.default_rng(14)
    yy, xx = np.mgrid[:size, :size]
    ref = data_range * (0.5 + 0.4 * np.sin(xx / 4) * np.cos(yy / 5))
    noisy = np.clip(ref + rng.normal(0, 0.08 * data_range, ref.shape), 0, data_range)
    expected = structural_similarity(ref, noisy, data_range=data_range, gaussian_weights=True, sigma=1.5,
                                     use_sample_covariance=False)
    assert M.ssim(noisy, ref, data_range=data_range) == pytest.approx(expected, abs=1e-3)
    assert M.ssim(ref, ref, data_range=data_range) == pytest.approx(1.0)


def test_ssim_of_a_batch_is_the_mean_of_its_images_and_matches_torchmetrics():
    from torchmetrics.functional.image import structural_similarity_index_measure

    rng = np.random.default_rng(15)
    ref = rng.random((3, 1, 32, 32))
    noisy = np.clip(ref + rng.normal(0, 0.1, ref.shape), 0, 1)
    each = [M.ssim(noisy[i, 0], ref[i, 0]) for i in range(3)]
    assert M.ssim(noisy, ref) == pytest.approx(np.mean(each))
    # torchmetrics averages its SSIM map over reflect-padded borders too; skimage and radlab
    # leave out the 5-pixel border where the window does not fit, so compare the interior
    _, full = structural_similarity_index_measure(torch.tensor(noisy), torch.tensor(ref), data_range=1.0,
                                                  return_full_image=True)
    assert M.ssim(noisy, ref) == pytest.approx(float(full[..., 5:-5, 5:-5].mean()), abs=1e-3)


def test_test_set_guard_warns_on_the_second_look_and_logs_every_look(tmp_path):
    guard = M.TestSetGuard(tmp_path / "run1")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert guard.look("final evaluation") == 1
    with pytest.warns(M.TestSetWarning, match="look #2"):
        assert guard.look("tried another threshold") == 2
    log = json.loads((tmp_path / "run1" / "test_set_looks.json").read_text())
    assert [entry["look"] for entry in log] == [1, 2]
    assert log[1]["purpose"] == "tried another threshold"
    # a fresh guard on the same run folder (e.g. the notebook re-run) still counts
    with pytest.warns(M.TestSetWarning):
        M.TestSetGuard(tmp_path / "run1").look()


def test_test_set_guard_final_acknowledges_a_repeat_but_not_a_look_after_the_final(tmp_path):
    guard = M.TestSetGuard(tmp_path / "looks.json")
    guard.look("first")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        guard.look("re-running the final report", final=True)
    with pytest.warns(M.TestSetWarning, match="after a look marked final"):
        guard.look("one more", final=True)
    assert [look["final"] for look in guard.looks] == [False, True, True]


def test_test_set_guard_names_the_file_when_the_log_is_corrupt(tmp_path):
    path = tmp_path / "looks.json"
    path.write_text("{not json")
    with pytest.raises(DataError, match="looks.json"):
        M.TestSetGuard(path).look()


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(DataError, match="labels must be 0 or 1"):
        M.roc_auc([0, 2], [0.1, 0.2])
    with pytest.raises(DataError, match="only one class"):
        M.roc_auc([1, 1], [0.1, 0.2])
    with pytest.raises(DataError, match="3 labels but 2 scores"):
        M.threshold_metrics([0, 1, 1], [0.1, 0.2], 0.5)


# ---------------------------------------------------------------- the one AUC (train, attacks, reference use it)

def test_the_one_auc_is_the_share_of_correctly_ordered_pairs_with_ties_counting_half():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    score = np.round(rng.random(200) + 0.3 * y, 1)  # rounding makes ties
    pos, neg = score[y == 1], score[y == 0]
    pairs = (pos[:, None] > neg[None, :]).mean() + 0.5 * (pos[:, None] == neg[None, :]).mean()
    assert M.roc_auc(y, score) == pytest.approx(pairs)
    assert M.roc_auc(y[:, None], score[:, None]) == pytest.approx(pairs), "a column of labels and scores is binary"


def test_the_one_auc_on_one_class_raises_by_default_and_gives_nan_when_asked():
    with pytest.raises(DataError, match="only one class"):
        M.roc_auc(np.ones(5), np.arange(5.0))
    assert np.isnan(M.roc_auc(np.ones(5), np.arange(5.0), undefined="nan"))
    assert np.isnan(M.roc_auc([0, 1, 1], [0.1, np.nan, 0.3], undefined="nan")), "diverged scores: NaN, not a crash"
    with pytest.raises(DataError, match="NaN"):
        M.roc_auc([0, 1, 1], [0.1, np.nan, 0.3])
    with pytest.raises(ValueError, match="undefined"):
        M.roc_auc([0, 1], [0.1, 0.2], undefined="zero")


def test_the_one_auc_is_the_macro_mean_over_findings_for_multi_label_data_like_sklearn():
    rng = np.random.default_rng(1)
    y = (rng.random((150, 4)) < [0.2, 0.4, 0.5, 0.7]).astype(int)
    s = rng.normal(size=(150, 4)) + y * [0.5, 1.0, 1.5, 2.0]
    assert M.roc_auc(y, s) == pytest.approx(skm.roc_auc_score(y, s, average="macro"), abs=1e-12)
    y[:, 2] = 1  # one finding never absent: its AUC is undefined
    with pytest.raises(DataError, match="only one class"):
        M.roc_auc(y, s)
    expected = np.mean([skm.roc_auc_score(y[:, k], s[:, k]) for k in (0, 1, 3)])
    assert M.roc_auc(y, s, undefined="nan") == pytest.approx(expected, abs=1e-12), "undefined findings are skipped"


def test_the_one_auc_is_one_vs_rest_for_multi_class_scores_like_sklearn():
    rng = np.random.default_rng(2)
    y = rng.integers(0, 3, 240)
    logits = rng.normal(size=(240, 3)) + 1.5 * np.eye(3)[y]
    p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    assert M.roc_auc(y, p) == pytest.approx(skm.roc_auc_score(y, p, multi_class="ovr"), abs=1e-12)
    two = p[:, :2] / p[:, :2].sum(1, keepdims=True)
    y2 = (y == 1).astype(int)
    assert M.roc_auc(y2, np.stack([1 - two[:, 1], two[:, 1]], 1)) == pytest.approx(skm.roc_auc_score(y2, two[:, 1]))


def test_training_attacks_and_reference_use_the_one_auc():
    import inspect

    from radlab import attacks, reference, train

    assert train.roc_auc is M.roc_auc and attacks.roc_auc is M.roc_auc and reference.roc_auc is M.roc_auc
    for module in (train, attacks, reference):
        assert "roc_auc_score" not in inspect.getsource(module) and "rank_sum" not in inspect.getsource(module)


@pytest.mark.parametrize("shape, levels", [((1, 7), 3), ((40, 200), 10), ((3, 1000), 1000), ((5, 1), 2),
                                           ((200, 2), 2)])
def test_average_ranks_are_scipys_rankdata(shape, levels):
    """The AUC's ranks, ties averaged, computed without importing scipy.stats (a lab kernel's start)."""
    from scipy.stats import rankdata
    rng = np.random.default_rng(sum(shape))
    tied = rng.integers(0, levels, shape).astype(np.float64)
    assert np.array_equal(M.average_ranks(tied), rankdata(tied, axis=1))
    spread = rng.normal(size=shape)
    assert np.allclose(M.average_ranks(spread), rankdata(spread, axis=1))


def test_importing_the_metrics_leaves_scipy_stats_alone():
    import subprocess
    import sys
    probe = "import sys, radlab.metrics; print('scipy.stats' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          check=True).stdout.strip() == "False"
