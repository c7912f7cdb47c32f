"""FID features of the paper world: clean-fid's Inception-v3 TorchScript network, from an explicit path.

Kind ``clean-fid-inception``: ``{kind: clean-fid-inception, checkpoint: weights/fid/inception-2015-12-05.pt}``
(published by NVIDIA for StyleGAN2-ADA's metrics; clean-fid downloads the same file). Images in [-1, 1] are
mapped to [0, 255] and resized to 299 × 299 with torch's antialiased bicubic filter — an approximation of
clean-fid's "clean" PIL resize, so figures are close to but not bit-identical with ``cleanfid.fid``.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from promptgen.models import MODELS
from promptgen.models.common import describe_load_error
from promptgen.registry import ConfigError

__all__ = ["InceptionFeatures", "load_inception"]

INPUT_SIZE = 299


class InceptionFeatures(nn.Module):
    """Images in [-1, 1] -> (N, 2048) pool features of the TorchScript Inception network."""

    def __init__(self, net: torch.jit.ScriptModule):
        super().__init__()
        self.net = net

    def forward(self, x: Tensor) -> Tensor:
        x = (x.clamp(-1, 1) + 1) * 127.5
        if tuple(x.shape[-2:]) != (INPUT_SIZE, INPUT_SIZE):
            x = F.interpolate(
                x, size=(INPUT_SIZE, INPUT_SIZE), mode="bicubic", antialias=True, align_corners=False
            )
        return self.net(x.clamp(0, 255), return_features=True)


@MODELS.register("clean-fid-inception")
def load_inception(checkpoint: str, device: str | torch.device = "cpu") -> InceptionFeatures:
    path = Path(checkpoint)
    if not path.is_file():
        raise ConfigError(
            f"checkpoint: {path} not found (get inception-2015-12-05.pt with `promptgen download` or from "
            "NVIDIA's stylegan2-ada-pytorch metrics URL, and put it there)"
        )
    try:
        net = torch.jit.load(str(path), map_location=device).eval()
    except Exception as err:  # noqa: BLE001 - any failure means a foreign or corrupt file
        reason = describe_load_error(err)
        raise ConfigError(f"checkpoint: {path} is not a TorchScript Inception network ({reason})") from err
    return InceptionFeatures(net)
