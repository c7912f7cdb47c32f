"""Pure-PyTorch operations of StyleGAN2: FIR resampling, modulated convolution and the bias-activation.

Everything here is plain ``torch.nn.functional`` (no custom CUDA op), runs in any float dtype on CPU or
CUDA, and follows the equations of Karras et al. (2020), Sections 2.2 and 4.

References:
    | Analyzing and Improving the Image Quality of StyleGAN (Karras et al., 2020)
    | https://arxiv.org/abs/1912.04958
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    "DEMODULATION_EPS",
    "LRELU_GAIN",
    "LRELU_SLOPE",
    "NORMALIZE_EPS",
    "UPSAMPLE_FACTOR",
    "bias_act",
    "fir_filter",
    "modulated_conv2d",
    "normalize_2nd_moment",
    "upsample_image",
]

LRELU_SLOPE = 0.2  # leaky-ReLU negative slope
LRELU_GAIN = math.sqrt(2.0)  # gain that keeps the leaky ReLU variance-preserving ("def_gain")
DEMODULATION_EPS = 1e-8  # ε in the demodulation 1/sqrt(Σ w² + ε) (paper Eq. 3)
NORMALIZE_EPS = 1e-8  # ε in the pixel-norm of z before the mapping network
UPSAMPLE_FACTOR = 2  # every synthesis block doubles the resolution


def normalize_2nd_moment(x: Tensor, eps: float = NORMALIZE_EPS) -> Tensor:
    """Scale every row of ``x`` to unit mean square (the mapping network's input normalisation)."""
    return x * (x.square().mean(dim=1, keepdim=True) + eps).rsqrt()


def bias_act(
    x: Tensor, bias: Tensor, *, lrelu: bool, gain: float = 1.0, clamp: float | None = None
) -> Tensor:
    """Add a per-channel bias, apply the leaky ReLU (gain √2) if asked, scale, clamp to ±clamp·gain."""
    x = x + bias.to(x.dtype).reshape(1, -1, *([1] * (x.ndim - 2)))
    if lrelu:
        x = F.leaky_relu(x, LRELU_SLOPE) * (LRELU_GAIN * gain)
    elif gain != 1.0:
        x = x * gain
    if clamp is not None:
        x = x.clamp(-clamp * gain, clamp * gain)
    return x


def fir_filter(taps: Sequence[float], dtype: torch.dtype = torch.float32) -> Tensor:
    """The separable 2-D low-pass filter ``outer(taps, taps)`` normalised to unit sum."""
    f = torch.as_tensor(list(taps), dtype=torch.float64)
    f2d = torch.outer(f, f)
    return (f2d / f2d.sum()).to(dtype)


def _filter2d(x: Tensor, f: Tensor, pad: tuple[int, int], gain: float) -> Tensor:
    """Pad every side of ``x`` by ``pad = (before, after)`` and convolve each channel with ``gain · f``."""
    channels = x.shape[1]
    kernel = (f.flip([0, 1]) * gain).to(x.dtype)[None, None].expand(channels, 1, *f.shape)
    x = F.pad(x, [pad[0], pad[1], pad[0], pad[1]])
    return F.conv2d(x, kernel, groups=channels)


def upsample_image(x: Tensor, f: Tensor, up: int = UPSAMPLE_FACTOR) -> Tensor:
    """Upsample ×``up`` by zero insertion and the FIR filter ``f`` (gain ``up²``); output ``up·H × up·W``."""
    n, c, h, w = x.shape
    taps = f.shape[0]
    x = x.reshape(n, c, h, 1, w, 1)
    x = F.pad(x, [0, up - 1, 0, 0, 0, up - 1]).reshape(n, c, h * up, w * up)
    pad = ((taps + up - 1) // 2, (taps - up) // 2)
    return _filter2d(x, f, pad, gain=float(up * up))


def modulated_conv2d(
    x: Tensor,
    weight: Tensor,
    styles: Tensor,
    *,
    demodulate: bool = True,
    up: int = 1,
    f: Tensor | None = None,
) -> Tensor:
    """Per-sample modulated (and demodulated) convolution, run as one grouped convolution.

    Arguments:
        x: activations ``(N, I, H, W)``.
        weight: base kernel ``(O, I, k, k)``.
        styles: per-sample input-channel scales ``(N, I)``.
        demodulate: divide each output channel by the norm of its modulated kernel (paper Eq. 3).
        up: 1, or 2 for a transposed stride-2 convolution followed by the FIR filter ``f``.
        f: the 2-D low-pass filter, required when ``up > 1``.

    Returns:
        ``(N, O, up·H, up·W)`` with "same" padding.
    """
    n, in_ch, h, w_ = x.shape
    out_ch, _, k, _ = weight.shape
    w = weight.to(x.dtype)[None] * styles.to(x.dtype)[:, None, :, None, None]  # (N, O, I, k, k)
    if demodulate:
        w = w * (w.square().sum(dim=[2, 3, 4]) + DEMODULATION_EPS).rsqrt()[:, :, None, None, None]
    x = x.reshape(1, n * in_ch, h, w_)
    if up == 1:
        x = F.conv2d(x, w.reshape(n * out_ch, in_ch, k, k), padding=k // 2, groups=n)
    else:
        if f is None:
            raise ValueError("modulated_conv2d: up > 1 needs the FIR filter f")
        w = w.transpose(1, 2).reshape(n * in_ch, out_ch, k, k)
        x = F.conv_transpose2d(x, w, stride=up, groups=n)
        taps = f.shape[0]
        pad_before = (taps + up - 1) // 2 + k // 2 - (k - 1)
        pad_after = (taps - up) // 2 + k // 2 - (k - up)
        x = _filter2d(x, f, (pad_before, pad_after), gain=float(up * up))
    return x.reshape(n, out_ch, *x.shape[2:])
