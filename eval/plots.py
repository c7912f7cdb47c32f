"""Plots for the tables (matplotlib, Agg backend): KL bars, share bars, sample grids."""

from __future__ import annotations

import itertools
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

__all__ = [
    "energy_latency",
    "entanglement_lines",
    "fid_identity",
    "inn_fidelity",
    "share_bars",
    "table2_bars",
]

PAPER_MARKERS = "o^sDvP*X"  # one marker shape per literature row


def _log_floor(values: np.ndarray) -> float:
    """The bottom of a log axis: a decade below the smallest positive value (1e-7 when there is none)."""
    positive = values[np.isfinite(values) & (values > 0)]
    return 10.0 ** (np.floor(np.log10(positive.min())) - 1) if positive.size else 1e-7


def _mark_zeros(ax: plt.Axes, x: np.ndarray, values: np.ndarray, floor: float, color: str) -> None:
    """Exact zeros on a log axis: a "0" in the series' colour just above the axis bottom, never a bar."""
    zero = np.isfinite(values) & (values == 0)
    if zero.any():
        ax.scatter(x[zero], np.full(zero.sum(), floor * 2.0), marker="$0$", s=30, color=color, zorder=3)


def _zero_handle() -> Line2D:
    return Line2D(
        [], [], marker="$0$", color="k", ls="", markersize=6, label="exactly 0 (bottom of the axis)"
    )


def table2_bars(table: pd.DataFrame, path: str | Path) -> Path:
    """Table 2: one panel per (generator, judge), KL per column (log scale) for every method.

    The paper's rows are reference markers (one shape per row) in every panel; exact zeros are marked "0" at
    the axis bottom; the dashed line is the pair columns' i.i.d. reference 3/(2N); the legend sits outside the
    panels.
    """
    measured = table[table["source"] == "measured"]
    paper = table[table["source"] != "measured"]
    cols = [c for c in measured.columns if c.startswith("kl_") and not c.endswith("_std")]
    gens = list(dict.fromkeys(measured["generator"]))
    judges = list(dict.fromkeys(measured["judge"]))
    methods = list(dict.fromkeys(measured["method"]))
    every = np.concatenate(
        [measured[cols].to_numpy(dtype=float).ravel(), paper[cols].to_numpy(dtype=float).ravel()]
    )
    floor = _log_floor(every)
    fig, axes = plt.subplots(
        max(len(gens), 1), max(len(judges), 1), figsize=(4.6 * max(len(judges), 1), 3.4 * max(len(gens), 1)),
        squeeze=False, sharey=True, layout="constrained",
    )  # fmt: skip
    x = np.arange(len(cols))
    width = 0.8 / max(len(methods), 1)
    for (gi, gen), (ji, judge) in itertools.product(enumerate(gens), enumerate(judges)):
        ax = axes[gi][ji]
        rows = measured[(measured["generator"] == gen) & (measured["judge"] == judge)]
        for mi, method in enumerate(methods):
            row = rows[rows["method"] == method]
            if row.empty:
                continue
            values = row[cols].to_numpy(dtype=float)[0]
            errs = np.nan_to_num(row[[f"{c}_std" for c in cols]].to_numpy(dtype=float)[0])
            xm = x - 0.4 + (mi + 0.5) * width
            color = f"C{mi}"
            bars = np.where(values > 0, values, np.nan)
            ax.bar(xm, bars, width, yerr=np.where(values > 0, errs, 0), label=method, color=color, capsize=2)
            _mark_zeros(ax, xm, values, floor, color)
        for pi, (_, ref) in enumerate(paper.iterrows()):
            values = ref[cols].to_numpy(dtype=float)
            label = f"paper: {ref['generator']} {ref['method']}"
            shown = np.where(values > 0, values, np.nan)
            ax.scatter(x, shown, marker=PAPER_MARKERS[pi % len(PAPER_MARKERS)], s=22, color="k",
                       facecolors="none", zorder=3, label=label)  # fmt: skip
            _mark_zeros(ax, x, values, floor, "k")
        if not rows.empty:
            ax.axhline(
                float(rows["iid_reference_pairs"].iloc[0]),
                color="k",
                ls="--",
                lw=0.8,
                label="i.i.d. uniform reference (pairs)",
            )
        ax.set_yscale("log")
        ax.set_ylim(bottom=floor)
        ax.set_xticks(x, [c.removeprefix("kl_") for c in cols], rotation=30, ha="right", fontsize=8)
        ax.set_title(f"{gen}, judged by {judge}", fontsize=9)
        if ji == 0:
            ax.set_ylabel("D_KL(empirical ‖ uniform)")
    handles, labels = axes[0][0].get_legend_handles_labels()
    zero = _zero_handle()
    fig.legend([*handles, zero], [*labels, zero.get_label()], loc="outside right upper", fontsize=7)
    return _save(fig, path)


