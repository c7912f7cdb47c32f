"""Self-normalised importance resampling from the latent EBM: draw a pool z ~ N(0, I), weight by
exp(−E_C(G(z))), resample with replacement. Exact as the pool grows; the effective sample size says
how far from that limit a given pool is."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from promptgen.energies.base import EnergyInput, EnergySum
from promptgen.generators.base import Generator

__all__ = ["ResampleResult", "importance_resample", "resample_from_log_weights"]


@dataclass
class ResampleResult:
    z: Tensor
    indices: Tensor
    ess: float
    pool: int


def resample_from_log_weights(logw: Tensor, n: int, generator: torch.Generator) -> tuple[Tensor, float]:
    """``n`` pool rows drawn with replacement with probabilities softmax(logw), and the effective sample size.

    Arguments:
        logw: (P,) unnormalised log-weights of the pool rows (e.g. −E_C(G(z_i))).
        generator: the RNG of the draws.

    Returns:
        (indices (n,), ESS = 1 / Σ w_i² of the normalised weights).
    """
    w = torch.softmax(logw.double(), 0)
    ess = float(1.0 / (w * w).sum())
    return torch.multinomial(w, n, replacement=True, generator=generator), ess


@torch.no_grad()
def importance_resample(
    generator: Generator,
    energy: EnergySum,
    n: int,
    *,
    pool: int = 65536,
    seed: int = 0,
    batch_size: int = 1024,
    device: torch.device | str = "cpu",
) -> ResampleResult:
    """Draw ``n`` latents approximately from p(z|C) by resampling a prior pool of size ``pool``."""
    gen = torch.Generator().manual_seed(seed)
    zs, logw = [], []
    for lo in range(0, pool, batch_size):
        z = torch.randn(min(batch_size, pool - lo), generator.latent_dim, generator=gen)
        x = generator(z.to(device))
        logw.append(-energy(EnergyInput(x=x, z=z.to(device))).double().cpu())
        zs.append(z)
    idx, ess = resample_from_log_weights(torch.cat(logw), n, gen)
    z = torch.cat(zs)
    return ResampleResult(z=z[idx], indices=idx, ess=ess, pool=pool)
