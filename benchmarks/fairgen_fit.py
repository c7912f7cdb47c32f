"""FairGen's mixture log-densities: one triangular solve per component against one per (row, component).

:func:`promptgen.baselines.fairgen.fit_gmm` evaluates log N(x_i; μ_k, L_k L_kᵀ) for every row and component in
each EM iteration. The library solves L_k y = x_i − μ_k once per component with all rows as right-hand sides;
the alternative form broadcasts every Cholesky factor to every row and solves one small system per pair. Both
are timed here on the same mixture and rows (codes of the world StyleGAN2's W size, d = 128, 4 components):
the median of ``--repeats`` calls after one untimed call. Column ``max_abs_diff`` is the largest difference
between the two forms' log-densities.

Usage: ``python benchmarks/fairgen_fit.py --threads 1``; appends a row to
``benchmarks/results/fairgen_fit.csv``.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import click
import torch

from promptgen.baselines.fairgen import GaussianMixture, _component_log_probs, fit_gmm

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import append_row, machine_columns, timed  # noqa: E402  (the benchmarks share one CSV writer)

__all__ = ["main", "per_pair_log_probs"]

RESULTS = Path(__file__).parent / "results" / "fairgen_fit.csv"
DIM, COMPONENTS = 128, 4


def per_pair_log_probs(x: torch.Tensor, gmm: GaussianMixture) -> torch.Tensor:
    """(N, K) component log-densities with one triangular solve per (row, component) pair."""
    diff = x[:, None, :] - gmm.means[None]
    chol = gmm.chol[None].expand(x.shape[0], -1, -1, -1)
    sol = torch.linalg.solve_triangular(chol, diff[..., None], upper=False)[..., 0]
    log_det = torch.log(torch.diagonal(gmm.chol, dim1=-2, dim2=-1)).sum(-1)
    return -0.5 * sol.square().sum(-1) - log_det - 0.5 * x.shape[1] * math.log(2 * math.pi)


@click.command()
@click.option("--rows", type=click.IntRange(min=COMPONENTS), default=4000, show_default=True)
@click.option("--repeats", type=click.IntRange(min=1), default=3, show_default=True)
@click.option("--threads", type=int, default=1, show_default=True)
@click.option("--out", type=click.Path(path_type=Path), default=RESULTS, show_default=True)
def main(rows: int, repeats: int, threads: int, out: Path) -> None:
    """Time both forms on ROWS codes; append one row to OUT."""
    torch.set_num_threads(threads)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(rows, DIM, generator=gen, dtype=torch.float64)
    gmm = fit_gmm(x, COMPONENTS, iterations=2)
    pair, pair_s = timed(lambda: per_pair_log_probs(x, gmm), repeats)
    comp, comp_s = timed(lambda: _component_log_probs(x, gmm), repeats)
    row = {
        **machine_columns(threads),
        "rows": rows,
        "dim": DIM,
        "components": COMPONENTS,
        "per_pair_s": round(pair_s, 4),
        "per_component_s": round(comp_s, 4),
        "per_pair_over_per_component": round(pair_s / comp_s, 1),
        "max_abs_diff": float(f"{(pair - comp).abs().max().item():.2e}"),
    }
    append_row(out, row)
    click.echo(row)


if __name__ == "__main__":
    main()
