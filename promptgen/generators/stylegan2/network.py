"""The StyleGAN2 (config F) generator network in pure PyTorch: mapping, synthesis, truncation, noise.

Parameter and buffer names follow the layout of NVIDIA's ``G_ema`` state dict
(``mapping.fc0.weight``, ``synthesis.b64.conv0.affine.bias``, ``synthesis.b4.const`` …), so both checkpoint
loaders fill the same module with ``load_state_dict``. Weights are stored unscaled and multiplied by their
equalised-learning-rate gains in the forward pass, as in the original.

References:
    | Analyzing and Improving the Image Quality of StyleGAN (Karras et al., 2020)
    | https://arxiv.org/abs/1912.04958
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from promptgen.generators.stylegan2.ops import (
    UPSAMPLE_FACTOR,
    bias_act,
    fir_filter,
    modulated_conv2d,
    normalize_2nd_moment,
    upsample_image,
)

__all__ = [
    "NOISE_MODES",
    "FullyConnected",
    "MappingNetwork",
    "NoiseRNG",
    "StyleGAN2Config",
    "StyleGAN2Network",
    "SynthesisBlock",
    "SynthesisLayer",
    "SynthesisNetwork",
    "ToRGB",
    "config_f_channels",
]

NOISE_MODES = ("const", "random", "none")
MIN_RESOLUTION = 4  # the constant input's resolution
MAX_RESOLUTION = 1024
CONFIG_F_CHANNEL_BASE = 32768  # config F: channels(res) = min(base / res, max)
CONFIG_F_CHANNEL_MAX = 512
CONV_KERNEL = 3
AFFINE_BIAS_INIT = 1.0  # style affines start at s = 1
NoiseRNG = torch.Generator | Sequence[torch.Generator] | None


def config_f_channels(resolution: int) -> dict[int, int]:
    """Channel count per block resolution of config F (512 up to 32×32, then halving)."""
    return {
        res: min(CONFIG_F_CHANNEL_BASE // res, CONFIG_F_CHANNEL_MAX) for res in _block_resolutions(resolution)
    }


def _block_resolutions(resolution: int) -> list[int]:
    if resolution < MIN_RESOLUTION or resolution > MAX_RESOLUTION or resolution & (resolution - 1):
        raise ValueError(f"resolution: expected a power of two in [4, 1024], got {resolution}")
    return [2**i for i in range(2, int(math.log2(resolution)) + 1)]


@dataclass(frozen=True)
class StyleGAN2Config:
    """Hyper-parameters of a StyleGAN2 generator; the defaults are config F (FFHQ-1024).

    Arguments:
        img_resolution: output height and width, a power of two in [4, 1024].
        z_dim: dimension of the Gaussian latent z.
        w_dim: dimension of the intermediate latent w.
        img_channels: output colour channels.
        channels: channel count per block resolution; ``None`` means config F.
        mapping_layers: number of fully connected layers of the mapping network.
        mapping_lr_multiplier: learning-rate multiplier of the mapping layers (their weight/bias gain).
        conv_clamp: clamp synthesis activations to ±conv_clamp (``None`` disables; NVIDIA's ADA uses 256).
        use_noise: whether synthesis layers have noise inputs.
        resample_filter: taps of the separable FIR filter used for up-sampling.
    """

    img_resolution: int = 1024
    z_dim: int = 512
    w_dim: int = 512
    img_channels: int = 3
    channels: dict[int, int] | None = None
    mapping_layers: int = 8
    mapping_lr_multiplier: float = 0.01
    conv_clamp: float | None = None
    use_noise: bool = True
    resample_filter: tuple[float, ...] = field(default=(1.0, 3.0, 3.0, 1.0))

    def block_channels(self) -> dict[int, int]:
        """Channel count per block resolution, validated against the output resolution."""
        expected = _block_resolutions(self.img_resolution)
        channels = self.channels if self.channels is not None else config_f_channels(self.img_resolution)
        if sorted(channels) != expected:
            raise ValueError(f"channels: expected resolutions {expected}, got {sorted(channels)}")
        return dict(channels)


class FullyConnected(nn.Module):
    """Equalised-learning-rate linear layer: y = x (g_w W)ᵀ + g_b b, optionally with leaky ReLU.

    Arguments:
        in_features: input size.
        out_features: output size.
        lrelu: apply the leaky ReLU (with its √2 gain).
        lr_multiplier: learning-rate multiplier λ; weight gain λ/√in, bias gain λ.
        bias_init: initial bias value.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        lrelu: bool = False,
        lr_multiplier: float = 1.0,
        bias_init: float = 0.0,
    ):
        super().__init__()
        self.lrelu = lrelu
        self.weight = nn.Parameter(torch.randn(out_features, in_features) / lr_multiplier)
        self.bias = nn.Parameter(torch.full((out_features,), float(bias_init)))
        self.weight_gain = lr_multiplier / math.sqrt(in_features)
        self.bias_gain = lr_multiplier

    def forward(self, x: Tensor) -> Tensor:
        w = (self.weight.to(x.dtype) * self.weight_gain).t()
        b = self.bias.to(x.dtype) * self.bias_gain
        if not self.lrelu:  # one addmm, as NVIDIA's layers without activation: the same float32 rounding
            return torch.addmm(b.unsqueeze(0), x, w)
        return bias_act(x @ w, b, lrelu=True)


