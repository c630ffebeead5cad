"""Synthetic patients: chest radiographs and CT slices with known lesions, masks and boxes.

Real labelled data is scarce and cannot be shared freely; phantoms can. Each synthetic
patient has an anatomy (body shape, lungs, heart, ribs or vertebra), a patient-specific
texture and skin markers, and a lesion status. Every image of a patient shares all of
these — the lesion persists, slightly moved and resized — while the view (shift,
rotation, scale), exposure and noise change. That is what real follow-up images look
like, and it is why images of one patient must never sit on both sides of a split: a
CNN can recognise the patient and remember the answer (Lab 2).

Ground truth is exact: a lesion mask and bounding box per image, and its type: benign
(round, smooth edge) or malignant (spiculated, irregular). Everything is vectorised
numpy, seeded by ``seed``: the same call gives the same images.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Sequence

import numpy as np
from scipy.ndimage import gaussian_filter

from radlab.errors import DataError

KINDS = ("chest", "ct")
LESION_TYPES = {0: "none", 1: "benign", 2: "malignant"}


@dataclass
class PhantomSet:
    """Phantom images with exact ground truth; several images per synthetic patient."""

    images: np.ndarray        # float32 (N, H, W): chest in [0, 1] detector units (high = dense), CT in HU
    labels: np.ndarray        # int64 (N,): 0 = no lesion, 1 = lesion
    lesion_type: np.ndarray   # int64 (N,): 0 none, 1 benign, 2 malignant
    masks: np.ndarray         # bool (N, H, W)
    boxes: np.ndarray         # float32 (N, 4): x0, y0, x1, y1 pixel edges (mask ⊂ [x0, x1) × [y0, y1)); NaN if no lesion
    patient_ids: np.ndarray   # str (N,), e.g. "P0007"
    modality: str             # "CR" or "CT"
    units: str                # "detector" or "HU"

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, indices: Sequence[int] | np.ndarray) -> PhantomSet:
        """The images at ``indices`` (an index array or a boolean mask), ground truth included."""
        idx = np.asarray(indices)
        return replace(self, images=self.images[idx], labels=self.labels[idx],
                       lesion_type=self.lesion_type[idx], masks=self.masks[idx],
                       boxes=self.boxes[idx], patient_ids=self.patient_ids[idx])

    @property
    def n_patients(self) -> int:
        return len(np.unique(self.patient_ids))

    def __repr__(self) -> str:
        return (f"PhantomSet({self.modality}, {len(self)} images of {self.n_patients} patients, "
                f"{tuple(self.images.shape[1:])} px, units={self.units}, "
                f"{int(self.labels.sum())} with a lesion)")


# --------------------------------------------------------------------------- shapes on a grid

def _sigmoid(x: np.ndarray) -> np.ndarray:
    """A soft step from 0 to 1: linear over -2 < x < 2 (a cheap stand-in for the logistic curve)."""
    return np.clip(0.5 + 0.25 * x, 0.0, 1.0)


def _ellipse(u: np.ndarray, v: np.ndarray, cx, cy, ax, ay, edge: float = 0.03) -> np.ndarray:
    """A soft-edged filled ellipse (1 inside, 0 outside); arguments broadcast per image."""
    r = np.sqrt(((u - cx) / ax) ** 2 + ((v - cy) / ay) ** 2)
    return _sigmoid((1.0 - r) / edge)


def _col(values: np.ndarray) -> np.ndarray:
    """Per-image values shaped (N, 1, 1) to broadcast over an (N, H, W) grid."""
    return np.asarray(values, dtype=np.float32)[:, None, None]


def _sinusoids(u, v, kx, ky, phase, amp) -> np.ndarray:
    """A sum of plane waves (N, K) -> (N, H, W): a cheap, smooth, patient-specific texture."""
    out = np.zeros(np.broadcast_shapes(u.shape, v.shape, (len(kx), 1, 1)), dtype=np.float32)
    for k in range(kx.shape[1]):
        out += _col(amp[:, k]) * np.cos(_col(kx[:, k]) * u + _col(ky[:, k]) * v + _col(phase[:, k]))
    return out


def _lesion_shape(u, v, cx, cy, radius, malignant, harmonics, spikes, spike_phase) -> np.ndarray:
    """Soft lesion shape in [0, 1]: round and smooth (benign) or spiculated and irregular (malignant)."""
    dx, dy = u - _col(cx), v - _col(cy)
    rho, theta = np.sqrt(dx**2 + dy**2), np.arctan2(dy, dx)
    r0, mal = _col(radius), _col(malignant)
    # irregular outline: a few low harmonics, plus narrow spikes (spicules) radiating out
    outline = np.zeros_like(rho)
    for k in range(harmonics.shape[1]):
        outline += _col(harmonics[:, k]) * np.cos((k + 2) * theta + _col(spike_phase) * (k + 1))
    spicules = 0.5 * (1 + np.cos(_col(spikes) * (theta - _col(spike_phase))))
    for _ in range(4):  # ** 16 by squaring (faster): narrow spikes
        spicules = spicules * spicules
    edge_radius = r0 * (1.0 + mal * (0.22 * outline + 0.9 * spicules))
    edge = r0 * (0.30 - 0.24 * mal)  # benign: soft, smooth margin; malignant: sharp, spiky
    return _sigmoid((edge_radius - rho) / edge)


def _boxes(masks: np.ndarray) -> np.ndarray:
    """Bounding boxes (x0, y0, x1, y1) as pixel edges; NaN rows for empty masks."""
    n, h, w = masks.shape
    cols, rows = masks.any(axis=1), masks.any(axis=2)
    boxes = np.stack([cols.argmax(1), rows.argmax(1),
                      w - cols[:, ::-1].argmax(1), h - rows[:, ::-1].argmax(1)], axis=1).astype(np.float32)
    boxes[~masks.reshape(n, -1).any(1)] = np.nan
    return boxes


# --------------------------------------------------------------------------- patients and views

@dataclass
class _Patients:
    """Per-patient parameters (arrays of length P) drawn once; all their images share them."""

    anatomy: dict[str, np.ndarray]  # name -> (P,): body/lung/heart sizes, habitus, ribs
    texture: tuple           # (kx, ky, phase, amp), each (P, K)
    fine: tuple              # finer texture in the lungs, each (P, K)
    markers: np.ndarray      # (P, M, 3): u, v, present (skin electrodes / markers)
    vessels: np.ndarray      # (P, V, 3): u, v, radius (CT lung vessels)
    has_lesion: np.ndarray   # (P,) bool
    malignant: np.ndarray    # (P,) bool
    lesion: np.ndarray       # (P, 4): centre u, v, radius, strength in [0, 1]
    harmonics: np.ndarray    # (P, 4) outline irregularity
    spikes: np.ndarray       # (P,) number of spicules
    spike_phase: np.ndarray  # (P,)


def _texture(rng: np.random.Generator, p: int, k: int, freq: tuple[float, float], amp: float) -> tuple:
    """Each patient's own plane waves (k of them, ``freq`` cycles per unit): a texture that identifies them."""
    angle = rng.uniform(0, np.pi, (p, k))
    f = 2 * np.pi * rng.uniform(*freq, (p, k))
    strength = rng.uniform(0.5, 1.5, (p, 1))  # some patients' tissue looks coarser than others'
    return f * np.cos(angle), f * np.sin(angle), rng.uniform(0, 2 * np.pi, (p, k)), amp / np.sqrt(k) * strength.repeat(k, 1)


