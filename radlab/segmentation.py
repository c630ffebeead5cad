"""Lesion segmentation (Lab 10): CT phantom nodules, a classical baseline, loss choices, per-lesion scores.

The CT phantoms come with exact nodule masks. A small U-Net learns them with
``fit(task="segmentation")`` (Dice + BCE loss). Here live the pieces around it:

- a **classical baseline** on the same slices: find the lungs by a threshold, find bright
  objects inside them by Otsu's threshold, and drop objects too small to be a nodule (vessels);
  its one setting (the smallest size) is tuned on the training slices;
- **single losses** for comparison, BCE alone and soft Dice alone, trained with a short loop
  that follows ``fit``'s recipe (``fit`` offers only Dice + BCE for segmentation);
- **scores per image**: Dice and IoU, with each lesion's size and contrast, so the failures
  can be measured by lesion size;
- a reader for a real **DICOM SEG** object (pydicom-data's ``liver.dcm``), when it is installed.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from scipy.ndimage import binary_closing, binary_fill_holes, distance_transform_edt, label
from skimage.filters import threshold_otsu
from skimage.segmentation import clear_border
from torch import nn

from radlab.data.dicom import WINDOW_PRESETS
from radlab.data.phantoms import make_phantoms
from radlab.data.splits import split_by_patient
from radlab.data.transforms import to_model_input
from radlab.errors import DataError
from radlab.metrics import dice, iou

LUNG_WINDOW = WINDOW_PRESETS["lung"]   # (level, width) in HU: what the U-Net sees
#: Lesion-size groups (pixels of the true mask) used to say where segmentation fails.
SIZE_GROUPS = (("small", 0, 16), ("medium", 16, 32), ("large", 32, 10**9))


# ------------------------------------------------------------------------------------------ data

@dataclass
class SegmentationData:
    """CT phantom slices (HU), their model inputs (lung window, [0, 1]) and exact nodule masks, split by patient."""

    images_hu: np.ndarray     # (N, H, W)
    x: torch.Tensor           # (N, 1, H, W)
    masks: np.ndarray         # (N, H, W) bool
    labels: np.ndarray        # (N,) 1 = a nodule in the slice
    patient_ids: np.ndarray
    train: np.ndarray         # indices
    val: np.ndarray
    test: np.ndarray

    def part(self, name: str) -> tuple[torch.Tensor, np.ndarray]:
        """(inputs, masks) of ``"train"``, ``"val"`` or ``"test"``."""
        idx = {"train": self.train, "val": self.val, "test": self.test}[name]
        return self.x[idx], self.masks[idx]

    def note(self) -> str:
        return (f"{len(self.labels)} CT phantom slices of {len(np.unique(self.patient_ids))} patients "
                f"({int(self.labels.sum())} with a nodule), {self.images_hu.shape[-1]} px: "
                f"{len(self.train)} train / {len(self.val)} val / {len(self.test)} test, split by patient")


def load_segmentation_data(*, n_patients: int = 100, size: int = 64, lesion_fraction: float = 0.7,
                           seed: int = 0) -> SegmentationData:
    """CT phantoms (3 slices per patient; ``lesion_fraction`` of the patients with a nodule), split by patient."""
    ct = make_phantoms("ct", n_patients=n_patients, images_per_patient=3, size=size, lesion_fraction=lesion_fraction,
                       seed=seed)
    split = split_by_patient(ct.labels, ct.patient_ids, seed=seed)
    x = to_model_input(ct.images, units="HU", level_hu=LUNG_WINDOW[0], width_hu=LUNG_WINDOW[1])
    return SegmentationData(ct.images, x, ct.masks, ct.labels, ct.patient_ids,
                            np.asarray(split.train), np.asarray(split.val), np.asarray(split.test))


def make_unet(*, base: int = 8, depth: int = 3, prior: float = 0.01, seed: int = 0) -> nn.Module:
    """The lab's U-Net, its output bias set so every pixel starts at probability ``prior`` (≈ the lesion share).

    A fresh network says 0.5 everywhere; with 1 % lesion pixels its first many steps only learn
    "mostly background". Starting at the prior (the trick of Lin et al. 2017) skips that phase.
    """
    from radlab.models.unet import UNet2D  # noqa: PLC0415

    torch.manual_seed(seed)
    model = UNet2D(in_channels=1, out_channels=1, base=base, depth=depth)
    nn.init.constant_(model.head.bias, math.log(prior / (1 - prior)))
    return model


# ------------------------------------------------------------------------------------------ classical

def lung_mask(image_hu: np.ndarray, threshold_hu: float = -400.0) -> np.ndarray:
    """The lungs: air-like pixels not connected to the air around the body, holes (nodules, vessels) filled."""
    air = clear_border(np.asarray(image_hu) < threshold_hu)
    return binary_fill_holes(binary_closing(air, structure=np.ones((5, 5)), border_value=0))


def drop_small_objects(mask: np.ndarray, min_size: int) -> np.ndarray:
    """Keep only the connected objects (4-neighbours) of at least ``min_size`` pixels."""
    labels, n = label(mask)
    if n == 0 or min_size <= 1:
        return mask.astype(bool)
    sizes = np.bincount(labels.ravel())
    keep = sizes >= min_size
    keep[0] = False
    return keep[labels]


@dataclass(frozen=True)
class ClassicalSegmenter:
    """Lungs by threshold → Otsu's threshold inside them → drop objects smaller than ``min_size`` pixels."""

    min_size: int = 6
    lung_threshold_hu: float = -400.0

    def segment(self, image_hu: np.ndarray) -> np.ndarray:
        """The nodule mask of one slice (HU)."""
        image_hu = np.asarray(image_hu, dtype=np.float32)
        lungs = lung_mask(image_hu, self.lung_threshold_hu)
        if lungs.sum() < 10:
            return np.zeros(image_hu.shape, dtype=bool)
        inside = image_hu[lungs]
        bright = lungs & (image_hu > threshold_otsu(inside)) if np.ptp(inside) > 0 else np.zeros_like(lungs)
        return drop_small_objects(bright, self.min_size)

    def predict(self, images_hu: np.ndarray) -> np.ndarray:
        """Masks (N, H, W) for a stack of slices."""
        return np.stack([self.segment(img) for img in np.asarray(images_hu)])