class MappingNetwork(nn.Module):
    """z -> w: pixel-norm then ``layers`` leaky-ReLU FC layers; holds the running mean ``w_avg``."""

    def __init__(self, z_dim: int, w_dim: int, layers: int, lr_multiplier: float):
        super().__init__()
        self.num_layers = layers
        for idx in range(layers):
            fc = FullyConnected(z_dim if idx == 0 else w_dim, w_dim, lrelu=True, lr_multiplier=lr_multiplier)
            setattr(self, f"fc{idx}", fc)
        self.register_buffer("w_avg", torch.zeros(w_dim))

    def forward(self, z: Tensor) -> Tensor:
        x = normalize_2nd_moment(z)
        for idx in range(self.num_layers):
            x = getattr(self, f"fc{idx}")(x)
        return x


def _draw_noise(x: Tensor, resolution: int, rng: NoiseRNG) -> Tensor:
    """Standard normal noise ``(N, 1, res, res)``; one generator per sample makes row i batch-independent."""
    shape = (1, resolution, resolution)
    if rng is None or isinstance(rng, torch.Generator):
        device = rng.device if rng is not None else x.device
        noise = torch.randn((x.shape[0], *shape), generator=rng, device=device, dtype=x.dtype)
    else:
        if len(rng) != x.shape[0]:
            raise ValueError(f"generator: expected {x.shape[0]} per-sample generators, got {len(rng)}")
        noise = torch.stack([torch.randn(shape, generator=g, device=g.device, dtype=x.dtype) for g in rng])
    return noise.to(x.device)


