"""FID through clean-fid: statistics as an .npz (``ref``) and the Fréchet distance (``calc``).

Images are quantised to uint8 values in [0, 255] (as a generator's images are when saved), then handed to
clean-fid's own ``get_model_features`` (the loop ``cleanfid.fid.compute_fid`` runs for a generator), which
resizes each image and extracts features, and the distance is clean-fid's ``frechet_distance``. The feature
extractor is clean-fid's ``custom_feat_extractor``:

* an adapter exposing ``cleanfid_inception`` (the paper world's :mod:`promptgen.models.inception`) is used
  as clean-fid's Inception, with clean-fid's "clean" resize (PIL bicubic to 299 × 299);
* any other adapter (the embedded world's features) receives the quantised images mapped back to [−1, 1]
  at their own resolution (no resize).

Nothing is downloaded: reference statistics come from a path (``load_statistics``) or are computed from a
dataset (``ref``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import torch
from cleanfid.fid import frechet_distance, get_model_features

__all__ = [
    "clean_fid_extractor",
    "feature_statistics",
    "fid_from_statistics",
    "load_statistics",
    "quantise",
    "save_statistics",
]

Batches = Callable[[], Iterator[torch.Tensor]]


def quantise(x: torch.Tensor) -> torch.Tensor:
    """Images in [−1, 1] -> uint8 values ⌊255·(x + 1)/2 + ½⌋ as floats, clamped to [0, 255] after rounding."""
    return ((x + 1) * 127.5 + 0.5).clamp(0, 255).floor()


def _keep_size(img: np.ndarray) -> np.ndarray:
    return img.astype(np.float32)


def clean_fid_extractor(
    extractor: Callable[[torch.Tensor], torch.Tensor],
) -> tuple[Callable[[torch.Tensor], torch.Tensor], Callable[[np.ndarray], np.ndarray] | None]:
    """clean-fid's ``custom_feat_extractor`` and ``custom_fn_resize`` for a features adapter.

    Returns:
        (features of a [0, 255] batch, resize of one HWC image; None = clean-fid's "clean" resize).
    """
    inception = getattr(extractor, "cleanfid_inception", None)
    if inception is not None:
        return inception, None
    return (lambda x: extractor(x / 127.5 - 1)), _keep_size


def feature_statistics(
    extractor: Callable[[torch.Tensor], torch.Tensor],
    batches: Batches,
    n: int,
    batch_size: int,
    device: torch.device | str = "cpu",
) -> tuple[np.ndarray, np.ndarray, int]:
    """Mean and covariance (float64) of the features of the first ``n`` images of ``batches()``.

    Arguments:
        extractor: a features adapter (images in [−1, 1]), see :func:`clean_fid_extractor`.
        batches: returns an iterator of image batches in [−1, 1], each of ``batch_size`` images (the last
            may be shorter); it must yield at least ``n`` images.
        n: number of images.
        batch_size: images per batch (clean-fid's batch size).
        device: where clean-fid runs the extractor.
    """
    feat_fn, resize = clean_fid_extractor(extractor)
    it = batches()
    pending = torch.empty(0)

    def gen(z: torch.Tensor) -> torch.Tensor:  # clean-fid passes its own z; ours are seeded per sample
        nonlocal pending
        while pending.shape[0] < z.shape[0]:
            nxt = next(it, None)
            if nxt is None:  # the last call may ask past n: pad, clean-fid keeps only the first n
                pending = torch.cat([pending, pending[-1:].expand(z.shape[0] - len(pending), -1, -1, -1)])
                break
            pending = torch.cat([pending.to(nxt), quantise(nxt.detach())])
        out, pending = pending[: z.shape[0]], pending[z.shape[0] :]
        return out

    with torch.random.fork_rng(devices=[]), torch.no_grad():
        feats = get_model_features(
            gen, feat_fn, mode="clean", z_dim=1, num_gen=n, batch_size=batch_size,
            device=torch.device(device), verbose=False, custom_fn_resize=resize,
        )  # fmt: skip
    f = np.asarray(feats, dtype=np.float64)
    if f.shape[0] != n:
        raise ValueError(f"feature_statistics: got {f.shape[0]} features for {n} images")
    return f.mean(0), np.cov(f, rowvar=False), n


def save_statistics(path: str | Path, mu: np.ndarray, sigma: np.ndarray, n: int) -> None:
    np.savez(path, mu=mu, sigma=sigma, n=n)


def load_statistics(path: str | Path) -> tuple[np.ndarray, np.ndarray, int]:
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"FID statistics {p} not found (compute them with the 'ref' step first)")
    with np.load(p) as d:  # clean-fid's published statistics have no sample count
        return d["mu"], d["sigma"], int(d["n"]) if "n" in d else -1


def fid_from_statistics(
    a: tuple[np.ndarray, np.ndarray, int], b: tuple[np.ndarray, np.ndarray, int]
) -> float:
    return float(frechet_distance(a[0], a[1], b[0], b[1]))
