"""Alg. 2: fit the INN by minimising the reverse KL, E_ε[−log|det ∂f/∂ε| + ½‖z‖² + E_C(G(z))] (Eq. 10).

AdamW with linear decay to 0 (no warm-up), gradient clipping, gradient accumulation; an append-only CSV
log of every loss term, one row per step; progress lines (step / total, loss, ETA) on the module's logger;
a resumable checkpoint every K steps (INN, optimiser, RNG state, best dev state) written atomically, so a
run killed at any point resumes to exactly the parameters and logs of an uninterrupted run. Optionally, every
``dev_every`` steps the loss is evaluated on a fixed dev set (``dev.csv``) and the final INN is the best
state on it. The output folder is locked
while a run writes it. A non-finite loss raises one line naming the term, after saving the state as it was
before the failing step.
"""

from __future__ import annotations

import copy
import csv
import hashlib
import logging
import math
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from tqdm.auto import tqdm

from promptgen.checkpoint import (
    atomic_save,
    create_temporary,
    fsync_dir,
    remove_temporaries,
    save_inn,
    state_fingerprint,
)
from promptgen.conditions import DiscreteCondition, UniformCondition
from promptgen.device import autocast_context, cpu_autocast_dtype, training_autocast_dtype
from promptgen.energies.base import EnergyInput, EnergySum, NonFiniteEnergyError
from promptgen.energies.prior import prior_energy
from promptgen.flows import INN
from promptgen.generators.base import Generator
from promptgen.lock import lock_folder
from promptgen.registry import ConfigError
from promptgen.yaml_loader import number_from_string

__all__ = [
    "LossLogError",
    "NonFiniteLossError",
    "TrainConfig",
    "TrainResult",
    "TrainingInterrupted",
    "train",
]

logger = logging.getLogger(__name__)

STATE_FILE = "train_state.pt"
FINAL_FILE = "inn.pt"
LOG_FILE = "loss.csv"
DEV_FILE = "dev.csv"
DEV_METRICS = ("loss", "energy")
ESTIMATORS = ("reparam", "stl")
ENERGY_GRADIENTS = ("path", "score")
NUMBER_KEYS = ("steps", "batch_size", "grad_accum", "checkpoint_every", "seed", "lr", "weight_decay")
NUMBER_KEYS += ("grad_clip", "energy_warmup", "dev_every", "dev_samples")


