"""One tuning trial of Table 2's PromptGen: train a generator's INN with overrides of ``table2`` keys on a
tuning seed, then judge its columns, as the pipeline's table2_fit and table2_method jobs do.

Usage::

    python benchmarks/table2_trial.py render 3 /tmp/trial '{"weight": 40, "train": {"energy_warmup": 0.4}}'

Appends one row per judge to ``benchmarks/results/table2_tuning_trials.csv`` (settings, every column's KL,
the lowest column accuracy, the training's CPU seconds, the machine). Reported seeds are refused.
"""

from __future__ import annotations

import json
import resource
import sys
from pathlib import Path

import click
import torch
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import append_row, machine_columns  # noqa: E402  (the benchmarks share one CSV writer)


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@click.command()
@click.argument("generator")
@click.argument("seed", type=int)
@click.argument("out", type=click.Path(path_type=Path))
@click.argument("overrides", default="{}")
@click.option(
    "--config", "config_path", type=click.Path(exists=True), default=str(ROOT / "config/config.yaml")
)
@click.option("--threads", type=int, default=1, show_default=True)
def main(generator: str, seed: int, out: Path, overrides: str, config_path: str, threads: int) -> None:
    """Train and judge one trial; print the largest column KL per judge."""
    import snakemake.utils

    from eval.specs import generator_section
    from eval.table2 import evaluate_method, fit_method

    torch.set_num_threads(threads)
    over = json.loads(overrides)
    cfg = yaml.safe_load(Path(config_path).read_text())
    t2 = cfg["table2"]
    t2.update({k: v for k, v in over.items() if k != "train"})
    t2["train"] = {**t2["train"], **over.get("train", {})}
    snakemake.utils.validate(cfg, str(ROOT / "workflow/schemas/config.schema.yaml"))
    t2 = cfg["table2"]
    if seed in t2["seeds"]:
        raise click.UsageError(f"seed {seed} is a reported seed (table2.seeds); tune on table2.tuning_seeds")
    section = generator_section(t2, generator, "table2")
    gen_cfg = cfg["generators"][generator]
    start = _cpu_seconds()
    fit_method(generator, gen_cfg, section, cfg["models"], "promptgen", out, device="cpu", seed=seed)
    cpu = _cpu_seconds() - start
    rows, _ = evaluate_method(
        generator, gen_cfg, section, cfg["models"], "promptgen", pool_path=None, state_dir=out, seed=seed
    )
    kl = [c for c in rows.columns if c.startswith("kl_")]
    acc = [c for c in rows.columns if c.startswith("acc_")]
    for _, row in rows.iterrows():
        append_row(
            ROOT / "benchmarks/results/table2_tuning_trials.csv",
            {
                **machine_columns(threads),
                "trial": out.name,
                "generator": generator,
                "seed": seed,
                "weight": section["weight"],
                "class_weights": json.dumps(section.get("class_weights") or {}),
                "group_weights": json.dumps(section.get("group_weights") or {}),
                "steps": section["train"]["steps"],
                "energy_warmup": section["train"].get("energy_warmup"),
                "judge": row["judge"],
                "kl_max": row[kl].max(),
                **{c: row[c] for c in kl},
                "acc_min": row[acc].min(),
                "cpu_s": round(cpu, 1),
            },
        )
        worst, lowest = row[kl].max(), row[acc].min()
        click.echo(f"{row['judge']}: largest column KL {worst:.2e}, lowest accuracy {lowest:.3f}")


if __name__ == "__main__":
    main()
