"""Near-duplicate images that survive shifts, crops, small rotations, scaling, flips, re-windowing and JPEG.

A copy of an image that was shifted by two pixels, mirrored, or saved again with another
window no longer matches byte for byte, and a plain correlation of the two images can fall
below the correlation of two *different* patients' radiographs (PneumoniaMNIST's look alike:
up to about 0.97). Two steps find such copies quickly:

1. **Candidates.** Each image is shrunk to 8 × 8 and compared with every image of the
   other split at 9 small shifts and both mirror images (a few matrix products); each image
   keeps its ``k`` most similar partners.
2. **Registration.** Each candidate pair is aligned by Lucas–Kanade (Gauss–Newton on a
   similarity transform: shift, rotation, scale), coarse to fine, all pairs at once.
   Brightness and contrast are taken out by normalising both images. The *similarity* is
   the correlation of the aligned images (inside a margin), and two images are
   near-duplicates when it reaches the threshold.

A copy aligns almost perfectly (planted copies of PneumoniaMNIST images: similarity 0.97–1.0,
most above 0.98); two different patients stay below 0.968 there, even after the alignment
did its best to make them match. Images are compared in 32 × 32, so the whole of
PneumoniaMNIST (5030 images) takes about 11 s on a busy 2-core machine (load average 3.4).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from radlab.errors import DataError

#: Side of the square images are compared in, and the margin left out of the comparison.
SIZE, MARGIN = 32, 4
#: Similarity at or above which two images count as near-duplicates: PneumoniaMNIST's different
#: images reach 0.968 at most (after alignment), most planted copies 0.98 and more (tests/test_duplicates.py).
DEFAULT_THRESHOLD = 0.972
#: Candidates per image aligned at half size, and the best of those refined at full size.
CANDIDATES, REFINE = 8, 2


@dataclass(frozen=True)
class NearDuplicate:
    """Two different images, in two splits, that align into (almost) the same picture.

    ``similarity`` is the correlation after alignment; ``flipped``, ``shift_px`` (dy, dx in
    the first image's pixels), ``rotation_deg`` and ``scale`` say how the second image was
    moved onto the first.
    """

    index_a: int
    index_b: int
    similarity: float
    flipped: bool = False
    shift_px: tuple[float, float] = (0.0, 0.0)
    rotation_deg: float = 0.0
    scale: float = 1.0

    def describe(self) -> str:
        """The transform in words, e.g. ``"mirrored, shifted (2.0, -1.0) px, rotated 3.1°"``."""
        parts = ["mirrored"] if self.flipped else []
        if max(abs(self.shift_px[0]), abs(self.shift_px[1])) >= 0.5:
            parts.append(f"shifted ({self.shift_px[0]:.1f}, {self.shift_px[1]:.1f}) px")
        if abs(self.rotation_deg) >= 0.5:
            parts.append(f"rotated {self.rotation_deg:.1f}°")
        if abs(self.scale - 1) >= 0.02:
            parts.append(f"scaled ×{self.scale:.2f}")
        return ", ".join(parts) or "same geometry"


def as_2d(images: np.ndarray) -> np.ndarray | None:
    """(N, H, W) float32 grey images, or None when the images are volumes (not 2-D pictures).

    Channel-first colour or single-channel images (N, C, H, W) with C <= 4 are averaged over C.
    """
    x = np.asarray(images, dtype=np.float32)
    if x.ndim == 4 and x.shape[1] <= 4:
        x = x.mean(axis=1)
    if x.ndim != 3 or min(x.shape[1:]) < 8:
        return None
    return x


def prepare(images: np.ndarray, size: int = SIZE) -> np.ndarray:
    """Images resized to ``size`` × ``size`` (anti-aliased), each scaled to mean 0 and std 1."""
    x = as_2d(images)
    if x is None:
        raise DataError(f"near-duplicate search needs 2-D images, got shape {np.shape(images)}",
                        fix="pass (N, H, W) or (N, C, H, W) images")
    if not np.isfinite(x).all():
        raise DataError("the images hold NaN or infinite values", fix="replace them (np.nan_to_num) first")
    h, w = x.shape[1:]
    sigma = (max(h / size, 1.0) - 1.0) / 2.0, (max(w / size, 1.0) - 1.0) / 2.0
    if max(sigma) > 0:
        x = ndimage.gaussian_filter(x, (0, *sigma))
    if (h, w) != (size, size):
        x = ndimage.zoom(x, (1, size / h, size / w), order=1, grid_mode=True, mode="nearest")
    x = x - x.mean(axis=(1, 2), keepdims=True)
    return (x / np.maximum(x.std(axis=(1, 2), keepdims=True), 1e-6)).astype(np.float32)


# --------------------------------------------------------------------------- step 1: candidates

def _unit(rows: np.ndarray) -> np.ndarray:
    rows = rows - rows.mean(axis=1, keepdims=True)
    return rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-6)


def _thumbs(x: np.ndarray, side: int = 16) -> np.ndarray:
    """``side`` × ``side`` block means of (N, S, S) images."""
    n, s = len(x), x.shape[1] // side
    return x.reshape(n, side, s, side, s).mean(axis=(2, 4))


#: Thumbnail side, window side and the window offsets tried (thumbnail pixels) in step 1.
THUMB, WINDOW, REACH = 16, 12, 2


def candidates(ref: np.ndarray, query: np.ndarray, k: int = 8
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The ``k`` most similar reference images for every query image, with a first alignment.

    Compares the centre 12 × 12 of each reference's 16 × 16 thumbnail with 25 shifted windows
    of each query thumbnail, mirrored and not (50 matrix products). Returns (query index, ref
    index, flipped, dy, dx, score), the shifts in pixels of the SIZE × SIZE images.
    """
    k = int(min(k, len(ref)))
    lo = (THUMB - WINDOW) // 2
    r = _unit(_thumbs(ref, THUMB)[:, lo:lo + WINDOW, lo:lo + WINDOW].reshape(len(ref), -1))
    thumbs = _thumbs(query, THUMB)
    best = np.full((len(query), len(ref)), -np.inf, dtype=np.float32)
    which = np.zeros((len(query), len(ref)), dtype=np.int8)
    offsets = range(lo - REACH, lo + REACH + 1)
    windows = [(f, oy, ox) for f in (0, 1) for oy in offsets for ox in offsets]
    for w, (f, oy, ox) in enumerate(windows):
        t = thumbs[:, :, ::-1] if f else thumbs
        q = _unit(np.ascontiguousarray(t[:, oy:oy + WINDOW, ox:ox + WINDOW]).reshape(len(query), -1))
        score = q @ r.T
        np.copyto(which, w, where=score > best)
        np.maximum(best, score, out=best)
    top = np.argpartition(-best, k - 1, axis=1)[:, :k] if k < len(ref) else \
        np.tile(np.arange(len(ref)), (len(query), 1))
    qi = np.repeat(np.arange(len(query)), top.shape[1])
    ri = top.ravel()
    chosen = np.array(windows)[which[qi, ri]]
    cell = query.shape[1] // THUMB
    return (qi, ri, chosen[:, 0].astype(bool), (chosen[:, 1] - lo) * cell, (chosen[:, 2] - lo) * cell,
            best[qi, ri])


# --------------------------------------------------------------------------- step 2: registration

def _normalise(x: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Zero mean, unit norm inside ``mask``; also returns the scale used (for the gradients)."""
    x = x - (x * mask).sum(axis=(1, 2), keepdims=True) / mask.sum()
    norm = np.sqrt(((x * mask) ** 2).sum(axis=(1, 2), keepdims=True))
    norm = np.maximum(norm, 1e-6)
    return x / norm, norm


def _lucas_kanade(ref: np.ndarray, query: np.ndarray, p: np.ndarray, sigmas: tuple[float, ...],
                  steps: int, margin: int) -> np.ndarray:
    """Gauss–Newton steps moving ``p`` (a, b, tx, ty) so that warped ``query`` matches ``ref``."""
    n, size = ref.shape[0], ref.shape[1]
    centre = (size - 1) / 2.0
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) - centre
    mask = _mask(size, margin)
    p = p.copy()
    for sigma in sigmas:
        r_s = ndimage.gaussian_filter(ref, (0, sigma, sigma)) if sigma else ref
        q_s = ndimage.gaussian_filter(query, (0, sigma, sigma)) if sigma else query
        r_n, _ = _normalise(r_s, mask)
        for _ in range(steps):
            qw = _warp(q_s, p)
            q_n, scale = _normalise(qw, mask)
            gy, gx = np.gradient(qw, axis=(1, 2))
            gx, gy = gx / scale, gy / scale
            sd = (np.stack([gx * xx + gy * yy, -gx * yy + gy * xx, gx, gy], axis=1) * mask).reshape(n, 4, -1)
            hessian = sd @ sd.transpose(0, 2, 1) + 1e-6 * np.eye(4, dtype=np.float32)
            rhs = (sd @ (r_n - q_n).reshape(n, -1, 1))[..., 0]
            step = np.linalg.solve(hessian, rhs[..., None])[..., 0]
            p = p + np.clip(step, [-0.05, -0.05, -1.0, -1.0], [0.05, 0.05, 1.0, 1.0]).astype(np.float32)
            p[:, :2] = np.clip(p[:, :2], -0.2, 0.2)
            p[:, 2:] = np.clip(p[:, 2:], -size / 4, size / 4)
    return p


def _mask(size: int, margin: int) -> np.ndarray:
    mask = np.zeros((size, size), dtype=np.float32)
    mask[margin:size - margin, margin:size - margin] = 1.0
    return mask


def _warp(images: np.ndarray, params: np.ndarray) -> np.ndarray:
    """Bilinear resampling of each image at its similarity-warped grid (edges repeated outside)."""
    n, size = images.shape[0], images.shape[1]
    centre = (size - 1) / 2.0
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) - centre
    a, b, tx, ty = (params[:, i, None, None] for i in range(4))
    x_src = np.clip((1 + a) * xx - b * yy + tx + centre, 0, size - 1)
    y_src = np.clip(b * xx + (1 + a) * yy + ty + centre, 0, size - 1)
    x0 = np.minimum(x_src.astype(np.int64), size - 2)
    y0 = np.minimum(y_src.astype(np.int64), size - 2)
    wx, wy = (x_src - x0).astype(np.float32), (y_src - y0).astype(np.float32)
    flat = images.reshape(-1)
    i00 = (np.arange(n) * size * size)[:, None, None] + y0 * size + x0
    top = flat[i00] * (1 - wx) + flat[i00 + 1] * wx
    bottom = flat[i00 + size] * (1 - wx) + flat[i00 + size + 1] * wx
    return top * (1 - wy) + bottom * wy


#: Weight of the fine-detail correlation in the similarity (see :func:`similarity`).
DETAIL_WEIGHT = 0.2


def similarity(ref: np.ndarray, aligned: np.ndarray, margin: int = MARGIN) -> np.ndarray:
    """Correlation of aligned images, mixed with the correlation of their fine detail.

    ``(r + w · r_detail) / (1 + w)``: *r* is the correlation of the images, *r_detail* that of
    the images minus a blurred copy (σ = 1.5 px). Different patients' chests share their
    coarse shape (r up to ≈ 0.987 after alignment) but not their fine detail; copies share both.
    """
    mask = _mask(ref.shape[1], margin)
    r_n, _ = _normalise(ref, mask)
    q_n, _ = _normalise(aligned, mask)
    detail = lambda x: x - ndimage.gaussian_filter(x, (0, 1.5, 1.5))  # noqa: E731
    r_d, _ = _normalise(detail(ref), mask)
    q_d, _ = _normalise(detail(aligned), mask)
    corr = (r_n * q_n * mask).sum(axis=(1, 2))
    corr_detail = (r_d * q_d * mask).sum(axis=(1, 2))
    return (corr + DETAIL_WEIGHT * corr_detail) / (1 + DETAIL_WEIGHT)


def _half(x: np.ndarray) -> np.ndarray:
    n, s = x.shape[0], x.shape[1] // 2
    return x.reshape(n, s, 2, s, 2).mean(axis=(2, 4))


def _start(query: np.ndarray, flipped: np.ndarray, dy: np.ndarray, dx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    q = np.where(np.asarray(flipped)[:, None, None], query[:, :, ::-1], query).astype(np.float32)
    p = np.zeros((len(q), 4), dtype=np.float32)
    p[:, 2], p[:, 3] = np.asarray(dx, dtype=np.float32), np.asarray(dy, dtype=np.float32)
    return q, p


def coarse_register(ref: np.ndarray, query: np.ndarray, flipped: np.ndarray, dy: np.ndarray, dx: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Half-size alignment of every pair: (similarity at half size, params in full-size pixels)."""
    q, p = _start(query, flipped, dy, dx)
    p[:, 2:] /= 2
    ref_h, q_h = _half(ref), _half(q)
    p = _lucas_kanade(ref_h, q_h, p, sigmas=(1.0, 0.5), steps=5, margin=MARGIN // 2)
    sim = similarity(ref_h, _warp(q_h, p), margin=MARGIN // 2)
    p[:, 2:] *= 2
    return sim, p


def register(ref: np.ndarray, query: np.ndarray, flipped: np.ndarray, dy: np.ndarray, dx: np.ndarray,
             params: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Align each ``query[i]`` (mirrored if ``flipped[i]``) onto ``ref[i]``; return (similarity, params).

    Forward-additive Lucas–Kanade on x' = (1 + a) x − b y + tx, y' = b x + (1 + a) y + ty
    (coordinates from the image centre), started at the shift (dy, dx) — first on half-size
    images (:func:`coarse_register`), unless ``params`` gives that start — then at full size.
    ``params`` holds (a, b, tx, ty) per pair.
    """
    q, _ = _start(query, flipped, dy, dx)
    if params is None:
        _, params = coarse_register(ref, query, flipped, dy, dx)
    p = _lucas_kanade(ref, q, params, sigmas=(0.7,), steps=3, margin=MARGIN)
    return similarity(ref, _warp(q, p)), p


class RegistrationCache:
    """Alignments already computed, so that searching the same images again aligns only new pairs.

    Each pair's alignment depends only on the two (prepared) images and the start that
    :func:`candidates` found (mirrored or not, shift), never on the other pairs aligned with it, so a
    result is keyed by those: the two images' bytes (hashed) and the start. A lab that re-splits the
    same images (Lab 2's seed slider) meets mostly the same pairs again: with a cache, a new seed
    aligns only the pairs it has not seen. At most ``max_pairs`` results are kept per stage (about
    250 bytes each); when that would be exceeded, the stage starts over empty.
    """

    def __init__(self, max_pairs: int = 100_000):
        self.max_pairs = int(max_pairs)
        self._results: dict[str, dict[tuple, tuple[float, np.ndarray]]] = {"coarse": {}, "fine": {}}
        self.hits = self.misses = 0

    def __len__(self) -> int:
        return sum(len(r) for r in self._results.values())

    def align(self, stage: str, keys: list[tuple], compute) -> tuple[np.ndarray, np.ndarray]:
        """(similarity, params) per key; ``compute(rows)`` aligns only the pairs at rows not seen yet."""
        table = self._results[stage]
        sim, params = np.empty(len(keys), dtype=np.float32), np.empty((len(keys), 4), dtype=np.float32)
        todo = []
        for i, key in enumerate(keys):
            known = table.get(key)
            if known is None:
                todo.append(i)
            else:
                sim[i], params[i] = known
        self.hits += len(keys) - len(todo)
        self.misses += len(todo)
        if todo:
            rows = np.array(todo, dtype=np.int64)
            sim[rows], params[rows] = compute(rows)
            if len(table) + len(todo) > self.max_pairs:
                table.clear()
            for i in todo[:self.max_pairs]:
                table[keys[i]] = (float(sim[i]), params[i].copy())
        return sim, params


def _pair_keys(a: np.ndarray, b: np.ndarray, ri: np.ndarray, qi: np.ndarray, flipped: np.ndarray,
               dy: np.ndarray, dx: np.ndarray) -> list[tuple]:
    """A key per candidate pair: both images' bytes (hashed) and where the alignment starts."""
    ha = {i: hash(a[i].tobytes()) for i in np.unique(ri).tolist()}
    hb = {j: hash(b[j].tobytes()) for j in np.unique(qi).tolist()}
    return [(ha[i], hb[j], f, y, x) for i, j, f, y, x in
            zip(ri.tolist(), qi.tolist(), np.asarray(flipped).tolist(), np.asarray(dy).tolist(),
                np.asarray(dx).tolist())]


def find_near_duplicates(images_a: np.ndarray, images_b: np.ndarray, *, threshold: float = DEFAULT_THRESHOLD,
                         k: int = CANDIDATES, prepared: bool = False, pixel_scale: float | None = None,
                         cache: RegistrationCache | None = None) -> list[NearDuplicate]:
    """Pairs (i in ``images_a``, j in ``images_b``) that align with similarity ≥ ``threshold``.

    Each image of ``images_b`` is matched against its ``k`` best candidates in ``images_a``.
    ``prepared=True`` skips :func:`prepare` (for callers that prepare once and slice; give
    ``pixel_scale``, original pixels per compared pixel, to report shifts in original pixels).
    ``cache`` keeps the alignments for the next search over (some of) the same images.
    The result is sorted by similarity, highest first, at most one pair per (i, j).
    """
    a = images_a if prepared else prepare(images_a)
    b = images_b if prepared else prepare(images_b)
    if pixel_scale is None:
        pixel_scale = 1.0 if prepared else float(np.shape(images_a)[-1]) / SIZE
    if len(a) == 0 or len(b) == 0:
        return []
    qi, ri, flipped, dy, dx, _ = candidates(a, b, k=k)
    keys = None if cache is None else _pair_keys(a, b, ri, qi, flipped, dy, dx)

    def coarse_rows(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return coarse_register(a[ri[rows]], b[qi[rows]], flipped[rows], dy[rows], dx[rows])

    coarse, params = coarse_rows(np.arange(len(qi))) if cache is None else cache.align("coarse", keys, coarse_rows)
    # refine at full size only each query's best REFINE candidates (a copy comes first or second)
    order = np.lexsort((-coarse, qi))
    rank = np.arange(len(order)) - np.searchsorted(qi[order], qi[order])
    best = np.sort(order[rank < REFINE])
    qi, ri, flipped, dy, dx, params = qi[best], ri[best], flipped[best], dy[best], dx[best], params[best]

    def fine_rows(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return register(a[ri[rows]], b[qi[rows]], flipped[rows], dy[rows], dx[rows], params=params[rows])

    sim, params = fine_rows(np.arange(len(qi))) if cache is None else \
        cache.align("fine", [keys[i] for i in best.tolist()], fine_rows)
    found: dict[tuple[int, int], NearDuplicate] = {}
    for t in np.flatnonzero(sim >= threshold - 1e-6).tolist():
        pa, pb, tx, ty = (float(v) for v in params[t])
        pair = NearDuplicate(int(ri[t]), int(qi[t]), float(sim[t]), bool(flipped[t]),
                             (round(ty * pixel_scale, 2), round(tx * pixel_scale, 2)),
                             float(np.degrees(np.arctan2(pb, 1 + pa))), float(np.hypot(1 + pa, pb)))
        key = (pair.index_a, pair.index_b)
        if key not in found or found[key].similarity < pair.similarity:
            found[key] = pair
    return sorted(found.values(), key=lambda d: -d.similarity)


__all__ = ["NearDuplicate", "RegistrationCache", "find_near_duplicates", "prepare", "candidates", "register",
           "similarity", "as_2d", "DEFAULT_THRESHOLD", "DETAIL_WEIGHT", "SIZE"]
