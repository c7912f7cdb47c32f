"""PPGM (Nguyen et al. 2017) latent Langevin dynamics on U(z) = ½‖z‖² + E_C(G(z)):

    z ← z − (η/2) ∇U(z) + √η ξ,  ξ ~ N(0, I),

n steps from z₀ ~ N(0, I). Every step back-propagates through G and every control model: that is the
inference-time cost PromptGen removes (Table 4 counts these backprops).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import torch
from torch import Tensor

from promptgen.energies.base import EnergyInput, EnergySum
from promptgen.energies.prior import prior_energy
from promptgen.generators.base import Generator
from promptgen.sample import per_sample_normal

__all__ = ["LangevinResult", "langevin"]


@dataclass
class LangevinResult:
    z: Tensor
    images: Tensor
    backprops_per_sample: int
    seconds: float


def langevin(
    generator: Generator,
    energy: EnergySum,
    n: int,
    *,
    steps: int = 50,
    step_size: float = 1e-2,
    seed: int = 0,
    batch_size: int = 64,
    device: torch.device | str = "cpu",
) -> LangevinResult:
    """Run ``n`` chains of PPGM Langevin for ``steps`` steps of size η = ``step_size``.

    Chains start from per-sample ε_i (seeded by (seed, i)); the step noise is drawn per batch from a
    generator seeded by (seed, first index), so results depend on ``batch_size`` only through the noise.
    """
    if steps < 0 or step_size <= 0:
        raise ValueError(f"langevin: need steps >= 0 and step_size > 0, got {steps}, {step_size}")
    zs, xs = [], []
    t0 = time.perf_counter()
    for lo in range(0, n, batch_size):
        idx = list(range(lo, min(lo + batch_size, n)))
        z = per_sample_normal(seed, idx, generator.latent_dim).to(device)
        noise_gen = torch.Generator().manual_seed(int(seed) * 1_000_003 + lo)
        for _ in range(steps):
            z = z.detach().requires_grad_(True)
            x = generator(z)
            u = prior_energy(z)
            if len(energy.energies):
                u = u + energy(EnergyInput(x=x, z=z))
            (grad,) = torch.autograd.grad(u.sum(), z)
            xi = torch.randn(z.shape, generator=noise_gen).to(device)
            z = z - 0.5 * step_size * grad + math.sqrt(step_size) * xi
        z = z.detach()
        with torch.no_grad():
            xs.append(generator(z).cpu())
        zs.append(z.cpu())
    return LangevinResult(torch.cat(zs), torch.cat(xs), steps, time.perf_counter() - t0)