class NonFiniteLossError(FloatingPointError):
    """The training loss became NaN or infinite; the message names the term and where the state was saved."""


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C (SIGINT) stopped training; the message says which step and which saved state is kept."""


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
        dev_every: steps between evaluations on the dev set (0: none, and the final INN is the last state).
            When on, the dev set is also evaluated at the last step, each evaluation appends a row to
            ``dev.csv``, and the final INN is the state with the lowest dev value (ties: the earliest), as
            the paper code's best-on-dev checkpoint.
        dev_samples: size of the dev set: ε (and, for a conditional INN, its conditions; for stochastic
            energies, their draws) from a generator seeded apart from the training stream, the same draws
            at every evaluation.
        dev_metric: what selects the best state: ``loss`` (Eq. 10 on the dev set: −log|det|, the prior
            and the weighted energies at their full weights, i.e. the reverse KL up to log Z) or ``energy``
            (the weighted energies alone, the paper code's selection by its control energy).
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
    dev_every: int = 0
    dev_samples: int = 64
    dev_metric: str = "loss"

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
        if "dev_samples" in d:
            d["dev_samples"] = _integer(d["dev_samples"], f"{where}.dev_samples", minimum=1)
        for key in ("seed", "dev_every"):
            if key in d:
                d[key] = _integer(d[key], f"{where}.{key}", minimum=0 if key == "dev_every" else None)
        for key, low, strict in (("lr", 0, True), ("weight_decay", 0, False), ("grad_clip", 0, True)):
            if key in d:
                d[key] = _number(d[key], f"{where}.{key}", low, strict)
        cfg = cls(**d)
        choices = (
            ("estimator", ESTIMATORS),
            ("energy_gradient", ENERGY_GRADIENTS),
            ("dev_metric", DEV_METRICS),
        )
        for key, known in choices:
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
    """What :func:`train` wrote: the final INN, the loss log, the steps done and the last step's loss; with
    a dev set also its log, the step of the state in ``checkpoint`` and its dev value."""

    checkpoint: Path
    log: Path
    steps: int
    final_loss: float
    dev_log: Path | None = None
    dev_step: int | None = None
    dev_value: float | None = None


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


class LossLogError(ValueError):
    """``loss.csv`` does not hold the rows of the training state being resumed; the message names it."""


class _Log:
    """A CSV log, append-only: one row per optimiser step (``loss.csv``) or per dev evaluation
    (``dev.csv``), in step order.

    A fresh run (``resume_step`` 0) writes the header to a new file that replaces any old one. A resumed
    run at step k keeps the header and the rows of steps 1..k (those ``logged(k)`` lists) and truncates the
    file right after them: rows of steps the run will redo, and a torn row a kill left at the end, go. If
    one of those rows is missing or unreadable (NUL bytes, a wrong step, a wrong number of fields) the state
    cannot be matched to its log, and resuming raises :class:`LossLogError` naming the file and the line,
    rather than repairing rows that are lost. Each row reaches the file in one write as soon as its step
    ends (``tail -f`` sees it, and a kill loses nothing already written); :meth:`sync` fsyncs it, and the
    trainer syncs before every state save, so the state on disk never runs ahead of the log on disk.
    """

    def __init__(
        self,
        path: Path,
        columns: list[str],
        resume_step: int,
        logged: Callable[[int], list[int]] = lambda k: list(range(1, k + 1)),
    ):
        self.path, self.columns = path, columns
        if resume_step:
            end = self._end_of_rows(logged(resume_step), resume_step)
            with path.open("r+b") as f:
                f.truncate(end)
                os.fsync(f.fileno())
        else:
            fd, tmp = create_temporary(path)
            with os.fdopen(fd, "w", newline="") as f:
                csv.writer(f, lineterminator="\n").writerow(columns)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
            fsync_dir(path.parent)
        self.file = path.open("a", newline="")
        self.writer = csv.DictWriter(self.file, fieldnames=columns, lineterminator="\n")

    def _end_of_rows(self, steps: list[int], state_step: int) -> int:
        """The byte offset right after the rows of ``steps``, checking the header and those rows."""
        if not self.path.is_file():
            self._corrupt(f"is missing, but the training state is at step {state_step}")
        data, offset = self.path.read_bytes(), 0
        for line_no, step in enumerate([0, *steps]):
            what = "the header" if line_no == 0 else f"the row of step {step}"
            end = data.find(b"\n", offset)
            if end < 0:
                self._corrupt(f"ends before {what} (the state is at step {state_step})")
            line, offset = data[offset:end], end + 1
            try:
                fields = next(csv.reader([line.rstrip(b"\r").decode("utf-8")]))
            except (UnicodeDecodeError, csv.Error, StopIteration):
                fields = []
            if b"\0" in line or not self._valid(fields, step):
                self._corrupt(f"line {line_no + 1} is not {what}: {line[:40]!r}")
        return offset

    def _valid(self, fields: list[str], step: int) -> bool:
        if step == 0:
            return fields == self.columns
        if len(fields) != len(self.columns) or fields[0] != str(step):
            return False
        try:
            [float(v) for v in fields[1:]]
        except ValueError:
            return False
        return True

    def _corrupt(self, what: str) -> None:
        state = self.path.with_name(STATE_FILE)
        raise LossLogError(f"{self.path} {what}; delete {state} to train this run again from step 0")

    def write(self, row: dict[str, float]) -> None:
        self.writer.writerow({k: row.get(k, "") for k in self.columns})
        self.file.flush()

    def sync(self) -> None:
        self.file.flush()
        os.fsync(self.file.fileno())

    def close(self) -> None:
        self.file.close()


class _Progress:
    """Progress lines for the job's log: step / total, loss, seconds a step and the time left.

    Create it just before the first step. The first step's line gives its duration, which includes any
    compilation and warm-up; the next comes ``first_every`` seconds later with the rate of the steps since
    and the time left, then one every ``every`` seconds and one at the last step.
    """

    def __init__(self, total: int, start: int, every: float = 30.0, first_every: float = 10.0):
        self.total, self.start, self.every, self.first_every = total, start, every, first_every
        self.t_start, self.t_first, self.next_at = time.monotonic(), 0.0, None

    def update(self, step: int, loss: float) -> None:
        now = time.monotonic()
        if self.next_at is None:  # the first step of this process
            self.t_first, self.next_at = now, now + self.first_every
            if step < self.total:
                seconds = _duration(now - self.t_start)
                logger.info("step %d/%d, loss %.5g, first step %s", step, self.total, loss, seconds)
                return
        elif step < self.total and now < self.next_at:
            return
        self.next_at = now + self.every
        after_first = step - self.start - 1
        rate = (now - self.t_first) / after_first if after_first > 0 else now - self.t_start
        eta = _duration(rate * (self.total - step))
        logger.info("step %d/%d, loss %.5g, %.3g s/step, ETA %s", step, self.total, loss, rate, eta)


def _duration(seconds: float) -> str:
    """``1 h 02 min``, ``3 min 05 s`` or ``12 s``."""
    s = round(seconds)
    if s >= 3600:
        return f"{s // 3600} h {s % 3600 // 60:02d} min"
    if s >= 60:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s} s"


@dataclass
class _Best:
    """The best state on the dev set so far: its step, dev value and INN parameters (none before the first
    evaluation)."""

    step: int = 0
    value: float = math.inf
    inn: dict[str, Tensor] | None = None

    def offer(self, step: int, value: float, inn: INN) -> None:
        """Keep ``inn``'s state if ``value`` is below the best so far (ties and NaN keep the earlier)."""
        if value < self.value:
            self.step, self.value = step, value
            self.inn = {k: v.detach().clone() for k, v in inn.state_dict().items()}


