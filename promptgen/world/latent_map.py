"""The fixed, seeded, entangling map z -> scene factors, and the thresholds that set the world's biases.

z ~ N(0, I_d) is rotated by a seeded random orthogonal matrix Q and bent by a small fixed residual MLP,

    h = standardise( (Q z)[:F] + mix · tanh((Q z) W1 + b1) W2 ),

so every scene factor depends on every latent coordinate, nonlinearly, and no single coordinate controls
an attribute. Attributes are thresholds on *scores* (factors or fixed mixtures of factors); the thresholds
are quantiles of a seeded calibration sample, chosen so the marginals match :class:`WorldBiases`.
Correlations come from shared directions: the eyeglasses score leans on the age factor, the blond score
leans away from the gender factor. Truncation ψ acts on h (the W-space analog): h_ψ = ψ · h.

With ``curvature > 0`` a seeded Gaussian-measure-preserving bijection :class:`~promptgen.world.curvature
.LatentTwist` is composed in front, h = standardise(raw(T(z))): T(z) has the law of z, so the standardisation
and thresholds calibrated on the untwisted map hold exactly, and ``curvature = 0`` is today's map bit for bit.
"""

from __future__ import annotations

import copy
import math
from dataclasses import asdict, dataclass, field
from functools import lru_cache

import torch
from torch import Tensor, nn

from promptgen.world.curvature import LatentTwist

__all__ = [
    "FACTORS",
    "IDENTITY_DIM",
    "SEMANTIC_FACTORS",
    "WorldBiases",
    "WorldMap",
    "get_world",
]

SEMANTIC_FACTORS = ("gender", "age", "glasses", "blond", "makeup", "tone")
NUISANCE_FACTORS = (
    "yaw",
    "pitch",
    "roll",
    "smile",
    "brow_raise",
    "light_x",
    "light_y",
    "light_int",
    "bg_hue",
    "bg_val",
    "bg_grad",
    "cloth_hue",
    "cloth_val",
    "hair_shade",
)
IDENTITY_DIM = 10
FACTORS = (*SEMANTIC_FACTORS, *NUISANCE_FACTORS, *(f"id{i}" for i in range(IDENTITY_DIM)))


@dataclass(frozen=True)
class WorldBiases:
    """The world's FFHQ-like biases (targets for the calibrated thresholds).

    Arguments:
        p_male: P(male cue).
        p_eyeglasses: P(eyeglasses).
        p_blond: P(blond hair).
        p_young: P(age group 0, "young").
        p_old: P(age group 2, "old"); the middle group has the rest.
        p_makeup_given_female: P(makeup | female cue); makeup never appears on the male-cue side.
        tone_shares: shares of the skin-tone bins, lightest first (skewed like FFHQ).
        glasses_age_angle: angle (rad) of the eyeglasses score towards the age factor (eyeglasses | old).
        blond_gender_angle: angle (rad) of the blond score away from the gender factor (blond | female).
    """

    p_male: float = 0.40
    p_eyeglasses: float = 0.20
    p_blond: float = 0.15
    p_young: float = 0.45
    p_old: float = 0.25
    p_makeup_given_female: float = 0.55
    tone_shares: tuple[float, ...] = (0.55, 0.22, 0.14, 0.09)
    glasses_age_angle: float = 0.55
    blond_gender_angle: float = 0.55

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class MapSpec:
    """Shape of the entangling map.

    Arguments:
        hidden: width of the fixed residual MLP.
        mix: weight of the nonlinear residual relative to the rotated latent.
        n_calibration: size of the seeded sample the thresholds and standardisation are computed on.
    """

    hidden: int = 64
    mix: float = 0.6
    n_calibration: int = 1 << 17
    biases: WorldBiases = field(default_factory=WorldBiases)


