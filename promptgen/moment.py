"""Fitting β̂ of the moment constraint (Eq. 7).

β̂ = argmin_β E ‖ Σ_j exp(βᵀγ_j) γ_j / Σ_j exp(βᵀγ_j) − μ ‖², each step on N fresh samples
x_j = G(z_j), z_j ~ N(0, I) (or ε through G∘f for iterative control). The paper used Adam with
lr 5e-2, 500 steps, N = 1024; we add an optional linear learning-rate decay to zero (``schedule``), which
removes the final-iterate noise of a constant step size; ``schedule="constant"`` is the paper's setting.

With ``pool`` set, the features of ``pool`` samples are drawn once and every step takes its N from that pool
(a sample-average approximation of the same objective): 500 × 1024 fresh renders become ``pool`` renders,
which is what makes the CPU runs of the embedded world affordable. The reported moment is always measured
on ``eval_samples`` fresh samples drawn after the fit.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch import Tensor

__all__ = [
    "MomentFit",
    "WeightCalibration",
    "calibrate_weight",
    "fit_beta",
    "load_moment_fit",
    "reweighted_moment",
    "save_moment_fit",
]

FeatureSampler = Callable[[int, torch.Generator], Tensor]


def reweighted_moment(beta: Tensor, gamma: Tensor) -> Tensor:
    """Self-normalised Σ_j ω_j γ_j / Σ_j ω_j with ω_j = exp(βᵀγ_j)."""
    w = torch.softmax(gamma @ beta, dim=0)
    return w @ gamma


@dataclass
class MomentFit:
    """Result of :func:`fit_beta`.

    Arguments:
        beta_hat: fitted β̂ (K,).
        mu: the target moment μ.
        moment: the reweighted moment reached, on ``eval_samples`` fresh samples.
        moment_error: ‖moment − μ‖₂ on those samples.
        moment_stderr: standard error of each moment entry (self-normalised IS delta method).
        history: per-step training loss.
    """

    beta_hat: list[float]
    mu: list[float]
    moment: list[float]
    moment_error: float
    moment_stderr: list[float]
    history: list[float] = field(default_factory=list)


def _moment_stderr(beta: Tensor, gamma: Tensor) -> Tensor:
    w = torch.softmax(gamma @ beta, dim=0)
    m = w @ gamma
    return torch.sqrt((w.unsqueeze(1) ** 2 * (gamma - m) ** 2).sum(0))


def fit_beta(
    features: FeatureSampler,
    mu: Sequence[float],
    *,
    n: int = 1024,
    steps: int = 500,
    lr: float = 5e-2,
    schedule: str = "linear",
    seed: int = 0,
    eval_samples: int = 65536,
    batch_size: int = 4096,
    pool: int | None = None,
) -> MomentFit:
    """Fit β̂ so that the exponentially tilted distribution has moment μ.

    Arguments:
        features: ``features(n, generator) -> γ`` of shape (n, K) for n fresh samples (no gradient needed).
        mu: target moment μ (K,), e.g. uniform class shares.
        n: fresh samples per step (the paper: 1024).
        steps: Adam steps (the paper: 500).
        lr: Adam learning rate (the paper: 5e-2).
        schedule: ``linear`` (decay to 0) or ``constant`` (the paper).
        seed: seeds the sample stream.
        eval_samples: fresh samples for the reported moment and its error.
        batch_size: chunk size for drawing the pool and the evaluation samples.
        pool: draw this many samples once and take each step's N from them (``None``: fresh every step).
    """
    if schedule not in ("linear", "constant"):
        raise ValueError(f"schedule: expected 'linear' or 'constant', got {schedule!r}")
    if pool is not None and pool < 1:
        raise ValueError(f"pool: expected a positive number of samples or None, got {pool!r}")
    gen = torch.Generator().manual_seed(seed)
    target = torch.as_tensor(mu, dtype=torch.float64)
    drawn = None if pool is None else _draw(features, pool, gen, batch_size)
    beta = torch.zeros_like(target, requires_grad=True)
    opt = torch.optim.Adam([beta], lr=lr)
    history = []
    for step in range(steps):
        for group in opt.param_groups:
            group["lr"] = lr * (1 - step / steps) if schedule == "linear" else lr
        if drawn is None:
            with torch.no_grad():
                gamma = features(n, gen).detach().to(torch.float64)
        else:
            gamma = drawn[torch.randint(len(drawn), (n,), generator=gen)]
        if gamma.shape[1] != target.shape[0]:
            raise ValueError(f"mu has {target.shape[0]} entries but the features have {gamma.shape[1]}")
        loss = ((reweighted_moment(beta, gamma) - target) ** 2).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
        history.append(loss.item())
    with torch.no_grad():
        gamma = _draw(features, eval_samples, gen, batch_size)
        b = beta.detach()
        moment = reweighted_moment(b, gamma)
        stderr = _moment_stderr(b, gamma)
    return MomentFit(
        beta_hat=b.tolist(),
        mu=target.tolist(),
        moment=moment.tolist(),
        moment_error=float(torch.linalg.vector_norm(moment - target)),
        moment_stderr=stderr.tolist(),
        history=history,
    )


@torch.no_grad()
def _draw(features: FeatureSampler, count: int, gen: torch.Generator, batch_size: int) -> Tensor:
    chunks = [features(min(batch_size, count - i), gen) for i in range(0, count, batch_size)]
    return torch.cat(chunks).detach().to(torch.float64)


def save_moment_fit(fit: MomentFit, path: str | Path) -> None:
    Path(path).write_text(json.dumps(asdict(fit), indent=2))


def load_moment_fit(path: str | Path) -> MomentFit:
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"beta_hat: moment fit {p} not found (run `promptgen fit-moment` first)")
    try:
        return MomentFit(**json.loads(p.read_text()))
    except (json.JSONDecodeError, TypeError) as err:
        raise ValueError(f"beta_hat: {p} is not a moment-fit JSON ({err})") from err


@dataclass
class WeightCalibration:
    """Result of :func:`calibrate_weight`: the chosen λ and every (λ, gap) tried, in order."""

    weight: float
    gap: float
    tried: list[tuple[float, float]]


def calibrate_weight(
    gap_at: Callable[[float], float],
    *,
    start: Sequence[float] = (1.0, 2.0),
    rounds: int = 4,
    tol: float = 0.01,
    bounds: tuple[float, float] = (0.05, 50.0),
) -> WeightCalibration:
    """Find λ with gap_at(λ) ≈ 0 for a gap that grows with λ (a few expensive evaluations).

    Used to pick the weight of a moment energy −λ β̂ᵀγ so that the *trained INN* meets the constraint:
    ``gap_at(λ)`` trains an INN at λ and returns β̂ᵀ(E_q[γ] − μ), which increases with λ. β̂ solves Eq. 7
    for the unrestricted family (λ = 1); an INN that cannot represent that reweighting (a confident γ makes
    its density jump at the class boundary) meets the constraint at another λ, which the paper set by hand
    (λ ∈ {1, 2}). Steps in log λ: doubling or halving until the root is bracketed, then the secant between
    the nearest points on either side. Stops after ``rounds`` evaluations or when |gap| ≤ tol; returns the
    λ with the smallest |gap| seen.
    """
    if rounds < 1 or len(start) < 1:
        raise ValueError("calibrate_weight: rounds and start must be non-empty")
    lo_b, hi_b = bounds
    tried: list[tuple[float, float]] = []

    def evaluate(lam: float) -> float:
        lam = float(min(max(lam, lo_b), hi_b))
        gap = float(gap_at(lam))
        tried.append((lam, gap))
        return gap

    for lam in list(start)[:rounds]:
        if abs(evaluate(lam)) <= tol:
            break
    while len(tried) < rounds and min(abs(g) for _, g in tried) > tol:
        below = [(lam, g) for lam, g in tried if g < 0]
        above = [(lam, g) for lam, g in tried if g > 0]
        if below and above:  # bracketed: secant in log λ between the closest points on each side
            (l1, g1), (l2, g2) = max(below, key=lambda t: t[1]), min(above, key=lambda t: t[1])
            x1, x2 = math.log(l1), math.log(l2)
            nxt = math.exp(x1 - g1 * (x2 - x1) / (g2 - g1))
        else:  # not bracketed yet: double (or halve) λ away from the side we are on
            lam, g = min(tried, key=lambda t: abs(t[1]))
            nxt = lam * (2.0 if g < 0 else 0.5)
        evaluate(nxt)
    best = min(tried, key=lambda t: abs(t[1]))
    return WeightCalibration(weight=best[0], gap=best[1], tried=tried)
