"""Table 4's time ratio where the generator's cost dominates, as in the paper: StyleGAN2 at 256 px on CPU.

PPGM's cost per sample is n Langevin steps, each a forward and backward pass through G and through CLIP on L
augmented copies; PromptGen's is one INN pass and one forward pass through G. So the ratio PPGM / PromptGen
is about n × (G fwd+bwd + L × CLIP fwd+bwd) / G fwd. On the embedded world (a 64-px renderer, L × CLIP
dominant) it is far above the paper's 107× at n = 50; this benchmark measures it where G dominates:

* G: the generator class of the ``stylegan2`` kind (:class:`StyleGAN2Generator`) around a StyleGAN2 network
  with random weights at ``--resolution`` (default 256), channels capped at ``--channel-max`` (config F
  below the cap), ψ = 1, noise ``const``;
* CLIP: the embedded world's tiny CLIP (weights/world/clip, through open_clip), L = ``--n-aug`` (the world
  Table 4's 8), λ = 500;
* the INN: the paper's size (8 blocks, hidden 256) with its initial weights (its cost does not depend on
  them).

Every sampler (PromptGen, the bare generator, PPGM at each n) draws ``--batch`` samples per round,
interleaved, for ``--repeats`` rounds after a warm-up round; the median round gives seconds per sample (as
``eval.table4``). Rows start with the machine columns every benchmark records (:mod:`machine`).

Usage: ``python benchmarks/table4_ratio_cpu.py --threads 1``; appends to
``benchmarks/results/table4_ratio_cpu.csv``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
import torch

from eval.table4 import median_seconds
from promptgen.baselines.langevin import langevin
from promptgen.energies.base import EnergySum
from promptgen.energies.clip import CLIPEnergy
from promptgen.flows import INN
from promptgen.generators.composed import ComposedGenerator
from promptgen.generators.stylegan2.generator import StyleGAN2Generator
from promptgen.generators.stylegan2.network import StyleGAN2Config, StyleGAN2Network, config_f_channels
from promptgen.models.clip import load_open_clip

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import append_row, machine_columns  # noqa: E402  (the benchmarks share one CSV writer)

__all__ = ["main", "run"]

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).parent / "results" / "table4_ratio_cpu.csv"
CLIP_DIR = ROOT / "weights" / "world" / "clip"
TEXT = "a photo of a baby"
CLIP_WEIGHT = 500.0  # the world's Table 4 λ
STEP_SIZE = 0.01  # η does not change the cost of a step
NOISE_STRENGTH_STD = 0.1  # random weights: give the zero-initialised noise inputs a non-trivial strength


def _generator(resolution: int, channel_max: int, seed: int) -> StyleGAN2Generator:
    torch.manual_seed(seed)
    channels = {r: min(c, channel_max) for r, c in config_f_channels(resolution).items()}
    net = StyleGAN2Network(StyleGAN2Config(img_resolution=resolution, channels=channels))
    net = net.eval().requires_grad_(False)
    with torch.no_grad():
        for name, p in net.named_parameters():
            if name.endswith("noise_strength"):
                p.normal_(0.0, NOISE_STRENGTH_STD)
    return StyleGAN2Generator(net, psi=1.0, noise_mode="const")


def run(
    resolution: int, channel_max: int, n_aug: int, steps: list[int], batch: int, repeats: int, threads: int
) -> list[dict[str, object]]:
    """Time every sampler; one CSV row each, with its ratio to PromptGen."""
    torch.set_num_threads(threads)
    gen = _generator(resolution, channel_max, 0)
    clip = load_open_clip(
        model="world-tiny-clip",
        pretrained=str(CLIP_DIR / "world-tiny-clip.pt"),
        model_config=str(CLIP_DIR / "world-tiny-clip.json"),
    )
    energy = EnergySum({"text": (CLIP_WEIGHT, CLIPEnergy(clip, TEXT, n_aug=n_aug))})
    pg = ComposedGenerator(gen, INN(gen.latent_dim, blocks=8, hidden=256, seed=0))
    eps = torch.randn(batch, gen.latent_dim, generator=torch.Generator().manual_seed(0))

    def feed_forward(g) -> None:
        with torch.no_grad():
            g(eps)

    samplers = {"PromptGen": lambda: feed_forward(pg), "generator": lambda: feed_forward(gen)}
    for n in steps:
        samplers[f"PPGM (n={n})"] = lambda n=n: langevin(gen, energy, batch, steps=n, step_size=STEP_SIZE)
    seconds = median_seconds(samplers, repeats, torch.device("cpu"))
    common = {
        **machine_columns(threads),
        "generator": f"stylegan2-random-{resolution}px-channels<={channel_max}",
        "clip": "world-tiny-clip",
        "n_aug": n_aug,
        "batch": batch,
        "repeats": repeats,
        "torch": torch.__version__,
    }
    base = seconds["PromptGen"] / batch
    return [
        {
            **common,
            "method": m,
            "seconds_per_sample": round(s / batch, 4),
            "ratio_to_promptgen": round(s / batch / base, 1),
        }
        for m, s in seconds.items()
    ]


@click.command()
@click.option("--resolution", type=int, default=256, show_default=True, help="StyleGAN2 output size.")
@click.option("--channel-max", type=int, default=64, show_default=True, help="Cap on channels per block.")
@click.option(
    "--n-aug", type=click.IntRange(min=0), default=8, show_default=True, help="L of the CLIP energy."
)
@click.option("--steps", type=int, multiple=True, default=(10, 50), show_default=True, help="PPGM's n.")
@click.option("--batch", type=click.IntRange(min=1), default=1, show_default=True, help="Samples per round.")
@click.option("--repeats", type=click.IntRange(min=1), default=3, show_default=True, help="Timed rounds.")
@click.option("--threads", type=click.IntRange(min=1), default=1, show_default=True, help="torch threads.")
@click.option(
    "--out", type=click.Path(path_type=Path), default=RESULTS, show_default=True, help="CSV to append."
)
def main(
    resolution: int,
    channel_max: int,
    n_aug: int,
    steps: tuple[int, ...],
    batch: int,
    repeats: int,
    threads: int,
    out: Path,
) -> None:
    """Time PromptGen, the bare generator and PPGM on a 256-px StyleGAN2 and append rows to the CSV."""
    rows = run(resolution, channel_max, n_aug, list(steps), batch, repeats, threads)
    out.parent.mkdir(parents=True, exist_ok=True)
    for row in rows:
        append_row(out, row)
    for row in rows:
        click.echo(
            f"{row['method']}: {row['seconds_per_sample']} s/sample ({row['ratio_to_promptgen']}× PromptGen)"
        )


if __name__ == "__main__":
    main()
