"""Cold-cache ``torch.compile`` time of the pipeline's compiled call sites: the first-use figures in logs.

For each site (the renderer, the VAE decoder, a world classifier) and each mode (``infer``: the first call
in ``torch.no_grad()``; ``train``: the first call with gradients plus the first backward pass, which
Inductor compiles then), one fresh process with an empty Inductor cache compiles one chunk of 64 at one
thread, with Inductor's parallel compile workers off, and reports wall-clock and CPU seconds (the
process's and its finished children's: the C++ compiler). On a busy machine wall time grows with the load
and CPU time barely does, so the CPU seconds estimate the wall time on an idle machine; the 1-minute load
average is recorded.

Usage: ``python benchmarks/compile_times.py``; appends rows to ``benchmarks/results/compile_times.csv``.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import click

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import append_row, machine_columns  # noqa: E402  (the benchmarks share one CSV writer)

__all__ = ["main", "measure"]

RESULTS = Path(__file__).parent / "results" / "compile_times.csv"
ROOT = Path(__file__).resolve().parents[1]
SITES = ("synth-render", "world-vae", "world-classifier")


def _cpu_seconds() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _build(site: str):
    """The compiled callable of ``site`` and one chunk of its input."""
    import torch

    from promptgen.energies import ModelCache
    from promptgen.generators import build_generator

    if site == "synth-render":
        gen = build_generator({"kind": "synth-render", "latent_dim": 64, "compile": True})
        return gen, torch.randn(64, 64)
    if site == "world-vae":
        entry = {"kind": "world-vae", "checkpoint": "weights/world/vae/world-vae.pt", "compile": True}
        gen = build_generator(entry)
        return gen, torch.randn(64, gen.latent_dim)
    entry = {"kind": "world-classifier", "checkpoint": "weights/world/attributes_control.pt", "compile": True}
    model = ModelCache("cpu").get(entry, "benchmark")
    return (lambda x: torch.cat([v.reshape(64, -1) for v in model(x).values()], 1)), torch.rand(
        64, 3, 64, 64
    ) * 2 - 1


def measure(site: str, mode: str) -> dict[str, float]:
    """Wall and CPU seconds of the first (compiling) use of ``site`` in ``mode``, in this process."""
    import torch

    torch.set_num_threads(1)
    fn, x = _build(site)
    wall, cpu = time.monotonic(), _cpu_seconds()
    if mode == "train":
        x.requires_grad_(True)
        fn(x).float().square().mean().backward()
    else:
        with torch.no_grad():
            fn(x)
    return {"wall_s": round(time.monotonic() - wall, 1), "cpu_s": round(_cpu_seconds() - cpu, 1)}


def _one(site: str, mode: str) -> dict[str, float]:
    """:func:`measure` in a fresh process with an empty Inductor cache."""
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "TORCHINDUCTOR_CACHE_DIR": cache, "OMP_NUM_THREADS": "1"}
        env["TORCHINDUCTOR_COMPILE_THREADS"] = "1"  # compile in this process, so its CPU time is counted
        env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
        code = f"import json, benchmarks.compile_times as b; print(json.dumps(b.measure({site!r}, {mode!r})))"
        out = subprocess.run(
            [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
        )
        return json.loads(out.stdout.strip().splitlines()[-1])


@click.command()
@click.option("--site", "sites", multiple=True, type=click.Choice(SITES), help="Default: every site.")
def main(sites: tuple[str, ...]) -> None:
    """Measure every site in both modes; append the rows to benchmarks/results/compile_times.csv."""
    for site in sites or SITES:
        for mode in ("infer", "train"):
            measured = _one(site, mode)  # before the machine columns: their load reading follows the run
            row = {**machine_columns(1), "site": site, "mode": mode, **measured}
            click.echo(json.dumps(row))
            append_row(RESULTS, row)


if __name__ == "__main__":
    main()
