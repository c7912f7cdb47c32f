"""Test helpers for StyleGAN2: tiny checkpoints in NVIDIA's and rosinality's file formats, and a reference
forward pass written independently of ``promptgen.generators.stylegan2`` (explicit per-sample loops, float64).

The NVIDIA writer mimics ``torch_utils.persistence``: every module is pickled as
``torch_utils.persistence._reconstruct_persistent_obj(meta)`` with ``meta = {type, version, module_src,
class_name, state}``, ``state`` being the module's ``__dict__`` (parameters, buffers, sub-modules, attributes,
``_init_args``/``_init_kwargs`` as ``dnnlib.util.EasyDict``).
"""

from __future__ import annotations

import argparse
import collections
import io
import math
import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    "NVIDIA_SOURCE_PLACEHOLDER",
    "TinySpec",
    "evil_payload",
    "nvidia_generator_meta",
    "random_state",
    "reference_forward",
    "write_nvidia_pickle",
    "write_rosinality",
]

NVIDIA_SOURCE_PLACEHOLDER = "raise RuntimeError('the stored NVIDIA module source must never be executed')\n"
PERSISTENCE_VERSION = 6
FIR_TAPS = (1.0, 3.0, 3.0, 1.0)
LRELU = (0.2, math.sqrt(2.0))


@dataclass
class TinySpec:
    """A small StyleGAN2 shape used by the tests."""

    resolution: int = 16
    z_dim: int = 16
    w_dim: int = 16
    channels: dict[int, int] = field(default_factory=lambda: {4: 16, 8: 12, 16: 8})
    mapping_layers: int = 2
    lr_multiplier: float = 0.01
    conv_clamp: float | None = None
    img_channels: int = 3

    @property
    def resolutions(self) -> list[int]:
        return sorted(self.channels)


def _layer_shapes(spec: TinySpec, c_in: int, c_out: int, k: int) -> dict[str, tuple[int, ...]]:
    return {"affine.weight": (c_in, spec.w_dim), "affine.bias": (c_in,), "weight": (c_out, c_in, k, k)}


