"""Table 3: pose-conditioned INN with the pose energy and the paired identity energy.

The INN is conditioned on α = (α_x, α_y) ~ U(±range)² and trained with λ_pose d⟨R̂(x), R(α)R_can⟩² +
λ_ID (1 − cos⟨ID(x₀), ID(x)⟩), x₀ the same ε at α = 0. Reported: FID of G∘f (random α) and of G to the
reference statistics; same-ID and different-ID distances √(2(1 − cos)) over an identities × α-grid array
(each unordered pair once); and, where the generator has an oracle, the geodesic error between the requested
rotation R(α)R_can and the oracle's pose of the sample.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import torch

from eval.literature import literature_rows
from eval.metric_fid import feature_statistics, fid_from_statistics, load_statistics, save_statistics
from eval.metric_identity import identity_distances
from eval.specs import control_spec
from promptgen.checkpoint import load_inn
from promptgen.conditions import UniformCondition
from promptgen.device import resolve_device
from promptgen.energies import ModelCache
from promptgen.energies.pose import target_rotation
from promptgen.generators import build_generator
from promptgen.generators.composed import ComposedGenerator
from promptgen.registry import import_oracle
from promptgen.rotations import euler_xyz_to_matrix, geodesic_distance
from promptgen.sample import per_sample_normal

__all__ = ["evaluate_pose_inn", "pose_train_spec", "reference_statistics", "with_literature"]


def _condition(t3: Mapping[str, Any]) -> dict[str, Any]:
    r = float(t3["angle_range"])
    return {"kind": "uniform", "low": [-r, -r], "high": [r, r], "reference": [0.0, 0.0]}


def pose_train_spec(
    gen_cfg: Mapping[str, Any], models: Mapping[str, Any], t3: Mapping[str, Any], device: str
) -> dict[str, Any]:
    """Control spec: conditional INN, pose energy + paired identity energy."""
    energies = {
        "pose": {
            "kind": "pose",
            "weight": t3["pose_weight"],
            "model": models[t3["pose_model"]],
            "canonical": list(t3["canonical"]),
        },
        "identity": {"kind": "identity", "weight": t3["id_weight"], "model": models[t3["id_model"]]},
    }
    return control_spec(gen_cfg, t3, energies, device, t3["seed"], _condition(t3))


def reference_statistics(
    dataset_path: str, features: Mapping[str, Any], out: str, device: str, batch: int
) -> None:
    """FID reference statistics (mean, covariance) of a world dataset's images under ``features``."""
    from promptgen.world.dataset import load_dataset

    dev = resolve_device(device)
    extractor = ModelCache(dev).get(features, "models.features")
    data = load_dataset(dataset_path)
    batches = (data.float_images(slice(i, i + batch)).to(dev) for i in range(0, len(data), batch))
    save_statistics(out, *feature_statistics(extractor, batches))


def _images(gen, eps: torch.Tensor, cond: torch.Tensor | None, batch: int):
    for i in range(0, len(eps), batch):
        yield gen(eps[i : i + batch]) if cond is None else gen(eps[i : i + batch], cond[i : i + batch])


@torch.no_grad()
def evaluate_pose_inn(
    gen_name: str,
    gen_cfg: Mapping[str, Any],
    models: Mapping[str, Any],
    t3: Mapping[str, Any],
    inn_path: str,
    reference: str,
    device: str = "auto",
) -> pd.DataFrame:
    """Rows for the unmodified generator (FID) and the pose-conditioned PromptGen (all columns)."""
    dev = resolve_device(device)
    base = build_generator(gen_cfg["generator"], psi=gen_cfg["psi_fid"], device=dev)
    pg = ComposedGenerator(base, load_inn(inn_path, map_location=dev)[0])
    cache = ModelCache(dev)
    features = cache.get(models[t3["features_model"]], "models.features")
    ref = load_statistics(reference)
    n, bs, seed = int(t3["fid_samples"]), int(t3["batch_size"]), int(t3["seed"])
    eps = per_sample_normal(seed, range(n), base.latent_dim).to(dev)
    cond = UniformCondition(**{k: v for k, v in _condition(t3).items() if k != "kind"})
    alpha = cond.sample(n, torch.Generator().manual_seed(seed)).to(dev)
    fid_g = fid_from_statistics(feature_statistics(features, _images(base, eps, None, bs)), ref)
    fid_pg = fid_from_statistics(feature_statistics(features, _images(pg, eps, alpha, bs)), ref)

    # Identities × α-grid at the evaluation truncation.
    pg_eval = ComposedGenerator(
        build_generator(gen_cfg["generator"], psi=gen_cfg["psi_eval"], device=dev), pg.inn
    )
    k, g = int(t3["identities"]), int(t3["grid"])
    grid = cond.grid(g).to(dev)
    eps_id = per_sample_normal(seed + 1, range(k), base.latent_dim).to(dev).repeat_interleave(len(grid), 0)
    alphas = grid.repeat(k, 1)
    embedder = cache.get(models[t3["id_model"]], "models.identity")
    emb = torch.cat([embedder(x) for x in _images(pg_eval, eps_id, alphas, bs)]).cpu().numpy()
    same, diff = identity_distances(emb.reshape(k, len(grid), -1))
    row = {"generator": gen_name, "method": "PromptGen (pose + ID)", "fid": fid_pg, "dist_same_id": same}
    row.update(dist_diff_id=diff, fid_samples=n, identities=k, grid=f"{g}x{g}", source="measured")
    if gen_cfg.get("oracle"):
        z = torch.cat(
            [pg_eval.root_latent(e, a) for e, a in zip(eps_id.split(bs), alphas.split(bs), strict=True)]
        )
        truth = import_oracle(gen_cfg, gen_name)(z.cpu(), gen_cfg["psi_eval"])
        measured = euler_xyz_to_matrix(
            torch.stack([truth["pitch"], truth["yaw"], truth["roll"]], -1).double()
        )
        canonical = euler_xyz_to_matrix(torch.tensor(list(t3["canonical"]), dtype=torch.float64))
        requested = target_rotation(alphas.cpu().double(), canonical)
        err = torch.rad2deg(geodesic_distance(measured, requested)).numpy()
        row.update(pose_error_deg_mean=float(np.mean(err)), pose_error_deg_median=float(np.median(err)))
    unmodified = {
        "generator": gen_name,
        "method": "unmodified",
        "fid": fid_g,
        "fid_samples": n,
        "source": "measured",
    }
    return pd.DataFrame([unmodified, row])


def with_literature(measured: pd.DataFrame) -> pd.DataFrame:
    return pd.concat([measured, literature_rows("table3")], ignore_index=True)
