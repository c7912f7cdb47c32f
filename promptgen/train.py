"""Alg. 2: fit the INN by minimising the reverse KL, E_ε[−log|det ∂f/∂ε| + ½‖z‖² + E_C(G(z))] (Eq. 10).

AdamW with linear decay to 0 (no warm-up), gradient clipping, gradient accumulation; a CSV log of every
loss term; a resumable checkpoint every K steps (INN, optimiser, RNG state) written atomically, so a run
killed at any point resumes to exactly the parameters of an uninterrupted run; a clear error naming the
term on a non-finite loss, after saving the last good state.
"""

from __future__ import annotations

import copy
import csv
import logging
import math
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from tqdm.auto import tqdm

from promptgen.checkpoint import atomic_save, save_inn, state_fingerprint
from promptgen.conditions import DiscreteCondition, UniformCondition
from promptgen.device import autocast_context, cpu_autocast_dtype, training_autocast_dtype
from promptgen.energies.base import EnergyInput, EnergySum, NonFiniteEnergyError
from promptgen.energies.prior import prior_energy
from promptgen.flows import INN
from promptgen.generators.base import Generator
from promptgen.registry import ConfigError
from promptgen.yaml_loader import number_from_string

__all__ = ["NonFiniteLossError", "TrainConfig", "TrainResult", "train"]

logger = logging.getLogger(__name__)

STATE_FILE = "train_state.pt"
FINAL_FILE = "inn.pt"
LOG_FILE = "loss.csv"
ESTIMATORS = ("reparam", "stl")
ENERGY_GRADIENTS = ("path", "score")
NUMBER_KEYS = ("steps", "batch_size", "grad_accum", "checkpoint_every", "seed", "lr", "weight_decay")
NUMBER_KEYS += ("grad_clip", "energy_warmup")


class NonFiniteLossError(FloatingPointError):
    """The training loss became NaN or infinite; the message names the term and where the state was saved."""


@dataclass
class TrainConfig:
    """Optimisation settings; defaults are the paper code's classifier runs (docs/design.md §7).

    Arguments:
        steps: optimiser steps (the paper: 1280; pose: 2560).
        batch_size: samples per micro-batch (classifier runs: 8; CLIP runs: 2 × 4 accumulation).
        grad_accum: micro-batches per step.
        lr: AdamW learning rate, decayed linearly to 0.
        weight_decay: AdamW weight decay (the paper: 0).
        grad_clip: max gradient norm (the paper: 1.0).
        checkpoint_every: K, steps between resumable checkpoints.
        seed: seeds ε, conditions and stochastic energies.
        estimator: the gradient of the same objective: ``reparam`` (the paper's: backpropagate every term
            of Eq. 10) or ``stl`` ("sticking the landing", Roeder et al. 2017; for flows Vaitl et al.
            2022): −log q_θ(z) is evaluated through the inverse INN with θ held fixed, so only its path
            through z carries gradient. Both are unbiased; STL drops the score term, whose batch noise is
            what a small, bounded energy (a moment constraint) competes with. Its gradient is exactly zero
            for every batch once q equals the target. Costs one extra INN inverse per step.
        energy_gradient: how the energy terms are differentiated: ``path`` (the paper: backpropagate
            E(G(f(ε))) to θ) or ``score`` (score function with a leave-one-out baseline,
            E_q[(E − b) ∇_θ log q_θ(z)] at fixed z). Both estimate the same gradient when E is smooth in
            z; when E is a step function of z, as −β̂ᵀγ is for a classifier that is confident to float
            precision, the pathwise gradient is zero almost everywhere and only ``score`` moves mass.
            ``score`` needs no backward pass through G or the energy models.
        precision: arithmetic of G and the energy models inside the loss: ``fp32``, ``bf16`` (autocast
            mixed precision; the INN, its log-determinant, the prior and the optimiser stay float32) or
            ``auto`` (bfloat16 where the CPU has AMX tiles, else float32; see
            :func:`promptgen.device.cpu_autocast_dtype`). A generator may keep parts in float32 (the world
            renderer always rasterises in float32).
        energy_warmup: fraction w of the steps over which the energy terms' weights ramp linearly up to
            their configured values (step t of T trains against s·E with s = min(1, t / (w T)); 0: none,
            the paper's). The objective of every step after the ramp is Eq. 10 unchanged; early on the
            INN stays near the prior and spreads its mass before the energy pulls it into modes, which keeps
            a conditional INN from settling part of a rare condition's mass on samples that fool the
            control classifier (docs/findings.md, Table 2).
    """

    steps: int = 1280
    batch_size: int = 8
    grad_accum: int = 1
    lr: float = 1e-3
    weight_decay: float = 0.0
    grad_clip: float = 1.0
    checkpoint_every: int = 100
    seed: int = 0
    estimator: str = "reparam"
    energy_gradient: str = "path"
    precision: str = "fp32"
    energy_warmup: float = 0.0

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None, where: str = "train") -> TrainConfig:
        """Build and validate a config from a mapping; errors name ``where.<key>`` and the value.

        Strings that YAML 1.1 leaves unread (``lr: "3e-3"``) are read as numbers.
        """
        if d is not None and not isinstance(d, Mapping):
            raise ConfigError(f"{where}: expected a mapping of train settings, got {d!r}")
        d = dict(d or {})
        unknown = set(d) - set(cls.__dataclass_fields__)
        if unknown:
            raise ConfigError(
                f"{where}: unknown keys {sorted(unknown)} (known: {', '.join(cls.__dataclass_fields__)})"
            )
        for key, value in d.items():
            if isinstance(value, str) and key in NUMBER_KEYS:
                number = number_from_string(value)
                d[key] = value if number is None else number
        for key in ("steps", "batch_size", "grad_accum", "checkpoint_every"):
            if key in d:
                d[key] = _integer(d[key], f"{where}.{key}", minimum=1)
        if "seed" in d:
            d["seed"] = _integer(d["seed"], f"{where}.seed")
        for key, low, strict in (("lr", 0, True), ("weight_decay", 0, False), ("grad_clip", 0, True)):
            if key in d:
                d[key] = _number(d[key], f"{where}.{key}", low, strict)
        cfg = cls(**d)
        for key, known in (("estimator", ESTIMATORS), ("energy_gradient", ENERGY_GRADIENTS)):
            value = getattr(cfg, key)
            if value not in known:
                raise ConfigError(f"{where}.{key}: expected one of {', '.join(known)}, got {value!r}")
        cpu_autocast_dtype(cfg.precision, f"{where}.precision")  # validates the value
        w = cfg.energy_warmup
        if isinstance(w, bool) or not isinstance(w, int | float) or not 0 <= w <= 1:
            raise ConfigError(f"{where}.energy_warmup: expected a fraction of the steps in [0, 1], got {w!r}")
        return cfg

    def energy_scale(self, step: int) -> float:
        """The factor on the energy weights at optimiser step ``step`` (0-based) of the warm-up ramp."""
        if not self.energy_warmup:
            return 1.0
        return min(1.0, (step + 1) / (self.energy_warmup * self.steps))


