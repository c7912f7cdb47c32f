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
    "filter2d",
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


def _filter2d(x: Tensor, f: Tensor, pad: tuple[int, int], gain: float, separable: bool = False) -> Tensor:
    """Pad every side of ``x`` by ``pad = (before, after)`` and convolve each channel with ``gain · f``.

    ``separable``: as two 1-D passes of shifted, weighted sums (``f`` is an outer product of its row sums):
    the same filter up to float rounding, and many times faster than a depthwise convolution on CPU, also
    in the double backward of R1.
    """
    if separable:
        return _filter2d_separable(x, f, pad, gain)
    channels = x.shape[1]
    kernel = (f.flip([0, 1]) * gain).to(x.dtype)[None, None].expand(channels, 1, *f.shape)
    x = F.pad(x, [pad[0], pad[1], pad[0], pad[1]])
    return F.conv2d(x, kernel, groups=channels)


def _filter2d_separable(x: Tensor, f: Tensor, pad: tuple[int, int], gain: float) -> Tensor:
    taps = f.flip([0, 1]).sum(dim=1).tolist()
    x = F.pad(x, [pad[0], pad[1], pad[0], pad[1]])
    h, w = x.shape[2] - len(taps) + 1, x.shape[3] - len(taps) + 1
    x = sum(t * x[:, :, :, j : j + w] for j, t in enumerate(taps))
    x = sum(t * x[:, :, j : j + h, :] for j, t in enumerate(taps))
    return x * gain if gain != 1.0 else x


def filter2d(x: Tensor, f: Tensor, pad: int, separable: bool = True) -> Tensor:
    """Low-pass every channel of ``x`` with the separable 2-D filter ``f`` after zero-padding ``pad``."""
    return _filter2d(x, f, (pad, pad), gain=1.0, separable=separable)


def upsample_image(x: Tensor, f: Tensor, up: int = UPSAMPLE_FACTOR, separable: bool = False) -> Tensor:
    """Upsample ×``up`` by zero insertion and the FIR filter ``f`` (gain ``up²``); output ``up·H × up·W``."""
    n, c, h, w = x.shape
    taps = f.shape[0]
    x = x.reshape(n, c, h, 1, w, 1)
    x = F.pad(x, [0, up - 1, 0, 0, 0, up - 1]).reshape(n, c, h * up, w * up)
    pad = ((taps + up - 1) // 2, (taps - up) // 2)
    return _filter2d(x, f, pad, gain=float(up * up), separable=separable)


def modulated_conv2d(
    x: Tensor,
    weight: Tensor,
    styles: Tensor,
    *,
    demodulate: bool = True,
    up: int = 1,
    f: Tensor | None = None,
    fused: bool = True,
) -> Tensor:
    """Per-sample modulated (and demodulated) convolution (paper Eqs. 1-3).

    Arguments:
        x: activations ``(N, I, H, W)``.
        weight: base kernel ``(O, I, k, k)``.
        styles: per-sample input-channel scales ``(N, I)``.
        demodulate: divide each output channel by the norm of its modulated kernel (paper Eq. 3).
        up: 1, or 2 for a transposed stride-2 convolution followed by the FIR filter ``f``.
        f: the 2-D low-pass filter, required when ``up > 1``.
        fused: one grouped convolution with per-sample kernels (``True``), or one shared-kernel
            convolution with the styles applied to the activations and the demodulation to its output
            and a separable FIR filter (``False``: the same function up to float rounding, several times
            faster for training batches on CPU).

    Returns:
        ``(N, O, up·H, up·W)`` with "same" padding.
    """
    if up > 1 and f is None:
        raise ValueError("modulated_conv2d: up > 1 needs the FIR filter f")
    if not fused:
        return _modulated_conv2d_unfused(x, weight, styles, demodulate, up, f)
    n, in_ch, h, w_ = x.shape
    out_ch, _, k, _ = weight.shape
    w = weight.to(x.dtype)[None] * styles.to(x.dtype)[:, None, :, None, None]  # (N, O, I, k, k)
    if demodulate:
        w = w * (w.square().sum(dim=[2, 3, 4]) + DEMODULATION_EPS).rsqrt()[:, :, None, None, None]
    x = x.reshape(1, n * in_ch, h, w_)
    if up == 1:
        x = F.conv2d(x, w.reshape(n * out_ch, in_ch, k, k), padding=k // 2, groups=n)
    else:
        w = w.transpose(1, 2).reshape(n * in_ch, out_ch, k, k)
        x = F.conv_transpose2d(x, w, stride=up, groups=n)
        x = _filter2d(x, f, _up_padding(f, up, k), gain=float(up * up))
    return x.reshape(n, out_ch, *x.shape[2:])


def _up_kernel(weight: Tensor, f: Tensor, up: int) -> tuple[Tensor, int]:
    """One transposed-convolution kernel for "stride-``up`` transposed ``weight``, then the FIR filter ``f``".

    Both steps are linear and act per channel pair, so their composition is a single stride-``up`` transposed
    convolution whose ``(k + taps − 1)``-square kernel is ``weight`` fully correlated with the filter (gain
    ``up²``). It gives the same output up to float rounding, without the up-sampled intermediate and the
    filter's passes over it.

    Returns:
        the kernel ``(O, I, k + taps − 1, k + taps − 1)`` for ``weight`` ``(O, I, k, k)``, and the padding to
        pass to ``conv_transpose2d`` for a "same" (``up·H``) output.
    """
    out_ch, in_ch, k, _ = weight.shape
    taps = f.shape[0]
    g = (f.flip([0, 1]) * (up * up)).to(weight.dtype)
    padded = F.pad(weight.reshape(out_ch * in_ch, 1, k, k), [taps - 1] * 4)
    kernel = F.conv2d(padded, g[None, None]).reshape(out_ch, in_ch, k + taps - 1, k + taps - 1)
    return kernel, taps - 1 - _up_padding(f, up, k)[0]


def _up_padding(f: Tensor, up: int, k: int) -> tuple[int, int]:
    """Padding of the FIR filter after a stride-``up`` transposed ``k``×``k`` convolution ("same" output)."""
    taps = f.shape[0]
    return (taps + up - 1) // 2 + k // 2 - (k - 1), (taps - up) // 2 + k // 2 - (k - up)


def _modulated_conv2d_unfused(
    x: Tensor, weight: Tensor, styles: Tensor, demodulate: bool, up: int, f: Tensor | None
) -> Tensor:
    """Modulated convolution as x·s → shared convolution → ·d (NVIDIA's ``fused_modconv=False`` order)."""
    weight, styles = weight.to(x.dtype), styles.to(x.dtype)
    k = weight.shape[-1]
    x = x * styles[:, :, None, None]
    if up == 1:
        x = F.conv2d(x, weight, padding=k // 2)
    else:
        kernel, pad = _up_kernel(weight, f, up)
        x = F.conv_transpose2d(x, kernel.transpose(0, 1), stride=up, padding=pad)
    if demodulate:
        norm = (weight.square().sum(dim=[2, 3])[None] * styles.square()[:, None, :]).sum(dim=2)
        x = x * (norm + DEMODULATION_EPS).rsqrt()[:, :, None, None]
    return x
