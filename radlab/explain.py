"""Where does the CNN look? CAM, Grad-CAM and saliency maps, scored against the lesion mask.

Three ways to turn a prediction into a heatmap over the image:

- **CAM** (Zhou et al., CVPR 2016) for networks whose head is global average pooling (GAP)
  followed by one linear layer: the class score is ``sum_k w_k · mean(A_k)``, so
  ``sum_k w_k · A_k`` shows *where* each part of the score comes from. No gradients.
- **Grad-CAM** (Selvaraju et al., ICCV 2017) for any CNN: weight each feature map of a
  chosen layer by the spatial mean of the score's gradient, ``w_k = mean(∂score/∂A_k)``.
  For a GAP net at the GAP input that gradient is ``w_k / (h·w)`` everywhere, so Grad-CAM
  there *is* CAM up to a constant (the tests check it).
- **Saliency** (Simonyan et al., 2014): ``|∂score/∂x|`` per pixel, optionally averaged
  over noisy copies of the image (SmoothGrad, Smilkov et al., 2017).

As in pytorch-grad-cam, CAM and Grad-CAM share one recipe (:class:`ActivationMap`) and
differ only in :meth:`ActivationMap.channel_weights`. Every map is passed through a ReLU,
upsampled bilinearly to the image size and min-max normalised to [0, 1] per image.

Targets: a binary model has one logit; class 1 ("lesion") scores ``+logit`` and class 0
scores ``-logit`` (pytorch-grad-cam's ``BinaryClassifierOutputTarget``). With ``target=None``
a binary model explains class 1, a multi-class model its predicted class.

Scores against ground truth ("right for the right reason"): the pointing game (does the
hottest pixel fall inside the lesion?) and the IoU between the thresholded map and the mask.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from radlab.device import cpu_threads, evaluating  # re-exported: attacks, viz and notebooks import it from here
from radlab.errors import DataError

Target = int | Sequence[int] | np.ndarray | torch.Tensor | None

#: The explanation methods, by the key the labs use, with a label a student reads.
METHODS: dict[str, str] = {
    "cam": "CAM (class weights × last feature maps)",
    "grad_cam": "Grad-CAM (gradient-weighted feature maps)",
    "saliency": "saliency (|∂score/∂pixel|)",
}


# ----------------------------------------------------------------------------- helpers

def as_batch(x: Any, model: nn.Module | None = None) -> torch.Tensor:
    """Images as a float tensor (N, C, H, W) on the model's device; (H, W) and (N, H, W) get axes added."""
    t = x.detach() if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x))
    t = t.float()
    if t.ndim == 2:
        t = t[None, None]
    elif t.ndim == 3:
        t = t[:, None]
    if t.ndim != 4:
        raise DataError(f"expected images (N, C, H, W), got shape {tuple(t.shape)}",
                        fix="pass a batch of 2-D images, e.g. the test split's x")
    if model is not None:
        param = next(model.parameters(), None)
        if param is not None:
            t = t.to(param.device)
    return t


def conv_layer_names(model: nn.Module) -> list[str]:
    """Names (as in ``model.named_modules()``) of the model's Conv2d layers, input side first."""
    return [name for name, module in model.named_modules() if isinstance(module, nn.Conv2d)]


def explainable_layers(model: nn.Module) -> list[str]:
    """Layers worth a Grad-CAM, input side first: the blocks of ``model.features`` if it is a
    Sequential (GapCNN's conv → BN → ReLU → pool blocks), otherwise every Conv2d."""
    features = getattr(model, "features", None)
    if isinstance(features, nn.Sequential) and len(features) > 0:
        prefix = next(name for name, module in model.named_modules() if module is features)
        return [f"{prefix}.{name}" for name, _ in features.named_children()]
    return conv_layer_names(model)


