"""Analytic energies on G(z) = z for checking the INN against closed-form targets (App. A)."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from promptgen.energies.base import Energy, EnergyInput

__all__ = ["GaussianMixtureEnergy", "QuadraticEnergy"]


def _flat(x: Tensor) -> Tensor:
    return x.reshape(x.shape[0], -1)


class QuadraticEnergy(Energy):
    """E(x) = ½ (x − m)ᵀ A (x − m); with the N(0, I) prior the target is N((I+A)⁻¹Am, (I+A)⁻¹).

    Arguments:
        mean: m, shape (d,).
        precision: A, symmetric positive semi-definite, shape (d, d).
    """

    def __init__(self, mean: Tensor, precision: Tensor):
        super().__init__()
        self.register_buffer("mean", torch.as_tensor(mean))
        self.register_buffer("precision", torch.as_tensor(precision))

    def forward(self, inp: EnergyInput) -> Tensor:
        r = _flat(inp.x) - self.mean
        return 0.5 * ((r @ self.precision) * r).sum(-1)

    def posterior(self) -> tuple[Tensor, Tensor]:
        """Mean and covariance of p(z) ∝ N(z; 0, I) exp(−E(z))."""
        eye = torch.eye(self.mean.shape[0], dtype=self.precision.dtype)
        cov = torch.linalg.inv(eye + self.precision)
        return cov @ self.precision @ self.mean, cov


class GaussianMixtureEnergy(Energy):
    """E(x) = −log Σ_k w_k N(x; μ_k, σ²I): a multi-modal target once multiplied by the N(0, I) prior.

    Arguments:
        means: (K, d) component means.
        sigma: shared isotropic standard deviation.
        weights: (K,) mixture weights (default uniform).
    """

    def __init__(self, means: Tensor, sigma: float, weights: Tensor | None = None):
        super().__init__()
        means = torch.as_tensor(means)
        weights = (
            torch.full((means.shape[0],), 1.0 / means.shape[0])
            if weights is None
            else torch.as_tensor(weights)
        )
        self.register_buffer("means", means)
        self.register_buffer("log_weights", torch.log(weights / weights.sum()))
        self.sigma = float(sigma)

    def forward(self, inp: EnergyInput) -> Tensor:
        x = _flat(inp.x)
        sq = ((x.unsqueeze(1) - self.means.to(x.dtype)) ** 2).sum(-1)
        d = x.shape[1]
        log_comp = -0.5 * sq / self.sigma**2 - d * math.log(self.sigma) - 0.5 * d * math.log(2 * math.pi)
        return -torch.logsumexp(log_comp + self.log_weights.to(x.dtype), dim=1)
