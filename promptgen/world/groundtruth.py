"""The oracle: exact labels for every latent z, computed from the scene factors without rendering.

Labels are the thresholds of :mod:`promptgen.world.latent_map` applied to the same scores the renderer draws
through its cues, so what a person sees switches exactly where a label does.
"""

from __future__ import annotations

import torch
from torch import Tensor

from promptgen.world.latent_map import WorldMap, get_world
from promptgen.world.scene import SceneStyle, scene_from_factors

__all__ = ["AGE_GROUPS", "BINARY", "CATEGORICAL", "TONE_BINS", "labels_from_factors", "oracle"]

BINARY = ("male", "eyeglasses", "blond", "young", "old", "makeup")
AGE_GROUPS = ("young", "middle", "old")
TONE_BINS = ("tone1_light", "tone2", "tone3", "tone4_dark")
CATEGORICAL = {"tone": len(TONE_BINS), "age_group": len(AGE_GROUPS), "gender": 2}


def labels_from_factors(world: WorldMap, h: Tensor, style: SceneStyle | None = None) -> dict[str, Tensor]:
    """Oracle labels for standardised factors ``h`` (N, F).

    Returns:
        ``male, eyeglasses, blond, young, old, makeup`` (bool, N), ``tone`` (long, N; 0 = lightest),
        ``age_group`` (long, N; 0 young, 1 middle, 2 old), ``gender`` (long, N; 1 = male),
        ``yaw, pitch, roll`` (radians, N) and ``identity`` (N, 10) — the identity shape parameters.
    """
    s, th = world.scores(h), world.thresholds()
    scene = scene_from_factors(world, h, style)
    male = s["male"] > th["male"]
    young, old = s["age"] <= th["young"], s["age"] > th["old"]
    return {
        "male": male,
        "eyeglasses": s["eyeglasses"] > th["eyeglasses"],
        "blond": s["blond"] > th["blond"],
        "young": young,
        "old": old,
        "makeup": ~male & (s["makeup"] > th["makeup"]),
        "tone": torch.bucketize(s["tone"].contiguous(), th["tone"]),
        "age_group": (~young).long() + old.long(),
        "gender": male.long(),
        "yaw": scene.yaw,
        "pitch": scene.pitch,
        "roll": scene.roll,
        "identity": scene.identity,
    }


@torch.no_grad()
def oracle(z: Tensor, psi: float = 1.0, seed: int = 0, curvature: float = 0.0) -> dict[str, Tensor]:
    """Exact labels for latents ``z`` (N, d) of the world with ``seed`` and ``curvature``, at truncation ψ
    (no rendering). Pipelines pass ``seed`` and ``curvature`` from the generator entry
    (:func:`promptgen.registry.import_oracle`).

    Example:
        >>> labels = oracle(torch.randn(8, 64))
        >>> labels["male"].float().mean()  # ≈ 0.40 over many samples
    """
    world = get_world(z.shape[-1], seed, curvature).to(z.device)
    return labels_from_factors(world, world(z, psi))
