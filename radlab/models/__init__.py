"""The course's networks: each a short ``nn.Module`` to read top to bottom.

Classification models return raw logits ``(N, num_classes)``; ``num_classes=1`` means a
binary task scored with a sigmoid. ``MODELS`` maps a short name to the class, so a lab or
``radlab.reference`` can pick one by name (``MODELS["gap_cnn"](width=16)``).
"""
from __future__ import annotations

from radlab.models.cnn import CNN3D, GapCNN, TeachingCNN
from radlab.models.denoise import DenoisingAutoencoder
from radlab.models.resnet import SmallResNet
from radlab.models.summary import ModelSummary, summary
from radlab.models.transfer import TransferResNet18, count_parameters, resnet18_transfer
from radlab.models.unet import UNet2D

MODELS: dict[str, type] = {
    "teaching_cnn": TeachingCNN,
    "gap_cnn": GapCNN,
    "small_resnet": SmallResNet,
    "unet2d": UNet2D,
    "denoising_autoencoder": DenoisingAutoencoder,
    "cnn3d": CNN3D,
}

__all__ = ["CNN3D", "DenoisingAutoencoder", "GapCNN", "MODELS", "ModelSummary", "SmallResNet", "TeachingCNN",
           "TransferResNet18", "UNet2D", "count_parameters", "resnet18_transfer", "summary"]
