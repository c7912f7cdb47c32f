"""Training the world's off-the-shelf models on renders drawn on the fly from the world prior.

Each model has a *role* (:data:`ROLES`): an architecture, output heads, a loss against the oracle, and a
seed. Batches are rendered from the prior with their exact labels; step ``t`` of a role depends only on
(seed, t). Adam with cosine decay; every hyper-parameter is a field of :class:`TrainSpec`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor

from promptgen.world.groundtruth import BINARY, CATEGORICAL, labels_from_factors
from promptgen.world.identity import identity_target
from promptgen.world.latent_map import FACTORS, WorldMap, get_world
from promptgen.world.nets import ConvArch, ConvNet
from promptgen.world.render import Rasteriser
from promptgen.world.scene import Scene, scene_from_factors

__all__ = ["ROLES", "Batch", "Role", "TrainSpec", "render_batch", "train_role"]

ATTRIBUTE_HEADS = ("male", "eyeglasses", "blond", "young")
ANGLE_SCALE = 3.0  # angles (rad) are regressed as ANGLE_SCALE · (pitch, yaw, roll)


@dataclass(frozen=True)
class TrainSpec:
    """Optimisation of one model.

    Arguments:
        steps: Adam steps.
        batch_size: renders per step.
        lr: peak learning rate (cosine decay to 0).
        weight_decay: AdamW weight decay.
        seed: seeds the initialisation and the stream of training latents.
    """

    steps: int = 600
    batch_size: int = 64
    lr: float = 2e-3
    weight_decay: float = 1e-4
    seed: int = 0


@dataclass
class Batch:
    """Rendered images (N, 3, R, R) in [−1, 1] with their factors, scene and oracle labels."""

    images: Tensor
    h: Tensor
    scene: Scene
    labels: dict[str, Tensor]


@dataclass(frozen=True)
class Role:
    """One off-the-shelf model: file name, architecture, heads, loss and training spec."""

    filename: str
    arch: ConvArch
    heads: dict[str, int]
    loss: Callable[[dict[str, Tensor], Batch], Tensor]
    spec: TrainSpec = field(default_factory=TrainSpec)


def _binary_loss(out: dict[str, Tensor], batch: Batch, heads: tuple[str, ...]) -> Tensor:
    return sum(F.binary_cross_entropy_with_logits(out[k], batch.labels[k].float()) for k in heads)


def _attribute_loss(out: dict[str, Tensor], batch: Batch) -> Tensor:
    return _binary_loss(out, batch, ATTRIBUTE_HEADS)


def _categorical_loss(out: dict[str, Tensor], batch: Batch) -> Tensor:
    return sum(F.cross_entropy(out[k], batch.labels[k]) for k in CATEGORICAL)


def pose_target(labels: dict[str, Tensor]) -> Tensor:
    return ANGLE_SCALE * torch.stack([labels["pitch"], labels["yaw"], labels["roll"]], -1)


def _pose_loss(out: dict[str, Tensor], batch: Batch) -> Tensor:
    return F.smooth_l1_loss(out["angles"], pose_target(batch.labels), beta=0.05)


def _identity_loss(out: dict[str, Tensor], batch: Batch) -> Tensor:
    return F.mse_loss(out["embedding"], identity_target(batch.scene))


def _features_loss(out: dict[str, Tensor], batch: Batch) -> Tensor:
    binary = torch.stack([batch.labels[k] for k in BINARY], -1).float()
    return (
        F.mse_loss(out["factors"], batch.h)
        + F.binary_cross_entropy_with_logits(out["binary"], binary)
        + F.cross_entropy(out["tone"], batch.labels["tone"])
        + F.cross_entropy(out["age_group"], batch.labels["age_group"])
    )


ROLES: dict[str, Role] = {
    "attributes-control": Role(
        "attributes_control.pt",
        ConvArch(),
        dict.fromkeys(ATTRIBUTE_HEADS, 1),
        _attribute_loss,
        TrainSpec(seed=101),
    ),
    "attributes-eval": Role(
        "attributes_eval.pt",
        ConvArch(widths=(24, 48, 96, 128), kernel=5, hidden=192, pool="avg"),
        dict.fromkeys(ATTRIBUTE_HEADS, 1),
        _attribute_loss,
        TrainSpec(seed=202),
    ),
    "categorical": Role(
        "categorical.pt", ConvArch(), dict(CATEGORICAL), _categorical_loss, TrainSpec(seed=303)
    ),
    "pose": Role("pose.pt", ConvArch(), {"angles": 3}, _pose_loss, TrainSpec(seed=404)),
    "identity": Role(
        "identity.pt",
        ConvArch(widths=(32, 64, 96, 128)),
        {"embedding": 18},
        _identity_loss,
        TrainSpec(seed=505),
    ),
    "features": Role(
        "features.pt",
        ConvArch(hidden=128),
        {"factors": len(FACTORS), "binary": len(BINARY), "tone": 4, "age_group": 3},
        _features_loss,
        TrainSpec(seed=606),
    ),
}


@torch.no_grad()
def render_batch(
    world: WorldMap, rasteriser: Rasteriser, n: int, gen: torch.Generator, h: Tensor | None = None
) -> Batch:
    """Render ``n`` prior samples (or the given factors ``h``) with their scene and oracle labels."""
    if h is None:
        h = world(torch.randn(n, world.latent_dim, generator=gen))
    scene = scene_from_factors(world, h)
    images = rasteriser(scene, signed=True)
    return Batch(images, h, scene, labels_from_factors(world, h))


def train_role(
    role: str | Role,
    spec: TrainSpec | None = None,
    latent_dim: int = 64,
    world_seed: int = 0,
    log: Callable[[str], None] | None = None,
) -> tuple[ConvNet, dict]:
    """Train one role's model from scratch; returns the frozen model and a summary (seconds, final loss)."""
    role = ROLES[role] if isinstance(role, str) else role
    spec = spec or role.spec
    torch.manual_seed(spec.seed)
    net = ConvNet(role.arch, role.heads)
    world, rasteriser = get_world(latent_dim, world_seed), Rasteriser(role.arch.resolution)
    opt = torch.optim.AdamW(net.parameters(), lr=spec.lr, weight_decay=spec.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda t: 0.5 * (1 + math.cos(math.pi * t / spec.steps)))
    gen = torch.Generator().manual_seed(spec.seed)
    start, running = time.perf_counter(), float("nan")
    for step in range(spec.steps):
        batch = render_batch(world, rasteriser, spec.batch_size, gen)
        loss = role.loss(net(batch.images), batch)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        running = loss.item() if step == 0 else 0.98 * running + 0.02 * loss.item()
        if log is not None and (step + 1) % max(spec.steps // 10, 1) == 0:
            log(f"{role.filename}: step {step + 1}/{spec.steps} loss {running:.4f}")
    seconds = time.perf_counter() - start
    meta = {"seconds": seconds, "loss": running, "spec": spec.__dict__, "latent_dim": latent_dim}
    return net.eval().requires_grad_(False), meta | {"world_seed": world_seed}