class SynthesisLayer(nn.Module):
    """Modulated 3×3 convolution (optionally up-sampling ×2), noise input, bias, leaky ReLU and clamp."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        w_dim: int,
        resolution: int,
        *,
        up: int,
        use_noise: bool,
        conv_clamp: float | None,
    ):
        super().__init__()
        self.resolution, self.up, self.use_noise, self.conv_clamp = resolution, up, use_noise, conv_clamp
        self.affine = FullyConnected(w_dim, in_channels, bias_init=AFFINE_BIAS_INIT)
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, CONV_KERNEL, CONV_KERNEL))
        if use_noise:
            self.register_buffer("noise_const", torch.randn(resolution, resolution))
            self.noise_strength = nn.Parameter(torch.zeros(()))
        self.bias = nn.Parameter(torch.zeros(out_channels))

    def forward(
        self, x: Tensor, s: Tensor, f: Tensor, noise_mode: str, rng: NoiseRNG, fused: bool = True
    ) -> Tensor:
        """Activations for the styles ``s = affine(w)`` ``(N, in_channels)`` (one point of S-space)."""
        x = modulated_conv2d(x, self.weight, s, up=self.up, f=f, fused=fused)
        if self.use_noise and noise_mode == "random":
            x = x + _draw_noise(x, self.resolution, rng) * self.noise_strength.to(x.dtype)
        elif self.use_noise and noise_mode == "const":
            x = x + (self.noise_const * self.noise_strength).to(x.dtype)
        return bias_act(x, self.bias, lrelu=True, clamp=self.conv_clamp)


class ToRGB(nn.Module):
    """Modulated 1×1 convolution to image channels, without demodulation, plus bias and clamp."""

    def __init__(self, in_channels: int, img_channels: int, w_dim: int, conv_clamp: float | None):
        super().__init__()
        self.conv_clamp = conv_clamp
        self.affine = FullyConnected(w_dim, in_channels, bias_init=AFFINE_BIAS_INIT)
        self.weight = nn.Parameter(torch.randn(img_channels, in_channels, 1, 1))
        self.bias = nn.Parameter(torch.zeros(img_channels))
        self.weight_gain = 1.0 / math.sqrt(in_channels)

    def forward(self, x: Tensor, s: Tensor, fused: bool = True) -> Tensor:
        """RGB for the styles ``s = affine(w)`` ``(N, in_channels)``; the 1/√fan-in gain is applied here."""
        x = modulated_conv2d(x, self.weight, s * self.weight_gain, demodulate=False, fused=fused)
        return bias_act(x, self.bias, lrelu=False, clamp=self.conv_clamp)


class SynthesisBlock(nn.Module):
    """One skip-architecture resolution: (const | up-conv) → conv → toRGB, added to the upsampled image."""

    def __init__(self, in_channels: int, out_channels: int, resolution: int, cfg: StyleGAN2Config):
        super().__init__()
        self.in_channels = in_channels
        layer_args = {"use_noise": cfg.use_noise, "conv_clamp": cfg.conv_clamp}
        if in_channels == 0:
            self.const = nn.Parameter(torch.randn(out_channels, resolution, resolution))
        else:
            self.conv0 = SynthesisLayer(
                in_channels, out_channels, cfg.w_dim, resolution, up=UPSAMPLE_FACTOR, **layer_args
            )
        self.conv1 = SynthesisLayer(out_channels, out_channels, cfg.w_dim, resolution, up=1, **layer_args)
        self.torgb = ToRGB(out_channels, cfg.img_channels, cfg.w_dim, cfg.conv_clamp)
        self.num_conv = 1 if in_channels == 0 else 2

    def style_layers(self) -> list[nn.Module]:
        """The block's modulated layers in w⁺ order: (conv0,) conv1, torgb."""
        convs = [self.conv1] if self.in_channels == 0 else [self.conv0, self.conv1]
        return [*convs, self.torgb]

    def forward(
        self,
        x: Tensor | None,
        img: Tensor | None,
        styles: Sequence[Tensor],
        f: Tensor,
        noise_mode: str,
        rng: NoiseRNG,
        fused: bool = True,
    ) -> tuple[Tensor, Tensor]:
        """One block from its styles (one ``(N, C)`` tensor per layer of :meth:`style_layers`)."""
        s_iter = iter(styles)
        if x is None:
            x = self.const.to(styles[0].dtype)[None].expand(styles[0].shape[0], -1, -1, -1)
        else:
            x = self.conv0(x, next(s_iter), f, noise_mode, rng, fused)
        x = self.conv1(x, next(s_iter), f, noise_mode, rng, fused)
        y = self.torgb(x, next(s_iter), fused)
        img = y if img is None else upsample_image(img, f.to(img.dtype), separable=not fused) + y
        return x, img


