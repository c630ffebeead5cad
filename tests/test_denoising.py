"""Lab 11's core: dose pairs, classical filters, PSNR/SSIM by dose, and the planted lesion's contrast and CNR."""
from __future__ import annotations

import numpy as np
import pytest

from radlab import denoising as D
from radlab.data.ct_dose import Scanner
from radlab.errors import DataError

SCANNER = Scanner(n_angles=64)


@pytest.fixture(scope="module")
def data() -> D.DenoisingData:
    return D.make_denoising_data(n_train=4, n_val=2, n_test=3, doses=(1.0, 0.25, 0.03125), scanner=SCANNER, seed=0)


def test_pairs_have_the_shapes_and_the_doses_asked_for(data):
    assert data.train_low.shape == (8, 64, 64) and data.train_ref.shape == (8, 64, 64)
    assert set(data.train_dose) <= {1.0, 0.25, 0.03125}
    assert data.test_low.shape == (3, 3, 64, 64) and data.test_ref.shape == (3, 64, 64)
    noise = D.noise_std_by_dose(data)
    assert noise[0] < noise[1] < noise[2]


def test_the_unit_scale_is_the_soft_tissue_window():
    assert D.hu_to_unit(np.array([-160.0, 40.0, 240.0, -1000.0])) == pytest.approx([0, 0.5, 1, 0])
    assert D.unit_to_hu(np.array([0.0, 0.5, 1.0])) == pytest.approx([-160, 40, 240])


def test_a_tuned_gaussian_beats_the_raw_scan_at_the_lowest_dose_and_scores_line_up(data):
    sigma = D.tune_gaussian(data.val_low, data.val_ref)
    table = D.evaluate_by_dose(data, {"low_dose": None, "gaussian": D.gaussian_denoiser(sigma)})
    assert table.psnr["low_dose"][0] > table.psnr["low_dose"][-1], "less dose, lower PSNR"
    assert table.psnr["gaussian"][-1] > table.psnr["low_dose"][-1]
    assert table.best("psnr", -1) == "gaussian"
    assert all(0 < s <= 1 for s in table.ssim["low_dose"])
    assert "PSNR (dB) / SSIM by dose" in str(table)


def test_non_local_means_lowers_the_noise_of_a_low_dose_slice(data):
    low, ref = data.test_low[-1], data.test_ref
    assert D.mean_psnr(D.nl_means(low), ref) > D.mean_psnr(low, ref)


def test_a_planted_lesion_adds_its_contrast_in_soft_tissue_only_inside_its_mask(data):
    obj = data.test_objects[0]
    row, col = D.lesion_site(obj)
    assert D.SOFT_TISSUE_HU[0] < obj[row, col] < D.SOFT_TISSUE_HU[1]
    image, mask = D.plant_lesion(obj, radius_px=2, contrast_hu=30)
    assert mask.sum() == 13 and mask[row, col]
    assert np.allclose(image[mask] - obj[mask], 30) and np.array_equal(image[~mask], obj[~mask])
    with pytest.raises(DataError):
        D.plant_lesion(obj, radius_px=50, contrast_hu=30)


def test_contrast_and_cnr_of_a_known_image():
    image = np.zeros((20, 20), dtype=np.float32)
    mask = np.zeros_like(image, dtype=bool)
    mask[8:12, 8:12] = True
    image[mask] = 10.0
    background = ~mask
    image[background] = np.where(np.arange(background.sum()) % 2, 2.0, -2.0)
    contrast, cnr = D.contrast_and_cnr(image, mask, background)
    assert contrast == pytest.approx(10.0, abs=0.1) and cnr == pytest.approx(5.0, rel=0.05)


def test_a_strong_blur_erases_a_one_pixel_lesion_that_the_raw_scan_keeps(data):
    methods = {"low_dose": None, "blur": D.gaussian_denoiser(3.0)}
    case = D.lesion_case(data.test_objects[0], methods, radius_px=1, contrast_hu=40, dose=1.0, scanner=SCANNER,
                         repeats=2, seed=0)
    assert case.contrast["reference"] > 10
    assert case.kept("low_dose") > 0.6 and not case.erased_by("low_dose")
    assert case.erased_by("blur") and D.most_erased([case], "blur") is case
    assert case.cnr["reference"] == float("inf") and set(case.images_hu) == {"reference", "low_dose", "blur"}


def test_both_cnns_train_with_fit_and_denoise_whole_slices(data):
    for residual in (False, True):
        result = D.train_denoiser(data, residual=residual, epochs=1, base=4, seed=0)
        assert len(result.history) == 1 and result.history.metric_name == "PSNR"
        out = D.cnn_denoiser(result.model)(data.test_low[0])
        assert out.shape == data.test_low[0].shape and np.all(np.isfinite(out))


def test_the_dose_figures_noise_panel_is_a_picture_of_the_noise_in_rdbu():
    """The noise panel is an image trace (so a dose step only swaps pictures in the browser): its
    colours are plotly's RdBu at ±NOISE_RANGE_HU, as the heatmap's zmin/zmax were, and its hover
    values are the noise itself."""
    from radlab.viz.denoising import NOISE_RANGE_HU, dose_panels
    from radlab.viz.images import _palette, decode_source, grey_levels

    rng = np.random.default_rng(0)
    reference = rng.normal(40, 5, (64, 64)).astype(np.float32)
    image = reference + rng.normal(0, 60, (64, 64)).astype(np.float32)
    traces, titles = dose_panels(image, reference, reference, dose=0.25, method="none", noise_std_hu=60)
    noise = traces[1]
    assert noise.type == "image" and noise.name == "noise" and titles[1].startswith("noise")
    expected = _palette("RdBu")[grey_levels(image - reference, 0.0, 2 * NOISE_RANGE_HU)]
    assert np.array_equal(decode_source(noise.source), expected)
    assert np.allclose(np.asarray(noise.customdata, dtype=float), image - reference, atol=0.5)
    assert noise.hovertemplate.endswith(" HU<extra></extra>")
