"""Read rosinality/stylegan2-pytorch checkpoints (``.pt`` with a ``g_ema`` state dict) into our layout.

Key mapping (rosinality -> NVIDIA-style names used by :class:`StyleGAN2Network`):

* ``style.{i+1}.weight|bias`` -> ``mapping.fc{i}.weight|bias`` (index 0 of ``style`` is the pixel norm);
* ``input.input`` ``(1, C, 4, 4)`` -> ``synthesis.b4.const`` ``(C, 4, 4)``;
* ``conv1`` / ``to_rgb1`` -> ``synthesis.b4.conv1`` / ``synthesis.b4.torgb``;
* ``convs.{2k}`` / ``convs.{2k+1}`` / ``to_rgbs.{k}`` -> ``synthesis.b{2^(k+3)}.conv0`` / ``conv1`` /
  ``torgb``;
* inside a styled conv: ``conv.weight`` ``(1, O, I, k, k)`` -> ``weight``, ``conv.modulation`` -> ``affine``,
  ``noise.weight`` ``(1,)`` -> ``noise_strength`` ``()``, ``activate.bias`` -> ``bias``;
* ``noises.noise_{j}`` ``(1, 1, r, r)`` -> the ``noise_const`` of the j-th synthesis layer;
* the top-level ``latent_avg`` (written by rosinality's ``convert_weight.py``) -> ``mapping.w_avg``.

Rosinality's equalised-lr scales and demodulation equal NVIDIA's up to where the constant 1/√fan-in is applied
(the demodulation ε then differs by that factor: a relative difference below 1e-7).
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from promptgen.generators.stylegan2.network import StyleGAN2Config
from promptgen.generators.stylegan2.pickle_loader import CheckpointError
from promptgen.models.common import describe_load_error, torch_load

__all__ = [
    "ROSINALITY_MAPPING_LR",
    "load_rosinality",
    "nvidia_to_rosinality",
    "rosinality_to_nvidia",
    "save_rosinality",
]

ROSINALITY_MAPPING_LR = 0.01  # rosinality's Generator(lr_mlp=0.01) default; not stored in the checkpoint
GENERATOR_KEY = "g_ema"
LATENT_AVG_KEY = "latent_avg"
# converted keys the configuration is read from -> the rosinality key they come from
REQUIRED_KEYS = {"mapping.fc0.weight": "style.1.weight", "synthesis.b4.torgb.weight": "to_rgb1.conv.weight"}
FIRST_UPSAMPLED_LOG2 = 3  # convs.0 is the 8×8 block
_LAYER_KEYS = {
    "conv.weight": "weight",
    "conv.modulation.weight": "affine.weight",
    "conv.modulation.bias": "affine.bias",
    "noise.weight": "noise_strength",
    "activate.bias": "bias",
    "bias": "bias",
}


def _layer_prefix(key: str) -> tuple[str, str] | None:
    """Split a synthesis key into (our layer prefix, rosinality key inside the layer)."""
    if m := re.fullmatch(r"(conv1|to_rgb1)\.(.+)", key):
        return ("synthesis.b4.conv1" if m[1] == "conv1" else "synthesis.b4.torgb"), m[2]
    if m := re.fullmatch(r"convs\.(\d+)\.(.+)", key):
        idx = int(m[1])
        return f"synthesis.b{2 ** (idx // 2 + FIRST_UPSAMPLED_LOG2)}.conv{idx % 2}", m[2]
    if m := re.fullmatch(r"to_rgbs\.(\d+)\.(.+)", key):
        return f"synthesis.b{2 ** (int(m[1]) + FIRST_UPSAMPLED_LOG2)}.torgb", m[2]
    return None


def _noise_layer(idx: int) -> str:
    """The synthesis layer that rosinality's ``noises.noise_{idx}`` belongs to."""
    if idx == 0:
        return "synthesis.b4.conv1"
    return f"synthesis.b{2 ** ((idx + 1) // 2 + FIRST_UPSAMPLED_LOG2 - 1)}.conv{(idx + 1) % 2}"


