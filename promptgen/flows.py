"""The invertible network f_θ: ε -> z of Sec. 3.2 (and its conditional extension, App. B.5).

Each block is the affine coupling used by the paper's code (FrEIA's ``AllInOneBlock`` with
``permute_soft=True``): split x = (x1, x2); a = 0.1 · subnet([x1, c]); s = clamp · tanh(a_s);
x2' = x2 · exp(s) + a_t; then a learned per-dimension scale 0.1 · softplus_{β=0.5}(g) (initialised to 1)
and offset; then a fixed random rotation Q ∈ SO(d). log|det| = Σ s + Σ log scale.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from promptgen.registry import ConfigError

__all__ = ["INN", "CouplingBlock", "random_rotation"]

_SOFTPLUS_BETA = 0.5
_SCALE_FACTOR = 0.1  # the scale is 0.1 · softplus_{β=0.5}(g)
_SUBNET_OUTPUT_FACTOR = 0.1  # a = 0.1 · subnet(x1, c)


def random_rotation(dim: int, generator: torch.Generator) -> Tensor:
    """A Haar-random rotation from SO(dim) (QR of a Gaussian matrix, signs fixed, det +1), float64."""
    a = torch.randn(dim, dim, generator=generator, dtype=torch.float64)
    q, r = torch.linalg.qr(a)
    q = q * torch.sign(torch.diagonal(r)).unsqueeze(0)
    if torch.linalg.det(q) < 0:
        q[:, 0] = -q[:, 0]
    return q


def _inverse_softplus_param(scale: float) -> float:
    """g such that 0.1 · softplus_{β=0.5}(g) = scale."""
    return math.log(math.expm1(_SOFTPLUS_BETA * scale / _SCALE_FACTOR)) / _SOFTPLUS_BETA


def _init_linear(layer: nn.Linear, generator: torch.Generator) -> None:
    """PyTorch's default Linear initialisation, drawn from ``generator``: an INN is a function of its seed."""
    nn.init.kaiming_uniform_(layer.weight, a=math.sqrt(5), generator=generator)
    bound = 1 / math.sqrt(layer.in_features)
    nn.init.uniform_(layer.bias, -bound, bound, generator=generator)


