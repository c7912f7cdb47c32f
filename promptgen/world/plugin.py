"""The embedded world as a PromptGen plugin: importing this module registers the world's kinds.

Generators ``synth-render`` (the procedural renderer) and ``world-vae`` (a VAE trained on its renders);
control models ``world-classifier``, ``world-pose``, ``world-id`` and ``world-features``. The package's
entry point (group ``promptgen.plugins``) names this module, so the kinds resolve from config wherever the
package is installed (:mod:`promptgen.plugins`).
"""

from __future__ import annotations

from promptgen.world import models, render, vae

__all__ = ["models", "render", "vae"]