def _lung_geometry(anatomy: dict[str, np.ndarray], kind: str) -> tuple[np.ndarray, ...]:
    """Centres and semi-axes of the right (image-left) and left lungs, per patient."""
    lw, lh = anatomy["lung_width"], anatomy["lung_height"]
    cy = np.full_like(lw, -0.05 if kind == "chest" else -0.02)
    if kind == "chest":
        return (-0.40 * lw, cy, 0.27 * lw, 0.58 * lh), (0.40 * lw, cy, 0.25 * lw, 0.55 * lh)
    return (-0.38 * lw, cy, 0.27 * lw, 0.40 * lh), (0.38 * lw, cy, 0.25 * lw, 0.37 * lh)


def _draw_patients(rng: np.random.Generator, kind: str, n: int, lesion_fraction: float) -> _Patients:
    """Draw ``n`` patients: anatomy, texture, skin markers, vessels and (for some) a lesion."""
    anatomy = {"body_width": rng.uniform(0.90, 1.06, n), "body_height": rng.uniform(0.90, 1.08, n),
               "lung_width": rng.uniform(0.90, 1.08, n), "lung_height": rng.uniform(0.88, 1.08, n),
               "heart_size": rng.uniform(0.85, 1.15, n), "heart_shift": rng.uniform(-0.06, 0.06, n),
               "habitus": rng.uniform(0.85, 1.15, n),   # how thick the patient is: denser, more fat
               "rib_spacing": rng.uniform(0.14, 0.20, n), "rib_curve": rng.uniform(0.35, 0.75, n),
               "rib_phase": rng.uniform(0, 2 * np.pi, n)}
    n_lesion = int(round(lesion_fraction * n))
    has_lesion = np.zeros(n, dtype=bool)
    has_lesion[rng.permutation(n)[:n_lesion]] = True
    malignant = rng.random(n) < 0.5

    # a lesion centre inside one lung, away from its edge
    right, left = _lung_geometry(anatomy, kind)
    side = rng.random(n) < 0.5
    cx, cy, ax, ay = (np.where(side, a, b) for a, b in zip(right, left))
    angle, frac = rng.uniform(0, 2 * np.pi, n), np.sqrt(rng.uniform(0, 1, n)) * 0.65
    radius = rng.uniform(0.07, 0.14, n) if kind == "chest" else rng.uniform(0.055, 0.105, n)
    lesion = np.stack([cx + frac * ax * np.cos(angle), cy + frac * ay * np.sin(angle),
                       radius, rng.uniform(0, 1, n)], axis=1)

    n_markers = rng.integers(1, 4, n)
    markers = np.stack([rng.uniform(-0.75, 0.75, (n, 3)), rng.uniform(-0.7, 0.6, (n, 3)),
                        (np.arange(3)[None] < n_markers[:, None]).astype(float)], axis=2)
    # CT lung vessels: dots inside the lungs (they look like small nodules: the real difficulty)
    vessel_side = rng.random((n, 10)) < 0.5
    vx, vy, vax, vay = (np.where(vessel_side, a[:, None], b[:, None]) for a, b in zip(right, left))
    va, vf = rng.uniform(0, 2 * np.pi, (n, 10)), np.sqrt(rng.uniform(0, 1, (n, 10))) * 0.85
    vessels = np.stack([vx + vf * vax * np.cos(va), vy + vf * vay * np.sin(va),
                        rng.uniform(0.012, 0.032, (n, 10))], axis=2)
    return _Patients(anatomy=anatomy, texture=_texture(rng, n, 6, (0.8, 2.2), 1.0),
                     fine=_texture(rng, n, 8, (3.0, 6.0), 1.0), markers=markers, vessels=vessels,
                     has_lesion=has_lesion, malignant=malignant, lesion=lesion,
                     harmonics=rng.normal(0, 1, (n, 4)) / 2, spikes=rng.integers(5, 10, n).astype(float),
                     spike_phase=rng.uniform(0, 2 * np.pi, n))


