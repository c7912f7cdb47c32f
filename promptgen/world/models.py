"""Importing this module registers every world adapter kind in :data:`promptgen.models.MODELS`.

Kinds: ``world-classifier``, ``world-pose``, ``world-id``, ``world-features`` — each takes ``checkpoint``
(an explicit path) and ``device``.
"""

from promptgen.world import classifiers, features, identity, pose  # noqa: F401

__all__: list[str] = []
