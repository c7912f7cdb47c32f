"""The world's FID feature extractor (Inception analog), kind ``world-features``, and its clean-fid wrapper.

The extractor is the 128-d feature layer of a CNN trained to recover the whole scene (every factor, every
label) from a render, so its features move with anything a person would notice. Through clean-fid::

    fx = clean_fid_extractor("weights/world/features.pt")
    fid.compute_fid(dir_a, dir_b, custom_feat_extractor=fx, custom_fn_resize=fx.resize, mode="clean")
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from promptgen.models import MODELS
from promptgen.world.nets import load_checkpoint

__all__ = ["CleanFIDExtractor", "WorldFeatures", "clean_fid_extractor", "load_world_features"]


class WorldFeatures(nn.Module):
    """Images in [−1, 1] -> (N, 128) features.

    Arguments:
        net: a trained :class:`~promptgen.world.nets.ConvNet` (role ``features``).
    """

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    def forward(self, x: Tensor) -> Tensor:
        return self.net.features(x)


class CleanFIDExtractor(nn.Module):
    """clean-fid's ``custom_feat_extractor``: float images in [0, 255] (N, 3, H, W) -> (N, 128) features.

    ``resize`` is the matching ``custom_fn_resize`` (clean-fid would otherwise resize to Inception's 299):
    it takes one HWC uint8/float array in [0, 255] and returns it at the extractor's resolution.

    Arguments:
        features: a :class:`WorldFeatures`.
    """

    def __init__(self, features: WorldFeatures):
        super().__init__()
        self.features = features
        self.resolution = features.net.arch.resolution

    @torch.no_grad()
    def forward(self, x: Tensor) -> Tensor:
        return self.features(x.float() / 127.5 - 1)

    def resize(self, img: np.ndarray) -> np.ndarray:
        if img.shape[0] == self.resolution and img.shape[1] == self.resolution:
            return img.astype(np.float32)
        from PIL import Image

        pil = Image.fromarray(np.asarray(img).clip(0, 255).astype(np.uint8))
        return np.asarray(pil.resize((self.resolution, self.resolution), Image.BICUBIC)).astype(np.float32)


@MODELS.register("world-features")
def load_world_features(
    checkpoint: str | Path, device: str | torch.device = "cpu", compile: bool | str = False
) -> WorldFeatures:
    """Load the world's FID feature extractor from an explicit ``checkpoint`` path."""
    net, _ = load_checkpoint(checkpoint, role="features", compile=compile)
    return WorldFeatures(net).to(device)


def clean_fid_extractor(checkpoint: str | Path, device: str | torch.device = "cpu") -> CleanFIDExtractor:
    """The world feature extractor wrapped for clean-fid (``custom_feat_extractor``)."""
    return CleanFIDExtractor(load_world_features(checkpoint, device)).eval()
