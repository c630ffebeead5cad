"""A small residual network: the idea of ResNet (He et al., 2016) at a size CPUs can train.

A residual block learns a *correction* ``F(x)`` that is added to its input:
``out = relu(F(x) + x)``. The identity path lets gradients flow straight through many
blocks, which is what made very deep CNNs trainable.
"""
from __future__ import annotations

from typing import Sequence

import torch.nn.functional as F
from torch import Tensor, nn


class BasicBlock(nn.Module):
    """Two 3×3 convolutions with batch norm, plus a shortcut: ``relu(bn(conv(relu(bn(conv(x))))) + shortcut(x))``.

    When the block changes the size (stride 2) or the number of channels, the shortcut is a
    1×1 convolution so that the two paths can be added; otherwise it is the identity.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1):
        super().__init__()
        if stride != 1 or in_channels != out_channels:
            self.shortcut: nn.Module = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=stride, bias=False),
                nn.BatchNorm2d(out_channels))
        else:
            self.shortcut = nn.Identity()
        self.conv1 = nn.Conv2d(in_channels, out_channels, kernel_size=3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, kernel_size=3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)

    def forward(self, x: Tensor) -> Tensor:
        identity = self.shortcut(x)
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + identity)   # the residual connection


class SmallResNet(nn.Module):
    """Stem conv → stages of residual blocks (each later stage halves the size, doubles the width) → GAP → linear.

    Like GapCNN it has ``.features`` (stem and stages), ``.classifier`` after global
    average pooling, and ``.last_conv``, so CAM and Grad-CAM apply.

    ``blocks_per_stage=(2, 2, 2, 2)`` with ``width=64`` would be ResNet-18's layout; the
    default (1, 1, 1) with width 16 is a ~77k-parameter network for 28×28 images.
    """

    def __init__(self, in_channels: int = 1, num_classes: int = 1, width: int = 16,
                 blocks_per_stage: Sequence[int] = (1, 1, 1), dropout: float = 0.0):
        super().__init__()
        if not blocks_per_stage or min(blocks_per_stage) < 1:
            raise ValueError(f"blocks_per_stage needs at least one block per stage, got {tuple(blocks_per_stage)}")
        stem = nn.Sequential(nn.Conv2d(in_channels, width, kernel_size=3, padding=1, bias=False),
                             nn.BatchNorm2d(width), nn.ReLU(inplace=True))
        stages, channels = [], width
        for i, n_blocks in enumerate(blocks_per_stage):
            out_channels = width * 2**i
            blocks = [BasicBlock(channels, out_channels, stride=1 if i == 0 else 2)]
            blocks += [BasicBlock(out_channels, out_channels) for _ in range(n_blocks - 1)]
            stages.append(nn.Sequential(*blocks))
            channels = out_channels
        self.features = nn.Sequential(stem, *stages)   # features[0] is the stem, then one entry per stage
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(channels, num_classes)

    @property
    def last_conv(self) -> nn.Module:
        """The last residual block, whose output maps CAM / Grad-CAM weigh."""
        return self.features[-1][-1]

    def forward(self, x: Tensor) -> Tensor:
        maps = self.features(x)
        return self.classifier(self.dropout(self.pool(maps).flatten(1)))
