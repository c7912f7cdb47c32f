"""Feed-forward sampling from G∘f_θ: sample i depends only on (seed, i), never on the batch size.

Sampling needs the generator and the INN checkpoint only — no control model.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from promptgen.generators.base import Generator

__all__ = ["iter_samples", "per_sample_normal", "save_png", "to_uint8", "write_samples"]


def per_sample_normal(seed: int, indices: Sequence[int] | Tensor, dim: int) -> Tensor:
    """ε_i ~ N(0, I_dim) drawn from an RNG seeded by (seed, i) alone (numpy SeedSequence mixing)."""
    rows = []
    for i in indices.tolist() if isinstance(indices, Tensor) else indices:
        key = int(np.random.SeedSequence([int(seed), int(i)]).generate_state(1, dtype=np.uint64)[0])
        rows.append(torch.randn(dim, generator=torch.Generator().manual_seed(key)))
    return torch.stack(rows) if rows else torch.empty(0, dim)


def iter_samples(
    generator: Generator,
    n: int,
    *,
    seed: int = 0,
    batch_size: int = 64,
    cond: Tensor | None = None,
    start: int = 0,
    device: torch.device | str = "cpu",
) -> Iterator[tuple[Tensor, Tensor, Tensor]]:
    """Yield ``(indices, eps, images)`` batches for samples ``start … start+n−1``.

    Arguments:
        generator: G or G∘f (a conditional G∘f takes ``cond``: one row per sample, (n, c)).
        n: number of samples.
        seed: the sampling seed.
        batch_size: only affects speed and memory, never the samples.
        cond: per-sample conditions for a conditional INN.
    """
    cond_dim = getattr(generator, "cond_dim", 0)
    if cond_dim and (cond is None or cond.shape != (n, cond_dim)):
        raise ValueError(f"this generator needs one condition row per sample, shape ({n}, {cond_dim})")
    for lo in range(0, n, batch_size):
        idx = torch.arange(start + lo, start + min(lo + batch_size, n))
        eps = per_sample_normal(seed, idx, generator.latent_dim).to(device)
        with torch.no_grad():
            if cond_dim:
                images = generator(eps, cond[lo : lo + len(idx)].to(device))
            else:
                images = generator(eps)
        yield idx, eps, images


def to_uint8(images: Tensor) -> Tensor:
    """[-1, 1] floats (N, C, H, W) -> uint8 (N, H, W, C)."""
    return ((images.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).cpu()


def save_png(image_hwc: Tensor, path: str | Path) -> None:
    arr = image_hwc.numpy()
    Image.fromarray(arr[..., 0] if arr.shape[-1] == 1 else arr).save(path)


def write_samples(
    generator: Generator,
    n: int,
    out_dir: str | Path,
    *,
    seed: int = 0,
    batch_size: int = 64,
    cond: Tensor | None = None,
    png: bool = True,
    tensors: bool = True,
    device: torch.device | str = "cpu",
) -> Path:
    """Write ``{i:06d}.png`` per sample and/or ``samples.pt`` (eps, uint8 images, conditions)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    all_eps, all_img = [], []
    for idx, eps, images in iter_samples(
        generator, n, seed=seed, batch_size=batch_size, cond=cond, device=device
    ):
        img = to_uint8(images)
        if png:
            for i, im in zip(idx.tolist(), img, strict=True):
                save_png(im, out / f"{i:06d}.png")
        if tensors:
            all_eps.append(eps.cpu())
            all_img.append(img)
    if tensors:
        torch.save(
            {"seed": seed, "eps": torch.cat(all_eps), "images": torch.cat(all_img), "cond": cond},
            out / "samples.pt",
        )
    return out
