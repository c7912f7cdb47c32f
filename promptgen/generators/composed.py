"""G∘f_θ (Alg. 1, line 4): a generator whose latent is the INN's ε — itself controllable again."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from promptgen.checkpoint import load_inn
from promptgen.flows import INN
from promptgen.generators.base import GENERATORS, Generator, build_generator

__all__ = ["ComposedGenerator"]


class ComposedGenerator(Generator):
    """x = G(f_θ(ε[, c])): the composition of a frozen generator and a trained INN.

    Arguments:
        base: the generator G (may itself be a ComposedGenerator: compositions nest).
        inn: the trained INN f_θ (frozen here).
    """

    def __init__(self, base: Generator, inn: INN):
        super().__init__(base.latent_dim, base.resolution, base.psi)
        if inn.dim != base.latent_dim:
            raise ValueError(f"INN dim {inn.dim} does not match the generator's latent_dim {base.latent_dim}")
        self.base, self.inn = base, inn.eval().requires_grad_(False)
        self.cond_dim = inn.cond_dim

    def latent(self, eps: Tensor, cond: Tensor | None = None) -> Tensor:
        """z = f_θ(ε, c) in the base generator's latent space."""
        return self.inn(eps, cond)[0]

    def root_latent(self, eps: Tensor, cond: Tensor | None = None) -> Tensor:
        """The latent of the innermost (original) generator: through every nested INN."""
        z = self.latent(eps, cond)
        return self.base.root_latent(z) if isinstance(self.base, ComposedGenerator) else z

    def forward(self, eps: Tensor, cond: Tensor | None = None) -> Tensor:
        return self.base(self.latent(eps, cond))


@GENERATORS.register("promptgen")
def _from_checkpoint(
    checkpoint: str, psi: float = 1.0, base: dict[str, Any] | None = None
) -> ComposedGenerator:
    """Kind ``promptgen``: G∘f from an INN checkpoint; G is rebuilt from the checkpoint's generator entry
    (or ``base``) at the truncation ψ given here."""
    inn, meta = load_inn(checkpoint)
    entry = base if base is not None else meta["generator"]
    return ComposedGenerator(build_generator(entry, psi=psi, device=torch.device("cpu")), inn)
