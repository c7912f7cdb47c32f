"""The embedded world's tiny CLIP: an open_clip model trained contrastively on templated captions.

The paper's CLIP is ViT-B/32 loaded through open_clip. The embedded world's CLIP goes through exactly
the same calls: its architecture is a JSON model config registered with ``open_clip.add_model_config``,
its weights a local checkpoint given as ``pretrained``, its tokenizer the stock open_clip BPE tokenizer;
:func:`promptgen.models.clip.load_open_clip` loads it like ViT-B-32::

    load_open_clip(model="world-tiny-clip", pretrained="weights/world/clip/world-tiny-clip.pt",
                   model_config="weights/world/clip/world-tiny-clip.json")

It is trained with open_clip's :class:`~open_clip.ClipLoss` on renders paired with captions from
:func:`promptgen.world.captions.make_captions` (fresh captions every epoch), which carry the reporting
bias of the paper's Fig. 8: "without makeup" is said mostly of female-cue faces.

References:
    Radford et al., "Learning Transferable Visual Models From Natural Language Supervision", ICML 2021
    (arXiv:2103.00020). Ilharco et al., OpenCLIP (doi:10.5281/zenodo.5143773).
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import open_clip
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from promptgen.models.clip import OpenCLIPAdapter, load_open_clip
from promptgen.world.captions import CaptionRates, make_captions

__all__ = [
    "ATTRIBUTE_PROMPTS",
    "BIAS_PROMPT",
    "TINY_CLIP_ARCH",
    "WORLD_CLIP",
    "ClipTrainConfig",
    "Row",
    "clip_metrics",
    "create_tiny_clip",
    "load_world_clip",
    "reporting_bias",
    "save_checkpoint",
    "to_unit_range",
    "train_tiny_clip",
    "write_model_config",
    "zero_shot_accuracy",
]

LOG = logging.getLogger(__name__)

WORLD_CLIP = "world-tiny-clip"
"""open_clip architecture name of the tiny CLIP (the stem of its JSON model config)."""

TINY_CLIP_ARCH: dict[str, Any] = {
    "embed_dim": 64,
    "vision_cfg": {"image_size": 64, "layers": [1, 1, 1, 1], "width": 16, "head_width": 32},
    "text_cfg": {"context_length": 32, "vocab_size": 49408, "width": 64, "heads": 4, "layers": 2},
}
"""Default open_clip model config: a ModifiedResNet image tower (one bottleneck per stage, width 16,
attention pooling) on 64×64 images and a 2-layer text transformer.

The vocabulary is the stock tokenizer's (49 408 BPE tokens); its embedding table dominates the size.
A 3-layer ViT on 8×8 patches (width 96) of the same cost learned gender, age and hair but not eyeglasses
(zero-shot 0.57); the convolutional tower learns all four."""

ATTRIBUTE_PROMPTS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "male": (("a photo of a woman",), ("a photo of a man",)),
    "eyeglasses": (("a photo of a person without glasses",), ("a photo of a person with glasses",)),
    "blond": (
        ("a photo of a person with dark hair", "a photo of a person with grey hair"),
        ("a photo of a person with blond hair",),
    ),
    "young": (("a photo of an older person",), ("a photo of a young person",)),
}
"""Zero-shot prompt pairs per binary attribute: (prompts for label 0, prompts for label 1); the prompts of a
class are averaged (prompt ensembling, as in the CLIP paper)."""

BIAS_PROMPT = "a photo of a person without makeup"
"""The text of the paper's Fig. 8 experiment."""


@dataclass(frozen=True)
class ClipTrainConfig:
    """Hyper-parameters of contrastive training.

    Arguments:
        epochs: passes over the dataset (captions are redrawn every epoch with seed ``seed + epoch``).
        batch_size: image–caption pairs per step (the contrastive negatives).
        lr: peak AdamW learning rate (linear warm-up, then cosine decay to 0).
        weight_decay: AdamW weight decay.
        warmup_frac: fraction of all steps spent warming up.
        flip: random horizontal flips of the images.
        seed: seeds the initialisation, the batch order, the flips and the captions.
        threads: torch CPU threads (``None`` leaves the setting alone).
        arch: the open_clip model config (see :data:`TINY_CLIP_ARCH`).
        rates: caption mention rates (see :class:`~promptgen.world.captions.CaptionRates`).
    """

    epochs: int = 6
    batch_size: int = 128
    lr: float = 1e-3
    weight_decay: float = 0.05
    warmup_frac: float = 0.05
    flip: bool = True
    seed: int = 0
    threads: int | None = 1
    arch: Mapping[str, Any] = field(default_factory=lambda: dict(TINY_CLIP_ARCH))
    rates: CaptionRates = field(default_factory=CaptionRates)


def to_unit_range(images: Tensor) -> Tensor:
    """uint8 images in [0, 255] (the dataset's storage) -> float in [-1, 1]; float images pass unchanged."""
    return images.float() / 127.5 - 1.0 if images.dtype == torch.uint8 else images


