import math

import pytest
import torch

from promptgen.rotations import (
    axis_angle_to_matrix,
    euler_angles_to_matrix,
    euler_xyz_to_matrix,
    geodesic_distance,
)


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


def _rx(a: float) -> torch.Tensor:
    c, s = math.cos(a), math.sin(a)
    return torch.tensor([[1, 0, 0], [0, c, -s], [0, s, c]], dtype=torch.float64)


def _ry(a: float) -> torch.Tensor:
    c, s = math.cos(a), math.sin(a)
    return torch.tensor([[c, 0, s], [0, 1, 0], [-s, 0, c]], dtype=torch.float64)


def _rz(a: float) -> torch.Tensor:
    c, s = math.cos(a), math.sin(a)
    return torch.tensor([[c, -s, 0], [s, c, 0], [0, 0, 1]], dtype=torch.float64)


def test_euler_xyz_is_the_paper_codes_pytorch3d_xyz_product() -> None:
    # pytorch3d's euler_angles_to_matrix(a, "XYZ") is R_x(a0) @ R_y(a1) @ R_z(a2).
    a = (0.4, -0.25, 0.7)
    ours = euler_xyz_to_matrix(torch.tensor(a, dtype=torch.float64))
    torch.testing.assert_close(ours, _rx(a[0]) @ _ry(a[1]) @ _rz(a[2]))
    zyx = euler_angles_to_matrix(torch.tensor(a[::-1], dtype=torch.float64), "ZYX")
    torch.testing.assert_close(zyx, _rz(a[2]) @ _ry(a[1]) @ _rx(a[0]))
    # The two orders differ by 6.9° at the pose range's corner α = (π/9, π/9, 0).
    c = math.pi / 9
    gap = geodesic_distance(_rx(c) @ _ry(c), _ry(c) @ _rx(c))
    assert math.degrees(gap.item()) == pytest.approx(6.9, abs=0.05)
    with pytest.raises(ValueError, match="convention"):
        euler_angles_to_matrix(torch.zeros(3), "XYW")
