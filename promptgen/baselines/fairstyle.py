"""FairStyle (Karakas et al., 2022, arXiv:2202.06240): de-bias a StyleGAN2 by editing its style channels.

1. For each target attribute, rank the channels of S-space (the outputs of the synthesis network's style
   affines) by the mean magnitude of the classifier's gradient with respect to them, over generated samples,
   and keep the top ``k``.
2. Add a learned offset (the "FairStyle bias") to each kept channel, the same for every sample, and optimise
   the offsets so that the attribute distribution of a batch of edited samples — the mean over the batch of
   the product of the classifier's per-attribute probabilities — matches the uniform distribution over the
   attributes' combinations (KL(uniform ‖ batch distribution)). One attribute gives two classes, a pair four.
3. The edited generator is the de-biased model: every z is rendered from its edited styles.

The generator must expose S-space (:class:`promptgen.generators.stylegan2.StyleGAN2Generator`'s ``mapping``,
``styles`` and ``synthesize_styles``).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from promptgen.energies.classifier import class_log_probs

__all__ = [
    "FairStyleEdit",
    "StyleChannel",
    "batch_combination_log_probs",
    "fit_fairstyle",
    "style_gradients",
    "top_channels",
]

Classifier = Callable[[Tensor], Mapping[str, Tensor]]


@dataclass(frozen=True)
class StyleChannel:
    """One channel of S-space: style layer index, channel index, and its gradient score."""

    layer: int
    channel: int
    score: float


@dataclass
class FairStyleEdit:
    """Offsets added to style channels: ``styles[layer][:, channel] += offset`` for every sample."""

    channels: list[StyleChannel]
    offsets: Tensor  # (len(channels),)

    def apply(self, styles: Sequence[Tensor]) -> list[Tensor]:
        """Edited copies of ``styles`` (one ``(N, C_l)`` tensor per layer)."""
        out = list(styles)
        for layer in sorted({c.layer for c in self.channels}):
            sel = [i for i, c in enumerate(self.channels) if c.layer == layer]
            idx = torch.tensor([self.channels[i].channel for i in sel])
            delta = torch.zeros(styles[layer].shape[1], dtype=styles[layer].dtype)
            out[layer] = styles[layer] + delta.index_put((idx,), self.offsets[sel].to(delta.dtype))
        return out

    def render(self, generator, z: Tensor) -> Tensor:
        """Images of latents ``z`` from the edited styles."""
        with torch.no_grad():
            return generator.synthesize_styles(self.apply(generator.styles(generator.mapping(z))))


def style_gradients(
    generator, classifier: Classifier, head: str, z: Tensor, batch_size: int = 64
) -> list[Tensor]:
    """Mean |∂ logit_head / ∂ s| over the samples ``z``, one ``(C_l,)`` tensor per style layer.

    Arguments:
        generator: exposes ``mapping``, ``styles`` and ``synthesize_styles``.
        classifier: images -> ``{head: logits}``; a binary head's (N,) logit, or (N, 2) logits whose
            difference is used.
        head: the attribute.
        z: latents to average over.
        batch_size: samples per backward pass.
    """
    total: list[Tensor] | None = None
    for chunk in z.split(batch_size):
        with torch.no_grad():
            styles = [s.detach() for s in generator.styles(generator.mapping(chunk))]
        for s in styles:
            s.requires_grad_(True)
        logit = classifier(generator.synthesize_styles(styles))[head]
        if logit.ndim == 2:
            logit = logit[:, 1] - logit[:, 0]
        grads = torch.autograd.grad(logit.sum(), styles)
        sums = [g.abs().sum(dim=0) for g in grads]
        total = sums if total is None else [a + b for a, b in zip(total, sums, strict=True)]
    return [t / len(z) for t in total]


def top_channels(
    gradients: Sequence[Tensor], k: int, exclude: Sequence[StyleChannel] = ()
) -> list[StyleChannel]:
    """The ``k`` channels with the largest scores (over every layer), skipping ``exclude``'s channels."""
    if k < 1:
        raise ValueError(f"fairstyle channels: expected k >= 1, got {k}")
    taken = {(c.layer, c.channel) for c in exclude}
    flat = [(float(v), layer, ch) for layer, g in enumerate(gradients) for ch, v in enumerate(g.tolist())]
    flat.sort(reverse=True)
    out = [StyleChannel(layer, ch, v) for v, layer, ch in flat if (layer, ch) not in taken]
    return out[:k]


def batch_combination_log_probs(logits: Mapping[str, Tensor], heads: Sequence[str]) -> Tensor:
    """log p̂(c) for every combination c of the binary ``heads`` (itertools.product order, head 0 slowest):
    the batch mean of Π_j P(c_j | x_i)."""
    logp = [class_log_probs(logits[h]) for h in heads]  # each (N, 2)
    rows = []
    for combo in itertools.product((0, 1), repeat=len(heads)):
        joint = sum(lp[:, c] for lp, c in zip(logp, combo, strict=True))
        rows.append(torch.logsumexp(joint, dim=0) - torch.log(torch.tensor(float(joint.shape[0]))))
    return torch.stack(rows)


def fit_fairstyle(
    generator,
    classifier: Classifier,
    heads: Sequence[str],
    channels: Sequence[StyleChannel],
    *,
    steps: int = 200,
    batch_size: int = 64,
    lr: float = 0.05,
    seed: int = 0,
) -> FairStyleEdit:
    """Optimise one offset per channel so the edited batch distribution over ``heads``' combinations is
    uniform: minimise KL(uniform ‖ p̂) with Adam on fresh latents every step.

    Arguments:
        generator: exposes ``latent_dim``, ``mapping``, ``styles`` and ``synthesize_styles``.
        classifier: images -> ``{head: logits}`` (the control classifier).
        heads: the attributes to balance jointly (one or several).
        channels: the style channels to edit (from :func:`top_channels` of each attribute).
        steps, batch_size, lr: the optimisation.
        seed: seed of the latents.
    """
    offsets = torch.zeros(len(channels), requires_grad=True)
    edit = FairStyleEdit(list(channels), offsets)
    opt = torch.optim.Adam([offsets], lr=lr)
    rng = torch.Generator().manual_seed(seed)
    log_uniform = -len(heads) * torch.log(torch.tensor(2.0))
    for _ in range(steps):
        z = torch.randn(batch_size, generator.latent_dim, generator=rng)
        with torch.no_grad():
            styles = generator.styles(generator.mapping(z))
        images = generator.synthesize_styles(edit.apply(styles))
        logp = batch_combination_log_probs(classifier(images), heads)
        loss = (log_uniform.exp() * (log_uniform - logp)).sum()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return FairStyleEdit(list(channels), offsets.detach().clone())