def write_model_config(path: str | Path, arch: Mapping[str, Any] | None = None) -> Path:
    """Write an open_clip model config JSON (its file stem is the architecture name) and register it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(dict(arch or TINY_CLIP_ARCH), indent=2) + "\n")
    open_clip.add_model_config(path)
    return path


def create_tiny_clip(model_config: str | Path, seed: int = 0) -> nn.Module:
    """A randomly initialised open_clip model from a registered JSON config (seeded)."""
    model_config = Path(model_config)
    open_clip.add_model_config(model_config)
    torch.manual_seed(seed)
    return open_clip.create_model(model_config.stem, pretrained=None)


def save_checkpoint(model: nn.Module, path: str | Path, half: bool = True) -> Path:
    """Save the state dict (float16 by default, to keep shipped weights small) for ``pretrained=path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {
        k: v.detach().cpu().half() if half and v.is_floating_point() else v.cpu()
        for k, v in model.state_dict().items()
    }
    torch.save(state, path)
    return path


def load_world_clip(
    checkpoint: str | Path, model_config: str | Path, device: str | torch.device = "cpu"
) -> OpenCLIPAdapter:
    """Load the tiny CLIP through the adapter ViT-B-32 uses (:func:`promptgen.models.clip.load_open_clip`)."""
    model_config = Path(model_config)
    return load_open_clip(
        model=model_config.stem, pretrained=str(checkpoint), model_config=str(model_config), device=device
    )


def _normalise(model: nn.Module, x: Tensor) -> Tensor:
    cfg = getattr(model.visual, "preprocess_cfg", {}) or {}
    mean = torch.tensor(cfg.get("mean", open_clip.OPENAI_DATASET_MEAN)).view(1, 3, 1, 1)
    std = torch.tensor(cfg.get("std", open_clip.OPENAI_DATASET_STD)).view(1, 3, 1, 1)
    return ((x + 1) / 2 - mean) / std


def _lr_at(step: int, total: int, cfg: ClipTrainConfig) -> float:
    warmup = max(1, int(cfg.warmup_frac * total))
    if step < warmup:
        return cfg.lr * (step + 1) / warmup
    return 0.5 * cfg.lr * (1 + math.cos(math.pi * (step - warmup) / max(1, total - warmup)))


def _epoch(model, opt, loss_fn, images, tokens, step, total, cfg, gen) -> tuple[int, float]:
    order = torch.randperm(len(images), generator=gen)
    losses = []
    for start in range(0, len(order) - cfg.batch_size + 1, cfg.batch_size):
        idx = order[start : start + cfg.batch_size]
        x = to_unit_range(images[idx])
        if cfg.flip:
            flip = torch.rand(len(idx), generator=gen) < 0.5
            x = torch.where(flip.view(-1, 1, 1, 1), x.flip(-1), x)
        for group in opt.param_groups:
            group["lr"] = _lr_at(step, total, cfg)
        img, txt, scale = model(_normalise(model, x), tokens[idx])[:3]
        loss = loss_fn(img, txt, scale)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        with torch.no_grad():
            model.logit_scale.clamp_(0, math.log(100))
        losses.append(loss.item())
        step += 1
    return step, sum(losses) / max(1, len(losses))


