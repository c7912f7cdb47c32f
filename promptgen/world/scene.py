"""Scene parameters from scene factors: attribute cues, pose, identity shape, expression, light, colours.

Every binary attribute is drawn through a *cue* c(s − θ) = (1 − w)·σ((s − θ)/τ_sharp) + w·σ((s − θ)/τ_wide):
the sharp part makes what a person sees switch exactly where the oracle's label does (so the oracle is
right and classifiers can be near-perfect); the wide part keeps a gentle slope everywhere, so classifier
energies have non-zero gradients far from the boundary.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch import Tensor

from promptgen.world.latent_map import FACTORS, IDENTITY_DIM, WorldMap

__all__ = ["IDENTITY_PARAMS", "Scene", "SceneStyle", "cue", "scene_from_factors", "scene_from_z"]

IDENTITY_PARAMS = (
    "head_width",
    "head_height",
    "eye_spacing",
    "eye_height",
    "eye_size",
    "nose_length",
    "nose_width",
    "mouth_width",
    "brow_height",
    "hairline",
)
assert len(IDENTITY_PARAMS) == IDENTITY_DIM

SKIN_TONES = ((0.97, 0.81, 0.70), (0.86, 0.64, 0.47), (0.64, 0.43, 0.29), (0.40, 0.25, 0.16))
HAIR = {"dark": (0.16, 0.10, 0.07), "blond": (0.93, 0.78, 0.38), "grey": (0.78, 0.78, 0.80)}


@dataclass(frozen=True)
class SceneStyle:
    """Hyper-parameters of the factor -> scene step.

    Arguments:
        tau_sharp: width of the sharp part of an attribute cue (factor units).
        tau_wide: width of the gentle part.
        wide_weight: weight w of the gentle part.
        yaw_max, pitch_max, roll_max: pose bounds (radians); angle = max · tanh(pose_gain · h).
        pose_gain: slope of the pose squashing.
        identity_gain: identity shape parameter = tanh(identity_gain · h) in (−1, 1).
        grey_middle: how far middle-aged hair is mixed towards grey.
        grey_old: how far old hair is mixed towards grey.
        skin_tones: RGB of the tone bins, lightest first.
    """

    tau_sharp: float = 0.015
    tau_wide: float = 0.6
    wide_weight: float = 0.15
    yaw_max: float = math.radians(30.0)
    pitch_max: float = math.radians(25.0)
    roll_max: float = math.radians(20.0)
    pose_gain: float = 0.7
    identity_gain: float = 0.8
    grey_middle: float = 0.2
    grey_old: float = 0.7
    skin_tones: tuple[tuple[float, float, float], ...] = field(default=SKIN_TONES)


@dataclass
class Scene:
    """A batch of scene parameters; every field is (N,) unless noted. Cues are in [0, 1].

    Fields ``skin``, ``hair``, ``bg``, ``cloth`` are (N, 3) RGB in [0, 1]; ``identity`` is (N, 10) in (−1, 1)
    in :data:`IDENTITY_PARAMS` order; angles are radians (yaw about y, pitch about x, roll about z).
    """

    male: Tensor
    blond: Tensor
    glasses: Tensor
    makeup: Tensor
    age: Tensor
    skin: Tensor
    hair: Tensor
    yaw: Tensor
    pitch: Tensor
    roll: Tensor
    smile: Tensor
    brow_raise: Tensor
    light: Tensor
    light_int: Tensor
    bg: Tensor
    bg_grad: Tensor
    cloth: Tensor
    identity: Tensor

    def replace(self, **fields: Tensor) -> Scene:
        return Scene(**{**self.__dict__, **fields})


def cue(x: Tensor, style: SceneStyle) -> Tensor:
    """Visual strength in [0, 1] of an attribute at signed distance ``x`` from its threshold."""
    w = style.wide_weight
    return (1 - w) * torch.sigmoid(x / style.tau_sharp) + w * torch.sigmoid(x / style.tau_wide)


def _hue(h: Tensor) -> Tensor:
    t = 0.5 * (1 + torch.erf(h / math.sqrt(2)))
    k = torch.tensor([0.0, 1 / 3, 2 / 3], device=h.device)
    return 0.5 + 0.5 * torch.cos(2 * math.pi * (t[:, None] - k))


def _palette(steps: Tensor, colours: Tensor) -> Tensor:
    """Piecewise-linear palette: colours[0] + Σ_k steps[:, k] (colours[k+1] − colours[k])."""
    return colours[0] + steps @ (colours[1:] - colours[:-1])


def scene_from_factors(world: WorldMap, h: Tensor, style: SceneStyle | None = None) -> Scene:
    """Scene parameters for standardised factors ``h`` (N, F) of ``world``."""
    style = style or SceneStyle()
    f = {name: h[:, i] for i, name in enumerate(FACTORS)}
    s, th = world.scores(h), world.thresholds()
    male = cue(s["male"] - th["male"], style)
    middle, old = cue(s["age"] - th["young"], style), cue(s["age"] - th["old"], style)
    age = 0.5 * middle + 0.5 * old
    blond = cue(s["blond"] - th["blond"], style)
    tone_steps = torch.stack([cue(s["tone"] - t, style) for t in th["tone"]], -1)
    hair_base = _palette(blond[:, None], torch.tensor([HAIR["dark"], HAIR["blond"]], device=h.device))
    hair_base = hair_base * (1 + 0.12 * torch.tanh(f["hair_shade"]))[:, None]
    grey = (style.grey_middle * middle + (style.grey_old - style.grey_middle) * old)[:, None]
    light_dir = torch.stack([0.6 * torch.tanh(f["light_x"]), 0.6 * torch.tanh(f["light_y"]) + 0.3], -1)
    pose = {k: m * torch.tanh(style.pose_gain * f[k]) for k, m in _pose_max(style).items()}
    return Scene(
        male=male,
        blond=blond,
        glasses=cue(s["eyeglasses"] - th["eyeglasses"], style),
        makeup=(1 - male) * cue(s["makeup"] - th["makeup"], style),
        age=age,
        skin=_palette(tone_steps, torch.tensor(style.skin_tones, device=h.device)),
        hair=(1 - grey) * hair_base + grey * torch.tensor(HAIR["grey"], device=h.device),
        **pose,
        smile=torch.tanh(f["smile"]),
        brow_raise=torch.tanh(f["brow_raise"]),
        light=light_dir,
        light_int=0.85 + 0.1 * torch.tanh(f["light_int"]),
        bg=(0.45 + 0.45 * torch.sigmoid(f["bg_val"]))[:, None] * (0.55 + 0.45 * _hue(f["bg_hue"])),
        bg_grad=0.15 * torch.tanh(f["bg_grad"]),
        cloth=(0.25 + 0.6 * torch.sigmoid(f["cloth_val"]))[:, None] * _hue(f["cloth_hue"]),
        identity=torch.tanh(style.identity_gain * h[:, FACTORS.index("id0") :]),
    )


def _pose_max(style: SceneStyle) -> dict[str, float]:
    return {"yaw": style.yaw_max, "pitch": style.pitch_max, "roll": style.roll_max}


def scene_from_z(world: WorldMap, z: Tensor, psi: float = 1.0, style: SceneStyle | None = None) -> Scene:
    """Scene parameters for latents ``z`` (N, d) at truncation ψ."""
    return scene_from_factors(world, world(z, psi), style)
