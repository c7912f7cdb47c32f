"""Control-model adapters: frozen off-the-shelf models behind one call convention.

Every adapter is an ``nn.Module`` that takes images in [-1, 1] (NCHW) and does its own preprocessing
(resize, crop, normalisation). Kinds of output:

* classifiers return ``dict[str, Tensor]`` of logits: shape (N,) for a binary head, (N, K) for a
  categorical group (e.g. ``{"male": ..., "tone": ...}``);
* CLIP adapters expose ``encode_image(x)`` and ``encode_text(list[str])``;
* pose regressors return rotation matrices (N, 3, 3);
* identity embedders and feature extractors return (N, D) embeddings.

Adapters are built from config entries through :data:`MODELS` (``kind`` + keyword arguments; every
weight comes from an explicit path).
"""

from promptgen.registry import Registry

__all__ = ["MODELS"]

MODELS = Registry("control model")

import importlib  # noqa: E402

# Modules whose import registers built-in adapter kinds (imported on first use: some pull in open_clip).
BUILTIN_ADAPTER_MODULES = [
    "promptgen.models.clip",
    "promptgen.models.celeba",
    "promptgen.models.fairface",
    "promptgen.models.irse50",
    "promptgen.models.deca",
    "promptgen.models.inception",
]


def load_builtin_adapters() -> None:
    """Import every built-in adapter module and every installed plugin (:mod:`promptgen.plugins`) so their
    kinds are registered in :data:`MODELS`."""
    from promptgen.plugins import load_plugins

    for name in BUILTIN_ADAPTER_MODULES:
        importlib.import_module(name)
    load_plugins()


__all__ += ["BUILTIN_ADAPTER_MODULES", "load_builtin_adapters"]
