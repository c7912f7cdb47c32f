"""Train, ship and evaluate the world's tiny CLIP and VAE in one call (or one command).

    python -m promptgen.world dataset --out results/world/dataset.pt --n 16000 --seed 0
    python -m promptgen.world.train_clip_vae --train results/world/dataset.pt --out weights/world

writes ``weights/world/clip/world-tiny-clip.{json,pt}``, ``weights/world/vae/world-vae.pt`` and the manifest
``weights/world/MANIFEST-clip-vae.json`` (sha256, size, seed, training seconds, producing call), then the
acceptance rows ``metric,value,threshold,pass`` to ``results/world/metrics-clip-vae.csv`` (merged into
``results/world/metrics.csv`` by ``python -m promptgen.world metrics --include ...``). The CLIP figures use
held-out renders (:func:`promptgen.world.metrics.held_out`); the VAE's use the world's FID feature
extractor and evaluation classifier.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import click
import torch
from torch import Tensor

from promptgen.allocator import reuse_freed_memory
from promptgen.world.build import merge_manifest, write_rows
from promptgen.world.clip import (
    WORLD_CLIP,
    ClipTrainConfig,
    Row,
    clip_metrics,
    load_world_clip,
    train_tiny_clip,
)
from promptgen.world.dataset import WorldDataset, load_dataset
from promptgen.world.vae import VaeTrainConfig, train_vae, vae_metrics

__all__ = [
    "MANIFEST",
    "evaluate_clip_vae",
    "main",
    "train_clip_vae",
    "weight_paths",
    "write_manifest",
]

MANIFEST = "MANIFEST-clip-vae.json"


def weight_paths(out_dir: str | Path) -> dict[str, Path]:
    """Where the tiny CLIP's config and checkpoint and the VAE checkpoint live under ``out_dir``."""
    out_dir = Path(out_dir)
    return {
        "clip_config": out_dir / "clip" / f"{WORLD_CLIP}.json",
        "clip": out_dir / "clip" / f"{WORLD_CLIP}.pt",
        "vae": out_dir / "vae" / "world-vae.pt",
    }


def write_manifest(out_dir: str | Path, entries: Mapping[str | Path, Mapping[str, Any]]) -> Path:
    """Merge ``entries`` (path -> metadata) into ``MANIFEST-clip-vae.json`` (see
    :func:`promptgen.world.build.merge_manifest`: sha256, size, file lock), paths relative to ``out_dir``."""
    rebuild = f"python -m promptgen.world.train_clip_vae --train results/world/dataset.pt --out {out_dir}"
    return merge_manifest(Path(out_dir) / MANIFEST, entries, rebuild)


def _provenance(data: WorldDataset, seed: int, seconds: float) -> dict[str, Any]:
    keys = ("seed", "world_seed", "latent_dim")
    dataset = {"n": len(data), **{k: data.meta[k] for k in keys if k in data.meta}}
    return {"seed": seed, "train_seconds": round(seconds, 1), "dataset": dataset}


def train_clip_vae(
    data: WorldDataset,
    out_dir: str | Path = "weights/world",
    clip_cfg: ClipTrainConfig | None = None,
    vae_cfg: VaeTrainConfig | None = None,
    models: tuple[str, ...] = ("clip", "vae"),
) -> dict[str, float]:
    """Train the tiny CLIP and/or the VAE on the dataset's renders and labels; save them; update the manifest.

    Arguments:
        data: the world dataset (renders, oracle labels).
        out_dir: the weights folder (see :func:`weight_paths`).
        clip_cfg: tiny CLIP hyper-parameters.
        vae_cfg: VAE hyper-parameters.
        models: which of ``"clip"``, ``"vae"`` to train.

    Returns:
        training seconds per trained model.
    """
    paths, seconds, entries = weight_paths(out_dir), {}, {}
    if "clip" in models:
        cfg = clip_cfg or ClipTrainConfig()
        seconds["clip"] = train_tiny_clip(data.images, data.labels, paths["clip"].parent, cfg)["seconds"]
        entries[paths["clip_config"]] = {"model": "tiny CLIP open_clip model config"}
        entries[paths["clip"]] = {"model": "tiny CLIP"} | _provenance(data, cfg.seed, seconds["clip"])
    if "vae" in models:
        cfg = vae_cfg or VaeTrainConfig()
        result = train_vae(data.images, paths["vae"], cfg)
        seconds["vae"] = result["seconds"]
        meta = {"model": "world VAE", "precision": result["precision"]}
        entries[paths["vae"]] = meta | _provenance(data, cfg.seed, seconds["vae"])
    write_manifest(out_dir, entries)
    return seconds


def _pending(metric: str, why: str) -> Row:
    return (metric, float("nan"), f"pending: {why}", False)


