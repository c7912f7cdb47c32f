"""Inverse-graphics energy (Eq. 4): squared SO(3) geodesic distance to a requested pose."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from promptgen.energies.base import Energy, EnergyInput
from promptgen.rotations import euler_xyz_to_matrix, geodesic_distance

__all__ = ["PoseEnergy", "target_rotation"]


def target_rotation(alpha: Tensor, canonical: Tensor) -> Tensor:
    """R(α) · R_can with α = (α_x, α_y) (α_z = 0), R(α) = R_x(α_x) R_y(α_y) as the paper's code (pytorch3d
    Euler "XYZ"); shapes (N, 2) and (3, 3) -> (N, 3, 3)."""
    angles = torch.cat([alpha, alpha.new_zeros(alpha.shape[0], 1)], dim=1)
    return euler_xyz_to_matrix(angles) @ canonical.to(alpha.dtype)


class PoseEnergy(Energy):
    """d⟨R̂(x), R(α) R_can⟩², with R̂ the pose regressor's rotation and α the INN condition.

    Arguments:
        regressor: adapter mapping images to rotations (N, 3, 3).
        canonical: Euler "XYZ" angles of R_can, R_x R_y R_z (the paper's code: (0.3, 0, 0)).
        angles: fixed (α_x, α_y) used when the input carries no condition.
    """

    def __init__(
        self,
        regressor: nn.Module,
        canonical: Sequence[float] = (0.3, 0.0, 0.0),
        angles: Sequence[float] | None = None,
    ):
        super().__init__()
        self.regressor = regressor
        self.register_buffer(
            "canonical", euler_xyz_to_matrix(torch.tensor(canonical, dtype=torch.float64)).float()
        )
        self.fixed = None if angles is None else torch.tensor(angles, dtype=torch.float32)

    def forward(self, inp: EnergyInput) -> Tensor:
        pred = self.regressor(inp.x)
        if inp.cond is not None:
            alpha = inp.cond[:, :2]
        elif self.fixed is not None:
            alpha = self.fixed.to(pred).expand(pred.shape[0], 2)
        else:
            raise ValueError("PoseEnergy needs a condition (α_x, α_y) or fixed 'angles'")
        return geodesic_distance(pred, target_rotation(alpha.to(pred.dtype), self.canonical)) ** 2
