"""Read NVIDIA's StyleGAN2 network pickles (stylegan2-ada-pytorch, stylegan3) without running their code.

NVIDIA pickles every network module as ``torch_utils.persistence._reconstruct_persistent_obj(meta)``, where
``meta`` holds the source code of the defining module, the class name and the module's ``__dict__``
(parameters, buffers, sub-modules, attributes and the constructor's ``_init_kwargs``). Unpickling that
normally ``exec``\\s the stored source. :class:`RestrictedUnpickler` instead resolves every global against a
fixed table of inert rebuilders: persistent objects become :class:`PersistentStub` records (the source text
is never executed), tensors are rebuilt from their bytes with ``torch.load(weights_only=True)``, and any other
global becomes an inert placeholder that is never imported or called. No NVIDIA module is imported.

The ``G_ema`` stub then yields a :class:`~promptgen.generators.stylegan2.network.StyleGAN2Config` (top-level
shape from the constructor's init kwargs, per-layer settings from each sub-module's recorded attributes,
channel counts from the weights) and a state dict for :class:`StyleGAN2Network`.
"""

from __future__ import annotations

import collections
import io
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from promptgen.generators.stylegan2.network import StyleGAN2Config
from promptgen.models.common import CheckpointError, describe_load_error

__all__ = [
    "CheckpointError",
    "OpaqueObject",
    "PersistentStub",
    "RestrictedUnpickler",
    "load_nvidia_pickle",
    "nvidia_to_config",
    "read_pickle",
]

GENERATOR_KEY = "G_ema"
GENERATOR_ARGS = ("z_dim", "c_dim", "w_dim", "img_resolution", "img_channels")
PERSISTENT_RECONSTRUCT = "torch_utils.persistence._reconstruct_persistent_obj"
TF_NETWORK = "dnnlib.tflib.network.Network"


class PersistentStub:
    """What a persistent NVIDIA object unpickles to: its class name and recorded state, never its code."""

    def __init__(self, meta: dict[str, Any]):
        self.class_name = str(meta.get("class_name"))
        self.state: dict[str, Any] = dict(meta.get("state") or {})
        self.source_chars = len(meta.get("module_src") or "")  # kept as a number only; never executed

    def submodule(self, name: str) -> PersistentStub | None:
        return (self.state.get("_modules") or {}).get(name)

    def init_kwargs(self) -> dict[str, Any]:
        kwargs = dict(self.state.get("_init_kwargs") or {})
        kwargs.update(zip(GENERATOR_ARGS, self.state.get("_init_args") or (), strict=False))
        return kwargs

    def tensors(self, prefix: str = "") -> dict[str, Tensor]:
        """Flatten parameters and buffers of this stub and its sub-stubs into ``state_dict`` names."""
        out: dict[str, Tensor] = {}
        for group in ("_parameters", "_buffers"):
            for name, value in (self.state.get(group) or {}).items():
                if isinstance(value, Tensor):
                    out[prefix + name] = value
        for name, child in (self.state.get("_modules") or {}).items():
            if isinstance(child, PersistentStub):
                out.update(child.tensors(f"{prefix}{name}."))
        return out


class OpaqueObject:
    """Inert stand-in for a global outside the allow-list: it records its name and arguments, nothing else."""

    qualified_name = "?"

    def __init__(self, *args: Any, **kwargs: Any):
        self.args, self.kwargs, self.state = args, kwargs, None

    def __setstate__(self, state: Any) -> None:
        self.state = state


class _EasyDict(dict):
    """Stand-in for ``dnnlib.util.EasyDict``: a plain dict."""


def _opaque(qualified_name: str) -> type[OpaqueObject]:
    return type("Opaque", (OpaqueObject,), {"qualified_name": qualified_name})


def _rebuild_tensor(
    storage: Any, offset: int, size: tuple[int, ...], stride: tuple[int, ...], *_: Any
) -> Tensor:
    if not isinstance(storage, torch.TypedStorage | torch.UntypedStorage):
        raise pickle.UnpicklingError(f"tensor rebuilt from a {type(storage).__name__}, not a storage")
    return torch._utils._rebuild_tensor(storage, offset, size, stride)