def _save_state(
    path: Path,
    inn: INN,
    opt: torch.optim.Optimizer,
    rng_state: Tensor,
    step: int,
    meta: dict,
    best: _Best | None = None,
) -> None:
    state = {
        "step": step,
        "inn": inn.state_dict(),
        "optimizer": opt.state_dict(),
        "rng": rng_state,
        "metadata": meta,
    }
    if best is not None:
        state["best"] = {"step": best.step, "value": best.value, "inn": best.inn}
    atomic_save(state, path)


def _dev_seed(seed: int) -> int:
    """The dev set's seed: fixed by the run's ``seed`` and apart from its training stream."""
    return int.from_bytes(hashlib.sha256(f"promptgen dev set {seed}".encode()).digest()[:8], "big") >> 1


def _dev_steps(config: TrainConfig) -> list[int]:
    """The steps after which the dev set is evaluated: every ``dev_every`` and the last."""
    if not config.dev_every:
        return []
    return sorted({*range(config.dev_every, config.steps + 1, config.dev_every), config.steps})


def _dev_terms(
    generator: Generator,
    inn: INN,
    energy: EnergySum,
    config: TrainConfig,
    condition: UniformCondition | DiscreteCondition | None,
    device: torch.device | str,
    autocast: torch.dtype | None,
) -> dict[str, float]:
    """Eq. 10's terms at their full weights, each the mean over the dev set, with ``loss`` their sum.

    The dev set is redrawn from its own seed each time (ε, conditions and the energies' random draws), so
    every evaluation of a run sees the same draws and the training stream is untouched.
    """
    rng = torch.Generator().manual_seed(_dev_seed(config.seed))
    n, sums = config.dev_samples, {}
    with torch.no_grad():
        for start in range(0, n, config.batch_size):
            m = min(config.batch_size, n - start)
            eps = torch.randn(m, inn.dim, generator=rng).to(device)
            cond = ref = None
            if condition is not None:
                cond = condition.sample(m, rng).to(device)
                if "x_ref" in energy.needs:
                    ref = condition.reference_batch(m).to(device)
            terms, _ = _loss_terms(generator, inn, energy, eps, cond, ref, rng, autocast=autocast)
            for name, value in terms.items():
                sums[name] = sums.get(name, 0.0) + value.item() * m / n
    return {"loss": sum(sums.values()), **sums}


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
        out_dir: where ``train_state.pt`` (resumable), ``inn.pt`` (final), ``loss.csv`` and, with a dev
            set (``config.dev_every``), ``dev.csv`` go.
        condition: condition sampler for a conditional INN (with its reference ρ₀ for paired energies).
        metadata: stored in checkpoints (generator entry, control spec, config hash, ...).
        resume: continue from ``out_dir/train_state.pt`` if present.
        progress: show a progress bar on stderr (the job's log gets progress lines either way).
        stop_after: stop (after checkpointing) once this step is reached — to simulate a kill in tests.

    Returns:
        The final checkpoint (with a dev set: the best state on it), the loss log, the steps done and the
        last step's loss; with a dev set also its log, the selected step and its dev value.

    Raises:
        FolderInUseError: another process is writing ``out_dir`` (:func:`promptgen.lock.lock_folder`).
        NonFiniteLossError: a loss term or the gradient became NaN or infinite; the state before that
            step is saved, so a resume replays it exactly.
        TrainingInterrupted: Ctrl-C; the last periodic state is kept.
        LossLogError: resuming, but ``loss.csv`` (or ``dev.csv``) lacks rows up to the state's step.
    """
    out = Path(out_dir)
    if (condition is None) != (inn.cond_dim == 0) or (
        condition is not None and condition.dim != inn.cond_dim
    ):
        raise ConfigError(f"condition: the INN has cond_dim={inn.cond_dim} but the condition does not match")
    if "x_ref" in energy.needs and getattr(condition, "reference", None) is None:
        raise ConfigError("condition: paired energies (identity) need a conditional INN with a reference")
    # the generator's weights are part of the run: a state file trained against other weights (a replaced
    # checkpoint at the same path) is never resumed
    train_keys = asdict(config)
    if not config.dev_every:  # a run without a dev set keeps the identity it had before these keys
        train_keys = {k: v for k, v in train_keys.items() if not k.startswith("dev_")}
    meta = {**(metadata or {}), "train": train_keys, "generator_state": state_fingerprint(generator)}
    with lock_folder(out):
        remove_temporaries(out, (STATE_FILE, FINAL_FILE, LOG_FILE, DEV_FILE))
        return _train_locked(
            generator, inn, energy, config, out, condition, meta, device, resume, progress, stop_after
        )


def _train_locked(
    generator: Generator,
    inn: INN,
    energy: EnergySum,
    config: TrainConfig,
    out: Path,
    condition: UniformCondition | DiscreteCondition | None,
    meta: dict[str, Any],
    device: torch.device | str,
    resume: bool,
    progress: bool,
    stop_after: int | None,
) -> TrainResult:
    """:func:`train`'s work, while this process holds the lock of ``out``."""
    inn = inn.to(device).train()
    generator = generator.to(device).eval().requires_grad_(False)
    energy = energy.to(device).eval()
    opt = torch.optim.AdamW(inn.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    rng = torch.Generator().manual_seed(config.seed)
    state_path = out / STATE_FILE
    best = _Best() if config.dev_every else None
    step = _resume(state_path, resume, meta, inn, opt, rng, device, best)
    saved = step  # the step of the state on disk
    logger.info(
        "training %d steps into %s, %s",
        config.steps,
        out,
        f"resuming at step {step}" if step else "from step 0",
    )
    frozen = copy.deepcopy(inn).requires_grad_(False) if config.estimator == "stl" else None
    autocast = training_autocast_dtype(config.precision, torch.device(device), "train.precision")
    names = ["jac", "prior", *energy.energies.keys()]
    log = _Log(out / LOG_FILE, ["step", "loss", *names, "lr", "grad_norm", "seconds"], step)
    dev_steps = _dev_steps(config)
    dev_log = None
    if best is not None:
        dev_columns = ["step", "loss", *names, f"metric_{config.dev_metric}", "best_step", "seconds"]
        dev_log = _Log(out / DEV_FILE, dev_columns, step, lambda k: [s for s in dev_steps if s <= k])
    logs = [log] if dev_log is None else [log, dev_log]
    bar = tqdm(total=config.steps, initial=step, disable=not progress, desc="train INN", dynamic_ncols=True)
    report = _Progress(config.steps, step)
    loss_value = float("nan")
    try:
        while step < config.steps:
            t0 = time.perf_counter()
            rng_before = rng.get_state()  # a failing step saves the state as it was before its draws
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
                    _fail(state_path, inn, opt, rng_before, step, meta, str(err), logs, best)
                for name, value in terms.items():
                    if not torch.isfinite(value):
                        what = f"loss term {name!r} = {value.item()}"
                        _fail(state_path, inn, opt, rng_before, step, meta, what, logs, best)
                    sums[name] += value.item() / config.grad_accum
                (surrogate / config.grad_accum).backward()
            grad_norm = torch.nn.utils.clip_grad_norm_(inn.parameters(), config.grad_clip)
            if not torch.isfinite(grad_norm):
                what = f"gradient norm = {grad_norm.item()}"
                _fail(state_path, inn, opt, rng_before, step, meta, what, logs, best)
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
            report.update(step, loss_value)
            if dev_log is not None and step in dev_steps:
                _evaluate_dev(
                    generator, inn, energy, config, condition, device, autocast, step, best, dev_log
                )
            if step % config.checkpoint_every == 0 or step == config.steps or step == stop_after:
                for f in logs:
                    f.sync()
                _save_state(state_path, inn, opt, rng.get_state(), step, meta, best)
                saved = step
            if stop_after is not None and step >= stop_after:
                break
    except KeyboardInterrupt:
        kept = f"the state of step {saved} is kept in {state_path}" if saved else "no state was saved yet"
        msg = f"interrupted during step {step + 1}/{config.steps}; {kept}; run again to resume"
        raise TrainingInterrupted(msg) from None  # the caller reports it, once
    finally:
        bar.close()
        for f in logs:
            f.close()
    final = out / FINAL_FILE
    result = TrainResult(checkpoint=final, log=out / LOG_FILE, steps=step, final_loss=loss_value)
    if step >= config.steps:
        final_meta = {**meta, "steps": step}
        if best is not None:
            result.dev_log, result.dev_step, result.dev_value = out / DEV_FILE, best.step, best.value
            if best.inn is None:
                logger.warning("train: no dev evaluation of %s was finite; %s is the last state", out, final)
                result.dev_step = step
            else:
                inn.load_state_dict(best.inn)
                logger.info(
                    "train: the best dev %s, %.5g, is step %d's", config.dev_metric, best.value, best.step
                )
            final_meta["dev"] = {"metric": config.dev_metric, "step": result.dev_step, "value": best.value}
        save_inn(inn, final, final_meta)
    return result


def _evaluate_dev(
    generator: Generator,
    inn: INN,
    energy: EnergySum,
    config: TrainConfig,
    condition: UniformCondition | DiscreteCondition | None,
    device: torch.device | str,
    autocast: torch.dtype | None,
    step: int,
    best: _Best,
    dev_log: _Log,
) -> None:
    """Evaluate the dev set after ``step``, offer the state to ``best`` and append the row to ``dev.csv``."""
    t0 = time.perf_counter()
    terms = _dev_terms(generator, inn, energy, config, condition, device, autocast)
    value = terms["loss"] if config.dev_metric == "loss" else terms["loss"] - terms["jac"] - terms["prior"]
    best.offer(step, value, inn)
    row = {**terms, f"metric_{config.dev_metric}": value, "best_step": best.step}
    dev_log.write({**row, "step": step, "seconds": time.perf_counter() - t0})
    logger.info(
        "step %d/%d, dev %s %.5g (best: step %d)", step, config.steps, config.dev_metric, value, best.step
    )


def _resume(
    state_path: Path,
    resume: bool,
    meta: dict[str, Any],
    inn: INN,
    opt: torch.optim.Optimizer,
    rng: torch.Generator,
    device: torch.device | str,
    best: _Best | None = None,
) -> int:
    """Load the state file into ``inn``, ``opt``, ``rng`` and ``best`` and return its step, or start over: 0.

    Starting over deletes the folder's old state and final INN (another run's, or one not to be resumed),
    so that no file in the folder belongs to another run once this one has begun.
    """
    if resume and state_path.exists():
        state = torch.load(state_path, map_location=device, weights_only=False)
        if _run_identity(state.get("metadata", {})) == _run_identity(meta):
            inn.load_state_dict(state["inn"])
            opt.load_state_dict(state["optimizer"])
            rng.set_state(state["rng"])
            if best is not None:
                kept = state["best"]
                best.step, best.value, best.inn = kept["step"], kept["value"], kept["inn"]
            return int(state["step"])
        # another spec's state (a changed config re-run in the same place): never continue it
        logger.warning("train: %s belongs to a different run configuration; starting over", state_path)
    state_path.unlink(missing_ok=True)
    state_path.with_name(FINAL_FILE).unlink(missing_ok=True)
    state_path.with_name(DEV_FILE).unlink(missing_ok=True)
    return 0


def _run_identity(meta: dict[str, Any]) -> dict[str, Any]:
    """What must match for a state file to be resumed: the metadata without the code version."""
    return {k: v for k, v in meta.items() if k != "code_version"}


def _fail(
    path: Path,
    inn: INN,
    opt: torch.optim.Optimizer,
    rng_state: Tensor,
    step: int,
    meta: dict,
    what: str,
    logs: list[_Log],
    best: _Best | None,
) -> None:
    """Save the state as it was before the failing step (RNG and best dev state included), then raise one
    line."""
    for log in logs:
        log.sync()
    _save_state(path, inn, opt, rng_state, step, meta, best)
    raise NonFiniteLossError(f"non-finite loss at step {step + 1}: {what}; last good state saved to {path}")
