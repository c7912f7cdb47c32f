"""De-biasing methods as config entries (Table 2): a registry keyed by ``kind``, like generators.

Each entry of ``table2.methods`` names a method; ``table2.generator_methods`` says which methods run on which
generator (default: every method on every generator)::

    table2:
      methods:
        promptgen: {kind: promptgen}
        direction: {kind: direction, fit_samples: 4000, margin: 0.5}
        mine: {kind: python, python: "my_package.my_method:make_method", kwargs: {strength: 2.0}}
      generator_methods: {render: [unmodified, direction, resample, promptgen, mine]}

Built-in kinds: ``unmodified``, ``direction``, ``resample``, ``promptgen``, and for generators with a style
space or W (:mod:`promptgen.style_methods`) ``fairstyle``, ``fairgen``, ``styleflow``. ``kind: python`` calls
``factory(**kwargs)``, which returns a :class:`DebiasMethod`.

The interface
-------------
A method is an object with

* ``needs``: a frozenset of what it uses. ``"pool"`` is the judged prior pool (:class:`PriorPool`: prior
  latents and the control classifier's log-probabilities, shared by every method of a (generator, seed)).
  Every other name is a capability the generator must declare in its ``provides`` attribute (a class or
  factory attribute, a frozenset of names), e.g. ``"style_space"`` (styles(z) and a synthesis from styles)
  or ``"w_space"``. A method whose needs a generator does not provide fails validation with one line naming
  both (:func:`check_needs`).
* ``trains``: True when it has a training stage (its own Snakemake job, output in ``ctx.state_dir``).
* ``conditional``: False when its samples ignore the request (the unmodified generator): accuracy is then
  not reported.
* ``fit(ctx)``: the training stage, writing under ``ctx.state_dir`` (called only when ``trains``).
* ``sample(ctx, requests, seed) -> Draws``: samples for ``requests``, an (n, k) float tensor over
  ``ctx.attributes`` of 1 (on), 0 (off) or −1 (free); row i of the draws answers row i of the requests.
  A Table-2 column asks for each combination of its attributes in equal numbers, the others free.

:class:`Draws` holds either ``pool_index`` (rows of the judged pool, not re-rendered) or ``z`` (latents the
generator renders at its evaluation ψ), or ``z`` with ``render`` (a method's own codes, e.g. edited styles,
and the function that turns a batch of them into images in [−1, 1]). ``stats`` may carry numbers per
requested combination (e.g. the resampling reference's effective sample size).

:class:`MethodContext` gives the generator at its evaluation ψ, the control classifier (``ctx.control``, a
module returning a dict of logits per head), the control energy weight λ, the table's attribute names, the
groups of attributes the table will request (``ctx.groups``) and how often a training draws each
(``ctx.group_weights``, default equally often), the config entries needed to train
(``ctx.gen_cfg``, ``ctx.section``, ``ctx.control_entry``), the pool and the device.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from promptgen.registry import ConfigError, Registry, import_object

__all__ = [
    "BUILTIN_METHOD_MODULES",
    "METHODS",
    "DebiasMethod",
    "Direction",
    "Draws",
    "MethodContext",
    "PriorPool",
    "PromptGen",
    "Resample",
    "Unmodified",
    "build_method",
    "check_needs",
    "class_scale",
    "generator_provides",
]

METHODS = Registry("method")
# Modules whose import registers more built-in method kinds (imported on first build; they import this one).
BUILTIN_METHOD_MODULES = ["promptgen.style_methods"]  # fairstyle, fairgen, styleflow


@dataclass
class PriorPool:
    """Prior latents z_i seeded by (seed, i) and the control classifier's log P(class | G(z_i)) per head."""

    z: Tensor
    control: dict[str, Tensor]


@dataclass
class Draws:
    """A method's samples for a batch of requests (see the module docstring)."""

    z: Tensor | None = None
    pool_index: Tensor | None = None
    render: Callable[[Tensor], Tensor] | None = None
    stats: dict[str, dict[str, float]] = field(default_factory=dict)


