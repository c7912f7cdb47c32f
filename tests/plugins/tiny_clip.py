"""A randomly initialised tiny open_clip model for pipeline tests (same adapter as ViT-B-32)."""

from pathlib import Path

import torch

from promptgen.models.clip import load_open_clip

CONFIG = Path(__file__).with_name("test-tiny-clip.json")


def make_clip(seed: int = 0):
    torch.manual_seed(seed)
    return load_open_clip(model="test-tiny-clip", model_config=str(CONFIG))
