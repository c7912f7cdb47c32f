"""Acceptance figures of the world: held-out accuracy of every model, renderer speed and gradients, biases.

Each function returns rows ``(metric, value, threshold, pass)``; ``threshold`` is a string such as
``">=0.97"``. Held-out renders come from their own seed, disjoint from every training stream.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

import torch
from torch import Tensor, nn

from promptgen.rotations import geodesic_distance
from promptgen.world.groundtruth import BINARY, CATEGORICAL, oracle
from promptgen.world.identity import identity_target, roc_auc, swap_conditions
from promptgen.world.latent_map import get_world
from promptgen.world.pose import angles_to_rotation
from promptgen.world.render import Rasteriser, SynthRenderer
from promptgen.world.train import Batch, render_batch

__all__ = [
    "Row",
    "bias_rows",
    "classifier_rows",
    "control_rows",
    "gradient_rows",
    "held_out",
    "identity_rows",
    "linear_probe_rows",
    "pose_rows",
    "speed_rows",
]

Row = tuple[str, float, str, bool]
HELD_OUT_SEED = 987_654


def _row(metric: str, value: float, op: str, threshold: float) -> Row:
    ok = value >= threshold if op == ">=" else value <= threshold
    return (metric, float(value), f"{op}{threshold:g}", bool(ok))


def held_out(
    n: int = 4000,
    seed: int = HELD_OUT_SEED,
    latent_dim: int = 64,
    world_seed: int = 0,
    curvature: float = 0.0,
) -> Batch:
    """``n`` held-out renders with oracle labels."""
    gen = torch.Generator().manual_seed(seed)
    world, ras = get_world(latent_dim, world_seed, curvature), Rasteriser()
    parts = [render_batch(world, ras, min(256, n - i), gen) for i in range(0, n, 256)]
    labels = {k: torch.cat([p.labels[k] for p in parts]) for k in parts[0].labels}
    scene = type(parts[0].scene)(
        **{k: torch.cat([getattr(p.scene, k) for p in parts]) for k in parts[0].scene.__dict__}
    )
    return Batch(torch.cat([p.images for p in parts]), torch.cat([p.h for p in parts]), scene, labels)


@torch.no_grad()
def _predict(model: Callable[[Tensor], object], images: Tensor, batch_size: int = 500) -> object:
    outs = [model(images[i : i + batch_size]) for i in range(0, len(images), batch_size)]
    if isinstance(outs[0], dict):
        return {k: torch.cat([o[k] for o in outs]) for k in outs[0]}
    return torch.cat(outs)


def classifier_rows(
    name: str, model: nn.Module, data: Batch, binary: float = 0.97, cat: float = 0.95
) -> list[Row]:
    """Accuracy of every head of a classifier adapter (binary heads at logit 0, categorical by argmax)."""
    out = _predict(model, data.images)
    rows = []
    for head, logits in out.items():
        if logits.ndim == 1:
            acc = ((logits > 0) == data.labels[head].bool()).float().mean()
            rows.append(_row(f"{name}.{head}.accuracy", acc, ">=", binary))
        else:
            acc = (logits.argmax(-1) == data.labels[head]).float().mean()
            rows.append(_row(f"{name}.{head}.accuracy", acc, ">=", cat))
    return rows


def pose_rows(model: nn.Module, data: Batch, max_median_deg: float = 5.0) -> list[Row]:
    """Median geodesic error (degrees) between predicted and true head rotations."""
    rot = _predict(model, data.images)
    true = angles_to_rotation(data.labels["pitch"], data.labels["yaw"], data.labels["roll"])
    err = torch.rad2deg(geodesic_distance(rot, true))
    return [
        _row("pose.median_geodesic_deg", err.median(), "<=", max_median_deg),
        ("pose.p90_geodesic_deg", float(err.quantile(0.9)), "", True),
    ]


@torch.no_grad()
def identity_rows(
    model: nn.Module,
    n_pairs: int = 2000,
    seed: int = HELD_OUT_SEED + 1,
    latent_dim: int = 64,
    world_seed: int = 0,
    min_auc: float = 0.98,
    curvature: float = 0.0,
) -> list[Row]:
    """Same-vs-different identity ROC-AUC of cosine similarity, same pairs across pose/expression/light."""
    gen = torch.Generator().manual_seed(seed)
    world, ras = get_world(latent_dim, world_seed, curvature), Rasteriser()
    h = [world(torch.randn(n_pairs, latent_dim, generator=gen)) for _ in range(3)]
    first = render_batch(world, ras, n_pairs, gen, h[0])
    same = render_batch(world, ras, n_pairs, gen, swap_conditions(h[0], h[1]))
    other = render_batch(world, ras, n_pairs, gen, swap_conditions(h[2], h[1]))
    e0, e1, e2 = (_predict(model, b.images) for b in (first, same, other))
    cos = torch.nn.functional.cosine_similarity
    auc = roc_auc(cos(e0, e1), cos(e0, e2))
    t0, t1, t2 = (identity_target(b.scene) for b in (first, same, other))
    return [
        _row("identity.roc_auc", auc, ">=", min_auc),
        ("identity.oracle_target_roc_auc", roc_auc(cos(t0, t1), cos(t0, t2)), "", True),
    ]


def render_pass_seconds(G: SynthRenderer, z: Tensor, repeats: int) -> list[float]:
    """Wall-clock seconds of ``repeats`` no-grad passes ``G(z)`` after one untimed warm-up pass."""
    times = []
    with torch.no_grad():
        G(z)
        for _ in range(repeats):
            t = time.perf_counter()
            G(z)
            times.append(time.perf_counter() - t)
    return times


def _render_rate(G: SynthRenderer, z: Tensor, repeats: int) -> float:
    return len(z) / min(render_pass_seconds(G, z, repeats))


def speed_rows(
    batch_size: int = 256, repeats: int = 5, min_rate: float = 2000.0, curvature: float = 0.0
) -> list[Row]:
    """Renderer throughput (images/s, best of ``repeats``) at ``batch_size`` under no_grad.

    The acceptance row uses every core of the CPU (``os.cpu_count()`` torch threads: the target is the
    machine's throughput); an informational row gives the one-thread rate. The caller's thread setting is
    restored afterwards.
    """
    G = SynthRenderer(curvature=curvature)
    z = torch.randn(batch_size, G.latent_dim, generator=torch.Generator().manual_seed(0))
    threads, cores = torch.get_num_threads(), os.cpu_count() or 1
    try:
        torch.set_num_threads(1)
        one = _render_rate(G, z, repeats)
        torch.set_num_threads(cores)
        every = _render_rate(G, z, repeats)
    finally:
        torch.set_num_threads(threads)
    name = f"renderer.images_per_s.batch{batch_size}"
    return [_row(name, every, ">=", min_rate), (f"{name}.threads1", one, "", True)]


def gradient_rows(
    classifiers: dict[str, nn.Module], n: int = 16, seed: int = 0, curvature: float = 0.0
) -> list[Row]:
    """∂E/∂z of every binary head's energy E_t = −log p(t | G(z)), t ∈ {0, 1}, is finite and non-zero.

    The minimum norm is taken over the samples the energy pushes (p(t | x) < 1/2); where a sample already
    has class t its energy is saturated and its gradient legitimately tiny.
    """
    G = SynthRenderer(curvature=curvature)
    z = torch.randn(n, G.latent_dim, generator=torch.Generator().manual_seed(seed)).requires_grad_(True)
    x = G(z)
    rows: list[Row] = []
    for name, model in classifiers.items():
        for head, logit in model(x).items():
            if logit.ndim != 1:
                continue
            for t, sign in ((1, -1.0), (0, 1.0)):
                energy = torch.nn.functional.softplus(sign * logit)
                (grad,) = torch.autograd.grad(energy.sum(), z, retain_graph=True)
                norms = grad.norm(dim=-1)[(sign * logit) > 0]
                value = float(norms.min()) if len(norms) else float("nan")
                ok = bool(torch.isfinite(grad).all() and (norms > 0).all())
                rows.append((f"gradient.{name}.{head}={t}.min_norm", value, ">0 finite", ok))
    return rows


def control_rows(
    classifier: nn.Module,
    n: int = 32,
    steps: int = 40,
    lr: float = 0.1,
    seed: int = 1,
    curvature: float = 0.0,
) -> list[Row]:
    """Latent optimisation sanity check: from ``n`` oracle negatives, Adam on E(z) = −log p(a | G(z)) + ½‖z‖²
    for ``steps`` steps; the share that the *oracle* then calls positive (informational).

    Shows that classifier energies carry gradient signal through the renderer to z.
    """
    G = SynthRenderer(curvature=curvature)
    gen = torch.Generator().manual_seed(seed)
    rows: list[Row] = []
    for head, logit in classifier(G(torch.zeros(1, G.latent_dim))).items():
        if logit.ndim != 1:
            continue
        pool = torch.randn(8 * n, G.latent_dim, generator=gen)
        z = pool[~oracle(pool, curvature=curvature)[head]][:n].clone().requires_grad_(True)
        opt = torch.optim.Adam([z], lr=lr)
        for _ in range(steps):
            energy = torch.nn.functional.softplus(-classifier(G(z))[head]) + 0.5 * z.square().sum(-1)
            opt.zero_grad()
            energy.sum().backward()
            opt.step()
        share = oracle(z.detach(), curvature=curvature)[head].float().mean()
        rows.append((f"control.{head}.oracle_flip_share", float(share), "", True))
    return rows


def bias_rows(
    n: int = 100_000, seed: int = 12_345, latent_dim: int = 64, world_seed: int = 0, curvature: float = 0.0
) -> list[Row]:
    """Measured marginals and conditionals of the world prior (oracle, no rendering); informational."""
    z = torch.randn(n, latent_dim, generator=torch.Generator().manual_seed(seed))
    lab = oracle(z, seed=world_seed, curvature=curvature)
    rows = [(f"bias.P({k})", float(lab[k].float().mean()), "", True) for k in BINARY]
    for group, k in CATEGORICAL.items():
        counts = torch.bincount(lab[group], minlength=k).float() / n
        rows += [(f"bias.P({group}={i})", float(c), "", True) for i, c in enumerate(counts)]
    cond = {
        "eyeglasses|old": ("eyeglasses", lab["old"]),
        "eyeglasses|not old": ("eyeglasses", ~lab["old"]),
        "blond|female": ("blond", ~lab["male"]),
        "blond|male": ("blond", lab["male"]),
        "makeup|female": ("makeup", ~lab["male"]),
        "makeup|male": ("makeup", lab["male"]),
    }
    rows += [(f"bias.P({k})", float(lab[a][m].float().mean()), "", True) for k, (a, m) in cond.items()]
    for a in ("yaw", "pitch", "roll"):
        rows.append((f"bias.max_abs_{a}_deg", float(torch.rad2deg(lab[a].abs().max())), "", True))
    return rows


def linear_probe_rows(
    curvature: float, band: tuple[float, float] = (0.75, 0.90), flat_min: float = 0.95, world_seed: int = 0
) -> list[Row]:
    """Held-out accuracy of a linear probe z -> oracle label (:func:`promptgen.world.probe.linear_probe`).

    Rows ``linear_probe.<attribute>`` at ``curvature`` must lie in ``band`` (curved: a hyperplane in z does
    not solve the attribute) when ``curvature > 0`` (informational at 0), and rows
    ``linear_probe.<attribute>.curvature0`` give the untwisted map's, which must reach ``flat_min``.
    """
    from promptgen.world.probe import linear_probe

    lo, hi = band
    flat = linear_probe(0.0, world_seed=world_seed)
    curved = linear_probe(curvature, world_seed=world_seed) if curvature > 0 else flat
    rows: list[Row] = []
    for attr, value in curved.items():
        if curvature > 0:
            rows.append((f"linear_probe.{attr}", value, f"[{lo:g},{hi:g}]", lo <= value <= hi))
        else:
            rows.append((f"linear_probe.{attr}", value, "", True))
        rows.append(_row(f"linear_probe.{attr}.curvature0", flat[attr], ">=", flat_min))
    return rows
