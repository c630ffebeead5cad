"""Pretrained weights without the internet: a ResNet-18 source model RadLab trains itself.

Transfer learning starts from a network trained on a *different, larger* task. In the
radiology literature that task is ImageNet (1.3 million photographs); its weights cannot be
downloaded here (the course runs offline). :func:`source_model` stands in for it: a
torchvision ResNet-18 trained on synthetic **CT** phantoms (a different modality and a
different question, "is there a lung nodule in this slice?") — then used on chest
*radiographs* (PneumoniaMNIST, or chest phantoms offline). It is built once and cached in
``data_cache()/models/`` like :func:`radlab.reference.reference_model`; the key names the
recipe, so a changed recipe trains a new model.

The cached file holds the backbone's ``state_dict`` in torchvision's own layout, with a
three-channel ``conv1`` (the gray kernels divided by three), so it loads through exactly the
path real ImageNet weights take: ``resnet18_transfer(weights=path)``.

:func:`resolve_weights` says which weights a lab uses: ``"radlab"`` (this source model),
``"imagenet"`` (torchvision's ``resnet18-f37072fd.pth`` where ``radlab fetch
resnet18-imagenet`` or torch put it), a path to a ``.pth`` file, or ``"random"`` (nothing
transferred). Taught in Lab 9 (small data and transfer learning).
"""
from __future__ import annotations

import hashlib
import json
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from radlab.data.transforms import to_model_input
from radlab.errors import DataError
from radlab.metrics import roc_auc
from radlab.models.transfer import imagenet_weights_candidates, resnet18_transfer
from radlab.paths import data_cache
from radlab.train import fit, predict, save_checkpoint

_RECIPE_VERSION = 1
#: The source task's lung window: CT phantoms in HU become [0, 1] inputs through it.
LUNG_LEVEL_HU, LUNG_WIDTH_HU = -600.0, 1500.0
#: How the source model is trained: ``fast`` for CI and quick starts, the full one for the lab.
RECIPES: dict[bool, dict[str, Any]] = {
    True: dict(n_patients=60, images_per_patient=2, size=28, epochs=1, batch_size=32, lr=2e-3),
    False: dict(n_patients=400, images_per_patient=3, size=28, epochs=3, batch_size=64, lr=2e-3),
}
WEIGHT_SOURCES = ("radlab", "imagenet", "random")


@dataclass
class SourceModel:
    """The cached source model: where its weights are and how they were made (``info``)."""

    path: Path
    info: dict[str, Any]


@dataclass
class WeightsChoice:
    """Which pretrained weights a run uses: ``path`` (None: random initialisation) and a note saying so."""

    kind: str          # "radlab", "imagenet", "file" or "random"
    path: Path | None
    note: str


def _recipe(fast: bool, seed: int) -> dict[str, Any]:
    return {"task": "ct-phantoms-nodule", "arch": "resnet18", "seed": int(seed), "version": _RECIPE_VERSION,
            "level_hu": LUNG_LEVEL_HU, "width_hu": LUNG_WIDTH_HU, **RECIPES[bool(fast)]}


def source_cache_path(*, fast: bool = False, seed: int = 0) -> Path:
    """Where the source model of this recipe is (or will be) cached."""
    recipe = _recipe(fast, seed)
    digest = hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:10]
    return data_cache() / "models" / f"source-ct-phantoms-resnet18-{'fast' if fast else 'full'}-seed{seed}-{digest}.pt"


