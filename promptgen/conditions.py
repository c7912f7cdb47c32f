"""Conditions ρ for the conditional INN (Sec. 3.2): how they are drawn in training and the reference ρ₀."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor

from promptgen.registry import ConfigError

__all__ = ["UniformCondition", "build_condition"]


class UniformCondition:
    """ρ ~ U(low, high) per coordinate (the paper's pose runs: α ~ U(±π/9)²), with reference ρ₀.

    Arguments:
        low, high: bounds per coordinate.
        reference: ρ₀, the canonical condition of paired energies (default: zeros).
    """

    def __init__(self, low: Sequence[float], high: Sequence[float], reference: Sequence[float] | None = None):
        if len(low) != len(high) or not low:
            raise ConfigError("condition: 'low' and 'high' must be non-empty lists of equal length")
        if any(h < lo for lo, h in zip(low, high, strict=True)):
            raise ConfigError("condition: every 'high' must be >= its 'low'")
        self.low = torch.tensor(low, dtype=torch.float32)
        self.high = torch.tensor(high, dtype=torch.float32)
        ref = [0.0] * len(low) if reference is None else list(reference)
        if len(ref) != len(low):
            raise ConfigError(f"condition.reference: expected {len(low)} values, got {len(ref)}")
        self.reference = torch.tensor(ref, dtype=torch.float32)

    @property
    def dim(self) -> int:
        return int(self.low.shape[0])

    def sample(self, n: int, generator: torch.Generator) -> Tensor:
        u = torch.rand(n, self.dim, generator=generator)
        return self.low + (self.high - self.low) * u

    def reference_batch(self, n: int) -> Tensor:
        return self.reference.expand(n, self.dim).clone()

    def grid(self, per_axis: int) -> Tensor:
        """An evaluation grid over the box (the paper: 8 × 8 over (α_x, α_y))."""
        axes = [
            torch.linspace(lo, hi, per_axis)
            for lo, hi in zip(self.low.tolist(), self.high.tolist(), strict=True)
        ]
        return torch.cartesian_prod(*axes).reshape(-1, self.dim)


def build_condition(spec: Mapping[str, Any] | None) -> UniformCondition | None:
    if spec is None:
        return None
    spec = dict(spec)
    kind = spec.pop("kind", "uniform")
    if kind != "uniform":
        raise ConfigError(f"condition.kind: unknown condition kind {kind!r} (only 'uniform')")
    unknown = set(spec) - {"low", "high", "reference"}
    if unknown:
        raise ConfigError(f"condition: unknown keys {sorted(unknown)}")
    return UniformCondition(**spec)
