"""The classic CNN architectures in miniature, each small and readable, with the one idea it added (course chapter 8).

LeNet-5 (1998), AlexNet (2012), VGG (2014), Inception / GoogLeNet (2014), ResNet (2015, reused
from :mod:`radlab.models.resnet`) and U-Net (2015, reused from :mod:`radlab.models.unet`): for
1-channel 64 × 64 inputs, sized to run on a CPU, not the published widths.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from radlab.models.resnet import SmallResNet
from radlab.models.unet import UNet2D


class LeNet5(nn.Module):
    """LeNet-5 (LeCun 1998): conv 5×5 → pool → conv 5×5 → pool → three fully connected layers (chapter 8)."""

    def __init__(self, in_channels: int = 1, num_classes: int = 1, image_size: int = 64):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 6, 5), nn.Tanh(), nn.AvgPool2d(2),
            nn.Conv2d(6, 16, 5), nn.Tanh(), nn.AvgPool2d(2))
        side = ((image_size - 4) // 2 - 4) // 2
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(16 * side * side, 120), nn.Tanh(),
                                        nn.Linear(120, 84), nn.Tanh(), nn.Linear(84, num_classes))

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.features(x))


class MiniAlexNet(nn.Module):
    """AlexNet's recipe (Krizhevsky 2012) in miniature: large first kernel with stride, ReLU, max pool, dropout (chapter 8)."""

    def __init__(self, in_channels: int = 1, num_classes: int = 1, width: int = 16, dropout: float = 0.5):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, width, 7, stride=2, padding=3), nn.ReLU(inplace=True), nn.MaxPool2d(2),
            nn.Conv2d(width, 2 * width, 5, padding=2), nn.ReLU(inplace=True), nn.MaxPool2d(2),
            nn.Conv2d(2 * width, 2 * width, 3, padding=1), nn.ReLU(inplace=True),
            nn.AdaptiveMaxPool2d(4))
        self.classifier = nn.Sequential(nn.Flatten(), nn.Dropout(dropout), nn.Linear(2 * width * 16, 64),
                                        nn.ReLU(inplace=True), nn.Dropout(dropout), nn.Linear(64, num_classes))

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.features(x))


def vgg_block(in_channels: int, out_channels: int, n_convs: int = 2) -> nn.Sequential:
    """``n_convs`` 3×3 convolutions with ReLU, then a 2×2 max pool: VGG's only building block (chapter 8)."""
    layers: list[nn.Module] = []
    for i in range(n_convs):
        layers += [nn.Conv2d(in_channels if i == 0 else out_channels, out_channels, 3, padding=1),
                   nn.ReLU(inplace=True)]
    return nn.Sequential(*layers, nn.MaxPool2d(2))


class MiniVGG(nn.Module):
    """VGG (Simonyan & Zisserman 2014) in miniature: only stacked 3×3 convolutions, doubling width per block (chapter 8)."""

    def __init__(self, in_channels: int = 1, num_classes: int = 1, width: int = 8, n_blocks: int = 3):
        super().__init__()
        blocks, channels = [], in_channels
        for i in range(n_blocks):
            blocks.append(vgg_block(channels, width * 2**i))
            channels = width * 2**i
        self.features = nn.Sequential(*blocks, nn.AdaptiveAvgPool2d(1))
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(channels, num_classes))

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.features(x))


class InceptionBlock(nn.Module):
    """Four parallel branches (1×1; 1×1→3×3; 1×1→5×5; pool→1×1) concatenated on channels (Szegedy 2015; chapter 8)."""

    def __init__(self, in_channels: int, branch: int = 8, bottleneck: int = 4):
        super().__init__()
        self.b1 = nn.Sequential(nn.Conv2d(in_channels, branch, 1), nn.ReLU(inplace=True))
        self.b3 = nn.Sequential(nn.Conv2d(in_channels, bottleneck, 1), nn.ReLU(inplace=True),
                                nn.Conv2d(bottleneck, branch, 3, padding=1), nn.ReLU(inplace=True))
        self.b5 = nn.Sequential(nn.Conv2d(in_channels, bottleneck, 1), nn.ReLU(inplace=True),
                                nn.Conv2d(bottleneck, branch, 5, padding=2), nn.ReLU(inplace=True))
        self.bp = nn.Sequential(nn.MaxPool2d(3, stride=1, padding=1), nn.Conv2d(in_channels, branch, 1),
                                nn.ReLU(inplace=True))
        self.out_channels = 4 * branch

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat([self.b1(x), self.b3(x), self.b5(x), self.bp(x)], dim=1)


class MiniInception(nn.Module):
    """A stem, two inception blocks and global average pooling: GoogLeNet's layout in miniature (chapter 8)."""

    def __init__(self, in_channels: int = 1, num_classes: int = 1, width: int = 16):
        super().__init__()
        first = InceptionBlock(width, branch=width // 2, bottleneck=width // 4)
        second = InceptionBlock(first.out_channels, branch=width // 2, bottleneck=width // 4)
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, width, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(2),
            first, nn.MaxPool2d(2), second, nn.AdaptiveAvgPool2d(1))
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(second.out_channels, num_classes))

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.features(x))


@dataclass(frozen=True)
class Classic:
    """One row of chapter 8's timeline: a name, a year, the idea it added, and the model."""

    name: str
    year: int
    idea: str
    model: nn.Module


def classic_models(in_channels: int = 1, image_size: int = 64) -> list[Classic]:
    """The timeline LeNet → AlexNet → VGG → Inception → ResNet → U-Net, each a small model (chapter 8)."""
    return [
        Classic("LeNet-5", 1998, "convolution + pooling + fully connected layers, trained by backpropagation",
                LeNet5(in_channels, image_size=image_size)),
        Classic("AlexNet", 2012, "ReLU, dropout, data augmentation and GPUs made a deep CNN win ImageNet",
                MiniAlexNet(in_channels)),
        Classic("VGG", 2014, "only 3×3 convolutions, stacked: two 3×3 see as far as one 5×5 with fewer weights",
                MiniVGG(in_channels)),
        Classic("Inception", 2014, "parallel 1×1, 3×3, 5×5 and pooling branches; 1×1 bottlenecks keep it cheap",
                MiniInception(in_channels)),
        Classic("ResNet", 2015, "skip connections (output = x + F(x)) let gradients through 100+ layers",
                SmallResNet(in_channels, width=16, blocks_per_stage=(1, 1, 1))),
        Classic("U-Net", 2015, "encoder-decoder with skip connections: one output per pixel (segmentation)",
                UNet2D(in_channels, 1, base=8, depth=3)),
    ]


def conv_weights(kernel: int, channels: int, n_layers: int = 1) -> int:
    """Weights (no bias) of ``n_layers`` stacked k×k convolutions with ``channels`` in and out (chapter 8)."""
    return n_layers * kernel * kernel * channels * channels


__all__ = ["Classic", "InceptionBlock", "LeNet5", "MiniAlexNet", "MiniInception", "MiniVGG", "classic_models",
           "conv_weights", "vgg_block"]