def random_state(spec: TinySpec, seed: int = 0) -> dict[str, Tensor]:
    """Random weights under NVIDIA's ``G_ema`` state-dict names (noise strengths and biases non-zero)."""
    g = torch.Generator().manual_seed(seed)
    state: dict[str, Tensor] = {}
    for i in range(spec.mapping_layers):
        state[f"mapping.fc{i}.weight"] = torch.randn(
            spec.w_dim, spec.z_dim if i == 0 else spec.w_dim, generator=g
        )
        state[f"mapping.fc{i}.bias"] = torch.randn(spec.w_dim, generator=g)
    state["mapping.w_avg"] = torch.randn(spec.w_dim, generator=g)
    for r in spec.resolutions:
        c = spec.channels[r]
        layers = {"conv1": (c, c, 3)}
        if r == 4:
            state["synthesis.b4.const"] = torch.randn(c, 4, 4, generator=g)
        else:
            layers = {"conv0": (spec.channels[r // 2], c, 3), **layers}
        layers["torgb"] = (c, spec.img_channels, 1)
        for name, (c_in, c_out, k) in layers.items():
            for key, shape in _layer_shapes(spec, c_in, c_out, k).items():
                state[f"synthesis.b{r}.{name}.{key}"] = torch.randn(*shape, generator=g)
            state[f"synthesis.b{r}.{name}.affine.bias"] += 1.0
            state[f"synthesis.b{r}.{name}.bias"] = 0.3 * torch.randn(c_out, generator=g)
            if name != "torgb":
                state[f"synthesis.b{r}.{name}.noise_const"] = torch.randn(r, r, generator=g)
                state[f"synthesis.b{r}.{name}.noise_strength"] = 0.5 * torch.randn((), generator=g)
    return state


# ----------------------------------------------------------------------------------------------------
# NVIDIA pickle writer


class _Marker:
    """A global written into the pickle by name only (the module need not exist here)."""

    def __init__(self, module: str, name: str):
        self.module, self.name = module, name

    def __call__(self, *args: Any) -> Any:  # pragma: no cover - never called, only pickled
        raise RuntimeError("marker")


RECONSTRUCT = _Marker("torch_utils.persistence", "_reconstruct_persistent_obj")


class EasyDict(dict):
    """Pickled as ``dnnlib.util.EasyDict``."""


class _Persistent:
    """Pickled as ``_reconstruct_persistent_obj(meta)``, like an NVIDIA persistent module."""

    def __init__(self, meta: dict[str, Any]):
        self.meta = meta

    def __reduce__(self) -> tuple[Any, ...]:
        return (RECONSTRUCT, (self.meta,))


class _NvidiaPickler(pickle._Pickler):
    """Writes :class:`_Marker` and :class:`EasyDict` as NVIDIA's module paths."""

    def _save_marker(self, obj: _Marker) -> None:
        self.save_global(obj)

    dispatch = pickle._Pickler.dispatch.copy()
    dispatch[_Marker] = _save_marker

    def save_global(self, obj: Any, name: str | None = None) -> None:
        target = {EasyDict: ("dnnlib.util", "EasyDict")}.get(obj) if isinstance(obj, type) else None
        if isinstance(obj, _Marker):
            target = (obj.module, obj.name)
        if target is None:
            return super().save_global(obj, name)
        self.save(target[0])
        self.save(target[1])
        self.write(pickle.STACK_GLOBAL)
        self.memoize(obj)


def _module(
    class_name: str,
    attrs: dict[str, Any],
    params: dict,
    buffers: dict,
    modules: dict,
    source: str,
    **init: Any,
) -> _Persistent:
    state = {
        "training": False,
        "_parameters": collections.OrderedDict((k, torch.nn.Parameter(v, False)) for k, v in params.items()),
        "_buffers": collections.OrderedDict(buffers),
        "_non_persistent_buffers_set": set(),
        "_backward_hooks": collections.OrderedDict(),
        "_forward_hooks": collections.OrderedDict(),
        "_forward_pre_hooks": collections.OrderedDict(),
        "_state_dict_hooks": collections.OrderedDict(),
        "_load_state_dict_pre_hooks": collections.OrderedDict(),
        "_modules": collections.OrderedDict(modules),
        "_init_args": (),
        "_init_kwargs": EasyDict(init),
        **attrs,
    }
    meta = {"type": "class", "version": PERSISTENCE_VERSION, "module_src": source, "class_name": class_name}
    return _Persistent({**meta, "state": state})


def _fir() -> Tensor:
    f = torch.tensor(FIR_TAPS)
    return torch.outer(f, f) / torch.outer(f, f).sum()


def _sub(state: dict[str, Tensor], prefix: str) -> dict[str, Tensor]:
    return {
        k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix) and "." not in k[len(prefix) :]
    }


def _fc(state: dict, prefix: str, source: str, act: str, lr: float) -> _Persistent:
    w = state[prefix + "weight"]
    attrs = {"activation": act, "weight_gain": np.float64(lr / np.sqrt(w.shape[1])), "bias_gain": lr}
    return _module("FullyConnectedLayer", attrs, _sub(state, prefix), {}, {}, source, in_features=w.shape[1])


def _synthesis_layer(state: dict, prefix: str, spec: TinySpec, r: int, up: int, source: str) -> _Persistent:
    attrs = {
        "resolution": r,
        "up": up,
        "use_noise": True,
        "activation": "lrelu",
        "conv_clamp": spec.conv_clamp,
    }
    attrs |= {"padding": 1, "act_gain": np.float64(np.sqrt(2))}
    params = {k: v for k, v in _sub(state, prefix).items() if k != "noise_const"}
    buffers = {"resample_filter": _fir(), "noise_const": state[prefix + "noise_const"]}
    affine = _fc(state, prefix + "affine.", source, "linear", 1.0)
    return _module("SynthesisLayer", attrs, params, buffers, {"affine": affine}, source, resolution=r, up=up)


def _block(state: dict, spec: TinySpec, r: int, architecture: str, source: str) -> _Persistent:
    p = f"synthesis.b{r}."
    mods = {} if r == 4 else {"conv0": _synthesis_layer(state, p + "conv0.", spec, r, 2, source)}
    mods["conv1"] = _synthesis_layer(state, p + "conv1.", spec, r, 1, source)
    rgb_attrs = {"conv_clamp": spec.conv_clamp, "weight_gain": np.float64(1 / np.sqrt(spec.channels[r]))}
    rgb_affine = {"affine": _fc(state, p + "torgb.affine.", source, "linear", 1.0)}
    mods["torgb"] = _module("ToRGBLayer", rgb_attrs, _sub(state, p + "torgb."), {}, rgb_affine, source)
    attrs = {
        "in_channels": 0 if r == 4 else spec.channels[r // 2],
        "resolution": r,
        "architecture": architecture,
    }
    attrs |= {"is_last": r == spec.resolution, "use_fp16": False, "num_conv": len(mods) - 1, "num_torgb": 1}
    params = {"const": state["synthesis.b4.const"]} if r == 4 else {}
    return _module(
        "SynthesisBlock", attrs, params, {"resample_filter": _fir()}, mods, source, architecture=architecture
    )


def nvidia_generator_meta(
    state: dict[str, Tensor],
    spec: TinySpec,
    *,
    source: str = NVIDIA_SOURCE_PLACEHOLDER,
    c_dim: int = 0,
    architecture: str = "skip",
    stylegan3: str | None = None,
    extra_state: dict[str, Any] | None = None,
) -> _Persistent:
    """The ``G_ema`` persistent object; ``stylegan3='T'|'R'`` swaps in a StyleGAN3-like synthesis network."""
    mapping_mods = {
        f"fc{i}": _fc(state, f"mapping.fc{i}.", source, "lrelu", spec.lr_multiplier)
        for i in range(spec.mapping_layers)
    }
    mapping_attrs = {
        "z_dim": spec.z_dim,
        "c_dim": c_dim,
        "w_dim": spec.w_dim,
        "num_layers": spec.mapping_layers,
    }
    mapping = _module(
        "MappingNetwork", mapping_attrs, {}, {"w_avg": state["mapping.w_avg"]}, mapping_mods, source
    )
    blocks = {f"b{r}": _block(state, spec, r, architecture, source) for r in spec.resolutions}
    if stylegan3:
        blocks = {"input": _module("SynthesisInput", {}, {}, {}, {}, source)}
    synthesis = _module("SynthesisNetwork", {"block_resolutions": spec.resolutions}, {}, {}, blocks, source)
    init = {"z_dim": spec.z_dim, "c_dim": c_dim, "w_dim": spec.w_dim, "img_resolution": spec.resolution}
    init |= {"img_channels": spec.img_channels, "mapping_kwargs": EasyDict(num_layers=spec.mapping_layers)}
    init["synthesis_kwargs"] = EasyDict(channel_base=512, channel_max=16, conv_clamp=spec.conv_clamp)
    if stylegan3 == "R":
        init |= {"conv_kernel": 1, "use_radial_filters": True}
    attrs = {k: init[k] for k in ("z_dim", "c_dim", "w_dim", "img_resolution", "img_channels")} | (
        extra_state or {}
    )
    return _module("Generator", attrs, {}, {}, {"synthesis": synthesis, "mapping": mapping}, source, **init)


def write_nvidia_pickle(path: Path, g_ema: Any, **extra: Any) -> Path:
    """Write ``{G, D, G_ema, augment_pipe, training_set_kwargs}`` like NVIDIA's training snapshots."""
    data = {
        "G": g_ema,
        "D": None,
        "G_ema": g_ema,
        "augment_pipe": None,
        "training_set_kwargs": EasyDict(xflip=False),
    }
    buf = io.BytesIO()
    _NvidiaPickler(buf, protocol=pickle.DEFAULT_PROTOCOL).dump(data | extra)
    path.write_bytes(buf.getvalue())
    return path


class _EvilCall:
    """Unpickling this with the standard unpickler executes ``code`` (it writes a file)."""

    def __init__(self, code: str):
        self.code = code

    def __reduce__(self) -> tuple[Any, ...]:
        return (exec, (self.code,))


def evil_payload(target: Path) -> _EvilCall:
    """A pickle-able object whose unpickling would create ``target``."""
    return _EvilCall(f"open({str(target)!r}, 'w').write('pwned')")


# ----------------------------------------------------------------------------------------------------
# rosinality writer


def write_rosinality(
    path: Path, state: dict[str, Tensor], spec: TinySpec, *, latent_avg: bool = True
) -> Path:
    """Write a rosinality checkpoint ``{g_ema, latent_avg, args}`` holding the same weights."""
    g: dict[str, Tensor] = {}
    for i in range(spec.mapping_layers):
        g[f"style.{i + 1}.weight"] = state[f"mapping.fc{i}.weight"]
        g[f"style.{i + 1}.bias"] = state[f"mapping.fc{i}.bias"]
    g["input.input"] = state["synthesis.b4.const"][None]
    layers = [("conv1", "synthesis.b4.conv1")]
    rgbs = [("to_rgb1", "synthesis.b4.torgb")]
    for k, r in enumerate(spec.resolutions[1:]):
        layers += [
            (f"convs.{2 * k}", f"synthesis.b{r}.conv0"),
            (f"convs.{2 * k + 1}", f"synthesis.b{r}.conv1"),
        ]
        rgbs.append((f"to_rgbs.{k}", f"synthesis.b{r}.torgb"))
        g[f"convs.{2 * k}.conv.blur.kernel"] = _fir() * 4
        g[f"to_rgbs.{k}.upsample.kernel"] = _fir() * 4
    for j, (ros, ours) in enumerate(layers):
        g[f"{ros}.conv.weight"] = state[f"{ours}.weight"][None]
        g[f"{ros}.conv.modulation.weight"] = state[f"{ours}.affine.weight"]
        g[f"{ros}.conv.modulation.bias"] = state[f"{ours}.affine.bias"]
        g[f"{ros}.noise.weight"] = state[f"{ours}.noise_strength"].reshape(1)
        g[f"{ros}.activate.bias"] = state[f"{ours}.bias"]
        g[f"noises.noise_{j}"] = state[f"{ours}.noise_const"][None, None]
    for ros, ours in rgbs:
        g[f"{ros}.conv.weight"] = state[f"{ours}.weight"][None]
        g[f"{ros}.conv.modulation.weight"] = state[f"{ours}.affine.weight"]
        g[f"{ros}.conv.modulation.bias"] = state[f"{ours}.affine.bias"]
        g[f"{ros}.bias"] = state[f"{ours}.bias"].reshape(1, -1, 1, 1)
    ckpt: dict[str, Any] = {
        "g_ema": g,
        "args": argparse.Namespace(size=spec.resolution, n_mlp=spec.mapping_layers),
    }
    if latent_avg:
        ckpt["latent_avg"] = state["mapping.w_avg"][None]
    torch.save(ckpt, path)
    return path


# ----------------------------------------------------------------------------------------------------
# independent reference forward (float64, per-sample loops)


def _ref_fc(x: Tensor, w: Tensor, b: Tensor, lr: float, lrelu: bool) -> Tensor:
    y = x @ w.T * (lr / math.sqrt(w.shape[1])) + b * lr
    return F.leaky_relu(y, LRELU[0]) * LRELU[1] if lrelu else y


def _ref_upsample_fir(x: Tensor) -> Tensor:
    """Zero-insert ×2 then the [1,3,3,1] filter, via a transposed depthwise convolution and a crop."""
    c = x.shape[1]
    f = (_fir().double() * 4)[None, None].repeat(c, 1, 1, 1)
    y = F.conv_transpose2d(x, f, stride=2, groups=c)
    return y[:, :, 1 : 1 + 2 * x.shape[2], 1 : 1 + 2 * x.shape[3]]


def _ref_modconv(x: Tensor, weight: Tensor, s: Tensor, demod: bool, up: bool) -> Tensor:
    outs = []
    for i in range(x.shape[0]):
        w = weight * s[i][None, :, None, None]
        if demod:
            w = w / torch.sqrt((w**2).sum(dim=(1, 2, 3), keepdim=True) + 1e-8)
        xi = x[i : i + 1]
        if (
            up
        ):  # true convolution of the zero-inserted input: FIR-upsample then correlate with the flipped kernel
            xi = torch.zeros(1, xi.shape[1], 2 * xi.shape[2] - 1, 2 * xi.shape[3] - 1, dtype=xi.dtype)
            xi[:, :, ::2, ::2] = x[i : i + 1]
            c = xi.shape[1]
            f = (_fir().double() * 4)[None, None].repeat(c, 1, 1, 1)
            xi = F.conv2d(F.pad(xi, [3, 3, 3, 3]), f, groups=c)
            outs.append(F.conv2d(xi, w.flip([2, 3])))
        else:
            outs.append(F.conv2d(xi, w, padding=w.shape[-1] // 2))
    return torch.cat(outs)


def _ref_layer(x: Tensor, w: Tensor, st: dict, p: str, spec: TinySpec, up: bool, noise: bool) -> Tensor:
    s = _ref_fc(w, st[p + "affine.weight"], st[p + "affine.bias"], 1.0, False)
    x = _ref_modconv(x, st[p + "weight"], s, True, up)
    if noise:
        x = x + st[p + "noise_const"] * st[p + "noise_strength"]
    x = F.leaky_relu(x + st[p + "bias"][None, :, None, None], LRELU[0]) * LRELU[1]
    return x if spec.conv_clamp is None else x.clamp(-spec.conv_clamp, spec.conv_clamp)


def _ref_rgb(x: Tensor, w: Tensor, st: dict, p: str, spec: TinySpec) -> Tensor:
    s = _ref_fc(w, st[p + "affine.weight"], st[p + "affine.bias"], 1.0, False) / math.sqrt(x.shape[1])
    y = _ref_modconv(x, st[p + "weight"], s, False, False) + st[p + "bias"][None, :, None, None]
    return y if spec.conv_clamp is None else y.clamp(-spec.conv_clamp, spec.conv_clamp)


def reference_forward(
    state: dict[str, Tensor], spec: TinySpec, z: Tensor, psi: float = 1.0, noise: bool = True
) -> Tensor:
    """Unclamped output for ``z`` under ψ-truncation (all w⁺ entries), const or no noise, in float64."""
    st = {k: v.double() for k, v in state.items()}
    x = z.double()
    x = x / torch.sqrt((x**2).mean(dim=1, keepdim=True) + 1e-8)
    for i in range(spec.mapping_layers):
        x = _ref_fc(x, st[f"mapping.fc{i}.weight"], st[f"mapping.fc{i}.bias"], spec.lr_multiplier, True)
    w = st["mapping.w_avg"] + psi * (x - st["mapping.w_avg"])
    h = st["synthesis.b4.const"][None].repeat(z.shape[0], 1, 1, 1)
    img = None
    for r in spec.resolutions:
        p = f"synthesis.b{r}."
        if r > 4:
            h = _ref_layer(h, w, st, p + "conv0.", spec, True, noise)
        h = _ref_layer(h, w, st, p + "conv1.", spec, False, noise)
        y = _ref_rgb(h, w, st, p + "torgb.", spec)
        img = y if img is None else _ref_upsample_fir(img) + y
    return img
