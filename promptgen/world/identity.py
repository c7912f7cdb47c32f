"""Identity in the world: what an ID embedder should recover, and renders of one identity in new conditions.

A person here is everything that survives a new photo: the identity shape parameters and the stable
appearance (gender cue, hair colour, eyeglasses, makeup, age, skin). Pose, expression, lighting, background
and clothing are the *conditions*; :func:`swap_conditions` renders an identity under another sample's
conditions, which is how same-identity pairs are made for the ID embedder's ROC-AUC.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor, nn

from promptgen.models import MODELS
from promptgen.world.latent_map import FACTORS, NUISANCE_FACTORS
from promptgen.world.scene import Scene

__all__ = [
    "CONDITION_FACTORS",
    "WorldIdentityEmbedder",
    "identity_target",
    "load_world_id",
    "roc_auc",
    "swap_conditions",
]

CONDITION_FACTORS = tuple(f for f in NUISANCE_FACTORS if f != "hair_shade")  # hair shade is identity
IDENTITY_SCALE = 1.6  # identity shape parameters are tanh-squashed with std ≈ 0.55; rescale to ≈ 1


def identity_target(scene: Scene) -> Tensor:
    """The (N, 18) regression target of the ID embedder: shape parameters and centred appearance cues."""
    cues = torch.stack([scene.male, scene.blond, scene.glasses, scene.makeup, scene.age], -1) - 0.5
    return torch.cat([IDENTITY_SCALE * scene.identity, cues, 2 * (scene.skin - 0.7)], -1)


def swap_conditions(h_identity: Tensor, h_conditions: Tensor) -> Tensor:
    """Factors with the identity of ``h_identity`` and the conditions (pose, expression, light, background)
    of ``h_conditions``."""
    idx = torch.tensor([FACTORS.index(name) for name in CONDITION_FACTORS], device=h_identity.device)
    out = h_identity.clone()
    out[:, idx] = h_conditions[:, idx]
    return out


def roc_auc(positive: Tensor, negative: Tensor) -> float:
    """ROC-AUC of scores (higher = positive) by the rank statistic, ties counted half."""
    scores = torch.cat([positive, negative]).double()
    order = scores.argsort()
    ranks = torch.empty_like(scores)
    ranks[order] = torch.arange(1, len(scores) + 1, dtype=torch.float64)
    for value in scores.unique()[scores.unique(return_counts=True)[1] > 1]:
        tie = scores == value
        ranks[tie] = ranks[tie].mean()
    n_pos, n_neg = len(positive), len(negative)
    return float((ranks[:n_pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


class WorldIdentityEmbedder(nn.Module):
    """Images in [−1, 1] -> identity embeddings (N, 18), the IR-SE50 analog (compare with cosine).

    Arguments:
        net: a trained :class:`~promptgen.world.nets.ConvNet` with head ``embedding``.
    """

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)["embedding"]


@MODELS.register("world-id")
def load_world_id(
    checkpoint: str | Path, device: str | torch.device = "cpu", compile: bool | str = False
) -> WorldIdentityEmbedder:
    """Load the world's ID embedder from an explicit ``checkpoint`` path."""
    from promptgen.world.nets import load_checkpoint

    net, _ = load_checkpoint(checkpoint, role="identity", compile=compile)
    return WorldIdentityEmbedder(net).to(device)
