"""Building the world: train its off-the-shelf models, write the manifest, the dataset and the metrics.

Library functions behind ``python -m promptgen.world`` (see :mod:`promptgen.world.__main__`).
"""

from __future__ import annotations

import csv
import fcntl
import json
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import torch

from promptgen.download import sha256_file
from promptgen.world.metrics import (
    Row,
    bias_rows,
    classifier_rows,
    control_rows,
    gradient_rows,
    held_out,
    identity_rows,
    linear_probe_rows,
    pose_rows,
    speed_rows,
)
from promptgen.world.nets import save_checkpoint
from promptgen.world.train import ANGLE_SCALE, ROLES, TrainSpec, train_role

__all__ = [
    "MANIFEST",
    "evaluate_models",
    "load_models",
    "merge_manifest",
    "train_models",
    "write_manifest",
    "write_rows",
]

MANIFEST = "MANIFEST.json"
STYLEGAN2_DIR = "stylegan2/"  # the world StyleGAN2's weights (promptgen.world.train_stylegan2)
STYLEGAN2_MAX_MINUTES = 45.0  # its training budget: wall minutes on two cores
_SG2_ROW = f"train_seconds.{STYLEGAN2_DIR}"


def train_models(
    out_dir: str | Path,
    roles: Iterable[str] | None = None,
    steps: int | None = None,
    latent_dim: int = 64,
    world_seed: int = 0,
    log: Callable[[str], None] | None = print,
) -> dict[str, dict]:
    """Train ``roles`` (default: all of :data:`ROLES`) from scratch into ``out_dir``; update the manifest.

    Arguments:
        out_dir: weights folder (e.g. ``weights/world``).
        roles: subset of role names.
        steps: override every role's number of steps (smoke tests); ``None`` keeps the defaults.
        latent_dim, world_seed: the world the models are trained on.
        log: progress printer (``None`` for silence).
    """
    out_dir = Path(out_dir)
    entries = {}
    for name in roles or ROLES:
        role = ROLES[name]
        spec = role.spec if steps is None else TrainSpec(**{**role.spec.__dict__, "steps": steps})
        net, meta = train_role(role, spec, latent_dim, world_seed, log)
        meta |= {"role": name, "angle_scale": ANGLE_SCALE}
        save_checkpoint(
            out_dir / role.filename,
            net,
            name if name in ("pose", "identity", "features") else "classifier",
            meta,
        )
        entries[role.filename] = {"role": name, "seconds": round(meta["seconds"], 1), "steps": spec.steps}
        if log is not None:
            log(f"{role.filename}: {meta['seconds']:.0f} s")
    write_manifest(out_dir, entries)
    return entries