class CouplingBlock(nn.Module):
    """One affine coupling block with global affine and a fixed rotation.

    Arguments:
        dim: data dimension d ≥ 2; the first ceil(d/2) coordinates condition the last floor(d/2).
        cond_dim: condition size c, concatenated to the subnet input (0 for unconditional).
        hidden: subnet width (the paper: 256).
        clamp: soft clamp of the log-scale, s = clamp · tanh(·) (the paper: 2).
        negative_slope: slope of the subnet's LeakyReLU.
        generator: RNG that draws the fixed rotation.
    """

    def __init__(
        self,
        dim: int,
        cond_dim: int = 0,
        hidden: int = 256,
        clamp: float = 2.0,
        negative_slope: float = 0.1,
        generator: torch.Generator | None = None,
    ):
        super().__init__()
        if dim < 2:
            raise ValueError(f"CouplingBlock needs dim >= 2, got {dim}")
        self.dim, self.cond_dim, self.clamp = dim, cond_dim, clamp
        self.len1, self.len2 = dim - dim // 2, dim // 2
        generator = generator if generator is not None else torch.Generator().manual_seed(0)
        self.subnet = nn.Sequential(
            nn.Linear(self.len1 + cond_dim, hidden),
            nn.LeakyReLU(negative_slope),
            nn.Linear(hidden, 2 * self.len2),
        )
        for layer in (self.subnet[0], self.subnet[2]):
            _init_linear(layer, generator)
        self.global_scale = nn.Parameter(torch.full((dim,), _inverse_softplus_param(1.0)))
        self.global_offset = nn.Parameter(torch.zeros(dim))
        self.register_buffer("rotation", random_rotation(dim, generator).to(torch.get_default_dtype()))

    def scale(self) -> Tensor:
        return _SCALE_FACTOR * F.softplus(self.global_scale, beta=_SOFTPLUS_BETA)

    def _coupling(self, x1: Tensor, cond: Tensor | None) -> tuple[Tensor, Tensor]:
        inp = x1 if cond is None else torch.cat([x1, cond], dim=1)
        a = _SUBNET_OUTPUT_FACTOR * self.subnet(inp)
        return self.clamp * torch.tanh(a[:, : self.len2]), a[:, self.len2 :]

    def forward(self, x: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        x1, x2 = x[:, : self.len1], x[:, self.len1 :]
        s, t = self._coupling(x1, cond)
        y = torch.cat([x1, x2 * torch.exp(s) + t], dim=1)
        scale = self.scale()
        y = (y * scale + self.global_offset) @ self.rotation.T
        return y, s.sum(dim=1) + torch.log(scale).sum()

    def inverse(self, y: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        scale = self.scale()
        y = (y @ self.rotation - self.global_offset) / scale
        x1, y2 = y[:, : self.len1], y[:, self.len1 :]
        s, t = self._coupling(x1, cond)
        x = torch.cat([x1, (y2 - t) * torch.exp(-s)], dim=1)
        return x, -(s.sum(dim=1) + torch.log(scale).sum())


class INN(nn.Module):
    """The PromptGen INN: z = f_θ(ε[, c]) with a tractable log|det ∂f/∂ε|.

    Arguments:
        dim: latent dimension d of the generator.
        cond_dim: condition size (0: unconditional; 2 for the pose angles (α_x, α_y)).
        blocks: number of coupling blocks (the paper: 8).
        hidden: subnet width (the paper: 256).
        clamp: log-scale soft clamp (the paper: 2).
        negative_slope: LeakyReLU slope in the subnets.
        seed: seeds the initial weights and the fixed rotations: an INN is a function of its config.

    Example:
        >>> inn = INN(dim=8)
        >>> eps = torch.randn(4, 8)
        >>> z, logdet = inn(eps)
        >>> logdet.shape
        torch.Size([4])
        >>> torch.allclose(inn.inverse(z)[0], eps, atol=1e-5)
        True
    """

    def __init__(
        self,
        dim: int,
        cond_dim: int = 0,
        blocks: int = 8,
        hidden: int = 256,
        clamp: float = 2.0,
        negative_slope: float = 0.1,
        seed: int = 0,
    ):
        super().__init__()
        _check_config(dim=dim, cond_dim=cond_dim, blocks=blocks, hidden=hidden, clamp=clamp, seed=seed)
        _check_config(negative_slope=negative_slope)
        self.config = dict(
            dim=dim,
            cond_dim=cond_dim,
            blocks=blocks,
            hidden=hidden,
            clamp=clamp,
            negative_slope=negative_slope,
            seed=seed,
        )
        self.dim, self.cond_dim = dim, cond_dim
        gen = torch.Generator().manual_seed(seed)
        self.blocks = nn.ModuleList(
            CouplingBlock(dim, cond_dim, hidden, clamp, negative_slope, gen) for _ in range(blocks)
        )

    def _check(self, x: Tensor, cond: Tensor | None) -> None:
        if x.ndim != 2 or x.shape[1] != self.dim:
            raise ValueError(f"INN expects inputs of shape (N, {self.dim}), got {tuple(x.shape)}")
        if (cond is None) != (self.cond_dim == 0):
            raise ValueError(
                f"INN has cond_dim={self.cond_dim} but cond is {'missing' if cond is None else 'given'}"
            )
        if cond is not None and cond.shape != (x.shape[0], self.cond_dim):
            raise ValueError(f"INN expects cond of shape (N, {self.cond_dim}), got {tuple(cond.shape)}")

    def forward(self, eps: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Return z = f(ε, c) and log|det ∂z/∂ε| per sample."""
        self._check(eps, cond)
        logdet = eps.new_zeros(eps.shape[0])
        for block in self.blocks:
            eps, ld = block(eps, cond)
            logdet = logdet + ld
        return eps, logdet

    def inverse(self, z: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Return ε = f⁻¹(z, c) and log|det ∂ε/∂z| per sample."""
        self._check(z, cond)
        logdet = z.new_zeros(z.shape[0])
        for block in reversed(self.blocks):
            z, ld = block.inverse(z, cond)
            logdet = logdet + ld
        return z, logdet

    def log_prob(self, z: Tensor, cond: Tensor | None = None) -> Tensor:
        """log p_θ(z) = log N(f⁻¹(z); 0, I) + log|det ∂f⁻¹/∂z| (Eq. 8)."""
        eps, logdet = self.inverse(z, cond)
        return standard_normal_log_prob(eps) + logdet

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> INN:
        return cls(**config)


def _check_config(**values: Any) -> None:
    """Sizes: integers ≥ 1 (``cond_dim`` ≥ 0); ``clamp`` > 0; ``negative_slope`` ≥ 0. Errors name the key."""
    low = {"dim": 1, "blocks": 1, "hidden": 1, "cond_dim": 0}
    for key, value in values.items():
        if key in low or key == "seed":
            if isinstance(value, bool) or not isinstance(value, int) or value < low.get(key, -(2**63)):
                wanted = f"an integer ≥ {low[key]}" if key in low else "an integer"
                raise ConfigError(f"inn.{key}: expected {wanted}, got {value!r}")
        elif isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise ConfigError(f"inn.{key}: expected a number, got {value!r}")
        elif (key == "clamp" and value <= 0) or value < 0:
            bound = ">" if key == "clamp" else "≥"
            raise ConfigError(f"inn.{key}: expected a number {bound} 0, got {value!r}")


def standard_normal_log_prob(x: Tensor) -> Tensor:
    """log N(x; 0, I) summed over the last dimension."""
    return -0.5 * (x * x).sum(-1) - 0.5 * x.shape[-1] * math.log(2 * math.pi)


__all__ += ["standard_normal_log_prob"]