class WorldMap(nn.Module):
    """z -> standardised scene factors h (N, F), attribute scores and thresholds.

    Arguments:
        latent_dim: d, at least the number of factors F.
        seed: the world seed; fixes Q, the MLP weights, the calibration sample and the twists.
        spec: map shape and biases.
        curvature: angle scale of the twists composed in front of the map (0: none; see
            :mod:`promptgen.world.curvature`). Changes which z gives which face, never the law of the faces.

    Example:
        >>> world = WorldMap(64, seed=0)
        >>> h = world(torch.randn(8, 64))  # (8, F) factors, in FACTORS order
    """

    def __init__(
        self, latent_dim: int = 64, seed: int = 0, spec: MapSpec | None = None, curvature: float = 0.0
    ):
        super().__init__()
        if not math.isfinite(curvature) or curvature < 0:
            raise ValueError(f"curvature: a finite number >= 0, got {curvature!r}")
        self.spec = spec or MapSpec()
        n_factors = len(FACTORS)
        if latent_dim < n_factors:
            raise ValueError(f"latent_dim: the world needs at least {n_factors} dimensions, got {latent_dim}")
        self.latent_dim, self.seed = int(latent_dim), int(seed)
        gen = torch.Generator().manual_seed(self.seed)
        q, r = torch.linalg.qr(torch.randn(latent_dim, latent_dim, generator=gen, dtype=torch.float64))
        q = q * torch.sign(torch.diagonal(r))
        hid = self.spec.hidden
        w1 = torch.randn(latent_dim, hid, generator=gen, dtype=torch.float64) / math.sqrt(latent_dim)
        b1 = 0.5 * torch.randn(hid, generator=gen, dtype=torch.float64)
        w2 = torch.randn(hid, n_factors, generator=gen, dtype=torch.float64) / math.sqrt(hid)
        for name, value in {"q": q, "w1": w1, "b1": b1, "w2": w2}.items():
            self.register_buffer(name, value.float())
        self.register_buffer("mean", torch.zeros(n_factors))
        self.register_buffer("std", torch.ones(n_factors))
        self._calibrate(gen)
        self.curvature = float(curvature)
        self.twist = LatentTwist(self.latent_dim, self.curvature, self.seed) if self.curvature > 0 else None

    def untwisted_raw(self, z: Tensor) -> Tensor:
        """The map before standardisation, without the twists (what the calibration samples)."""
        u = z @ self.q
        return u[:, : len(FACTORS)] + self.spec.mix * torch.tanh(u @ self.w1 + self.b1) @ self.w2

    def raw(self, z: Tensor) -> Tensor:
        """The map before standardisation: the twists (if any), then :meth:`untwisted_raw`."""
        return self.untwisted_raw(z if self.twist is None else self.twist(z))

    def forward(self, z: Tensor, psi: float = 1.0) -> Tensor:
        """Standardised factors h (N, F) at truncation ψ."""
        return psi * (self.raw(z) - self.mean) / self.std

    def factor(self, h: Tensor, name: str) -> Tensor:
        return h[:, FACTORS.index(name)]

    def scores(self, h: Tensor) -> dict[str, Tensor]:
        """Attribute scores: an attribute is on where its score exceeds its threshold."""
        b = self.spec.biases
        f = {name: self.factor(h, name) for name in SEMANTIC_FACTORS}
        ga, ba = b.glasses_age_angle, b.blond_gender_angle
        return {
            "male": f["gender"],
            "age": f["age"],
            "eyeglasses": math.cos(ga) * f["glasses"] + math.sin(ga) * f["age"],
            "blond": math.cos(ba) * f["blond"] - math.sin(ba) * f["gender"],
            "makeup": f["makeup"],
            "tone": f["tone"],
        }

    def _calibrate(self, gen: torch.Generator) -> None:
        b = self.spec.biases
        with torch.no_grad():
            raw = self.untwisted_raw(torch.randn(self.spec.n_calibration, self.latent_dim, generator=gen))
            self.mean.copy_(raw.mean(0))
            self.std.copy_(raw.std(0))
            raw = self.untwisted_raw(torch.randn(self.spec.n_calibration, self.latent_dim, generator=gen))
            s = self.scores((raw - self.mean) / self.std)
            female = s["male"] <= _quantile(s["male"], 1 - b.p_male)
            cum = torch.tensor(b.tone_shares, dtype=torch.float64).cumsum(0)[:-1] / sum(b.tone_shares)
            thresholds = {
                "male": _quantile(s["male"], 1 - b.p_male),
                "eyeglasses": _quantile(s["eyeglasses"], 1 - b.p_eyeglasses),
                "blond": _quantile(s["blond"], 1 - b.p_blond),
                "makeup": _quantile(s["makeup"][female], 1 - b.p_makeup_given_female),
                "young": _quantile(s["age"], b.p_young),
                "old": _quantile(s["age"], 1 - b.p_old),
            }
        for name, value in thresholds.items():
            self.register_buffer(f"theta_{name}", value.reshape(()))
        self.register_buffer("theta_tone", torch.stack([_quantile(s["tone"], float(c)) for c in cum]))

    def thresholds(self) -> dict[str, Tensor]:
        return {name[6:]: buf for name, buf in self.named_buffers() if name.startswith("theta_")}


def _quantile(x: Tensor, q: float) -> Tensor:
    k = min(max(int(round(q * (x.numel() - 1))), 0), x.numel() - 1)
    return x.sort().values[k].clone()


def get_world(latent_dim: int = 64, seed: int = 0, curvature: float = 0.0) -> WorldMap:
    """The (cached, frozen) world map for ``(latent_dim, seed, curvature)`` with the default biases.

    Worlds that differ only in ``curvature`` share the calibration (standardisation and thresholds) of
    the untwisted map, computed once.
    """
    base = _untwisted_world(int(latent_dim), int(seed))
    if not curvature:
        return base
    return _twisted_world(int(latent_dim), int(seed), float(curvature))


@lru_cache(maxsize=8)
def _untwisted_world(latent_dim: int, seed: int) -> WorldMap:
    return WorldMap(latent_dim, seed).requires_grad_(False)


@lru_cache(maxsize=16)
def _twisted_world(latent_dim: int, seed: int, curvature: float) -> WorldMap:
    world = copy.deepcopy(_untwisted_world(latent_dim, seed))
    world.curvature = curvature
    world.twist = LatentTwist(latent_dim, curvature, seed)
    return world.requires_grad_(False)
