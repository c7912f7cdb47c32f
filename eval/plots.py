"""Plots for the tables (matplotlib, Agg backend): KL bars, share bars, sample grids."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

__all__ = ["energy_latency", "table2_bars"]

KL_FLOOR = 1e-7  # bars below this are drawn at this height on the log axis


def table2_bars(table: pd.DataFrame, path: str | Path, judge: str = "control_classifier") -> Path:
    """One panel per generator: KL per column (log scale) for each method, judged by ``judge``."""
    measured = table[(table["source"] == "measured") & (table["judge"] == judge)]
    cols = [c for c in measured.columns if c.startswith("kl_") and not c.endswith("_std")]
    gens = list(dict.fromkeys(measured["generator"]))
    fig, axes = plt.subplots(1, max(len(gens), 1), figsize=(6 * max(len(gens), 1), 4), squeeze=False)
    for ax, gen in zip(axes[0], gens, strict=False):
        rows = measured[measured["generator"] == gen]
        width = 0.8 / max(len(rows), 1)
        x = np.arange(len(cols))
        for i, (_, row) in enumerate(rows.iterrows()):
            values = np.maximum(row[cols].to_numpy(dtype=float), KL_FLOOR)
            errs = np.nan_to_num(row[[f"{c}_std" for c in cols]].to_numpy(dtype=float))
            ax.bar(x + i * width, values, width, yerr=errs, label=row["method"], capsize=2)
        ax.axhline(
            float(rows["noise_floor_pairs"].iloc[0]), color="k", ls="--", lw=0.8, label="noise floor (pairs)"
        )
        ax.set_yscale("log")
        ax.set_xticks(x + 0.4 - width / 2, [c.removeprefix("kl_") for c in cols], rotation=30, ha="right")
        ax.set_title(f"{gen} (judge: {judge})")
        ax.set_ylabel("D_KL(empirical ‖ uniform)")
        ax.legend(fontsize=7)
    return _save(fig, path)


def energy_latency(measured: pd.DataFrame, path: str | Path) -> Path:
    """CLIP energy vs seconds per sample (log x) for every method, one marker per text."""
    fig, ax = plt.subplots(figsize=(6, 4))
    for method, rows in measured.groupby("method", sort=False):
        ax.scatter(rows["seconds_per_sample"], rows["clip_energy"], label=method)
    ax.set_xscale("log")
    ax.set_xlabel("seconds per sample")
    ax.set_ylabel("CLIP energy (lower is better)")
    ax.legend(fontsize=7)
    return _save(fig, path)


def _save(fig: plt.Figure, path: str | Path) -> Path:
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
