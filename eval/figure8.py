"""Fig. 8: iterative control. Iteration 1: a text control through CLIP ("a photo of a person without
makeup") reveals CLIP's reporting bias as a gender skew; iteration 2: a gender moment constraint on the
composed generator G∘f₁ removes it (Alg. 1)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["composed_entry", "text_train_spec"]


def composed_entry(gen_cfg: Mapping[str, Any], checkpoint: str) -> dict[str, Any]:
    """The generator config of G∘f: kind ``promptgen`` on an INN checkpoint, truncations kept."""
    return {**dict(gen_cfg), "generator": {"kind": "promptgen", "checkpoint": checkpoint}}


def text_train_spec(
    gen_cfg: Mapping[str, Any], clip_model: Mapping[str, Any], f8: Mapping[str, Any], device: str
) -> dict[str, Any]:
    """Control spec of iteration 1: the CLIP energy for ``f8['text']``."""
    clip = dict(f8["clip"])
    weight = clip.pop("weight")
    return {
        "generator": gen_cfg["generator"],
        "psi": gen_cfg["psi_train"],
        "device": device,
        "inn": {**dict(f8["inn"]), "seed": f8["seed"]},
        "energies": {
            "text": {"kind": "clip", "weight": weight, "model": clip_model, "text": f8["text"], **clip}
        },
        "train": {**dict(f8["train"]), "seed": f8["seed"]},
    }
