"""Latent curvature: a seeded bijection of z that keeps N(0, I) exactly and bends every attribute boundary.

The renderer's map z -> scene factors is nearly linear in z, so one hyperplane per attribute separates its
labels. :class:`LatentTwist` is composed in front of that map, h = M(T(z)), to make it curved without
changing what the world renders. T is a stack of *twists*: each splits the coordinates (by a seeded
permutation) into a rotated half A, grouped in pairs, and a control half B, and turns every pair of A by
an angle that is a linear function of B,

    (a₁, a₂) -> (a₁ cos θ − a₂ sin θ, a₁ sin θ + a₂ cos θ),   θ = curvature · (z_B · v + φ).

For every fixed z_B a plane rotation maps N(0, I₂) to itself and z_B is left as it is, so each twist (and
the stack) maps N(0, I_d) to N(0, I_d): the law of T(z), hence of h, of the renders and of every label, is
exactly today's. The inverse turns the pairs back by −θ, twists in reverse order. θ's scale is
``curvature`` radians per unit of z_B (v has unit norm), so ``curvature = 0`` is the identity.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["LatentTwist", "TWIST_SEED_OFFSET"]

TWIST_SEED_OFFSET = 0x7E157  # the twists' RNG stream is world seed + this, apart from the map's own stream


class LatentTwist(nn.Module):
    """A stack of seeded, Gaussian-measure-preserving pair rotations of z (see the module docstring).

    Arguments:
        latent_dim: d, at least 4.
        curvature: angle scale in radians per unit of the control coordinates; 0 is the identity.
        seed: the world seed (the twists use their own stream derived from it).
        layers: number of twists; consecutive twists swap the roles of the rotated and control halves.

    Example:
        >>> twist = LatentTwist(64, curvature=1.0)
        >>> z = torch.randn(8, 64)
        >>> torch.allclose(twist.inverse(twist(z)), z, atol=1e-5)
        True
    """

    def __init__(self, latent_dim: int, curvature: float, seed: int = 0, layers: int = 4):
        super().__init__()
        if latent_dim < 4:
            raise ValueError(f"latent_dim: a twist needs at least 4 dimensions, got {latent_dim}")
        if layers < 1:
            raise ValueError(f"layers: at least 1, got {layers}")
        self.latent_dim, self.curvature, self.layers = int(latent_dim), float(curvature), int(layers)
        gen = torch.Generator().manual_seed(int(seed) + TWIST_SEED_OFFSET)
        n_rot = 2 * (latent_dim // 4)
        perm = torch.randperm(latent_dim, generator=gen)
        first, second = perm[:n_rot], perm[n_rot:]
        # halves alternate so every coordinate is turned, and every coordinate steers a turn
        alt = perm[latent_dim - n_rot :], perm[: latent_dim - n_rot]
        for k in range(layers):
            rot, ctrl = (first, second) if k % 2 == 0 else alt
            v = torch.randn(len(ctrl), n_rot // 2, generator=gen, dtype=torch.float64)
            v = v / v.norm(dim=0, keepdim=True)
            phase = (torch.rand(n_rot // 2, generator=gen, dtype=torch.float64) - 0.5) * 2 * torch.pi
            self.register_buffer(f"rot{k}", rot.clone())
            self.register_buffer(f"ctrl{k}", ctrl.clone())
            self.register_buffer(f"v{k}", v.float())
            self.register_buffer(f"phase{k}", phase.float())

    def _twist(self, z: Tensor, k: int, sign: float) -> Tensor:
        rot, ctrl = getattr(self, f"rot{k}"), getattr(self, f"ctrl{k}")
        theta = (sign * self.curvature) * (z[:, ctrl] @ getattr(self, f"v{k}") + getattr(self, f"phase{k}"))
        cos, sin = torch.cos(theta), torch.sin(theta)
        pairs = z[:, rot].reshape(len(z), -1, 2)
        a1, a2 = pairs[..., 0], pairs[..., 1]
        turned = torch.stack([a1 * cos - a2 * sin, a1 * sin + a2 * cos], -1).reshape(len(z), -1)
        return z.index_copy(1, rot, turned)

    def forward(self, z: Tensor) -> Tensor:
        """T(z) for latents ``z`` (N, d); same law as ``z`` when z ~ N(0, I)."""
        for k in range(self.layers):
            z = self._twist(z, k, 1.0)
        return z

    def inverse(self, u: Tensor) -> Tensor:
        """T⁻¹(u): the twists undone in reverse order."""
        for k in reversed(range(self.layers)):
            u = self._twist(u, k, -1.0)
        return u