@dataclass
class MethodContext:
    """What a method may use on one (generator, seed); see the module docstring.

    ``generator`` and ``control`` may be given as zero-argument callables: they are then built on first
    use (a training stage that builds its own, as PromptGen's, loads nothing twice).
    """

    generator: nn.Module | Callable[[], nn.Module] | None
    control: nn.Module | Callable[[], nn.Module] | None
    attributes: list[str]
    weight: float
    groups: list[tuple[int, ...]]
    gen_cfg: Mapping[str, Any]
    section: Mapping[str, Any]
    control_entry: Mapping[str, Any]
    device: str
    seed: int
    state_dir: Path
    pool: PriorPool | None = None
    batch_size: int = 256
    group_weights: list[float] | None = None

    def __getattribute__(self, name: str) -> Any:
        value = object.__getattribute__(self, name)
        if name in ("generator", "control") and callable(value) and not isinstance(value, nn.Module):
            value = value()
            object.__setattr__(self, name, value)
        return value

    def combination(self, request: Tensor) -> str:
        """``male=1,eyeglasses=0`` for one request row (free attributes left out)."""
        return ",".join(
            f"{a}={int(v)}" for a, v in zip(self.attributes, request.tolist(), strict=True) if v >= 0
        )


class DebiasMethod:
    """Base class of a Table-2 method: no needs, no training, conditional (see the module docstring)."""

    needs: frozenset[str] = frozenset()
    trains: bool = False
    conditional: bool = True

    def fit(self, ctx: MethodContext) -> None:
        """Train into ``ctx.state_dir`` (only called when ``trains``)."""

    def sample(self, ctx: MethodContext, requests: Tensor, seed: int) -> Draws:  # pragma: no cover - abstract
        raise NotImplementedError


def _pool(ctx: MethodContext, name: str) -> PriorPool:
    if ctx.pool is None:
        raise ConfigError(f"method {name}: needs the judged prior pool, and none was given")
    return ctx.pool


@METHODS.register("unmodified")
class Unmodified(DebiasMethod):
    """Prior samples z ~ N(0, I): rows [0, n) of the judged pool, whatever the request."""

    needs = frozenset({"pool"})
    conditional = False

    def sample(self, ctx: MethodContext, requests: Tensor, seed: int) -> Draws:
        pool = _pool(ctx, "unmodified")
        if len(requests) > len(pool.z):
            raise ConfigError(
                f"table2.pool: {len(pool.z)} rows, fewer than the {len(requests)} samples asked"
            )
        return Draws(pool_index=torch.arange(len(requests)))


@METHODS.register("direction")
class Direction(DebiasMethod):
    """Latent-direction editing (InterFaceGAN-style): one boundary per attribute, fit by logistic regression
    on the control classifier's labels of the pool's last ``fit_samples`` rows; the pool's first n rows are
    moved to the requested side of each requested attribute's boundary (:mod:`promptgen.baselines.direction`).

    Arguments:
        fit_samples: pool rows the boundaries are fit on (disjoint from the moved rows).
        margin: least signed distance from a boundary after the move.
    """

    needs = frozenset({"pool"})

    def __init__(self, fit_samples: int = 10000, margin: float = 0.5):
        if not isinstance(fit_samples, int) or fit_samples < 2:
            raise ConfigError(f"direction.fit_samples: expected an integer >= 2, got {fit_samples!r}")
        self.fit_samples, self.margin = fit_samples, float(margin)
        self._directions: dict[int, Any] = {}

    def _direction(self, ctx: MethodContext, j: int):
        from promptgen.baselines.direction import fit_direction

        if j not in self._directions:
            pool = _pool(ctx, "direction")
            rows = slice(len(pool.z) - self.fit_samples, len(pool.z))
            logp = pool.control[ctx.attributes[j]][rows]
            labels = (logp[:, 1] >= logp[:, 0]).long()
            try:
                self._directions[j] = fit_direction(pool.z[rows], labels)
            except ValueError as err:
                raise ValueError(f"attribute {ctx.attributes[j]!r}: {err}") from err
        return self._directions[j]

    def sample(self, ctx: MethodContext, requests: Tensor, seed: int) -> Draws:
        from promptgen.baselines.direction import balance_along_directions

        pool = _pool(ctx, "direction")
        n = len(requests)
        if n + self.fit_samples > len(pool.z):
            raise ConfigError(
                f"table2.pool: {len(pool.z)} rows, fewer than {n} samples + direction.fit_samples "
                f"{self.fit_samples}"
            )
        z = pool.z[:n]
        out = z.clone()
        # rows with the same set of requested attributes are moved together
        keys = [tuple(int(v) >= 0 for v in r) for r in requests.tolist()]
        for key in dict.fromkeys(keys):
            rows = torch.tensor([k == key for k in keys])
            idx = [j for j, on in enumerate(key) if on]
            if not idx:
                continue
            directions = [self._direction(ctx, j) for j in idx]
            out[rows] = balance_along_directions(
                z[rows], directions, requests[rows][:, idx], margin=self.margin
            )
        return Draws(z=out)


