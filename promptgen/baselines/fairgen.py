"""FairGen (Tan, Shen and Zhou, 2020, "Improving the Fairness of Deep Generative Models without Retraining",
arXiv:2012.04842): sample from a latent distribution learned per attribute group.

Prior latents are labelled by a classifier on their images; for every group (a combination of the target
attributes) a Gaussian mixture model is fit by expectation-maximisation to the latent codes of that group;
the de-biased generator draws the requested number of codes from each group's mixture and renders them.
The codes live in Z or, for style-based generators, in W (the mapping network's output).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = ["GaussianMixture", "fit_gmm", "group_rows"]

COVARIANCE_FLOOR = 1e-4  # added to every covariance diagonal (relative to the data's mean variance)


@dataclass
class GaussianMixture:
    """Σ_k π_k N(μ_k, L_k L_kᵀ): ``weights`` (K,), ``means`` (K, d), ``chol`` (K, d, d) lower-triangular."""

    weights: Tensor
    means: Tensor
    chol: Tensor

    def log_prob(self, x: Tensor) -> Tensor:
        """log density of every row of ``x`` (N, d)."""
        return torch.logsumexp(_component_log_probs(x, self) + self.weights.log(), dim=1)

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """``n`` draws (n, d): a component by its weight, then Gaussian noise through its Cholesky factor."""
        comp = torch.multinomial(self.weights, n, replacement=True, generator=generator)
        eps = torch.randn(n, self.means.shape[1], generator=generator, dtype=self.means.dtype)
        return self.means[comp] + torch.einsum("nij,nj->ni", self.chol[comp], eps)


def _component_log_probs(x: Tensor, gmm: GaussianMixture) -> Tensor:
    """log N(x_i; μ_k, Σ_k) as an (N, K) matrix."""
    d = x.shape[1]
    diff = x[None] - gmm.means[:, None]  # (K, N, d)
    # one triangular solve per component, all rows as its right-hand sides: L_k⁻¹ (x_i − μ_k)
    sol = torch.linalg.solve_triangular(gmm.chol, diff.transpose(1, 2), upper=False).permute(2, 0, 1)
    log_det = torch.log(torch.diagonal(gmm.chol, dim1=-2, dim2=-1)).sum(-1)  # (K,)
    return -0.5 * sol.square().sum(-1) - log_det - 0.5 * d * math.log(2 * math.pi)


def fit_gmm(x: Tensor, k: int, *, iterations: int = 100, seed: int = 0, tol: float = 1e-5) -> GaussianMixture:
    """Fit a full-covariance Gaussian mixture with ``k`` components to ``x`` (N, d) by EM (float64).

    Initialisation: ``k`` distinct rows drawn with ``seed`` as means, the data covariance for every component,
    equal weights. Every covariance gets :data:`COVARIANCE_FLOOR` × the mean data variance on its diagonal.

    Raises:
        ValueError: when there are fewer rows than components (or than 2).
    """
    x = x.double()
    n, d = x.shape
    if k < 1 or n < max(k, 2):
        raise ValueError(f"fairgen: {n} latent codes cannot fit a mixture of {k} components")
    gen = torch.Generator().manual_seed(seed)
    floor = COVARIANCE_FLOOR * x.var(dim=0).mean() * torch.eye(d, dtype=x.dtype)
    cov = torch.cov(x.T).reshape(d, d) + floor
    gmm = GaussianMixture(
        torch.full((k,), 1.0 / k, dtype=x.dtype),
        x[torch.randperm(n, generator=gen)[:k]].clone(),
        torch.linalg.cholesky(cov).expand(k, d, d).clone(),
    )
    previous = -math.inf
    for _ in range(iterations):
        log_r = _component_log_probs(x, gmm) + gmm.weights.log()
        total = torch.logsumexp(log_r, dim=1, keepdim=True)
        resp = (log_r - total).exp()  # (N, K)
        nk = resp.sum(0).clamp_min(1e-10)
        means = (resp.T @ x) / nk[:, None]
        diff = x[:, None, :] - means[None]
        covs = torch.einsum("nk,nki,nkj->kij", resp, diff, diff) / nk[:, None, None] + floor
        gmm = GaussianMixture(nk / n, means, torch.linalg.cholesky(covs))
        current = float(total.mean())
        if current - previous < tol:
            break
        previous = current
    return GaussianMixture(gmm.weights.float(), gmm.means.float(), gmm.chol.float())


def group_rows(labels: Tensor, combination: Tensor) -> Tensor:
    """Indices of the rows whose labels (N, m) equal ``combination`` (m,) on every attribute."""
    return torch.nonzero((labels == combination[None]).all(dim=1)).flatten()
