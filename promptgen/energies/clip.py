"""CLIP energy (Eq. 3): 1 − cos between augmented image embeddings and the text embedding, averaged over L."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from promptgen.energies.base import Energy, EnergyInput
from promptgen.energies.diffaug import diff_augment
from promptgen.registry import ConfigError

__all__ = ["CLIPEnergy"]


class CLIPEnergy(Energy):
    """E_CLIP(x, t) = (1/L) Σ_l (1 − cos⟨CLIP_img(DiffAug_l(x)), CLIP_text(t)⟩).

    As the paper's code: G's images (in [−1, 1], not clamped) are mapped to [0, 1], augmented there
    (:mod:`promptgen.energies.diffaug`: translation and cutout fill black; one resize ratio per image shared
    by its L copies) and handed to CLIP without clamping (the adapter maps [−1, 1] back to [0, 1]).

    Arguments:
        clip: an adapter with ``encode_image`` (images in [-1, 1] -> unit vectors) and ``encode_text``.
        text: the description t.
        n_aug: L, the number of augmented copies (the paper: 50); 0 means no augmentation.
        policy: DiffAugment policy (the paper: ``color,translation,resize,cutout``).
        chunk: images per CLIP forward, to bound memory with large L.
    """

    def __init__(
        self,
        clip: nn.Module,
        text: str,
        n_aug: int = 50,
        policy: str = "color,translation,resize,cutout",
        chunk: int = 256,
    ):
        super().__init__()
        if not isinstance(text, str) or not text.strip():
            raise ConfigError(f"text: expected a non-blank string (the CLIP prompt), got {text!r}")
        self.clip, self.text, self.n_aug, self.policy, self.chunk = clip, text, int(n_aug), policy, int(chunk)
        self.register_buffer("text_embedding", clip.encode_text([text])[0].detach().clone(), persistent=False)

    def forward(self, inp: EnergyInput) -> Tensor:
        unit = (inp.x + 1) / 2
        n = unit.shape[0]
        if self.n_aug:
            unit = diff_augment(unit.repeat(self.n_aug, 1, 1, 1), self.policy, inp.generator, n_images=n)
        emb = torch.cat([self.clip.encode_image(c * 2 - 1) for c in unit.split(self.chunk)])
        cos = emb @ self.text_embedding.to(emb.dtype)
        return (1 - cos).view(max(self.n_aug, 1), n).mean(0)
