"""What the latent curvature adds to a render's cost: the renderer at curvature 0 vs ``--curvature``.

One process, one batch of latents; the untwisted and the twisted renderer are timed alternately (no-grad
forward passes, best of ``--repeats`` after a warm-up; then forward+backward passes w.r.t. z), so a change
in the machine's load hits both alike. ``twist_share_pct`` times the twists alone (z -> T(z), the only work
the setting adds) against the untwisted render: the load-robust figure. ``overhead_pct_*`` compare whole
renders and carry the machine's noise (a few %). The CPU model is read from ``/proc/cpuinfo``.

Usage: ``python benchmarks/world_curvature.py --threads 1 --curvature 0.55``; appends a row to
``benchmarks/results/world_curvature.csv``.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

import click
import torch

from promptgen.allocator import reuse_freed_memory
from promptgen.world.render import SynthRenderer

sys.path.insert(0, str(Path(__file__).resolve().parent))
from world_renderer import append_row, machine_columns  # noqa: E402  (the benchmarks share one CSV writer)

__all__ = ["cpu_model", "main", "run"]

RESULTS = Path(__file__).parent / "results" / "world_curvature.csv"


def cpu_model() -> str:
    """The CPU's model name from ``/proc/cpuinfo`` (empty where there is none)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return ""


def _seconds(fn: Callable[[], object]) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def _fwd_bwd(G: SynthRenderer, z: torch.Tensor) -> None:
    zg = z.clone().requires_grad_(True)
    G(zg).mean().backward()


def run(curvature: float, batch: int, repeats: int) -> dict[str, float]:
    """Best seconds of each pass and the overheads (%) of the twisted renderer over the untwisted one."""
    flat, curved = SynthRenderer(), SynthRenderer(curvature=curvature)
    twist = curved.world.twist
    z = torch.randn(batch, flat.latent_dim, generator=torch.Generator().manual_seed(0))
    passes = {
        "render0": lambda: flat(z),
        "render": lambda: curved(z),
        "twist": lambda: twist(z),
    }
    best: dict[str, float] = {}
    with torch.no_grad():
        for fn in passes.values():
            fn()
        for _ in range(repeats):
            for name, fn in passes.items():
                best[name] = min(best.get(name, float("inf")), _seconds(fn))
    for _ in range(max(repeats // 3, 2)):
        for name, G in (("fwd_bwd0", flat), ("fwd_bwd", curved)):
            best[name] = min(best.get(name, float("inf")), _seconds(lambda G=G: _fwd_bwd(G, z)))
    return {
        **{f"seconds_{k}": v for k, v in best.items()},
        "twist_share_pct": 100 * best["twist"] / best["render0"],
        "overhead_pct_forward": 100 * (best["render"] / best["render0"] - 1),
        "overhead_pct_fwd_bwd": 100 * (best["fwd_bwd"] / best["fwd_bwd0"] - 1),
    }


@click.command()
@click.option("--threads", type=int, default=1, show_default=True)
@click.option("--curvature", type=click.FloatRange(min=0, min_open=True), default=0.55, show_default=True)
@click.option("--batch", type=int, default=256, show_default=True)
@click.option("--repeats", type=int, default=10, show_default=True)
@click.option("--out", type=click.Path(path_type=Path), default=RESULTS, show_default=True)
def main(threads: int, curvature: float, batch: int, repeats: int, out: Path) -> None:
    """Measure and append one row to OUT."""
    torch.set_num_threads(threads)
    reuse_freed_memory()
    row = {**machine_columns(threads), "cpu_model": cpu_model(), "curvature": curvature, "batch": batch}
    row |= {
        k: round(v, 5) if k.startswith("seconds") else round(v, 2)
        for k, v in run(curvature, batch, repeats).items()
    }
    append_row(out, row)
    click.echo(row)


if __name__ == "__main__":
    main()