def merge_manifest(
    manifest: str | Path, entries: Mapping[str | Path, Mapping[str, Any]], rebuild: str
) -> Path:
    """Merge ``entries`` (file path -> metadata) into the JSON ``manifest`` with each file's sha256 and size.

    Paths are stored relative to the manifest's folder; entries of files not named keep their previous
    values. The read-merge-write holds an exclusive lock on ``<manifest>.lock`` and replaces the file
    atomically, so jobs that train side by side (``world_retrain``) never lose each other's entries.
    """
    manifest = Path(manifest)
    with open(manifest.with_name(manifest.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        files = json.loads(manifest.read_text())["files"] if manifest.is_file() else {}
        for path, meta in entries.items():
            stat = {"sha256": sha256_file(path), "bytes": Path(path).stat().st_size}
            files[str(Path(path).relative_to(manifest.parent))] = stat | dict(meta)
        text = json.dumps({"files": files, "rebuild": rebuild}, indent=2, sort_keys=True) + "\n"
        tmp = manifest.with_name(manifest.name + ".tmp")
        tmp.write_text(text)
        tmp.replace(manifest)
    return manifest


def write_manifest(out_dir: str | Path, entries: dict[str, dict]) -> Path:
    """Merge ``entries`` (file name -> metadata) into ``out_dir/MANIFEST.json`` (:func:`merge_manifest`)."""
    out_dir = Path(out_dir)
    files = {out_dir / name: meta for name, meta in entries.items()}
    return merge_manifest(out_dir / MANIFEST, files, "python -m promptgen.world train --out " + str(out_dir))


def load_models(weights: str | Path, device: str = "cpu") -> dict[str, torch.nn.Module]:
    """The world adapters from ``weights`` through :data:`promptgen.models.MODELS` (as a config would)."""
    from promptgen.models import MODELS
    from promptgen.world import models  # noqa: F401  (registers the world kinds)

    w = Path(weights)
    kinds = {
        "attributes-control": "world-classifier",
        "attributes-eval": "world-classifier",
        "categorical": "world-classifier",
        "pose": "world-pose",
        "identity": "world-id",
        "features": "world-features",
    }
    return {
        name: MODELS.build(
            {"kind": kind, "checkpoint": str(w / ROLES[name].filename), "device": device}, where=name
        )
        for name, kind in kinds.items()
    }


def evaluate_models(
    weights: str | Path,
    n_held_out: int = 4000,
    speed: bool = True,
    biases: bool = True,
    log: Callable[[str], None] | None = print,
    curvature: float = 0.0,
) -> list[Row]:
    """Every acceptance figure of the world models in ``weights`` on fresh held-out renders.

    Arguments:
        weights: folder with the six checkpoints (and the manifests).
        n_held_out: held-out renders for accuracies and pose errors.
        speed: also measure the renderer's throughput (slow on a busy machine).
        biases: also report the prior's measured biases (100 000 oracle samples).
        log: progress printer (``None`` for silence).
        curvature: the world's curvature (:mod:`promptgen.world.curvature`): every render and label is
            drawn from that world, and the linear-probe rows measure it.
    """
    models = load_models(weights)
    start = time.perf_counter()
    c = curvature
    data = held_out(n_held_out, curvature=c)
    rows: list[Row] = []
    for name in ("attributes-control", "attributes-eval", "categorical"):
        rows += classifier_rows(name, models[name], data)
    rows += pose_rows(models["pose"], data)
    rows += identity_rows(models["identity"], curvature=c)
    rows += gradient_rows({k: models[k] for k in ("attributes-control", "attributes-eval")}, curvature=c)
    rows += control_rows(models["attributes-control"], curvature=c)
    if speed:
        rows += speed_rows(curvature=c)
    if biases:
        rows += bias_rows(curvature=c)
    rows += linear_probe_rows(c)
    rows += training_rows(weights)
    if log is not None:
        log(f"evaluated in {time.perf_counter() - start:.0f} s")
    return rows


def training_rows(weights: str | Path, max_minutes: float = 25.0, max_mb: float = 50.0) -> list[Row]:
    """Training seconds per model from every ``MANIFEST*.json`` under ``weights``, their sum, the time of
    the two-core schedule of ``world_retrain``, and the size of all shipped world weights.

    ``world_retrain`` trains the VAE (``vae/world-vae.pt``) on one core while the other models train one
    after another on the other core, so its training time is max(VAE, sum of the rest); that row carries
    the threshold. Seconds recorded by a ``world_retrain`` run include the slowdown from the job on the
    other core; the shipped manifests' seconds come from the runs that made those files (see docs/world.md).
    The world StyleGAN2 (``stylegan2/``) trains as its own two-core job: its wall minutes get their own row
    against :data:`STYLEGAN2_MAX_MINUTES`.
    """
    rows: list[Row] = []
    own_job: list[Row] = []  # the StyleGAN2 trains as its own two-core job, outside that schedule
    for manifest in sorted(Path(weights).rglob("MANIFEST*.json")):
        for name, entry in json.loads(manifest.read_text()).get("files", {}).items():
            seconds = entry.get("seconds", entry.get("train_seconds"))
            if seconds is not None:
                target = own_job if name.startswith(STYLEGAN2_DIR) else rows
                target.append((f"train_seconds.{name}", float(seconds), "", True))
    for metric, seconds, _, _ in own_job:
        minutes = seconds / 60
        rows.append((metric, seconds, "", True))
        ok = minutes <= STYLEGAN2_MAX_MINUTES
        rows.append(
            (metric.replace("train_seconds", "train_minutes"), minutes, f"<={STYLEGAN2_MAX_MINUTES:g}", ok)
        )
    total = sum(r[1] for r in rows if r[0].startswith("train_seconds") and not r[0].startswith(_SG2_ROW))
    vae = sum(r[1] for r in rows if r[0] == "train_seconds.vae/world-vae.pt")
    two_core = max(vae, total - vae) / 60
    rows.append(("train_minutes.sum_over_models", total / 60, "", True))
    rows.append(("train_minutes.all_world_models", two_core, f"<={max_minutes:g}", two_core <= max_minutes))
    size = sum(f.stat().st_size for f in Path(weights).rglob("*") if f.is_file()) / 2**20
    rows.append(("weights.world_total_MB", size, f"<={max_mb:g}", size <= max_mb))
    return rows


def write_rows(rows: Iterable[Row], path: str | Path, include: Iterable[str | Path] = ()) -> Path:
    """Write ``metric,value,threshold,pass`` rows, then append the rows of other such CSVs (``include``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["metric", "value", "threshold", "pass"])
        for metric, value, threshold, ok in rows:
            w.writerow([metric, f"{value:.6g}", threshold, str(bool(ok))])
        for other in include:
            if Path(other).is_file():
                with open(other, newline="") as g:
                    w.writerows(list(csv.reader(g))[1:])
    return path
