import torch

from promptgen.baselines import balance_along_directions, fit_direction


def test_latent_direction_recovers_a_linear_boundary_and_balances_two_attributes() -> None:
    gen = torch.Generator().manual_seed(0)
    z = torch.randn(4000, 6, generator=gen)
    n1 = torch.tensor([1.0, 0.5, 0.0, 0.0, 0.0, 0.0])
    n2 = torch.tensor([0.0, 0.3, 1.0, 0.0, 0.0, 0.0])
    y1, y2 = (z @ n1 > 0.8).long(), (z @ n2 > -0.2).long()  # biased attributes (≈ 20 % and 58 % positive)
    d1, d2 = fit_direction(z, y1), fit_direction(z, y2)
    assert d1.accuracy > 0.97 and d2.accuracy > 0.97
    assert torch.dot(d1.normal, n1 / n1.norm()) > 0.97
    targets = torch.stack([torch.arange(4000) % 2, (torch.arange(4000) // 2) % 2], 1)
    moved = balance_along_directions(z, [d1, d2], targets, margin=0.5)
    new1, new2 = (moved @ n1 > 0.8).long(), (moved @ n2 > -0.2).long()
    assert (new1 == targets[:, 0]).float().mean() > 0.97 and (new2 == targets[:, 1]).float().mean() > 0.97
    # Only the span of the two normals changes.
    basis = torch.linalg.qr(torch.stack([d1.normal, d2.normal], 1)).Q
    residual = (moved - z) - (moved - z) @ basis @ basis.T
    assert residual.abs().max() < 1e-4
