"""Plots for the tables (matplotlib, Agg backend): KL bars, share bars, sample grids."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

__all__ = [
    "energy_latency",
    "entanglement_lines",
    "fid_identity",
    "inn_fidelity",
    "share_bars",
    "table2_bars",
]

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
        if "iid_reference_pairs" in rows:
            ref = float(rows["iid_reference_pairs"].iloc[0])
            ax.axhline(ref, color="k", ls="--", lw=0.8, label="i.i.d. uniform reference (pairs)")
        ax.set_yscale("log")
        ax.set_xticks(x + 0.4 - width / 2, [c.removeprefix("kl_") for c in cols], rotation=30, ha="right")
        ax.set_title(f"{gen} (judge: {judge})")
        ax.set_ylabel("D_KL(empirical ‖ uniform)")
        ax.legend(fontsize=7)
    return _save(fig, path)


def entanglement_lines(table: pd.DataFrame, path: str | Path, argument: str) -> Path:
    """Largest-column KL (log scale, ± std over seeds) of every method against the swept ``argument``; the
    dashed line is the pair-column noise floor 3/(2N) (:func:`eval.entanglement.entanglement_table`)."""
    from eval.metric_kl import kl_noise_floor

    fig, ax = plt.subplots(figsize=(6, 4))
    for method, rows in table.groupby("method", sort=False):
        rows = rows.sort_values(argument)
        values = np.maximum(rows["max_kl"].to_numpy(dtype=float), KL_FLOOR)
        errs = np.nan_to_num(rows["max_kl_std"].to_numpy(dtype=float))
        ax.errorbar(rows[argument], values, yerr=errs, marker="o", capsize=3, label=method)
    ax.axhline(
        kl_noise_floor(4, int(table["N"].max())), color="k", ls="--", lw=0.8, label="noise floor (pairs)"
    )
    ax.set_yscale("log")
    ax.set_xlabel(argument)
    ax.set_ylabel("largest-column D_KL(empirical ‖ uniform)")
    ax.set_title(f"Table 2 across {argument} (judge: {table['judge'].iloc[0]})")
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


def share_bars(table: pd.DataFrame, path: str | Path) -> Path:
    """Table 5 and Fig. 8: one panel per (generator, attribute), the class shares of every method and judge.

    The dashed line is the uniform share 1/K.
    """
    shares = sorted((c for c in table.columns if c.startswith("share_")), key=lambda c: int(c.split("_")[1]))
    panels = list(dict.fromkeys(zip(table["generator"], table["attribute"], strict=True)))
    labels = list(dict.fromkeys(f"{m} ({j})" for m, j in zip(table["method"], table["judge"], strict=True)))
    fig, axes = plt.subplots(1, max(len(panels), 1), figsize=(4.5 * max(len(panels), 1), 3.8), squeeze=False)
    for ax, (gen, attr) in zip(axes[0], panels, strict=False):
        rows = table[(table["generator"] == gen) & (table["attribute"] == attr)]
        k = int(rows[shares].notna().all(axis=0).sum())  # this attribute's classes (other columns empty)
        x = np.arange(k)
        width = 0.8 / max(len(rows), 1)
        for i, (_, row) in enumerate(rows.iterrows()):
            label = f"{row['method']} ({row['judge']})"
            color = f"C{labels.index(label) % 10}"  # one colour per method and judge across panels
            ax.bar(x + i * width, row[shares[:k]].to_numpy(dtype=float), width, label=label, color=color)
        ax.axhline(1.0 / k, color="k", ls="--", lw=0.8, label="uniform")
        ax.set_xticks(x + 0.4 - width / 2, [f"class {j}" for j in range(k)])
        ax.set_title(f"{gen}: {attr}")
        ax.set_ylabel("share of samples")
        ax.legend(fontsize=6)
    return _save(fig, path)


def fid_identity(table: pd.DataFrame, path: str | Path) -> Path:
    """Table 3: FID (log scale) per generator and method; same-ID vs different-ID distances of PromptGen."""
    measured = table[table["source"] == "measured"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    labels = [f"{g}\n{m}" for g, m in zip(measured["generator"], measured["method"], strict=True)]
    left.bar(np.arange(len(measured)), measured["fid"].to_numpy(dtype=float))
    left.set_xticks(np.arange(len(measured)), labels, fontsize=7)
    left.set_yscale("log")
    left.set_ylabel("FID (world features, vs the dataset)")
    paired = measured[measured["dist_same_id"].notna()]
    x = np.arange(len(paired))
    right.bar(x - 0.2, paired["dist_same_id"].to_numpy(dtype=float), 0.4, label="same ID")
    right.bar(x + 0.2, paired["dist_diff_id"].to_numpy(dtype=float), 0.4, label="different ID")
    right.set_xticks(x, list(paired["generator"]))
    right.set_ylabel("identity distance sqrt(2(1 - cos))")
    right.legend(fontsize=7)
    return _save(fig, path)


def inn_fidelity(table: pd.DataFrame, path: str | Path) -> Path:
    """Appendix A: KL(q || p) per analytic target, with its Monte-Carlo standard error."""
    fig, ax = plt.subplots(figsize=(5, 3.5))
    x = np.arange(len(table))
    ax.bar(x, table["kl"].to_numpy(dtype=float), yerr=table["kl_mc_stderr"].to_numpy(dtype=float), capsize=3)
    ax.set_xticks(x, list(table["target"]), rotation=20, ha="right")
    ax.set_ylabel("KL(q || p)")
    return _save(fig, path)


def _save(fig: plt.Figure, path: str | Path) -> Path:
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