def find_layer(model: nn.Module, layer: nn.Module | str | None = None) -> nn.Module:
    """The layer to explain: a module, a readable name like ``"features.3"``, or None for the default.

    The default is ``model.last_conv`` when the model has one (radlab's GapCNN), otherwise
    its last Conv2d layer: the deepest maps that still have a spatial layout.
    """
    if isinstance(layer, nn.Module):
        return layer
    modules = dict(model.named_modules())
    if layer is None:
        if isinstance(getattr(model, "last_conv", None), nn.Module):
            return model.last_conv
        convs = conv_layer_names(model)
        if not convs:
            raise DataError(f"{type(model).__name__} has no Conv2d layer to explain",
                            fix="pass a convolutional network, or a layer= with a spatial output")
        return modules[convs[-1]]
    if layer not in modules or layer == "":
        raise DataError(f"{type(model).__name__} has no layer named {layer!r}",
                        fix=f"use one of its conv layers: {conv_layer_names(model)}")
    return modules[layer]


def explained_classes(logits: torch.Tensor, target: Target = None) -> torch.Tensor:
    """The class each image's map explains, (N,) int64: ``target`` broadcast, or the default."""
    n, k = logits.shape
    if target is None:
        if k == 1:
            return torch.ones(n, dtype=torch.long, device=logits.device)   # binary: the lesion class
        return logits.argmax(dim=1)
    classes = target if isinstance(target, torch.Tensor) else torch.as_tensor(np.array(target))
    classes = classes.to(device=logits.device, dtype=torch.long).reshape(-1)
    if classes.numel() == 1:
        classes = classes.expand(n)
    if classes.numel() != n:
        raise DataError(f"{classes.numel()} targets for {n} images", fix="pass one target, or one per image")
    n_classes = 2 if k == 1 else k
    if int(classes.min()) < 0 or int(classes.max()) >= n_classes:
        raise DataError(f"target classes must lie in 0..{n_classes - 1}, got {classes.tolist()}",
                        fix="for a binary (one-logit) model use 1 = lesion, 0 = no lesion")
    return classes


def class_scores(logits: torch.Tensor, classes: torch.Tensor) -> torch.Tensor:
    """The score being explained, (N,): the class logit; a binary model's class 0 scores -logit."""
    if logits.shape[1] == 1:
        sign = classes.to(logits.dtype) * 2 - 1
        return logits[:, 0] * sign
    return logits.gather(1, classes[:, None])[:, 0]


def normalize_maps(maps: torch.Tensor, size: tuple[int, int]) -> np.ndarray:
    """ReLU, bilinear upsampling to ``size`` (H, W), then min-max to [0, 1] per map; (N, h, w) -> (N, H, W).

    A map with no positive evidence (all zero after the ReLU) stays all zero.
    """
    maps = F.relu(maps.detach().float())[:, None]
    if tuple(maps.shape[-2:]) != tuple(size):
        maps = F.interpolate(maps, size=size, mode="bilinear", align_corners=False)
    maps = maps[:, 0]
    low = maps.amin(dim=(1, 2), keepdim=True)
    span = maps.amax(dim=(1, 2), keepdim=True) - low
    return ((maps - low) / span.clamp_min(1e-12)).cpu().numpy().astype(np.float32)


# -------------------------------------------------------------- CAM and Grad-CAM

