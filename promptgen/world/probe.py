"""The linear probe: how well one hyperplane in z predicts each oracle label (the world's curvature gauge).

A logistic regression on the raw latents is fitted to the oracle's labels of ``n_fit`` prior latents and
scored (accuracy) on ``n_test`` held-out ones. On a nearly linear map z -> factors it is close to 1; the
twists of :mod:`promptgen.world.curvature` bend the attribute boundaries and lower it, while the labels
stay exactly as learnable from images as before.
"""

from __future__ import annotations

import torch
from torch import Tensor

from promptgen.world.groundtruth import oracle

__all__ = ["PROBE_ATTRIBUTES", "fit_logistic", "linear_probe"]

PROBE_ATTRIBUTES = ("male", "eyeglasses", "blond", "young")


def fit_logistic(x: Tensor, y: Tensor, l2: float = 1e-4, iters: int = 200) -> tuple[Tensor, Tensor]:
    """L2-regularised logistic regression by full-batch L-BFGS (float64, deterministic).

    Arguments:
        x: features (N, d).
        y: binary labels (N,).
        l2: weight of ½‖w‖² (the bias is not penalised), per sample.
        iters: L-BFGS iterations at most.

    Returns:
        ``(w, b)``: weights (d,) and bias (); predict ``x @ w + b > 0``.
    """
    x, y = x.double(), y.double()
    w = torch.zeros(x.shape[1], dtype=torch.float64, requires_grad=True)
    b = torch.zeros((), dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], max_iter=iters, tolerance_grad=1e-9, line_search_fn="strong_wolfe")

    def closure() -> Tensor:
        opt.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(x @ w + b, y)
        loss = loss + 0.5 * l2 * w.square().sum()
        loss.backward()
        return loss

    opt.step(closure)
    return w.detach(), b.detach()


@torch.no_grad()
def linear_probe(
    curvature: float,
    attributes: tuple[str, ...] = PROBE_ATTRIBUTES,
    n_fit: int = 25_000,
    n_test: int = 5_000,
    seed: int = 2_024,
    latent_dim: int = 64,
    world_seed: int = 0,
) -> dict[str, float]:
    """Held-out accuracy of a logistic regression z -> oracle label, per attribute.

    Arguments:
        curvature: the world's curvature (:class:`promptgen.world.latent_map.WorldMap`).
        attributes: oracle labels to probe.
        n_fit: prior latents the probe is fitted on.
        n_test: held-out prior latents it is scored on.
        seed: RNG seed of the latents.
        latent_dim: d.
        world_seed: the world seed.

    Returns:
        ``{attribute: accuracy}`` on the held-out latents.
    """
    z = torch.randn(n_fit + n_test, latent_dim, generator=torch.Generator().manual_seed(seed))
    labels = oracle(z, seed=world_seed, curvature=curvature)
    out = {}
    for a in attributes:
        y = labels[a].double()
        with torch.enable_grad():
            w, b = fit_logistic(z[:n_fit], y[:n_fit])
        pred = (z[n_fit:].double() @ w + b) > 0
        out[a] = float((pred == labels[a][n_fit:]).double().mean())
    return out
