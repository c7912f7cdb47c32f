"""Rotations in SO(3): Euler angles, axis-angle and the geodesic distance used by the pose energy (Eq. 4)."""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = [
    "axis_angle_to_matrix",
    "axis_rotation",
    "euler_angles_to_matrix",
    "euler_xyz_to_matrix",
    "geodesic_distance",
]

_AXES = {"X": 0, "Y": 1, "Z": 2}


def axis_rotation(angle: Tensor, axis: int) -> Tensor:
    """Right-handed rotation by ``angle`` (radians, any shape) about coordinate axis 0 (x), 1 (y) or 2 (z)."""
    c, s = torch.cos(angle), torch.sin(angle)
    one, zero = torch.ones_like(angle), torch.zeros_like(angle)
    rows = {
        0: ((one, zero, zero), (zero, c, -s), (zero, s, c)),
        1: ((c, zero, s), (zero, one, zero), (-s, zero, c)),
        2: ((c, -s, zero), (s, c, zero), (zero, zero, one)),
    }[axis]
    return torch.stack([torch.stack(r, dim=-1) for r in rows], dim=-2)


def euler_angles_to_matrix(angles: Tensor, convention: str) -> Tensor:
    """R = R_{c₀}(a₀) R_{c₁}(a₁) R_{c₂}(a₂) for ``convention`` c = e.g. "XYZ" and angles ``(..., 3)``.

    The convention of pytorch3d's ``euler_angles_to_matrix`` (intrinsic rotations about the named axes).
    """
    if len(convention) != 3 or any(c not in _AXES for c in convention):
        raise ValueError(f"euler_angles_to_matrix: convention must be three of X, Y, Z, got {convention!r}")
    mats = [axis_rotation(angles[..., i], _AXES[c]) for i, c in enumerate(convention)]
    return mats[0] @ mats[1] @ mats[2]


def euler_xyz_to_matrix(angles: Tensor) -> Tensor:
    """R = R_x(α) R_y(β) R_z(γ) from ``(..., 3) = (α, β, γ)`` in radians: the paper code's pose convention.

    The paper's code builds R(α) and R_can with pytorch3d's ``euler_angles_to_matrix(α, "XYZ")``, which is
    this product; the pose energy and Table 3 use it for the requested rotation R(α) R_can.
    """
    return euler_angles_to_matrix(angles, "XYZ")


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
