"""Simulate a CT scan at a chosen dose: HU → attenuation → sinogram → Poisson photons → FBP → HU.

Lowering the tube current lowers the number of photons ``I0`` each detector ray starts with.
The photons that get through the patient, ``I0·exp(-∫μ dl)``, are counted: a Poisson
draw, so the relative error of a count is ``1/sqrt(count)``. Taking ``-log(count/I0)`` gives
back a noisy line integral, and filtered backprojection (FBP) turns the noisy sinogram into
a noisy image. The noise is therefore not white pixel noise added to the image: it is
correlated, largest behind dense structures, and at very low dose rays through bone and
metal get almost no photons (photon starvation), which FBP smears into **streaks**.
Noise in HU grows as ``1/sqrt(dose)``: a quarter of the dose doubles it.

Taught in Lab 11 (low-dose CT denoising). Uses scikit-image's ``radon`` / ``iradon``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
from skimage.transform import iradon, radon

from radlab.errors import DataError

#: Linear attenuation of water at a typical effective CT energy (~70 keV), per millimetre.
MU_WATER_PER_MM = 0.0192
#: Field of view the phantom image spans (a chest fits in 400 mm).
FIELD_OF_VIEW_MM = 400.0
#: Photons per detector ray at full dose: full-dose noise of ~10 HU in soft tissue at 64 px.
FULL_DOSE_PHOTONS = 3.0e5
#: Dose levels the lab precomputes (fractions of the full dose).
DOSE_FRACTIONS = (1.0, 0.5, 0.25, 0.125, 0.0625, 0.03125)


def hu_to_mu(image_hu: np.ndarray, mu_water: float = MU_WATER_PER_MM) -> np.ndarray:
    """Hounsfield units → linear attenuation (per mm): HU = 1000·(μ − μ_water)/μ_water; air (μ = 0) is −1000."""
    return np.clip(mu_water * (1.0 + np.asarray(image_hu, dtype=np.float64) / 1000.0), 0.0, None)


def mu_to_hu(mu: np.ndarray, mu_water: float = MU_WATER_PER_MM) -> np.ndarray:
    """Linear attenuation (per mm) → Hounsfield units (the inverse of :func:`hu_to_mu`)."""
    return (1000.0 * (np.asarray(mu, dtype=np.float64) / mu_water - 1.0)).astype(np.float32)


def _inside_circle(size: int) -> np.ndarray:
    """The scanner's field of view: the circle ``radon(circle=True)`` reconstructs (scikit-image's definition)."""
    yy, xx = np.mgrid[:size, :size]
    return (yy - size // 2) ** 2 + (xx - size // 2) ** 2 <= (size // 2) ** 2


@dataclass(frozen=True)
class Scanner:
    """A parallel-beam CT scanner: ``n_angles`` views over 180°, ``photons`` per ray at full dose."""

    n_angles: int = 96
    photons: float = FULL_DOSE_PHOTONS
    field_of_view_mm: float = FIELD_OF_VIEW_MM
    filter_name: str = "ramp"

    def angles(self) -> np.ndarray:
        return np.linspace(0.0, 180.0, self.n_angles, endpoint=False)

    def pixel_mm(self, size: int) -> float:
        return self.field_of_view_mm / size

    def project(self, image_hu: np.ndarray) -> np.ndarray:
        """The noise-free sinogram of one slice: line integrals ∫μ dl (dimensionless), (detectors, angles)."""
        image_hu = _check_slice(image_hu)
        mu = hu_to_mu(image_hu)
        mu[~_inside_circle(image_hu.shape[0])] = 0.0   # the scanner sees air outside its field
        return radon(mu, self.angles(), circle=True) * self.pixel_mm(image_hu.shape[0])

    def reconstruct(self, sinogram: np.ndarray, size: int) -> np.ndarray:
        """Filtered backprojection of line integrals back to an image in HU."""
        mu = iradon(sinogram / self.pixel_mm(size), self.angles(), output_size=size, circle=True,
                    filter_name=self.filter_name)
        hu = mu_to_hu(mu)
        hu[~_inside_circle(size)] = -1000.0
        return hu

    def noisy_sinogram(self, sinogram: np.ndarray, dose: float, rng: np.random.Generator) -> np.ndarray:
        """Count Poisson photons at ``dose`` (fraction of full) and take -log(count / I0) again.

        A ray that counts zero photons is given half a photon (as scanners clamp it): the log
        would be infinite. Those starved rays are where streaks come from.
        """
        i0 = self.photons * float(dose)
        counts = rng.poisson(i0 * np.exp(-sinogram)).astype(np.float64)
        return -np.log(np.maximum(counts, 0.5) / i0)

    def scan(self, image_hu: np.ndarray, dose: float | None, *, seed: int = 0,
             sinogram: np.ndarray | None = None) -> np.ndarray:
        """The slice as this scanner shows it at ``dose`` (None: no quantum noise at all), in HU."""
        image_hu = _check_slice(image_hu)
        sinogram = self.project(image_hu) if sinogram is None else sinogram
        if dose is not None:
            _check_dose(dose)
            sinogram = self.noisy_sinogram(sinogram, dose, np.random.default_rng(seed))
        return self.reconstruct(sinogram, image_hu.shape[0])


def _check_slice(image_hu: np.ndarray) -> np.ndarray:
    image_hu = np.asarray(image_hu, dtype=np.float64)
    if image_hu.ndim != 2 or image_hu.shape[0] != image_hu.shape[1]:
        raise DataError(f"a CT slice must be a square 2-D image, got shape {image_hu.shape}",
                        fix="pass one slice (H, H) in HU, e.g. make_phantoms('ct').images[0]")
    if not np.all(np.isfinite(image_hu)):
        raise DataError("the slice has NaN or infinite values", fix="replace them (e.g. with -1000 HU, air)")
    return image_hu


def _check_dose(dose: float) -> None:
    if not (isinstance(dose, (int, float, np.floating)) and np.isfinite(dose) and 1e-4 <= dose <= 10):
        raise DataError(f"dose {dose!r} is not a fraction of the full dose",
                        fix="use a number between 0.0001 and 10 (1 = full dose, 0.25 = a quarter)")


@dataclass
class DoseSeries:
    """One slice scanned at several doses: ``images_hu[k]`` at ``doses[k]``; ``reference_hu`` without noise."""

    object_hu: np.ndarray        # what was scanned (H, W)
    reference_hu: np.ndarray     # the noise-free FBP: what an infinite dose would show
    doses: tuple[float, ...]
    images_hu: np.ndarray        # (K, H, W)
    sinograms: np.ndarray        # (K, detectors, angles): the noisy line integrals

    def noise_std_hu(self, region: np.ndarray) -> np.ndarray:
        """The standard deviation of (image − reference) in ``region`` at each dose, in HU."""
        return np.array([float(np.std((img - self.reference_hu)[region])) for img in self.images_hu])


def dose_series(image_hu: np.ndarray, doses: Sequence[float] = DOSE_FRACTIONS, *, scanner: Scanner | None = None,
                seed: int = 0) -> DoseSeries:
    """Scan one slice at every dose in ``doses`` (one projection, one Poisson draw and FBP per dose)."""
    scanner = scanner or Scanner()
    image_hu = _check_slice(image_hu)
    clean = scanner.project(image_hu)
    rng = np.random.default_rng(seed)
    sinos, images = [], []
    for dose in doses:
        _check_dose(dose)
        noisy = scanner.noisy_sinogram(clean, dose, rng)
        sinos.append(noisy)
        images.append(scanner.reconstruct(noisy, image_hu.shape[0]))
    return DoseSeries(object_hu=image_hu.astype(np.float32), reference_hu=scanner.reconstruct(clean, image_hu.shape[0]),
                      doses=tuple(float(d) for d in doses), images_hu=np.stack(images), sinograms=np.stack(sinos))


def water_cylinder(size: int = 64, radius_fraction: float = 0.8) -> np.ndarray:
    """A water disk (0 HU) in air (−1000 HU): the phantom scanners are calibrated on."""
    yy, xx = np.mgrid[:size, :size]
    centre = (size - 1) / 2
    image = np.full((size, size), -1000.0, dtype=np.float32)
    image[np.hypot(xx - centre, yy - centre) <= radius_fraction * size / 2] = 0.0
    return image


__all__ = ["DOSE_FRACTIONS", "DoseSeries", "FULL_DOSE_PHOTONS", "MU_WATER_PER_MM", "Scanner", "dose_series",
           "hu_to_mu", "mu_to_hu", "water_cylinder"]
