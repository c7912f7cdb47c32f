"""Stand-in pose regressor, identity embedder and feature extractor for pipeline tests (fixed random maps)."""

import torch
import torch.nn.functional as F
from torch import nn

from promptgen.rotations import euler_xyz_to_matrix


class PooledLinear(nn.Module):
    def __init__(self, out: int, seed: int, scale: float = 1.0):
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        self.register_buffer("w", torch.randn(out, 3 * 8 * 8, generator=gen) * scale / 8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.adaptive_avg_pool2d(x, 8).flatten(1) @ self.w.T


class PoseFromPixels(PooledLinear):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return euler_xyz_to_matrix(0.5 * torch.tanh(super().forward(x)))


def make_pose(seed: int = 0) -> nn.Module:
    return PoseFromPixels(3, seed)


def make_embedder(dim: int = 8, seed: int = 1) -> nn.Module:
    return PooledLinear(dim, seed)
