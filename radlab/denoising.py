"""Low-dose CT denoising (Lab 11): simulated dose pairs, classical filters, CNNs, and what they do to a lesion.

The data come from :mod:`radlab.data.ct_dose`: CT phantom slices scanned at several doses
(Poisson photons in the sinogram, FBP back to HU); the target is the same slice without
quantum noise (what an infinite dose would show; real studies use a full-dose scan). Two
classical filters (Gaussian blur, non-local means) and two CNNs (an encoder–decoder that
outputs the clean image, and its residual variant that outputs the noise) are scored with
PSNR and SSIM against dose on the same test slices. Then the reviews' warning is measured:
a small, low-contrast lesion is planted in soft tissue, and its contrast-to-noise ratio
(CNR) is read before and after denoising — including the case where the network erases it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence

import numpy as np
import torch
from scipy.ndimage import distance_transform_edt, gaussian_filter
from skimage.restoration import denoise_nl_means, estimate_sigma

from radlab.data.ct_dose import DOSE_FRACTIONS, Scanner
from radlab.data.phantoms import make_phantoms
from radlab.errors import DataError
from radlab.metrics import psnr, ssim

#: The model's intensity scale, also where PSNR and SSIM are measured: the soft-tissue window
#: (level 40, width 400 HU) mapped to [0, 1]. Low-contrast lesions live there; lungs and bone saturate.
HU_LOW, HU_HIGH = -160.0, 240.0
#: Soft tissue, where the planted lesion goes (HU range of the phantom's muscle and organs).
SOFT_TISSUE_HU = (-60.0, 120.0)
METHOD_NAMES = {"low_dose": "low dose (no filter)", "gaussian": "Gaussian blur", "nl_means": "non-local means",
                "cnn": "CNN encoder–decoder", "residual_cnn": "residual CNN (learns the noise)"}


def hu_to_unit(image_hu: np.ndarray) -> np.ndarray:
    """HU → the model's [0, 1] scale (the soft-tissue window: −160 HU → 0, +240 HU → 1, clipped)."""
    return np.clip((np.asarray(image_hu, dtype=np.float32) - HU_LOW) / (HU_HIGH - HU_LOW), 0.0, 1.0)


def unit_to_hu(image: np.ndarray) -> np.ndarray:
    """The model's [0, 1] scale → HU."""
    return (np.asarray(image, dtype=np.float32) * (HU_HIGH - HU_LOW) + HU_LOW).astype(np.float32)


def phantom_objects(n: int, *, size: int = 64, seed: int = 0) -> np.ndarray:
    """``n`` CT phantom slices (HU), one per patient, lightly smoothed.

    The phantoms carry their own white pixel noise; a Gaussian of 0.8 px removes most of it,
    so all the noise in this lab comes from the simulated dose.
    """
    ct = make_phantoms("ct", n_patients=n, images_per_patient=1, size=size, seed=seed)
    return gaussian_filter(ct.images, sigma=(0, 0.8, 0.8)).astype(np.float32)


# ------------------------------------------------------------------------------------------ data

@dataclass
class DenoisingData:
    """Low-dose / reference pairs in HU: training and validation at mixed doses, test at every dose."""

    doses: tuple[float, ...]
    train_low: np.ndarray         # (M, H, W) HU
    train_dose: np.ndarray        # (M,) the dose of each training image
    train_ref: np.ndarray         # (M, H, W) HU, no quantum noise
    val_low: np.ndarray
    val_dose: np.ndarray
    val_ref: np.ndarray
    test_objects: np.ndarray      # (T, H, W) what was scanned
    test_ref: np.ndarray          # (T, H, W)
    test_low: np.ndarray          # (K, T, H, W): test slices at each dose
    scanner: Scanner = field(default_factory=Scanner)

    def note(self) -> str:
        return (f"{len(self.train_low)} training and {len(self.val_low)} validation pairs (doses "
                f"{min(self.doses):.1%}–{max(self.doses):.0%}), {self.test_ref.shape[0]} test slices at "
                f"{len(self.doses)} doses; {self.test_ref.shape[-1]} px, {self.scanner.n_angles} views")