@METHODS.register("resample")
class Resample(DebiasMethod):
    """Self-normalised importance resampling of the judged pool: for each requested combination c, rows drawn
    with weights Π_{j requested} P(c_j | G(z))^λ (the same EBM PromptGen's INN learns), with replacement;
    ``stats`` holds each combination's effective sample size (:mod:`promptgen.baselines.resample`)."""

    needs = frozenset({"pool"})

    def sample(self, ctx: MethodContext, requests: Tensor, seed: int) -> Draws:
        from promptgen.baselines.resample import resample_from_log_weights

        pool = _pool(ctx, "resample")
        gen = torch.Generator().manual_seed(int(seed))
        picked = torch.empty(len(requests), dtype=torch.long)
        stats = {}
        names = [ctx.combination(r) for r in requests]
        for name in dict.fromkeys(names):
            rows = torch.tensor([n == name for n in names])
            request = requests[rows][0]
            logw = torch.zeros(len(pool.z), dtype=torch.float64)
            for j, a in enumerate(ctx.attributes):
                if request[j] >= 0:
                    logw += ctx.weight * pool.control[a][:, int(request[j])].double()
            idx, ess = resample_from_log_weights(logw, int(rows.sum()), gen)
            picked[rows] = idx
            stats[name] = {"ess": ess}
        return Draws(pool_index=picked, stats=stats)


@METHODS.register("promptgen")
class PromptGen(DebiasMethod):
    """One conditional INN per (generator, seed) over partial specifications of the attributes
    (:meth:`promptgen.conditions.DiscreteCondition.partial` with ``ctx.groups``, drawn in training with
    ``ctx.group_weights``; energy ``partial-classifier``, weight λ, and the section's ``class_weights``: λ
    per requested class), trained with the section's ``inn`` and ``train`` settings; sampled as
    z = f(ε_i, request_i), ε_i seeded by (seed, i)."""

    trains = True

    def spec(self, ctx: MethodContext) -> dict[str, Any]:
        """The control spec of the INN (:mod:`promptgen.spec`).

        Raises:
            ConfigError: a ``class_weights`` entry that is not a combination of the attributes or not a λ > 0.
        """
        energy = {
            "kind": "partial-classifier",
            "weight": ctx.weight,
            "model": dict(ctx.control_entry),
            "heads": list(ctx.attributes),
        }
        scale = class_scale(ctx.section.get("class_weights") or {}, ctx.attributes, ctx.weight)
        if scale:
            energy["class_scale"] = scale
        condition = {"kind": "partial", "k": len(ctx.attributes), "groups": [list(g) for g in ctx.groups]}
        if ctx.group_weights is not None:
            condition["group_weights"] = [float(w) for w in ctx.group_weights]
        return {
            "generator": ctx.gen_cfg["generator"],
            "psi": ctx.gen_cfg["psi_train"],
            "device": ctx.device,
            "inn": {**dict(ctx.section["inn"]), "seed": ctx.seed},
            "condition": condition,
            "energies": {"classifier": energy},
            "train": {**dict(ctx.section["train"]), "seed": ctx.seed},
        }

    def fit(self, ctx: MethodContext) -> None:
        from promptgen.spec import train_from_spec

        train_from_spec(self.spec(ctx), ctx.state_dir)

    @torch.no_grad()
    def sample(self, ctx: MethodContext, requests: Tensor, seed: int) -> Draws:
        from promptgen.checkpoint import load_inn
        from promptgen.conditions import encode_partial
        from promptgen.sample import per_sample_normal

        inn, _ = load_inn(ctx.state_dir / "inn.pt")
        cond = encode_partial(requests)
        if cond.shape[1] != inn.cond_dim:
            raise ConfigError(
                f"{ctx.state_dir / 'inn.pt'}: cond_dim {inn.cond_dim}, requests need {cond.shape[1]}"
            )
        eps = per_sample_normal(seed, range(len(cond)), inn.dim)
        z = torch.cat([inn(e, c)[0] for e, c in zip(eps.split(1024), cond.split(1024), strict=True)])
        return Draws(z=z)