class ActivationMap:
    """The recipe CAM and Grad-CAM share: weight the feature maps A_k of one layer, sum them.

    ``map = ReLU(sum_k w_k · A_k)``, upsampled and normalised. Subclasses say only how to
    get the weights ``w_k``, in :meth:`channel_weights`.
    """

    uses_gradients = True

    def __init__(self, model: nn.Module, layer: nn.Module | str | None = None):
        self.model = model
        self.layer = find_layer(model, layer)

    def channel_weights(self, activations: torch.Tensor, gradients: torch.Tensor | None,
                        classes: torch.Tensor) -> torch.Tensor:
        """One weight per image and feature map, (N, C)."""
        raise NotImplementedError

    def raw(self, x: Any, target: Target = None) -> torch.Tensor:
        """The weighted sum of feature maps at the layer's resolution, before ReLU: (N, h, w)."""
        x = as_batch(x, self.model).requires_grad_(True)
        stored: list[torch.Tensor] = []
        handle = self.layer.register_forward_hook(lambda _m, _i, output: stored.append(output))
        try:   # one image: one thread (radlab.device.cpu_threads says why)
            with cpu_threads(1 if len(x) == 1 else None), evaluating(self.model), torch.enable_grad():
                logits = self.model(x)
                classes = explained_classes(logits, target)
                activations = stored[-1]
                if activations.ndim != 4:
                    raise DataError(f"layer output has shape {tuple(activations.shape)}, not (N, C, h, w) maps",
                                    fix=f"choose a conv layer: {conv_layer_names(self.model)}")
                gradients = None
                if self.uses_gradients:
                    score = class_scores(logits, classes).sum()   # images are independent: one backward
                    gradients = torch.autograd.grad(score, activations)[0]
                self.check(logits, activations)
                weights = self.channel_weights(activations, gradients, classes)
        finally:
            handle.remove()
        return torch.einsum("nc,nchw->nhw", weights, activations).detach()

    def check(self, logits: torch.Tensor, activations: torch.Tensor) -> None:
        """A hook for methods that only apply to some architectures (CAM)."""

    def __call__(self, x: Any, target: Target = None) -> np.ndarray:
        """Heatmaps (N, H, W) in [0, 1], one per image, at the input's size."""
        x = as_batch(x, self.model)
        return normalize_maps(self.raw(x, target), tuple(x.shape[-2:]))


class GradCAM(ActivationMap):
    """Grad-CAM: each feature map weighted by the spatial mean of the score's gradient."""

    def channel_weights(self, activations, gradients, classes):
        return gradients.mean(dim=(2, 3))


class CAM(ActivationMap):
    """CAM: each map of the GAP input weighted by the linear classifier's weight for the class.

    Needs ``model.features`` (the conv stack whose output is averaged) and
    ``model.classifier`` (the ``nn.Linear`` after global average pooling), as in GapCNN.
    """

    uses_gradients = False

    def __init__(self, model: nn.Module):
        if not has_gap_head(model):
            raise DataError(f"CAM needs a GAP-headed net with .features and a linear .classifier; "
                            f"{type(model).__name__} has not",
                            fix="use grad_cam(model, x), which works for any CNN")
        super().__init__(model, model.features)

    def channel_weights(self, activations, gradients, classes):
        weight = self.model.classifier.weight          # (K, C)
        if weight.shape[0] == 1:                       # binary: class 0 scores -logit
            return weight[0][None] * (classes.to(weight.dtype) * 2 - 1)[:, None]
        return weight[classes]

    def check(self, logits: torch.Tensor, activations: torch.Tensor) -> None:
        """CAM is exact only when logits = classifier(mean of the feature maps): verify it."""
        pooled = self.model.classifier(activations.mean(dim=(2, 3)))
        if not torch.allclose(pooled, logits, rtol=1e-4, atol=1e-4):
            raise DataError(f"{type(self.model).__name__}'s output is not classifier(global average of features)",
                            fix="CAM needs features → global average pooling → one nn.Linear; use grad_cam instead")


def cam(model: nn.Module, x: Any, target: Target = None) -> np.ndarray:
    """Class activation maps (N, H, W) in [0, 1] of a GAP-headed net (Zhou et al. 2016)."""
    return CAM(model)(x, target)


def grad_cam(model: nn.Module, x: Any, target: Target = None, layer: nn.Module | str | None = None) -> np.ndarray:
    """Grad-CAM maps (N, H, W) in [0, 1] at ``layer`` (module or name; default: the last conv)."""
    return GradCAM(model, layer)(x, target)