def _convert_key(key: str, value: Tensor, path: str | Path) -> tuple[str, Tensor] | None:
    if m := re.fullmatch(r"style\.(\d+)\.(weight|bias)", key):
        return f"mapping.fc{int(m[1]) - 1}.{m[2]}", value
    if key == "input.input":
        return "synthesis.b4.const", value[0]
    if m := re.fullmatch(r"noises\.noise_(\d+)", key):
        return f"{_noise_layer(int(m[1]))}.noise_const", value[0, 0]
    if key.endswith(("blur.kernel", "upsample.kernel")):
        return None  # the FIR filter, rebuilt from the config
    split = _layer_prefix(key)
    if split is None or split[1] not in _LAYER_KEYS:
        raise CheckpointError(f"{path}: {GENERATOR_KEY} has unexpected key {key!r}")
    prefix, inner = split
    if inner == "conv.weight":
        value = value[0]
    elif inner == "noise.weight":
        value = value.reshape(())
    elif inner == "bias":  # toRGB bias (1, C, 1, 1)
        value = value.reshape(-1)
    return f"{prefix}.{_LAYER_KEYS[inner]}", value


def rosinality_to_nvidia(g_ema: dict[str, Tensor], path: str | Path = "<checkpoint>") -> dict[str, Tensor]:
    """Rename and reshape a rosinality ``g_ema`` state dict into :class:`StyleGAN2Network` names."""
    out: dict[str, Tensor] = {}
    for key, value in g_ema.items():
        converted = _convert_key(key, value, path)
        if converted is not None:
            out[converted[0]] = converted[1].float()
    return out


def _config(state: dict[str, Tensor], path: str | Path) -> StyleGAN2Config:
    mapping_layers = sum(1 for k in state if re.fullmatch(r"mapping\.fc\d+\.weight", k))
    channels = {
        int(m[1]): int(v.shape[0])
        for k, v in state.items()
        if (m := re.fullmatch(r"synthesis\.b(\d+)\.conv1\.weight", k))
    }
    if not mapping_layers or 4 not in channels:
        raise CheckpointError(f"{path}: {GENERATOR_KEY} lacks the mapping ('style.*') or 'conv1' weights")
    for ours, theirs in REQUIRED_KEYS.items():
        if ours not in state:
            raise CheckpointError(f"{path}: {GENERATOR_KEY} lacks {theirs!r} (a rosinality generator has it)")
    return StyleGAN2Config(
        img_resolution=max(channels),
        z_dim=int(state["mapping.fc0.weight"].shape[1]),
        w_dim=int(state["mapping.fc0.weight"].shape[0]),
        img_channels=int(state["synthesis.b4.torgb.weight"].shape[0]),
        channels=channels,
        mapping_layers=mapping_layers,
        mapping_lr_multiplier=ROSINALITY_MAPPING_LR,
        conv_clamp=None,
        use_noise=True,
    )


def _read(path: str | Path, trusted: bool = False) -> dict[str, Any]:
    try:
        with torch.serialization.safe_globals([argparse.Namespace]):
            ckpt = torch_load(path, trusted)
    except Exception as err:  # torch raises several types for foreign or corrupt files
        raise CheckpointError(
            f"{path}: {describe_load_error(err)}; expected a rosinality checkpoint"
        ) from err
    if not isinstance(ckpt, dict) or GENERATOR_KEY not in ckpt:
        raise CheckpointError(f"{path}: expected a dict with key {GENERATOR_KEY!r} (a rosinality checkpoint)")
    g_ema = ckpt[GENERATOR_KEY]
    if not isinstance(g_ema, Mapping) or not all(isinstance(v, Tensor) for v in g_ema.values()):
        raise CheckpointError(f"{path}: {GENERATOR_KEY} is a {type(g_ema).__name__}, expected a state dict")
    avg = ckpt.get(LATENT_AVG_KEY)
    if avg is not None and not isinstance(avg, Tensor):
        raise CheckpointError(f"{path}: {LATENT_AVG_KEY} is a {type(avg).__name__}, expected a tensor")
    return ckpt


