"""The embedded synthetic face world: a differentiable renderer, its oracle and the models trained on it.

A faithful miniature of FFHQ + StyleGAN2 + the paper's off-the-shelf models (docs/design.md §5): z ~ N(0, I_d)
goes through a fixed, seeded, entangling map to scene factors (:mod:`promptgen.world.latent_map`), which
become scene parameters (:mod:`promptgen.world.scene`) and a soft-rasterised 64×64 face
(:mod:`promptgen.world.render`). The oracle (:mod:`promptgen.world.groundtruth`) gives exact labels
for every z.

This package module stays light: import the submodules for the heavy parts. ``oracle`` is re-exported
lazily so ``promptgen.world.oracle(z)`` works without importing the renderer at package import.
"""

from __future__ import annotations

from typing import Any

__all__ = ["get_world", "oracle"]


def get_world(latent_dim: int = 64, seed: int = 0, curvature: float = 0.0) -> Any:
    """The world (map, thresholds, twists) for ``(latent_dim, seed, curvature)``; cached."""
    from promptgen.world.latent_map import get_world as _get_world

    return _get_world(latent_dim, seed, curvature)


def __getattr__(name: str) -> Any:
    if name == "oracle":
        from promptgen.world.groundtruth import oracle

        return oracle
    raise AttributeError(f"module 'promptgen.world' has no attribute {name!r}")
