"""Acceptance on closed-form targets with G = identity (issue: core library)."""

import math

import pytest
import torch

from promptgen.baselines import importance_resample, langevin
from promptgen.energies import EnergySum
from promptgen.energies.analytic import GaussianMixtureEnergy, QuadraticEnergy
from promptgen.flows import INN
from promptgen.generators import IdentityGenerator
from promptgen.kl import estimate_kl
from promptgen.moment import calibrate_weight, fit_beta
from promptgen.train import TrainConfig, train


def _quadratic(d: int = 8) -> QuadraticEnergy:
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(d, d, generator=gen)
    return QuadraticEnergy(torch.randn(d, generator=gen), a @ a.T / d + 0.5 * torch.eye(d))


@pytest.fixture(scope="module")
def quadratic_run(tmp_path_factory):
    energy = EnergySum({"quadratic": (1.0, _quadratic())})
    gen = IdentityGenerator(8)
    inn = INN(8, blocks=4, hidden=64)
    cfg = TrainConfig(steps=1500, batch_size=256, lr=3e-3, checkpoint_every=500)
    train(gen, inn, energy, cfg, tmp_path_factory.mktemp("quad"), progress=False)
    return gen, inn, energy


def test_quadratic_energy_gives_gaussian_posterior(quadratic_run) -> None:
    gen, inn, energy = quadratic_run
    mean, cov = energy.energies["quadratic"].posterior()
    with torch.no_grad():
        z, _ = inn(torch.randn(100_000, 8, generator=torch.Generator().manual_seed(1)))
    assert (z.mean(0) - mean).abs().max() < 0.05
    assert (torch.cov(z.T) - cov).abs().max() < 0.05
    est = estimate_kl(gen, inn, energy, n=32768, seed=2)
    assert 0 <= est.kl <= 0.01
    # log Z of the quadratic target in closed form: the estimator must agree.
    a, m = energy.energies["quadratic"].precision.double(), energy.energies["quadratic"].mean.double()
    ap = torch.eye(8, dtype=torch.float64) + a
    log_z = -0.5 * m @ a @ m + 0.5 * m @ a @ torch.linalg.solve(ap, a @ m) - 0.5 * torch.logdet(ap)
    assert est.log_z == pytest.approx(float(log_z), abs=0.01)


def test_kl_estimate_detects_an_untrained_inn(quadratic_run) -> None:
    gen, _, energy = quadratic_run
    est = estimate_kl(gen, INN(8, blocks=4, hidden=64), energy, n=16384)
    assert est.kl > 0.5


def test_two_mode_energy_kl(tmp_path) -> None:
    sigma, centre = 0.6, 1.5
    energy = EnergySum(
        {"modes": (1.0, GaussianMixtureEnergy(torch.tensor([[-centre, 0.0], [centre, 0.0]]), sigma))}
    )
    gen, inn = IdentityGenerator(2), INN(2, blocks=8, hidden=64)
    train(
        gen,
        inn,
        energy,
        TrainConfig(steps=1500, batch_size=256, lr=3e-3, checkpoint_every=1500),
        tmp_path,
        progress=False,
    )
    est = estimate_kl(gen, inn, energy, n=32768)
    assert est.kl <= 0.05
    # Exact log Z: ∫ N(z; 0, I) N(z; μ_k, σ²I) dz = N(μ_k; 0, (1 + σ²) I), same for both modes.
    s2 = 1 + sigma**2
    assert est.log_z == pytest.approx(-(centre**2) / (2 * s2) - math.log(2 * math.pi * s2), abs=0.02)
    with torch.no_grad():
        z, _ = inn(torch.randn(20000, 2))
    assert 0.4 < (z[:, 0] > 0).float().mean() < 0.6  # both modes are covered


@pytest.mark.parametrize("pool", [None, 65536], ids=["fresh-every-step", "pool"])
def test_moment_constraint_half_space_matches_analytic_beta(pool) -> None:
    threshold = 0.6744897501960817  # P(z_0 > t) = 0.25 under N(0, 1)
    p0, mu = 0.25, 0.5
    calls = []

    def features(n: int, gen: torch.Generator) -> torch.Tensor:
        calls.append(n)
        z = torch.randn(n, 2, generator=gen)
        return (z[:, :1] > threshold).double()

    fit = fit_beta(features, [mu], n=1024, steps=500, lr=5e-2, seed=0, eval_samples=262144, pool=pool)
    assert sum(calls) == (500 * 1024 if pool is None else pool) + 262144
    beta_true = math.log(mu * (1 - p0) / (p0 * (1 - mu)))
    assert fit.beta_hat[0] == pytest.approx(beta_true, rel=0.02)
    analytic_moment = p0 * math.exp(fit.beta_hat[0]) / (p0 * math.exp(fit.beta_hat[0]) + 1 - p0)
    assert abs(analytic_moment - mu) <= 1e-3
    assert fit.moment_error <= 1e-3 + 3 * fit.moment_stderr[0]


def test_moment_fit_rejects_an_empty_pool() -> None:
    with pytest.raises(ValueError, match="pool"):
        fit_beta(lambda n, gen: torch.zeros(n, 1), [0.5], steps=1, pool=0)


def test_ppgm_langevin_reaches_gaussian_posterior_mean() -> None:
    energy = EnergySum({"quadratic": (1.0, _quadratic())})
    mean, _ = energy.energies["quadratic"].posterior()
    res = langevin(IdentityGenerator(8), energy, 4096, steps=1500, step_size=5e-3, batch_size=4096)
    assert (res.z.mean(0) - mean).abs().max() < 0.05
    assert res.backprops_per_sample == 1500


def test_importance_resampling_reaches_gaussian_posterior_mean() -> None:
    energy = EnergySum({"quadratic": (1.0, _quadratic())})
    mean, _ = energy.energies["quadratic"].posterior()
    res = importance_resample(IdentityGenerator(8), energy, 20000, pool=400_000, batch_size=50_000)
    assert res.ess > 1000
    assert (res.z.mean(0) - mean).abs().max() < 0.1


def test_calibrate_weight_brackets_then_finds_the_root() -> None:
    calls = []

    def gap(lam: float) -> float:  # increasing in λ, root at λ = 7 (outside the start pair)
        calls.append(lam)
        return math.tanh(math.log(lam / 7.0))

    res = calibrate_weight(gap, start=(1.0, 2.0), rounds=8, tol=1e-3)
    assert calls[:4] == [1.0, 2.0, 4.0, 8.0]  # doubling until bracketed
    assert abs(res.weight - 7.0) < 0.05 and abs(res.gap) <= 1e-3
    assert res.tried[-1] == (res.weight, res.gap)


def test_calibrate_weight_returns_the_best_trial_when_rounds_run_out() -> None:
    res = calibrate_weight(lambda lam: lam - 1.5, start=(1.0, 2.0), rounds=2, tol=0.0)
    assert [lam for lam, _ in res.tried] == [1.0, 2.0]
    assert res.weight in (1.0, 2.0) and abs(res.gap) == 0.5
