"""The latent prior term −log p_z(z) = ½‖z‖² (+ const) of Eq. 10."""

from __future__ import annotations

from torch import Tensor

from promptgen.energies.base import Energy, EnergyInput

__all__ = ["PriorEnergy", "prior_energy"]


def prior_energy(z: Tensor) -> Tensor:
    """½‖z‖² per sample."""
    return 0.5 * (z * z).sum(-1)


class PriorEnergy(Energy):
    """½‖z‖² as an energy (used by Langevin sampling and the KL estimate)."""

    needs = frozenset({"z"})

    def forward(self, inp: EnergyInput) -> Tensor:
        self.require(inp)
        return prior_energy(inp.z)
