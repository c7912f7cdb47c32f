"""A stand-in attribute classifier for pipeline tests: fixed random linear heads on the pixels."""

import torch
from torch import nn


class PixelHeads(nn.Module):
    def __init__(self, heads: list[str], pixels: int, seed: int = 0, bias: float = 0.0):
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        self.heads = list(heads)
        self.register_buffer("w", torch.randn(len(heads), pixels, generator=gen) / pixels**0.5 * 8)
        self.bias = bias

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        logits = x.flatten(1) @ self.w.T + self.bias
        return {h: logits[:, i] for i, h in enumerate(self.heads)}


def make_classifier(heads: list[str], pixels: int = 192, seed: int = 0, bias: float = 0.0) -> PixelHeads:
    return PixelHeads(heads, pixels, seed, bias)
