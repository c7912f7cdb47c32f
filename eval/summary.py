"""The generated results page: every table beside the paper's numbers, with the commit, the machine and the
wall time of each table's jobs.

:func:`summary_markdown` builds the page from the table CSVs, the literature rows
(:mod:`eval.literature`), the job benchmarks under ``results/benchmarks/`` and a machine row
(:func:`eval.machine.machine_row`); the pipeline writes it to ``results/summary.md``.
"""

from __future__ import annotations

import math
import subprocess
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from eval.literature import LITERATURE_DIR, literature_rows

__all__ = [
    "TABLES",
    "benchmark_times",
    "format_value",
    "git_commit",
    "headline_table2",
    "markdown_table",
    "summary_markdown",
    "table_of_benchmark",
]

# Table name -> (title, what its numbers are). The order is the page's order.
TABLES: dict[str, tuple[str, str]] = {
    "table2": (
        "Table 2: de-biasing binary attributes",
        "D_KL(empirical ‖ uniform), natural log, per column; mean ± std over seeds; lower is better.",
    ),
    "table3": (
        "Table 3: pose control with identity kept",
        "FID (lower is better); identity distance √(2(1 − cos)) of the same and of different identities.",
    ),
    "table4": (
        "Table 4: PromptGen vs PPGM on the same CLIP energy",
        "CLIP energy (lower is better), seconds per sample, backprops through CLIP per sample.",
    ),
    "table5": (
        "Table 5 / Fig. 6: moment-constraint de-biasing of categorical attributes",
        "Class shares and D_KL to uniform before (unmodified) and after (lambda λ).",
    ),
    "figure8": (
        "Fig. 8: iterative control (text, then a gender moment constraint)",
        "Gender shares before and after each iteration.",
    ),
    "tableA": (
        "Appendix A: INN fidelity on analytic targets",
        "KL(q ‖ p) with its Monte-Carlo standard error; log Z beside its closed form.",
    ),
}
JUDGES = ("control_classifier", "eval_classifier", "oracle")


def format_value(value: object, digits: int = 3) -> str:
    """A table cell: ``digits`` significant digits for floats, integers as integers, empty for NaN.

    Example:
        >>> [format_value(v) for v in (0.000123456, 16000.0, float("nan"), "render", 0.0)]
        ['0.000123', '16000', '', 'render', '0']
    """
    if isinstance(value, float | int) and not isinstance(value, bool):
        if isinstance(value, float) and math.isnan(value):
            return ""
        if float(value).is_integer() and abs(value) < 1e9:
            return str(int(value))
        return f"{value:.{digits}g}"
    return "" if value is None or value is pd.NA else str(value)


def markdown_table(df: pd.DataFrame, digits: int = 3) -> str:
    """A GitHub markdown table of ``df`` (all-empty columns dropped; ``x`` and ``x_std`` as "x ± std")."""
    df = df.dropna(axis=1, how="all")
    columns = [c for c in df.columns if not (c.endswith("_std") and c.removesuffix("_std") in df.columns)]
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for _, row in df.iterrows():
        cells = []
        for c in columns:
            cell = format_value(row[c], digits)
            std = row.get(f"{c}_std")
            if cell and isinstance(std, float) and not math.isnan(std):
                cell += f" ± {format_value(std, 2)}"
            cells.append(cell.replace("|", "\\|"))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def table_of_benchmark(path: Path, root: Path) -> str:
    """The table a benchmark file belongs to, from its rule name: ``table2_train/x.tsv`` -> ``table2``.

    Example:
        >>> table_of_benchmark(Path("b/table2_train/render_seed0.tsv"), Path("b"))
        'table2'
        >>> table_of_benchmark(Path("b/figure8/render_iter1.tsv"), Path("b"))
        'figure8'
    """
    rule = path.relative_to(root).parts[0].removesuffix(".tsv")
    return rule.split("_")[0]


def benchmark_times(bench_dir: str | Path) -> pd.DataFrame:
    """Per table: jobs, summed job wall seconds, summed CPU seconds and the longest job (Snakemake
    ``benchmark:`` files under ``bench_dir``)."""
    root = Path(bench_dir)
    rows = []
    for path in sorted(root.rglob("*.tsv")) if root.is_dir() else []:
        bench = pd.read_csv(path, sep="\t")
        if bench.empty or "s" not in bench:
            continue
        cpu = float(bench["cpu_time"].iloc[-1]) if "cpu_time" in bench else math.nan
        job = str(path.relative_to(root).with_suffix(""))
        rows.append(
            {"table": table_of_benchmark(path, root), "job": job, "s": float(bench["s"].iloc[-1]), "cpu": cpu}
        )
    if not rows:
        return pd.DataFrame(columns=["table", "jobs", "job_wall_s", "cpu_s", "longest_job", "longest_job_s"])
    df = pd.DataFrame(rows)
    longest = df.loc[df.groupby("table", sort=False)["s"].idxmax()].set_index("table")
    out = df.groupby("table", sort=False).agg(
        jobs=("job", "size"), job_wall_s=("s", "sum"), cpu_s=("cpu", "sum")
    )
    out["longest_job"] = longest["job"]
    out["longest_job_s"] = longest["s"]
    return out.reset_index()


