"""Machine calibration: time a fixed reference workload and record it with the CPU model and cores.

The workload (:mod:`eval.machine`: a chain of 256 × 256 matrix products and a 3 × 3 convolution over a
(8, 32, 64, 64) batch, float32, one thread, fixed seeds) owes nothing to the project's models, so its figure
compares machines, not code versions. Every benchmark here records the figure in its rows (column
``calibration_s``, seconds per run of the workload, lower is faster): a time measured on another machine
scales by the ratio of the two figures. Rows written before the column existed leave it empty.

This module also holds the columns and the CSV writer the other benchmarks share.

Usage: ``python benchmarks/machine.py``; prints the figure and appends a row to
``benchmarks/results/machine.csv``.
"""

from __future__ import annotations

import csv
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import click

from eval.machine import machine_row
from promptgen.device import cpu_autocast_dtype

__all__ = ["append_row", "calibration_columns", "machine_columns", "main", "timed"]

RESULTS = Path(__file__).parent / "results" / "machine.csv"


def calibration_columns() -> dict:
    """``cpu_model`` and ``calibration_s`` (timed once per process; :func:`eval.machine.machine_row`)."""
    row = machine_row()
    return {"cpu_model": row["cpu_model"], "calibration_s": row["calibration_s"]}


def machine_columns(threads: int) -> dict:
    """The columns every benchmark row starts with: when, on what CPU, how fast it is, how many threads, under
    what load."""
    row = machine_row()
    return {
        "date": row["date"],
        "machine": platform.processor() or platform.machine(),
        "amx": int(cpu_autocast_dtype("auto") is not None),
        "cpus": os.cpu_count(),
        "threads": threads,
        "load_avg_1min": row["load_avg_1min"],
        **calibration_columns(),
    }


def timed(call: Callable[[], object], repeats: int, warmup: int = 1) -> tuple[object, float]:
    """The last result of ``call`` and the median seconds of ``repeats`` calls after ``warmup`` untimed."""
    for _ in range(warmup):
        call()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = call()
        times.append(time.perf_counter() - start)
    return result, statistics.median(times)


def append_row(out: Path, row: dict, old_defaults: dict | None = None) -> None:
    """Append ``row`` to the CSV at ``out``, widening the header when ``row`` has new columns.

    Older rows read ``old_defaults[column]`` in a new column where given, empty otherwise (unknown).
    """
    old = []
    if out.is_file():
        with open(out, newline="") as f:
            old = list(csv.DictReader(f))
    fields = list(dict.fromkeys([*(old[0] if old else {}), *row]))
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields, lineterminator="\n")
        w.writeheader()
        defaults = {k: v for k, v in (old_defaults or {}).items() if k in fields}
        w.writerows([{**defaults, **r} for r in old] + [row])


@click.command()
@click.option("--repeats", type=click.IntRange(min=1), default=9, show_default=True, help="Timed runs.")
@click.option("--out", type=click.Path(path_type=Path), default=RESULTS, show_default=True)
def main(repeats: int, out: Path) -> None:
    """Time the reference workload (fastest of REPEATS runs) and append one row to OUT."""
    row = machine_row(repeats)
    append_row(out, row)
    click.echo(f"{row['cpu_model']}, {row['cores']} cores: {row['calibration_s']} s per reference run")


if __name__ == "__main__":
    main()
