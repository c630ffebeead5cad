"""The CT dose simulation: HU ↔ attenuation, projection, Poisson photons, FBP; noise ∝ 1/sqrt(dose)."""
from __future__ import annotations

import numpy as np
import pytest

from radlab.data.ct_dose import Scanner, dose_series, hu_to_mu, mu_to_hu, water_cylinder
from radlab.errors import DataError


def _inside(size: int, radius: float) -> np.ndarray:
    yy, xx = np.mgrid[:size, :size] - (size - 1) / 2
    return np.hypot(yy, xx) < radius


def test_hu_and_attenuation_convert_both_ways_and_air_attenuates_nothing():
    hu = np.array([-1000.0, 0.0, 40.0, 1000.0])
    mu = hu_to_mu(hu)
    assert mu[0] == 0.0 and mu[1] == pytest.approx(0.0192) and mu[3] == pytest.approx(2 * 0.0192)
    assert mu_to_hu(mu) == pytest.approx(hu, abs=1e-3)


def test_a_scan_without_quantum_noise_reconstructs_the_object():
    water = water_cylinder(64)
    recon = Scanner().scan(water, dose=None)
    inside = _inside(64, 18)
    assert abs(float(recon[inside].mean())) < 5.0, "water stays at 0 HU"
    assert float(np.abs(recon[inside]).max()) < 25.0
    outside = ~_inside(64, 30)
    assert float(np.abs(recon[outside] + 1000).mean()) < 30.0, "air stays at -1000 HU"


def test_noise_in_water_falls_as_one_over_the_square_root_of_the_dose():
    series = dose_series(water_cylinder(64), doses=(1.0, 0.25, 0.0625), seed=3)
    noise = series.noise_std_hu(_inside(64, 18))
    assert noise[0] < noise[1] < noise[2]
    assert noise[1] / noise[0] == pytest.approx(2.0, rel=0.2)
    assert noise[2] / noise[1] == pytest.approx(2.0, rel=0.2)


def test_the_same_seed_gives_the_same_scan_and_another_seed_another_noise():
    water = water_cylinder(32)
    scanner = Scanner(n_angles=48)
    a, b = scanner.scan(water, 0.1, seed=1), scanner.scan(water, 0.1, seed=1)
    c = scanner.scan(water, 0.1, seed=2)
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_starved_rays_are_clamped_instead_of_giving_infinite_attenuation():
    scanner = Scanner(photons=5.0)
    sino = scanner.project(water_cylinder(32) + 2000.0)   # dense: almost no photons get through
    noisy = scanner.noisy_sinogram(sino, 1.0, np.random.default_rng(0))
    assert np.all(np.isfinite(noisy)) and noisy.max() == pytest.approx(-np.log(0.5 / 5.0))


@pytest.mark.parametrize("dose", [0.0, -1.0, float("nan"), 1e6, "full"])
def test_a_dose_that_is_not_a_fraction_of_full_is_refused(dose):
    with pytest.raises(DataError):
        Scanner().scan(water_cylinder(16), dose)


def test_a_slice_that_is_not_square_or_not_finite_is_refused():
    with pytest.raises(DataError, match="square"):
        Scanner().project(np.zeros((16, 20)))
    bad = water_cylinder(16)
    bad[3, 3] = np.nan
    with pytest.raises(DataError, match="NaN"):
        Scanner().project(bad)
