"""Device, CPU precision and compilation from config: ``auto`` means CUDA when present, else CPU; bfloat16
mixed precision when the CPU has native bfloat16 matrix units (Intel AMX), else float32; ``torch.compile``
where its backend can build kernels here, else eager."""

from __future__ import annotations

import dataclasses
import logging
import os
import shutil
import time
from collections.abc import Callable
from typing import Any

import torch

from promptgen.registry import ConfigError

__all__ = [
    "CompiledOrEager",
    "autocast_context",
    "call_in_fixed_chunks",
    "call_rows_in_fixed_chunks",
    "pad_rows",
    "compile_enabled",
    "quiet_cuda_home_warning",
    "cpu_autocast_dtype",
    "resolve_device",
    "training_autocast_dtype",
]

logger = logging.getLogger(__name__)

CUDA_HOME_WARNING = "No CUDA runtime is found"


class _NoCudaRuntimeFilter(logging.Filter):
    """Drops torch's "No CUDA runtime is found, using CUDA_HOME=…" record and nothing else."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(CUDA_HOME_WARNING)


def quiet_cuda_home_warning() -> None:
    """Silence one warning of ``torch.utils.cpp_extension`` on machines without a CUDA runtime.

    Inductor imports that module to build CPU kernels; on a CPU machine that has a CUDA toolkit (e.g.
    /usr/local/cuda) the import logs "No CUDA runtime is found, using CUDA_HOME=…", which concerns CUDA
    extensions only. The filter drops that message alone; every other record of the module passes.
    """
    cpp = logging.getLogger("torch.utils.cpp_extension")
    if not any(isinstance(f, _NoCudaRuntimeFilter) for f in cpp.filters):
        cpp.addFilter(_NoCudaRuntimeFilter())


quiet_cuda_home_warning()  # before anything here can import torch.utils.cpp_extension


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


def training_autocast_dtype(
    precision: str, device: torch.device, where: str = "precision"
) -> torch.dtype | None:
    """:func:`cpu_autocast_dtype` on a CPU; on CUDA ``bf16`` gives bfloat16 and ``auto`` float32."""
    dtype = cpu_autocast_dtype(precision, where)
    if device.type == "cpu":
        return dtype
    return torch.bfloat16 if precision == "bf16" else None


def autocast_context(dtype: torch.dtype | None, device_type: str = "cpu") -> torch.autocast:
    """``torch.autocast`` to ``dtype`` on ``device_type``; disabled (plain float32) when ``dtype`` is None."""
    return torch.autocast(device_type, dtype=dtype or torch.bfloat16, enabled=dtype is not None)


def _cxx_available() -> bool:
    """Inductor's CPU backend writes C++ kernels: it needs the compiler it would call (``$CXX`` or g++)."""
    return shutil.which(os.environ.get("CXX", "g++")) is not None


def compile_enabled(mode: Any, where: str = "compile") -> bool:
    """Whether a config's ``compile`` value (``true``, ``false`` or ``auto``) asks for ``torch.compile``.

    ``auto``: compile when a C++ compiler is on the PATH (CPU kernels; CUDA kernels go through Triton,
    which needs one too for its launchers); a machine without one runs eagerly.
    """
    if not (mode is True or mode is False or mode == "auto"):
        raise ConfigError(f"{where}: expected true, false or auto, got {mode!r}")
    return mode is True or (mode == "auto" and _cxx_available())


