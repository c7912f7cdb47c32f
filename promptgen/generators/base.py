"""The generator contract: ``z -> images`` in [-1, 1], NCHW float."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor, nn

from promptgen.registry import ConfigError, Registry

__all__ = [
    "BUILTIN_GENERATOR_MODULES",
    "GENERATORS",
    "Generator",
    "IdentityGenerator",
    "build_generator",
    "check_psi",
    "load_builtin_generators",
]

GENERATORS = Registry("generator")

# Modules whose import registers a built-in generator kind; imported on first use, which keeps
# `import promptgen` light and free of import cycles.
BUILTIN_GENERATOR_MODULES = [
    "promptgen.generators.composed",  # kind "promptgen": G∘f from an INN checkpoint
    "promptgen.generators.stylegan2",  # kind "stylegan2": NVIDIA .pkl / rosinality .pt StyleGAN2
    "promptgen.world.render",  # kind "synth-render": the embedded world's procedural renderer
    "promptgen.world.vae",  # kind "world-vae": a VAE trained on the world's renders
]


def load_builtin_generators() -> None:
    """Import every built-in generator module so its kind is registered in :data:`GENERATORS`."""
    for name in BUILTIN_GENERATOR_MODULES:
        importlib.import_module(name)


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
    entry: Mapping[str, Any], *, psi: float = 1.0, device: torch.device | str = "cpu"
) -> Generator:
    """Build a frozen generator from a config entry (``kind`` + keyword arguments) at truncation ψ."""
    load_builtin_generators()
    gen = GENERATORS.build(entry, where="generator", psi=check_psi(psi))
    for key in ("latent_dim", "resolution"):
        if not isinstance(getattr(gen, key, None), int):
            raise ConfigError(f"generator: {type(gen).__name__} lacks an integer attribute {key!r}")
    gen.requires_grad_(False)
    return gen.eval().to(device)
