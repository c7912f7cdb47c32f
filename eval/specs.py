"""The shared part of every experiment's control spec (see :mod:`promptgen.spec`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["control_spec"]


def control_spec(
    gen_cfg: Mapping[str, Any],
    section: Mapping[str, Any],
    energies: Mapping[str, Any],
    device: str,
    seed: int,
    condition: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Generator at its training ψ, INN and train settings seeded with ``seed``, and the energies."""
    return {
        "generator": gen_cfg["generator"],
        "psi": gen_cfg["psi_train"],
        "device": device,
        "inn": {**dict(section["inn"]), "seed": seed},
        "condition": None if condition is None else dict(condition),
        "energies": dict(energies),
        "train": {**dict(section["train"]), "seed": seed},
    }
