"""Differentiable augmentations for the CLIP energy (DiffAugment, Zhao et al. 2020, arXiv:2006.10738).

Images are in [0, 1], so brightness shifts by U(−½, ½) of the full range and translation and cutout fill
black, as in the paper's code. Policies:

* ``color``: brightness x + (u − ½), saturation (x − x̄_c)·2u + x̄_c, contrast (x − x̄)·(u + ½) + x̄;
* ``translation``: whole-pixel shifts t ∈ {−s, …, s}, s = ⌊⅛·size + ½⌋, per axis; out(i, j) = x(i + t_h,
  j + t_w), black outside;
* ``resize``: ratio r ~ U(0.8, 1.2), one per *image* (shared by its L copies), bilinear resize (no
  antialiasing) to ⌊r·size⌋, then centred: zoom-out padded black, zoom-in cropped;
* ``cutout``: a black rectangle of ⌊½·size + ½⌋ per axis, centred at c ∈ {0, …, size − (size_c mod 2)},
  clipped to the image.

Each transform is a pure function of the images and its parameters (``*_params`` draw them), so a test can
check it against the definition. Every copy draws its own parameters from the given ``torch.Generator`` (on
the CPU), so that training resumes exactly. Nothing is clamped.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    "POLICIES",
    "brightness",
    "contrast",
    "cutout",
    "diff_augment",
    "resize",
    "saturation",
    "translation",
]

TRANSLATION_RATIO = 0.125
CUTOUT_RATIO = 0.5
RESIZE_RANGE = (0.8, 1.2)


def _rand(n: int, gen: torch.Generator | None) -> Tensor:
    return torch.rand(n, generator=gen, dtype=torch.float64)


def _randint(low: int, high: int, n: int, gen: torch.Generator | None) -> Tensor:
    """n integers uniform in {low, …, high − 1}."""
    return torch.randint(low, high, (n,), generator=gen)


def _per_copy(u: Tensor, like: Tensor) -> Tensor:
    return u.to(device=like.device, dtype=like.dtype).view(-1, 1, 1, 1)


def brightness(x: Tensor, u: Tensor) -> Tensor:
    """x + (u − ½), u ∈ [0, 1) per copy."""
    return x + (_per_copy(u, x) - 0.5)


def saturation(x: Tensor, u: Tensor) -> Tensor:
    """(x − channel mean) · 2u + channel mean, per pixel."""
    mean = x.mean(dim=1, keepdim=True)
    return (x - mean) * (_per_copy(u, x) * 2) + mean


def contrast(x: Tensor, u: Tensor) -> Tensor:
    """(x − image mean) · (u + ½) + image mean."""
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (_per_copy(u, x) + 0.5) + mean


def _color(x: Tensor, gen: torch.Generator | None, n_images: int) -> Tensor:
    n = x.shape[0]
    x = brightness(x, _rand(n, gen))
    x = saturation(x, _rand(n, gen))
    return contrast(x, _rand(n, gen))


def translation(x: Tensor, shift: Tensor) -> Tensor:
    """out(i, j) = x(i + shift_h, j + shift_w), zero outside; ``shift`` (N, 2) integers."""
    n, _, h, w = x.shape
    dev = x.device
    rows = torch.arange(h, device=dev).view(1, h) + shift[:, :1].to(dev)  # (N, H)
    cols = torch.arange(w, device=dev).view(1, w) + shift[:, 1:].to(dev)  # (N, W)
    padded = F.pad(x, (1, 1, 1, 1))  # index 0 and size + 1 are the black border
    r = (rows + 1).clamp(0, h + 1)
    c = (cols + 1).clamp(0, w + 1)
    batch = torch.arange(n, device=dev).view(n, 1, 1)
    return padded.permute(0, 2, 3, 1)[batch, r.view(n, h, 1), c.view(n, 1, w)].permute(0, 3, 1, 2)


def translation_params(x: Tensor, gen: torch.Generator | None) -> Tensor:
    n, _, h, w = x.shape
    sh, sw = int(h * TRANSLATION_RATIO + 0.5), int(w * TRANSLATION_RATIO + 0.5)
    return torch.stack([_randint(-sh, sh + 1, n, gen), _randint(-sw, sw + 1, n, gen)], 1)


def resize(x: Tensor, ratio: float) -> Tensor:
    """Bilinear resize (no antialiasing) of every image to ⌊ratio·size⌋, centred back to the input size:
    padded black when smaller, centre-cropped when larger."""
    _, _, h, w = x.shape
    nh, nw = int(ratio * h), int(ratio * w)
    y = F.interpolate(x, size=(nh, nw), mode="bilinear", align_corners=False)
    top, left = int((h - nh) / 2), int((w - nw) / 2)
    if nh < h:
        y = F.pad(y, (0, 0, top, h - top - nh))
    else:
        y = y[:, :, -top : -top + h]
    if nw < w:
        return F.pad(y, (left, w - left - nw))
    return y[:, :, :, -left : -left + w]


def _resize(x: Tensor, gen: torch.Generator | None, n_images: int) -> Tensor:
    """One ratio per image; copy k is a copy of image k mod ``n_images``."""
    low, high = RESIZE_RANGE
    ratios = low + (high - low) * _rand(n_images, gen)
    out = torch.empty_like(x)
    for i, r in enumerate(ratios.tolist()):
        out[i::n_images] = resize(x[i::n_images], r)
    return out


def cutout(x: Tensor, centre: Tensor) -> Tensor:
    """Zero a ⌊½·size + ½⌋ rectangle per axis whose centre is ``centre`` (N, 2), clipped to the image."""
    n, _, h, w = x.shape
    ch, cw = int(h * CUTOUT_RATIO + 0.5), int(w * CUTOUT_RATIO + 0.5)
    dev = x.device
    top = (centre[:, 0] - ch // 2).to(dev).view(n, 1, 1)
    left = (centre[:, 1] - cw // 2).to(dev).view(n, 1, 1)
    ys = torch.arange(h, device=dev).view(1, h, 1)
    xs = torch.arange(w, device=dev).view(1, 1, w)
    inside = (ys >= top) & (ys < top + ch) & (xs >= left) & (xs < left + cw)
    return x * (~inside).unsqueeze(1).to(x.dtype)


def cutout_params(x: Tensor, gen: torch.Generator | None) -> Tensor:
    n, _, h, w = x.shape
    ch, cw = int(h * CUTOUT_RATIO + 0.5), int(w * CUTOUT_RATIO + 0.5)
    return torch.stack([_randint(0, h + 1 - ch % 2, n, gen), _randint(0, w + 1 - cw % 2, n, gen)], 1)


def _translation(x: Tensor, gen: torch.Generator | None, n_images: int) -> Tensor:
    return translation(x, translation_params(x, gen))


def _cutout(x: Tensor, gen: torch.Generator | None, n_images: int) -> Tensor:
    return cutout(x, cutout_params(x, gen))


POLICIES: dict[str, Callable[[Tensor, torch.Generator | None, int], Tensor]] = {
    "color": _color,
    "translation": _translation,
    "resize": _resize,
    "cutout": _cutout,
}


def diff_augment(
    x: Tensor, policy: str, generator: torch.Generator | None = None, n_images: int | None = None
) -> Tensor:
    """Apply the comma-separated ``policy`` to a batch of images in [0, 1].

    Arguments:
        x: (N, C, H, W) copies; copy k is a copy of image k mod ``n_images``.
        policy: e.g. ``color,translation,resize,cutout`` (the paper's).
        generator: CPU generator for every random parameter.
        n_images: distinct images in ``x`` (default: N, every copy its own image); the resize ratio is drawn
            once per image.
    """
    n_images = x.shape[0] if n_images is None else int(n_images)
    for name in filter(None, (p.strip() for p in policy.split(","))):
        if name not in POLICIES:
            raise ValueError(f"unknown DiffAugment policy {name!r} (one of {', '.join(POLICIES)})")
        x = POLICIES[name](x, generator, n_images)
    return x
