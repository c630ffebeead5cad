"""Is a flipped chest radiograph still a plausible chest radiograph? A measurement (course chapter 7).

:func:`closer_to_atlas` compares each image with the mean image of a reference set (an
"atlas" of normal orientation, heart on the patient's left) and with that atlas mirrored.
Real chests resemble the atlas; horizontally flipped ones resemble its mirror: the flip has
made images of situs inversus, which almost no real patient has.
"""
from __future__ import annotations

from typing import Any

import numpy as np

#: Which augmentations preserve the meaning of a chest radiograph (chapter 7's table).
CHEST_RADIOGRAPH_AUGMENTATIONS: dict[str, str] = {
    "shift": "plausible: patients are never centred exactly the same way",
    "rotate": "plausible within ±10°: patients stand or lie slightly rotated",
    "zoom": "plausible (0.9–1.1): distance to the detector and body size vary",
    "contrast": "plausible: exposure, processing and display differ between rooms and vendors",
    "noise": "plausible: a lower dose or a thicker patient gives more quantum noise",
    "flip": "NOT label-preserving as a rule: the heart moves to the right (dextrocardia / situs inversus) "
            "and L/R markers, lines and tubes swap sides",
    "vflip": "implausible: nobody is imaged upside down",
}


def _correlation(images: np.ndarray, template: np.ndarray) -> np.ndarray:
    a = images - images.mean(axis=(1, 2), keepdims=True)
    b = template - template.mean()
    return (a * b).sum(axis=(1, 2)) / np.sqrt((a ** 2).sum(axis=(1, 2)) * (b ** 2).sum() + 1e-12)


def closer_to_atlas(images: Any, reference: Any) -> np.ndarray:
    """True for each image that correlates better with the reference mean image than with its mirror (chapter 7)."""
    images = np.asarray(images, dtype=np.float64)
    atlas = np.asarray(reference, dtype=np.float64).mean(axis=0)
    if images.ndim != 3 or atlas.shape != images.shape[1:]:
        raise ValueError(f"images (N, H, W) and reference (M, H, W) must share H, W; got {images.shape}, "
                         f"reference mean {atlas.shape}")
    return _correlation(images, atlas) > _correlation(images, atlas[:, ::-1])


def augmented_views(image: Any, names: tuple[str, ...] = ("shift", "rotate", "zoom", "contrast", "noise"), *,
                    seed: int = 0) -> dict[str, np.ndarray]:
    """The image, its left-right mirror, and one random draw of each named augmentation (chapter 7)."""
    import torch  # noqa: PLC0415  (torch only when views are drawn)

    from radlab.data.transforms import augmentation  # noqa: PLC0415

    image = np.asarray(image, dtype=np.float32)
    views = {"original": image, "flip": image[:, ::-1].copy()}
    for name in names:
        torch.manual_seed(seed)
        views[name] = augmentation([name])(torch.from_numpy(image)[None, None])[0, 0].numpy()
    return views


__all__ = ["CHEST_RADIOGRAPH_AUGMENTATIONS", "augmented_views", "closer_to_atlas"]
