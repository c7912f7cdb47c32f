"""Latent-direction de-biasing (InterFaceGAN, Shen et al. 2020, arXiv:2005.09635, as used for fairness by
FairStyle-like baselines): fit a linear boundary nᵀz + b = 0 per attribute on classifier labels, then move
each sample to its assigned side by reflecting its signed distance (several attributes: the minimal
shift in the span of all normals, i.e. conditional manipulation)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = ["LatentDirection", "balance_along_directions", "fit_direction"]


@dataclass
class LatentDirection:
    normal: Tensor  # unit vector (d,)
    offset: float
    accuracy: float  # training accuracy of the linear boundary

    def distance(self, z: Tensor) -> Tensor:
        return z @ self.normal.to(z.dtype) + self.offset


def fit_direction(z: Tensor, labels: Tensor, *, l2: float = 1e-3, iterations: int = 200) -> LatentDirection:
    """Logistic regression of binary ``labels`` on latents ``z`` (N, d); returns the unit normal.

    Raises:
        ValueError: every label is the same class (no boundary to fit).
    """
    z, y = z.double(), labels.double().flatten()
    positives = int(y.sum())
    if positives in (0, len(y)):
        raise ValueError(
            f"fit_direction: all {len(y)} labels are class {int(positives > 0)}, no boundary to fit"
        )
    w = torch.zeros(z.shape[1] + 1, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([w], max_iter=iterations, line_search_fn="strong_wolfe")

    def closure() -> Tensor:
        opt.zero_grad()
        logits = z @ w[:-1] + w[-1]
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, y) + l2 * (w[:-1] ** 2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    w = w.detach()
    norm = torch.linalg.vector_norm(w[:-1]).clamp_min(1e-12)
    acc = float((((z @ w[:-1] + w[-1]) > 0).double() == y).double().mean())
    return LatentDirection(normal=(w[:-1] / norm).float(), offset=float(w[-1] / norm), accuracy=acc)


def balance_along_directions(
    z: Tensor, directions: Sequence[LatentDirection], targets: Tensor, *, margin: float = 0.5
) -> Tensor:
    """Move z so that sample i lies on side ``targets[i, j]`` (0/1) of boundary j, at distance ≥ margin.

    A sample already on its side keeps its distance (if ≥ margin); one on the wrong side is reflected.
    The shift is the least-norm one in the span of the normals, so other directions are untouched.
    """
    normals = torch.stack([d.normal for d in directions]).to(z.dtype)  # (k, d)
    offsets = z.new_tensor([d.offset for d in directions])
    dist = z @ normals.T + offsets  # (N, k)
    sign = targets.to(z.dtype) * 2 - 1
    desired = sign * dist.abs().clamp_min(margin)
    gram = normals @ normals.T
    coeff = torch.linalg.solve(gram, (desired - dist).T).T  # (N, k)
    return z + coeff @ normals
