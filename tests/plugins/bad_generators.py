"""User generators that break the contract in one way each (the fuzz test's bad inputs)."""

import torch

from tests.plugins.user_generator import SquashedLinear

__all__ = ["make_bad_generator"]


class BadGenerator(SquashedLinear):
    """The test generator with its output scaled, flattened, or NaN (always, or from call ``nan_from`` on)."""

    def __init__(self, scale: float, flat: bool, nan_from: int | None, **kwargs):
        super().__init__(**kwargs)
        self.scale, self.flat, self.nan_from, self.calls = scale, flat, nan_from, 0

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = super().forward(z) * self.scale
        self.calls += 1
        if self.nan_from is not None and self.calls > self.nan_from:
            x = x * float("nan")
        return x.flatten(1) if self.flat else x


def make_bad_generator(
    latent_dim: int = 4,
    resolution: int = 8,
    scale: float = 1.0,
    flat: bool = False,
    nan_from: int | None = None,
    psi: float = 1.0,
) -> BadGenerator:
    return BadGenerator(scale, flat, nan_from, latent_dim=latent_dim, resolution=resolution, psi=psi)
