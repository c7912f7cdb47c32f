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
        x = inp.x
        n = x.shape[0]
        copies = (
            x if self.n_aug == 0 else diff_augment(x.repeat(self.n_aug, 1, 1, 1), self.policy, inp.generator)
        )
        emb = torch.cat([self.clip.encode_image(c) for c in copies.split(self.chunk)])
        cos = emb @ self.text_embedding.to(emb.dtype)
        return (1 - cos).view(max(self.n_aug, 1), n).mean(0)
