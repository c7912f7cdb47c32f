"""Table 2 as pipeline steps: train the conditional INN, evaluate the baselines and PromptGen, aggregate.

Each function takes plain config dictionaries (the validated pipeline config) so the Snakemake scripts stay
thin; each is usable on its own from Python.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from eval.debias import (
    TABLE2_COLUMNS,
    direction_latents,
    judge_log_probs,
    kl_columns,
    labels_from_log_probs,
    promptgen_latents,
    resample_indices,
)
from eval.literature import literature_rows
from eval.metric_kl import kl_noise_floor
from eval.specs import control_spec
from promptgen.checkpoint import load_inn
from promptgen.conditions import DiscreteCondition
from promptgen.device import resolve_device
from promptgen.energies import ModelCache
from promptgen.generators import build_generator
from promptgen.registry import import_oracle
from promptgen.sample import per_sample_normal

__all__ = [
    "BASELINES",
    "METHODS",
    "aggregate_table2",
    "evaluate_baselines",
    "evaluate_promptgen",
    "train_spec",
]

BASELINES = ("unmodified", "direction", "resample")
METHODS = (*BASELINES, "promptgen")
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


class _Setup:
    """The generator, the control classifier and the judges of one Table-2 evaluation."""

    def __init__(self, gen_name: str, gen_cfg: Mapping[str, Any], t2: Mapping[str, Any], models, device: str):
        dev = resolve_device(device)
        self.gen_name, self.gen_cfg, self.t2 = gen_name, gen_cfg, t2
        self.generator = build_generator(gen_cfg["generator"], psi=gen_cfg["psi_eval"], device=dev)
        cache = ModelCache(dev)
        self.control_role = t2["control_model"]
        self.control = cache.get(models[self.control_role], f"models.{self.control_role}")
        self.judges = {}
        for role in t2["judges"]:
            if role not in models:
                raise KeyError(f"table2.judges: no model {role!r} under models")
            self.judges[role] = cache.get(models[role], f"models.{role}")
        self.attrs = list(t2["attributes"])
        self.combos = DiscreteCondition.binary(len(self.attrs)).values
        self.per = int(t2["samples_per_combo"])
        self.n = len(self.combos) * self.per

    def judge(self, z: Tensor, with_control: bool = False) -> tuple[dict, dict[str, Tensor] | None]:
        """Labels of G(z) per judge (and the oracle); with ``with_control``, the control log-probabilities too
        (from the same renders)."""
        judges = dict(self.judges)
        if with_control and self.control_role not in judges:
            judges["_control"] = self.control
        logps = judge_log_probs(self.generator, z, judges, self.attrs, self.t2["batch_size"])
        control = logps.get(self.control_role, logps.get("_control")) if with_control else None
        judged = {j: labels_from_log_probs(lp) for j, lp in logps.items() if j != "_control"}
        if self.gen_cfg.get("oracle"):
            truth = import_oracle(self.gen_cfg, self.gen_name)(z.cpu(), self.gen_cfg["psi_eval"])
            judged["oracle"] = {a: truth[a].long().numpy() for a in self.attrs}
        return judged, control

    def rows(self, method: str, seed: int, judged: Mapping[str, Mapping[str, np.ndarray]]) -> pd.DataFrame:
        rows = []
        for judge, labels in judged.items():
            n = len(next(iter(labels.values())))
            row = {"generator": self.gen_name, "method": method, "seed": seed, "judge": judge, "N": n}
            row.update({f"kl_{c}": v for c, v in kl_columns(labels).items()})
            rows.append(row)
        return pd.DataFrame(rows)


def _take(judged: Mapping[str, Mapping[str, np.ndarray]], index: np.ndarray | slice) -> dict:
    return {j: {a: v[index] for a, v in labels.items()} for j, labels in judged.items()}


@torch.no_grad()
def evaluate_baselines(
    gen_name: str,
    gen_cfg: Mapping[str, Any],
    t2: Mapping[str, Any],
    models: Mapping[str, Any],
    *,
    device: str = "auto",
    seed: int = 0,
) -> dict[str, pd.DataFrame]:
    """KL rows of the three baselines of one (generator, seed), from one judged pool of prior samples.

    The pool is z_i seeded by (seed, i), i < max(resample.pool, N + direction.fit_samples); each image is
    rendered once and judged by every judge (and the oracle), and the control classifier's log-probabilities
    are kept:

    * ``unmodified``: pool rows [0, N);
    * ``resample``: N draws from pool rows [0, resample.pool) weighted by the control classifier
      (:func:`eval.debias.resample_indices`); a drawn latent renders the image it was judged on, so its labels
      are the pool's;
    * ``direction``: one boundary per attribute fit on the control labels of pool rows [N, N + fit), disjoint
      from the unmodified samples; the moved latents are rendered and judged.
    """
    setup = _Setup(gen_name, gen_cfg, t2, models, device)
    fit, pool = int(t2["direction"]["fit_samples"]), int(t2["resample"]["pool"])
    z = per_sample_normal(seed, range(max(pool, setup.n + fit)), setup.generator.latent_dim)
    judged, control = setup.judge(z, with_control=True)
    out = {"unmodified": setup.rows("unmodified", seed, _take(judged, slice(0, setup.n)))}
    weight = float(t2["weight"])
    picked = resample_indices(
        {a: lp[:pool] for a, lp in control.items()},
        setup.attrs,
        setup.combos,
        setup.per,
        weight=weight,
        seed=seed,
    ).numpy()
    out["resample"] = setup.rows("resample", seed, _take(judged, picked))
    fit_rows = slice(setup.n, setup.n + fit)
    fit_labels = labels_from_log_probs({a: lp[fit_rows] for a, lp in control.items()})
    z_dir = direction_latents(z[fit_rows], fit_labels, setup.attrs, setup.combos, setup.per, seed)
    out["direction"] = setup.rows("direction", seed, setup.judge(z_dir)[0])
    return {m: out[m] for m in BASELINES}


@torch.no_grad()
def evaluate_promptgen(
    gen_name: str,
    gen_cfg: Mapping[str, Any],
    t2: Mapping[str, Any],
    models: Mapping[str, Any],
    inn_path: str,
    *,
    device: str = "auto",
    seed: int = 0,
) -> pd.DataFrame:
    """KL rows of PromptGen on one (generator, seed): ``samples_per_combo`` samples of the conditional INN
    for every combination, judged by every judge (and the oracle)."""
    setup = _Setup(gen_name, gen_cfg, t2, models, device)
    inn, _ = load_inn(inn_path)
    z = promptgen_latents(inn, setup.combos, setup.per, seed)
    return setup.rows("promptgen", seed, setup.judge(z)[0])


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
