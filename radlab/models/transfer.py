"""Transfer learning with torchvision's ResNet-18: fixed feature extraction or fine-tuning.

The two strategies of the radiology reviews:

- **fixed feature extractor** (``strategy="fixed"``): every backbone weight is frozen; the
  network pretrained on ImageNet turns each image into 512 numbers and only a new linear
  head learns. Cheap, and safe with few images.
- **fine-tuning** (``strategy="finetune"``): the backbone trains too, except its first
  ``freeze_stages`` stages (of stem, layer1 … layer4). Early stages detect edges and
  textures that transfer to radiographs; later ones are ImageNet-specific and adapt.

Radiographs are grayscale; ImageNet networks expect RGB. Two ways to adapt
(``channel_mode``):

- ``"repeat"``: copy the gray channel three times. Nothing in the network changes.
- ``"sum"``: sum conv1's kernels over the colour axis into one channel. A gray image
  repeated three times gives ``Σ_c w_c * x = (Σ_c w_c) * x``, so the first layer computes
  the same thing at a third of the cost (exact before input normalisation; the gray input
  is normalised with the average of ImageNet's channel means and stds).

Nothing is downloaded here (the course runs offline): ``weights`` is a local ``.pth`` file
with torchvision's ResNet-18 ``state_dict`` (``ResNet18_Weights.IMAGENET1K_V1``,
file name ``resnet18-f37072fd.pth``), read with ``torch.load(weights_only=True)``.
"""
from __future__ import annotations

import os
import warnings
from pathlib import Path

import torch
from torch import Tensor, nn

from radlab.errors import DataError
from radlab.paths import data_cache

IMAGENET_WEIGHTS_FILE = "resnet18-f37072fd.pth"
IMAGENET_WEIGHTS_URL = "https://download.pytorch.org/models/" + IMAGENET_WEIGHTS_FILE
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
STAGES = ("stem", "layer1", "layer2", "layer3", "layer4")
STRATEGIES = ("fixed", "finetune")
CHANNEL_MODES = ("repeat", "sum")


def imagenet_weights_candidates() -> list[Path]:
    """Where :func:`resnet18_transfer` looks for ``weights="imagenet"``: the RadLab cache, then torch's cache."""
    torch_home = Path(os.environ.get("TORCH_HOME", Path.home() / ".cache" / "torch")).expanduser()
    return [data_cache() / "weights" / IMAGENET_WEIGHTS_FILE,
            torch_home / "hub" / "checkpoints" / IMAGENET_WEIGHTS_FILE]


def _where_to_put_weights() -> str:
    return (f"run `radlab fetch resnet18-imagenet` (online; checksum checked), or "
            f"download {IMAGENET_WEIGHTS_URL} on a machine with internet (torchvision's "
            f"ResNet18_Weights.IMAGENET1K_V1), copy it to {imagenet_weights_candidates()[0]} "
            f"and pass weights='imagenet' (or weights=<path to the .pth file>)")


class TransferResNet18(nn.Module):
    """A torchvision ResNet-18 backbone (``.backbone``, its ``fc`` removed) and a new head (``.classifier``).

    ``frozen_stages`` names the stages whose weights do not train. Their batch-norm layers
    also stay in eval mode during training, so frozen really means frozen: the running
    means and variances learnt on ImageNet are not overwritten by the new images.
    """

    def __init__(self, backbone: nn.Module, num_classes: int, *, channel_mode: str, in_channels: int):
        super().__init__()
        self.backbone = backbone
        self.classifier = nn.Linear(512, num_classes)
        self.channel_mode = channel_mode
        self.repeat = 3 if (in_channels == 1 and channel_mode == "repeat") else 1
        mean, std = torch.tensor(IMAGENET_MEAN), torch.tensor(IMAGENET_STD)
        if in_channels == 1 and channel_mode == "sum":
            mean, std = mean.mean(dim=0, keepdim=True), std.mean(dim=0, keepdim=True)
        self.register_buffer("mean", mean.view(1, -1, 1, 1))
        self.register_buffer("std", std.view(1, -1, 1, 1))
        self.frozen_stages: tuple[str, ...] = ()

    @property
    def last_conv(self) -> nn.Module:
        """The last residual block (``layer4[-1]``), whose output maps CAM / Grad-CAM weigh."""
        return self.backbone.layer4[-1]

    def stage(self, name: str) -> list[nn.Module]:
        """The modules of one stage: ``"stem"`` (conv1 + bn1) or ``"layer1"`` … ``"layer4"``."""
        if name == "stem":
            return [self.backbone.conv1, self.backbone.bn1]
        if name in STAGES:
            return [getattr(self.backbone, name)]
        raise ValueError(f"unknown stage {name!r}; stages are {STAGES}")

    def freeze(self, n_stages: int) -> None:
        """Freeze the first ``n_stages`` stages (0 = train everything, 5 = the whole backbone)."""
        if not 0 <= n_stages <= len(STAGES):
            raise ValueError(f"freeze_stages must be 0..{len(STAGES)} (stem, layer1..layer4), got {n_stages}")
        self.frozen_stages = STAGES[:n_stages]
        for name in STAGES:
            for module in self.stage(name):
                module.requires_grad_(name not in self.frozen_stages)
        self.train(self.training)

    def train(self, mode: bool = True) -> TransferResNet18:
        """Switch train/eval mode, keeping the frozen stages' batch norm in eval mode."""
        super().train(mode)
        for name in self.frozen_stages:
            for module in self.stage(name):
                module.eval()
        return self

    def forward(self, x: Tensor) -> Tensor:
        if self.repeat > 1:
            x = x.repeat(1, self.repeat, 1, 1)       # gray -> "RGB" with three equal channels
        x = (x - self.mean) / self.std               # the normalisation ImageNet training used
        return self.classifier(self.backbone(x))     # backbone ends with global average pooling


