"""The world's "real data": N seeded renders with oracle labels and captions, written once to one file.

Sample i's latent depends only on (seed, i) (one RNG per sample), never on the batch size. Captions come
from :func:`promptgen.world.captions.make_captions` when that module is present; without it the dataset is
written with an empty caption list and can be rebuilt once it exists.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from promptgen.world.groundtruth import oracle
from promptgen.world.render import SynthRenderer

__all__ = ["WorldDataset", "build_dataset", "load_dataset", "per_sample_latents", "sample_seed", "to_uint8"]

FORMAT_VERSION = 1
_MASK32, _MASK64 = (1 << 32) - 1, (1 << 64) - 1


@dataclass
class WorldDataset:
    """Rendered images with their latents, oracle labels and captions.

    Fields:
        images: uint8 (N, 3, R, R).
        z: float (N, d) latents.
        labels: oracle labels (see :func:`promptgen.world.groundtruth.labels_from_factors`).
        captions: one caption per image (empty when built without the captions module).
        meta: seed, latent_dim, resolution, psi, world_seed, curvature.
    """

    images: Tensor
    z: Tensor
    labels: dict[str, Tensor]
    captions: list[str]
    meta: dict

    def __len__(self) -> int:
        return self.images.shape[0]

    def float_images(self, idx: Tensor | slice = slice(None)) -> Tensor:
        """Images ``idx`` as floats in [−1, 1]."""
        return self.images[idx].float() / 127.5 - 1


def per_sample_latents(seed: int, start: int, n: int, latent_dim: int) -> Tensor:
    """Latents z_i ~ N(0, I), i in [start, start + n), each from its own RNG seeded by (seed, i)."""
    gen = torch.Generator()
    out = torch.empty(n, latent_dim)
    for j in range(n):
        gen.manual_seed(sample_seed(seed, start + j))
        out[j] = torch.randn(latent_dim, generator=gen)
    return out


def sample_seed(seed: int, i: int) -> int:
    """The RNG seed of sample i: SplitMix64 of (seed, i), so nearby (seed, i) pairs get unrelated streams."""
    x = ((int(seed) & _MASK32) << 32 | (int(i) & _MASK32)) + 0x9E3779B97F4A7C15
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK64
    return (x ^ (x >> 31)) & 0x7FFF_FFFF_FFFF_FFFF


def to_uint8(x: Tensor) -> Tensor:
    """Images in [−1, 1] -> uint8 in [0, 255] (round to nearest)."""
    return ((x.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)


def _captions(labels: dict[str, Tensor], seed: int) -> list[str]:
    if importlib.util.find_spec("promptgen.world.captions") is None:
        return []
    from promptgen.world.captions import make_captions

    return list(make_captions(labels, seed))


@torch.no_grad()
def build_dataset(
    out_path: str | Path,
    n: int,
    seed: int = 0,
    latent_dim: int = 64,
    resolution: int = 64,
    world_seed: int = 0,
    psi: float = 1.0,
    batch_size: int = 256,
    curvature: float = 0.0,
) -> WorldDataset:
    """Render ``n`` seeded samples of the world prior and write them to ``out_path`` (a ``.pt`` file).

    Arguments:
        out_path: output file.
        n: number of samples.
        seed: sample seed (z_i depends on (seed, i) only).
        latent_dim, resolution, world_seed, psi, curvature: the ``synth-render`` generator's arguments.
        batch_size: render batch (does not change the result).
    """
    gen = SynthRenderer(latent_dim, resolution, world_seed, psi, curvature=curvature)
    z = torch.cat(
        [per_sample_latents(seed, i, min(batch_size, n - i), latent_dim) for i in range(0, n, batch_size)]
    )
    images = torch.cat([to_uint8(gen(z[i : i + batch_size])) for i in range(0, n, batch_size)])
    labels = oracle(z, psi, world_seed, curvature)
    meta = {"format": FORMAT_VERSION, "seed": seed, "latent_dim": latent_dim, "resolution": resolution}
    meta |= {"world_seed": world_seed, "psi": psi, "curvature": curvature}
    data = WorldDataset(images, z, labels, _captions(labels, seed), meta)
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(data.__dict__, out_path)
    return data


def load_dataset(path: str | Path) -> WorldDataset:
    """Load a dataset written by :func:`build_dataset`; a missing or malformed file is a one-line error."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"world dataset {path} not found; build it with `python -m promptgen.world dataset`"
        )
    try:
        raw = torch.load(path, weights_only=True)
        return WorldDataset(**raw)
    except Exception as err:
        raise ValueError(f"world dataset {path} is malformed ({type(err).__name__}: {err})") from err