def entanglement_lines(table: pd.DataFrame, path: str | Path, argument: str) -> Path:
    """Largest-column KL (log scale, ± std over seeds) of every method against the swept ``argument``.

    The dashed line is the pair-column reference 3/(2N) (:func:`eval.entanglement.entanglement_table`); exact
    zeros are marked "0" at the axis bottom; the legend sits outside the data.
    """
    from eval.metric_kl import kl_noise_floor

    fig, ax = plt.subplots(figsize=(7, 4), layout="constrained")
    floor = _log_floor(table["max_kl"].to_numpy(dtype=float))
    for i, (method, rows) in enumerate(table.groupby("method", sort=False)):
        rows = rows.sort_values(argument)
        x = rows[argument].to_numpy(dtype=float)
        values = rows["max_kl"].to_numpy(dtype=float)
        errs = np.nan_to_num(rows["max_kl_std"].to_numpy(dtype=float))
        shown = values > 0
        color = f"C{i % 10}"
        ax.errorbar(
            x[shown], values[shown], yerr=errs[shown], marker="o", capsize=3, label=method, color=color
        )
        _mark_zeros(ax, x, values, floor, color)
    ax.axhline(
        kl_noise_floor(4, int(table["N"].max())), color="k", ls="--", lw=0.8, label="reference 3/(2N) (pairs)"
    )
    ax.set_yscale("log")
    ax.set_ylim(bottom=floor)
    ax.set_xlabel(argument)
    ax.set_ylabel("largest-column D_KL(empirical ‖ uniform)")
    ax.set_title(f"Table 2 across {argument} (judge: {table['judge'].iloc[0]})")
    handles, _ = ax.get_legend_handles_labels()
    ax.legend(handles=[*handles, _zero_handle()], fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    return _save(fig, path)


def _scatter_by_method_and_text(
    ax: plt.Axes, rows: pd.DataFrame, texts: list[str], methods: list[str]
) -> None:
    for _, row in rows.iterrows():
        ax.scatter(
            row["seconds_per_sample"],
            row["clip_energy"],
            color=f"C{methods.index(row['method']) % 10}",
            marker=PAPER_MARKERS[texts.index(row["text"]) % len(PAPER_MARKERS)],
        )
    ax.set_xscale("log")
    ax.set_xlabel("seconds per sample (log)")


def energy_latency(table: pd.DataFrame, path: str | Path) -> Path:
    """Table 4: CLIP energy vs seconds per sample; colour = method, marker = text.

    Left: this run. Right, when the table has them: the paper's rows (its CLIP, generator and GPU, so the two
    panels share no axis). The legend sits outside the panels.
    """
    source = table["source"] if "source" in table else pd.Series("measured", index=table.index)
    parts = {"this run": table[source == "measured"], "paper": table[source != "measured"]}
    parts = {k: v for k, v in parts.items() if not v.empty}
    methods = list(dict.fromkeys(table["method"]))
    texts = list(dict.fromkeys(table["text"]))
    fig, axes = plt.subplots(
        1, len(parts), figsize=(4.4 * len(parts), 3.6), squeeze=False, layout="constrained"
    )
    for ax, (name, rows) in zip(axes[0], parts.items(), strict=True):
        _scatter_by_method_and_text(ax, rows, texts, methods)
        device = ", ".join(dict.fromkeys(rows["device"].astype(str))) if "device" in rows else ""
        ax.set_title(f"{name} ({device})" if device else name, fontsize=9)
        ax.set_ylabel("CLIP energy (lower is better)")
    handles = [Line2D([], [], color=f"C{i % 10}", marker="o", ls="", label=m) for i, m in enumerate(methods)]
    handles += [
        Line2D([], [], color="0.4", marker=PAPER_MARKERS[i % len(PAPER_MARKERS)], ls="", label=t)
        for i, t in enumerate(texts)
    ]
    fig.legend(handles=handles, loc="outside right upper", fontsize=7)
    return _save(fig, path)


def share_bars(table: pd.DataFrame, path: str | Path) -> Path:
    """Table 5 and Fig. 8: one panel per (generator, attribute), the class shares of every method and judge.

    The dashed line is the uniform share 1/K; the legend sits outside the panels.
    """
    shares = sorted((c for c in table.columns if c.startswith("share_")), key=lambda c: int(c.split("_")[1]))
    panels = list(dict.fromkeys(zip(table["generator"], table["attribute"], strict=True)))
    labels = list(dict.fromkeys(f"{m} ({j})" for m, j in zip(table["method"], table["judge"], strict=True)))
    n = max(len(panels), 1)
    fig, axes = plt.subplots(1, n, figsize=(4.2 * n, 3.6), squeeze=False, sharey=True, layout="constrained")
    for ax, (gen, attr) in zip(axes[0], panels, strict=False):
        rows = table[(table["generator"] == gen) & (table["attribute"] == attr)]
        k = int(rows[shares].notna().all(axis=0).sum())  # this attribute's classes (other columns empty)
        x = np.arange(k)
        width = 0.8 / max(len(rows), 1)
        for i, (_, row) in enumerate(rows.iterrows()):
            label = f"{row['method']} ({row['judge']})"
            color = f"C{labels.index(label) % 10}"  # one colour per method and judge across panels
            ax.bar(x - 0.4 + (i + 0.5) * width, row[shares[:k]].to_numpy(dtype=float), width, color=color)
        ax.axhline(1.0 / k, color="k", ls="--", lw=0.8)
        ax.set_xticks(x, [f"class {j}" for j in range(k)])
        ax.set_title(f"{gen}: {attr}", fontsize=9)
    axes[0][0].set_ylabel("share of samples")
    handles = [Patch(color=f"C{i % 10}", label=label) for i, label in enumerate(labels)]
    handles.append(Line2D([], [], color="k", ls="--", lw=0.8, label="uniform 1/K"))
    fig.legend(handles=handles, loc="outside right upper", fontsize=7)
    return _save(fig, path)


def fid_identity(table: pd.DataFrame, path: str | Path) -> Path:
    """Table 3: FID (log scale) per generator and method; same-ID vs different-ID distances of PromptGen.

    The paper's PromptGen row is a reference marker in the distance panel (same formula on IR-SE50 embeddings)
    and in the FID panel (Inception FID on FFHQ: another feature space, shown for scale only).
    """
    measured = table[table["source"] == "measured"]
    paper = table[(table["source"] != "measured") & (table["method"] == "PromptGen")]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8), layout="constrained")
    labels = [f"{g}\n{m}" for g, m in zip(measured["generator"], measured["method"], strict=True)]
    left.bar(np.arange(len(measured)), measured["fid"].to_numpy(dtype=float), color="C0", label="this run")
    left.set_xticks(np.arange(len(measured)), labels, fontsize=7)
    left.set_yscale("log")
    left.set_ylabel("FID (vs the dataset; lower is better)")
    paired = measured[measured["dist_same_id"].notna()]
    x = np.arange(len(paired))
    right.bar(x - 0.2, paired["dist_same_id"].to_numpy(dtype=float), 0.4, label="same ID", color="C1")
    right.bar(x + 0.2, paired["dist_diff_id"].to_numpy(dtype=float), 0.4, label="different ID", color="C2")
    for _, ref in paper.iterrows():
        left.axhline(
            float(ref["fid"]), color="k", ls=":", lw=1, label="paper PromptGen (Inception FID, FFHQ)"
        )
        for value, dx in ((ref["dist_same_id"], -0.2), (ref["dist_diff_id"], 0.2)):
            right.scatter(
                x + dx, np.full(len(x), float(value)), marker="D", facecolors="none", color="k", zorder=3
            )
    right.set_xticks(x, list(paired["generator"]))
    right.set_ylabel("identity distance √(2(1 − cos))")
    handles = [*left.get_legend_handles_labels()[0], *right.get_legend_handles_labels()[0]]
    if not paper.empty:
        handles.append(
            Line2D([], [], marker="D", color="k", mfc="none", ls="", label="paper PromptGen (IR-SE50)")
        )
    fig.legend(handles=handles, loc="outside right upper", fontsize=7)
    return _save(fig, path)


def inn_fidelity(table: pd.DataFrame, path: str | Path) -> Path:
    """Appendix A: KL(q ‖ p) per analytic target with its Monte-Carlo standard error (left); the estimated
    log Z beside its closed form (right)."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.5), layout="constrained")
    x = np.arange(len(table))
    names = list(table["target"])
    left.bar(
        x, table["kl"].to_numpy(dtype=float), yerr=table["kl_mc_stderr"].to_numpy(dtype=float), capsize=3
    )
    left.axhline(0.0, color="k", lw=0.8)
    left.set_xticks(x, names, rotation=20, ha="right")
    left.set_ylabel("KL(q ‖ p) (0 = exact)")
    right.scatter(x, table["log_z"].to_numpy(dtype=float), label="estimated log Z", marker="o")
    right.scatter(x, table["log_z_exact"].to_numpy(dtype=float), label="closed form", marker="x", color="k")
    right.set_xticks(x, names, rotation=20, ha="right")
    right.set_ylabel("log Z")
    right.legend(fontsize=7, loc="best")
    return _save(fig, path)


def _save(fig: plt.Figure, path: str | Path) -> Path:
    if fig.get_layout_engine() is None:
        fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return path