def _integer(value: Any, key: str, minimum: int | None = None) -> int:
    """``value`` as an int (a whole float such as ``1e3`` too); else a ConfigError naming ``key``."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or (minimum is not None and value < minimum):
        wanted = "an integer" if minimum is None else f"an integer ≥ {minimum}"
        raise ConfigError(f"{key}: expected {wanted}, got {value!r}")
    return value


def _number(value: Any, key: str, low: float, strict: bool) -> float:
    """``value`` if it is a finite number above ``low`` (or at it unless ``strict``); else a ConfigError."""
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value < low or (strict and value == low):
        raise ConfigError(f"{key}: expected a number {'>' if strict else '≥'} {low}, got {value!r}")
    return value


@dataclass
class TrainResult:
    checkpoint: Path
    log: Path
    steps: int
    final_loss: float


def _loss_terms(
    generator: Generator,
    inn: INN,
    energy: EnergySum,
    eps: Tensor,
    cond: Tensor | None,
    ref_cond: Tensor | None,
    rng: torch.Generator,
    frozen: INN | None = None,
    score: bool = False,
    autocast: torch.dtype | None = None,
    energy_scale: float = 1.0,
) -> tuple[dict[str, Tensor], Tensor]:
    """The logged terms of Eq. 10 and the scalar to backpropagate (their sum, or a surrogate).

    With ``frozen`` (a copy of ``inn`` holding the same values, no gradient) the entropy term is
    log q(z) = log N(f⁻¹(z)) + log|det ∂f⁻¹/∂z| through the frozen inverse: the same value, but its
    gradient reaches θ only through z (STL). With ``score`` the energies are not differentiated: their
    gradient is the score-function one, E_q[(E − b) ∇_θ log q_θ(z)] at fixed z, with b the mean of the
    other samples' energies (leave-one-out), so G and the energy models run without autograd. With
    ``autocast`` G and the energy models run in that mixed precision; the energies are returned as float32.
    ``energy_scale`` multiplies every energy weight (the warm-up ramp of :class:`TrainConfig`).
    """
    z, logdet = inn(eps, cond)
    extra = z.new_zeros(())
    if frozen is None:
        terms = {"jac": -logdet.mean()}
    else:
        eps_back, logdet_back = frozen.inverse(z, cond)
        terms = {"jac": logdet_back.mean()}  # = −log|det ∂f/∂ε| in value
        extra = -prior_energy(eps_back).mean()  # = log N(ε) + const; gradient via z
    terms["prior"] = prior_energy(z).mean()
    if not len(energy.energies):
        return terms, sum(terms.values()) + extra
    with torch.set_grad_enabled(torch.is_grad_enabled() and not score):
        z_in = z.detach() if score else z
        z_ref = inn(eps, ref_cond)[0] if "x_ref" in energy.needs else None
        with autocast_context(autocast, z.device.type):
            x = generator(z_in)
            x_ref = generator(z_ref) if z_ref is not None else None
            for images in (x, x_ref):  # blame G, not the first energy that sees its NaN
                if images is not None and not torch.isfinite(images).all():
                    raise NonFiniteEnergyError("the generator's output G(z) holds NaN or infinite values")
            values = energy.terms(EnergyInput(x=x, z=z_in, cond=cond, x_ref=x_ref, generator=rng))
        values = {name: v.float() for name, v in values.items()}
    if score:
        eps_at_z, logdet_inv = inn.inverse(z.detach(), cond)
        log_q = logdet_inv - prior_energy(eps_at_z)  # log q_θ(z) + const, differentiable in θ only
    for name, v in values.items():
        weight = energy_scale * energy.weights[name]
        terms[name] = weight * v.mean()
        if score:
            n = v.shape[0]
            if v.shape != (n,):
                shape = tuple(v.shape)
                raise ValueError(f"energy {name!r}: the score gradient needs shape ({n},), got {shape}")
            baseline = (v.sum() - v) / (n - 1) if n > 1 else torch.zeros_like(v)
            extra = extra + weight * ((v - baseline).detach() * log_q).mean()
    return terms, sum(terms.values()) + extra


class _Log:
    """Appends rows to the loss CSV; on resume keeps only rows up to the checkpointed step."""

    def __init__(self, path: Path, columns: list[str], resume_step: int):
        self.path, self.columns = path, columns
        rows = []
        if resume_step and path.exists():
            with path.open() as f:
                rows = [r for r in csv.DictReader(f) if int(r["step"]) <= resume_step]
        self.file = path.open("w", newline="")
        self.writer = csv.DictWriter(self.file, fieldnames=columns)
        self.writer.writeheader()
        self.writer.writerows(rows)

    def write(self, row: dict[str, float]) -> None:
        self.writer.writerow({k: row.get(k, "") for k in self.columns})

    def flush(self) -> None:
        self.file.flush()

    def close(self) -> None:
        self.file.close()


def _save_state(
    path: Path, inn: INN, opt: torch.optim.Optimizer, rng: torch.Generator, step: int, meta: dict
) -> None:
    atomic_save(
        {
            "step": step,
            "inn": inn.state_dict(),
            "optimizer": opt.state_dict(),
            "rng": rng.get_state(),
            "metadata": meta,
        },
        path,
    )


def train(
    generator: Generator,
    inn: INN,
    energy: EnergySum,
    config: TrainConfig,
    out_dir: str | Path,
    *,
    condition: UniformCondition | DiscreteCondition | None = None,
    metadata: dict[str, Any] | None = None,
    device: torch.device | str = "cpu",
    resume: bool = True,
    progress: bool = True,
    stop_after: int | None = None,
) -> TrainResult:
    """Train ``inn`` so that G(f(ε)) follows p(z|C) ∝ N(z; 0, I) exp(−E_C(G(z))).

    Arguments:
        generator: frozen G.
        inn: the INN f_θ (its ``cond_dim`` must match ``condition``).
        energy: E_C as a named, weighted sum.
        config: optimisation settings.
        out_dir: where ``train_state.pt`` (resumable), ``inn.pt`` (final) and ``loss.csv`` go.
        condition: condition sampler for a conditional INN (with its reference ρ₀ for paired energies).
        metadata: stored in checkpoints (generator entry, control spec, config hash, ...).
        resume: continue from ``out_dir/train_state.pt`` if present.
        stop_after: stop (after checkpointing) once this step is reached — to simulate a kill in tests.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if (condition is None) != (inn.cond_dim == 0) or (
        condition is not None and condition.dim != inn.cond_dim
    ):
        raise ConfigError(f"condition: the INN has cond_dim={inn.cond_dim} but the condition does not match")
    if "x_ref" in energy.needs and getattr(condition, "reference", None) is None:
        raise ConfigError("condition: paired energies (identity) need a conditional INN with a reference")
    # the generator's weights are part of the run: a state file trained against other weights (a replaced
    # checkpoint at the same path) is never resumed
    meta = {**(metadata or {}), "train": asdict(config), "generator_state": state_fingerprint(generator)}
    inn = inn.to(device).train()
    generator = generator.to(device).eval().requires_grad_(False)
    energy = energy.to(device).eval()
    opt = torch.optim.AdamW(inn.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    rng = torch.Generator().manual_seed(config.seed)
    state_path, step = out / STATE_FILE, 0
    if resume and state_path.exists():
        state = torch.load(state_path, map_location=device, weights_only=False)
        if _run_identity(state.get("metadata", {})) == _run_identity(meta):
            inn.load_state_dict(state["inn"])
            opt.load_state_dict(state["optimizer"])
            rng.set_state(state["rng"])
            step = state["step"]
        else:  # another spec's state (a changed config re-run in the same place): never continue it
            logger.warning("train: %s belongs to a different run configuration; starting over", state_path)
    frozen = copy.deepcopy(inn).requires_grad_(False) if config.estimator == "stl" else None
    autocast = training_autocast_dtype(config.precision, torch.device(device), "train.precision")
    names = ["jac", "prior", *energy.energies.keys()]
    log = _Log(out / LOG_FILE, ["step", "loss", *names, "lr", "grad_norm", "seconds"], step)
    bar = tqdm(total=config.steps, initial=step, disable=not progress, desc="train INN", dynamic_ncols=True)
    loss_value = float("nan")
    try:
        while step < config.steps:
            t0 = time.perf_counter()
            lr = config.lr * (1 - step / config.steps)
            for group in opt.param_groups:
                group["lr"] = lr
            opt.zero_grad(set_to_none=True)
            if frozen is not None:
                frozen.load_state_dict(inn.state_dict())
            sums = dict.fromkeys(names, 0.0)
            for _ in range(config.grad_accum):
                eps = torch.randn(config.batch_size, inn.dim, generator=rng).to(device)
                cond = ref = None
                if condition is not None:
                    cond = condition.sample(config.batch_size, rng).to(device)
                    if "x_ref" in energy.needs:
                        ref = condition.reference_batch(config.batch_size).to(device)
                try:
                    terms, surrogate = _loss_terms(
                        generator,
                        inn,
                        energy,
                        eps,
                        cond,
                        ref,
                        rng,
                        frozen,
                        config.energy_gradient == "score",
                        autocast,
                        config.energy_scale(step),
                    )
                except NonFiniteEnergyError as err:
                    _fail(state_path, inn, opt, rng, step, meta, str(err), log)
                for name, value in terms.items():
                    if not torch.isfinite(value):
                        _fail(
                            state_path, inn, opt, rng, step, meta, f"loss term {name!r} = {value.item()}", log
                        )
                    sums[name] += value.item() / config.grad_accum
                (surrogate / config.grad_accum).backward()
            grad_norm = torch.nn.utils.clip_grad_norm_(inn.parameters(), config.grad_clip)
            if not torch.isfinite(grad_norm):
                _fail(state_path, inn, opt, rng, step, meta, f"gradient norm = {grad_norm.item()}", log)
            opt.step()
            step += 1
            loss_value = sum(sums.values())
            log.write(
                {
                    "step": step,
                    "loss": loss_value,
                    **sums,
                    "lr": lr,
                    "grad_norm": grad_norm.item(),
                    "seconds": time.perf_counter() - t0,
                }
            )
            bar.update(1)
            bar.set_postfix(loss=f"{loss_value:.4g}")
            if step % config.checkpoint_every == 0 or step == config.steps or step == stop_after:
                log.flush()
                _save_state(state_path, inn, opt, rng, step, meta)
            if stop_after is not None and step >= stop_after:
                break
    finally:
        bar.close()
        log.close()
    final = out / FINAL_FILE
    if step >= config.steps:
        save_inn(inn, final, {**meta, "steps": step})
    return TrainResult(checkpoint=final, log=out / LOG_FILE, steps=step, final_loss=loss_value)


def _run_identity(meta: dict[str, Any]) -> dict[str, Any]:
    """What must match for a state file to be resumed: the metadata without the code version."""
    return {k: v for k, v in meta.items() if k != "code_version"}


def _fail(path: Path, inn: INN, opt, rng, step: int, meta: dict, what: str, log: _Log) -> None:
    log.flush()
    _save_state(path, inn, opt, rng, step, meta)
    raise NonFiniteLossError(f"non-finite loss at step {step + 1}: {what}; last good state saved to {path}")
