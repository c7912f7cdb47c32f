"""Table 4: PromptGen vs PPGM Langevin on the *same* EBM with the CLIP energy.

For each text: samples from PromptGen (feed-forward G∘f), PPGM with n = 10 and n = 50 Langevin steps on
U(z) = ½‖z‖² + λ E_CLIP(G(z)), and the bare generator. All are scored by one CLIP energy with L_eval
augmentations and a fixed augmentation seed; time per sample is measured in this one process, on one
device, after a warm-up batch (PromptGen and the bare generator: the median of ``timing_repeats``
interleaved runs); backprops through CLIP at inference are counted (n for PPGM, 0 otherwise).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping
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
from promptgen.sample import iter_samples

__all__ = ["clip_train_spec", "run_table4", "score"]


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


def _timed(fn: Callable[[], torch.Tensor], device: torch.device) -> tuple[torch.Tensor, float]:
    _sync(device)
    t0 = time.perf_counter()
    out = fn()
    _sync(device)
    return out, time.perf_counter() - t0


@torch.no_grad()
def score(images: torch.Tensor, energy: CLIPEnergy, seed: int, batch_size: int) -> tuple[float, float]:
    """Mean CLIP energy and its standard error, with a fixed augmentation stream."""
    gen = torch.Generator().manual_seed(seed)
    values = torch.cat([energy(EnergyInput(x=x, generator=gen)) for x in images.split(batch_size)])
    return float(values.mean()), float(values.std() / values.numel() ** 0.5)


def run_table4(
    gen_name: str,
    gen_cfg: Mapping[str, Any],
    clip_entry: Mapping[str, Any],
    t4: Mapping[str, Any],
    inn_paths: Mapping[str, str],
    device: str = "auto",
) -> pd.DataFrame:
    """Rows (generator, method, text, clip_energy, seconds_per_sample, clip_backprops, L_eval, N)."""
    dev = resolve_device(device)
    base = build_generator(gen_cfg["generator"], psi=gen_cfg["psi_eval"], device=dev)
    clip = ModelCache(dev).get(clip_entry, "models.clip")
    n, bs, seed = int(t4["samples"]), int(t4["batch_size"]), int(t4["seed"])
    train_clip = {k: v for k, v in t4["clip"].items() if k != "weight"}
    rows = []

    def add(
        method: str, text: str, images: torch.Tensor, seconds: float, backprops: int, judge: CLIPEnergy
    ) -> None:
        e, se = score(images, judge, seed + 1, bs)
        row = {"generator": gen_name, "method": method, "text": text, "clip_energy": e, "clip_energy_se": se}
        row.update(seconds_per_sample=seconds / n, clip_backprops=backprops, L_eval=judge.n_aug, N=n)
        rows.append({**row, "device": dev.type, "source": "measured"})

    def feed_forward(gen, count: int = n, offset: int = 0) -> torch.Tensor:
        batches = iter_samples(gen, count, seed=seed + offset, batch_size=bs, device=dev)
        return torch.cat([im for _, _, im in batches])

    def warm_up(gen) -> None:  # one batch before any timing (allocations, lazy init)
        feed_forward(gen, min(bs, n), offset=99)

    def feed_forward_timings(gens: Mapping[str, Any]) -> dict[str, tuple[torch.Tensor, float]]:
        """Median seconds over ``timing_repeats`` runs, the samplers interleaved so that load on a shared
        machine hits them alike; every repeat draws the same seeded samples."""
        for gen in gens.values():
            warm_up(gen)
        images: dict[str, torch.Tensor] = {}
        seconds: dict[str, list[float]] = {name: [] for name in gens}
        for _ in range(int(t4["timing_repeats"])):
            for name, gen in gens.items():
                images[name], secs = _timed(lambda g=gen: feed_forward(g), dev)
                seconds[name].append(secs)
        return {name: (images[name], statistics.median(seconds[name])) for name in gens}

    for text, path in inn_paths.items():
        judge = CLIPEnergy(clip, text, n_aug=int(t4["eval_n_aug"]), policy=t4["clip"].get("policy", ""))
        pg = ComposedGenerator(base, load_inn(path, map_location=dev)[0])
        timed = feed_forward_timings({"PromptGen": pg, "generator": base})
        add("PromptGen", text, *timed["PromptGen"], 0, judge)
        energy = EnergySum({"text": (float(t4["clip"]["weight"]), CLIPEnergy(clip, text, **train_clip))})
        for steps in t4["ppgm_steps"]:
            kw = {"steps": steps, "step_size": float(t4["ppgm_step_size"]), "batch_size": bs, "device": dev}
            langevin(base, energy, min(bs, n), seed=seed + 99, **{**kw, "steps": 1})  # warm-up
            res, secs = _timed(lambda kw=kw, energy=energy: langevin(base, energy, n, seed=seed, **kw), dev)
            add(f"PPGM (n={steps})", text, res.images, secs, steps, judge)
        add("generator", text, *timed["generator"], 0, judge)
    return pd.DataFrame(rows)


def with_literature(measured: pd.DataFrame) -> pd.DataFrame:
    return pd.concat([measured, literature_rows("table4")], ignore_index=True)


__all__ += ["with_literature"]
