"""Plain CNNs for teaching: a conv → ReLU → pool stack, a GAP-head CNN for CAM, and a 3-D CNN.

Every model returns raw *logits* ``(N, num_classes)``. The last-layer activation lives in
the loss (``BCEWithLogitsLoss`` for ``num_classes=1``, ``CrossEntropyLoss`` otherwise) and
in ``radlab.train.predict`` (sigmoid / softmax): that keeps the arithmetic numerically
stable and one line in the model the student does not have to remember.

Defaults are small on purpose: on 28×28 PneumoniaMNIST they train in well under a minute
on two CPU cores (batch norm makes the small widths learn fast).
"""
from __future__ import annotations

import torch
from torch import Tensor, nn


def conv_block(in_channels: int, out_channels: int, *, batchnorm: bool = True, pool: bool = True,
               dims: int = 2) -> nn.Sequential:
    """One block: 3×3 convolution (padding 1 keeps the size) → [batch norm] → ReLU → [2×2 max pool].

    ``dims=3`` makes the same block with 3×3×3 kernels for volumes.
    """
    Conv, Norm, Pool = (nn.Conv2d, nn.BatchNorm2d, nn.MaxPool2d) if dims == 2 else \
                       (nn.Conv3d, nn.BatchNorm3d, nn.MaxPool3d)
    layers: list[nn.Module] = [Conv(in_channels, out_channels, kernel_size=3, padding=1, bias=not batchnorm)]
    if batchnorm:  # batch norm has its own shift (beta), so the conv's bias would be redundant
        layers.append(Norm(out_channels))
    layers.append(nn.ReLU(inplace=True))
    if pool:
        layers.append(Pool(kernel_size=2))
    return nn.Sequential(*layers)


def block_widths(width: int, n_blocks: int, max_width: int = 128) -> list[int]:
    """Channels of each block: ``width`` doubled after every block (capped at ``max_width``).

    Pooling halves the feature maps' height and width, so doubling the number of kernels
    keeps the amount of information per layer roughly constant.
    """
    return [min(width * 2**i, max_width) for i in range(n_blocks)]


def _check_arguments(n_blocks: int, width: int, dropout: float) -> None:
    if n_blocks < 1 or width < 1:
        raise ValueError(f"n_blocks and width must be at least 1 (got n_blocks={n_blocks}, width={width})")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout is a probability in [0, 1), got {dropout}")


class TeachingCNN(nn.Module):
    """The classic CNN: ``n_blocks`` × (conv → ReLU → pool), flatten, fully connected layers.

    ``image_size`` is needed because the first fully connected layer has one weight per
    value of the flattened feature maps: ``channels × (image_size / 2**n_blocks)²``.
    ``channels_last`` stores the weights (and so the feature maps) channel by channel per
    pixel: the same numbers in a memory order in which convolution, batch norm and pooling run
    about 1.5× faster on a CPU (the flattened features keep the usual order).
    """

    def __init__(self, in_channels: int = 1, num_classes: int = 1, width: int = 16, n_blocks: int = 3,
                 image_size: int = 28, dropout: float = 0.0, batchnorm: bool = True, hidden: int = 64,
                 channels_last: bool = True):
        super().__init__()
        _check_arguments(n_blocks, width, dropout)
        if image_size // 2**n_blocks < 1:
            raise ValueError(f"{n_blocks} pooling blocks shrink a {image_size}-pixel image to nothing; "
                             f"use at most {max(1, image_size.bit_length() - 1)} blocks")
        widths = block_widths(width, n_blocks)
        blocks, channels = [], in_channels
        for w in widths:
            blocks.append(conv_block(channels, w, batchnorm=batchnorm))
            channels = w
        self.features = nn.Sequential(*blocks)
        side = image_size // 2**n_blocks          # each 2×2 max pool halves the side (rounding down)
        self.classifier = nn.Sequential(
            nn.Flatten(),                         # (N, C, side, side) -> (N, C·side·side)
            nn.Linear(channels * side * side, hidden),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(hidden, num_classes),       # logits: the activation is applied in the loss
        )
        if channels_last:
            self.to(memory_format=torch.channels_last)

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.features(x))


class GapCNN(nn.Module):
    """A CNN with a global-average-pooling head: conv blocks → GAP → one linear layer.

    Because the class score is a weighted sum of the *averaged* last feature maps, the same
    weights applied to the maps before averaging give a class activation map (CAM). Only the
    first two blocks pool, so the last feature maps keep a useful size for CAM
    (7×7 for a 28×28 input, 16×16 for 64×64). ``.last_conv`` is the last block (its output
    is what CAM and Grad-CAM weigh); ``.classifier`` is the ``nn.Linear`` whose weights CAM uses.
    """

    def __init__(self, in_channels: int = 1, num_classes: int = 1, width: int = 16, n_blocks: int = 4,
                 dropout: float = 0.0, batchnorm: bool = True, n_pools: int = 2):
        super().__init__()
        _check_arguments(n_blocks, width, dropout)
        widths = block_widths(width, n_blocks)
        blocks, channels = [], in_channels
        for i, w in enumerate(widths):
            blocks.append(conv_block(channels, w, batchnorm=batchnorm, pool=i < min(n_pools, n_blocks - 1)))
            channels = w
        self.features = nn.Sequential(*blocks)
        self.pool = nn.AdaptiveAvgPool2d(1)        # global average pooling: one number per feature map
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(channels, num_classes)

    @property
    def last_conv(self) -> nn.Module:
        """The last conv block, whose output feature maps CAM / Grad-CAM weigh."""
        return self.features[-1]

    def forward(self, x: Tensor) -> Tensor:
        maps = self.features(x)                       # (N, C, h, w)
        pooled = self.pool(maps).flatten(1)           # (N, C)
        return self.classifier(self.dropout(pooled))  # (N, num_classes) logits


class CNN3D(nn.Module):
    """A small 3-D CNN for volumes such as NoduleMNIST3D (28×28×28): 3×3×3 conv blocks → GAP → linear."""

    def __init__(self, in_channels: int = 1, num_classes: int = 1, width: int = 8, n_blocks: int = 3,
                 dropout: float = 0.0, batchnorm: bool = True):
        super().__init__()
        _check_arguments(n_blocks, width, dropout)
        widths = block_widths(width, n_blocks)
        blocks, channels = [], in_channels
        for i, w in enumerate(widths):
            blocks.append(conv_block(channels, w, batchnorm=batchnorm, pool=i < n_blocks - 1, dims=3))
            channels = w
        self.features = nn.Sequential(*blocks)
        self.pool = nn.AdaptiveAvgPool3d(1)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(channels, num_classes)

    @property
    def last_conv(self) -> nn.Module:
        """The last conv block (3-D feature maps)."""
        return self.features[-1]

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.dropout(self.pool(self.features(x)).flatten(1)))
