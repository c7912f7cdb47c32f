"""A user's own generator, added through config alone (kind: python)."""

import torch

from promptgen.generators import Generator


class SquashedLinear(Generator):
    def __init__(self, latent_dim: int, resolution: int, psi: float = 1.0, seed: int = 0):
        super().__init__(latent_dim, resolution, psi)
        gen = torch.Generator().manual_seed(seed)
        self.register_buffer("w", torch.randn(latent_dim, 3 * resolution * resolution, generator=gen))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.psi * z @ self.w / self.latent_dim**0.5).view(
            -1, 3, self.resolution, self.resolution
        )


def make_generator(
    latent_dim: int = 4, resolution: int = 8, seed: int = 0, psi: float = 1.0
) -> SquashedLinear:
    return SquashedLinear(latent_dim, resolution, psi, seed)
