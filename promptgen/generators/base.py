"""The generator contract: ``z -> images`` in [-1, 1], NCHW float."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor, nn

from promptgen.plugins import load_plugins
from promptgen.registry import ConfigError, Registry

__all__ = [
    "BUILTIN_GENERATOR_MODULES",
    "GENERATORS",
    "Generator",
    "IdentityGenerator",
    "build_generator",
    "check_contract",
    "check_psi",
    "load_builtin_generators",
]

GENERATORS = Registry("generator")
CONTRACT_BATCH = 4  # latents a user's generator is run on at build time
RANGE_TOLERANCE = 0.05  # how far outside [-1, 1] a user's generator may go (float rounding, a soft tanh)

# Modules whose import registers a built-in generator kind; imported on first use, which keeps
# `import promptgen` light and free of import cycles.
BUILTIN_GENERATOR_MODULES = [
    "promptgen.generators.composed",  # kind "promptgen": G∘f from an INN checkpoint
    "promptgen.generators.stylegan2",  # kind "stylegan2": NVIDIA .pkl / rosinality .pt StyleGAN2
]


def load_builtin_generators() -> None:
    """Import every built-in generator module and every installed plugin (:mod:`promptgen.plugins`) so their
    kinds are registered in :data:`GENERATORS`."""
    for name in BUILTIN_GENERATOR_MODULES:
        importlib.import_module(name)
    load_plugins()


def check_psi(psi: float) -> float:
    """Validate a truncation value; ψ = 1 means no truncation."""
    if not isinstance(psi, int | float) or not 0.0 <= float(psi) <= 1.0:
        raise ConfigError(f"psi: truncation must be a number in [0, 1], got {psi!r}")
    return float(psi)


class Generator(nn.Module):
    """A frozen, pre-trained generator G: R^d -> images.

    Subclasses set ``latent_dim`` and ``resolution`` and implement ``forward(z)`` returning images in
    [-1, 1] with shape ``(N, C, resolution, resolution)``. Truncation ψ is an explicit attribute set at
    construction (the paper trains at ψ = 1 and evaluates at ψ = 0.7); nothing switches it implicitly.

    Arguments:
        latent_dim: dimension d of the Gaussian latent z ~ N(0, I_d).
        resolution: output height and width in pixels.
        psi: truncation ψ in [0, 1].
    """

    cond_dim: int = 0

    def __init__(self, latent_dim: int, resolution: int, psi: float = 1.0):
        super().__init__()
        self.latent_dim = int(latent_dim)
        self.resolution = int(resolution)
        self.psi = check_psi(psi)

    def sample_latent(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        return torch.randn(n, self.latent_dim, generator=generator)

    def forward(self, z: Tensor) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError


class IdentityGenerator(Generator):
    """G(z) = z, shaped ``(N, d, 1, 1)``: the analytic-target generator of App. A (not an image range)."""

    def __init__(self, latent_dim: int, psi: float = 1.0):
        super().__init__(latent_dim, 1, psi)

    def forward(self, z: Tensor) -> Tensor:
        return (self.psi * z).reshape(z.shape[0], self.latent_dim, 1, 1)


@GENERATORS.register("identity")
def _identity(latent_dim: int, psi: float = 1.0) -> IdentityGenerator:
    return IdentityGenerator(latent_dim, psi)


def build_generator(
    entry: Mapping[str, Any],
    *,
    psi: float = 1.0,
    device: torch.device | str = "cpu",
    where: str = "generator",
) -> Generator:
    """Build a frozen generator from a config entry (``kind`` + keyword arguments) at truncation ψ.

    A user's generator (``kind: python``) is run once on a small batch and its output checked against the
    contract (:func:`check_contract`). ``where`` names the entry in errors.
    """
    load_builtin_generators()
    gen = GENERATORS.build(entry, where=where, psi=check_psi(psi))
    if not isinstance(gen, nn.Module) or not callable(gen):
        raise ConfigError(f"{where}: the factory returned a {type(gen).__name__}, expected a Generator")
    for key in ("latent_dim", "resolution"):
        value = getattr(gen, key, None)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"{where}: {type(gen).__name__} lacks a positive integer attribute {key!r}")
    gen.requires_grad_(False)
    gen = gen.eval().to(device)
    if isinstance(entry, Mapping) and entry.get("kind") == "python" and not getattr(gen, "cond_dim", 0):
        check_contract(gen, where, device)
    return gen


def check_contract(
    gen: Generator, where: str = "generator", device: torch.device | str = "cpu", n: int = CONTRACT_BATCH
) -> None:
    """Run ``gen`` on ``n`` latents from a fixed seed (the global RNG is left as it was); check the images.

    Raises:
        ConfigError: naming ``where`` when the output is not a float tensor of shape
            ``(n, 3, resolution, resolution)``, holds NaN or infinity, or leaves [−1, 1] by more than
            :data:`RANGE_TOLERANCE`.
    """
    device = torch.device(device)
    z = torch.randn(n, gen.latent_dim, generator=torch.Generator().manual_seed(0)).to(device)
    with torch.no_grad(), torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        x = gen(z)
    if not isinstance(x, Tensor) or not x.is_floating_point():
        got = f"a {x.dtype} tensor" if isinstance(x, Tensor) else f"a {type(x).__name__}"
        raise ConfigError(f"{where}: forward(z) returned {got}, expected float images")
    expected = (n, 3, gen.resolution, gen.resolution)
    if tuple(x.shape) != expected:
        raise ConfigError(
            f"{where}: forward(z) returned shape {tuple(x.shape)} for {n} latents, expected {expected} "
            "(N, 3, resolution, resolution)"
        )
    if not torch.isfinite(x).all():
        raise ConfigError(f"{where}: forward(z) returned NaN or infinite values on {n} latents z ~ N(0, I)")
    low, high = x.min().item(), x.max().item()
    if low < -1 - RANGE_TOLERANCE or high > 1 + RANGE_TOLERANCE:
        raise ConfigError(
            f"{where}: forward(z) returned values in [{low:.4g}, {high:.4g}], expected images in [-1, 1]"
        )
