"""The main knob of each style-space / W method (FairStyle, FairGen, StyleFlow), swept on Table 2's tuning
seeds with Table 2's own steps (judged pool, training stage, columns task), scored by the control classifier.

    python -m eval.style_tuning --seeds 0 1 --out results/table2_style_tuning.csv

Each variant is a method entry (e.g. ``{kind: fairstyle, channels: 4}``); the output has one row per
(variant, seed, judge) with every column's KL, and ``results/table2_style_tuning.csv`` the mean over seeds of
the control classifier's largest column KL per variant (the setting to adopt: the smallest). Reported seeds
are refused.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import click
import pandas as pd
import torch
import yaml

__all__ = ["DEFAULT_VARIANTS", "load_config", "summarise", "sweep"]

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_VARIANTS: dict[str, dict[str, Any]] = {
    "fairstyle_c1": {"kind": "fairstyle", "channels": 1},
    "fairstyle_c4": {"kind": "fairstyle", "channels": 4},
    "fairstyle_c16": {"kind": "fairstyle", "channels": 16},
    "fairstyle_c32": {"kind": "fairstyle", "channels": 32},
    "fairstyle_c64": {"kind": "fairstyle", "channels": 64},
    "fairstyle_c128": {"kind": "fairstyle", "channels": 128},
    "fairgen_k1": {"kind": "fairgen", "components": 1},
    "fairgen_k4": {"kind": "fairgen", "components": 4},
    "fairgen_k8": {"kind": "fairgen", "components": 8},
    "styleflow_s500": {"kind": "styleflow", "steps": 500},
    "styleflow_s2000": {"kind": "styleflow", "steps": 2000},
    "styleflow_s8000": {"kind": "styleflow", "steps": 8000},
    "styleflow_s16000": {"kind": "styleflow", "steps": 16000},
}


def load_config(path: str | Path) -> dict[str, Any]:
    """The pipeline config with the schema's defaults filled in (as Snakemake sees it)."""
    import snakemake.utils

    cfg = yaml.safe_load(Path(path).read_text())
    snakemake.utils.validate(cfg, str(ROOT / "workflow/schemas/config.schema.yaml"))
    return cfg


def sweep(
    cfg: Mapping[str, Any],
    gen_name: str,
    variants: Mapping[str, Mapping[str, Any]],
    seeds: Sequence[int],
    work: Path,
    overrides: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """Rows of every variant on every tuning seed (Table 2's columns task), all judges.

    Arguments:
        cfg: the validated pipeline config.
        gen_name: the generator entry (e.g. ``stylegan2``).
        variants: name -> method entry.
        seeds: tuning seeds (must not meet ``table2.seeds``).
        work: folder for pools and training states.
        overrides: ``table2`` keys to override (e.g. a smaller ``pool`` or ``samples_per_class``).

    Raises:
        ValueError: a seed is one of the reported ``table2.seeds``.
    """
    from eval.specs import generator_section
    from eval.table2 import evaluate_method, fit_method, judge_pool
    from promptgen.methods import build_method

    reported = set(cfg["table2"]["seeds"]) & set(seeds)
    if reported:
        raise ValueError(f"seeds {sorted(reported)} are reported seeds (table2.seeds); tune on tuning_seeds")
    gen_cfg = cfg["generators"][gen_name]
    t2 = generator_section(cfg["table2"], gen_name, "table2") | dict(overrides or {})
    t2["methods"] = {**t2["methods"], **variants}
    frames = []
    work.mkdir(parents=True, exist_ok=True)
    for seed in seeds:
        pool = judge_pool(gen_name, gen_cfg, t2, cfg["models"], work / f"pool{seed}.pt", seed=seed)
        for name, entry in variants.items():
            state = work / f"seed{seed}" / name
            if build_method(entry, f"variants.{name}").trains:
                fit_method(gen_name, gen_cfg, t2, cfg["models"], name, state, pool_path=pool, seed=seed)
            state.mkdir(parents=True, exist_ok=True)
            rows, _ = evaluate_method(
                gen_name, gen_cfg, t2, cfg["models"], name, pool_path=pool, state_dir=state, seed=seed
            )
            frames.append(rows.assign(variant=name, **{k: v for k, v in entry.items() if k != "kind"}))
    return pd.concat(frames, ignore_index=True)


def summarise(rows: pd.DataFrame, judge: str = "control_classifier") -> pd.DataFrame:
    """Per variant: the mean over seeds of ``judge``'s largest column KL (NaN where a seed failed), and of
    each column's KL."""
    kl = [c for c in rows.columns if c.startswith("kl_")]
    mine = rows[rows["judge"] == judge].copy()
    mine["kl_max"] = mine[kl].max(axis=1).where(mine["status"] == "ok")  # a failed variant has no score
    return mine.groupby("variant", sort=False)[["kl_max", *kl]].mean().reset_index()


@click.command()
@click.option(
    "--config",
    "config_path",
    type=click.Path(exists=True, path_type=Path),
    default=ROOT / "config/config.yaml",
)
@click.option("--generator", "gen_name", default="stylegan2", show_default=True)
@click.option("--seeds", type=int, multiple=True, default=(0, 1), show_default=True)
@click.option("--pool", type=int, default=None, help="Override table2.pool.")
@click.option("--per-class", type=int, default=None, help="Override table2.samples_per_class.")
@click.option("--work", type=click.Path(path_type=Path), default=Path("results/table2_style_tuning"))
@click.option("--out", type=click.Path(path_type=Path), default=Path("results/table2_style_tuning.csv"))
@click.option(
    "--variant",
    "names",
    multiple=True,
    type=click.Choice(list(DEFAULT_VARIANTS)),
    help="Run only these variants (default: all); WORK/rows.csv keeps the other variants' rows.",
)
@click.option("--threads", type=int, default=1, show_default=True)
def main(config_path, gen_name, seeds, pool, per_class, work, out, names, threads) -> None:
    """Sweep the style methods' main knobs on tuning seeds; write the rows and the summary."""
    torch.set_num_threads(threads)
    cfg = load_config(config_path)
    overrides = {k: v for k, v in {"pool": pool, "samples_per_class": per_class}.items() if v is not None}
    work.mkdir(parents=True, exist_ok=True)
    variants = {n: DEFAULT_VARIANTS[n] for n in names} if names else DEFAULT_VARIANTS
    rows = sweep(cfg, gen_name, variants, seeds, work, overrides)
    if (work / "rows.csv").is_file():
        earlier = pd.read_csv(work / "rows.csv")
        rows = pd.concat([earlier[~earlier["variant"].isin(list(variants))], rows], ignore_index=True)
    rows.to_csv(work / "rows.csv", index=False)
    summary = summarise(rows)
    summary.to_csv(out, index=False)
    click.echo(summary.to_string(index=False))


if __name__ == "__main__":
    main()