def _view_grid(rng: np.random.Generator, n_images: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Patient-frame coordinates (u, v in about [-1, 1]) of every pixel, per image view.

    Each image is a slightly different view: shifted by up to ~3 % of the field, rotated by
    up to 4 degrees and scaled by ±4 %. Shapes drawn on (u, v) move with the patient.
    """
    x, y = _axis(size)[None, None, :], _axis(size)[None, :, None]
    du, dv = _col(rng.uniform(-0.06, 0.06, n_images)), _col(rng.uniform(-0.06, 0.06, n_images))
    rot, scale = _col(np.deg2rad(rng.uniform(-4, 4, n_images))), _col(rng.uniform(0.96, 1.04, n_images))
    c, s = np.cos(rot), np.sin(rot)
    u = ((x - du) * c + (y - dv) * s) / scale
    v = (-(x - du) * s + (y - dv) * c) / scale
    return u.astype(np.float32), v.astype(np.float32)


def _axis(size: int) -> np.ndarray:
    """Pixel centres in normalised coordinates: -1 is the left/top edge, +1 the right/bottom."""
    return ((np.arange(size, dtype=np.float32) + 0.5) / size * 2 - 1).astype(np.float32)


def _warp(rendered: np.ndarray, owner: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Sample each image's patient rendering (P, H, W) at its view's (u, v): bilinear, edges extended."""
    p, h, w = rendered.shape
    col = np.clip((u + 1) * (w / 2) - 0.5, 0, w - 1.001)
    row = np.clip((v + 1) * (h / 2) - 0.5, 0, h - 1.001)
    c0, r0 = col.astype(np.int64), row.astype(np.int64)
    fc, fr = (col - c0).astype(np.float32), (row - r0).astype(np.float32)
    flat = rendered.reshape(-1)
    base = owner[:, None, None] * (h * w) + r0 * w + c0
    top = flat[base] * (1 - fc) + flat[base + 1] * fc
    bottom = flat[base + w] * (1 - fc) + flat[base + w + 1] * fc
    return top * (1 - fr) + bottom * fr


def _lesions(rng, pts: _Patients, owner: np.ndarray, u, v) -> tuple[np.ndarray, np.ndarray]:
    """Per-image lesion shape (soft, in [0, 1]) and mask; the patient's lesion, jittered per image."""
    n = len(owner)
    cx = pts.lesion[owner, 0] + rng.uniform(-0.03, 0.03, n)
    cy = pts.lesion[owner, 1] + rng.uniform(-0.03, 0.03, n)
    radius = pts.lesion[owner, 2] * rng.uniform(0.85, 1.15, n)
    shape = np.zeros(u.shape, dtype=np.float32)
    has = pts.has_lesion[owner]
    if has.any():  # draw only where there is a lesion: half the work
        o = owner[has]
        shape[has] = _lesion_shape(u[has], v[has], cx[has], cy[has], radius[has],
                                   pts.malignant[o].astype(np.float32), pts.harmonics[o],
                                   pts.spikes[o], pts.spike_phase[o])
    masks = shape > 0.5
    # a lesion is always at least one pixel: mark its strongest pixel if the threshold missed it
    empty = np.flatnonzero(has & ~masks.reshape(n, -1).any(1))
    for i in empty:
        masks[i][np.unravel_index(shape[i].argmax(), shape[i].shape)] = True
    return shape, masks


def _chest_anatomy(pts: _Patients, size: int) -> np.ndarray:
    """Each patient's attenuation map (P, H, W): what the beam crosses, before the view and noise."""
    a = pts.anatomy
    u, v = _axis(size)[None, None, :], _axis(size)[None, :, None]
    (rcx, rcy, rax, ray), (lcx, lcy, lax, lay) = (tuple(_col(t) for t in side) for side in _lung_geometry(a, "chest"))
    body = _ellipse(u, v, 0.0, 0.20, _col(0.93 * a["body_width"]), _col(1.30 * a["body_height"]), 0.02)
    lungs = np.maximum(_ellipse(u, v, rcx, rcy, rax, ray), _ellipse(u, v, lcx, lcy, lax, lay))
    heart = _ellipse(u, v, _col(0.12 + a["heart_shift"]), 0.30, _col(0.30 * a["heart_size"]),
                     _col(0.24 * a["heart_size"]))
    spine = _sigmoid((0.075 - np.abs(u)) / 0.01) * body
    thorax = _ellipse(u, v, 0.0, -0.05, 0.85, 0.68, 0.05)
    rib_t = v + 0.35 * np.abs(u) - _col(a["rib_curve"]) * u**2   # posterior ribs arc out and down from the spine
    ribs = (0.5 * (1 + np.cos(2 * np.pi * rib_t / _col(a["rib_spacing"]) + _col(a["rib_phase"])))) ** 6 * thorax
    clavicle = np.exp(-(((v + 0.72 - 0.22 * np.abs(u)) / 0.035) ** 2)) * _sigmoid((0.62 - np.abs(u)) / 0.02)
    markers = np.zeros(body.shape, dtype=np.float32)
    for m in range(pts.markers.shape[1]):
        mu, mv, on = (pts.markers[:, m, i] for i in range(3))
        markers += _col(on) * _ellipse(u, v, _col(mu), _col(mv), 0.035, 0.035, 0.05)
    return (0.05 + 0.50 * _col(a["habitus"]) * body - 0.30 * lungs * (1 - heart) + 0.12 * spine
            + 0.09 * ribs * body + 0.08 * clavicle * body
            + 0.035 * _sinusoids(u, v, *pts.texture) * body + 0.022 * _sinusoids(u, v, *pts.fine) * lungs
            + 0.25 * markers).astype(np.float32)


def _chest_images(rng, pts: _Patients, owner: np.ndarray, base: np.ndarray, shape: np.ndarray) -> np.ndarray:
    """Radiographs in detector units: attenuation + nodule, detector blur, quantum noise, exposure."""
    n, size = len(owner), base.shape[-1]
    density = base + _col(0.16 + 0.10 * pts.lesion[owner, 3]) * shape   # a nodule adds tissue to the beam
    density = gaussian_filter(density, sigma=(0, 0.7 * size / 64, 0.7 * size / 64))
    # quantum noise: photons reaching the detector fall with attenuation. Poisson counts, drawn with
    # the normal approximation (mean >= ~20 photons here), give more noise where tissue is dense.
    dose = _col(rng.uniform(300, 1200, n))           # photons per pixel without the patient
    expected = dose * np.exp(-3.0 * density)
    counts = expected + np.sqrt(expected) * rng.standard_normal(expected.shape, dtype=np.float32)
    measured = -np.log(np.maximum(counts, 0.5) / dose) / 3.0
    gain, offset = _col(rng.uniform(0.94, 1.06, n)), _col(rng.uniform(-0.03, 0.03, n))
    return np.clip(measured * gain + offset, 0.0, 1.0).astype(np.float32)


def _blend(hu: np.ndarray, mask: np.ndarray, value) -> np.ndarray:
    """Paint ``value`` (HU) where ``mask`` is 1, keeping ``hu`` where it is 0 (partial volume between)."""
    return hu + mask * (value - hu)


def _ct_anatomy(pts: _Patients, size: int) -> np.ndarray:
    """Each patient's axial chest CT slice in HU (P, H, W); anterior up, patient's right on the left."""
    a = pts.anatomy
    u, v = _axis(size)[None, None, :], _axis(size)[None, :, None]
    bw, bh = _col(0.88 * a["body_width"]), _col(0.62 * a["body_height"])
    fat = _col(0.05 + 0.2 * (a["habitus"] - 0.85))     # subcutaneous fat thickness grows with habitus
    (rcx, rcy, rax, ray), (lcx, lcy, lax, lay) = (tuple(_col(t) for t in side) for side in _lung_geometry(a, "ct"))
    texture, fine = _sinusoids(u, v, *pts.texture), _sinusoids(u, v, *pts.fine)
    hu = np.full((len(pts.has_lesion), size, size), -1000.0, dtype=np.float32)                              # air
    hu = _blend(hu, _ellipse(u, v, 0.0, 0.05, bw, bh, 0.01), -100.0 + 15 * texture)           # fat
    hu = _blend(hu, _ellipse(u, v, 0.0, 0.05, bw - fat, bh - fat, 0.01), 40.0 + 8 * texture)   # muscle, organs
    lungs = np.maximum(_ellipse(u, v, rcx, rcy, rax, ray, 0.01), _ellipse(u, v, lcx, lcy, lax, lay, 0.01))
    heart = _ellipse(u, v, _col(0.10 + a["heart_shift"]), -0.14, _col(0.22 * a["heart_size"]),
                     _col(0.19 * a["heart_size"]), 0.01)
    hu = _blend(hu, lungs * (1 - heart), -850.0 + 30 * fine)                                   # lungs
    for k in range(pts.vessels.shape[1]):   # lung vessels: small soft-tissue dots, easily taken for nodules
        vu, vv, vr = (_col(pts.vessels[:, k, i]) for i in range(3))
        hu = _blend(hu, lungs * _ellipse(u, v, vu, vv, vr, vr, 0.15), 30.0)
    hu = _blend(hu, _ellipse(u, v, 0.10, 0.24, 0.065, 0.065, 0.02), 45.0)                      # aorta
    hu = _blend(hu, _ellipse(u, v, 0.0, 0.42, 0.12, 0.11, 0.02), 1100.0)                        # vertebral cortex
    hu = _blend(hu, _ellipse(u, v, 0.0, 0.42, 0.095, 0.085, 0.02), 700.0 + 60 * fine)           # vertebral body
    hu = _blend(hu, _ellipse(u, v, 0.0, 0.575, 0.045, 0.04, 0.02), 15.0)                        # spinal canal
    angles = np.linspace(0.55, 2.6, 5)
    for ang in np.concatenate([angles, np.pi + angles]):                                        # ribs
        ru, rv = np.cos(ang) * (bw - fat - 0.05), np.sin(ang) * (bh - fat - 0.03) + 0.05
        hu = _blend(hu, _ellipse(u, v, ru, rv, 0.035, 0.03, 0.03), 800.0)
    for m in range(pts.markers.shape[1]):                                                       # skin electrodes
        ang = _col(pts.markers[:, m, 0] * np.pi)
        marker = _ellipse(u, v, np.cos(ang) * bw, np.sin(ang) * bh + 0.05, 0.03, 0.03, 0.05)
        hu = _blend(hu, _col(pts.markers[:, m, 2]) * marker, 1500.0)
    return hu.astype(np.float32)


def _ct_images(rng, pts: _Patients, owner: np.ndarray, base: np.ndarray, shape: np.ndarray) -> np.ndarray:
    """CT slices in HU: the nodule in partial volume with lung, scanner blur, Gaussian noise of 10–20 HU."""
    n, size = len(owner), base.shape[-1]
    # solid (~+30 HU) or part-solid (down to ~-300 HU) nodules
    hu = _blend(base, shape, _col(-300.0 + 330.0 * pts.lesion[owner, 3]))
    hu = gaussian_filter(hu, sigma=(0, 0.6 * size / 64, 0.6 * size / 64))
    hu += rng.standard_normal(hu.shape, dtype=np.float32) * _col(rng.uniform(10, 20, n))
    return hu.astype(np.float32)


def make_phantoms(kind: str = "chest", *, n_patients: int = 60, images_per_patient: int = 3,
                  size: int = 64, lesion_fraction: float = 0.5, seed: int = 0) -> PhantomSet:
    """Synthetic chest radiographs (``"chest"``) or chest CT slices (``"ct"``) with exact ground truth.

    ``lesion_fraction`` of the patients have a lesion in every one of their images. Each
    patient's anatomy is drawn once, then seen in ``images_per_patient`` views. The same
    arguments always give the same images; 300 images of 64 × 64 take a fraction of a second.
    """
    if kind not in KINDS:
        raise DataError(f"unknown phantom kind {kind!r}", fix=f"use one of {KINDS}")
    if n_patients < 1 or images_per_patient < 1 or not 16 <= size <= 1024:
        raise DataError(f"invalid phantom sizes: n_patients={n_patients}, images_per_patient="
                        f"{images_per_patient}, size={size}",
                        fix="use n_patients ≥ 1, images_per_patient ≥ 1 and 16 ≤ size ≤ 1024")
    if not 0.0 <= lesion_fraction <= 1.0:
        raise DataError(f"lesion_fraction must lie in [0, 1], got {lesion_fraction}", fix="e.g. lesion_fraction=0.5")
    rng = np.random.default_rng(seed)
    pts = _draw_patients(rng, kind, n_patients, lesion_fraction)
    owner = np.repeat(np.arange(n_patients), images_per_patient)
    u, v = _view_grid(rng, len(owner), size)
    shape, masks = _lesions(rng, pts, owner, u, v)
    if kind == "chest":
        images = _chest_images(rng, pts, owner, _warp(_chest_anatomy(pts, size), owner, u, v), shape)
    else:
        images = _ct_images(rng, pts, owner, _warp(_ct_anatomy(pts, size), owner, u, v), shape)
    lesion_type = np.where(pts.has_lesion, np.where(pts.malignant, 2, 1), 0)[owner]
    return PhantomSet(images=images, labels=pts.has_lesion[owner].astype(np.int64),
                      lesion_type=lesion_type.astype(np.int64), masks=masks, boxes=_boxes(masks),
                      patient_ids=np.array([f"P{i:04d}" for i in owner]),
                      modality="CR" if kind == "chest" else "CT",
                      units="detector" if kind == "chest" else "HU")
