"""Moment-constraint energy (Eq. 6): E(x) = −β̂ᵀ γ(x), with β̂ fitted by :mod:`promptgen.moment`."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from promptgen.energies.base import Energy, EnergyInput

__all__ = ["MomentEnergy"]


class MomentEnergy(Energy):
    """−β̂ · γ(x); its weight λ (the paper: 1 or 2) is applied by the energy sum.

    Arguments:
        gamma: module mapping images to moment features (N, K), e.g. class probabilities.
        beta_hat: fitted natural parameters, shape (K,).
    """

    def __init__(self, gamma: nn.Module, beta_hat: Tensor):
        super().__init__()
        self.gamma = gamma
        self.register_buffer("beta_hat", torch.as_tensor(beta_hat, dtype=torch.float32).flatten())

    def forward(self, inp: EnergyInput) -> Tensor:
        feats = self.gamma(inp.x)
        return -(feats * self.beta_hat.to(feats.dtype)).sum(-1)
