"""The world StyleGAN2's modulated convolution, fused against unfused, in one process.

The ``stylegan2`` generator kind renders with the unfused modulated convolution (styles scale the
activations, one shared kernel per layer, the up-sampling layers as one transposed convolution whose kernel
already contains the FIR filter). NVIDIA's fused form (one grouped convolution with per-sample kernels, then
the filter) is the same function up to float rounding. Both are timed on the same inputs, on the checkpoint of
config/config.yaml's ``stylegan2`` entry:

* ``eval``: 256 latents at ψ = 0.7 without gradients (a Table-2 evaluation batch);
* ``train``: 64 latents at ψ = 1, forward and backward to the latents (a Table-2 INN step's generator part).

Each time is the median of ``--repeats`` calls after one untimed call. Column ``max_abs_diff`` is the largest
difference between the two forms' outputs (input gradients for ``train``). Usage:
``python benchmarks/stylegan2_render.py --threads 1``; appends rows to
``benchmarks/results/stylegan2_render.csv``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import click
import torch
import yaml

from promptgen.generators import build_generator

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import append_row, machine_columns, timed  # noqa: E402  (the benchmarks share one CSV writer)

__all__ = ["CASES", "main", "measure"]

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).parent / "results" / "stylegan2_render.csv"
CASES = {"eval": (256, 0.7), "train": (64, 1.0)}  # batch, ψ


def _call(entry: dict, case: str, fused: bool) -> Callable[[], torch.Tensor]:
    batch, psi = CASES[case]
    gen = build_generator(entry, psi=psi)
    z = torch.randn(batch, gen.latent_dim, generator=torch.Generator().manual_seed(0))

    def render(latents: torch.Tensor) -> torch.Tensor:
        return gen.synthesize_styles(gen.styles(gen.mapping(latents)), fused=fused)

    if case == "eval":
        return lambda: _no_grad(render, z)

    def train() -> torch.Tensor:
        inp = z.clone().requires_grad_(True)
        render(inp).square().mean().backward()
        return inp.grad

    return train


def _no_grad(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return fn(x)


def measure(entry: dict, case: str, repeats: int) -> dict[str, float]:
    """Median seconds per image of the fused and the unfused form; their outputs' largest difference."""
    out, seconds = {}, {}
    for fused in (True, False):
        out[fused], total = timed(_call(entry, case, fused), repeats)
        seconds[fused] = total / CASES[case][0]
    return {
        "fused_ms_per_image": round(1000 * seconds[True], 3),
        "unfused_ms_per_image": round(1000 * seconds[False], 3),
        "fused_over_unfused": round(seconds[True] / seconds[False], 2),
        "max_abs_diff": float(f"{(out[True] - out[False]).abs().max().item():.2e}"),
    }


@click.command()
@click.option("--case", "cases", multiple=True, type=click.Choice(list(CASES)), default=list(CASES))
@click.option("--repeats", type=click.IntRange(min=1), default=5, show_default=True)
@click.option("--threads", type=int, default=1, show_default=True)
@click.option("--config", "config_path", type=click.Path(path_type=Path), default=ROOT / "config/config.yaml")
@click.option("--out", type=click.Path(path_type=Path), default=RESULTS, show_default=True)
def main(cases, repeats: int, threads: int, config_path: Path, out: Path) -> None:
    """Time each CASE in both forms; append one row per case to OUT."""
    torch.set_num_threads(threads)
    entry = yaml.safe_load(config_path.read_text())["generators"]["stylegan2"]["generator"]
    for case in cases:
        row = {
            **machine_columns(threads),
            "case": case,
            "batch": CASES[case][0],
            **measure(entry, case, repeats),
        }
        append_row(out, row)
        click.echo(row)


if __name__ == "__main__":
    main()