def _rebuild_parameter(data: Tensor, *_: Any) -> Tensor:
    return data


def _load_storage(data: bytes) -> Any:
    return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)


def _numpy_attr(module_tail: str, name: str) -> Any:
    core = getattr(np, "_core", None) or np.core
    return getattr(getattr(core, module_tail), name)


_SAFE_GLOBALS: dict[str, Any] = {
    PERSISTENT_RECONSTRUCT: PersistentStub,
    "dnnlib.util.EasyDict": _EasyDict,
    "dnnlib.EasyDict": _EasyDict,
    "collections.OrderedDict": collections.OrderedDict,
    "builtins.set": set,
    "builtins.frozenset": frozenset,
    "torch._utils._rebuild_tensor": _rebuild_tensor,
    "torch._utils._rebuild_tensor_v2": _rebuild_tensor,
    "torch._utils._rebuild_parameter": _rebuild_parameter,
    "torch._utils._rebuild_parameter_with_state": _rebuild_parameter,
    "torch.storage._load_from_bytes": _load_storage,
    "torch.Size": torch.Size,
    "torch.device": torch.device,
    "numpy.dtype": np.dtype,
    "numpy.ndarray": np.ndarray,
}
_NUMPY_REBUILDERS = {"multiarray.scalar", "multiarray._reconstruct"}


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that imports nothing: allow-listed globals map to inert rebuilders, the rest to
    :class:`OpaqueObject` subclasses. Persistent NVIDIA objects become :class:`PersistentStub`\\ s."""

    def find_class(self, module: str, name: str) -> Any:
        qualified = f"{module}.{name}"
        if qualified in _SAFE_GLOBALS:
            return _SAFE_GLOBALS[qualified]
        if module in ("numpy.core.multiarray", "numpy._core.multiarray") and f"multiarray.{name}" in (
            _NUMPY_REBUILDERS
        ):
            return _numpy_attr("multiarray", name)
        if module == "torch" and isinstance(getattr(torch, name, None), torch.dtype):
            return getattr(torch, name)
        return _opaque(qualified)

    def persistent_load(self, pid: Any) -> Any:
        raise pickle.UnpicklingError(f"unexpected persistent id {pid!r}")


def read_pickle(path: str | Path) -> Any:
    """Unpickle ``path`` with :class:`RestrictedUnpickler`; errors name the file."""
    try:
        with open(path, "rb") as fh:
            return RestrictedUnpickler(fh).load()
    except Exception as err:  # noqa: BLE001 - a corrupt pickle raises anything, MemoryError included
        raise CheckpointError(f"{path}: not a readable network pickle ({describe_load_error(err)})") from err


def _generator_stub(data: Any, path: str | Path) -> PersistentStub:
    if isinstance(data, tuple) and any(getattr(x, "qualified_name", "") == TF_NETWORK for x in data):
        raise CheckpointError(
            f"{path}: TensorFlow StyleGAN2 pickle; convert it with stylegan2-ada-pytorch's legacy.py first"
        )
    if isinstance(data, PersistentStub):
        return data
    if not isinstance(data, dict) or GENERATOR_KEY not in data:
        raise CheckpointError(
            f"{path}: expected a dict with key {GENERATOR_KEY!r} (an NVIDIA network pickle)"
        )
    stub = data[GENERATOR_KEY]
    if not isinstance(stub, PersistentStub):
        name = getattr(stub, "qualified_name", type(stub).__name__)
        raise CheckpointError(f"{path}: {GENERATOR_KEY} is a {name}, not an NVIDIA persistent Generator")
    return stub


def _check_supported(g: PersistentStub, kwargs: dict[str, Any], path: str | Path) -> None:
    if g.class_name != "Generator":
        raise CheckpointError(f"{path}: {GENERATOR_KEY} is a {g.class_name!r}, expected 'Generator'")
    synthesis = g.submodule("synthesis")
    if synthesis is None:
        raise CheckpointError(f"{path}: {GENERATOR_KEY}.synthesis is missing")
    if synthesis.submodule("input") is not None:
        radial = kwargs.get("use_radial_filters") or kwargs.get("conv_kernel") == 1
        config = "R" if radial else "T"
        raise CheckpointError(
            f"{path}: StyleGAN3 config-{config} synthesis network is not supported (only StyleGAN2 config F)"
        )
    if int(kwargs.get("c_dim") or 0) > 0:
        raise CheckpointError(
            f"{path}: conditional generator (c_dim={kwargs['c_dim']}) is not supported; needs c_dim=0"
        )


def _attr(stub: PersistentStub | None, name: str, where: str, path: str | Path) -> Any:
    if stub is None or name not in stub.state:
        raise CheckpointError(f"{path}: {GENERATOR_KEY}.{where} lacks attribute {name!r}")
    return stub.state[name]


def _filter_taps(f2d: Tensor, path: str | Path) -> tuple[float, ...]:
    taps = f2d.double().sum(dim=1)
    if f2d.ndim != 2 or not torch.allclose(torch.outer(taps, taps) / taps.sum() ** 2, f2d.double()):
        raise CheckpointError(
            f"{path}: {GENERATOR_KEY}.synthesis resample_filter is not a separable FIR filter"
        )
    return tuple(float(t) for t in taps / taps.max())


def nvidia_to_config(g: PersistentStub, path: str | Path = "<pickle>") -> StyleGAN2Config:
    """Hyper-parameters of an NVIDIA ``Generator`` stub; StyleGAN3 and c_dim > 0 are refused."""
    kwargs = {k: g.state.get(k) for k in GENERATOR_ARGS} | g.init_kwargs()
    _check_supported(g, kwargs, path)
    mapping, synthesis = g.submodule("mapping"), g.submodule("synthesis")
    tensors = g.tensors()
    resolutions = [int(r) for r in _attr(synthesis, "block_resolutions", "synthesis", path)]
    channels = {r: int(tensors[f"synthesis.b{r}.conv1.weight"].shape[0]) for r in resolutions}
    first = synthesis.submodule("b4")
    for r in resolutions:
        arch = _attr(synthesis.submodule(f"b{r}"), "architecture", f"synthesis.b{r}", path)
        if arch != "skip":
            raise CheckpointError(
                f"{path}: synthesis.b{r}.architecture={arch!r}; only 'skip' (config F) is supported"
            )
    layer = first.submodule("conv1") if first is not None else None
    conv_clamp = _attr(layer, "conv_clamp", "synthesis.b4.conv1", path)
    return StyleGAN2Config(
        img_resolution=int(kwargs["img_resolution"]),
        z_dim=int(kwargs["z_dim"]),
        w_dim=int(kwargs["w_dim"]),
        img_channels=int(kwargs["img_channels"]),
        channels=channels,
        mapping_layers=int(_attr(mapping, "num_layers", "mapping", path)),
        mapping_lr_multiplier=float(_attr(mapping.submodule("fc0"), "bias_gain", "mapping.fc0", path)),
        conv_clamp=None if conv_clamp is None else float(conv_clamp),
        use_noise=bool(_attr(layer, "use_noise", "synthesis.b4.conv1", path)),
        resample_filter=_filter_taps(tensors["synthesis.b4.resample_filter"], path),
    )


def load_nvidia_pickle(path: str | Path) -> tuple[StyleGAN2Config, dict[str, Tensor]]:
    """Read ``G_ema`` of an NVIDIA ``.pkl``: its configuration and a float32 state dict (no code is run)."""
    g = _generator_stub(read_pickle(path), path)
    try:
        cfg = nvidia_to_config(g, path)
    except KeyError as err:
        raise CheckpointError(f"{path}: {GENERATOR_KEY} lacks tensor or key {err}") from err
    state = {k: v.float() for k, v in g.tensors().items() if not k.endswith("resample_filter")}
    return cfg, state
