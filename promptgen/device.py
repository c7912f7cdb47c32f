"""Device and CPU precision selection from config: ``auto`` means CUDA when present, else CPU; bfloat16
mixed precision when the CPU has native bfloat16 matrix units (Intel AMX), else float32."""

from __future__ import annotations

import torch

from promptgen.registry import ConfigError

__all__ = ["cpu_autocast_dtype", "resolve_device"]


def resolve_device(name: str | torch.device = "auto") -> torch.device:
    """Turn a config value (``auto``, ``cpu``, ``cuda``, ``cuda:1``) into a ``torch.device``."""
    if isinstance(name, torch.device):
        return name
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as err:
        raise ConfigError(f"device: unknown device {name!r} (use auto, cpu or cuda[:N])") from err
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device: {name!r} requested but CUDA is not available on this machine")
    return device


PRECISIONS = ("auto", "fp32", "bf16")


def _native_bf16() -> bool:
    """True when oneDNN can run bfloat16 convolutions and matmuls on AMX tiles (Sapphire Rapids and later)."""
    probe = getattr(torch.cpu, "_is_amx_tile_supported", None)
    return bool(probe and probe())


def cpu_autocast_dtype(precision: str, where: str = "precision") -> torch.dtype | None:
    """The dtype for ``torch.autocast("cpu", ...)`` that a config's ``precision`` asks for, or ``None``.

    ``fp32``: none (plain float32). ``bf16``: bfloat16 mixed precision (slow without AMX, but allowed).
    ``auto``: bfloat16 where the CPU has AMX tiles (there it halves the world VAE's training time), else
    float32 — so the same config trains in float32 on older CPUs.
    """
    if precision not in PRECISIONS:
        raise ConfigError(f"{where}: unknown precision {precision!r} (use one of {', '.join(PRECISIONS)})")
    if precision == "bf16" or (precision == "auto" and _native_bf16()):
        return torch.bfloat16
    return None
