"""Importing this module registers every world adapter kind in :data:`promptgen.models.MODELS`.

Kinds: ``world-classifier``, ``world-pose``, ``world-id``, ``world-features`` — each takes ``checkpoint``
(an explicit path), ``device`` and ``compile`` (``true``, ``false`` or ``auto``; default ``false``: run the
net through ``torch.compile`` in fixed chunks, see :func:`promptgen.world.nets.load_checkpoint`).
"""

from promptgen.world import classifiers, features, identity, pose  # noqa: F401

__all__: list[str] = []
