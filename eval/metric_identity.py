"""Identity distances of Table 3: d = √(2(1 − cos)) between unit face embeddings.

As the paper's evaluation (its ``forward_embedding_distance``): every identity ε is rendered at three
independent random poses α₁, α₂, α₃. Same-ID pairs: (ε, α₁) with (ε, α₂); different-ID pairs: identities
2j and 2j + 1, each at its own α₃. Each unordered different-ID pair is counted once (the paper's code
counted it twice, as (a, b) and (b, a); the two copies are equal, so the mean is the same).
"""

from __future__ import annotations

import numpy as np

__all__ = ["embedding_distance", "identity_distances"]


def embedding_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """√(2(1 − cos)) between rows of a and b (after normalising)."""
    a = a / np.linalg.norm(a, axis=-1, keepdims=True)
    b = b / np.linalg.norm(b, axis=-1, keepdims=True)
    return np.sqrt(np.clip(2 * (1 - np.sum(a * b, axis=-1)), 0, None))


def identity_distances(first: np.ndarray, second: np.ndarray, third: np.ndarray) -> tuple[float, float]:
    """Mean same-ID and different-ID distances from embeddings (K, D) of K identities at three poses each.

    Arguments:
        first, second: identity i at its poses α₁ and α₂ (row i of each): the same-ID pairs.
        third: identity i at its pose α₃; rows 2j and 2j + 1 form the different-ID pairs (K // 2 of them).

    Returns:
        (same-ID mean over K pairs, different-ID mean over K // 2 pairs).
    """
    if not first.shape == second.shape == third.shape or first.ndim != 2 or first.shape[0] < 2:
        raise ValueError("identity_distances: need three (identities ≥ 2, D) arrays of one shape")
    same = float(np.mean(embedding_distance(first, second)))
    m = third.shape[0] // 2 * 2
    diff = float(np.mean(embedding_distance(third[0:m:2], third[1:m:2])))
    return same, diff
