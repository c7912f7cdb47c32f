"""Fig. 8: iterative control. Iteration 1: a text control through CLIP ("a photo of a person without
makeup") reveals CLIP's reporting bias as a gender skew; iteration 2: a gender moment constraint on the
composed generator G∘f₁ removes it (Alg. 1)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from eval.table4 import clip_train_spec

__all__ = ["composed_entry", "text_train_spec"]


def composed_entry(gen_cfg: Mapping[str, Any], checkpoint: str) -> dict[str, Any]:
    """The generator config of G∘f: kind ``promptgen`` on an INN checkpoint, truncations kept."""
    return {**dict(gen_cfg), "generator": {"kind": "promptgen", "checkpoint": checkpoint}}


def text_train_spec(
    gen_cfg: Mapping[str, Any], clip_model: Mapping[str, Any], f8: Mapping[str, Any], device: str
) -> dict[str, Any]:
    """Control spec of iteration 1: the CLIP energy for ``f8['text']`` (same builder as Table 4)."""
    return clip_train_spec(gen_cfg, clip_model, f8["text"], f8, device)
