"""D_KL(empirical ‖ uniform) of (joint) attribute labels, natural log (Table 2, Table 5).

Empty classes contribute 0 (0 · log 0 = 0): the paper code's NaN on an empty class is not repeated.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["joint_labels", "kl_noise_floor", "kl_to_uniform", "shares"]


def shares(labels: np.ndarray, num_classes: int) -> np.ndarray:
    """Class shares of integer labels in [0, num_classes)."""
    labels = np.asarray(labels).astype(np.int64).ravel()
    if labels.size == 0:
        raise ValueError("shares: no labels")
    if labels.min() < 0 or labels.max() >= num_classes:
        raise ValueError(f"shares: labels must lie in [0, {num_classes})")
    return np.bincount(labels, minlength=num_classes) / labels.size


def kl_to_uniform(labels: np.ndarray, num_classes: int) -> float:
    """Σ_k p_k log(K p_k) over non-empty classes, with p the empirical shares."""
    p = shares(labels, num_classes)
    nz = p > 0
    return float(np.sum(p[nz] * np.log(num_classes * p[nz])))


def joint_labels(columns: Sequence[np.ndarray], sizes: Sequence[int]) -> tuple[np.ndarray, int]:
    """Combine several integer label columns into one (mixed radix); returns labels and the class count."""
    joint = np.zeros_like(np.asarray(columns[0]), dtype=np.int64)
    for col, k in zip(columns, sizes, strict=True):
        joint = joint * k + np.asarray(col).astype(np.int64)
    return joint, int(np.prod(sizes))


def kl_noise_floor(num_classes: int, n: int) -> float:
    """Expected KL of n i.i.d. samples from the uniform itself, ≈ (K − 1) / (2n) (chi-square asymptotics).

    A reference value for an unconditional sampler, not a floor: a stratified sampler (equal numbers
    requested per class) that always hits its class has KL 0.
    """
    return (num_classes - 1) / (2 * n)
