"""Table 2 logic: de-biasing binary attributes and their pairs, judged by classifiers and an oracle.

Methods, all on the same generator and the same classifier control:

* ``unmodified`` — z ~ N(0, I);
* ``direction`` — latent-direction balancing (InterFaceGAN-style) on control-classifier labels;
* ``resample`` — self-normalised importance resampling from the per-combination EBMs
  p(z | c) ∝ N(z) Π_j P(c_j | G(z))^λ, the exact reference as the pool grows;
* ``promptgen`` — one conditional INN over every combination c ∈ {0, 1}^k of the k attributes, sampled
  with equal numbers per combination (so every marginal and every pair is balanced by construction).

Labels are thresholded *probabilities* (P ≥ 0.5), never raw logits.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
import torch
from torch import Tensor, nn

from eval.metric_kl import joint_labels, kl_to_uniform
from promptgen.baselines import balance_along_directions, fit_direction
from promptgen.energies.classifier import class_log_probs
from promptgen.generators import Generator
from promptgen.sample import per_sample_normal

__all__ = [
    "TABLE2_COLUMNS",
    "binary_labels",
    "judge_labels",
    "judge_log_probs",
    "labels_from_log_probs",
    "direction_latents",
    "kl_columns",
    "promptgen_latents",
    "resample_indices",
    "resample_latents",
    "unmodified_latents",
]

# Table 2 columns -> the binary attributes they combine (age = the ``young`` head).
TABLE2_COLUMNS: dict[str, tuple[str, ...]] = {
    "gender": ("male",),
    "eyeglasses": ("eyeglasses",),
    "blond": ("blond",),
    "age_gender": ("young", "male"),
    "age_eyeglasses": ("young", "eyeglasses"),
    "gender_eyeglasses": ("male", "eyeglasses"),
}


def kl_columns(
    labels: Mapping[str, np.ndarray], columns: Mapping[str, Sequence[str]] = TABLE2_COLUMNS
) -> dict:
    """D_KL(empirical ‖ uniform) per column from 0/1 label arrays."""
    out = {}
    for col, attrs in columns.items():
        joint, k = joint_labels([labels[a] for a in attrs], [2] * len(attrs))
        out[col] = kl_to_uniform(joint, k)
    return out


@torch.no_grad()
def judge_log_probs(
    generator: Generator,
    z: Tensor,
    judges: Mapping[str, nn.Module],
    heads: Sequence[str],
    batch_size: int = 256,
) -> dict[str, dict[str, Tensor]]:
    """log P(class | G(z)), (N, K) float32 on the CPU, per judge and head; each image is rendered once."""
    out = {j: {h: [] for h in heads} for j in judges}
    device = next(iter(generator.buffers()), z).device
    for chunk in z.split(batch_size):
        images = generator(chunk.to(device))
        for name, clf in judges.items():
            logits = clf(images)
            for h in heads:
                out[name][h].append(class_log_probs(logits[h]).float().cpu())
    return {j: {h: torch.cat(v) for h, v in logps.items()} for j, logps in out.items()}


def labels_from_log_probs(logps: Mapping[str, Tensor]) -> dict[str, np.ndarray]:
    """0/1 labels (P(positive) ≥ 0.5) per binary head from :func:`judge_log_probs`' output of one judge."""
    return {h: (lp.exp()[:, 1] >= 0.5).numpy().astype(np.int64) for h, lp in logps.items()}


def judge_labels(
    generator: Generator,
    z: Tensor,
    judges: Mapping[str, nn.Module],
    heads: Sequence[str],
    batch_size: int = 256,
) -> dict[str, dict[str, np.ndarray]]:
    """0/1 labels (P(positive) ≥ 0.5) of G(z) per judge and head; each image is rendered once."""
    logps = judge_log_probs(generator, z, judges, heads, batch_size)
    return {j: labels_from_log_probs(lp) for j, lp in logps.items()}


def binary_labels(
    generator: Generator, z: Tensor, classifier: nn.Module, heads: Sequence[str], batch_size: int = 256
) -> dict[str, np.ndarray]:
    """0/1 labels of G(z) for each binary head of one classifier."""
    return judge_labels(generator, z, {"clf": classifier}, heads, batch_size)["clf"]


def unmodified_latents(dim: int, n: int, seed: int) -> Tensor:
    return per_sample_normal(seed, range(n), dim)


@torch.no_grad()
def promptgen_latents(
    inn: nn.Module, combos: Tensor, per_combo: int, seed: int, batch_size: int = 1024
) -> Tensor:
    """z = f(ε_i, c_i) with each combination c repeated ``per_combo`` times; ε_i seeded by (seed, i)."""
    cond = combos.repeat_interleave(per_combo, dim=0)
    eps = per_sample_normal(seed, range(len(cond)), inn.dim)
    return torch.cat(
        [inn(e, c)[0] for e, c in zip(eps.split(batch_size), cond.split(batch_size), strict=True)]
    )


def direction_latents(
    z_fit: Tensor,
    fit_labels: Mapping[str, np.ndarray],
    heads: Sequence[str],
    combos: Tensor,
    per_combo: int,
    seed: int,
) -> Tensor:
    """Fit one boundary per head on (z_fit, labels); move fresh samples to equal shares of every combo."""
    directions = [fit_direction(z_fit, torch.as_tensor(fit_labels[h])) for h in heads]
    targets = combos.repeat_interleave(per_combo, dim=0)
    z = per_sample_normal(seed, range(len(targets)), z_fit.shape[1])
    return balance_along_directions(z, directions, targets)


def resample_indices(
    logps: Mapping[str, Tensor],
    heads: Sequence[str],
    combos: Tensor,
    per_combo: int,
    *,
    weight: float,
    seed: int,
    on_ess: Callable[[Tensor, float], None] | None = None,
) -> Tensor:
    """Pool rows drawn with weights Π_j P(c_j | G(z))^λ, ``per_combo`` draws for each combination (in order).

    ``logps``: the pool's control-classifier log-probabilities per head, (P, 2) (:func:`judge_log_probs`).
    """
    gen = torch.Generator().manual_seed(seed)
    logp = {h: logps[h].double() for h in heads}
    picked = []
    for c in combos:
        logw = weight * sum(logp[h][:, int(c[j])] for j, h in enumerate(heads))
        w = torch.softmax(logw, 0)
        if on_ess is not None:
            on_ess(c, float(1.0 / (w * w).sum()))
        picked.append(torch.multinomial(w, per_combo, replacement=True, generator=gen))
    return torch.cat(picked)


def resample_latents(
    generator: Generator,
    classifier: nn.Module,
    heads: Sequence[str],
    combos: Tensor,
    per_combo: int,
    *,
    weight: float,
    pool: int,
    seed: int,
    batch_size: int = 512,
    on_ess: Callable[[Tensor, float], None] | None = None,
) -> Tensor:
    """Resample a prior pool (z_i seeded by (seed, i)) with :func:`resample_indices`' weights."""
    z = per_sample_normal(seed, range(pool), generator.latent_dim)
    logps = judge_log_probs(generator, z, {"control": classifier}, heads, batch_size)["control"]
    return z[resample_indices(logps, heads, combos, per_combo, weight=weight, seed=seed, on_ess=on_ess)]