def _load_state_dict(weights: str | Path) -> dict[str, Tensor]:
    """Read a ResNet-18 ``state_dict`` from a local file (tensors only: ``weights_only=True``)."""
    if str(weights) == "imagenet":
        found = [p for p in imagenet_weights_candidates() if p.is_file()]
        if not found:
            raise DataError("the ImageNet weights for ResNet-18 are not on this machine",
                            path=imagenet_weights_candidates()[0], fix=_where_to_put_weights())
        path = found[0]
    else:
        path = Path(weights).expanduser()
    if not path.is_file():
        raise DataError("weights file not found", path=path, fix=_where_to_put_weights())
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise DataError(f"could not read the weights file ({type(err).__name__}: {err})", path=path,
                        fix="pass a file written by torch.save(model.state_dict(), path); "
                            "only plain tensors are accepted (weights_only=True)") from err
    for key in ("state_dict", "model", "model_state"):   # common checkpoint wrappers (model_state: RadLab's)
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict) or "conv1.weight" not in state:
        raise DataError("the file does not hold a torchvision ResNet-18 state_dict (no 'conv1.weight')",
                        path=path, fix=_where_to_put_weights())
    return state


def resnet18_transfer(num_classes: int = 1, *, strategy: str = "fixed", freeze_stages: int = 0,
                      weights: str | Path | None = None, in_channels: int = 1,
                      channel_mode: str = "sum") -> TransferResNet18:
    """A ResNet-18 ready for transfer learning; see the module docstring for the choices.

    ``strategy="fixed"`` freezes the whole backbone (only ``.classifier`` trains);
    ``strategy="finetune"`` freezes the first ``freeze_stages`` of (stem, layer1..layer4).
    ``weights``: a local ``.pth`` file, ``"imagenet"`` (the file in its usual places), or
    ``None`` for random initialisation (with a warning: there is nothing to transfer then).
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {STRATEGIES}, got {strategy!r}")
    if channel_mode not in CHANNEL_MODES:
        raise ValueError(f"channel_mode must be one of {CHANNEL_MODES}, got {channel_mode!r}")
    if in_channels not in (1, 3):
        raise ValueError(f"in_channels must be 1 (grayscale) or 3 (RGB), got {in_channels}")

    # torchvision is imported here, not at module level: it pulls in torch._dynamo and sympy
    # (~160 MB per kernel), which labs that never build a ResNet-18 should not pay for.
    from torchvision.models import resnet18  # noqa: PLC0415

    backbone = resnet18(weights=None)                 # never downloads: weights come from a file
    if weights is None:
        warnings.warn("resnet18_transfer(weights=None): the ResNet-18 backbone is RANDOMLY initialised, "
                      "so nothing is transferred from ImageNet. To use pretrained weights, "
                      + _where_to_put_weights() + ".", UserWarning, stacklevel=2)
    else:
        state = {k: v for k, v in _load_state_dict(weights).items() if not k.startswith("fc.")}
        missing, unexpected = backbone.load_state_dict(state, strict=False)
        missing = [k for k in missing if not k.startswith("fc.")]
        if missing or unexpected:
            raise DataError(f"the weights do not fit ResNet-18 (missing {missing[:3]}, unexpected {unexpected[:3]})",
                            path=Path(str(weights)), fix=_where_to_put_weights())
    backbone.fc = nn.Identity()                       # the ImageNet head (1000 classes) goes

    if in_channels == 1 and channel_mode == "sum":
        rgb = backbone.conv1
        gray = nn.Conv2d(1, rgb.out_channels, kernel_size=rgb.kernel_size, stride=rgb.stride,
                         padding=rgb.padding, bias=False)
        with torch.no_grad():
            gray.weight.copy_(rgb.weight.sum(dim=1, keepdim=True))   # Σ over R, G, B
        backbone.conv1 = gray

    model = TransferResNet18(backbone, num_classes, channel_mode=channel_mode, in_channels=in_channels)
    model.freeze(len(STAGES) if strategy == "fixed" else freeze_stages)
    return model


def count_parameters(model: nn.Module) -> tuple[int, int]:
    """(trainable, total) parameter counts: how much of the network will actually learn."""
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return trainable, total
