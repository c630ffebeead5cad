"""An encoder–decoder that removes noise from low-dose CT slices.

Lowering the tube current lowers the patient's dose but adds quantum noise. The network
is trained on pairs (noisy low-dose image → clean full-dose image). With ``residual=True``
it predicts the *noise* and subtracts it from the input (residual learning, as in DnCNN,
Zhang et al. 2017): the noise is simpler than the anatomy, so the network learns faster
and cannot blur what it leaves untouched.
"""
from __future__ import annotations

from torch import Tensor, nn


class DenoisingAutoencoder(nn.Module):
    """Strided convs compress the image ``depth`` times, transposed convs restore the size.

    Inputs in [0, 1]; the output has the input's shape (height and width must be
    divisible by ``2**depth``, e.g. 28 or 64 with depth 2).
    """

    def __init__(self, in_channels: int = 1, base: int = 16, depth: int = 2, residual: bool = True):
        super().__init__()
        if depth < 1 or base < 1:
            raise ValueError(f"depth and base must be at least 1 (got depth={depth}, base={base})")
        self.depth, self.residual = depth, residual
        encoder: list[nn.Module] = [nn.Conv2d(in_channels, base, 3, padding=1), nn.ReLU(inplace=True)]
        channels = base
        for _ in range(depth):   # each step: half the size, twice the channels
            encoder += [nn.Conv2d(channels, 2 * channels, 3, stride=2, padding=1), nn.ReLU(inplace=True)]
            channels *= 2
        decoder: list[nn.Module] = []
        for _ in range(depth):   # each step: twice the size, half the channels
            decoder += [nn.ConvTranspose2d(channels, channels // 2, 2, stride=2), nn.ReLU(inplace=True)]
            channels //= 2
        decoder.append(nn.Conv2d(channels, in_channels, 3, padding=1))
        self.encoder = nn.Sequential(*encoder)
        self.decoder = nn.Sequential(*decoder)

    def forward(self, x: Tensor) -> Tensor:
        factor = 2**self.depth
        if x.shape[-1] % factor or x.shape[-2] % factor:
            raise ValueError(f"image size {tuple(x.shape[-2:])} must be divisible by {factor} "
                             f"(depth={self.depth}); crop or pad the images, or lower depth")
        out = self.decoder(self.encoder(x))
        return x - out if self.residual else out   # residual: the decoder's output is the noise estimate
