"""IR-SE-50 face embedder (ArcFace backbone) for the identity energy (kind ``irse50``).

Our own implementation of the IR-SE-50 architecture (Deng et al., "ArcFace", CVPR 2019; SE blocks of Hu et
al., CVPR 2018) whose state-dict names and shapes match the commonly distributed ``model_ir_se50.pth`` (the
TreB1eN InsightFace_Pytorch weights used by pSp, StyleCLIP and the PromptGen authors' ID energy):

* ``input_layer``: 3×3 conv 3 -> 64 (``.0``), BatchNorm (``.1``), PReLU (``.2``);
* ``body.0`` … ``body.23``: 3, 4, 14 and 3 bottleneck units of width 64, 128, 256, 512, the first unit of
  each stage with stride 2. A unit adds ``res_layer`` — BN(in) ``.0``, 3×3 conv in -> out ``.1``,
  PReLU ``.2``, 3×3 conv out -> out with the stride ``.3``, BN ``.4``, squeeze-excitation ``.5``
  (``fc1``/``fc2`` 1×1 convs without bias, reduction 16) — to ``shortcut_layer``: a strided subsampling
  when the width is unchanged, else 1×1 conv ``.0`` + BN ``.1``;
* ``output_layer``: BN2d(512) ``.0``, dropout ``.1``, flatten ``.2``, Linear(512·7·7, 512) ``.3``,
  BatchNorm1d(512) ``.4``; the embedding is L2-normalised.

Crop as the authors' code (which follows StyleCLIP's ID loss): adaptive-average-pool the image to 256 × 256,
keep rows 35:223 and columns 32:220, adaptive-average-pool to 112 × 112. Their code fed the backbone images
in [0, 1] (its generator wrapper had already mapped [-1, 1] to [0, 1]), while the backbone was trained on
[-1, 1] inputs; ``input_range`` chooses (default: the authors' ``unit``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch.nn.functional as F
from torch import Tensor, nn

from promptgen.models import MODELS
from promptgen.models.common import load_checkpoint_file, load_state_strict, state_entry, to_unit_range
from promptgen.registry import ConfigError

__all__ = ["INPUT_RANGES", "IRSE50", "IRSE50Embedder", "load_irse50"]

STAGES = ((64, 3), (128, 4), (256, 14), (512, 3))  # (width, units) of IR-SE-50
STEM_WIDTH = 64
SE_REDUCTION = 16
FACE_SIZE = 112  # backbone input
FEATURE_SIDE = FACE_SIZE // 2 ** len(STAGES)  # 7
EMBEDDING = 512
INPUT_RANGES = ("unit", "symmetric")  # [0, 1] as the authors' code fed it, [-1, 1] as it was trained
EXPECTED = "an IR-SE-50 state dict as in model_ir_se50.pth (input_layer, body.0-23, output_layer -> 512)"


class SqueezeExcite(nn.Module):
    """Channel gate x · σ(W₂ relu(W₁ mean_hw(x))) with bias-free 1×1 convolutions ``fc1``, ``fc2``."""

    def __init__(self, channels: int, reduction: int = SE_REDUCTION):
        super().__init__()
        self.fc1 = nn.Conv2d(channels, channels // reduction, 1, bias=False)
        self.fc2 = nn.Conv2d(channels // reduction, channels, 1, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        gate = self.fc2(F.relu(self.fc1(x.mean(dim=(2, 3), keepdim=True))))
        return x * gate.sigmoid()


class Subsample(nn.Module):
    """Parameter-free shortcut: every ``stride``-th pixel (a 1×1 max-pool with that stride)."""

    def __init__(self, stride: int):
        super().__init__()
        self.stride = stride

    def forward(self, x: Tensor) -> Tensor:
        return x[:, :, :: self.stride, :: self.stride]


class Unit(nn.Module):
    """Improved-residual unit with squeeze-excitation: shortcut(x) + res(x)."""

    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        if c_in == c_out:
            self.shortcut_layer = Subsample(stride)
        else:
            self.shortcut_layer = nn.Sequential(
                nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out)
            )
        self.res_layer = nn.Sequential(
            nn.BatchNorm2d(c_in),
            nn.Conv2d(c_in, c_out, 3, 1, 1, bias=False),
            nn.PReLU(c_out),
            nn.Conv2d(c_out, c_out, 3, stride, 1, bias=False),
            nn.BatchNorm2d(c_out),
            SqueezeExcite(c_out),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.shortcut_layer(x) + self.res_layer(x)


def _body(stages: Sequence[tuple[int, int]]) -> nn.Sequential:
    units, c_in = [], STEM_WIDTH
    for width, count in stages:
        units += [Unit(c_in if i == 0 else width, width, 2 if i == 0 else 1) for i in range(count)]
        c_in = width
    return nn.Sequential(*units)


class IRSE50(nn.Module):
    """The IR-SE-50 backbone: 112 × 112 faces (normalised to [-1, 1] in training) -> unit embeddings (N, 512).

    Arguments:
        dropout: dropout before the embedding layer (inactive in eval mode).
    """

    def __init__(self, dropout: float = 0.6):
        super().__init__()
        self.input_layer = nn.Sequential(
            nn.Conv2d(3, STEM_WIDTH, 3, 1, 1, bias=False), nn.BatchNorm2d(STEM_WIDTH), nn.PReLU(STEM_WIDTH)
        )
        self.body = _body(STAGES)
        width = STAGES[-1][0]
        self.output_layer = nn.Sequential(
            nn.BatchNorm2d(width),
            nn.Dropout(dropout),
            nn.Flatten(),
            nn.Linear(width * FEATURE_SIDE**2, EMBEDDING),
            nn.BatchNorm1d(EMBEDDING),
        )

    def forward(self, x: Tensor) -> Tensor:
        return F.normalize(self.output_layer(self.body(self.input_layer(x))), dim=-1)


class IRSE50Embedder(nn.Module):
    """Identity adapter: images in [-1, 1] (any size) -> the authors' face crop -> embeddings (N, 512).

    Arguments:
        backbone: a loaded :class:`IRSE50`.
        pool_size: side the image is first average-pooled to (256).
        crop: (top, bottom, left, right) of the face region at ``pool_size`` ((35, 223, 32, 220)).
        input_range: ``unit`` feeds [0, 1] as the authors' code did; ``symmetric`` feeds [-1, 1].
    """

    def __init__(
        self,
        backbone: IRSE50,
        pool_size: int = 256,
        crop: Sequence[int] = (35, 223, 32, 220),
        input_range: str = "unit",
    ):
        super().__init__()
        if input_range not in INPUT_RANGES:
            raise ConfigError(f"input_range: expected one of {list(INPUT_RANGES)}, got {input_range!r}")
        if len(crop) != 4:
            raise ConfigError(f"crop: expected [top, bottom, left, right], got {crop!r}")
        self.backbone = backbone
        self.pool_size, self.crop, self.input_range = int(pool_size), tuple(int(c) for c in crop), input_range

    def preprocess(self, x: Tensor) -> Tensor:
        x = to_unit_range(x) if self.input_range == "unit" else x.clamp(-1, 1)
        if x.shape[-1] != self.pool_size or x.shape[-2] != self.pool_size:
            x = F.adaptive_avg_pool2d(x, self.pool_size)
        top, bottom, left, right = self.crop
        return F.adaptive_avg_pool2d(x[:, :, top:bottom, left:right], FACE_SIZE)

    def forward(self, x: Tensor) -> Tensor:
        return self.backbone(self.preprocess(x))


@MODELS.register("irse50")
def load_irse50(
    checkpoint: str | Path,
    pool_size: int = 256,
    crop: Sequence[int] = (35, 223, 32, 220),
    input_range: str = "unit",
    trusted: bool = False,
) -> IRSE50Embedder:
    """Factory of kind ``irse50``: ``checkpoint`` is ``model_ir_se50.pth`` (a plain state dict).

    ``trusted``: unpickle the file fully (a legacy file holding Python objects; runs code stored in it).

    Example (needs the downloaded checkpoint; not run as a doctest)::

        embed = load_irse50("weights/irse50/model_ir_se50.pth")
        embed(images).shape  # (N, 512), unit norm
    """
    state = state_entry(load_checkpoint_file(checkpoint, EXPECTED, trusted), None, checkpoint, EXPECTED)
    backbone = IRSE50()
    load_state_strict(backbone, state, checkpoint, EXPECTED)
    return IRSE50Embedder(backbone.eval(), pool_size, crop, input_range).eval().requires_grad_(False)
