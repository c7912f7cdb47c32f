"""Fig. 8: iterative control. Iteration 1: a text control through CLIP ("a photo of a person without
makeup") reveals CLIP's reporting bias as a gender skew; iteration 2: a gender moment constraint on the
composed generator G∘f₁ removes it (Alg. 1).

Iteration 2 is trained twice: at the configured λ (the paper's hand-set rescale of β̂), and at a λ
calibrated so that the trained INN itself meets the moment constraint (:func:`calibrated_debias`).
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from eval.table4 import clip_train_spec
from eval.table5 import generator_with_inn, moment_train_spec
from promptgen.device import resolve_device
from promptgen.energies import ModelCache
from promptgen.energies.classifier import ClassProbabilities
from promptgen.moment import calibrate_weight, load_moment_fit
from promptgen.sample import per_sample_normal
from promptgen.spec import train_from_spec

__all__ = ["calibrated_debias", "composed_entry", "debias_section", "inn_moment", "text_train_spec"]

log = logging.getLogger(__name__)


def composed_entry(gen_cfg: Mapping[str, Any], checkpoint: str) -> dict[str, Any]:
    """The generator config of G∘f: kind ``promptgen`` on an INN checkpoint, truncations kept."""
    return {**dict(gen_cfg), "generator": {"kind": "promptgen", "checkpoint": checkpoint}}


def text_train_spec(
    gen_cfg: Mapping[str, Any], clip_model: Mapping[str, Any], f8: Mapping[str, Any], device: str
) -> dict[str, Any]:
    """Control spec of iteration 1: the CLIP energy for ``f8['text']`` (same builder as Table 4)."""
    return clip_train_spec(gen_cfg, clip_model, f8["text"], f8, device)


def debias_section(f8: Mapping[str, Any]) -> dict[str, Any]:
    """The figure8 section with iteration 2's own train settings (``debias_train``) in place of ``train``."""
    return {**dict(f8), "train": f8["debias_train"]}


@torch.no_grad()
def inn_moment(
    gen_cfg: Mapping[str, Any],
    model: Mapping[str, Any],
    head: str,
    inn_path: str | Path,
    *,
    n: int,
    seed: int,
    device: str,
    batch_size: int = 256,
) -> list[float]:
    """E_q[γ(x)]: mean class probabilities of ``head`` over ``n`` samples of G∘f (f from ``inn_path``)."""
    dev = resolve_device(device)
    gen = generator_with_inn(gen_cfg, gen_cfg["psi_train"], str(inn_path), dev)
    gamma = ClassProbabilities(ModelCache(dev).get(model, "models"), head)
    eps = per_sample_normal(seed, range(n), gen.latent_dim).to(dev)
    total = sum(gamma(gen(chunk)).sum(0) for chunk in eps.split(batch_size))
    return (total / n).cpu().tolist()


def calibrated_debias(
    gen_cfg: Mapping[str, Any],
    model: Mapping[str, Any],
    beta_path: str,
    f8: Mapping[str, Any],
    device: str,
    out_dir: str | Path,
) -> dict[str, Any]:
    """Train iteration 2 at the λ whose INN meets the moment constraint; ``out_dir/inn.pt`` is that INN.

    ``gen_cfg`` is G∘f₁ (:func:`composed_entry`). Each trial trains an INN at λ (under
    ``out_dir/trials``) and measures β̂ᵀ(E_q[γ] − μ) on ``calibrate.samples`` samples disjoint from the
    evaluation's (see :func:`promptgen.moment.calibrate_weight`). Writes ``out_dir/calibration.json``.
    """
    out = Path(out_dir)
    fit = load_moment_fit(beta_path)
    beta, mu = torch.tensor(fit.beta_hat), torch.tensor(fit.mu)
    cal, section, head = f8["calibrate"], debias_section(f8), f8["gender_head"]
    trials: dict[float, dict[str, Any]] = {}

    def gap_at(lam: float) -> float:
        run_dir = out / "trials" / f"lambda_{lam:.4f}"
        spec = moment_train_spec(gen_cfg, model, head, beta_path, lam, section, device, f8["seed"])
        checkpoint = train_from_spec(spec, run_dir).checkpoint
        moment = inn_moment(
            gen_cfg,
            model,
            head,
            checkpoint,
            n=cal["samples"],
            seed=f8["seed"] + 1_000_003,  # disjoint from the shares' samples
            device=device,
            batch_size=f8["batch_size"],
        )
        gap = float(beta @ (torch.tensor(moment) - mu))
        trials[lam] = {"lambda": lam, "moment": moment, "gap": gap, "checkpoint": str(checkpoint)}
        log.info("λ = %.4f: E_q[γ] = %s, gap %.4f", lam, moment, gap)
        return gap

    result = calibrate_weight(
        gap_at, start=cal["start"], rounds=cal["rounds"], tol=cal["tol"], bounds=tuple(cal["bounds"])
    )
    chosen = trials[result.weight]
    shutil.copyfile(chosen["checkpoint"], out / "inn.pt")
    summary = {"lambda": result.weight, "gap": result.gap, "mu": fit.mu, "trials": list(trials.values())}
    (out / "calibration.json").write_text(json.dumps(summary, indent=2))
    return summary
