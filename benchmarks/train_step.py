"""Seconds per INN training step of a Table-2 run, float32 against bfloat16 autocast, in one process.

For each generator and precision, ``promptgen.train.train`` runs ``--steps`` steps of the Table-2 control
spec of config/config.yaml (conditional classifier INN, its batch size, the generator's own train settings;
only ``steps`` and ``precision`` are replaced) in a temporary directory, and the median of the per-step
``seconds`` column of its loss log is reported, after dropping the first ``--warmup`` steps (compilation of
the renderer, allocator warm-up). Every step is a full one: INN, G, energy, backward, AdamW, logging. The
precisions alternate within one process, so their ratio is measured under the same machine state; run two
copies side by side to measure the pipeline's two-jobs-per-two-cores situation (the CSV records the load).

``bf16`` on a CPU without AMX tiles runs oneDNN's emulated bfloat16 (column ``amx``): slow, measured anyway.

Usage: ``python benchmarks/train_step.py --threads 1 --generator render --generator vae``; appends rows to
``benchmarks/results/train_step.csv``.
"""

from __future__ import annotations

import csv
import statistics
import sys
import tempfile
from pathlib import Path

import click
import torch
import yaml
from snakemake.utils import validate

from eval.specs import generator_section
from eval.table2 import train_spec
from promptgen.allocator import reuse_freed_memory
from promptgen.spec import train_from_spec

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import append_row, machine_columns  # noqa: E402  (the benchmarks share one CSV writer)

__all__ = ["main", "step_seconds"]

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).parent / "results" / "train_step.csv"


def step_seconds(config: dict, generator: str, precision: str, steps: int, warmup: int) -> float:
    """Median seconds per step of ``steps`` Table-2 training steps of ``generator`` at ``precision``."""
    t2 = generator_section(config["table2"], generator, "table2")
    t2["train"] = {**t2["train"], "steps": steps, "precision": precision, "checkpoint_every": steps}
    spec = train_spec(config["generators"][generator], t2, config["models"], "cpu", 0)
    with tempfile.TemporaryDirectory() as tmp:
        log = train_from_spec(spec, tmp).log
        with open(log, newline="") as f:
            seconds = [float(r["seconds"]) for r in csv.DictReader(f)]
    return statistics.median(seconds[warmup:])


@click.command()
@click.option("--generator", "generators", multiple=True, default=["render", "vae"], show_default=True)
@click.option("--steps", type=int, default=40, show_default=True)
@click.option("--warmup", type=int, default=10, show_default=True)
@click.option("--threads", type=int, default=1, show_default=True)
@click.option("--config", "config_path", type=click.Path(path_type=Path), default=ROOT / "config/config.yaml")
@click.option("--out", type=click.Path(path_type=Path), default=RESULTS, show_default=True)
def main(generators, steps: int, warmup: int, threads: int, config_path: Path, out: Path) -> None:
    """Measure fp32 and bf16 steps of each GENERATOR and append one row per generator to OUT."""
    if not 0 <= warmup < steps:
        raise click.BadParameter(f"--warmup must be in [0, {steps}), got {warmup}", param_hint="--warmup")
    torch.set_num_threads(threads)
    reuse_freed_memory()
    config = yaml.safe_load(config_path.read_text())
    validate(config, str(ROOT / "workflow/schemas/config.schema.yaml"))  # fills the schema's defaults
    for name in generators:
        if name not in config["generators"]:
            raise click.BadParameter(f"no generator {name!r} in {config_path}", param_hint="--generator")
        fp32 = step_seconds(config, name, "fp32", steps, warmup)
        bf16 = step_seconds(config, name, "bf16", steps, warmup)
        row = {
            **machine_columns(threads),
            "generator": name,
            "steps_timed": steps - warmup,
            "fp32_s_per_step": round(fp32, 4),
            "bf16_s_per_step": round(bf16, 4),
            "fp32_over_bf16": round(fp32 / bf16, 2),
        }
        append_row(out, row)
        click.echo(row)


if __name__ == "__main__":
    main()
