"""The energy contract and weighted composition."""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
from torch import Tensor, nn

__all__ = ["Energy", "EnergyInput", "EnergySum", "NonFiniteEnergyError"]


class NonFiniteEnergyError(FloatingPointError):
    """An energy term returned NaN or infinity; the message names the term."""


@dataclass
class EnergyInput:
    """What an energy may look at for one batch.

    Arguments:
        x: images G(z) in [-1, 1], NCHW.
        z: latent codes, (N, d).
        cond: INN condition (e.g. requested pose angles), (N, c).
        x_ref: paired reference images (e.g. the same eps at the canonical condition).
        generator: RNG for stochastic energies (augmentations), so that training resumes exactly.
    """

    x: Tensor
    z: Tensor | None = None
    cond: Tensor | None = None
    x_ref: Tensor | None = None
    generator: torch.Generator | None = None

    def with_images(self, x: Tensor) -> EnergyInput:
        return replace(self, x=x)


class Energy(nn.Module):
    """Maps an :class:`EnergyInput` to a per-sample energy vector of shape (N,).

    Subclasses declare which optional fields they need in ``needs`` (a subset of
    ``{"z", "cond", "x_ref"}``), take images in [-1, 1] and leave model preprocessing to their adapter.
    Control models inside an energy are frozen and excluded from INN checkpoints.
    """

    needs: frozenset[str] = frozenset()

    def forward(self, inp: EnergyInput) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def require(self, inp: EnergyInput) -> None:
        missing = [k for k in self.needs if getattr(inp, k) is None]
        if missing:
            raise ValueError(f"{type(self).__name__} needs {', '.join(missing)} in its EnergyInput")


class EnergySum(Energy):
    """E_C = Σ_i λ_i E_i (Eq. 1) with named terms, so logs and errors can name each one.

    Arguments:
        terms: name -> (weight λ_i, energy E_i).
    """

    def __init__(self, terms: dict[str, tuple[float, Energy]]):
        super().__init__()
        self.weights = {name: float(w) for name, (w, _) in terms.items()}
        self.energies = nn.ModuleDict({name: e for name, (_, e) in terms.items()})
        self.needs = frozenset().union(*(e.needs for e in self.energies.values()))

    def terms(self, inp: EnergyInput) -> dict[str, Tensor]:
        """Unweighted per-sample values of each term; raises on a non-finite term, naming it."""
        values = {}
        for name, energy in self.energies.items():
            value = energy(inp)
            if not torch.isfinite(value).all():
                raise NonFiniteEnergyError(f"energy term {name!r} is non-finite (nan or inf)")
            values[name] = value
        return values

    def combine(self, values: dict[str, Tensor]) -> Tensor:
        """Σ_i λ_i E_i from the unweighted term values."""
        names = list(values)
        total = self.weights[names[0]] * values[names[0]]
        for name in names[1:]:
            total = total + self.weights[name] * values[name]
        return total

    def forward(self, inp: EnergyInput) -> Tensor:
        if not self.energies:
            return inp.x.new_zeros(inp.x.shape[0])
        return self.combine(self.terms(inp))
