"""Identity distances of Table 3: d = √(2(1 − cos)) between unit face embeddings.

Same-ID pairs: the same ε rendered at different conditions; different-ID pairs: different ε at the same
condition. Each unordered pair is counted once (the paper code counted different-ID pairs twice).
"""

from __future__ import annotations

import numpy as np

__all__ = ["embedding_distance", "identity_distances"]


def embedding_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """√(2(1 − cos)) between rows of a and b (after normalising)."""
    a = a / np.linalg.norm(a, axis=-1, keepdims=True)
    b = b / np.linalg.norm(b, axis=-1, keepdims=True)
    return np.sqrt(np.clip(2 * (1 - np.sum(a * b, axis=-1)), 0, None))


def _pair_mean(emb: np.ndarray) -> float:
    """Mean distance over unordered pairs i < j of the rows of ``emb`` (M, D)."""
    e = emb / np.linalg.norm(emb, axis=-1, keepdims=True)
    cos = e @ e.T
    iu = np.triu_indices(e.shape[0], k=1)
    return float(np.mean(np.sqrt(np.clip(2 * (1 - cos[iu]), 0, None))))


def identity_distances(emb: np.ndarray) -> tuple[float, float]:
    """``emb`` has shape (identities, conditions, D). Returns (same-ID, different-ID) mean distances."""
    if emb.ndim != 3 or emb.shape[0] < 2 or emb.shape[1] < 2:
        raise ValueError("identity_distances: need an (identities ≥ 2, conditions ≥ 2, D) array")
    same = float(np.mean([_pair_mean(emb[i]) for i in range(emb.shape[0])]))
    diff = float(np.mean([_pair_mean(emb[:, c]) for c in range(emb.shape[1])]))
    return same, diff