def saliency(model: nn.Module, x: Any, target: Target = None, *, smooth_samples: int = 0,
             noise_level: float = 0.15, seed: int = 0) -> np.ndarray:
    """Gradient saliency |∂score/∂x| (N, H, W) in [0, 1]; ``smooth_samples`` > 0 averages noisy copies (SmoothGrad).

    SmoothGrad adds Gaussian noise with sigma = ``noise_level`` × the image's value range
    and averages |gradient| over ``smooth_samples`` copies: less speckle, same idea.
    """
    x = as_batch(x, model)
    generator = torch.Generator(device=x.device).manual_seed(seed)
    sigma = noise_level * (x.amax(dim=(1, 2, 3), keepdim=True) - x.amin(dim=(1, 2, 3), keepdim=True))
    total = torch.zeros_like(x)
    n = max(1, int(smooth_samples))
    with evaluating(model), torch.enable_grad():
        classes = explained_classes(model(x), target)   # explain the clean image's class
        for _ in range(n):
            noisy = x if smooth_samples <= 0 else x + sigma * torch.randn(x.shape, generator=generator,
                                                                           device=x.device)
            noisy = noisy.clone().requires_grad_(True)
            score = class_scores(model(noisy), classes).sum()
            total += torch.autograd.grad(score, noisy)[0].abs()
    pixel_map = (total / n).amax(dim=1)                # strongest channel per pixel
    return normalize_maps(pixel_map, tuple(x.shape[-2:]))


def has_gap_head(model: nn.Module) -> bool:
    """True when CAM can apply: ``.features`` ending in as many maps as the linear ``.classifier`` reads."""
    features, classifier = getattr(model, "features", None), getattr(model, "classifier", None)
    if not isinstance(features, nn.Module) or not isinstance(classifier, nn.Linear):
        return False
    convs = [m for m in features.modules() if isinstance(m, nn.Conv2d)]
    return bool(convs) and convs[-1].out_channels == classifier.in_features


def explain(model: nn.Module, x: Any, method: str = "grad_cam", target: Target = None,
            layer: nn.Module | str | None = None, batch_size: int = 64) -> np.ndarray:
    """Heatmaps (N, H, W) in [0, 1] by ``method`` ("cam", "grad_cam" or "saliency"), in batches."""
    if method not in METHODS:
        raise DataError(f"unknown explanation method {method!r}", fix=f"use one of {sorted(METHODS)}")
    x = as_batch(x, model)
    targets = None if target is None else np.array(np.broadcast_to(np.asarray(target), (len(x),)))
    out = []
    for start in range(0, len(x), batch_size):
        xb = x[start:start + batch_size]
        tb = None if targets is None else targets[start:start + batch_size]
        if method == "cam":
            out.append(cam(model, xb, tb))
        elif method == "grad_cam":
            out.append(grad_cam(model, xb, tb, layer))
        else:
            out.append(saliency(model, xb, tb))
    return np.concatenate(out) if out else np.zeros((0, *x.shape[-2:]), np.float32)


# ------------------------------------------------------- scores against ground truth

def _pairs(heatmaps: Any, masks: Any) -> tuple[np.ndarray, np.ndarray]:
    heatmaps, masks = np.asarray(heatmaps, dtype=np.float32), np.asarray(masks).astype(bool)
    if heatmaps.ndim == 2:
        heatmaps, masks = heatmaps[None], masks[None]
    if heatmaps.shape != masks.shape or heatmaps.ndim != 3:
        raise DataError(f"heatmaps {heatmaps.shape} and masks {masks.shape} must both be (N, H, W)",
                        fix="compute the heatmaps at the image size (as cam/grad_cam/saliency do)")
    return heatmaps, masks


def pointing_hit(heatmap: np.ndarray, mask: np.ndarray, tolerance: float = 0.0) -> bool:
    """True when the heatmap's hottest pixel lies in the mask, or within ``tolerance`` pixels of it."""
    peak = np.unravel_index(int(np.argmax(heatmap)), heatmap.shape)
    if mask[peak]:
        return True
    if tolerance <= 0 or not mask.any():
        return False
    rows, cols = np.nonzero(mask)
    return bool(np.min((rows - peak[0]) ** 2 + (cols - peak[1]) ** 2) <= tolerance ** 2)


def mask_iou(heatmap: np.ndarray, mask: np.ndarray, threshold: float = 0.5) -> float:
    """IoU between the region where the heatmap is >= ``threshold`` and the lesion mask."""
    region = heatmap >= threshold
    union = np.logical_or(region, mask).sum()
    return float(np.logical_and(region, mask).sum() / union) if union else 0.0