def tune_classical(images_hu: np.ndarray, masks: np.ndarray, sizes: Sequence[int] = (1, 3, 5, 7, 9, 12, 16)
                   ) -> ClassicalSegmenter:
    """The smallest-object size with the best Dice over the given (training) slices: the baseline's one setting."""
    scores = [dice(ClassicalSegmenter(s).predict(images_hu), masks) for s in sizes]
    return ClassicalSegmenter(int(sizes[int(np.argmax(scores))]))


# ------------------------------------------------------------------------------------------ losses

class SoftDiceLoss(nn.Module):
    """1 − soft Dice over the batch: counts overlap, not pixels, so a tiny lesion weighs as much as a big one."""

    def __init__(self, smooth: float = 1.0):
        super().__init__()
        self.smooth = smooth

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        prob = torch.sigmoid(logits)
        overlap = (prob * target).sum()
        return 1 - (2 * overlap + self.smooth) / (prob.sum() + target.sum() + self.smooth)


class BCELoss(nn.Module):
    """Binary cross-entropy per pixel: with 1 % lesion pixels, 'background everywhere' already scores well."""

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.binary_cross_entropy_with_logits(logits, target)


SEGMENTATION_LOSSES = {"bce": BCELoss, "dice": SoftDiceLoss}
LOSS_NAMES = {"dice_bce": "Dice + BCE (fit's default)", "bce": "BCE alone", "dice": "Dice alone"}


def loss_of_empty_prediction(mask: np.ndarray, *, background_logit: float = -6.0) -> dict[str, float]:
    """BCE and Dice loss of a network that says 'no lesion' everywhere (confidently) on one true mask."""
    target = torch.as_tensor(np.asarray(mask, dtype=np.float32))[None, None]
    logits = torch.full_like(target, background_logit)
    return {"bce": float(BCELoss()(logits, target)), "dice": float(SoftDiceLoss(smooth=0.0)(logits, target)),
            "pixel_accuracy": float(1 - target.mean())}


@dataclass
class LossRun:
    """A U-Net trained with one loss alone: the model and its validation Dice per epoch."""

    loss: str
    model: nn.Module
    val_dice: list[float]
    seconds: float


