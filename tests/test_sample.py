import pytest
import torch

from promptgen.checkpoint import save_inn
from promptgen.flows import INN
from promptgen.generators import GENERATORS, Generator, build_generator
from promptgen.generators.composed import ComposedGenerator
from promptgen.sample import iter_samples, per_sample_normal, write_samples


class TinyImages(Generator):
    """A small nonlinear image generator for tests: z (6) -> 3×8×8 in [-1, 1]."""

    def __init__(self, psi: float = 1.0):
        super().__init__(6, 8, psi)
        gen = torch.Generator().manual_seed(0)
        self.register_buffer("w", torch.randn(6, 3 * 8 * 8, generator=gen))

    def forward(self, z):
        return torch.tanh(self.psi * z @ self.w).view(-1, 3, 8, 8)


GENERATORS.register("test-tiny-images")(lambda psi=1.0: TinyImages(psi))


def _checkpoint(path, base_entry, cond_dim=0, seed=0):
    inn = INN(6, cond_dim=cond_dim, blocks=2, hidden=8, seed=seed)
    with torch.no_grad():
        for p in inn.parameters():
            p.add_(0.1 * torch.randn_like(p))
    save_inn(inn, path, {"generator": base_entry})
    return path


def test_per_sample_noise_depends_on_seed_and_index_only() -> None:
    a = per_sample_normal(5, [0, 1, 2, 3], 6)
    b = torch.cat([per_sample_normal(5, [2, 3], 6), per_sample_normal(5, [0, 1], 6)])
    assert torch.equal(a[2:], b[:2]) and torch.equal(a[:2], b[2:])
    assert not torch.equal(per_sample_normal(6, [0], 6), a[:1])


@pytest.mark.parametrize("batch_size", [1, 7, 64])
def test_sampling_is_batch_size_independent(tmp_path, batch_size) -> None:
    ckpt = _checkpoint(tmp_path / "inn.pt", {"kind": "test-tiny-images"})
    gen = build_generator({"kind": "promptgen", "checkpoint": str(ckpt)})
    ref = torch.cat([im for _, _, im in iter_samples(gen, 50, seed=3, batch_size=50)])
    got = torch.cat([im for _, _, im in iter_samples(gen, 50, seed=3, batch_size=batch_size)])
    assert (got - ref).abs().max() < 1e-6
    write_samples(gen, 50, tmp_path / f"b{batch_size}", seed=3, batch_size=batch_size)
    write_samples(gen, 50, tmp_path / "ref", seed=3, batch_size=50)
    a = torch.load(tmp_path / f"b{batch_size}" / "samples.pt")
    b = torch.load(tmp_path / "ref" / "samples.pt")
    assert torch.equal(a["eps"], b["eps"])
    assert (a["images"].int() - b["images"].int()).abs().max() <= 1  # uint8 rounding of float noise
    assert len(list((tmp_path / f"b{batch_size}").glob("*.png"))) == 50


def test_composition_nests_and_needs_no_control_model(tmp_path) -> None:
    first = _checkpoint(tmp_path / "f1.pt", {"kind": "test-tiny-images"}, seed=1)
    second = _checkpoint(tmp_path / "f2.pt", {"kind": "promptgen", "checkpoint": str(first)}, seed=2)
    g2 = build_generator({"kind": "promptgen", "checkpoint": str(second)}, psi=0.7)
    assert isinstance(g2.base, ComposedGenerator) and g2.base.base.psi == 0.7
    eps = torch.randn(4, 6)
    with torch.no_grad():
        z_root = g2.base.inn(g2.inn(eps)[0])[0]
        assert torch.allclose(g2(eps), g2.base.base(z_root))
        assert torch.allclose(g2.root_latent(eps), z_root)


def test_conditional_sampling_requires_conditions(tmp_path) -> None:
    ckpt = _checkpoint(tmp_path / "c.pt", {"kind": "test-tiny-images"}, cond_dim=2)
    gen = build_generator({"kind": "promptgen", "checkpoint": str(ckpt)})
    with pytest.raises(ValueError, match="one condition row per sample"):
        next(iter_samples(gen, 3))
    cond = torch.zeros(3, 2)
    _, _, images = next(iter_samples(gen, 3, cond=cond))
    assert images.shape == (3, 3, 8, 8)
