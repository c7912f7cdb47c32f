"""CLIP through open_clip: any architecture, weights from an explicit local file or a pretrained tag."""

from __future__ import annotations

import warnings
from pathlib import Path

import open_clip
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from promptgen.models import MODELS
from promptgen.models.common import CheckpointError, describe_load_error
from promptgen.registry import ConfigError

__all__ = ["OpenCLIPAdapter", "center_crop", "load_open_clip", "resize_shorter_side"]


def resize_shorter_side(x: Tensor, size: int) -> Tensor:
    """Bicubic resize, no antialiasing, so that the shorter side is ``size`` (torchvision 0.12's tensor
    ``Resize(size)``: the longer side becomes ⌊size · long / short⌋)."""
    h, w = x.shape[-2:]
    if min(h, w) == size:
        return x
    out = (size, int(size * w / h)) if h <= w else (int(size * h / w), size)
    return F.interpolate(x, size=out, mode="bicubic", align_corners=False, antialias=False)


def center_crop(x: Tensor, size: tuple[int, int]) -> Tensor:
    """The centred ``size`` window (top = round((H − h) / 2), as torchvision's ``CenterCrop``)."""
    h, w = x.shape[-2:]
    top, left = int(round((h - size[0]) / 2.0)), int(round((w - size[1]) / 2.0))
    return x[..., top : top + size[0], left : left + size[1]]


class OpenCLIPAdapter(nn.Module):
    """Wraps an open_clip model: images in [-1, 1] -> unit image embeddings; texts -> unit text embeddings.

    Preprocessing is differentiable and that of the paper's code (OpenAI CLIP's transforms on tensors under
    torchvision 0.12): (x + 1)/2 without clamping, bicubic resize of the shorter side to the model's input
    size without antialiasing, centre crop, then the model's own mean/std. So the CLIP energy can
    back-propagate into the generator.

    Arguments:
        model: an open_clip CLIP model.
        tokenizer: the matching open_clip tokenizer.
    """

    def __init__(self, model: nn.Module, tokenizer):
        super().__init__()
        self.model = model.eval().requires_grad_(False)
        self.tokenizer = tokenizer
        cfg = getattr(model.visual, "preprocess_cfg", {}) or {}
        size = model.visual.image_size
        self.image_size = tuple(size) if isinstance(size, tuple | list) else (int(size), int(size))
        mean = cfg.get("mean", open_clip.OPENAI_DATASET_MEAN)
        std = cfg.get("std", open_clip.OPENAI_DATASET_STD)
        self.register_buffer(
            "mean", torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1), persistent=False
        )
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1), persistent=False)

    def preprocess(self, x: Tensor) -> Tensor:
        return (
            center_crop(resize_shorter_side((x + 1) / 2, min(self.image_size)), self.image_size) - self.mean
        ) / self.std

    def encode_image(self, x: Tensor) -> Tensor:
        return F.normalize(self.model.encode_image(self.preprocess(x)), dim=-1)

    @torch.no_grad()
    def encode_text(self, texts: list[str]) -> Tensor:
        device = self.mean.device
        tokens = self.tokenizer(texts).to(device)
        return F.normalize(self.model.encode_text(tokens), dim=-1)


@MODELS.register("open_clip")
def load_open_clip(
    model: str,
    pretrained: str | None = None,
    model_config: str | None = None,
    tokenizer: str | None = None,
    device: str | torch.device = "cpu",
) -> OpenCLIPAdapter:
    """Build an open_clip model by name and load its weights.

    Arguments:
        model: open_clip architecture name, e.g. ``ViT-B-32-quickgelu`` (the paper's CLIP).
        pretrained: a local checkpoint path (preferred; works offline) or an open_clip pretrained tag such as
            ``openai``, which open_clip resolves from its cache (``~/.cache/huggingface``).
        model_config: optional JSON model config registered with ``open_clip.add_model_config`` first
            (how a custom architecture, e.g. the embedded world's tiny CLIP, is named).
        tokenizer: tokenizer name if it differs from ``model``.
    """
    if model_config is not None:
        path = Path(model_config)
        if not path.is_file():
            raise ConfigError(f"model_config: open_clip model config {path} not found")
        open_clip.add_model_config(path)
    if model not in open_clip.list_models():
        raise ConfigError(f"model: unknown open_clip architecture {model!r}")
    if pretrained is not None and ("/" in pretrained or pretrained.endswith((".pt", ".bin", ".safetensors"))):
        if not Path(pretrained).is_file():
            raise ConfigError(
                f"pretrained: CLIP checkpoint {pretrained} not found "
                "(download it, e.g. with `promptgen download`, and put it at this path)"
            )
    try:
        with warnings.catch_warnings():  # torch's TorchScript note: such a file is reported below in one line
            warnings.filterwarnings("ignore", message=".*TorchScript archive.*")
            clip = open_clip.create_model(
                model, pretrained=pretrained, device=device, require_pretrained=pretrained is not None
            )
    except Exception as err:  # noqa: BLE001 - garbage, truncated, TorchScript or foreign files, offline tags
        reason = describe_load_error(err)
        hint = (
            " (OpenAI's own release is TorchScript; see docs/paper-world.md)"
            if "TorchScript" in reason
            else ""
        )
        raise CheckpointError(
            f"pretrained: {pretrained}: {reason}; expected open_clip weights for {model}{hint}"
        ) from err
    return OpenCLIPAdapter(clip, open_clip.get_tokenizer(tokenizer or model)).to(device)