def _scan_pairs(objects: np.ndarray, doses: Sequence[float], per_slice: int, scanner: Scanner,
                rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each object at ``per_slice`` doses drawn from ``doses``: (low-dose HU, dose, reference HU)."""
    lows, ds, refs = [], [], []
    for obj in objects:
        sino = scanner.project(obj)
        ref = scanner.reconstruct(sino, obj.shape[0])
        for dose in rng.choice(np.asarray(doses), size=per_slice, replace=per_slice > len(doses)):
            lows.append(scanner.reconstruct(scanner.noisy_sinogram(sino, float(dose), rng), obj.shape[0]))
            ds.append(float(dose))
            refs.append(ref)
    return np.stack(lows), np.asarray(ds, dtype=np.float32), np.stack(refs)


def make_denoising_data(*, n_train: int = 120, n_val: int = 16, n_test: int = 16, size: int = 64,
                        doses: Sequence[float] = DOSE_FRACTIONS, per_slice: int = 2, scanner: Scanner | None = None,
                        seed: int = 0) -> DenoisingData:
    """Scan phantom slices of different patients (train / val / test never share one) at several doses."""
    if min(n_train, n_val, n_test) < 1:
        raise DataError(f"need at least one slice per part, got {n_train}/{n_val}/{n_test}",
                        fix="use n_train, n_val, n_test >= 1")
    scanner = scanner or Scanner()
    objects = phantom_objects(n_train + n_val + n_test, size=size, seed=seed)
    rng = np.random.default_rng(seed)
    train = _scan_pairs(objects[:n_train], doses, per_slice, scanner, rng)
    val = _scan_pairs(objects[n_train:n_train + n_val], doses, per_slice, scanner, rng)
    test_objects = objects[n_train + n_val:]
    sinos = [scanner.project(obj) for obj in test_objects]
    test_ref = np.stack([scanner.reconstruct(s, size) for s in sinos])
    test_low = np.stack([np.stack([scanner.reconstruct(scanner.noisy_sinogram(s, dose, rng), size) for s in sinos])
                         for dose in doses])
    return DenoisingData(tuple(float(d) for d in doses), *train, *val, test_objects, test_ref, test_low, scanner)


# ------------------------------------------------------------------------------------------ methods

Denoiser = Callable[[np.ndarray], np.ndarray]   # (N, H, W) HU -> (N, H, W) HU


def gaussian_denoiser(sigma_px: float) -> Denoiser:
    """A Gaussian blur of ``sigma_px`` pixels: removes noise and, just as much, fine detail."""
    return lambda images_hu: gaussian_filter(np.asarray(images_hu, dtype=np.float32), sigma=(0, sigma_px, sigma_px))


def nl_means(images_hu: np.ndarray, *, strength: float = 0.8) -> np.ndarray:
    """Non-local means (Buades et al. 2005): average pixels whose *neighbourhoods* look alike.

    The noise level is estimated from each image (``estimate_sigma``) and ``h = strength·σ``
    as scikit-image's example recommends; 3×3 patches searched within 5 pixels.
    """
    out = []
    for image in np.asarray(images_hu, dtype=np.float32):
        unit = hu_to_unit(image).astype(np.float64)
        sigma = float(estimate_sigma(unit))
        out.append(unit_to_hu(denoise_nl_means(unit, h=strength * sigma, sigma=sigma, patch_size=3,
                                               patch_distance=5, fast_mode=True)))
    return np.stack(out)


def cnn_denoiser(model: torch.nn.Module) -> Denoiser:
    """A trained network as a denoiser working in HU (it sees and returns the [0, 1] scale)."""
    from radlab.train import predict  # noqa: PLC0415

    def run(images_hu: np.ndarray) -> np.ndarray:
        x = torch.as_tensor(hu_to_unit(images_hu))[:, None]
        return unit_to_hu(predict(model, x, activation="none")[:, 0].clip(0, 1))
    return run


def tune_gaussian(low_hu: np.ndarray, ref_hu: np.ndarray, sigmas: Sequence[float] = (0.5, 0.75, 1.0, 1.5, 2.0)) -> float:
    """The blur (pixels) with the best mean PSNR on validation pairs: the classical filter's one setting."""
    scores = [mean_psnr(gaussian_denoiser(s)(low_hu), ref_hu) for s in sigmas]
    return float(sigmas[int(np.argmax(scores))])


# ------------------------------------------------------------------------------------------ training

def random_crops(low_hu: np.ndarray, ref_hu: np.ndarray, *, size: int = 32, per_image: int = 4,
                 seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """``per_image`` random ``size``-pixel crops of each pair, on the model's scale: more, cheaper training steps."""
    rng = np.random.default_rng(seed)
    h, w = low_hu.shape[-2:]
    xs, ys = [], []
    for low, ref in zip(low_hu, ref_hu):
        for _ in range(per_image):
            i, j = rng.integers(0, h - size + 1), rng.integers(0, w - size + 1)
            xs.append(low[i:i + size, j:j + size])
            ys.append(ref[i:i + size, j:j + size])
    return torch.as_tensor(hu_to_unit(np.stack(xs)))[:, None], torch.as_tensor(hu_to_unit(np.stack(ys)))[:, None]


def train_denoiser(data: DenoisingData, *, residual: bool, epochs: int = 8, base: int = 16, lr: float = 2e-3,
                   batch_size: int = 16, crop: int = 32, seed: int = 0, name: str | None = None):
    """Train :class:`~radlab.models.denoise.DenoisingAutoencoder` low dose → reference with ``fit(task="denoising")``.

    It trains on random ``crop``-pixel patches (four per slice; the network is fully convolutional, so it
    then denoises whole slices) and is validated on whole validation slices.
    """
    from radlab.device import seed_everything  # noqa: PLC0415
    from radlab.models.denoise import DenoisingAutoencoder  # noqa: PLC0415
    from radlab.train import fit  # noqa: PLC0415

    seed_everything(seed)
    model = DenoisingAutoencoder(base=base, depth=2, residual=residual)

    def pairs(low: np.ndarray, ref: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.as_tensor(hu_to_unit(low))[:, None], torch.as_tensor(hu_to_unit(ref))[:, None]

    train = random_crops(data.train_low, data.train_ref, size=crop, seed=seed)
    return fit(model, train, pairs(data.val_low, data.val_ref), task="denoising",
               epochs=epochs, batch_size=batch_size, lr=lr, seed=seed, save=False, progress=False,
               name=name or ("residual-cnn" if residual else "cnn"))


# ------------------------------------------------------------------------------------------ scores

def mean_psnr(images_hu: np.ndarray, ref_hu: np.ndarray) -> float:
    """Mean per-image PSNR (dB) on the model's [0, 1] scale."""
    return float(np.mean([psnr(hu_to_unit(a), hu_to_unit(b)) for a, b in zip(images_hu, ref_hu)]))


def mean_ssim(images_hu: np.ndarray, ref_hu: np.ndarray) -> float:
    """Mean SSIM on the model's [0, 1] scale."""
    return ssim(hu_to_unit(images_hu), hu_to_unit(ref_hu))


@dataclass
class DoseTable:
    """PSNR and SSIM of every method at every dose, on the same test slices."""

    doses: tuple[float, ...]
    psnr: dict[str, np.ndarray]   # method -> (K,) dB
    ssim: dict[str, np.ndarray]   # method -> (K,)

    def best(self, metric: str = "psnr", dose_index: int = -1) -> str:
        """The method with the best score at one dose (default: the lowest dose)."""
        table = self.psnr if metric == "psnr" else self.ssim
        return max(table, key=lambda m: table[m][dose_index])

    def rows(self) -> list[str]:
        lines = ["method".ljust(32) + "".join(f"{d:>14.1%}" for d in self.doses)]
        for m in self.psnr:
            cells = "".join(f"{p:7.1f} / {s:4.2f}" for p, s in zip(self.psnr[m], self.ssim[m]))
            lines.append(METHOD_NAMES.get(m, m).ljust(32) + cells)
        return lines

    def __str__(self) -> str:
        return "PSNR (dB) / SSIM by dose\n" + "\n".join(self.rows())


def evaluate_by_dose(data: DenoisingData, methods: Mapping[str, Denoiser | None]) -> DoseTable:
    """Score each method (None: the low-dose image as it is) at each dose on the test slices."""
    psnrs: dict[str, list[float]] = {m: [] for m in methods}
    ssims: dict[str, list[float]] = {m: [] for m in methods}
    for k in range(len(data.doses)):
        low = data.test_low[k]
        for name, method in methods.items():
            out = low if method is None else method(low)
            psnrs[name].append(mean_psnr(out, data.test_ref))
            ssims[name].append(mean_ssim(out, data.test_ref))
    return DoseTable(data.doses, {m: np.asarray(v) for m, v in psnrs.items()},
                     {m: np.asarray(v) for m, v in ssims.items()})


def noise_std_by_dose(data: DenoisingData) -> np.ndarray:
    """Noise (std of low dose − reference, HU) in the test slices' soft tissue at each dose."""
    soft = (data.test_objects > SOFT_TISSUE_HU[0]) & (data.test_objects < SOFT_TISSUE_HU[1])
    return np.array([float(np.std((data.test_low[k] - data.test_ref)[soft])) for k in range(len(data.doses))])


# ------------------------------------------------------------------------------------------ lesion CNR

def lesion_site(object_hu: np.ndarray) -> tuple[int, int]:
    """The soft-tissue pixel farthest from anything else (row, col): room for a lesion and its background."""
    soft = (object_hu > SOFT_TISSUE_HU[0]) & (object_hu < SOFT_TISSUE_HU[1])
    if not soft.any():
        raise DataError("the slice has no soft tissue to plant a lesion in", fix="use a CT phantom slice")
    distance = distance_transform_edt(soft)
    row, col = np.unravel_index(int(np.argmax(distance)), distance.shape)
    return int(row), int(col)


def plant_lesion(object_hu: np.ndarray, *, radius_px: float, contrast_hu: float,
                 site: tuple[int, int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Add a round lesion of ``contrast_hu`` (e.g. +20 HU) and ``radius_px``; returns (slice HU, lesion mask)."""
    if not (0.5 <= radius_px <= 10):
        raise DataError(f"lesion radius {radius_px} px", fix="use 0.5 to 10 pixels")
    row, col = site or lesion_site(object_hu)
    yy, xx = np.mgrid[:object_hu.shape[0], :object_hu.shape[1]]
    mask = np.hypot(yy - row, xx - col) <= radius_px
    out = np.asarray(object_hu, dtype=np.float32).copy()
    out[mask] += contrast_hu
    return out, mask


def background_ring(mask: np.ndarray, object_hu: np.ndarray, *, gap: int = 2, width: int = 4) -> np.ndarray:
    """Soft-tissue pixels ``gap``..``gap+width`` pixels outside the lesion: its background."""
    distance = distance_transform_edt(~mask)
    soft = (object_hu > SOFT_TISSUE_HU[0]) & (object_hu < SOFT_TISSUE_HU[1])
    return (distance > gap) & (distance <= gap + width) & soft


def contrast_and_cnr(image_hu: np.ndarray, mask: np.ndarray, background: np.ndarray) -> tuple[float, float]:
    """Lesion contrast (mean inside − mean of the background, HU) and CNR = contrast / background std.

    The textbook measure on one image; :func:`lesion_case` reads the contrast from a difference image instead.
    """
    contrast = float(image_hu[mask].mean() - image_hu[background].mean())
    return contrast, contrast / max(float(image_hu[background].std()), 1e-6)


@dataclass
class LesionCase:
    """One planted lesion scanned at one dose: contrast and CNR per method (means over noise draws)."""

    radius_px: float
    contrast_hu: float
    dose: float
    contrast: dict[str, float]     # method -> measured contrast (HU); "reference" included
    cnr: dict[str, float]          # method -> CNR
    images_hu: dict[str, np.ndarray] = field(repr=False)   # one draw of each, for the figure
    mask: np.ndarray = field(repr=False)

    def kept(self, method: str) -> float:
        """The share of the lesion's contrast a method keeps (1 = all, 0 = erased)."""
        return self.contrast[method] / self.contrast["reference"] if self.contrast["reference"] else float("nan")

    def erased_by(self, method: str, below: float = 0.5) -> bool:
        """True when the method keeps less than ``below`` of the lesion's contrast."""
        return self.kept(method) < below


def lesion_case(object_hu: np.ndarray, methods: Mapping[str, Denoiser | None], *, radius_px: float,
                contrast_hu: float, dose: float, scanner: Scanner | None = None, repeats: int = 6,
                seed: int = 0) -> LesionCase:
    """Plant a lesion, scan it ``repeats`` times at ``dose``, and measure contrast and CNR for every method.

    The lesion's contrast in an output is read from the difference between the scan with the lesion
    and the same scan (same photon draws) without it, over the lesion's mask: what the method did to
    the lesion, untouched by what it did to the structures around it. CNR = that contrast divided by
    the noise (standard deviation) of the output in the soft tissue around the lesion.
    """
    scanner = scanner or Scanner()
    image_hu, mask = plant_lesion(object_hu, radius_px=radius_px, contrast_hu=contrast_hu)
    background = background_ring(mask, object_hu)
    size = image_hu.shape[0]
    with_sino, without_sino = scanner.project(image_hu), scanner.project(object_hu)
    reference = scanner.reconstruct(with_sino, size)
    lows, lows_without = [], []
    for r in range(repeats):   # common random numbers: the same photon stream with and without the lesion
        lows.append(scanner.reconstruct(scanner.noisy_sinogram(with_sino, dose, np.random.default_rng([seed, r])), size))
        lows_without.append(scanner.reconstruct(scanner.noisy_sinogram(without_sino, dose,
                                                                       np.random.default_rng([seed, r])), size))
    lows, lows_without = np.stack(lows), np.stack(lows_without)
    ref_contrast = float((reference - scanner.reconstruct(without_sino, size))[mask].mean())
    contrast, cnr = {"reference": ref_contrast}, {"reference": float("inf")}
    shown = {"reference": reference}
    for name, method in methods.items():
        out = lows if method is None else method(lows)
        out_without = lows_without if method is None else method(lows_without)
        contrasts = [(a - b)[mask].mean() for a, b in zip(out, out_without)]
        noise = [max(float(a[background].std()), 1e-6) for a in out]
        contrast[name] = float(np.mean(contrasts))
        cnr[name] = float(np.mean([c / n for c, n in zip(contrasts, noise)]))
        shown[name] = out[0]
    return LesionCase(float(radius_px), float(contrast_hu), float(dose), contrast, cnr, shown, mask)


def lesion_study(object_hu: np.ndarray, methods: Mapping[str, Denoiser | None], *,
                 radii: Sequence[float] = (1.0, 2.0, 3.0), contrasts: Sequence[float] = (15.0, 40.0),
                 dose: float = 0.125, scanner: Scanner | None = None, repeats: int = 6,
                 seed: int = 0) -> list[LesionCase]:
    """:func:`lesion_case` for every radius × contrast: which lesions survive which denoiser?"""
    return [lesion_case(object_hu, methods, radius_px=r, contrast_hu=c, dose=dose, scanner=scanner,
                        repeats=repeats, seed=seed) for r in radii for c in contrasts]


def most_erased(cases: Sequence[LesionCase], method: str) -> LesionCase:
    """The case where ``method`` keeps the smallest share of the lesion's contrast."""
    return min(cases, key=lambda case: case.kept(method))


def denoise_series(images_hu: np.ndarray, methods: Mapping[str, Denoiser | None]) -> dict[str, np.ndarray]:
    """Every method's output for a stack of slices (e.g. one slice at every dose): what the lab's slider shows."""
    return {name: np.asarray(images_hu if method is None else method(images_hu), dtype=np.float32)
            for name, method in methods.items()}


__all__ = ["DenoisingData", "DoseTable", "LesionCase", "METHOD_NAMES", "cnn_denoiser", "contrast_and_cnr",
           "denoise_series", "evaluate_by_dose", "gaussian_denoiser", "hu_to_unit", "lesion_case", "lesion_site", "lesion_study",
           "make_denoising_data", "mean_psnr", "mean_ssim", "most_erased", "nl_means", "noise_std_by_dose",
           "phantom_objects", "plant_lesion", "train_denoiser", "tune_gaussian", "unit_to_hu"]
