"""The StyleGAN2 residual discriminator (the "resnet" D of configs E/F) in pure PyTorch, for training.

Equalised learning rate everywhere. Each block is two 3×3 convolutions (the second low-passes with the FIR
filter and strides by 2) plus a low-passed, strided 1×1 skip, summed with gain 1/√2; the 4×4 epilogue
appends the minibatch standard deviation, then a 3×3 convolution and two fully connected layers.

References:
    | Analyzing and Improving the Image Quality of StyleGAN (Karras et al., 2020), Appendix B
    | https://arxiv.org/abs/1912.04958
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from promptgen.generators.stylegan2.network import MIN_RESOLUTION, FullyConnected
from promptgen.generators.stylegan2.ops import bias_act, filter2d, fir_filter

__all__ = ["Conv2dLayer", "Discriminator", "DiscriminatorBlock"]

SKIP_GAIN = 1.0 / math.sqrt(2.0)  # the residual sum (x + skip) keeps unit variance
MBSTD_GROUP = 4  # minibatch-stddev group size
RESAMPLE_TAPS = (1.0, 3.0, 3.0, 1.0)
DOWN = 2


class Conv2dLayer(nn.Module):
    """Equalised-lr convolution, optionally low-passed and strided by 2, with optional bias and leaky ReLU.

    Arguments:
        in_channels: input channels.
        out_channels: output channels.
        kernel: odd kernel size.
        down: 1, or 2 to low-pass with the FIR filter and stride by 2.
        bias: add a learned bias.
        lrelu: apply the leaky ReLU (gain √2).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel: int,
        *,
        down: int = 1,
        bias: bool = True,
        lrelu: bool,
    ):
        super().__init__()
        self.down, self.kernel, self.lrelu = down, kernel, lrelu
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel, kernel))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.weight_gain = 1.0 / math.sqrt(in_channels * kernel * kernel)
        self.register_buffer("resample_filter", fir_filter(RESAMPLE_TAPS), persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        w = (self.weight * self.weight_gain).to(x.dtype)
        if self.down > 1:
            taps = self.resample_filter.shape[0]
            x = filter2d(x, self.resample_filter, (taps - self.down + self.kernel - 1) // 2)
            x = F.conv2d(x, w, stride=self.down)
        else:
            x = F.conv2d(x, w, padding=self.kernel // 2)
        if self.bias is None:
            return x * math.sqrt(2.0) if self.lrelu else x
        return bias_act(x, self.bias, lrelu=self.lrelu)


class DiscriminatorBlock(nn.Module):
    """conv 3×3 → conv 3×3 ↓2, plus the skip 1×1 ↓2 (no bias), summed with gain 1/√2."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.conv0 = Conv2dLayer(in_channels, in_channels, 3, lrelu=True)
        self.conv1 = Conv2dLayer(in_channels, out_channels, 3, down=DOWN, lrelu=True)
        self.skip = Conv2dLayer(in_channels, out_channels, 1, down=DOWN, bias=False, lrelu=False)

    def forward(self, x: Tensor) -> Tensor:
        return (self.skip(x) + self.conv1(self.conv0(x))) * SKIP_GAIN


def minibatch_stddev(x: Tensor, group: int = MBSTD_GROUP) -> Tensor:
    """Append one channel: the standard deviation over groups of ``group`` samples, averaged per group."""
    n, c, h, w = x.shape
    g = min(group, n)
    if n % g:
        raise ValueError(f"minibatch_stddev: batch {n} is not a multiple of the group size {g}")
    y = x.reshape(g, n // g, c, h, w)
    y = (y - y.mean(dim=0)).square().mean(dim=0).add(1e-8).sqrt().mean(dim=[1, 2, 3])  # (n // g,)
    y = y.reshape(1, n // g, 1, 1, 1).expand(g, -1, 1, h, w).reshape(n, 1, h, w)
    return torch.cat([x, y], dim=1)


class Discriminator(nn.Module):
    """Images ``(N, C, R, R)`` in [−1, 1] (and labels ``(N, c_dim)``) -> real/fake logits ``(N,)``.

    With ``c_dim > 0`` it is a projection discriminator (Miyato & Koyama, 2018), as StyleGAN2-ADA's
    conditional D: the last layer maps the image to a vector, the labels are embedded in the same space,
    and the logit is their inner product over the square root of the width.

    Arguments:
        img_resolution: input resolution, a power of two ≥ 8.
        channels: channel count per resolution, from ``img_resolution`` down to 4.
        img_channels: input colour channels.
        c_dim: label dimension (0: unconditional).
    """

    def __init__(self, img_resolution: int, channels: dict[int, int], img_channels: int = 3, c_dim: int = 0):
        super().__init__()
        self.resolutions = [r for r in sorted(channels, reverse=True) if r > MIN_RESOLUTION]
        if not self.resolutions or self.resolutions[0] != img_resolution or MIN_RESOLUTION not in channels:
            raise ValueError(f"channels: expected resolutions {img_resolution} … 4, got {sorted(channels)}")
        self.from_rgb = Conv2dLayer(img_channels, channels[img_resolution], 1, lrelu=True)
        for res in self.resolutions:
            setattr(self, f"b{res}", DiscriminatorBlock(channels[res], channels[res // DOWN]))
        c4 = channels[MIN_RESOLUTION]
        self.conv = Conv2dLayer(c4 + 1, c4, 3, lrelu=True)
        self.fc = FullyConnected(c4 * MIN_RESOLUTION * MIN_RESOLUTION, c4, lrelu=True)
        self.c_dim = c_dim
        self.out = FullyConnected(c4, c4 if c_dim else 1)
        if c_dim:
            self.embed = FullyConnected(c_dim, c4)

    def forward(self, img: Tensor, c: Tensor | None = None) -> Tensor:
        if (c is None) != (self.c_dim == 0) or (c is not None and c.shape != (img.shape[0], self.c_dim)):
            got = None if c is None else tuple(c.shape)
            raise ValueError(f"Discriminator: labels of shape (N, {self.c_dim}) expected, got {got}")
        x = self.from_rgb(img)
        for res in self.resolutions:
            x = getattr(self, f"b{res}")(x)
        x = self.out(self.fc(self.conv(minibatch_stddev(x)).flatten(1)))
        if c is None:
            return x.squeeze(1)
        return (x * self.embed(c)).sum(1) / math.sqrt(x.shape[1])
