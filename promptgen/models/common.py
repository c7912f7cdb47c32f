"""Shared pieces of the paper-world adapters: strict checkpoint loading and image preprocessing.

Every loader reads a file from an explicit path with ``torch.load(weights_only=True)`` (no code stored in
a checkpoint is run; an entry with ``trusted: true`` unpickles legacy files that hold Python objects) and
checks the state dict against the adapter's own architecture before loading it,
so a wrong, truncated or missing file is a one-line :class:`CheckpointError` naming the file and what was
expected. Where to get each file: ``docs/paper-world.md`` (or ``promptgen download --check``).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from promptgen.registry import ConfigError

__all__ = [
    "DOCS",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "CheckpointError",
    "describe_load_error",
    "imagenet_normalize",
    "load_checkpoint_file",
    "load_state_strict",
    "resize",
    "state_entry",
    "to_unit_range",
    "torch_load",
]

DOCS = "docs/paper-world.md"
IMAGENET_MEAN = (0.485, 0.456, 0.406)  # torchvision's ImageNet statistics, used by CelebA and FairFace
IMAGENET_STD = (0.229, 0.224, 0.225)
OPTIONAL_SUFFIXES = ("num_batches_tracked",)  # BatchNorm counters: absent from checkpoints of old torch


class CheckpointError(ConfigError):
    """A control-model checkpoint is unusable; the one-line message names the file and what was expected."""


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0] if text else ''}"


def describe_load_error(err: BaseException) -> str:
    """What a failed ``torch.load`` or unpickling says about the file, in one line without torch's advice."""
    text = str(err)
    if "Weights only load failed" in text:
        if "can still be loaded" in text:
            return (
                "it holds Python objects, which a weights-only load refuses; if you trust the file's source, "
                "set `trusted: true` on its config entry"
            )
        detail = [line.strip() for line in text.split("WeightsUnpickler error:", 1)[-1].splitlines()]
        detail = [line for line in detail if line]
        return f"not a torch checkpoint ({detail[0] if detail else 'unpickling failed'})"
    if isinstance(err, MemoryError):
        return "corrupt: unpickling it asked for more memory than there is"
    if "PytorchStreamReader" in text or isinstance(err, EOFError):
        return f"truncated or corrupt ({text.split('.')[0].strip() or type(err).__name__})"
    if "TorchScript" in text or "torch.jit.load" in text:
        return "a TorchScript archive, not a state dict"
    line = _first_line(err)
    return line if len(line) <= 160 else line[:157] + "..."


def torch_load(path: str | Path, trusted: bool = False, map_location: Any = "cpu") -> Any:
    """``torch.load`` with ``weights_only`` unless ``trusted`` (full unpickling: runs code in the file)."""
    return torch.load(path, map_location=map_location, weights_only=not trusted)


def load_checkpoint_file(path: str | Path, expected: str, trusted: bool = False) -> Any:
    """``torch.load`` a file on CPU (weights only unless ``trusted``); errors say what ``expected`` is."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(
            f"{path}: not found; expected {expected} (see {DOCS} or `promptgen download --check`)"
        )
    try:
        return torch_load(path, trusted)
    except Exception as err:  # truncated zip, pickle errors, TorchScript archives, MemoryError, ...
        raise CheckpointError(f"{path}: {describe_load_error(err)}; expected {expected}") from err


def state_entry(obj: Any, key: str | None, path: str | Path, expected: str) -> Mapping[str, Tensor]:
    """The state dict stored under ``key`` of a loaded checkpoint (``None``: the object itself)."""
    if key is not None:
        if not isinstance(obj, Mapping) or key not in obj:
            found = sorted(map(str, obj))[:5] if isinstance(obj, Mapping) else type(obj).__name__
            raise CheckpointError(f"{path}: no key {key!r} (found {found}); expected {expected}")
        obj = obj[key]
    if not isinstance(obj, Mapping) or not all(isinstance(v, Tensor) for v in obj.values()):
        raise CheckpointError(f"{path}: entry {key!r} is not a state dict of tensors; expected {expected}")
    return obj


def _optional(key: str) -> bool:
    return key.endswith(OPTIONAL_SUFFIXES)


def load_state_strict(
    module: nn.Module, state: Mapping[str, Tensor], path: str | Path, expected: str, prefix: str = ""
) -> None:
    """Load ``state`` into ``module`` after checking every key and shape (``prefix`` is stripped first).

    Keys that ``module`` lacks are ignored only when they do not start with ``prefix``; BatchNorm
    ``num_batches_tracked`` counters may be missing.
    """
    state = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
    own = module.state_dict()
    missing = sorted(k for k in own if k not in state and not _optional(k))
    unexpected = sorted(k for k in state if k not in own)
    if missing or unexpected:
        what = f"missing {prefix + missing[0]!r}" if missing else f"unexpected {prefix + unexpected[0]!r}"
        raise CheckpointError(
            f"{path}: {what} ({len(missing)} missing, {len(unexpected)} unexpected tensors); "
            f"expected {expected}"
        )
    for key, value in state.items():
        if value.shape != own[key].shape:
            raise CheckpointError(
                f"{path}: {prefix + key} has shape {tuple(value.shape)}, expected {tuple(own[key].shape)} "
                f"({expected})"
            )
    module.load_state_dict({**own, **state})


def to_unit_range(x: Tensor) -> Tensor:
    """Images in [-1, 1] (the generator contract) to [0, 1] (what the paper's code fed its models)."""
    return (x.clamp(-1, 1) + 1) / 2


def resize(x: Tensor, size: int, mode: str, antialias: bool) -> Tensor:
    """Differentiable resize to ``size`` × ``size`` (a no-op when the input already has that size)."""
    if tuple(x.shape[-2:]) == (size, size):
        return x
    return F.interpolate(x, size=(size, size), mode=mode, align_corners=False, antialias=antialias)


def imagenet_normalize(x: Tensor) -> Tensor:
    """(x − mean) / std with torchvision's ImageNet statistics, for images in [0, 1]."""
    mean = x.new_tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = x.new_tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return (x - mean) / std
