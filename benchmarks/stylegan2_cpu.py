"""CPU benchmark of the full-size StyleGAN2 FFHQ-1024 (config F) network with random weights.

Seconds per image: wall-clock time of ``--images`` forward passes at batch 1 after one untimed warm-up, in
``torch.no_grad()`` at float32, ψ = 0.7, noise mode ``const``. Memory: peak resident set size of the whole
process from ``resource.getrusage(RUSAGE_SELF).ru_maxrss`` (Linux reports KiB), which includes the Python
interpreter, torch and the ~116 MiB of weights; the peak before the first forward is recorded too, so the
forward's share is the difference. (tracemalloc is not used: it does not see torch's C++ allocations.)

Usage: ``python benchmarks/stylegan2_cpu.py --threads 1 --images 3``; appends a row to
``benchmarks/results/stylegan2_cpu.csv``.
"""

from __future__ import annotations

import datetime as dt
import platform
import resource
import sys
import time
from pathlib import Path

import click
import torch

from promptgen.generators.stylegan2.network import StyleGAN2Config, StyleGAN2Network

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import append_row, calibration_columns  # noqa: E402  (the benchmarks share one CSV writer)

__all__ = ["main", "peak_rss_mib", "run"]

RESULTS = Path(__file__).parent / "results" / "stylegan2_cpu.csv"
KIB_PER_MIB = 1024
PSI = 0.7  # the paper's evaluation truncation
NOISE_STRENGTH_STD = 0.1  # random weights: give the (zero-initialised) noise inputs a non-trivial strength


def peak_rss_mib() -> float:
    """Peak resident set size of this process so far, MiB (Linux ``ru_maxrss`` is in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / KIB_PER_MIB


def _network(seed: int) -> StyleGAN2Network:
    torch.manual_seed(seed)
    net = StyleGAN2Network(StyleGAN2Config()).eval().requires_grad_(False)
    for name, p in net.named_parameters():
        if name.endswith("noise_strength"):
            p.normal_(0.0, NOISE_STRENGTH_STD)
    return net


@torch.no_grad()
def run(images: int, threads: int, seed: int = 0) -> dict[str, object]:
    """Build the network, time ``images`` single-image forwards, and return one CSV row."""
    torch.set_num_threads(threads)
    net = _network(seed)
    rss_before = peak_rss_mib()
    z = torch.randn(images + 1, net.cfg.z_dim, generator=torch.Generator().manual_seed(seed))
    net(z[:1], PSI)  # warm-up
    start = time.perf_counter()
    for i in range(1, images + 1):
        img = net(z[i : i + 1], PSI)
    seconds = (time.perf_counter() - start) / images
    assert img.shape == (1, 3, net.cfg.img_resolution, net.cfg.img_resolution)
    return {
        "date": dt.date.today().isoformat(),
        "network": "stylegan2-config-f-ffhq1024-random",
        "resolution": net.cfg.img_resolution,
        "parameters": sum(p.numel() for p in net.parameters()),
        "dtype": "float32",
        "batch": 1,
        "images": images,
        "threads": threads,
        "seconds_per_image": round(seconds, 3),
        "peak_rss_mib": round(peak_rss_mib(), 1),
        "peak_rss_before_forward_mib": round(rss_before, 1),
        "memory_method": "resource.getrusage(RUSAGE_SELF).ru_maxrss",
        "torch": torch.__version__,
        "cpu": platform.processor() or platform.machine(),
    }


@click.command()
@click.option("--images", type=int, default=3, show_default=True, help="Timed single-image forwards.")
@click.option("--threads", type=int, default=1, show_default=True, help="torch CPU threads.")
@click.option(
    "--out", type=click.Path(path_type=Path), default=RESULTS, show_default=True, help="CSV to append."
)
def main(images: int, threads: int, out: Path) -> None:
    """Benchmark the FFHQ-1024 StyleGAN2 forward on CPU and append a row to the results CSV."""
    row = {**run(images, threads), **calibration_columns()}
    append_row(out, row)
    click.echo(row)


if __name__ == "__main__":
    main()
