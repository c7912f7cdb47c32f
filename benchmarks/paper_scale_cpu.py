"""CPU cost of the paper-world code paths at the paper's sizes, with random weights.

CLIP ViT-B/32 (open_clip ``ViT-B-32-quickgelu``, the architecture of the paper's OpenAI weights, built with
``pretrained=None``) and a full-size StyleGAN2 FFHQ-1024 (config F) with random weights — no checkpoint is
needed — run through the library's own code paths:

* ``generator_forward``: G(z) for a batch, no gradients (the part of a Langevin call spent rendering its
  final samples);
* ``clip_energy``: one CLIP-energy evaluation (L DiffAugment copies of each image, 1 − cos; no gradients);
* ``ppgm_langevin_step``: ``promptgen.baselines.langevin`` with ``steps=1`` (one back-propagation through
  CLIP and G, plus the final render), on ``batch`` chains;
* ``promptgen_train_step``: ``promptgen.train.train`` with ``TrainConfig(steps=1, batch_size=batch)``
  (INN forward, G, CLIP energy, backward, AdamW step, checkpoint writes).

Each row is one wall-clock measurement after an untimed warm-up of G. The paper's L is 50 (docs/design.md §7);
``--n-aug`` takes a smaller one, and the CSV records it. Usage:
``python benchmarks/paper_scale_cpu.py --threads 2 --n-aug 50`` writes
``benchmarks/results/paper_scale_cpu.csv`` (rows appended).
"""

from __future__ import annotations

import datetime as dt
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import click
import torch

from promptgen.baselines.langevin import langevin
from promptgen.energies.base import EnergyInput, EnergySum
from promptgen.energies.clip import CLIPEnergy
from promptgen.flows import INN
from promptgen.generators.stylegan2.generator import StyleGAN2Generator
from promptgen.generators.stylegan2.network import StyleGAN2Config, StyleGAN2Network
from promptgen.models.clip import load_open_clip
from promptgen.train import TrainConfig, train

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import append_row, calibration_columns  # noqa: E402  (the benchmarks share one CSV writer)

__all__ = ["main", "run"]

RESULTS = Path(__file__).parent / "results" / "paper_scale_cpu.csv"
CLIP_MODEL = "ViT-B-32-quickgelu"
TEXT = "a photo of a baby"  # one of the paper's FFHQ prompts
CLIP_WEIGHT = 600.0  # the paper's weight for this prompt (clip_a_baby_ffhq.cfg)
NOISE_STRENGTH_STD = 0.1  # random weights: give the zero-initialised noise inputs a non-trivial strength


def _generator(seed: int) -> StyleGAN2Generator:
    torch.manual_seed(seed)
    net = StyleGAN2Network(StyleGAN2Config()).eval().requires_grad_(False)
    with torch.no_grad():
        for name, p in net.named_parameters():
            if name.endswith("noise_strength"):
                p.normal_(0.0, NOISE_STRENGTH_STD)
    return StyleGAN2Generator(net, psi=1.0, noise_mode="const")


def _timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def run(batch: int, n_aug: int, threads: int, seed: int = 0) -> list[dict[str, object]]:
    """Build CLIP and G with random weights, time the four operations, return one CSV row each."""
    torch.set_num_threads(threads)
    gen = _generator(seed)
    clip = load_open_clip(model=CLIP_MODEL, pretrained=None)
    energy = EnergySum({"clip": (CLIP_WEIGHT, CLIPEnergy(clip, TEXT, n_aug=n_aug))})
    z = torch.randn(batch, gen.latent_dim, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        gen(z[:1])  # warm-up
        seconds = {"generator_forward": _timed(lambda: gen(z))}
        x = gen(z)
        rng = torch.Generator().manual_seed(seed)
        seconds["clip_energy"] = _timed(lambda: energy(EnergyInput(x=x, generator=rng)))
    seconds["ppgm_langevin_step"] = _timed(lambda: langevin(gen, energy, batch, steps=1, batch_size=batch))
    inn = INN(gen.latent_dim, seed=seed)
    cfg = TrainConfig(steps=1, batch_size=batch, checkpoint_every=1, seed=seed)
    with tempfile.TemporaryDirectory() as out:
        seconds["promptgen_train_step"] = _timed(lambda: train(gen, inn, energy, cfg, out, progress=False))
    common = {
        "date": dt.date.today().isoformat(),
        "generator": "stylegan2-config-f-ffhq1024-random",
        "clip_model": f"{CLIP_MODEL}-random",
        "batch": batch,
        "n_aug": n_aug,
        "threads": threads,
        "dtype": "float32",
        "torch": torch.__version__,
        "cpu": platform.processor() or platform.machine(),
    }
    return [
        {**common, "operation": op, "seconds": round(s, 2), "seconds_per_sample": round(s / batch, 2)}
        for op, s in seconds.items()
    ]


@click.command()
@click.option("--batch", type=click.IntRange(min=1), default=2, show_default=True, help="Images per step.")
@click.option("--n-aug", type=click.IntRange(min=0), default=50, show_default=True, help="L (paper: 50).")
@click.option("--threads", type=click.IntRange(min=1), default=2, show_default=True, help="torch threads.")
@click.option(
    "--out", type=click.Path(path_type=Path), default=RESULTS, show_default=True, help="CSV to append."
)
def main(batch: int, n_aug: int, threads: int, out: Path) -> None:
    """Time CLIP energy, one PPGM Langevin step and one PromptGen step at paper sizes on CPU."""
    rows = [{**row, **calibration_columns()} for row in run(batch, n_aug, threads)]
    for row in rows:
        append_row(out, row)
    for row in rows:
        click.echo(f"{row['operation']}: {row['seconds']} s (batch {batch}, L = {n_aug})")


if __name__ == "__main__":
    main()
