"""Table 2 as pipeline steps: train the conditional INN, evaluate one method, aggregate over seeds.

Each function takes plain config dictionaries (the validated pipeline config) so the Snakemake scripts stay
thin; each is usable on its own from Python.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd
import torch

from eval.debias import (
    TABLE2_COLUMNS,
    binary_labels,
    direction_latents,
    judge_labels,
    kl_columns,
    promptgen_latents,
    resample_latents,
    unmodified_latents,
)
from eval.literature import literature_rows
from eval.metric_kl import kl_noise_floor
from eval.specs import control_spec
from promptgen.checkpoint import load_inn
from promptgen.conditions import DiscreteCondition
from promptgen.device import resolve_device
from promptgen.energies import ModelCache
from promptgen.generators import build_generator
from promptgen.registry import import_object
from promptgen.sample import per_sample_normal

__all__ = ["METHODS", "aggregate_table2", "evaluate_method", "train_spec"]

METHODS = ("unmodified", "direction", "resample", "promptgen")
KL_COLUMNS = [f"kl_{c}" for c in TABLE2_COLUMNS]


def train_spec(
    gen_cfg: Mapping[str, Any], t2: Mapping[str, Any], models: Mapping[str, Any], device: str, seed: int
):
    """The control spec of one conditional classifier INN (see :mod:`promptgen.spec`)."""
    energy = {
        "kind": "conditional-classifier",
        "weight": t2["weight"],
        "model": models[t2["control_model"]],
        "heads": list(t2["attributes"]),
    }
    condition = {"kind": "binary", "k": len(t2["attributes"])}
    return control_spec(gen_cfg, t2, {"classifier": energy}, device, seed, condition)


def _latents(method: str, generator, control, t2: Mapping[str, Any], seed: int, inn_path: str | None):
    attrs = list(t2["attributes"])
    combos = DiscreteCondition.binary(len(attrs)).values
    per = int(t2["samples_per_combo"])
    n = len(combos) * per
    if method == "unmodified":
        return unmodified_latents(generator.latent_dim, n, seed)
    if method == "promptgen":
        inn, _ = load_inn(inn_path)
        return promptgen_latents(inn, combos, per, seed)
    if method == "direction":
        fit = int(t2["direction"]["fit_samples"])
        z_fit = per_sample_normal(seed, range(n, n + fit), generator.latent_dim)  # disjoint from the samples
        labels = binary_labels(generator, z_fit, control, attrs, t2["batch_size"])
        return direction_latents(z_fit, labels, attrs, combos, per, seed)
    if method == "resample":
        weight, pool = float(t2["weight"]), int(t2["resample"]["pool"])
        return resample_latents(
            generator,
            control,
            attrs,
            combos,
            per,
            weight=weight,
            pool=pool,
            seed=seed,
            batch_size=t2["batch_size"],
        )
    raise ValueError(f"table2: unknown method {method!r} (one of {', '.join(METHODS)})")


@torch.no_grad()
def evaluate_method(
    method: str,
    gen_name: str,
    gen_cfg: Mapping[str, Any],
    t2: Mapping[str, Any],
    models: Mapping[str, Any],
    *,
    device: str = "auto",
    seed: int = 0,
    inn_path: str | None = None,
) -> pd.DataFrame:
    """KL columns of one (generator, method, seed), one row per judge (classifiers, then the oracle)."""
    dev = resolve_device(device)
    generator = build_generator(gen_cfg["generator"], psi=gen_cfg["psi_eval"], device=dev)
    cache = ModelCache(dev)
    control = cache.get(models[t2["control_model"]], f"models.{t2['control_model']}")
    z = _latents(method, generator, control, t2, seed, inn_path).to(dev)
    attrs = list(t2["attributes"])
    judges = {}
    for role in t2["judges"]:
        if role not in models:
            raise KeyError(f"table2.judges: no model {role!r} under models")
        judges[role] = cache.get(models[role], f"models.{role}")
    # each image is rendered once for every judge
    judged: dict[str, Mapping[str, np.ndarray]] = judge_labels(generator, z, judges, attrs, t2["batch_size"])
    if gen_cfg.get("oracle"):
        truth = import_object(gen_cfg["oracle"], key=f"generators.{gen_name}.oracle")(
            z.cpu(), gen_cfg["psi_eval"]
        )
        judged["oracle"] = {a: truth[a].long().numpy() for a in attrs}
    rows = []
    for judge, labels in judged.items():
        row = {"generator": gen_name, "method": method, "seed": seed, "judge": judge, "N": int(z.shape[0])}
        row.update({f"kl_{c}": v for c, v in kl_columns(labels).items()})
        rows.append(row)
    return pd.DataFrame(rows)


def aggregate_table2(frames: Iterable[pd.DataFrame], literature: bool = True) -> pd.DataFrame:
    """Mean and std over seeds per (generator, method, judge), the KL noise floor, then literature rows."""
    df = pd.concat(list(frames), ignore_index=True)
    keys = ["generator", "method", "judge"]
    grouped = df.groupby(keys, sort=False)
    out = grouped[KL_COLUMNS].mean()
    std = grouped[KL_COLUMNS].std(ddof=1).add_suffix("_std")  # NaN with a single seed
    meta = grouped.agg(N=("N", "first"), seeds=("seed", "nunique"))
    table = pd.concat([meta, out, std], axis=1).reset_index()
    table["noise_floor_pairs"] = [kl_noise_floor(4, int(n)) for n in table["N"]]
    table["source"] = "measured"
    if literature:
        lit = literature_rows("table2").assign(judge="CelebA classifiers (paper)")
        table = pd.concat([table, lit], ignore_index=True)
    return table.astype({"N": "Int64", "seeds": "Int64"})
