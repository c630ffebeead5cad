"""U-Net (Ronneberger et al., 2015) for segmentation: one logit per pixel.

The encoder halves the size and doubles the channels ``depth`` times (what is there?),
the decoder doubles the size back (where exactly?), and *skip connections* hand each
decoder level the encoder's feature maps of the same size, so fine detail lost by pooling
comes back. Apply a sigmoid (``out_channels=1``) or softmax to the logits for a mask.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def double_conv(in_channels: int, out_channels: int) -> nn.Sequential:
    """(3×3 conv → batch norm → ReLU) twice: the U-Net's building block at every level."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True),
        nn.Conv2d(out_channels, out_channels, kernel_size=3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True))


class UNet2D(nn.Module):
    """A 2-D U-Net with ``depth`` down/up steps; level ``i`` has ``base · 2**i`` channels.

    Sizes that do not halve evenly (28 → 14 → 7 → 3) are handled by padding the
    up-sampled maps to the skip connection's size before they are concatenated.
    """

    def __init__(self, in_channels: int = 1, out_channels: int = 1, base: int = 16, depth: int = 3):
        super().__init__()
        if depth < 1 or base < 1:
            raise ValueError(f"depth and base must be at least 1 (got depth={depth}, base={base})")
        widths = [base * 2**i for i in range(depth + 1)]
        self.pool = nn.MaxPool2d(2)                 # halves the size between encoder levels
        self.down = nn.ModuleList([double_conv(in_channels, widths[0])] +
                                  [double_conv(widths[i], widths[i + 1]) for i in range(depth)])
        self.up = nn.ModuleList([nn.ConvTranspose2d(widths[i + 1], widths[i], kernel_size=2, stride=2)
                                 for i in reversed(range(depth))])
        self.decode = nn.ModuleList([double_conv(2 * widths[i], widths[i]) for i in reversed(range(depth))])
        self.head = nn.Conv2d(widths[0], out_channels, kernel_size=1)   # per-pixel logits

    def forward(self, x: Tensor) -> Tensor:
        skips = []
        for i, block in enumerate(self.down):
            x = block(x if i == 0 else self.pool(x))
            skips.append(x)
        skips.pop()                                # the bottom level has no partner
        for up, decode in zip(self.up, self.decode):
            skip = skips.pop()
            x = up(x)
            dy, dx = skip.shape[-2] - x.shape[-2], skip.shape[-1] - x.shape[-1]
            x = F.pad(x, [dx // 2, dx - dx // 2, dy // 2, dy - dy // 2])
            x = decode(torch.cat([skip, x], dim=1))   # the skip connection
        return self.head(x)