def train_with_loss(model: nn.Module, data: SegmentationData, loss: str, *, epochs: int = 6, batch_size: int = 16,
                    lr: float = 3e-3, seed: int = 0) -> LossRun:
    """Train with BCE alone or Dice alone, following ``fit``'s recipe (AdamW, one-cycle, same seed and batches).

    ``fit(task="segmentation")`` offers only Dice + BCE; this short loop swaps the loss and keeps the rest.
    """
    import time  # noqa: PLC0415

    from radlab.device import seed_everything  # noqa: PLC0415

    if loss not in SEGMENTATION_LOSSES:
        raise ValueError(f"loss {loss!r}: use one of {list(SEGMENTATION_LOSSES)} (or fit() for Dice + BCE)")
    started = time.perf_counter()
    generator = seed_everything(seed)
    criterion = SEGMENTATION_LOSSES[loss]()
    x, masks = data.part("train")
    y = torch.as_tensor(masks, dtype=torch.float32)[:, None]
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
    steps = math.ceil(len(x) / batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=max(epochs * steps, 2))
    val_dice = []
    for _ in range(epochs):
        model.train()
        for batch in torch.randperm(len(x), generator=generator).split(batch_size):
            optimizer.zero_grad(set_to_none=True)
            criterion(model(x[batch]), y[batch]).backward()
            optimizer.step()
            schedule.step()
        val_dice.append(dice(predict_probability(model, data.part("val")[0]) > 0.5, data.part("val")[1]))
    model.eval()
    return LossRun(loss, model, val_dice, time.perf_counter() - started)


def predict_probability(model: nn.Module, x: torch.Tensor) -> np.ndarray:
    """Per-pixel lesion probability (N, H, W)."""
    from radlab.train import predict  # noqa: PLC0415

    return predict(model, x)


# ------------------------------------------------------------------------------------------ scores

def lesion_contrast_hu(image_hu: np.ndarray, mask: np.ndarray, ring: int = 3) -> float:
    """Mean HU inside the lesion minus the mean of the lung around it (``ring`` pixels outside); NaN without one."""
    if not mask.any():
        return float("nan")
    distance = distance_transform_edt(~mask)
    around = (distance > 0) & (distance <= ring) & (image_hu < -400)
    if not around.any():
        around = (distance > 0) & (distance <= ring)
    return float(image_hu[mask].mean() - image_hu[around].mean())


@dataclass
class SegmentationScores:
    """Per-image scores of one method on one set of slices (Dice and IoU of an empty pair are 1)."""

    method: str
    dice: np.ndarray                  # (N,)
    iou: np.ndarray                   # (N,)
    lesion_area: np.ndarray           # (N,) pixels of the true mask
    lesion_contrast_hu: np.ndarray    # (N,) NaN without a lesion
    false_positive_pixels: np.ndarray  # (N,) predicted pixels outside the true mask

    @property
    def has_lesion(self) -> np.ndarray:
        return self.lesion_area > 0

    def median_dice(self) -> float:
        """Median Dice over the slices with a lesion."""
        return float(np.median(self.dice[self.has_lesion]))

    def mean_dice(self) -> float:
        """Mean Dice over the slices with a lesion."""
        return float(np.mean(self.dice[self.has_lesion]))

    def mean_iou(self) -> float:
        return float(np.mean(self.iou[self.has_lesion]))

    def clean_negatives(self) -> float:
        """Share of lesion-free slices where nothing at all was predicted."""
        neg = ~self.has_lesion
        return float(np.mean(self.false_positive_pixels[neg] == 0)) if neg.any() else float("nan")

    def by_size(self) -> dict[str, tuple[float, int]]:
        """Mean Dice and count per lesion-size group (:data:`SIZE_GROUPS`)."""
        out = {}
        for name, low, high in SIZE_GROUPS:
            pick = self.has_lesion & (self.lesion_area >= low) & (self.lesion_area < high)
            out[name] = (float(np.mean(self.dice[pick])) if pick.any() else float("nan"), int(pick.sum()))
        return out

    def worst_size_group(self) -> str:
        groups = {k: v for k, v in self.by_size().items() if v[1] > 0}
        return min(groups, key=lambda k: groups[k][0])

    def __str__(self) -> str:
        sizes = ", ".join(f"{k} {d:.2f} (n={n})" for k, (d, n) in self.by_size().items())
        return (f"{self.method}: mean Dice {self.mean_dice():.3f}, median {self.median_dice():.3f}, "
                f"mean IoU {self.mean_iou():.3f} on {int(self.has_lesion.sum())} slices with a nodule; "
                f"by size: {sizes}; clean lesion-free slices {self.clean_negatives():.0%}")


def score_masks(pred: np.ndarray, true: np.ndarray, images_hu: np.ndarray, method: str = "") -> SegmentationScores:
    """Dice, IoU, lesion size and contrast, false-positive pixels: one value per slice."""
    pred, true = np.asarray(pred, dtype=bool), np.asarray(true, dtype=bool)
    return SegmentationScores(method, dice(pred, true, per_image=True), iou(pred, true, per_image=True),
                              true.reshape(len(true), -1).sum(1),
                              np.array([lesion_contrast_hu(img, m) for img, m in zip(images_hu, true)]),
                              (pred & ~true).reshape(len(pred), -1).sum(1))


