"""Radiomics features (Chapter 2): the hand-written GLCM and statistics against scikit-image and scipy."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from skimage.feature import graycomatrix, graycoprops

from radlab import features as f
from radlab.errors import DataError

ANGLES = {"0°": 0.0, "45°": np.pi / 4, "90°": np.pi / 2, "135°": 3 * np.pi / 4}


@pytest.mark.parametrize("symmetric", [True, False])
@pytest.mark.parametrize("direction", list(f.DIRECTIONS))
def test_hand_written_glcm_equals_scikit_image_in_every_direction(direction, symmetric):
    g = np.random.default_rng(3).integers(0, 8, (23, 17))
    ours = f.glcm(g, f.DIRECTIONS[direction], levels=8, symmetric=symmetric, normed=False)
    theirs = graycomatrix(g, [1], [ANGLES[direction]], levels=8, symmetric=symmetric, normed=False)[:, :, 0, 0]
    np.testing.assert_array_equal(ours, theirs)


def test_glcm_properties_equal_scikit_image_graycoprops():
    g = np.random.default_rng(4).integers(0, 6, (30, 30))
    p = graycomatrix(g, [1], [0], levels=6, symmetric=True, normed=True)
    ours = f.glcm_properties(f.glcm(g, (0, 1), levels=6))
    for name in ("contrast", "homogeneity", "energy", "correlation"):
        assert ours[name] == pytest.approx(float(graycoprops(p, name)[0, 0]), rel=1e-9)


def test_glcm_mask_counts_only_pairs_inside_the_region():
    g = np.array([[0, 1, 1], [2, 2, 2], [3, 3, 3]])
    mask = np.array([[1, 1, 0], [0, 0, 0], [1, 1, 1]], dtype=bool)
    counts = f.glcm(g, (0, 1), levels=4, mask=mask, symmetric=False, normed=False)
    assert counts.sum() == 3 and counts[0, 1] == 1 and counts[3, 3] == 2


def test_intensity_features_match_scipy_statistics():
    v = np.random.default_rng(5).gamma(2.0, 30.0, 500) - 50
    out = f.intensity_features(v)
    assert out["mean"] == pytest.approx(v.mean())
    assert out["skewness"] == pytest.approx(stats.skew(v))
    assert out["kurtosis"] == pytest.approx(stats.kurtosis(v))
    assert out["p90"] == pytest.approx(np.percentile(v, 90))


def test_circularity_is_near_one_for_a_disc_and_near_pi_over_four_for_a_square():
    yy, xx = np.mgrid[:101, :101]
    disc = (yy - 50) ** 2 + (xx - 50) ** 2 <= 40**2
    square = np.zeros((101, 101), bool)
    square[20:80, 20:80] = True
    # a pixelated outline is longer than the true one (regionprops' perimeter): a disc scores ~0.9, not 1
    assert 0.88 < f.shape_features(disc)["circularity"] <= 1.0
    assert f.shape_features(disc)["circularity"] > f.shape_features(square)["circularity"]
    assert f.shape_features(square)["circularity"] == pytest.approx(np.pi / 4, abs=0.05)
    assert f.shape_features(square)["solidity"] == pytest.approx(1.0)


def test_empty_mask_and_bad_levels_raise_data_errors():
    with pytest.raises(DataError):
        f.shape_features(np.zeros((8, 8), bool))
    with pytest.raises(DataError):
        f.glcm(np.full((4, 4), 9), levels=4)
    with pytest.raises(DataError):
        f.quantize(np.zeros(3), lo=1, hi=0)


def test_quantize_maps_the_window_onto_levels():
    out = f.quantize(np.array([-2000, -1000, -400, 199, 5000]), lo=-1000, hi=200, levels=16)
    assert out.tolist() == [0, 0, 8, 15, 15]


def test_lesion_crops_are_centred_on_the_lesion():
    images = np.zeros((1, 40, 40), np.float32)
    masks = np.zeros((1, 40, 40), bool)
    masks[0, 2:7, 30:35] = True          # near the edge: the crop pads
    images[0][masks[0]] = 1.0
    crops, crop_masks = f.lesion_crops(images, masks, size=16)
    assert crops.shape == (1, 16, 16) and crop_masks[0, 8, 8]
    assert crop_masks.sum() == masks.sum()


def test_phantom_head_to_head_scores_both_methods_on_the_same_test_patients():
    result = f.handcrafted_vs_cnn_phantoms(40, epochs=1, seed=0)
    assert 0.0 <= result.auc_cnn <= 1.0
    assert result.auc_features > 0.8        # shape features separate spiculated from round nodules
    assert len(result.feature_names) == len(result.coefficients)


def test_pneumonia_comparison_is_skipped_when_the_data_set_is_not_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("RADLAB_DATA", str(tmp_path))
    assert f.handcrafted_vs_cnn_pneumonia(50, epochs=1) is None