def git_commit(root: str | Path = ".") -> str:
    """``git describe``-style commit of ``root``: short hash, ``-dirty`` with uncommitted changes to tracked
    files; ``unknown`` outside a git checkout."""
    try:
        out = subprocess.run(
            ["git", "describe", "--always", "--dirty", "--abbrev=7", "--exclude=*"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return out.stdout.strip() or "unknown"


def headline_table2(table: pd.DataFrame) -> pd.DataFrame:
    """Table 2 in one row per (generator, method): the largest column's mean KL by each judge.

    The paper's rows read their own largest reported column under their judge's name.
    """
    kl = [c for c in table.columns if c.startswith("kl_") and not c.endswith("_std")]
    wide = (
        table.assign(largest=table[kl].max(axis=1))
        .pivot_table(index=["generator", "method"], columns="judge", values="largest", sort=False)
        .reset_index()
    )
    wide.columns.name = None
    judges = [j for j in JUDGES if j in wide.columns] + [
        c for c in wide.columns if c not in (*JUDGES, "generator", "method")
    ]
    return wide[["generator", "method", *judges]]


def _parts(name: str, table: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """(measured rows, the paper's rows): split on ``source``, or the literature file beside the table."""
    if "source" in table.columns and (table["source"] != "measured").any():
        measured = table[table["source"] == "measured"].drop(columns="source")
        return measured, table[table["source"] != "measured"]
    measured = table.drop(columns="source") if "source" in table.columns else table
    paper = literature_rows(name) if (LITERATURE_DIR / f"{name}.csv").is_file() else None
    return measured, paper


def _times_section(times: pd.DataFrame) -> list[str]:
    if times.empty:
        return ["No job benchmarks were found."]
    shown = times.rename(
        columns={
            "job_wall_s": "wall s (jobs summed)",
            "cpu_s": "CPU s (jobs summed)",
            "longest_job": "longest job",
            "longest_job_s": "longest job, wall s",
        }
    )
    note = (
        "Jobs of one table may run side by side, so the summed wall seconds exceed the elapsed time; "
        "per-job files are under `results/benchmarks/`."
    )
    return [markdown_table(shown, digits=4), "", note]


def summary_markdown(
    tables: Mapping[str, pd.DataFrame],
    *,
    commit: str,
    machine: Mapping[str, object],
    times: pd.DataFrame,
    config_name: str = "",
) -> str:
    """The results page.

    Arguments:
        tables: table name (a key of :data:`TABLES`) -> its CSV as a data frame.
        commit: the code version the tables came from (:func:`git_commit`).
        machine: :func:`eval.machine.machine_row`'s columns.
        times: :func:`benchmark_times`' output.
        config_name: the config file the run used (shown when given).

    Returns:
        Markdown text.
    """
    lines = [
        "# PromptGen Bench results",
        "",
        "Generated by the pipeline (`snakemake --cores 8 results/summary.md`); do not edit by hand.",
        "",
        f"- commit: `{commit}`" + (f"; config: `{config_name}`" if config_name else ""),
        f"- machine: {machine['cpu_model']}, {machine['cores']} cores; calibration "
        f"{format_value(machine['calibration_s'], 3)} s (`benchmarks/machine.py`'s reference workload, one "
        f"thread; lower is faster; load average {machine['load_avg_1min']} when measured)",
        f"- torch {machine.get('torch', '')}, generated {machine.get('date', '')}",
        "",
    ]
    if "table2" in tables:
        lines += [
            "## Headline: Table 2, largest column",
            "",
            "The largest of the six KL columns (mean over seeds) of each method, by each judge.",
            "",
            markdown_table(headline_table2(tables["table2"])),
            "",
        ]
    for name, (title, what) in TABLES.items():
        if name not in tables:
            continue
        measured, paper = _parts(name, tables[name])
        lines += [f"## {title}", "", what, "", "Measured:", "", markdown_table(measured), ""]
        if paper is not None and not paper.empty:
            lines += [
                "The paper's numbers (its models and data; `eval/literature/`):",
                "",
                markdown_table(paper),
                "",
            ]
        row = times[times["table"] == name] if not times.empty else times
        if not row.empty:
            r = row.iloc[0]
            lines += [
                f"Jobs: {int(r['jobs'])}, {format_value(r['job_wall_s'], 4)} s of wall time and "
                f"{format_value(r['cpu_s'], 4)} s of CPU summed; longest `{r['longest_job']}` "
                f"({format_value(r['longest_job_s'], 4)} s).",
                "",
            ]
    lines += ["## Wall time of each table's jobs", "", *_times_section(times), ""]
    return "\n".join(lines)