def lesion_positive(masks: Any) -> np.ndarray:
    """Indices of the images whose mask marks a lesion (the only ones the scores can judge)."""
    masks = np.asarray(masks).astype(bool)
    return np.flatnonzero(masks.reshape(len(masks), -1).any(axis=1))


@dataclass
class RightReasonReport:
    """Does the model look at the lesion? Scores of one method over the lesion-positive images."""

    method: str
    n_images: int
    hit_rate: float              # pointing game
    mean_iou: float              # thresholded map vs mask
    chance_hit_rate: float       # a random pixel's hit rate: the mean lesion area fraction
    threshold: float
    tolerance: float
    indices: np.ndarray = field(repr=False)   # which images were scored
    hits: np.ndarray = field(repr=False)      # per image, bool
    ious: np.ndarray = field(repr=False)      # per image

    def __str__(self) -> str:
        return (f"{METHODS.get(self.method, self.method)} on {self.n_images} lesion-positive images: "
                f"pointing game {self.hit_rate:.0%} (chance {self.chance_hit_rate:.0%}), "
                f"mean IoU {self.mean_iou:.2f} at threshold {self.threshold:g}")


def score_heatmaps(heatmaps: Any, masks: Any, *, method: str = "", threshold: float = 0.5,
                   tolerance: float = 0.0) -> RightReasonReport:
    """Pointing game and IoU of precomputed heatmaps against the masks, over lesion-positive images."""
    heatmaps, masks = _pairs(heatmaps, masks)
    keep = lesion_positive(masks)
    if keep.size == 0:
        raise DataError("no image has a lesion in its mask, so nothing can be scored",
                        fix="pass lesion-positive images with their masks")
    hits = np.array([pointing_hit(heatmaps[i], masks[i], tolerance) for i in keep])
    ious = np.array([mask_iou(heatmaps[i], masks[i], threshold) for i in keep])
    return RightReasonReport(method=method, n_images=int(keep.size), hit_rate=float(hits.mean()),
                             mean_iou=float(ious.mean()), chance_hit_rate=float(masks[keep].mean()),
                             threshold=threshold, tolerance=tolerance, indices=keep, hits=hits, ious=ious)


def pointing_game(heatmaps: Any, masks: Any, tolerance: float = 0.0) -> float:
    """Pointing-game hit rate over images with a lesion: how often the peak falls in the mask."""
    return score_heatmaps(heatmaps, masks, tolerance=tolerance).hit_rate


def cam_mask_iou(heatmaps: Any, masks: Any, threshold: float = 0.5) -> float:
    """Mean IoU over images with a lesion between the heatmap thresholded at ``threshold`` and the mask."""
    return score_heatmaps(heatmaps, masks, threshold=threshold).mean_iou


def right_reason_report(model: nn.Module, x: Any, masks: Any, *, method: str = "grad_cam",
                        threshold: float = 0.5, tolerance: float = 0.0,
                        layer: nn.Module | str | None = None) -> RightReasonReport:
    """Is the model right for the right reason? Explain the lesion class on every image with a lesion, then score.

    ``x`` are the model inputs (N, 1, H, W) and ``masks`` the lesion masks (N, H, W);
    images without a lesion are skipped.
    """
    x, masks = as_batch(x, model), np.asarray(masks).astype(bool)
    keep = lesion_positive(masks)
    heatmaps = np.zeros(masks.shape, np.float32)   # images without a lesion are not scored
    if keep.size:
        heatmaps[keep] = explain(model, x[torch.as_tensor(keep, device=x.device)], method, target=1, layer=layer)
    return score_heatmaps(heatmaps, masks, method=method, threshold=threshold, tolerance=tolerance)


def right_reason_table(model: nn.Module, x: Any, masks: Any, *, threshold: float = 0.5,
                       tolerance: float = 0.0) -> list[RightReasonReport]:
    """One :class:`RightReasonReport` per method that applies to the model (CAM only for GAP heads)."""
    methods = [m for m in METHODS if m != "cam" or has_gap_head(model)]
    return [right_reason_report(model, x, masks, method=m, threshold=threshold, tolerance=tolerance)
            for m in methods]