def source_task_data(recipe: dict[str, Any]) -> tuple[dict[str, torch.Tensor], dict[str, np.ndarray]]:
    """The source task's images and labels, split by patient: CT phantom slices (lung window), nodule yes/no."""
    from radlab.data.phantoms import make_phantoms  # noqa: PLC0415
    from radlab.data.splits import split_by_patient  # noqa: PLC0415

    ph = make_phantoms("ct", n_patients=recipe["n_patients"], images_per_patient=recipe["images_per_patient"],
                       size=recipe["size"], seed=recipe["seed"] + 1000)   # other patients than any lab's phantoms
    split = split_by_patient(ph.labels, ph.patient_ids, seed=recipe["seed"])   # its test split stays unused
    x = to_model_input(ph.images, units="HU", level_hu=recipe["level_hu"], width_hu=recipe["width_hu"])
    xs = {name: x[getattr(split, name)] for name in ("train", "val")}
    ys = {name: np.asarray(ph.labels[getattr(split, name)], dtype=np.int64) for name in ("train", "val")}
    return xs, ys


def backbone_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A trained :class:`TransferResNet18`'s backbone in torchvision's layout, ``conv1`` made three-channel.

    A one-channel kernel ``w`` becomes three kernels ``w / 3``: summed back over R, G, B (what
    ``channel_mode="sum"`` does) they give ``w`` again, and a gray image repeated three times
    (``"repeat"``) gives the same first-layer output.
    """
    state = {k: v.detach().cpu().clone() for k, v in model.backbone.state_dict().items()}
    if state["conv1.weight"].shape[1] == 1:
        state["conv1.weight"] = state["conv1.weight"].repeat(1, 3, 1, 1) / 3.0
    return state


def source_model(*, fast: bool = False, seed: int = 0, retrain: bool = False) -> SourceModel:
    """Train (first time) or find (afterwards) the ResNet-18 source model standing in for ImageNet.

    ``fast=True`` trains a smaller one on fewer phantoms (for CI); ``retrain=True`` replaces the
    cached file. The file loads with ``resnet18_transfer(weights=SourceModel.path)``.
    """
    path = source_cache_path(fast=fast, seed=seed)
    if path.is_file() and not retrain:
        try:
            payload = torch.load(path, map_location="cpu", weights_only=True)
            return SourceModel(path, {**payload.get("meta", {}), "cached": True})
        except Exception:  # noqa: BLE001  (a damaged cache file: train again and replace it)
            pass
    recipe = _recipe(fast, seed)
    xs, ys = source_task_data(recipe)
    started = time.perf_counter()
    torch.manual_seed(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # "randomly initialised": yes, this is the pretraining itself
        model = resnet18_transfer(1, strategy="finetune", freeze_stages=0, weights=None, channel_mode="sum")
    result = fit(model, (xs["train"], ys["train"]), (xs["val"], ys["val"]), epochs=recipe["epochs"],
                 batch_size=recipe["batch_size"], lr=recipe["lr"], augment=("flip", "shift"),
                 class_weight="balanced", seed=seed, device="cpu", save=False, progress=False)
    info = {"task": "nodule in a CT phantom slice (lung window, 28 px)", "recipe": recipe,
            "n_train": int(len(ys["train"])), "n_val": int(len(ys["val"])), "epochs": len(result.history),
            "best_epoch": int(result.best_epoch), "seconds": round(time.perf_counter() - started, 2),
            "val_auc": float(roc_auc(ys["val"], predict(result.model, xs["val"]), undefined="nan"))}
    save_checkpoint(path, backbone_state(result.model), **info)
    return SourceModel(path, {**info, "cached": False})


def resolve_weights(source: str | Path = "radlab", *, fast: bool = False, seed: int = 0) -> WeightsChoice:
    """The weights a transfer run starts from, and a sentence saying plainly which they are."""
    if source == "random":
        return WeightsChoice("random", None, "random initialisation: nothing is transferred")
    if source == "radlab":
        src = source_model(fast=fast, seed=seed)
        auc = src.info.get("val_auc")
        return WeightsChoice("radlab", src.path, (
            f"RadLab's source model, standing in for ImageNet: a ResNet-18 trained on {src.info.get('n_train')} "
            f"synthetic CT phantom slices to find lung nodules (source-task validation AUC "
            f"{auc:.3f}); not ImageNet weights" if isinstance(auc, float) else
            "RadLab's source model (CT phantoms), standing in for ImageNet; not ImageNet weights"))
    if source == "imagenet":
        found = [p for p in imagenet_weights_candidates() if p.is_file()]
        if not found:
            raise DataError("the ImageNet weights for ResNet-18 are not on this machine",
                            path=imagenet_weights_candidates()[0],
                            fix="radlab fetch resnet18-imagenet (online), or radlab fetch resnet18-imagenet "
                                "--from resnet18-f37072fd.pth (a copy you have)")
        return WeightsChoice("imagenet", found[0], f"ImageNet weights (torchvision ResNet-18) from {found[0]}")
    path = Path(source).expanduser()
    if not path.is_file():
        raise DataError("weights file not found", path=path,
                        fix=f"give the path of a ResNet-18 .pth file, or one of {WEIGHT_SOURCES}")
    return WeightsChoice("file", path, f"weights from the file {path}")


def imagenet_available() -> bool:
    """True when torchvision's ImageNet ResNet-18 file is in one of its usual places."""
    return any(p.is_file() for p in imagenet_weights_candidates())


