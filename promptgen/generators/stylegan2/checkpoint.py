"""Build a :class:`StyleGAN2Network` from an NVIDIA ``.pkl`` or a rosinality ``.pt`` checkpoint."""

from __future__ import annotations

from pathlib import Path

import torch

from promptgen.generators.stylegan2.network import StyleGAN2Config, StyleGAN2Network
from promptgen.generators.stylegan2.pickle_loader import CheckpointError, load_nvidia_pickle
from promptgen.generators.stylegan2.rosinality import load_rosinality

__all__ = [
    "DOCS",
    "NVIDIA_SUFFIXES",
    "ROSINALITY_SUFFIXES",
    "W_AVG_SAMPLES",
    "estimate_w_avg",
    "load_stylegan2",
    "network_from_state",
]

NVIDIA_SUFFIXES = (".pkl",)
ROSINALITY_SUFFIXES = (".pt", ".pth")
W_AVG_SAMPLES = 4096  # rosinality's generate.py truncation_mean: samples for w_avg when none is stored
DOCS = "docs/stylegan2.md"


def network_from_state(
    cfg: StyleGAN2Config, state: dict[str, torch.Tensor], path: str | Path = "<checkpoint>"
) -> StyleGAN2Network:
    """A frozen network with ``state`` loaded strictly; a missing or extra tensor is a one-line error."""
    net = StyleGAN2Network(cfg)
    expected = net.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        what = f"missing {missing[0]!r}" if missing else f"unexpected {unexpected[0]!r}"
        raise CheckpointError(
            f"{path}: {what} ({len(missing)} missing, {len(unexpected)} unexpected tensors)"
        )
    for key, value in state.items():
        if value.shape != expected[key].shape:
            raise CheckpointError(
                f"{path}: {key} has shape {tuple(value.shape)}, expected {tuple(expected[key].shape)}"
            )
    net.load_state_dict(state)
    return net.eval().requires_grad_(False)


@torch.no_grad()
def estimate_w_avg(net: StyleGAN2Network, samples: int = W_AVG_SAMPLES, seed: int = 0) -> torch.Tensor:
    """Mean of mapping(z) over ``samples`` seeded draws of z ~ N(0, I): w_avg for checkpoints without one."""
    rng = torch.Generator().manual_seed(seed)
    z = torch.randn(samples, net.cfg.z_dim, generator=rng)
    return net.mapping(z).mean(dim=0)


def load_stylegan2(
    path: str | Path, *, w_avg_samples: int = W_AVG_SAMPLES, w_avg_seed: int = 0, trusted: bool = False
) -> StyleGAN2Network:
    """Load ``G_ema`` of an NVIDIA ``.pkl`` or ``g_ema`` of a rosinality ``.pt``/``.pth``, chosen by suffix.

    A rosinality checkpoint without ``latent_avg`` gets ``w_avg`` estimated from ``w_avg_samples`` latents
    drawn with seed ``w_avg_seed``. No code stored in a checkpoint is executed.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint: {path} not found; see {DOCS} for where to download it and put it")
    suffix = path.suffix.lower()
    if suffix in NVIDIA_SUFFIXES:
        cfg, state = load_nvidia_pickle(path)
        return network_from_state(cfg, state, path)
    if suffix in ROSINALITY_SUFFIXES:
        cfg, state, has_avg = load_rosinality(path, trusted)
        net = network_from_state(cfg, state, path)
        if not has_avg:
            net.mapping.w_avg.copy_(estimate_w_avg(net, w_avg_samples, w_avg_seed))
        return net
    known = ", ".join(NVIDIA_SUFFIXES + ROSINALITY_SUFFIXES)
    raise CheckpointError(f"checkpoint: {path} has suffix {suffix!r}; expected one of {known}")
