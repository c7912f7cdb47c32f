"""StyleGAN2 (config F) in pure PyTorch, loaded from NVIDIA ``.pkl`` or rosinality ``.pt`` checkpoints.

Importing this package registers the generator kind ``stylegan2``; see ``docs/stylegan2.md``.
"""

from promptgen.generators.stylegan2.checkpoint import load_stylegan2
from promptgen.generators.stylegan2.generator import StyleGAN2Generator, build_stylegan2
from promptgen.generators.stylegan2.network import StyleGAN2Config, StyleGAN2Network
from promptgen.generators.stylegan2.pickle_loader import CheckpointError

__all__ = [
    "CheckpointError",
    "StyleGAN2Config",
    "StyleGAN2Generator",
    "StyleGAN2Network",
    "build_stylegan2",
    "load_stylegan2",
]
