"""Table 3: pose-conditioned INN with the pose energy and the paired identity energy.

The INN is conditioned on α = (α_x, α_y) ~ U(±range)² and trained with λ_pose d⟨R̂(x), R(α)R_can⟩² +
λ_ID (1 − cos⟨ID(x₀), ID(x)⟩), x₀ the same ε at α = 0. Reported, all at the generator's ``psi_fid``
(the paper: ψ = 1): FID of G∘f (random α) and of G to the reference statistics, through clean-fid
(:mod:`eval.metric_fid`); same-ID and different-ID distances √(2(1 − cos)) of identities at independent
random poses (:mod:`eval.metric_identity`); and, where the generator has an oracle, the geodesic error between
the requested rotation R(α)R_can and the oracle's pose of the sample.
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

    def batches():
        return (data.float_images(slice(i, i + batch)) for i in range(0, len(data), batch))

    save_statistics(out, *feature_statistics(extractor, batches, len(data), batch, dev))


def _images(gen, eps: torch.Tensor, cond: torch.Tensor | None, batch: int):
    for i in range(0, len(eps), batch):
        yield gen(eps[i : i + batch]) if cond is None else gen(eps[i : i + batch], cond[i : i + batch])


def _embed(embedder, gen, eps: torch.Tensor, alpha: torch.Tensor, batch: int) -> np.ndarray:
    return torch.cat([embedder(x) for x in _images(gen, eps, alpha, batch)]).cpu().numpy()


def _pose_error(gen_name, gen_cfg, t3, pg, eps, alpha, batch: int) -> dict[str, float]:
    """Geodesic error (degrees) between the requested rotation R(α)R_can and the oracle's pose.

    The oracle reports (pitch, yaw, roll) in the embedded world's convention (:mod:`promptgen.world.pose`,
    R_z R_y R_x); the request is built in the paper's (R_x R_y of α, then R_can).
    """
    from promptgen.world.pose import angles_to_rotation

    z = torch.cat([pg.root_latent(e, a) for e, a in zip(eps.split(batch), alpha.split(batch), strict=True)])
    truth = import_oracle(gen_cfg, gen_name)(z.cpu(), gen_cfg["psi_fid"])
    measured = angles_to_rotation(*(truth[k].double() for k in ("pitch", "yaw", "roll")))
    canonical = euler_xyz_to_matrix(torch.tensor(list(t3["canonical"]), dtype=torch.float64))
    requested = target_rotation(alpha.cpu().double(), canonical)
    err = torch.rad2deg(geodesic_distance(measured, requested)).numpy()
    return {"pose_error_deg_mean": float(np.mean(err)), "pose_error_deg_median": float(np.median(err))}


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
    """Rows for the unmodified generator (FID) and the pose-conditioned PromptGen (all columns).

    Everything is measured at the generator's ``psi_fid``: the paper computed FID and the identity
    distances in one run without truncation (ψ = 1).
    """
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
    fid_g = fid_from_statistics(
        feature_statistics(features, lambda: _images(base, eps, None, bs), n, bs, dev), ref
    )
    fid_pg = fid_from_statistics(
        feature_statistics(features, lambda: _images(pg, eps, alpha, bs), n, bs, dev), ref
    )

    # Identities at three independent random poses each (the paper's forward_embedding_distance).
    k = int(t3["identities"])
    eps_id = per_sample_normal(seed + 1, range(k), base.latent_dim).to(dev)
    poses = cond.sample(3 * k, torch.Generator().manual_seed(seed + 1)).to(dev).split(k)
    embedder = cache.get(models[t3["id_model"]], "models.identity")
    same, diff = identity_distances(*(_embed(embedder, pg, eps_id, a, bs) for a in poses))
    row = {"generator": gen_name, "method": "PromptGen (pose + ID)", "fid": fid_pg, "dist_same_id": same}
    row.update(dist_diff_id=diff, fid_samples=n, identities=k, psi=gen_cfg["psi_fid"], source="measured")
    if gen_cfg.get("oracle"):
        row.update(_pose_error(gen_name, gen_cfg, t3, pg, eps_id, poses[0], bs))
    unmodified = {"generator": gen_name, "method": "unmodified", "fid": fid_g, "fid_samples": n}
    unmodified.update(psi=gen_cfg["psi_fid"], source="measured")
    return pd.DataFrame([unmodified, row])


def with_literature(measured: pd.DataFrame) -> pd.DataFrame:
    return pd.concat([measured, literature_rows("table3")], ignore_index=True)
