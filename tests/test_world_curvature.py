"""Latent curvature: the twisted world keeps the law of the factors, is a differentiable bijection of z,
costs little, is curved at the configured default, and reaches every place the renderer's map is used."""

from __future__ import annotations

import copy
import time
from pathlib import Path

import pytest
import torch
import yaml
from scipy import stats

from promptgen.registry import ConfigError, import_oracle
from promptgen.world.curvature import LatentTwist
from promptgen.world.groundtruth import BINARY, CATEGORICAL, oracle
from promptgen.world.latent_map import WorldMap, get_world
from promptgen.world.probe import linear_probe
from promptgen.world.render import SynthRenderer

CONFIG = Path(__file__).resolve().parents[1] / "config" / "config.yaml"
N = 40_000


def _default_curvature() -> float:
    cfg = yaml.safe_load(CONFIG.read_text())
    value = cfg["generators"]["render"]["generator"]["curvature"]
    assert cfg["world"]["curvature"] == value, "world.curvature must be the render generator's"
    return float(value)


DEFAULT = _default_curvature()


def _z(n: int, seed: int, d: int = 64) -> torch.Tensor:
    return torch.randn(n, d, generator=torch.Generator().manual_seed(seed))


def _ks_pvalues(a: torch.Tensor, b: torch.Tensor, projections: int = 20) -> list[float]:
    """Two-sample KS p-values on every column and on seeded random unit projections."""
    dirs = torch.nn.functional.normalize(_z(projections, 99, a.shape[1]), dim=1).T
    cols = [(a[:, i], b[:, i]) for i in range(a.shape[1])]
    cols += [(a @ dirs[:, k], b @ dirs[:, k]) for k in range(projections)]
    return [float(stats.ks_2samp(x.numpy(), y.numpy()).pvalue) for x, y in cols]


def test_default_is_positive_and_twice_it_is_a_distinct_world():
    assert DEFAULT > 0
    z = _z(64, 0)
    assert not torch.allclose(get_world(64, 0, DEFAULT)(z), get_world(64, 0, 2 * DEFAULT)(z), atol=1e-2)


def test_curvature_zero_is_the_untwisted_map_bit_for_bit():
    world, flat = get_world(64, 0, 0.0), WorldMap(64, 0)
    assert world.twist is None and flat.twist is None
    z = _z(512, 1)
    assert torch.equal(world(z), flat(z))
    assert torch.equal(world(z), flat.untwisted_raw(z).sub(flat.mean).div(flat.std))
    for a, b in zip(oracle(z).values(), oracle(z, curvature=0.0).values(), strict=True):
        assert torch.equal(a, b)


def test_twisted_world_shares_the_calibration():
    flat, curved = get_world(64, 0), get_world(64, 0, DEFAULT)
    assert torch.equal(flat.mean, curved.mean) and torch.equal(flat.std, curved.std)
    for (name, a), (_, b) in zip(flat.thresholds().items(), curved.thresholds().items(), strict=True):
        assert torch.equal(a, b), name
    assert WorldMap(64, 0, curvature=DEFAULT).thresholds()["male"] == flat.thresholds()["male"]


@pytest.mark.parametrize("curvature", [DEFAULT, 2 * DEFAULT])
def test_twist_keeps_the_standard_normal(curvature: float):
    twist = LatentTwist(64, curvature, seed=0)
    u = twist(_z(N, 2))
    assert u.mean(0).abs().max() < 4.5 / N**0.5
    cov = torch.cov(u.T)
    assert (cov - torch.eye(64)).abs().max() < 6 / N**0.5
    assert min(_ks_pvalues(u, _z(N, 3))) > 0.01 / 84  # Bonferroni over 64 columns + 20 projections


