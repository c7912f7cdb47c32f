"""FID features of the paper world: clean-fid's Inception-v3 network, from an explicit path.

Kind ``clean-fid-inception``: ``{kind: clean-fid-inception, checkpoint: weights/fid/inception-2015-12-05.pt}``
(the TorchScript network NVIDIA published for StyleGAN2-ADA's metrics, the file clean-fid downloads). The
network is wrapped by clean-fid's own ``InceptionV3W`` (never allowed to download), exposed as
``cleanfid_inception``: :mod:`eval.metric_fid` hands it to clean-fid with clean-fid's "clean" resize, so FID
is clean-fid's. ``forward`` (images in [−1, 1], resized with torch's antialiased bicubic filter) is for other
uses and only approximates that resize.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from cleanfid.inception_torchscript import InceptionV3W
from torch import Tensor, nn

from promptgen.models import MODELS
from promptgen.models.common import describe_load_error
from promptgen.registry import ConfigError

__all__ = ["InceptionFeatures", "load_inception"]

INPUT_SIZE = 299
FILE_NAME = "inception-2015-12-05.pt"


class InceptionFeatures(nn.Module):
    """clean-fid's Inception: ``cleanfid_inception`` maps (N, 3, 299, 299) in [0, 255] to (N, 2048) features.

    Arguments:
        net: clean-fid's ``InceptionV3W`` around the TorchScript network.
    """

    def __init__(self, net: InceptionV3W):
        super().__init__()
        self.cleanfid_inception = net

    def forward(self, x: Tensor) -> Tensor:
        x = (x.clamp(-1, 1) + 1) * 127.5
        if tuple(x.shape[-2:]) != (INPUT_SIZE, INPUT_SIZE):
            x = F.interpolate(
                x, size=(INPUT_SIZE, INPUT_SIZE), mode="bicubic", antialias=True, align_corners=False
            )
        return self.cleanfid_inception(x.clamp(0, 255))


@MODELS.register("clean-fid-inception")
def load_inception(checkpoint: str, device: str | torch.device = "cpu") -> InceptionFeatures:
    path = Path(checkpoint)
    if not path.is_file():
        raise ConfigError(
            f"checkpoint: {path} not found (get {FILE_NAME} with `promptgen download` or from "
            "NVIDIA's stylegan2-ada-pytorch metrics URL, and put it there)"
        )
    if path.name != FILE_NAME:
        raise ConfigError(f"checkpoint: {path} must be named {FILE_NAME} (clean-fid loads it by that name)")
    try:
        net = InceptionV3W(str(path.parent), download=False)
    except Exception as err:  # noqa: BLE001 - any failure means a foreign or corrupt file
        reason = describe_load_error(err)
        raise ConfigError(f"checkpoint: {path} is not a TorchScript Inception network ({reason})") from err
    return InceptionFeatures(net).to(device)
