"""DECA's coarse encoder as a head-pose regressor (kind ``deca-encoder``) — no FLAME, no renderer.

DECA (Feng et al., "Learning an Animatable Detailed 3D Face Model from In-the-Wild Images", SIGGRAPH 2021)
regresses FLAME parameters with ``E_flame``: a ResNet-50 body (torchvision layout without ``fc``; 224 × 224
input, 7 × 7 average pool) and an MLP Linear(2048, 1024) -> ReLU -> Linear(1024, 236). ``deca_model.tar``
stores its state dict under ``E_flame`` (keys ``encoder.*``, ``layers.0.*``, ``layers.2.*``) beside
``E_detail`` and ``D_detail``, which are not needed here.

The 236 parameters are, in order: shape 100, tex 50, exp 50, pose 6, cam 3, light 27 (DECA's release
config). The first 3 pose parameters are the global head rotation as an axis-angle vector; the PromptGen
authors' pose energy turned it into a rotation matrix and fed DECA the whole generated image in [0, 1]
resized to 224 (bicubic, without antialiasing), with no face detection or crop.
"""

from __future__ import annotations

from pathlib import Path

import torchvision
from torch import Tensor, nn

from promptgen.models import MODELS
from promptgen.models.common import (
    load_checkpoint_file,
    load_state_strict,
    resize,
    state_entry,
    to_unit_range,
)
from promptgen.rotations import axis_angle_to_matrix

__all__ = [
    "CHECKPOINT_KEY",
    "PARAMETERS",
    "DECAEncoder",
    "DECAPoseRegressor",
    "load_deca_encoder",
    "split_code",
]

CHECKPOINT_KEY = "E_flame"
PARAMETERS = {"shape": 100, "tex": 50, "exp": 50, "pose": 6, "cam": 3, "light": 27}  # DECA's order
N_PARAMETERS = sum(PARAMETERS.values())  # 236
FEATURES, HIDDEN = 2048, 1024
GLOBAL_POSE = slice(0, 3)  # of the pose group: axis-angle head rotation (the rest is the jaw)
EXPECTED = (
    f"DECA's deca_model.tar with key 'E_flame' (encoder.* ResNet-50, layers.0/2: 2048 -> 1024 -> "
    f"{N_PARAMETERS})"
)


class DECAEncoder(nn.Module):
    """``E_flame``: ResNet-50 features (N, 2048) -> FLAME code (N, 236)."""

    def __init__(self):
        super().__init__()
        self.encoder = torchvision.models.resnet50(weights=None)
        self.encoder.fc = nn.Identity()
        self.layers = nn.Sequential(nn.Linear(FEATURES, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, N_PARAMETERS))

    def forward(self, x: Tensor) -> Tensor:
        return self.layers(self.encoder(x))


def split_code(code: Tensor) -> dict[str, Tensor]:
    """The 236-d code as DECA's named groups (``light`` reshaped to (N, 9, 3))."""
    groups, start = {}, 0
    for name, size in PARAMETERS.items():
        groups[name] = code[:, start : start + size]
        start += size
    groups["light"] = groups["light"].reshape(code.shape[0], 9, 3)
    return groups


class DECAPoseRegressor(nn.Module):
    """Pose adapter: images in [-1, 1] -> global head rotations R (N, 3, 3) from DECA's code.

    Arguments:
        encoder: a loaded :class:`DECAEncoder`.
        size: DECA's input size (224).
        antialias: antialias when downsizing (the authors' code: no).
    """

    def __init__(self, encoder: DECAEncoder, size: int = 224, antialias: bool = False):
        super().__init__()
        self.encoder = encoder
        self.size, self.antialias = int(size), bool(antialias)

    def preprocess(self, x: Tensor) -> Tensor:
        return resize(to_unit_range(x), self.size, "bicubic", self.antialias)

    def code(self, x: Tensor) -> dict[str, Tensor]:
        """DECA's named parameter groups for images in [-1, 1]."""
        return split_code(self.encoder(self.preprocess(x)))

    def forward(self, x: Tensor) -> Tensor:
        return axis_angle_to_matrix(self.code(x)["pose"][:, GLOBAL_POSE])


@MODELS.register("deca-encoder")
def load_deca_encoder(
    checkpoint: str | Path, size: int = 224, antialias: bool = False, trusted: bool = False
) -> DECAPoseRegressor:
    """Factory of kind ``deca-encoder``: ``checkpoint`` is DECA's ``deca_model.tar``.

    ``trusted``: unpickle the file fully (a legacy file holding Python objects; runs code stored in it).

    Example (needs the downloaded checkpoint; not run as a doctest)::

        pose = load_deca_encoder("weights/deca/deca_model.tar")
        pose(images).shape  # (N, 3, 3) rotations
    """
    state = state_entry(
        load_checkpoint_file(checkpoint, EXPECTED, trusted), CHECKPOINT_KEY, checkpoint, EXPECTED
    )
    encoder = DECAEncoder()
    load_state_strict(encoder, state, checkpoint, EXPECTED)
    return DECAPoseRegressor(encoder.eval(), size, antialias).eval().requires_grad_(False)
