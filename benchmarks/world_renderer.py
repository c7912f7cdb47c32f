"""CPU throughput of the world renderer (``synth-render``): images per second at a given batch size.

Images/s: ``batch`` / wall-clock seconds of one forward pass (z -> scene -> 64×64 render) in
``torch.no_grad()`` at float32, best and median of ``--repeats`` passes after one untimed warm-up; also
one forward+backward pass (gradients w.r.t. z of the mean pixel) for the differentiable path. The 1-minute
load average is recorded because the machine may be shared (with other processes competing for the cores,
``--threads 1`` is usually faster than 2). The process keeps freed memory in its heap
(:func:`promptgen.allocator.reuse_freed_memory`), as every pipeline job does; ``--no-reuse-freed-memory``
measures the C library's default (column ``reuse_freed_memory``; the rows written before that column existed
were measured that way and read 0). ``--compile`` renders through ``torch.compile`` as the pipeline's
renderer does (``compile: auto``); its compilation happens in the warm-up passes (one without and one with
gradients), so the timed passes measure the compiled kernels only (column ``compile``; older rows read 0).

Usage: ``python benchmarks/world_renderer.py --threads 2 --batch 256``; appends a row to
``benchmarks/results/world_renderer.csv``.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import click
import torch

from promptgen.allocator import reuse_freed_memory
from promptgen.world.metrics import render_pass_seconds
from promptgen.world.render import SynthRenderer

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import append_row, machine_columns  # noqa: E402  (the benchmarks share one CSV writer)

__all__ = ["main", "run"]

RESULTS = Path(__file__).parent / "results" / "world_renderer.csv"
_OLD_DEFAULTS = {"reuse_freed_memory": 0, "compile": 0}  # what rows measured before a column existed read


def run(batch: int, repeats: int, compile: bool = False) -> dict[str, float]:
    """Images/s of the renderer: best and median no-grad passes, and one forward+backward pass."""
    G = SynthRenderer(compile=compile)
    z = torch.randn(batch, G.latent_dim, generator=torch.Generator().manual_seed(0))
    if compile:  # compile the gradient graph outside the timed pass
        G(z.clone().requires_grad_(True)).mean().backward()
    times = render_pass_seconds(G, z, repeats)
    zg = z.clone().requires_grad_(True)
    t = time.perf_counter()
    G(zg).mean().backward()
    backward = time.perf_counter() - t
    return {
        "images_per_s_best": batch / min(times),
        "images_per_s_median": batch / statistics.median(times),
        "images_per_s_fwd_bwd": batch / backward,
    }


@click.command()
@click.option("--threads", type=int, default=2, show_default=True)
@click.option("--batch", type=int, default=256, show_default=True)
@click.option("--repeats", type=int, default=10, show_default=True)
@click.option("--out", type=click.Path(path_type=Path), default=RESULTS, show_default=True)
@click.option("--reuse-freed-memory/--no-reuse-freed-memory", "reuse", default=True, show_default=True)
@click.option("--compile/--no-compile", "compiled", default=False, show_default=True)
def main(threads: int, batch: int, repeats: int, out: Path, reuse: bool, compiled: bool) -> None:
    """Measure and append one row to OUT."""
    torch.set_num_threads(threads)
    reused = reuse and reuse_freed_memory()
    row = {
        **machine_columns(threads),
        "batch": batch,
        "reuse_freed_memory": int(reused),
        "compile": int(compiled),
        **{k: round(v, 1) for k, v in run(batch, repeats, compiled).items()},
    }
    append_row(out, row, _OLD_DEFAULTS)
    click.echo(row)


if __name__ == "__main__":
    main()
