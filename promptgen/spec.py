"""Control specs: one YAML file says which generator, which energies, which INN and how to train.

Example (an 8-d quadratic target; ``examples/two_modes.yaml`` is a runnable one)::

    generator: {kind: identity, latent_dim: 8}
    psi: 1.0                 # truncation while training (explicit; the paper: 1.0)
    device: auto
    inn: {blocks: 8, hidden: 256, clamp: 2.0, seed: 0}
    condition: null          # or {kind: uniform, low: [...], high: [...], reference: [...]}
    energies:
      target: {kind: quadratic, weight: 1.0, mean: [...], precision: [[...]]}
    train: {steps: 1280, batch_size: 8, lr: 1.0e-3}

Moment fits (``promptgen fit-moment``) use ``gamma: {model: ..., head: ...}``, ``mu`` (a list or
``uniform``) and ``moment: {n, steps, lr, schedule, seed}`` instead of ``energies``/``train``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from promptgen.checkpoint import code_version, config_hash
from promptgen.conditions import DiscreteCondition, UniformCondition, build_condition
from promptgen.device import resolve_device
from promptgen.energies import EnergySum, build_energy_sum
from promptgen.flows import INN
from promptgen.generators import Generator, build_generator
from promptgen.registry import ConfigError
from promptgen.train import TrainConfig, TrainResult, train
from promptgen.yaml_loader import load_yaml

__all__ = ["Run", "build_run", "load_spec", "train_from_spec"]

KNOWN_KEYS = {
    "generator",
    "psi",
    "device",
    "inn",
    "condition",
    "energies",
    "train",
    "gamma",
    "mu",
    "moment",
    "seed",
}
INN_KEYS = {"blocks", "hidden", "clamp", "negative_slope", "seed"}


def load_spec(path: str | Path) -> dict[str, Any]:
    """Read and shallow-validate a control spec; errors name the file and key."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"spec file {path} not found")
    spec = load_yaml(path)
    if not isinstance(spec, Mapping):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    unknown = set(spec) - KNOWN_KEYS
    if unknown:
        raise ConfigError(f"{path}: unknown keys {sorted(unknown)} (known: {', '.join(sorted(KNOWN_KEYS))})")
    if "generator" not in spec:
        raise ConfigError(f"{path}: missing key 'generator'")
    return dict(spec)


@dataclass
class Run:
    generator: Generator
    inn: INN
    energy: EnergySum
    condition: UniformCondition | DiscreteCondition | None
    train: TrainConfig
    device: torch.device
    metadata: dict[str, Any]


def build_run(spec: Mapping[str, Any]) -> Run:
    """Build everything ``promptgen train`` needs from a spec."""
    device = resolve_device(spec.get("device", "auto"))
    generator = build_generator(spec["generator"], psi=spec.get("psi", 1.0), device=device)
    inn_cfg = spec.get("inn") or {}
    if not isinstance(inn_cfg, Mapping):
        raise ConfigError(f"inn: expected a mapping of INN settings, got {inn_cfg!r}")
    inn_cfg = dict(inn_cfg)
    unknown = set(inn_cfg) - INN_KEYS
    if unknown:
        raise ConfigError(f"inn: unknown keys {sorted(unknown)} (known: {', '.join(sorted(INN_KEYS))})")
    condition = build_condition(spec.get("condition"))
    inn = INN(generator.latent_dim, cond_dim=condition.dim if condition else 0, **inn_cfg)
    energy = build_energy_sum(spec.get("energies") or {}, device=device)
    train_cfg = TrainConfig.from_dict(spec.get("train"))
    metadata = {
        "generator": spec["generator"],
        "psi_train": spec.get("psi", 1.0),
        "energies": spec.get("energies") or {},
        "condition": spec.get("condition"),
        "seed": train_cfg.seed,
        "config_hash": config_hash(dict(spec)),
        "code_version": code_version(),
    }
    return Run(generator, inn, energy, condition, train_cfg, device, metadata)


def train_from_spec(
    spec: Mapping[str, Any], out_dir: str | Path, *, resume: bool = True, progress: bool = False
) -> TrainResult:
    """Build a spec's run and train it into ``out_dir`` (resuming from its state file when present)."""
    run = build_run(spec)
    return train(
        run.generator,
        run.inn,
        run.energy,
        run.train,
        out_dir,
        condition=run.condition,
        metadata=run.metadata,
        device=run.device,
        resume=resume,
        progress=progress,
    )