def _same_factor_law(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Means, covariances and KS two-sample tests (Bonferroni over 30 factors + 20 projections) agree."""
    n = len(a)
    moments = (a.mean(0) - b.mean(0)).abs().max() < 6 / n**0.5
    moments &= (torch.cov(a.T) - torch.cov(b.T)).abs().max() < 8 / n**0.5
    return bool(moments) and min(_ks_pvalues(a, b)) > 0.01 / 50


@pytest.mark.parametrize("curvature", [DEFAULT, 2 * DEFAULT])
def test_factor_law_is_unchanged(curvature: float):
    flat, curved = get_world(64, 0), get_world(64, 0, curvature)
    assert _same_factor_law(flat(_z(N, 4)), curved(_z(N, 5)))


def test_two_sample_test_detects_a_law_change():
    """The check above has power: a 10 % stretch of 8 of the 64 latent coordinates, or a shear coupling
    (a bijection that does not keep N(0, I)), is caught."""
    flat = get_world(64, 0)
    a, z = flat(_z(N, 4)), _z(N, 5)
    stretched = torch.cat([1.1 * z[:, :8], z[:, 8:]], 1)
    sheared = torch.cat([z[:, :32] + 0.5 * torch.tanh(z[:, 32:]), z[:, 32:]], 1)
    assert not _same_factor_law(a, flat(stretched))
    assert not _same_factor_law(a, flat(sheared))


@pytest.mark.parametrize("curvature", [DEFAULT, 2 * DEFAULT])
def test_every_attribute_marginal_within_sampling_noise(curvature: float):
    z = _z(N, 6)
    flat, curved = oracle(z), oracle(z, curvature=curvature)
    for k in BINARY:
        p, q = flat[k].double().mean(), curved[k].double().mean()
        assert abs(p - q) < 4 * (2 * p * (1 - p) / N) ** 0.5, k
    for group, classes in CATEGORICAL.items():
        p = torch.bincount(flat[group], minlength=classes).double() / N
        q = torch.bincount(curved[group], minlength=classes).double() / N
        assert ((p - q).abs() < 4 * (2 * p * (1 - p) / N).sqrt()).all(), group


@pytest.mark.parametrize("curvature", [DEFAULT, 2 * DEFAULT])
def test_bijection(curvature: float):
    twist = LatentTwist(64, curvature, seed=0).double()
    z = _z(1000, 7).double() * 1.5
    torch.testing.assert_close(twist.inverse(twist(z)), z, atol=1e-10, rtol=0)
    torch.testing.assert_close(twist(twist.inverse(z)), z, atol=1e-10, rtol=0)
    # each twist is volume preserving: |det J| = 1
    jac = torch.autograd.functional.jacobian(lambda v: twist(v[None])[0], z[0])
    assert abs(float(torch.linalg.det(jac).abs()) - 1) < 1e-9


def test_odd_and_small_latent_dims():
    for d in (30, 31, 5):
        twist = LatentTwist(d, 1.0, seed=3).double()
        z = _z(50, 8, d).double()
        torch.testing.assert_close(twist.inverse(twist(z)), z, atol=1e-10, rtol=0)
        assert not torch.allclose(twist(z), z)
    with pytest.raises(ValueError, match="latent_dim"):
        LatentTwist(3, 1.0)


def test_differentiable():
    twist = LatentTwist(64, DEFAULT, seed=0).double()
    z = _z(2, 9).double().requires_grad_(True)
    assert torch.autograd.gradcheck(twist, (z,), fast_mode=True)
    world = copy.deepcopy(get_world(64, 0, DEFAULT)).double()
    assert torch.autograd.gradcheck(world, (z,), fast_mode=True)


def test_renderer_gradient_matches_finite_differences():
    G = SynthRenderer(curvature=DEFAULT)
    z = _z(2, 10)
    v = torch.nn.functional.normalize(_z(2, 11), dim=1)
    zr = z.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(G(zr).mean(), zr)
    eps = 1e-2
    with torch.no_grad():
        fd = (G(z + eps * v).mean() - G(z - eps * v).mean()) / (2 * eps)
    assert torch.isfinite(grad).all()
    torch.testing.assert_close((grad * v).sum(), fd, rtol=0.05, atol=1e-5)


def test_default_is_curved_and_zero_is_linear():
    curved, flat = linear_probe(DEFAULT), linear_probe(0.0)
    for attr in ("male", "eyeglasses", "blond", "young"):
        assert 0.75 <= curved[attr] <= 0.90, (attr, curved[attr])
        assert flat[attr] >= 0.95, (attr, flat[attr])


def test_renderer_and_oracle_use_the_same_twisted_world():
    G = SynthRenderer(curvature=DEFAULT)
    z = _z(16, 12)
    with torch.no_grad():
        assert torch.equal(G.world(z), get_world(64, 0, DEFAULT)(z))
        assert not torch.allclose(G(z), SynthRenderer()(z), atol=1e-3)
    gen_cfg = {
        "generator": {"kind": "synth-render", "latent_dim": 64, "seed": 0, "curvature": DEFAULT},
        "oracle": "promptgen.world.groundtruth:oracle",
    }
    bound = import_oracle(gen_cfg, "render")(z, 1.0)
    for key, value in oracle(z, 1.0, curvature=DEFAULT).items():
        assert torch.equal(bound[key], value), key


@pytest.mark.parametrize("bad", [-0.1, "a lot", float("nan"), float("inf"), True])
def test_bad_curvature_is_a_config_error(bad: object):
    with pytest.raises(ConfigError, match="curvature"):
        SynthRenderer(curvature=bad)


def test_twist_costs_under_a_tenth_of_a_render():
    """Loose (benchmarks/world_curvature.py measures it): twist vs one render, best of 5, one thread (with
    two, OpenMP's spin-waiting on a shared machine can stall the twist's many small kernels)."""
    G, twist = SynthRenderer(), LatentTwist(64, DEFAULT, seed=0)
    z = _z(256, 13)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)

    def best(fn) -> float:
        times = []
        with torch.no_grad():
            fn()
            for _ in range(5):
                t = time.perf_counter()
                fn()
                times.append(time.perf_counter() - t)
        return min(times)

    try:
        assert best(lambda: twist(z)) < 0.1 * best(lambda: G(z))
    finally:
        torch.set_num_threads(threads)