def dice_vs_threshold(prob: np.ndarray, true: np.ndarray, thresholds: Sequence[float]) -> np.ndarray:
    """Mean per-image Dice over slices with a lesion, at each probability threshold."""
    has = np.asarray(true).reshape(len(true), -1).any(1)
    return np.array([float(np.mean(dice(prob[has] > t, true[has], per_image=True))) for t in thresholds])


# ------------------------------------------------------------------------------------------ DICOM SEG

@dataclass
class DicomSeg:
    """What a DICOM Segmentation object holds: binary frames, which segment each frame is, and geometry."""

    path: Path
    frames: np.ndarray               # (F, H, W) bool
    frame_segments: list[int]        # the segment number of each frame
    segment_labels: dict[int, str]   # segment number -> label ("Liver")
    algorithm: dict[int, str]        # segment number -> MANUAL / SEMIAUTOMATIC / AUTOMATIC
    pixel_spacing_mm: tuple[float, float]
    referenced_images: int
    info: dict[str, Any] = field(default_factory=dict)

    def area_mm2(self) -> np.ndarray:
        """The segmented area of each frame in mm²."""
        dy, dx = self.pixel_spacing_mm
        return self.frames.reshape(len(self.frames), -1).sum(1) * dy * dx


def read_dicom_seg(path: str | Path) -> DicomSeg:
    """Read a DICOM SEG file (Modality SEG): its frames as masks and its segment descriptions."""
    import pydicom  # noqa: PLC0415

    path = Path(path)
    try:
        ds = pydicom.dcmread(path)
    except (OSError, pydicom.errors.InvalidDicomError) as err:
        raise DataError(f"cannot read {path.name} as DICOM ({err})", path=path, fix="pass a DICOM SEG file") from err
    if ds.get("Modality") != "SEG":
        raise DataError(f"{path.name} is a {ds.get('Modality', '?')} object, not a segmentation (SEG)", path=path,
                        fix="pass a DICOM SEG file, e.g. pydicom-data's liver.dcm")
    frames = np.asarray(ds.pixel_array).astype(bool)
    frames = frames[None] if frames.ndim == 2 else frames
    per_frame = ds.get("PerFrameFunctionalGroupsSequence", [])
    frame_segments = [int(f.SegmentIdentificationSequence[0].ReferencedSegmentNumber) for f in per_frame] or [1]
    segments = {int(s.SegmentNumber): str(s.get("SegmentLabel", "")) for s in ds.SegmentSequence}
    algorithm = {int(s.SegmentNumber): str(s.get("SegmentAlgorithmType", "")) for s in ds.SegmentSequence}
    spacing = (1.0, 1.0)
    try:
        spacing = tuple(float(v) for v in ds.SharedFunctionalGroupsSequence[0].PixelMeasuresSequence[0].PixelSpacing)
    except (AttributeError, IndexError, KeyError):
        pass
    referenced = sum(len(s.get("ReferencedInstanceSequence", [])) for s in ds.get("ReferencedSeriesSequence", []))
    info = {"SegmentationType": str(ds.get("SegmentationType", "")), "Rows": int(ds.Rows), "Columns": int(ds.Columns),
            "SOPClassUID": str(ds.SOPClassUID)}
    return DicomSeg(path, frames, frame_segments, segments, algorithm, spacing, referenced, info)


def sample_dicom_seg() -> Path | None:
    """pydicom-data's ``liver.dcm`` when it is installed (never downloads); None otherwise."""
    try:
        from pydicom.data import get_testdata_file  # noqa: PLC0415

        found = get_testdata_file("liver.dcm", download=False)
    except Exception:  # noqa: BLE001  (no pydicom-data, or its store is missing: the section is optional)
        return None
    return Path(found) if found else None


__all__ = ["BCELoss", "ClassicalSegmenter", "DicomSeg", "LOSS_NAMES", "LUNG_WINDOW", "LossRun", "SIZE_GROUPS",
           "SegmentationData", "SegmentationScores", "SoftDiceLoss", "dice_vs_threshold", "lesion_contrast_hu",
           "load_segmentation_data", "loss_of_empty_prediction", "lung_mask", "make_unet", "predict_probability",
           "read_dicom_seg", "sample_dicom_seg", "score_masks", "train_with_loss", "tune_classical"]
