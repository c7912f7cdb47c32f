"""Snakemake glue: write results/summary.md from the table CSVs (logic in eval.summary)."""

from pathlib import Path

from snakemake_glue import logged

sm = snakemake  # noqa: F821
with logged(sm):
    import pandas as pd

    from eval.machine import machine_row
    from eval.summary import benchmark_times, git_commit, summary_markdown

    tables = {name: pd.read_csv(path) for name, path in sm.input.items()}
    page = summary_markdown(
        tables,
        commit=git_commit(),
        machine=machine_row(),
        times=benchmark_times(sm.params.benchmarks),
    )
    Path(sm.output[0]).write_text(page)
