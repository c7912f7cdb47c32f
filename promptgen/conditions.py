"""Conditions ρ for the conditional INN (Sec. 3.2): how they are drawn in training and the reference ρ₀."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor

from promptgen.registry import ConfigError

__all__ = [
    "DiscreteCondition",
    "UniformCondition",
    "build_condition",
    "encode_partial",
    "parse_combination",
    "partial_targets",
]


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


class DiscreteCondition:
    """ρ over a finite set of condition vectors — e.g. every combination of k binary targets, so one
    conditional INN covers every class of a classifier control (Table 2) and equal numbers per class are
    drawn by conditioning.

    Arguments:
        values: the condition vectors, one row each.
        weights: sampling probability of each row (normalised; default: uniform).
    """

    def __init__(self, values: Sequence[Sequence[float]], weights: Sequence[float] | None = None):
        table = torch.tensor(values, dtype=torch.float32)
        if table.ndim != 2 or table.shape[0] < 1 or table.shape[1] < 1:
            raise ConfigError("condition.values: expected a non-empty list of equal-length lists")
        self.values = table
        self.weights = None
        if weights is not None:
            w = torch.tensor(weights, dtype=torch.float64)
            if w.shape != (len(table),) or not bool((w >= 0).all()) or float(w.sum()) <= 0:
                raise ConfigError(f"condition.weights: expected {len(table)} non-negative numbers, not all 0")
            self.weights = w / w.sum()
        self.reference = None

    @classmethod
    def binary(cls, k: int) -> DiscreteCondition:
        """All 2^k combinations of k binary targets, first coordinate most significant."""
        return cls(torch.cartesian_prod(*[torch.tensor([0.0, 1.0])] * k).reshape(-1, k).tolist())

    @classmethod
    def partial(
        cls, k: int, groups: Sequence[Sequence[int]], group_weights: Sequence[float] | None = None
    ) -> DiscreteCondition:
        """Partial specifications of k binary attributes (:func:`encode_partial`): for each group of
        attribute indices, every combination of its attributes with the others free. Group i is drawn with
        probability ∝ ``group_weights[i]`` (default: equal) and, within it, each combination (a group of g
        attributes: 2^g rows) with equal probability."""
        if k < 1 or not groups:
            raise ConfigError("condition: kind 'partial' needs k >= 1 and a non-empty list of groups")
        shares = [1.0] * len(groups) if group_weights is None else list(group_weights)
        if len(shares) != len(groups) or any(
            isinstance(w, bool) or not isinstance(w, int | float) or not 0 <= w < float("inf") for w in shares
        ):
            raise ConfigError(
                f"condition.group_weights: expected {len(groups)} numbers >= 0, one per group, got {shares!r}"
            )
        if sum(shares) <= 0:
            raise ConfigError("condition.group_weights: at least one group needs a weight > 0")
        rows, weights = [], []
        for group, share in zip(groups, shares, strict=True):
            idx = [int(i) for i in group]
            if not idx or len(set(idx)) != len(idx) or not all(0 <= i < k for i in idx):
                raise ConfigError(f"condition.groups: {list(group)} is not a set of indices in [0, {k})")
            targets = partial_targets(k, idx, 1)
            rows.append(encode_partial(targets))
            weights += [float(share) / len(targets)] * len(targets)
        return cls(torch.cat(rows).tolist(), weights)

    @property
    def dim(self) -> int:
        return int(self.values.shape[1])

    def sample(self, n: int, generator: torch.Generator) -> Tensor:
        if self.weights is None:
            return self.values[torch.randint(len(self.values), (n,), generator=generator)]
        return self.values[torch.multinomial(self.weights, n, replacement=True, generator=generator)]

    def grid(self, per_value: int = 1) -> Tensor:
        """Every condition vector, each repeated ``per_value`` times (equal numbers per class)."""
        return self.values.repeat_interleave(per_value, dim=0)


def partial_targets(k: int, group: Sequence[int], per_class: int) -> Tensor:
    """Requests (n, k) for one group of attributes: every combination of the group's attributes (first index
    most significant), ``per_class`` rows each; the other attributes are −1 (free).

    Returns:
        float tensor of 0, 1 and −1, n = 2^len(group) · per_class.
    """
    combos = torch.cartesian_prod(*[torch.tensor([0.0, 1.0])] * len(group)).reshape(-1, len(group))
    out = torch.full((len(combos), k), -1.0)
    out[:, list(group)] = combos
    return out.repeat_interleave(per_class, dim=0)


def parse_combination(text: str, attributes: Sequence[str], where: str) -> Tensor:
    """A request row (k,) of 1, 0 and −1 (free) from ``"eyeglasses=1,young=1"`` over ``attributes``.

    Raises:
        ConfigError: naming ``where`` and the text, for an unknown attribute, a value other than 0 or 1,
            an attribute given twice or an empty text.
    """
    row = torch.full((len(attributes),), -1.0)
    parts = [p.strip() for p in str(text).split(",")]
    for part in parts:
        name, sep, value = (s.strip() for s in part.partition("="))
        if not sep or name not in attributes or value not in ("0", "1"):
            raise ConfigError(
                f"{where}: {text!r} is not a combination 'attribute=0|1,...' over {list(attributes)}"
            )
        j = list(attributes).index(name)
        if row[j] >= 0:
            raise ConfigError(f"{where}: {text!r} names {name!r} twice")
        row[j] = float(value)
    return row


def encode_partial(targets: Tensor) -> Tensor:
    """Requests (n, k) of 1 (on), 0 (off) or −1 (free) as an INN condition (n, 2k): coordinates [0, k) are 1
    where an attribute is on, [k, 2k) are 1 where it is off; a free attribute is 0 in both."""
    targets = torch.as_tensor(targets, dtype=torch.float32)
    return torch.cat([(targets == 1).float(), (targets == 0).float()], dim=1)


def build_condition(spec: Mapping[str, Any] | None) -> UniformCondition | DiscreteCondition | None:
    """``{kind: uniform, low, high, reference}``, ``{kind: discrete, values, weights}``, ``{kind: binary, k}``
    or ``{kind: partial, k, groups, group_weights}`` (:meth:`DiscreteCondition.partial`)."""
    if spec is None:
        return None
    spec = dict(spec)
    kind = spec.pop("kind", "uniform")
    allowed = {
        "uniform": {"low", "high", "reference"},
        "discrete": {"values", "weights"},
        "binary": {"k"},
        "partial": {"k", "groups", "group_weights"},
    }
    if kind not in allowed:
        raise ConfigError(f"condition.kind: unknown condition kind {kind!r} (one of {', '.join(allowed)})")
    unknown = set(spec) - allowed[kind]
    if unknown:
        raise ConfigError(f"condition: unknown keys {sorted(unknown)} for kind {kind!r}")
    if kind == "discrete":
        return DiscreteCondition(spec.get("values") or [], spec.get("weights"))
    if kind == "binary":
        return DiscreteCondition.binary(int(spec.get("k", 0)))
    if kind == "partial":
        return DiscreteCondition.partial(
            int(spec.get("k", 0)), spec.get("groups") or [], spec.get("group_weights")
        )
    return UniformCondition(**spec)
