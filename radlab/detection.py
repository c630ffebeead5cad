"""Detection from a heat map, scored as an FROC curve (course chapter 9).

A segmentation network's probability map is turned into point detections (local maxima with
their probability as score); a detection is a hit when it falls inside a lesion (or within
``radius`` pixels of it), and each lesion counts once. Sweeping the score threshold gives the
FROC curve: lesion sensitivity against false positives per image, the standard way CAD
systems for nodules or fractures are reported (Chakraborty 1989).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.ndimage import binary_dilation, label, maximum_filter


@dataclass(frozen=True)
class Detection:
    """One detection (chapter 9): the image it is in, its score and its pixel position."""

    image: int
    score: float
    row: int
    col: int


def detect_peaks(heatmaps: Any, *, min_score: float = 0.05, min_distance: int = 3) -> list[Detection]:
    """Local maxima of each heat map above ``min_score``, at least ``min_distance`` px apart (chapter 9)."""
    maps = np.asarray(heatmaps, dtype=float)
    if maps.ndim == 2:
        maps = maps[None]
    if maps.ndim != 3:
        raise ValueError(f"heat maps must be (N, H, W) or (H, W), got shape {maps.shape}")
    found = []
    for k, m in enumerate(maps):
        peaks = (m == maximum_filter(m, size=2 * min_distance + 1, mode="constant")) & (m >= min_score)
        found += [Detection(k, float(m[r, c]), int(r), int(c)) for r, c in zip(*np.nonzero(peaks))]
    return sorted(found, key=lambda d: -d.score)


@dataclass
class FROC:
    """An FROC curve (chapter 9): per threshold, false positives per image and lesion sensitivity."""

    thresholds: np.ndarray
    fp_per_image: np.ndarray
    sensitivity: np.ndarray
    n_lesions: int
    n_images: int

    def sensitivity_at(self, fp_per_image: float) -> float:
        """The highest sensitivity reached with at most ``fp_per_image`` false positives per image."""
        ok = self.fp_per_image <= fp_per_image
        return float(self.sensitivity[ok].max()) if ok.any() else 0.0


def lesion_labels(mask: Any, merge_px: int = 2) -> np.ndarray:
    """Number each lesion of a mask; pieces closer than ``merge_px`` pixels (a spiculation) are one lesion (chapter 9)."""
    mask = np.asarray(mask, dtype=bool)
    grown = binary_dilation(mask, iterations=merge_px) if merge_px > 0 else mask
    joined = label(grown, structure=np.ones((3, 3)))[0] * mask
    ids = np.unique(joined[mask])
    renumber = np.zeros(int(joined.max()) + 1, dtype=int)
    renumber[ids] = np.arange(1, len(ids) + 1)
    return renumber[joined]


def froc(detections: Sequence[Detection], masks: Any, *, radius: float = 2.0, merge_px: int = 2) -> FROC:
    """Score detections against lesion masks: each lesion found once, every other detection a false positive (chapter 9)."""
    masks = np.asarray(masks, dtype=bool)
    if masks.ndim != 3:
        raise ValueError(f"masks must be (N, H, W), got shape {masks.shape}")
    labelled = [lesion_labels(m, merge_px) for m in masks]
    n_lesions = int(sum(lab.max() for lab in labelled))
    rows, cols = np.indices(masks.shape[1:])
    hit_lesion = []                              # the lesion (image, id) each detection hits, or None
    for d in detections:
        lab = labelled[d.image]
        near = (rows - d.row) ** 2 + (cols - d.col) ** 2 <= radius ** 2
        ids = np.unique(lab[near & (lab > 0)])
        hit_lesion.append((d.image, int(ids[0])) if ids.size else None)
    thresholds = np.array(sorted({d.score for d in detections}, reverse=True) or [1.0])
    fps, sens = [], []
    for t in thresholds:
        kept = [h for d, h in zip(detections, hit_lesion) if d.score >= t]
        found = {h for h in kept if h is not None}
        fps.append(sum(h is None for h in kept) / len(masks))
        sens.append(len(found) / n_lesions if n_lesions else float("nan"))
    return FROC(thresholds, np.array(fps), np.array(sens), n_lesions, len(masks))


__all__ = ["FROC", "Detection", "detect_peaks", "froc", "lesion_labels"]
