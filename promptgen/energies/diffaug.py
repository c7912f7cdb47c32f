"""Differentiable augmentations for the CLIP energy (DiffAugment, Zhao et al. 2020, arXiv:2006.10738).

Policies: ``color`` (brightness, saturation, contrast), ``translation`` (shift by up to 1/8 of the size,
zero padding), ``resize`` (random zoom in [1 − r, 1] re-sampled to the input size; our reading of the
paper code's extra policy) and ``cutout`` (a zeroed square of half the size). Every copy draws its own
parameters from the given ``torch.Generator`` so that training resumes exactly.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["POLICIES", "diff_augment"]

TRANSLATION_RATIO = 0.125
CUTOUT_RATIO = 0.5
RESIZE_RATIO = 0.25


def _uniform(n: int, low: float, high: float, gen: torch.Generator | None, like: Tensor) -> Tensor:
    u = torch.rand(n, generator=gen, dtype=torch.float64)
    return (low + (high - low) * u).to(device=like.device, dtype=like.dtype).view(n, 1, 1, 1)


def color(x: Tensor, gen: torch.Generator | None) -> Tensor:
    n = x.shape[0]
    x = x + (_uniform(n, 0.0, 1.0, gen, x) - 0.5)
    mean = x.mean(dim=1, keepdim=True)
    x = (x - mean) * _uniform(n, 0.0, 2.0, gen, x) + mean
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * _uniform(n, 0.5, 1.5, gen, x) + mean


def _affine_resample(x: Tensor, scale: Tensor, shift: Tensor) -> Tensor:
    """Sample x at (scale · u + shift) in normalised coordinates, zero outside."""
    n = x.shape[0]
    theta = torch.zeros(n, 2, 3, dtype=x.dtype, device=x.device)
    theta[:, 0, 0] = scale
    theta[:, 1, 1] = scale
    theta[:, :, 2] = shift
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def translation(x: Tensor, gen: torch.Generator | None) -> Tensor:
    n = x.shape[0]
    shift = (_uniform(2 * n, -1.0, 1.0, gen, x).view(n, 2)) * 2 * TRANSLATION_RATIO
    # Whole-pixel shifts, as in DiffAugment.
    size = x.new_tensor([x.shape[3], x.shape[2]])
    shift = torch.round(shift * size / 2) * 2 / size
    return _affine_resample(x, x.new_ones(n), shift)


def resize(x: Tensor, gen: torch.Generator | None) -> Tensor:
    n = x.shape[0]
    scale = _uniform(n, 1.0 - RESIZE_RATIO, 1.0, gen, x).view(n)
    room = (1 - scale).unsqueeze(1)
    shift = (_uniform(2 * n, -1.0, 1.0, gen, x).view(n, 2)) * room
    return _affine_resample(x, scale, shift)


def cutout(x: Tensor, gen: torch.Generator | None) -> Tensor:
    n, _, h, w = x.shape
    ch, cw = int(h * CUTOUT_RATIO + 0.5), int(w * CUTOUT_RATIO + 0.5)
    cy = (torch.rand(n, generator=gen, dtype=torch.float64) * (h + 1 - ch % 2)).long().to(x.device)
    cx = (torch.rand(n, generator=gen, dtype=torch.float64) * (w + 1 - cw % 2)).long().to(x.device)
    ys = torch.arange(h, device=x.device).view(1, h, 1)
    xs = torch.arange(w, device=x.device).view(1, 1, w)
    inside_y = (ys >= (cy - ch // 2).view(n, 1, 1)) & (ys < (cy - ch // 2 + ch).view(n, 1, 1))
    inside_x = (xs >= (cx - cw // 2).view(n, 1, 1)) & (xs < (cx - cw // 2 + cw).view(n, 1, 1))
    mask = ~(inside_y & inside_x)
    return x * mask.unsqueeze(1).to(x.dtype)


POLICIES = {"color": color, "translation": translation, "resize": resize, "cutout": cutout}


def diff_augment(x: Tensor, policy: str, generator: torch.Generator | None = None) -> Tensor:
    """Apply the comma-separated ``policy`` to a batch, each sample with its own random parameters."""
    for name in filter(None, (p.strip() for p in policy.split(","))):
        if name not in POLICIES:
            raise ValueError(f"unknown DiffAugment policy {name!r} (one of {', '.join(POLICIES)})")
        x = POLICIES[name](x, generator)
    return x