class CompiledOrEager:
    """``fn`` through ``torch.compile`` (fixed shapes), falling back to ``fn`` itself if compiling fails.

    The first call, which compiles, is announced on the log before it starts ("compiling ``where`` (about
    N s on first use)…") and timed after it ends, so that a job's log says why it is quiet. When that call
    needs gradients, Inductor compiles the backward pass at the first backward, and the estimate covers
    both. A compile failure (no working compiler, an unsupported operation) is logged once, naming
    ``where``, and every later call runs eagerly. The fallback is taken only when the eager call then
    succeeds, so an error of the inputs themselves still reaches the caller as the eager code raises it.

    Arguments:
        fn: the function to compile.
        where: what it is, for the log ("the renderer (synth-render)").
        first_use_s: measured compile seconds of the first call on a cold Inductor cache, without and with
            gradients (forward, or forward and backward); ``None``: announced without a figure. Inductor
            caches kernels on disk, so later processes on the same machine take a fraction of it.
    """

    def __init__(self, fn: Callable[..., Any], where: str, first_use_s: tuple[float, float] | None = None):
        self.fn, self.where, self.failed, self.called = fn, where, False, False
        self.first_use_s = first_use_s
        self.compiled = torch.compile(fn, dynamic=False)

    def __call__(self, *args: Any) -> Any:
        if self.failed:
            return self.fn(*args)
        first, self.called = not self.called, True
        if first:
            grad = torch.is_grad_enabled() and _requires_grad(args)
            t0 = self._announce(grad)
        try:
            out = self.compiled(*args)
        except Exception as err:  # noqa: BLE001 - any backend failure: the eager call decides
            out = self.fn(*args)
            self.failed = True
            reason = (str(err).strip().splitlines() or [type(err).__name__])[0][:200]
            logger.warning("%s: torch.compile failed (%s); running eagerly", self.where, reason)
            return out
        if first:
            then = " (its backward pass compiles at the first backward)" if grad else ""
            logger.info("compiled %s in %.0f s%s", self.where, time.monotonic() - t0, then)
        return out

    def _announce(self, grad: bool) -> float:
        """Log the compile about to start; returns its start time."""
        about = ""
        if self.first_use_s is not None:
            what = " with its backward pass" if grad else ""
            about = f" (about {self.first_use_s[grad]:.0f} s{what} on first use)"
        logger.info("compiling %s%s…", self.where, about)
        return time.monotonic()


def _requires_grad(x: Any) -> bool:
    """Whether any tensor in ``x`` (tensors, dataclasses, sequences and dicts of them) requires grad."""
    if isinstance(x, torch.Tensor):
        return x.requires_grad
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        return any(_requires_grad(getattr(x, f.name)) for f in dataclasses.fields(x))
    if isinstance(x, list | tuple):
        return any(_requires_grad(v) for v in x)
    if isinstance(x, dict):
        return any(_requires_grad(v) for v in x.values())
    return False


def pad_rows(x: torch.Tensor, rows: int) -> torch.Tensor:
    """``x`` with its last row repeated until it has ``rows`` rows (unchanged if it has that many)."""
    short = rows - x.shape[0]
    return x if short <= 0 else torch.cat([x, x[-1:].expand(short, *x.shape[1:])])


def call_in_fixed_chunks(
    fn: Callable[[Any], Any], n: int, chunk: int, take: Callable[[int, int, int], Any]
) -> list[Any]:
    """``fn`` over rows [0, n) in chunks of ``chunk`` rows, so that compiled code sees few shapes.

    ``take(start, stop, pad_to)`` returns rows [start, stop) padded to ``pad_to`` rows. A batch of at most
    one chunk runs at its own size; a longer one pads its last chunk to a full chunk. Returns each chunk's
    output (a tensor or a dict of tensors) cut back to its real rows. Outputs are per row, so padding never
    changes a result.
    """
    pad, parts = min(chunk, n), []
    for start in range(0, n, chunk):
        out, real = fn(take(start, start + chunk, pad)), min(chunk, n - start)
        parts.append({k: v[:real] for k, v in out.items()} if isinstance(out, dict) else out[:real])
    return parts


def call_rows_in_fixed_chunks(fn: Callable[[torch.Tensor], Any], x: torch.Tensor, chunk: int) -> Any:
    """``fn`` over the rows of ``x`` by :func:`call_in_fixed_chunks`, the outputs (a tensor or a dict of
    tensors) joined along the batch; an empty ``x`` goes to ``fn`` as it is."""
    if x.shape[0] == 0:
        return fn(x)
    parts = call_in_fixed_chunks(fn, x.shape[0], chunk, lambda i, j, pad: pad_rows(x[i:j], pad))
    if isinstance(parts[0], dict):
        return {k: torch.cat([p[k] for p in parts]) for k in parts[0]}
    return torch.cat(parts)
