"""Energies (Sec. 3.1) and their construction from a control spec.

A control spec lists named terms, each ``{kind, weight, ...}``; terms that use an off-the-shelf model
name it with a ``model`` entry built through :data:`promptgen.models.MODELS` (identical entries share
one frozen instance). Kinds: ``classifier``, ``conditional-classifier``, ``partial-classifier``, ``clip``,
``pose``, ``identity``, ``moment``, ``prior``, ``quadratic``, ``gaussian-mixture`` and ``python``
(``python: "module:factory"``, ``kwargs``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from promptgen.energies.analytic import GaussianMixtureEnergy, QuadraticEnergy
from promptgen.energies.base import Energy, EnergyInput, EnergySum, NonFiniteEnergyError
from promptgen.energies.classifier import (
    ClassifierEnergy,
    ClassProbabilities,
    ConditionalClassifierEnergy,
    PartialClassifierEnergy,
)
from promptgen.energies.clip import CLIPEnergy
from promptgen.energies.identity import IdentityEnergy
from promptgen.energies.moment import MomentEnergy
from promptgen.energies.pose import PoseEnergy
from promptgen.energies.prior import PriorEnergy
from promptgen.registry import ConfigError, Registry
from promptgen.yaml_loader import number_from_string

__all__ = [
    "ENERGIES",
    "Energy",
    "EnergyInput",
    "EnergySum",
    "ModelCache",
    "NonFiniteEnergyError",
    "build_energy_sum",
]

ENERGIES = Registry("energy")


class ModelCache:
    """Builds each distinct control-model entry once, frozen, on one device."""

    def __init__(self, device: torch.device | str = "cpu"):
        self.device = device
        self._models: dict[str, nn.Module] = {}

    def get(self, entry: Mapping[str, Any], where: str) -> nn.Module:
        from promptgen.models import MODELS, load_builtin_adapters

        load_builtin_adapters()
        key = json.dumps(entry, sort_keys=True, default=str)
        if key not in self._models:
            model = MODELS.build(entry, where=where)
            self._models[key] = model.eval().requires_grad_(False).to(self.device)
        return self._models[key]


ENERGIES.register("classifier")(lambda model, targets: ClassifierEnergy(model, targets))
ENERGIES.register("conditional-classifier")(lambda model, heads: ConditionalClassifierEnergy(model, heads))
ENERGIES.register("partial-classifier")(
    lambda model, heads, class_scale=None: PartialClassifierEnergy(model, heads, class_scale)
)
ENERGIES.register("clip")(lambda model, text, **kw: CLIPEnergy(model, text, **kw))
ENERGIES.register("pose")(lambda model, **kw: PoseEnergy(model, **kw))
ENERGIES.register("identity")(lambda model: IdentityEnergy(model))
ENERGIES.register("prior")(lambda: PriorEnergy())
ENERGIES.register("quadratic")(
    lambda mean, precision: QuadraticEnergy(torch.tensor(mean, dtype=torch.float32), torch.tensor(precision))
)
ENERGIES.register("gaussian-mixture")(
    lambda means, sigma, weights=None: GaussianMixtureEnergy(
        torch.tensor(means, dtype=torch.float32), sigma, None if weights is None else torch.tensor(weights)
    )
)


@ENERGIES.register("moment")
def _moment(model: nn.Module, head: str, beta_hat: list[float] | str) -> MomentEnergy:
    if isinstance(beta_hat, str):
        from promptgen.moment import load_moment_fit

        beta_hat = load_moment_fit(beta_hat).beta_hat
    return MomentEnergy(ClassProbabilities(model, head), torch.as_tensor(beta_hat))


def build_energy_sum(
    spec: Mapping[str, Any], *, device: torch.device | str = "cpu", where: str = "energies"
) -> EnergySum:
    """Build E_C = Σ λ_i E_i from ``{name: {kind, weight, [model], ...}}``."""
    if not isinstance(spec, Mapping):
        raise ConfigError(f"{where}: expected a mapping of named energy terms, got {type(spec).__name__}")
    cache = ModelCache(device)
    terms: dict[str, tuple[float, Energy]] = {}
    for name, entry in spec.items():
        here = f"{where}.{name}"
        if not isinstance(entry, Mapping):
            raise ConfigError(f"{here}: expected a mapping with 'kind' and 'weight'")
        entry = dict(entry)
        if "weight" not in entry:
            raise ConfigError(f"{here}.weight: missing (the energy's λ)")
        weight = entry.pop("weight")
        if isinstance(weight, str):
            weight = number_from_string(weight) or weight
        if isinstance(weight, bool) or not isinstance(weight, int | float) or not 0 < weight < float("inf"):
            raise ConfigError(f"{here}.weight: expected a number > 0 (the energy's λ), got {weight!r}")
        extra = {"model": cache.get(entry.pop("model"), f"{here}.model")} if "model" in entry else {}
        energy = ENERGIES.build(entry, where=here, **extra)
        terms[name] = (float(weight), energy.to(device))
    return EnergySum(terms)
