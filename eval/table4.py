"""Table 4: PromptGen vs PPGM Langevin on the *same* EBM with the CLIP energy.

For each text the EBM is p(z) ∝ N(z; 0, I) exp(−λ E_CLIP(G_ψ(z))) with G at the INN's training ψ, the INN's
λ, L and policy. Its samplers: PromptGen (feed-forward G∘f), PPGM with n Langevin steps (each n in
``ppgm_steps``), and, for reference, the bare generator. PPGM runs at its best: its step size η is chosen per
(text, n) among ``ppgm_step_sizes`` by the CLIP energy of ``tune_samples`` chains drawn with ``tune_seed``, a
sample seed the table does not report; the reported chains use ``seed`` and the chosen η.

All samples are scored by one CLIP energy with L_eval augmentations and a fixed augmentation seed. Timing, in
this one process on one device, is the same for every sampler: after a warm-up, ``timing_repeats`` rounds in
which each sampler draws ``timing_samples`` samples in turn (interleaved, so machine load hits them alike);
the median round gives seconds per sample. PromptGen's training time is measured here too (the median of
``timing_repeats`` runs of ``timing_train_steps`` optimiser steps, times the configured steps), and each PPGM
row reports the break-even sample count: training seconds ÷ (PPGM − PromptGen seconds per sample), the number
of samples beyond which training the INN was cheaper than running PPGM.
"""

from __future__ import annotations

import copy
import statistics
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import pandas as pd
import torch

from eval.literature import literature_rows
from eval.specs import control_spec
from promptgen.baselines.langevin import langevin
from promptgen.checkpoint import load_inn
from promptgen.device import resolve_device
from promptgen.energies import EnergyInput, EnergySum, ModelCache
from promptgen.energies.clip import CLIPEnergy
from promptgen.generators import build_generator
from promptgen.generators.composed import ComposedGenerator
from promptgen.registry import ConfigError
from promptgen.sample import iter_samples
from promptgen.train import train

__all__ = [
    "break_even",
    "choose_step_size",
    "clip_train_spec",
    "median_seconds",
    "run_table4",
    "score",
    "with_literature",
]


def clip_train_spec(
    gen_cfg: Mapping[str, Any], clip_model: Mapping[str, Any], text: str, t4: Mapping[str, Any], device: str
) -> dict[str, Any]:
    """Control spec of a CLIP-energy INN for ``text`` (Table 4; Fig. 8 iteration 1)."""
    clip = dict(t4["clip"])
    weight = clip.pop("weight")
    energy = {"kind": "clip", "weight": weight, "model": clip_model, "text": text, **clip}
    return control_spec(gen_cfg, t4, {"text": energy}, device, t4["seed"])


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _seconds(fn: Callable[[], object], device: torch.device) -> float:
    _sync(device)
    t0 = time.perf_counter()
    fn()
    _sync(device)
    return time.perf_counter() - t0


def median_seconds(
    fns: Mapping[str, Callable[[], object]], repeats: int, device: torch.device
) -> dict[str, float]:
    """Median wall seconds of each callable over ``repeats`` rounds, interleaved within each round."""
    for fn in fns.values():  # warm-up: allocations, lazy initialisation
        fn()
    seconds: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            seconds[name].append(_seconds(fn, device))
    return {name: statistics.median(s) for name, s in seconds.items()}


@torch.no_grad()
def score(images: torch.Tensor, energy: CLIPEnergy, seed: int, batch_size: int) -> tuple[float, float]:
    """Mean CLIP energy and its standard error, with a fixed augmentation stream."""
    gen = torch.Generator().manual_seed(seed)
    values = torch.cat([energy(EnergyInput(x=x, generator=gen)) for x in images.split(batch_size)])
    return float(values.mean()), float(values.std() / values.numel() ** 0.5)


def choose_step_size(energies: Mapping[float, float]) -> float:
    """The η with the lowest tuning energy (the first such η on ties)."""
    return min(energies, key=lambda eta: (energies[eta], eta))


def break_even(train_seconds: float, ppgm_seconds: float, promptgen_seconds: float) -> float:
    """Samples beyond which training + PromptGen sampling is cheaper than PPGM (inf if PPGM is not slower)."""
    gap = ppgm_seconds - promptgen_seconds
    return train_seconds / gap if gap > 0 else float("inf")


def _check(t4: Mapping[str, Any]) -> None:
    if int(t4["tune_seed"]) == int(t4["seed"]):
        raise ConfigError(
            f"table4.tune_seed: must differ from table4.seed ({t4['seed']}), which the table reports"
        )
    if len(t4["ppgm_step_sizes"]) < 3:
        raise ConfigError(
            f"table4.ppgm_step_sizes: sweep at least 3 values of η, got {t4['ppgm_step_sizes']}"
        )


def _train_seconds(spec: Mapping[str, Any], repeats: int, steps: int, device: torch.device) -> float:
    """Configured steps × median seconds of one optimiser step (``steps`` steps per timed run); dev-set
    evaluations (``train.dev_every``) are not counted."""
    from promptgen.spec import build_run

    run = build_run(spec)
    cfg = replace(run.train, steps=steps, checkpoint_every=steps, energy_warmup=0.0, dev_every=0)

    def once() -> None:
        with tempfile.TemporaryDirectory() as out:
            inn = copy.deepcopy(run.inn)
            train(run.generator, inn, run.energy, cfg, out, device=device, progress=False, resume=False)

    per_step = median_seconds({"train": once}, repeats, device)["train"] / steps
    return per_step * run.train.steps


