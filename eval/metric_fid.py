"""FID on any feature extractor: statistics as an .npz (``ref``) and the Fréchet distance (``calc``).

The Fréchet distance itself is clean-fid's; features come from the caller (the embedded world's
extractor, or Inception through clean-fid for the paper world).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import torch
from cleanfid.fid import frechet_distance

__all__ = ["feature_statistics", "fid_from_statistics", "load_statistics", "save_statistics"]


def feature_statistics(
    extractor: Callable[[torch.Tensor], torch.Tensor], batches: Iterable[torch.Tensor]
) -> tuple[np.ndarray, np.ndarray, int]:
    """Mean and covariance of extractor features over image batches (images in [-1, 1]); float64."""
    feats = []
    with torch.no_grad():
        for x in batches:
            feats.append(extractor(x).double().cpu().numpy())
    f = np.concatenate(feats)
    return f.mean(0), np.cov(f, rowvar=False), f.shape[0]


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