class SynthesisNetwork(nn.Module):
    """w⁺ (N, num_ws, w_dim) -> image, through blocks ``b4 … b{resolution}``."""

    def __init__(self, cfg: StyleGAN2Config):
        super().__init__()
        channels = cfg.block_channels()
        self.block_resolutions = sorted(channels)
        self.num_ws = 0
        for res in self.block_resolutions:
            in_channels = channels[res // 2] if res > MIN_RESOLUTION else 0
            block = SynthesisBlock(in_channels, channels[res], res, cfg)
            setattr(self, f"b{res}", block)
            self.num_ws += block.num_conv
        self.num_ws += 1  # the last block's toRGB
        self.register_buffer("resample_filter", fir_filter(cfg.resample_filter), persistent=False)

    def style_layers(self) -> list[tuple[str, nn.Module]]:
        """Every modulated layer (name, module) in S-space order: per block (conv0,) conv1, torgb."""
        out = []
        for res in self.block_resolutions:
            block = getattr(self, f"b{res}")
            names = (["conv1"] if block.in_channels == 0 else ["conv0", "conv1"]) + ["torgb"]
            out += [(f"b{res}.{n}", layer) for n, layer in zip(names, block.style_layers(), strict=True)]
        return out

    def style_w_index(self) -> list[int]:
        """For every style layer, the index of the w⁺ entry that drives it (toRGB shares the next conv's)."""
        index, w_idx = [], 0
        for res in self.block_resolutions:
            block = getattr(self, f"b{res}")
            index += [w_idx + i for i in range(block.num_conv)] + [w_idx + block.num_conv]
            w_idx += block.num_conv
        return index

    def ws_to_styles(self, ws: Tensor) -> list[Tensor]:
        """S-space: the affine outputs ``s_l = A_l(w⁺[idx_l])``, one ``(N, C_l)`` tensor per style layer."""
        layers = [layer for _, layer in self.style_layers()]
        return [layer.affine(ws[:, i]) for layer, i in zip(layers, self.style_w_index(), strict=True)]

    def forward_styles(
        self, styles: Sequence[Tensor], noise_mode: str = "const", rng: NoiseRNG = None, fused: bool = True
    ) -> Tensor:
        """Images from S-space styles (the list :meth:`ws_to_styles` returns)."""
        x = img = None
        s_idx = 0
        for res in self.block_resolutions:
            block = getattr(self, f"b{res}")
            n_layers = block.num_conv + 1
            x, img = block(
                x, img, styles[s_idx : s_idx + n_layers], self.resample_filter, noise_mode, rng, fused
            )
            s_idx += n_layers
        return img

    def forward(
        self, ws: Tensor, noise_mode: str = "const", rng: NoiseRNG = None, fused: bool = True
    ) -> Tensor:
        """Images from w⁺ ``(N, num_ws, w_dim)``."""
        return self.forward_styles(self.ws_to_styles(ws), noise_mode, rng, fused)


class StyleGAN2Network(nn.Module):
    """The full StyleGAN2 generator z -> w -> w⁺ (truncated toward ``w_avg``) -> image (not clamped).

    Arguments:
        cfg: the hyper-parameters; see :class:`StyleGAN2Config`.

    Example:
        >>> cfg = StyleGAN2Config(img_resolution=16, z_dim=8, w_dim=8, channels={4: 8, 8: 8, 16: 4})
        >>> net = StyleGAN2Network(cfg)
        >>> net(torch.randn(2, 8), psi=0.7).shape
        torch.Size([2, 3, 16, 16])
    """

    def __init__(self, cfg: StyleGAN2Config):
        super().__init__()
        self.cfg = cfg
        self.synthesis = SynthesisNetwork(cfg)
        self.num_ws = self.synthesis.num_ws
        self.mapping = MappingNetwork(cfg.z_dim, cfg.w_dim, cfg.mapping_layers, cfg.mapping_lr_multiplier)

    def truncate(self, w: Tensor, psi: float, cutoff: int | None = None) -> Tensor:
        """Broadcast w to w⁺ and move the first ``cutoff`` (all if ``None``) entries toward w_avg by ψ."""
        ws = w[:, None].expand(-1, self.num_ws, -1)
        if psi == 1.0:
            return ws
        w_avg = self.mapping.w_avg.to(w.dtype)
        truncated = torch.lerp(w_avg.expand_as(ws), ws, psi)  # w_avg + ψ (w − w_avg)
        if cutoff is None or cutoff >= self.num_ws:
            return truncated
        return torch.cat([truncated[:, :cutoff], ws[:, cutoff:]], dim=1)

    def forward(
        self,
        z: Tensor,
        psi: float = 1.0,
        *,
        truncation_cutoff: int | None = None,
        noise_mode: str = "const",
        rng: NoiseRNG = None,
        fused: bool = True,
    ) -> Tensor:
        if noise_mode not in NOISE_MODES:
            raise ValueError(f"noise_mode: expected one of {NOISE_MODES}, got {noise_mode!r}")
        ws = self.truncate(self.mapping(z), psi, truncation_cutoff)
        return self.synthesis(ws, noise_mode, rng, fused)
