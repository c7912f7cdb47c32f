import pickle

import pytest
import torch

from promptgen.flows import INN, random_rotation


def _jacobian_logdet(inn: INN, eps: torch.Tensor, cond: torch.Tensor | None) -> torch.Tensor:
    def f(e: torch.Tensor) -> torch.Tensor:
        return inn(e.unsqueeze(0), None if cond is None else cond[:1])[0].squeeze(0)

    jac = torch.autograd.functional.jacobian(f, eps[0], vectorize=True)
    return torch.linalg.slogdet(jac).logabsdet


@pytest.mark.parametrize("dim", [2, 64, 512])
@pytest.mark.parametrize("cond_dim", [0, 3])
def test_invertibility_and_logdet_float64(dim: int, cond_dim: int) -> None:
    torch.manual_seed(dim + cond_dim)
    default = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)  # build in float64 so the rotations are orthogonal to 1e-16
    try:
        inn = INN(dim, cond_dim=cond_dim, seed=1)
    finally:
        torch.set_default_dtype(default)
    # Move the network away from its near-identity initialisation so the check is not trivial.
    with torch.no_grad():
        for p in inn.parameters():
            p.add_(0.05 * torch.randn_like(p))
    eps = torch.randn(5, dim, dtype=torch.float64)
    cond = torch.randn(5, cond_dim, dtype=torch.float64) if cond_dim else None
    z, logdet = inn(eps, cond)
    back, inv_logdet = inn.inverse(z, cond)
    assert (back - eps).abs().max() < 1e-8
    assert (logdet + inv_logdet).abs().max() < 1e-8
    assert abs(logdet[0] - _jacobian_logdet(inn, eps, cond)) < 1e-8
    assert logdet.std() > 0  # the coupling is genuinely non-volume-preserving here


def test_rotation_is_special_orthogonal() -> None:
    q = random_rotation(7, torch.Generator().manual_seed(3))
    assert torch.allclose(q @ q.T, torch.eye(7, dtype=q.dtype), atol=1e-12)
    assert torch.linalg.det(q) == pytest.approx(1.0)


def test_inn_is_picklable_and_rebuilds_from_config() -> None:
    inn = INN(6, cond_dim=2, blocks=3, seed=5)
    clone = pickle.loads(pickle.dumps(inn))
    eps, cond = torch.randn(4, 6), torch.randn(4, 2)
    assert torch.equal(inn(eps, cond)[0], clone(eps, cond)[0])
    rebuilt = INN.from_config(inn.config)
    rebuilt.load_state_dict(inn.state_dict())
    assert torch.equal(inn(eps, cond)[0], rebuilt(eps, cond)[0])


def test_condition_shape_errors_are_clear() -> None:
    inn = INN(4, cond_dim=2, blocks=1)
    with pytest.raises(ValueError, match="cond_dim=2"):
        inn(torch.randn(3, 4))


@pytest.mark.parametrize("dim,cond_dim", [(8, 0), (9, 2)])
def test_agrees_with_freia_all_in_one_block(dim: int, cond_dim: int) -> None:
    """Same weights copied into FrEIA's AllInOneBlock stack (the paper's INN) give the same z and logdet."""
    Ff = pytest.importorskip("FrEIA.framework")
    Fm = pytest.importorskip("FrEIA.modules")
    torch.manual_seed(0)
    ours = INN(dim, cond_dim=cond_dim, blocks=4, hidden=32, seed=2)
    with torch.no_grad():
        for p in ours.parameters():
            p.add_(0.2 * torch.randn_like(p))

    def subnet(c_in: int, c_out: int) -> torch.nn.Module:
        return torch.nn.Sequential(
            torch.nn.Linear(c_in, 32), torch.nn.LeakyReLU(0.1), torch.nn.Linear(32, c_out)
        )

    theirs = Ff.SequenceINN(dim)
    for _ in range(4):
        kwargs = dict(cond=0, cond_shape=(cond_dim,)) if cond_dim else {}
        theirs.append(Fm.AllInOneBlock, subnet_constructor=subnet, permute_soft=True, **kwargs)
    with torch.no_grad():
        for mine, block in zip(ours.blocks, theirs.module_list, strict=True):
            block.subnet.load_state_dict(mine.subnet.state_dict())
            block.global_scale.copy_(mine.global_scale.view_as(block.global_scale))
            block.global_offset.copy_(mine.global_offset.view_as(block.global_offset))
            block.w_perm.copy_(mine.rotation.view_as(block.w_perm))
            block.w_perm_inv.copy_(mine.rotation.T.view_as(block.w_perm_inv))
    eps = torch.randn(16, dim)
    cond = torch.randn(16, cond_dim) if cond_dim else None
    z, logdet = ours(eps, cond)
    z_ref, logdet_ref = theirs(eps, c=[cond]) if cond_dim else theirs(eps)
    assert (z - z_ref).abs().max() < 1e-6 * max(1.0, z_ref.abs().max().item())
    assert (logdet - logdet_ref).abs().max() < 1e-6 * max(1.0, logdet_ref.abs().max().item())