# ------------------------------------------------------------------------- grey to three channels

@dataclass
class ChannelAdaptation:
    """One first-layer kernel applied to a gray image two ways (see :func:`channel_adaptation`)."""

    image: np.ndarray          # (H, W) the gray input in [0, 1]
    rgb_kernels: np.ndarray    # (3, k, k) the kernel's R, G, B slices
    gray_kernel: np.ndarray    # (k, k) their sum
    map_repeat: np.ndarray     # conv of the image repeated into R, G, B with the RGB kernel
    map_sum: np.ndarray        # conv of the gray image with the summed kernel
    max_difference: float      # largest |map_repeat - map_sum|: zero up to rounding


def first_layer_kernels(weights: str | Path | None) -> torch.Tensor:
    """ResNet-18's ``conv1`` kernels ``(64, 3, 7, 7)`` from a weights file (None: random ones)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = resnet18_transfer(1, strategy="fixed", weights=weights, channel_mode="repeat")
    return model.backbone.conv1.weight.detach().clone()


def channel_adaptation(weights: str | Path | torch.Tensor | None, image: Any, kernel: int = 0) -> ChannelAdaptation:
    """Show why a gray image needs no colour: ``conv(RGB copy, w) == conv(gray, Σ_c w_c)``.

    ``weights``: a ResNet-18 ``.pth`` file, ``conv1``'s kernels as a tensor (what
    :func:`first_layer_kernels` returns), or None (random kernels); ``kernel`` picks one of the
    64. Both paths use stride 2 and padding 3, like ResNet-18's first layer.
    """
    w_rgb = weights if isinstance(weights, torch.Tensor) else first_layer_kernels(weights)
    k = int(np.clip(kernel, 0, w_rgb.shape[0] - 1))
    x = torch.as_tensor(np.asarray(image, dtype=np.float32))[None, None]
    rgb = F.conv2d(x.repeat(1, 3, 1, 1), w_rgb[k:k + 1], stride=2, padding=3)[0, 0]
    gray = F.conv2d(x, w_rgb[k:k + 1].sum(dim=1, keepdim=True), stride=2, padding=3)[0, 0]
    return ChannelAdaptation(image=x[0, 0].numpy(), rgb_kernels=w_rgb[k].numpy(),
                             gray_kernel=w_rgb[k].sum(dim=0).numpy(), map_repeat=rgb.numpy(),
                             map_sum=gray.numpy(), max_difference=float((rgb - gray).abs().max()))


__all__ = ["ChannelAdaptation", "SourceModel", "WeightsChoice", "backbone_state", "channel_adaptation", "first_layer_kernels",
           "imagenet_available", "resolve_weights", "source_cache_path", "source_model", "source_task_data"]