def class_scale(
    class_weights: Mapping[str, Any],
    attributes: Sequence[str],
    weight: float,
    where: str = "table2.class_weights",
) -> dict[str, float]:
    """λ per requested class (``{"eyeglasses=1": 300}``) as factors on the energy's λ ``weight``, for the
    ``partial-classifier`` energy's ``class_scale``.

    Raises:
        ConfigError: naming ``where`` and the entry, for a key that is not a combination of ``attributes``
            or a value that is not a number > 0.
    """
    from promptgen.conditions import parse_combination

    if not isinstance(class_weights, Mapping):
        raise ConfigError(f"{where}: expected a mapping 'attribute=0|1,...' -> λ, got {class_weights!r}")
    out = {}
    for text, lam in class_weights.items():
        parse_combination(text, attributes, where)
        if isinstance(lam, bool) or not isinstance(lam, int | float) or not 0 < lam < float("inf"):
            raise ConfigError(f"{where}[{text!r}]: expected a λ > 0, got {lam!r}")
        out[str(text)] = float(lam) / float(weight)
    return out


def build_method(entry: Mapping[str, Any], where: str) -> DebiasMethod:
    """Build a method from its config entry (``where`` names it in errors, e.g. ``table2.methods.mine``)."""
    for module in BUILTIN_METHOD_MODULES:
        importlib.import_module(module)
    method = METHODS.build(entry, where=where)
    if not callable(getattr(method, "sample", None)):
        raise ConfigError(f"{where}: {type(method).__name__} has no sample(ctx, requests, seed) method")
    for key, kind in (("needs", frozenset), ("trains", bool), ("conditional", bool)):
        value = getattr(method, key, DebiasMethod.__dict__[key])
        if not isinstance(value, kind):
            raise ConfigError(f"{where}: {key} must be a {kind.__name__}, got {value!r}")
    return method


def generator_provides(gen_cfg: Mapping[str, Any]) -> frozenset[str]:
    """Capabilities a generator entry declares (``provides`` on its registered factory or class, or on a
    ``python`` factory), without building it."""
    from promptgen.generators import GENERATORS, load_builtin_generators

    load_builtin_generators()
    entry = gen_cfg["generator"]
    if entry.get("kind") == "python":
        factory = import_object(entry.get("python", ""), key="generator.python")
    else:
        factory = GENERATORS._factories.get(entry.get("kind"))
    return frozenset(getattr(factory, "provides", ()) or ())


def missing_needs(method: DebiasMethod, provides: Sequence[str]) -> list[str]:
    """The capabilities ``method`` needs that a generator providing ``provides`` lacks."""
    return sorted(set(method.needs) - {"pool"} - set(provides))


def check_needs(method_name: str, method: DebiasMethod, gen_name: str, provides: Sequence[str]) -> None:
    """Raise a one-line ConfigError when the generator lacks a capability the method needs."""
    missing = missing_needs(method, provides)
    if missing:
        raise ConfigError(
            f"table2.methods.{method_name} needs {', '.join(missing)}, which generators.{gen_name} does not "
            f"provide (provides: {', '.join(sorted(provides)) or 'nothing'})"
        )


def method_summary(method: DebiasMethod) -> str:
    """A JSON line of a method's declared needs, training and conditioning (for logs)."""
    return json.dumps(
        {"needs": sorted(method.needs), "trains": method.trains, "conditional": method.conditional}
    )
