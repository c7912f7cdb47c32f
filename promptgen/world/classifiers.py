"""Classifier adapters of the world (kind ``world-classifier``): CelebA-analog and FairFace-analog heads.

The control and the evaluation attribute classifiers (binary heads ``male, eyeglasses, blond, young``) and
the categorical classifier (heads ``tone`` (4), ``age_group`` (3), ``gender`` (2)) share this adapter; the
checkpoint says which heads it has. Output: ``dict`` of logits, (N,) per binary head, (N, K) per group.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor, nn

from promptgen.models import MODELS
from promptgen.world.nets import load_checkpoint

__all__ = ["WorldClassifier", "load_world_classifier"]


class WorldClassifier(nn.Module):
    """Images in [−1, 1] (any size; resized to 64) -> ``{head: logits}``.

    Arguments:
        net: a trained :class:`~promptgen.world.nets.ConvNet` whose heads are all classification heads.
    """

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    @property
    def heads(self) -> list[str]:
        return list(self.net.head_sizes)

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        return self.net(x)


@MODELS.register("world-classifier")
def load_world_classifier(
    checkpoint: str | Path, device: str | torch.device = "cpu", compile: bool | str = False
) -> WorldClassifier:
    """Load a world classifier from an explicit ``checkpoint`` path (see ``weights/world/MANIFEST.json``)."""
    net, _ = load_checkpoint(checkpoint, role="classifier", compile=compile)
    return WorldClassifier(net).to(device)
