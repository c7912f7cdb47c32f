"""Rotations in SO(3): Euler angles, axis-angle and the geodesic distance used by the pose energy (Eq. 4)."""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["axis_angle_to_matrix", "euler_xyz_to_matrix", "geodesic_distance"]


def _axis_rotation(angle: Tensor, axis: int) -> Tensor:
    c, s = torch.cos(angle), torch.sin(angle)
    one, zero = torch.ones_like(angle), torch.zeros_like(angle)
    rows = {
        0: ((one, zero, zero), (zero, c, -s), (zero, s, c)),
        1: ((c, zero, s), (zero, one, zero), (-s, zero, c)),
        2: ((c, -s, zero), (s, c, zero), (zero, zero, one)),
    }[axis]
    return torch.stack([torch.stack(r, dim=-1) for r in rows], dim=-2)


def euler_xyz_to_matrix(angles: Tensor) -> Tensor:
    """Rotation R = R_z(γ) R_y(β) R_x(α) from extrinsic XYZ angles ``(..., 3) = (α, β, γ)`` in radians.

    In the faces of this suite α is pitch (about x), β is yaw (about y) and γ is roll (about z).
    """
    rx = _axis_rotation(angles[..., 0], 0)
    ry = _axis_rotation(angles[..., 1], 1)
    rz = _axis_rotation(angles[..., 2], 2)
    return rz @ ry @ rx


def axis_angle_to_matrix(v: Tensor) -> Tensor:
    """Rodrigues' formula for axis-angle vectors ``(..., 3)`` (angle = norm), smooth at zero."""
    theta2 = (v * v).sum(-1, keepdim=True).unsqueeze(-1)
    theta = torch.sqrt(theta2.clamp_min(1e-30))
    small = theta2 < 1e-8
    a = torch.where(small, 1 - theta2 / 6, torch.sin(theta) / theta)
    b = torch.where(small, 0.5 - theta2 / 24, (1 - torch.cos(theta)) / theta2.clamp_min(1e-30))
    zero = torch.zeros_like(v[..., 0])
    k = torch.stack(
        [
            torch.stack([zero, -v[..., 2], v[..., 1]], -1),
            torch.stack([v[..., 2], zero, -v[..., 0]], -1),
            torch.stack([-v[..., 1], v[..., 0], zero], -1),
        ],
        dim=-2,
    )
    eye = torch.eye(3, dtype=v.dtype, device=v.device).expand_as(k)
    return eye + a * k + b * (k @ k)


def geodesic_distance(r1: Tensor, r2: Tensor) -> Tensor:
    """Angle in [0, π] of the relative rotation R1ᵀR2, for batches ``(..., 3, 3)``.

    Equals ``arccos((tr(R1ᵀR2) - 1) / 2)`` but is computed as ``atan2(|ω|, (tr - 1)/2)`` with
    ``ω`` the axial vector of the skew part, which keeps gradients finite near 0 and near π,
    where arccos has an infinite derivative.
    """
    rel = r1.transpose(-1, -2) @ r2
    cos = (rel.diagonal(dim1=-2, dim2=-1).sum(-1) - 1) / 2
    omega = torch.stack(
        [rel[..., 2, 1] - rel[..., 1, 2], rel[..., 0, 2] - rel[..., 2, 0], rel[..., 1, 0] - rel[..., 0, 1]],
        -1,
    )
    sq = (omega * omega).sum(-1) / 4
    sin = torch.sqrt(sq.clamp_min(torch.finfo(sq.dtype).tiny))
    return torch.atan2(sin, cos)
