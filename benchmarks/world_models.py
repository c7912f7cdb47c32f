"""Eager against compiled (``compile: true``) world models of the default config, in one process.

For each case the model is built twice from its config/config.yaml entry, once with ``compile: false`` and
once with ``compile: true``, and timed on the same inputs: the median of ``--repeats`` calls after
``--warmup`` untimed ones (the compiled model compiles there). Cases:

* ``classifier_forward``: the control classifier on 256 images without gradients (Table-2 evaluation);
* ``classifier_train``: its forward and backward to the images on 64 images in Table 2's training
  precision (``auto``: bfloat16 autocast where the CPU has AMX tiles), as in a Table-2 INN step;
* ``vae_decode``: the world VAE generator on 256 latents without gradients (evaluation);
* ``vae_train``: its forward and backward to the latents on 64 latents in the training precision.

Column ``max_abs_diff`` is the largest difference between the two models' outputs on the timed input
(gradients for the training cases). Usage: ``python benchmarks/world_models.py --threads 1``; appends rows
to ``benchmarks/results/world_models.csv``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import click
import torch
import yaml

from promptgen.allocator import reuse_freed_memory
from promptgen.device import autocast_context, cpu_autocast_dtype
from promptgen.energies import ModelCache
from promptgen.generators import build_generator

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import append_row, machine_columns, timed  # noqa: E402  (the benchmarks share one CSV writer)

__all__ = ["CASES", "main", "measure"]

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).parent / "results" / "world_models.csv"
BATCH = {"classifier_forward": 256, "classifier_train": 64, "vae_decode": 256, "vae_train": 64}
CASES = tuple(BATCH)


def _case(config: dict, case: str, compile: bool) -> Callable[[], torch.Tensor]:
    """A call of ``case`` on fixed inputs, returning what is compared (outputs, or input gradients)."""
    gen = torch.Generator().manual_seed(0)
    dtype = cpu_autocast_dtype("auto")
    if case.startswith("classifier"):
        entry = {**config["models"]["control_classifier"], "compile": compile}
        model = ModelCache("cpu").get(entry, "models.control_classifier")
        x = torch.rand(BATCH[case], 3, 64, 64, generator=gen) * 2 - 1
        fn = lambda inp: torch.stack(list(model(inp).values()), -1)  # noqa: E731
    else:
        entry = {**config["generators"]["vae"]["generator"], "compile": compile}
        model = build_generator(entry)
        x = torch.randn(BATCH[case], model.latent_dim, generator=gen)
        fn = model
    if not case.endswith("train"):
        return lambda: _no_grad(fn, x)

    def train() -> torch.Tensor:
        inp = x.clone().requires_grad_(True)
        with autocast_context(dtype):
            out = fn(inp)
        out.float().square().mean().backward()
        return inp.grad

    return train


def _no_grad(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return fn(x)


def measure(config: dict, case: str, repeats: int, warmup: int) -> dict[str, float]:
    """Median seconds of the eager and the compiled call of ``case``; their outputs' largest difference."""
    out, seconds = {}, {}
    for compiled in (False, True):
        result, seconds[compiled] = timed(_case(config, case, compiled), repeats, warmup)
        out[compiled] = result.float()
    return {
        "eager_s": round(seconds[False], 4),
        "compiled_s": round(seconds[True], 4),
        "eager_over_compiled": round(seconds[False] / seconds[True], 2),
        "max_abs_diff": float(f"{(out[True] - out[False]).abs().max().item():.2e}"),
    }


@click.command()
@click.option("--case", "cases", multiple=True, type=click.Choice(CASES), default=CASES, show_default=True)
@click.option("--repeats", type=int, default=10, show_default=True)
@click.option("--warmup", type=int, default=3, show_default=True)
@click.option("--threads", type=int, default=1, show_default=True)
@click.option("--config", "config_path", type=click.Path(path_type=Path), default=ROOT / "config/config.yaml")
@click.option("--out", type=click.Path(path_type=Path), default=RESULTS, show_default=True)
def main(cases, repeats: int, warmup: int, threads: int, config_path: Path, out: Path) -> None:
    """Time each CASE eagerly and compiled; append one row per case to OUT."""
    torch.set_num_threads(threads)
    reuse_freed_memory()
    config = yaml.safe_load(config_path.read_text())
    for case in cases:
        row = {
            **machine_columns(threads),
            "case": case,
            "batch": BATCH[case],
            **measure(config, case, repeats, warmup),
        }
        append_row(out, row)
        click.echo(row)


if __name__ == "__main__":
    main()