def load_rosinality(
    path: str | Path, trusted: bool = False
) -> tuple[StyleGAN2Config, dict[str, Tensor], bool]:
    """Read a rosinality ``.pt``: configuration, state dict, and whether it carried ``latent_avg``.

    ``trusted``: full unpickling (runs code stored in the file) instead of a weights-only load.
    """
    ckpt = _read(path, trusted)
    state = rosinality_to_nvidia(ckpt[GENERATOR_KEY], path)
    cfg = _config(state, path)
    has_avg = ckpt.get(LATENT_AVG_KEY) is not None
    w_avg = ckpt[LATENT_AVG_KEY].reshape(-1).float() if has_avg else torch.zeros(cfg.w_dim)
    state["mapping.w_avg"] = w_avg
    return cfg, state, has_avg


_INVERSE_LAYER_KEYS = {
    "weight": "conv.weight",
    "affine.weight": "conv.modulation.weight",
    "affine.bias": "conv.modulation.bias",
    "noise_strength": "noise.weight",
}


def _rosinality_layer(block_res: int, layer: str) -> str:
    """Rosinality's module name of our ``synthesis.b{block_res}.{layer}``."""
    if block_res == 4:
        return "conv1" if layer == "conv1" else "to_rgb1"
    k = int(block_res).bit_length() - 1 - FIRST_UPSAMPLED_LOG2
    return f"to_rgbs.{k}" if layer == "torgb" else f"convs.{2 * k + int(layer[-1])}"


def _noise_index(block_res: int, layer: str) -> int:
    """The j of rosinality's ``noises.noise_{j}`` for our layer (the inverse of :func:`_noise_layer`)."""
    return 0 if block_res == 4 else 2 * (int(block_res).bit_length() - 3) + int(layer[-1]) - 1


def _inverse_key(key: str, value: Tensor) -> tuple[str, Tensor]:
    if m := re.fullmatch(r"mapping\.fc(\d+)\.(weight|bias)", key):
        return f"style.{int(m[1]) + 1}.{m[2]}", value
    if key == "synthesis.b4.const":
        return "input.input", value[None]
    m = re.fullmatch(r"synthesis\.b(\d+)\.(conv0|conv1|torgb)\.(.+)", key)
    if m is None:
        raise ValueError(f"nvidia_to_rosinality: unexpected key {key!r}")
    res, layer, inner = int(m[1]), m[2], m[3]
    if inner == "noise_const":
        return f"noises.noise_{_noise_index(res, layer)}", value[None, None]
    prefix = _rosinality_layer(res, layer)
    if inner == "bias":
        return (
            (f"{prefix}.bias", value.reshape(1, -1, 1, 1))
            if layer == "torgb"
            else (
                f"{prefix}.activate.bias",
                value,
            )
        )
    if inner == "weight":
        value = value[None]
    elif inner == "noise_strength":
        value = value.reshape(1)
    return f"{prefix}.{_INVERSE_LAYER_KEYS[inner]}", value


def nvidia_to_rosinality(state: dict[str, Tensor]) -> tuple[dict[str, Tensor], Tensor]:
    """Rename and reshape a :class:`StyleGAN2Network` state dict into rosinality's ``g_ema`` layout.

    Returns:
        the ``g_ema`` state dict and ``latent_avg`` (our ``mapping.w_avg``). The FIR filter buffers
        (``*.blur.kernel``, ``*.upsample.kernel``) are not written; they are rebuilt from the filter taps.
    """
    out = dict(
        _inverse_key(k, v.detach().clone())
        for k, v in state.items()
        if k != "mapping.w_avg" and not k.endswith("resample_filter")
    )
    return out, state["mapping.w_avg"].detach().clone()


def save_rosinality(path: str | Path, state: dict[str, Tensor], extra: dict[str, Any] | None = None) -> Path:
    """Write a rosinality-layout ``.pt`` (``g_ema``, ``latent_avg`` and plain-data ``extra`` entries).

    The network must use rosinality's fixed settings: mapping learning-rate multiplier
    :data:`ROSINALITY_MAPPING_LR`, no ``conv_clamp``, noise inputs.
    """
    g_ema, latent_avg = nvidia_to_rosinality(state)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({GENERATOR_KEY: g_ema, LATENT_AVG_KEY: latent_avg, **(extra or {})}, path)
    return path
