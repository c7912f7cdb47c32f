import math

import pytest
import torch

from promptgen.rotations import axis_angle_to_matrix, euler_xyz_to_matrix, geodesic_distance


def _random_rotations(n: int, gen: torch.Generator) -> torch.Tensor:
    q, r = torch.linalg.qr(torch.randn(n, 3, 3, generator=gen, dtype=torch.float64))
    q = q * torch.sign(torch.diagonal(r, dim1=-2, dim2=-1)).unsqueeze(-2)
    det = torch.linalg.det(q)
    q[det < 0, :, 0] *= -1
    return q


def test_geodesic_matches_arccos_formula() -> None:
    gen = torch.Generator().manual_seed(0)
    r1, r2 = _random_rotations(200, gen), _random_rotations(200, gen)
    ours = geodesic_distance(r1, r2)
    trace = (r1.transpose(-1, -2) @ r2).diagonal(dim1=-2, dim2=-1).sum(-1)
    ref = torch.arccos(((trace - 1) / 2).clamp(-1, 1))
    assert (ours - ref).abs().max() < 1e-8


def test_geodesic_zero_at_identity_and_pi_at_half_turn() -> None:
    eye = torch.eye(3, dtype=torch.float64)
    assert geodesic_distance(eye, eye).item() == pytest.approx(0.0, abs=1e-12)
    half = euler_xyz_to_matrix(torch.tensor([0.0, math.pi, 0.0], dtype=torch.float64))
    assert geodesic_distance(eye, half).item() == pytest.approx(math.pi, abs=1e-12)


@pytest.mark.parametrize("angle", [1e-6, 1e-3, math.pi - 1e-3, math.pi - 1e-6, 0.0, math.pi])
def test_squared_geodesic_has_finite_gradients_near_0_and_pi(angle: float) -> None:
    axis = torch.tensor([0.3, -0.5, 0.8], dtype=torch.float64)
    v = (axis / axis.norm() * angle).requires_grad_(True)
    r = axis_angle_to_matrix(v)
    d = geodesic_distance(torch.eye(3, dtype=torch.float64), r)
    assert d.item() == pytest.approx(angle, abs=1e-6)
    (d**2).backward()
    assert torch.isfinite(v.grad).all()


def test_axis_angle_matches_euler_for_single_axes() -> None:
    for axis in range(3):
        v = torch.zeros(3, dtype=torch.float64)
        v[axis] = 0.7
        angles = torch.zeros(3, dtype=torch.float64)
        angles[axis] = 0.7
        assert torch.allclose(axis_angle_to_matrix(v), euler_xyz_to_matrix(angles), atol=1e-12)