def evaluate_clip_vae(
    heldout_images: Tensor,
    heldout_labels: Mapping[str, Tensor],
    data_images: Tensor,
    out_dir: str | Path = "weights/world",
    features: Callable[[Tensor], Tensor] | None = None,
    classifier: Callable[[Tensor], Mapping[str, Tensor]] | None = None,
    n_samples: int = 10_000,
    seed: int = 0,
) -> list[Row]:
    """Acceptance rows ``(metric, value, threshold, pass)`` of the tiny CLIP and the VAE in ``out_dir``.

    Arguments:
        heldout_images: renders used by no training (uint8 or float in [-1, 1]) for the CLIP figures and
            the FID floor.
        heldout_labels: their oracle labels.
        data_images: the training dataset's renders (the VAE's FID and attribute-share reference).
        out_dir: where the weights are (see :func:`weight_paths`).
        features: the world's FID feature extractor (images in [-1, 1] -> (N, D)); ``None``: VAE pending.
        classifier: the world's *evaluation* attribute classifier; ``None``: VAE pending.
        n_samples: VAE samples for FID and shares.
        seed: seed of the VAE's latents.
    """
    from promptgen.generators import build_generator

    paths = weight_paths(out_dir)
    rows = clip_metrics(load_world_clip(paths["clip"], paths["clip_config"]), heldout_images, heldout_labels)
    if features is None or classifier is None:
        rows.append(_pending("vae.fid_world", "no feature extractor or evaluation classifier"))
    elif not paths["vae"].is_file():
        rows.append(_pending("vae.fid_world", f"no VAE checkpoint at {paths['vae']}"))
    else:
        vae = build_generator({"kind": "world-vae", "checkpoint": str(paths["vae"])}, psi=1.0)
        ref = heldout_images[:n_samples]
        rows += vae_metrics(vae, data_images, features, classifier, n_samples, seed, reference_images=ref)
    return rows


def _load(kind: str, checkpoint: Path) -> Any:
    from promptgen.models import MODELS
    from promptgen.world import models  # noqa: F401  (registers the world adapter kinds)

    if not checkpoint.is_file():
        return None
    return MODELS.build({"kind": kind, "checkpoint": str(checkpoint)}, where=str(checkpoint)).eval()


@click.command()
@click.option(
    "--train",
    "train_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    help="World dataset to train on (written by `python -m promptgen.world dataset`).",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("weights/world"),
    show_default=True,
    help="Weights folder: clip/, vae/ and MANIFEST-clip-vae.json go here.",
)
@click.option(
    "--metrics",
    "metrics_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("results/world/metrics-clip-vae.csv"),
    show_default=True,
    help="Acceptance rows (metric,value,threshold,pass).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Training seed of both models.")
@click.option(
    "--n-held-out", type=int, default=4000, show_default=True, help="Held-out renders to evaluate on."
)
@click.option(
    "--n-samples", type=int, default=10_000, show_default=True, help="VAE samples for FID and shares."
)
@click.option(
    "--model",
    "models",
    multiple=True,
    type=click.Choice(["clip", "vae"]),
    default=("clip", "vae"),
    show_default=True,
    help="Which models to train.",
)
@click.option("--skip-training", is_flag=True, help="Only evaluate the weights already in --out.")
@click.option(
    "--evaluate/--no-evaluate",
    default=True,
    show_default=True,
    help="Write the acceptance rows to --metrics after training (needs features.pt, attributes_eval.pt).",
)
@click.option(
    "--threads",
    type=int,
    default=1,
    show_default=True,
    help="torch intra-op threads (1 on a shared machine: OpenMP threads spin-wait under contention).",
)
def main(
    train_path: Path,
    out_dir: Path,
    metrics_path: Path,
    seed: int,
    models: tuple[str, ...],
    n_held_out: int,
    n_samples: int,
    skip_training: bool,
    evaluate: bool,
    threads: int,
) -> None:
    """Train the tiny CLIP and the VAE on a world dataset, ship them with a manifest, write acceptance rows.

    The VAE is evaluated with the world's FID features and evaluation classifier from --out
    (features.pt, attributes_eval.pt); without them its rows are marked pending.
    """
    from promptgen.world.metrics import held_out

    torch.set_num_threads(threads)
    reuse_freed_memory()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    data = load_dataset(train_path)
    if not skip_training:
        cfgs = ClipTrainConfig(seed=seed, threads=threads), VaeTrainConfig(seed=seed, threads=threads)
        seconds = train_clip_vae(data, out_dir, *cfgs, models=models)
        click.echo("trained: " + ", ".join(f"{k} {v:.0f} s" for k, v in seconds.items()))
    if not evaluate:
        return
    test = held_out(n_held_out)
    features = _load("world-features", out_dir / "features.pt")
    classifier = _load("world-classifier", out_dir / "attributes_eval.pt")
    rows = evaluate_clip_vae(test.images, test.labels, data.images, out_dir, features, classifier, n_samples)
    write_rows(rows, metrics_path)
    for metric, value, threshold, ok in rows:
        click.echo(f"{metric},{value:.6g},{threshold},{ok}")


if __name__ == "__main__":
    main()
