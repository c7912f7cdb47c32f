"""A stand-in attribute classifier for pipeline tests: fixed random linear heads on the pixels."""

import torch
from torch import nn


class PixelHeads(nn.Module):
    """Binary heads (N,) and categorical heads (N, K) as fixed random linear maps of the pixels."""

    def __init__(self, heads: list[str], pixels: int, seed: int = 0, bias: float = 0.0, categorical=None):
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        self.heads = list(heads)
        self.sizes = {h: 1 for h in heads} | dict(categorical or {})
        total = sum(self.sizes.values())
        self.register_buffer("w", torch.randn(total, pixels, generator=gen) / pixels**0.5 * 8)
        self.register_buffer("b", bias + torch.linspace(0, 1.5, total))

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        logits = x.flatten(1) @ self.w.T + self.b
        out, i = {}, 0
        for h, k in self.sizes.items():
            out[h] = logits[:, i] if k == 1 else logits[:, i : i + k]
            i += k
        return out


def make_classifier(
    heads: list[str], pixels: int = 192, seed: int = 0, bias: float = 0.0, categorical: dict | None = None
) -> PixelHeads:
    return PixelHeads(heads, pixels, seed, bias, categorical)
