"""Chapter 10 core: occlusion sensitivity, simulated scanners vs an adversarial attack, and the exercises."""
import numpy as np
import pytest
import torch
from scipy.ndimage import gaussian_filter

from radlab.course.ch10_challenges import exercises
from radlab.models import GapCNN
from radlab.occlusion import occlusion_map
from radlab.shift import ScannerProfile, acquire, shift_versus_attack


def _bright_spot_model(batch):
    """A black box: the score is the mean brightness of rows 10-14, columns 20-24."""
    return batch[:, 10:15, 20:25].mean(axis=(1, 2))


def test_occlusion_finds_the_evidence_of_a_black_box():
    image = np.zeros((32, 32), dtype=np.float32)
    image[10:15, 20:25] = 1.0
    heat = occlusion_map(_bright_spot_model, image, patch=4, stride=2, fill=0.0)
    peak = np.unravel_index(heat.argmax(), heat.shape)
    assert 10 <= peak[0] < 15 and 20 <= peak[1] < 25
    assert heat[:5, :5].max() == pytest.approx(0.0)          # hiding empty background changes nothing
    assert heat.shape == image.shape


def test_occlusion_with_a_torch_model_and_blur_fill():
    torch.manual_seed(0)
    model = GapCNN(width=4, n_blocks=2).eval()
    image = np.random.default_rng(0).random((24, 24)).astype(np.float32)
    heat = occlusion_map(model, image, patch=6, stride=6, fill="blur")
    assert heat.shape == (24, 24) and np.isfinite(heat).all()
    with pytest.raises(ValueError):
        occlusion_map(model, image, patch=30)
    with pytest.raises(ValueError):
        occlusion_map(model, image, fill="zeros")


def test_acquire_matches_scipy_and_gamma():
    rng = np.random.default_rng(1)
    x = rng.random((2, 1, 16, 16)).astype(np.float32)
    blurred = acquire(x, ScannerProfile("soft", blur_px=1.0)).numpy()
    np.testing.assert_allclose(blurred, np.clip(gaussian_filter(x.astype(np.float64), (0, 0, 1.0, 1.0)), 0, 1), atol=1e-6)
    np.testing.assert_allclose(acquire(x, ScannerProfile("gamma", gamma=2.0)).numpy(), x ** 2, atol=1e-6)
    noisy = acquire(x, ScannerProfile("noisy", noise_sd=0.05), seed=3).numpy()
    assert 0.0 <= noisy.min() and noisy.max() <= 1.0 and not np.allclose(noisy, x)
    with pytest.raises(ValueError):
        acquire(x[:, 0], ScannerProfile("bad"))


def test_shift_versus_attack_rows():
    torch.manual_seed(0)
    model = GapCNN(width=4, n_blocks=2).eval()
    x = torch.rand(8, 1, 16, 16)
    y = np.array([0, 1] * 4)
    rows = shift_versus_attack(model, x, y, [ScannerProfile("B", noise_sd=0.1)], eps=0.01)
    assert [r.condition.split()[0] for r in rows] == ["as", "B", "adversarial"]
    assert rows[0].mean_abs_change == 0.0
    assert rows[-1].mean_abs_change <= 0.01 + 1e-6                 # FGSM never moves a pixel more than eps


def test_ch10_exercises_accept_their_answer_and_refuse_a_typical_mistake():
    ex = exercises()
    assert len(ex) >= 3
    for q in ex:
        assert q.check(q.expected(), record=False).correct
    assert not ex.black_box.check("Grad-CAM", record=False).correct
    assert not ex.ppv_screening.check(0.9, record=False).correct
