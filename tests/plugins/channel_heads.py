"""A stand-in differentiable attribute classifier for style-space tests: head i is the mean of colour
channel i mod 3 over image quadrant i mod 4, minus its threshold, scaled."""

import torch
from torch import nn


def quadrant_means(x: torch.Tensor, head: int) -> torch.Tensor:
    """The mean (N,) of head ``head``'s channel over its quadrant (top-left, top-right, bottom-left, …)."""
    h, w = x.shape[-2] // 2, x.shape[-1] // 2
    q = head % 4
    rows, cols = slice(h * (q // 2), h * (q // 2 + 1)), slice(w * (q % 2), w * (q % 2 + 1))
    return x[:, head % 3, rows, cols].mean(dim=[1, 2])


class ChannelHeads(nn.Module):
    """Head i: ``scale · (quadrant_means(x, i) − thresholds[i])``, a (N,) logit."""

    def __init__(self, heads: list[str], thresholds: list[float], scale: float = 40.0):
        super().__init__()
        self.heads, self.thresholds, self.scale = list(heads), list(thresholds), float(scale)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return {
            h: self.scale * (quadrant_means(x, i) - t)
            for i, (h, t) in enumerate(zip(self.heads, self.thresholds, strict=True))
        }


def make_classifier(heads: list[str], thresholds: list[float], scale: float = 40.0) -> ChannelHeads:
    return ChannelHeads(heads, thresholds, scale)
