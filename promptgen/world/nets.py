"""Small CNNs for the world's off-the-shelf models, and their self-describing checkpoints.

A checkpoint is a ``torch.save``'d dict ``{"format", "role", "arch", "heads", "state_dict", "meta"}``:
the architecture is rebuilt from ``arch`` and ``heads``, so an adapter needs nothing but the file path.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from promptgen.device import CompiledOrEager, call_rows_in_fixed_chunks, compile_enabled
from promptgen.models.common import CheckpointError, describe_load_error
from promptgen.registry import ConfigError

__all__ = ["ConvArch", "ConvNet", "load_checkpoint", "save_checkpoint"]

CHECKPOINT_FORMAT = 1
# Rows per compiled call: a compiled classifier took 0.17 ms an image at 64 rows, 0.18-0.20 at 128 and
# 0.23-0.25 at 256 (one thread; benchmarks/world_models.py times eager against compiled).
COMPILE_CHUNK = 64
# CPU seconds of a world classifier's first compile of a chunk on a cold Inductor cache, without / with
# gradients: the estimate its log line gives (benchmarks/compile_times.py, results/compile_times.csv)
COMPILE_FIRST_USE_S = (19.0, 25.0)


@dataclass(frozen=True)
class ConvArch:
    """Shape of a :class:`ConvNet`.

    Arguments:
        widths: channels of the stride-2 conv stages (each halves the resolution).
        kernel: kernel size of the first stage (later stages use 3).
        hidden: width of the fully connected feature layer.
        pool: ``"flatten"`` keeps the spatial layout (pose, identity), ``"avg"`` averages it away.
        resolution: input size; other sizes are resized to it.
    """

    widths: tuple[int, ...] = (32, 48, 64, 96)
    kernel: int = 3
    hidden: int = 256
    pool: str = "flatten"
    resolution: int = 64


class ConvNet(nn.Module):
    """Images in [−1, 1] -> ``{head: output}``; ``heads`` maps a head name to its output size (1 = scalar).

    Arguments:
        arch: the trunk's shape.
        heads: output sizes; a size-1 head returns shape (N,), others (N, K).
    """

    def __init__(self, arch: ConvArch, heads: dict[str, int]):
        super().__init__()
        self.arch, self.head_sizes = arch, dict(heads)
        self.compile, self._compiled = False, None
        layers: list[nn.Module] = []
        c_in = 3
        for i, c in enumerate(arch.widths):
            k = arch.kernel if i == 0 else 3
            layers += [nn.Conv2d(c_in, c, k, stride=2, padding=k // 2), nn.BatchNorm2d(c), nn.ReLU()]
            c_in = c
        self.trunk = nn.Sequential(*layers)
        side = arch.resolution // 2 ** len(arch.widths)
        flat = c_in * side * side if arch.pool == "flatten" else c_in
        self.fc = nn.Sequential(nn.Linear(flat, arch.hidden), nn.ReLU())
        self.heads = nn.ModuleDict({name: nn.Linear(arch.hidden, k) for name, k in heads.items()})

    def preprocess(self, x: Tensor) -> Tensor:
        r = self.arch.resolution
        if tuple(x.shape[-2:]) != (r, r):
            x = F.interpolate(x, size=(r, r), mode="bilinear", align_corners=False, antialias=True)
        return x.clamp(-1, 1)

    def features(self, x: Tensor) -> Tensor:
        """The (N, hidden) feature layer."""
        return self._run(self._features, x)

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        return self._run(self._heads, x)

    def _run(self, fn: Callable[[Tensor], Any], x: Tensor) -> Any:
        if not self.compile:
            return fn(x)
        if self._compiled is None:
            self._compiled = {}
        if fn.__name__ not in self._compiled:
            self._compiled[fn.__name__] = CompiledOrEager(
                fn, "a world model's CNN", first_use_s=COMPILE_FIRST_USE_S
            )
        return call_rows_in_fixed_chunks(self._compiled[fn.__name__], x, COMPILE_CHUNK)

    def _features(self, x: Tensor) -> Tensor:
        h = self.trunk(self.preprocess(x))
        h = h.flatten(1) if self.arch.pool == "flatten" else h.mean((2, 3))
        return self.fc(h)

    def _heads(self, x: Tensor) -> dict[str, Tensor]:
        f = self._features(x)
        return {name: _squeeze(head(f)) for name, head in self.heads.items()}

    def __getstate__(self) -> dict:
        # compiled code is rebuilt on first use, never copied or pickled
        return {**super().__getstate__(), "_compiled": None}


def _squeeze(y: Tensor) -> Tensor:
    return y[:, 0] if y.shape[1] == 1 else y


def save_checkpoint(path: str | Path, net: ConvNet, role: str, meta: dict | None = None) -> None:
    """Write ``net`` with everything needed to rebuild it (architecture, heads, role, metadata)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    arch = asdict(net.arch) | {"widths": list(net.arch.widths)}
    state = {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}
    blob = {
        "format": CHECKPOINT_FORMAT,
        "role": role,
        "arch": arch,
        "heads": net.head_sizes,
        "meta": meta or {},
    }
    torch.save(blob | {"state_dict": state}, path)


def load_checkpoint(
    path: str | Path, role: str | None = None, compile: bool | str = False
) -> tuple[ConvNet, dict]:
    """Rebuild a :class:`ConvNet` from ``path`` (frozen, eval mode); returns it and the checkpoint's meta.

    ``compile`` (``true``, ``false`` or ``auto``, see :func:`promptgen.device.compile_enabled`): run the net
    through ``torch.compile`` in fixed chunks of :data:`COMPILE_CHUNK` images (outputs agree with eager ones
    to float rounding). Raises a one-line :class:`~promptgen.registry.ConfigError` naming the file if it is
    missing, malformed or of another role.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(
            f"checkpoint: world model file {path} not found (build it with `python -m promptgen.world train`)"
        )
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
        arch = ConvArch(**{**blob["arch"], "widths": tuple(blob["arch"]["widths"])})
        net = ConvNet(arch, blob["heads"])
        net.load_state_dict(blob["state_dict"])
    except Exception as err:  # noqa: BLE001 - any failure means a foreign, truncated or corrupt file
        raise CheckpointError(
            f"checkpoint: {path} is not a world model checkpoint ({describe_load_error(err)})"
        ) from err
    if role is not None and blob["role"] != role:
        raise ConfigError(f"checkpoint: {path} holds a {blob['role']!r} model, expected {role!r}")
    net.compile = compile_enabled(compile, "models.compile")
    return net.eval().requires_grad_(False), dict(blob.get("meta", {}))
