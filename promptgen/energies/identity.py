"""Paired identity energy (Eq. 12): 1 − cos between face embeddings of x and its reference x₀."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from promptgen.energies.base import Energy, EnergyInput

__all__ = ["IdentityEnergy"]


class IdentityEnergy(Energy):
    """E_ID(x₀, x) = 1 − cos⟨R(x₀), R(x)⟩; x₀ = G(f(ε, ρ₀)) is the same ε at the canonical condition.

    Arguments:
        embedder: adapter mapping images to identity embeddings (N, D).
    """

    needs = frozenset({"x_ref"})

    def __init__(self, embedder: nn.Module):
        super().__init__()
        self.embedder = embedder

    def forward(self, inp: EnergyInput) -> Tensor:
        self.require(inp)
        a = F.normalize(self.embedder(inp.x), dim=-1)
        b = F.normalize(self.embedder(inp.x_ref), dim=-1)
        return 1 - (a * b).sum(-1)