@dataclass
class _Setup:
    """What every text of one generator shares."""

    gen_name: str
    gen_cfg: Mapping[str, Any]
    clip_entry: Mapping[str, Any]
    t4: Mapping[str, Any]
    base: Any
    clip: Any
    dev: torch.device

    @property
    def bs(self) -> int:
        return int(self.t4["batch_size"])

    def feed_forward(self, gen, count: int, sample_seed: int) -> torch.Tensor:
        batches = iter_samples(gen, count, seed=sample_seed, batch_size=self.bs, device=self.dev)
        return torch.cat([im for _, _, im in batches])


def _tune(setup: _Setup, ppgm, judge: CLIPEnergy) -> tuple[dict[int, float], dict[int, str]]:
    """η per n: the lowest CLIP energy of tune_samples chains on tune_seed (never the reported seed)."""
    t4 = setup.t4
    seed, count = int(t4["tune_seed"]), int(t4["tune_samples"])
    chosen, tuning = {}, {}
    for steps in t4["ppgm_steps"]:
        tuned = {
            float(eta): score(ppgm(steps, float(eta), count, seed), judge, seed + 1, setup.bs)[0]
            for eta in t4["ppgm_step_sizes"]
        }
        chosen[steps] = choose_step_size(tuned)
        tuning[steps] = "; ".join(f"{eta:g}: {e:.4f}" for eta, e in tuned.items())
    return chosen, tuning


def _text_rows(setup: _Setup, text: str, inn_path: str) -> list[dict[str, Any]]:
    """Every row of one text: PromptGen, PPGM at each n (its best η), the bare generator."""
    t4, dev, bs = setup.t4, setup.dev, setup.bs
    n, seed, t_n = int(t4["samples"]), int(t4["seed"]), int(t4["timing_samples"])
    policy = t4["clip"].get("policy", "")
    judge = CLIPEnergy(setup.clip, text, n_aug=int(t4["eval_n_aug"]), policy=policy)
    train_clip = {k: v for k, v in t4["clip"].items() if k != "weight"}
    energy = EnergySum({"text": (float(t4["clip"]["weight"]), CLIPEnergy(setup.clip, text, **train_clip))})
    pg = ComposedGenerator(setup.base, load_inn(inn_path, map_location=dev)[0])

    def ppgm(steps: int, eta: float, count: int, sample_seed: int) -> torch.Tensor:
        kw = {"steps": steps, "step_size": eta, "seed": sample_seed, "batch_size": bs, "device": dev}
        return langevin(setup.base, energy, count, **kw).images

    chosen, tuning = _tune(setup, ppgm, judge)
    samplers = {
        "PromptGen": lambda: setup.feed_forward(pg, t_n, seed),
        "generator": lambda: setup.feed_forward(setup.base, t_n, seed),
    }
    for steps in t4["ppgm_steps"]:
        samplers[f"PPGM (n={steps})"] = lambda s=steps: ppgm(s, chosen[s], t_n, seed)
    per_sample = {k: v / t_n for k, v in median_seconds(samplers, int(t4["timing_repeats"]), dev).items()}
    spec = clip_train_spec(setup.gen_cfg, setup.clip_entry, text, t4, str(dev))
    train_s = _train_seconds(spec, int(t4["timing_repeats"]), int(t4["timing_train_steps"]), dev)

    def row(method: str, images: torch.Tensor, backprops: int, **extra: Any) -> dict[str, Any]:
        e, se = score(images, judge, seed + 1, bs)
        out = {"generator": setup.gen_name, "method": method, "text": text, "clip_energy": e}
        out.update(clip_energy_se=se, seconds_per_sample=per_sample[method], clip_backprops=backprops)
        out.update(L_eval=judge.n_aug, N=n, psi=setup.gen_cfg["psi_train"], **extra)
        return {**out, "device": dev.type, "source": "measured"}

    rows = [row("PromptGen", setup.feed_forward(pg, n, seed), 0, train_seconds=train_s)]
    for steps in t4["ppgm_steps"]:
        method = f"PPGM (n={steps})"
        even = break_even(train_s, per_sample[method], per_sample["PromptGen"])
        extra = {"ppgm_step_size": chosen[steps], "ppgm_tuning": tuning[steps], "break_even_samples": even}
        rows.append(row(method, ppgm(steps, chosen[steps], n, seed), steps, **extra))
    rows.append(row("generator", setup.feed_forward(setup.base, n, seed), 0))
    return rows


def run_table4(
    gen_name: str,
    gen_cfg: Mapping[str, Any],
    clip_entry: Mapping[str, Any],
    t4: Mapping[str, Any],
    inn_paths: Mapping[str, str],
    device: str = "auto",
) -> pd.DataFrame:
    """Rows (generator, method, text, clip_energy, seconds_per_sample, clip_backprops, psi, PPGM's η and
    tuning energies, PromptGen's training seconds, PPGM's break-even sample count, …) for every text.

    Every sampler draws from G at the INN's training ψ (``psi_train``): the EBM PromptGen was trained on.
    """
    _check(t4)
    dev = resolve_device(device)
    base = build_generator(gen_cfg["generator"], psi=gen_cfg["psi_train"], device=dev)
    clip = ModelCache(dev).get(clip_entry, "models.clip")
    setup = _Setup(gen_name, gen_cfg, clip_entry, t4, base, clip, dev)
    return pd.DataFrame([r for text, path in inn_paths.items() for r in _text_rows(setup, text, path)])


def with_literature(measured: pd.DataFrame) -> pd.DataFrame:
    return pd.concat([measured, literature_rows("table4")], ignore_index=True)
