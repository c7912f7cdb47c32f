"""Classifier energy E(x, a) = −log P(a | x) (Eq. in Sec. 3.1) for binary and categorical heads."""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from promptgen.conditions import encode_partial, parse_combination
from promptgen.energies.base import Energy, EnergyInput
from promptgen.registry import ConfigError

__all__ = [
    "ClassProbabilities",
    "ClassifierEnergy",
    "ConditionalClassifierEnergy",
    "PartialClassifierEnergy",
    "class_log_probs",
]


def class_log_probs(logits: Tensor) -> Tensor:
    """Log-probabilities (N, K) of a head: a binary head's (N,) logit becomes K = 2 classes [neg, pos]."""
    if logits.ndim == 1:
        return _binary_log_probs(logits)
    return F.log_softmax(logits, dim=-1)


def _binary_log_probs(logit: Tensor) -> Tensor:
    return -F.softplus(logit.unsqueeze(-1) * logit.new_tensor([1.0, -1.0]))


def _head(outputs: Mapping[str, Tensor], name: str) -> Tensor:
    if name not in outputs:
        raise KeyError(f"classifier has no head {name!r} (heads: {', '.join(outputs)})")
    return outputs[name]


class ClassifierEnergy(Energy):
    """Σ_a −log P(y_a | x) over the requested heads — one attribute or a combination (independent heads).

    Arguments:
        classifier: adapter returning a dict of logits ((N,) for binary heads, (N, K) for categorical).
        targets: head name -> target class (0/1 for a binary head, an index for a categorical one).
    """

    def __init__(self, classifier: nn.Module, targets: Mapping[str, int]):
        super().__init__()
        if not targets:
            raise ValueError("ClassifierEnergy needs at least one target")
        self.classifier = classifier
        self.targets = {str(k): int(v) for k, v in targets.items()}

    def forward(self, inp: EnergyInput) -> Tensor:
        outputs = self.classifier(inp.x)
        energy = None
        for name, target in self.targets.items():
            logp = class_log_probs(_head(outputs, name))
            if not 0 <= target < logp.shape[-1]:
                raise ValueError(
                    f"target {target} out of range for head {name!r} with {logp.shape[-1]} classes"
                )
            term = -logp[:, target]
            energy = term if energy is None else energy + term
        return energy


class ConditionalClassifierEnergy(Energy):
    """Σ_j −log P(c_j | x) where the target class of head j is the INN condition's coordinate j.

    With a :class:`~promptgen.conditions.DiscreteCondition` over every class combination, one conditional
    INN learns every p(z | class) of a classifier control at once.

    Arguments:
        classifier: adapter returning a dict of logits.
        heads: head names, in the order of the condition's coordinates.
    """

    needs = frozenset({"cond"})

    def __init__(self, classifier: nn.Module, heads: list[str]):
        super().__init__()
        self.classifier, self.heads = classifier, list(heads)

    def forward(self, inp: EnergyInput) -> Tensor:
        self.require(inp)
        if inp.cond.shape[1] < len(self.heads):
            raise ValueError(f"condition has {inp.cond.shape[1]} coordinates for {len(self.heads)} heads")
        outputs = self.classifier(inp.x)
        target = inp.cond.round().long()
        energy = None
        for j, name in enumerate(self.heads):
            logp = class_log_probs(_head(outputs, name))
            term = -logp.gather(1, target[:, j : j + 1]).squeeze(1)
            energy = term if energy is None else energy + term
        return energy


class PartialClassifierEnergy(Energy):
    """Σ_j [on_j · −log P(1 | x) + off_j · −log P(0 | x)] over k binary heads, where the INN condition is a
    partial specification (:func:`promptgen.conditions.encode_partial`): coordinates [0, k) flag the heads
    requested on, [k, 2k) those requested off; a free head contributes nothing.

    With :meth:`promptgen.conditions.DiscreteCondition.partial`, one conditional INN learns p(z | a subset of
    the attributes) for every subset a table asks for (Table 2: each column's attributes, the others free).

    Arguments:
        classifier: adapter returning a dict of logits.
        heads: binary head names, in the order of the condition's coordinates.
        class_scale: requested class -> factor on its energy, e.g. ``{"eyeglasses=1": 3.0}``: a request
            whose requested attributes are exactly these (``eyeglasses=1`` with every other head free; not
            ``eyeglasses=1,young=1``) trains against factor × λ instead of λ (the paper's λ per class).
    """

    needs = frozenset({"cond"})

    def __init__(
        self, classifier: nn.Module, heads: list[str], class_scale: Mapping[str, float] | None = None
    ):
        super().__init__()
        self.classifier, self.heads = classifier, list(heads)
        patterns, factors = _class_patterns(self.heads, class_scale or {})
        self.register_buffer("patterns", patterns, persistent=False)
        self.register_buffer("factors", factors, persistent=False)

    def forward(self, inp: EnergyInput) -> Tensor:
        self.require(inp)
        k = len(self.heads)
        if inp.cond.shape[1] != 2 * k:
            raise ValueError(f"partial condition has {inp.cond.shape[1]} coordinates for 2 × {k} heads")
        outputs = self.classifier(inp.x)
        energy = None
        for j, name in enumerate(self.heads):
            logp = class_log_probs(_head(outputs, name))
            term = -(inp.cond[:, j] * logp[:, 1] + inp.cond[:, k + j] * logp[:, 0])
            energy = term if energy is None else energy + term
        if len(self.factors):
            match = (inp.cond.unsqueeze(1) == self.patterns.to(inp.cond.dtype)).all(dim=2).to(energy.dtype)
            energy = energy * (1 + match @ (self.factors.to(energy.dtype) - 1))
        return energy


def _class_patterns(heads: list[str], class_scale: Mapping[str, float]) -> tuple[Tensor, Tensor]:
    """Encoded conditions (m, 2k) of the scaled classes and their factors (m,)."""
    rows, factors = [], []
    for text, factor in class_scale.items():
        where = f"class_scale[{text!r}]"
        if isinstance(factor, bool) or not isinstance(factor, int | float) or not 0 < factor < float("inf"):
            raise ConfigError(f"{where}: expected a number > 0, got {factor!r}")
        row = parse_combination(text, heads, "class_scale")
        if any(bool((row == r).all()) for r in rows):
            raise ConfigError(f"{where}: the same class is given twice")
        rows.append(row)
        factors.append(float(factor))
    if not rows:
        return torch.zeros(0, 2 * len(heads)), torch.zeros(0)
    return encode_partial(torch.stack(rows)), torch.tensor(factors)


class ClassProbabilities(nn.Module):
    """γ(x): the probability simplex (N, K) of one classifier head, for moment constraints and metrics."""

    def __init__(self, classifier: nn.Module, head: str):
        super().__init__()
        self.classifier, self.head = classifier, head

    def forward(self, x: Tensor) -> Tensor:
        return class_log_probs(_head(self.classifier(x), self.head)).exp()
