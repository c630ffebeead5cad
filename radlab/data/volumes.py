"""Synthetic chest CT *volumes* in HU: lungs with vessels, and in half of them a nodule.

Why volumes: in one axial slice a lung nodule and a vessel seen end-on look the same, a
small bright disc in dark lung. Scrolling through the slices tells them apart: a vessel runs
on through many slices (a tube), a nodule appears and disappears within a few (a ball).
Radiologists scroll; a 2-D CNN that sees one slice at a time cannot, a 3-D CNN can.

Each volume is also scanned twice, the way multi-phase CT is: before contrast (``volumes``)
and in the venous phase (``enhanced``), where blood — vessels, heart, aorta — brightens by
150–250 HU while a nodule barely changes. Given both phases as two input channels, a
slice-by-slice CNN has a second cue (contrast uptake); Lab 12 measures how much it learns from it.

Voxels are isotropic (1 unit = one voxel, think 2 mm); the same ``seed`` gives the same volumes.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter

from radlab.errors import DataError

PHASES = ("non-contrast", "venous")


@dataclass
class VolumeSet:
    """CT volumes with exact ground truth; ``volumes`` and ``enhanced`` are float32 ``(N, D, H, W)`` in HU."""

    volumes: np.ndarray        # non-contrast phase
    enhanced: np.ndarray       # venous phase: blood enhanced, the nodule barely
    labels: np.ndarray         # int64 (N,): 1 = a nodule somewhere in the volume
    masks: np.ndarray          # bool (N, D, H, W): the nodule's voxels
    centers: np.ndarray        # float32 (N, 3): the nodule's (z, y, x) in voxels; NaN without one
    radii: np.ndarray          # float32 (N,): the nodule's radius in voxels; NaN without one
    units: str = "HU"

    def __len__(self) -> int:
        return len(self.labels)

    def slice_labels(self, min_voxels: int = 3) -> np.ndarray:
        """int64 ``(N, D)``: 1 where an axial slice shows at least ``min_voxels`` of the nodule."""
        return (self.masks.sum(axis=(2, 3)) >= min_voxels).astype(np.int64)

    def phases(self) -> np.ndarray:
        """float32 ``(N, 2, D, H, W)``: both phases stacked as channels."""
        return np.stack([self.volumes, self.enhanced], axis=1)


def _soft(distance: np.ndarray, radius: np.ndarray, edge: float = 0.6) -> np.ndarray:
    """1 inside ``radius``, 0 outside, a partial-volume ramp ``edge`` voxels wide between."""
    return 1.0 / (1.0 + np.exp(np.clip((distance - radius) / (edge / 4), -30, 30)))


def make_ct_volumes(n_volumes: int = 200, *, depth: int = 16, size: int = 32, lesion_fraction: float = 0.5,
                    n_vessels: tuple[int, int] = (4, 8), seed: int = 0) -> VolumeSet:
    """``n_volumes`` chest CT volumes ``(depth, size, size)`` in HU, two phases each, with nodule masks.

    Vessels (radius 0.9–1.9 voxels) are tubes crossing the whole depth at a tilt; a nodule
    (radius 1.6–3.0 voxels) is a ball: in-plane they overlap in size, along z they do not.

    Long on purpose: it reads top to bottom as the recipe of one synthetic scan (body and lungs,
    vessels, the nodule, the contrast phase, noise), each step a few lines, seeded from one ``rng``.
    """
    if n_volumes < 1 or not 8 <= depth <= 128 or not 16 <= size <= 128:
        raise DataError(f"invalid volume sizes: n_volumes={n_volumes}, depth={depth}, size={size}",
                        fix="use n_volumes ≥ 1, 8 ≤ depth ≤ 128 and 16 ≤ size ≤ 128")
    if not 0.0 <= lesion_fraction <= 1.0:
        raise DataError(f"lesion_fraction must lie in [0, 1], got {lesion_fraction}", fix="e.g. lesion_fraction=0.5")
    rng = np.random.default_rng(seed)
    n = n_volumes
    z = (np.arange(depth, dtype=np.float32) - (depth - 1) / 2)[None, :, None, None]
    y = (np.arange(size, dtype=np.float32) - (size - 1) / 2)[None, None, :, None]
    x = (np.arange(size, dtype=np.float32) - (size - 1) / 2)[None, None, None, :]
    col = lambda a: np.asarray(a, dtype=np.float32).reshape(-1, 1, 1, 1)  # noqa: E731

    # body: an elliptic cylinder, fat outside muscle
    half = size / 2
    bw, bh = col(rng.uniform(0.82, 0.95, n) * half), col(rng.uniform(0.6, 0.72, n) * half)
    body = _soft(np.sqrt((x / bw) ** 2 + (y / bh) ** 2) * half, np.float32(half))
    inner = _soft(np.sqrt((x / (bw - 2)) ** 2 + (y / (bh - 2)) ** 2) * half, np.float32(half))
    hu = -1000.0 + body * 900.0 + inner * 140.0                       # air -1000, fat -100, muscle +40
    blood = np.zeros_like(hu)
    # lungs: two ellipsoids, narrower towards the ends of the volume
    taper = np.sqrt(np.clip(1.0 - (z / (0.75 * depth)) ** 2, 0.2, 1.0))
    lx, ly = col(rng.uniform(0.34, 0.42, n) * half), col(rng.uniform(0.62, 0.75, n) * bh[:, 0, 0, 0] / 1.0)
    lungs = np.zeros_like(hu)
    for side in (-1, 1):
        cx = col(side * rng.uniform(0.40, 0.48, n) * half)
        d = np.sqrt(((x - cx) / (lx * taper)) ** 2 + ((y - 1.0) / (ly * taper)) ** 2)
        lungs = np.maximum(lungs, _soft(d * half, np.float32(half)))
    texture = gaussian_filter(rng.standard_normal(hu.shape).astype(np.float32), sigma=(0, 1.5, 2, 2)) * 60
    hu = hu + lungs * (-850.0 + texture - hu)
    # the heart between the lungs (blood: it enhances)
    d = np.sqrt(((x - 0.1 * half) / (0.26 * half)) ** 2 + ((y + 0.12 * half) / (0.24 * half)) ** 2
                + (z / (0.55 * depth)) ** 2)
    heart = _soft(d, np.float32(1.0), edge=0.15)
    hu = hu + heart * (40.0 - hu)
    blood = np.maximum(blood, heart)

    # vessels: tubes along z, tilted, inside the lungs
    counts = rng.integers(n_vessels[0], n_vessels[1] + 1, n)
    for v in range(n_vessels[1]):
        present = col(v < counts)
        x0, y0 = col(rng.uniform(-0.7, 0.7, n) * half), col(rng.uniform(-0.5, 0.55, n) * half)
        tx, ty = col(rng.uniform(-0.35, 0.35, n)), col(rng.uniform(-0.35, 0.35, n))
        r = col(rng.uniform(0.9, 1.9, n))
        d = np.sqrt((x - x0 - tx * z) ** 2 + (y - y0 - ty * z) ** 2) * np.cos(np.arctan(np.hypot(tx, ty)))
        tube = present * _soft(d, r) * lungs
        hu = hu + tube * (40.0 - hu)
        blood = np.maximum(blood, tube)

    # the nodule: a ball inside a lung, solid (~+20 HU)
    labels = (rng.random(n) < lesion_fraction).astype(np.int64)
    centers = np.full((n, 3), np.nan, dtype=np.float32)
    radii = np.full(n, np.nan, dtype=np.float32)
    masks = np.zeros(hu.shape, dtype=bool)
    nodule = np.zeros_like(hu)
    lung_core = lungs > 0.9
    for i in np.flatnonzero(labels):
        r = rng.uniform(1.6, 3.0)
        margin = int(np.ceil(r)) + 1
        zz, yy, xx = np.nonzero(lung_core[i, margin:depth - margin])
        k = rng.integers(len(zz))
        c = np.array([zz[k] + margin, yy[k], xx[k]], dtype=np.float32) - [(depth - 1) / 2, (size - 1) / 2, (size - 1) / 2]
        d = np.sqrt((z[0] - c[0]) ** 2 + (y[0] - c[1]) ** 2 + (x[0] - c[2]) ** 2)
        nodule[i] = _soft(d, np.float32(r))
        masks[i] = d <= r
        centers[i] = c + [(depth - 1) / 2, (size - 1) / 2, (size - 1) / 2]
        radii[i] = r
    nodule_hu = col(rng.uniform(5.0, 40.0, n))
    hu = hu + nodule * (nodule_hu - hu)
    blood = blood * (1.0 - nodule)

    # two phases: contrast brightens blood (150–250 HU) and tissue a little; the nodule by 0–15 HU
    enhancement = blood * col(rng.uniform(150.0, 250.0, n)) + inner * (1 - lungs) * 15.0 \
        + nodule * col(rng.uniform(0.0, 15.0, n))
    phases = []
    for phase in (hu, hu + enhancement):
        scanned = gaussian_filter(phase, sigma=(0, 0.5, 0.5, 0.5))
        scanned = scanned + rng.standard_normal(scanned.shape).astype(np.float32) * col(rng.uniform(12, 22, n))
        phases.append(scanned.astype(np.float32))
    return VolumeSet(volumes=phases[0], enhanced=phases[1], labels=labels, masks=masks, centers=centers, radii=radii)


__all__ = ["PHASES", "VolumeSet", "make_ct_volumes"]
