"""Lab 10's core: the classical baseline, the losses, per-slice scores by lesion size, and DICOM SEG."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from radlab import segmentation as S
from radlab.errors import DataError


def _lungs_with_a_nodule(size: int = 48, radius: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Air around a body (40 HU) with two lungs (-850 HU); a nodule (20 HU) in the left lung, a vessel dot in the right."""
    yy, xx = np.mgrid[:size, :size]
    image = np.full((size, size), -1000.0, dtype=np.float32)
    image[np.hypot(yy - 24, xx - 24) < 22] = 40.0
    image[np.hypot(yy - 24, xx - 14) < 8] = -850.0
    image[np.hypot(yy - 24, xx - 34) < 8] = -850.0
    nodule = np.hypot(yy - 24, xx - 14) < radius
    image[nodule] = 20.0
    image[24, 34] = 30.0   # a vessel seen end-on: one pixel
    return image, nodule


def test_the_classical_baseline_finds_the_nodule_and_drops_the_vessel():
    image, nodule = _lungs_with_a_nodule()
    assert S.lung_mask(image)[24, 14], "holes (the nodule) are part of the lungs"
    found = S.ClassicalSegmenter(min_size=5).segment(image)
    assert found[nodule].all() and not found[24, 34] and found.sum() == nodule.sum()
    assert S.ClassicalSegmenter(min_size=1).segment(image)[24, 34], "without the size rule the vessel stays"


def test_tuning_picks_the_size_rule_that_scores_best_on_the_given_slices():
    image, nodule = _lungs_with_a_nodule()
    tuned = S.tune_classical(image[None], nodule[None], sizes=(1, 5))
    assert tuned.min_size == 5


def test_predicting_background_everywhere_fools_bce_but_not_dice():
    _, nodule = _lungs_with_a_nodule(64, 3)
    losses = S.loss_of_empty_prediction(nodule)
    assert losses["dice"] == pytest.approx(1.0, abs=0.01) and losses["bce"] < 0.1
    assert losses["pixel_accuracy"] == pytest.approx(1 - nodule.sum() / nodule.size)


def test_soft_dice_loss_is_zero_for_a_perfect_confident_prediction():
    target = torch.zeros(1, 1, 8, 8)
    target[..., 2:5, 2:5] = 1
    assert float(S.SoftDiceLoss(smooth=0)(20 * (2 * target - 1), target)) < 1e-6
    assert float(S.SoftDiceLoss(smooth=0)(-20 * (2 * target - 1), target)) == pytest.approx(1.0, abs=1e-6)


def test_scores_per_slice_group_lesions_by_size_and_count_false_pixels():
    true = np.zeros((3, 16, 16), dtype=bool)
    true[0, 2:4, 2:4] = True            # 4 px: small
    true[1, 2:8, 2:8] = True            # 36 px: large
    pred = true.copy()
    pred[0] = False                     # the small one missed
    pred[2, 0, 0] = True                # a speck on the lesion-free slice
    scores = S.score_masks(pred, true, np.zeros((3, 16, 16)), "test")
    assert list(scores.lesion_area) == [4, 36, 0] and list(scores.false_positive_pixels) == [0, 0, 1]
    assert scores.by_size()["small"] == (0.0, 1) and scores.by_size()["large"] == (1.0, 1)
    assert scores.worst_size_group() == "small" and scores.mean_dice() == 0.5 and scores.clean_negatives() == 0.0
    assert "by size" in str(scores)


def test_a_lesion_brighter_than_the_lung_around_it_has_a_positive_contrast():
    image, nodule = _lungs_with_a_nodule()
    assert S.lesion_contrast_hu(image, nodule) == pytest.approx(870.0)
    assert np.isnan(S.lesion_contrast_hu(image, np.zeros_like(nodule)))


def test_mean_dice_against_threshold_is_computed_on_slices_with_a_lesion():
    true = np.zeros((2, 8, 8), dtype=bool)
    true[0, 2:4, 2:4] = True
    prob = np.where(true, 0.7, 0.2).astype(np.float32)
    curve = S.dice_vs_threshold(prob, true, [0.1, 0.5, 0.9])
    assert curve[1] == 1.0 and curve[2] == 0.0 and curve[0] < 1.0


def test_single_loss_training_runs_and_refuses_an_unknown_loss():
    data = S.load_segmentation_data(n_patients=12, seed=1)
    run = S.train_with_loss(S.make_unet(base=2, depth=1), data, "bce", epochs=1, batch_size=8)
    assert run.loss == "bce" and len(run.val_dice) == 1 and not run.model.training
    with pytest.raises(ValueError, match="use one of"):
        S.train_with_loss(S.make_unet(base=2, depth=1), data, "focal", epochs=1)


def test_the_unet_starts_at_the_prior_probability():
    model = S.make_unet(base=2, depth=1, prior=0.01).eval()
    with torch.no_grad():
        out = torch.sigmoid(model(torch.zeros(1, 1, 16, 16)))
    assert float(out.mean()) == pytest.approx(0.01, rel=0.5)


def test_a_dicom_seg_is_read_and_other_dicom_is_refused():
    from pydicom.data import get_testdata_file

    ct = get_testdata_file("CT_small.dcm")
    with pytest.raises(DataError, match="not a segmentation"):
        S.read_dicom_seg(ct)
    path = S.sample_dicom_seg()
    if path is None:
        pytest.skip("pydicom-data (liver.dcm) is not installed")
    seg = S.read_dicom_seg(path)
    assert seg.frames.ndim == 3 and seg.frames.dtype == bool and seg.frames.any()
    assert len(seg.frame_segments) == len(seg.frames) and set(seg.frame_segments) <= set(seg.segment_labels)
    assert np.all(seg.area_mm2() > 0)
