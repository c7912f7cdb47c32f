"""Does the world StyleGAN2 draw each attribute where the renderer does? A short-run probe of training arms.

Each arm trains the world StyleGAN2 (:mod:`promptgen.world.train_stylegan2`) for ``--steps`` steps with its
config overrides, from ``--init`` (e.g. the distillation-only snapshot of a full run) or from scratch, and
is then judged on world criteria only: per attribute head, the evaluation classifier's positive rate on
G(z) at ψ = 1 where the renderer's oracle at the same z says present (``recall``) and absent
(``false_positive``), and its agreement with the oracle. A generator that draws an attribute without
regard to z has the two equal; the renderer's own images give the ceiling (arm ``render``). With
``--data`` (the world dataset) each arm also gets its FID on the world's features (``n`` samples: biased
upwards against the 10 000-sample figure of ``results/world/metrics.csv``, comparable between arms).

Usage::

    python benchmarks/stylegan2_conditioning.py --init weights.step1500.pt --steps 1000 \\
        --arm unconditional '{"condition_labels": []}' \\
        --arm conditional '{"condition_labels": ["male", "eyeglasses", "blond", "young"]}'

Appends one row per arm and head to ``benchmarks/results/stylegan2_conditioning.csv``.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import tempfile
from pathlib import Path

import click
import torch

from promptgen.generators import build_generator
from promptgen.world.render import SynthRenderer
from promptgen.world.train_clip_vae import _load
from promptgen.world.train_stylegan2 import StyleGAN2TrainConfig, oracle_agreement_rows, train_stylegan2
from promptgen.world.vae import _fid, sample_images

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import append_row, machine_columns  # noqa: E402  (the benchmarks share one CSV writer)

RESULTS = Path(__file__).parent / "results" / "stylegan2_conditioning.csv"
WEIGHTS = Path(__file__).parents[1] / "weights" / "world"


def _judge(generator, classifier, n: int) -> dict[str, dict[str, float]]:
    """Per head: agreement, recall and false-positive rate of the evaluation classifier on ``generator``."""
    rows = oracle_agreement_rows(generator, classifier, 0, n, seed=123)
    out: dict[str, dict[str, float]] = {}
    for metric, value, *_ in rows:
        _, stat, name, head = metric.split(".")
        if name == "stylegan2":
            out.setdefault(head, {})[stat.removeprefix("approx_oracle_")] = value
    return out


def _arm_config(base: StyleGAN2TrainConfig, name: str, overrides: str) -> StyleGAN2TrainConfig:
    """``base`` with an arm's JSON overrides; a malformed text or an unknown key fails naming the arm."""
    try:
        cfg = dataclasses.replace(base, **json.loads(overrides))
        return dataclasses.replace(cfg, condition_labels=tuple(cfg.condition_labels))
    except (ValueError, TypeError) as err:
        raise click.BadParameter(f"arm {name!r}: {err}", param_hint="--arm") from None


@click.command()
@click.option("--arm", "arms", type=(str, str), multiple=True, required=True, help="NAME 'JSON overrides'.")
@click.option("--steps", type=click.IntRange(min=1), required=True, help="Training steps of every arm.")
@click.option("--init", type=click.Path(dir_okay=False, exists=True, path_type=Path), default=None)
@click.option("--n", type=click.IntRange(min=100), default=2000, show_default=True, help="Judged samples.")
@click.option("--data", type=click.Path(dir_okay=False, exists=True, path_type=Path), default=None)
@click.option("--threads", type=int, default=2, show_default=True)
@click.option("--out", type=click.Path(path_type=Path), default=RESULTS, show_default=True)
def main(arms, steps: int, init: Path | None, n: int, data: Path | None, threads: int, out: Path) -> None:
    """Train each ARM for STEPS steps and append its per-head agreement, recall and false positives to OUT."""
    torch.set_num_threads(threads)
    classifier = _load("world-classifier", WEIGHTS / "attributes_eval.pt")
    fid = None
    if data is not None:
        from promptgen.world.dataset import load_dataset

        features, reference = _load("world-features", WEIGHTS / "features.pt"), load_dataset(data).images

        def fid(gen) -> float:
            return _fid(features, sample_images(gen, n, 0, 250), reference, 250)

    base = StyleGAN2TrainConfig(steps=steps, distill_only_steps=0)
    configs = {name: _arm_config(base, name, overrides) for name, overrides in arms}  # all checked up front
    machine = machine_columns(threads)

    def append(name: str, info: dict, heads: dict[str, dict[str, float]]) -> None:
        for head, stats in heads.items():
            row = {
                **machine,
                "arm": name,
                "overrides": dict(arms).get(name, ""),
                "init": init.name if init and info else "",
                "steps": info.get("steps", ""),
                "wall_seconds": round(info["wall_seconds"], 1) if info else "",
                "fid": info.get("fid", ""),
                "head": head,
                "n": n,
                **{k: round(v, 4) for k, v in stats.items()},
            }
            append_row(out, row)

    append("render", {}, _judge(SynthRenderer(base.latent_dim, 64), classifier, n))
    with tempfile.TemporaryDirectory() as tmp:
        for name, cfg in configs.items():  # each arm's rows are written as soon as it is judged
            info = train_stylegan2(cfg, Path(tmp) / f"{name}.pt", init=init)
            gen = build_generator({"kind": "stylegan2", "checkpoint": str(Path(tmp) / f"{name}.pt")}, psi=1.0)
            info = {**info, "fid": round(fid(gen), 2) if fid else ""}
            heads = _judge(gen, classifier, n)
            append(name, info, heads)
            click.echo(f"{name}: {json.dumps(heads)}")


if __name__ == "__main__":
    main()