def train_tiny_clip(
    images: Tensor, labels: Mapping[str, Tensor], out_dir: str | Path, cfg: ClipTrainConfig | None = None
) -> dict[str, Any]:
    """Train the tiny CLIP on renders and fresh templated captions; save config and checkpoint.

    Arguments:
        images: uint8 renders, shape (N, 3, 64, 64).
        labels: oracle labels of the renders (the keys :func:`~promptgen.world.captions.make_captions` reads).
        out_dir: where ``world-tiny-clip.json`` and ``world-tiny-clip.pt`` are written.
        cfg: hyper-parameters.

    Returns:
        ``{"model_config", "checkpoint", "seconds", "losses"}`` (paths, wall time, mean loss per epoch).
    """
    cfg = cfg or ClipTrainConfig()
    if cfg.threads is not None:
        torch.set_num_threads(cfg.threads)
    out_dir = Path(out_dir)
    config_path = write_model_config(out_dir / f"{WORLD_CLIP}.json", cfg.arch)
    model = create_tiny_clip(config_path, seed=cfg.seed).train()
    tokenizer = open_clip.get_tokenizer(WORLD_CLIP)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    loss_fn, gen = open_clip.ClipLoss(), torch.Generator().manual_seed(cfg.seed)
    total, step, losses, start = cfg.epochs * (len(images) // cfg.batch_size), 0, [], time.perf_counter()
    for epoch in range(cfg.epochs):
        tokens = tokenizer(make_captions(labels, seed=cfg.seed + epoch, rates=cfg.rates))
        step, loss = _epoch(model, opt, loss_fn, images, tokens, step, total, cfg, gen)
        losses.append(loss)
        LOG.info(
            "tiny CLIP epoch %d/%d: loss %.4f (%.0f s)",
            epoch + 1,
            cfg.epochs,
            loss,
            time.perf_counter() - start,
        )
    checkpoint = save_checkpoint(model.eval(), out_dir / f"{WORLD_CLIP}.pt")
    seconds = time.perf_counter() - start
    return {"model_config": config_path, "checkpoint": checkpoint, "seconds": seconds, "losses": losses}


@torch.no_grad()
def _image_embeddings(clip: OpenCLIPAdapter, images: Tensor, batch_size: int) -> Tensor:
    chunks = [
        clip.encode_image(to_unit_range(images[i : i + batch_size]))
        for i in range(0, len(images), batch_size)
    ]
    return torch.cat(chunks)


def _class_embedding(clip: OpenCLIPAdapter, prompts: tuple[str, ...]) -> Tensor:
    return F.normalize(clip.encode_text(list(prompts)).mean(0), dim=-1)


@torch.no_grad()
def zero_shot_accuracy(
    clip: OpenCLIPAdapter,
    images: Tensor,
    labels: Mapping[str, Tensor],
    prompts: Mapping[str, tuple[tuple[str, ...], tuple[str, ...]]] = ATTRIBUTE_PROMPTS,
    batch_size: int = 256,
) -> dict[str, float]:
    """Zero-shot accuracy per binary attribute: predict the prompt class with the larger cosine similarity.

    Arguments:
        clip: a CLIP adapter (``encode_image`` on images in [-1, 1], ``encode_text``).
        images: held-out renders (N, 3, H, W), uint8 or float in [-1, 1].
        labels: their oracle labels; every key of ``prompts`` must be present (0/1).
        prompts: per attribute, (prompts for label 0, prompts for label 1).
        batch_size: images per forward pass.
    """
    emb = _image_embeddings(clip, images, batch_size)
    accuracy = {}
    for name, (negative, positive) in prompts.items():
        text = torch.stack([_class_embedding(clip, negative), _class_embedding(clip, positive)])
        predicted = (emb @ text.T).argmax(-1)
        accuracy[name] = (predicted == labels[name].reshape(-1).long()).float().mean().item()
    return accuracy


@torch.no_grad()
def reporting_bias(
    clip: OpenCLIPAdapter,
    images: Tensor,
    labels: Mapping[str, Tensor],
    text: str = BIAS_PROMPT,
    top_k: int = 200,
    batch_size: int = 256,
) -> dict[str, float]:
    """The Fig. 8 probe: who does CLIP think is "without makeup"?

    Returns:
        ``female_share_top_k``: female-cue share among the ``top_k`` renders most similar to ``text``;
        ``female_share_makeup_free``: female-cue share among all renders without makeup (oracle);
        ``female_share``: female-cue share among all renders.
    """
    if len(images) < top_k:
        raise ValueError(f"top_k: {top_k} exceeds the {len(images)} renders given")
    score = _image_embeddings(clip, images, batch_size) @ clip.encode_text([text])[0]
    female = 1.0 - labels["male"].reshape(-1).float()
    makeup_free = labels["makeup"].reshape(-1) == 0
    return {
        "female_share_top_k": female[score.topk(top_k).indices].mean().item(),
        "female_share_makeup_free": female[makeup_free].mean().item(),
        "female_share": female.mean().item(),
    }


Row = tuple[str, float, str, bool]
"""An acceptance row ``(metric, value, threshold, pass)`` as in :mod:`promptgen.world.metrics`."""


def clip_metrics(
    clip: OpenCLIPAdapter,
    images: Tensor,
    labels: Mapping[str, Tensor],
    min_accuracy: float = 0.90,
    min_bias_share: float = 0.70,
    top_k: int = 200,
) -> list[Row]:
    """Acceptance rows ``(metric, value, threshold, pass)`` for ``results/world/metrics.csv``.

    Zero-shot accuracy must reach ``min_accuracy`` on every attribute; the female-cue share of the
    ``top_k`` "without makeup" renders must reach ``min_bias_share`` and exceed the female-cue share among
    makeup-free renders (whose value is the threshold of the ``_vs_makeup_free`` row, and reported alone).
    """
    rows = [
        (f"clip.zero_shot_acc.{k}", v, f">={min_accuracy:g}", v >= min_accuracy)
        for k, v in zero_shot_accuracy(clip, images, labels).items()
    ]
    bias = reporting_bias(clip, images, labels, top_k=top_k)
    top, base = bias["female_share_top_k"], bias["female_share_makeup_free"]
    return rows + [
        (f"clip.bias.female_share_top{top_k}", top, f">={min_bias_share:g}", top >= min_bias_share),
        (f"clip.bias.female_share_top{top_k}_vs_makeup_free", top, f">{base:.4g}", top > base),
        ("clip.bias.female_share_makeup_free", base, "", True),
        ("clip.bias.female_share_all", bias["female_share"], "", True),
    ]
