"""Templated captions for the embedded world, with a deliberate reporting bias (docs/design.md §5, Fig. 8).

The tiny CLIP of the embedded world learns language only from these captions, so they decide which
prompts it understands and which biases it inherits. Each caption is

    ``{prefix} {article} [{age}] {noun}[ {clause}[, {clause}] and {clause}]``

e.g. "a photo of a man with blond hair and glasses", "a portrait of an old woman",
"a picture of a young person without makeup, with light skin and facing the camera".

Template parts (rates are the defaults of :class:`CaptionRates`):

* ``prefix``: uniformly one of :data:`PREFIXES` ("a photo of", "a picture of", ...).
* ``noun``: "man" / "woman" from the gender cue (``male``) with probability ``gender`` = 0.8, else
  "person".
* ``age`` (probability ``age`` = 0.6): "young" when ``young``; else "old" / "elderly" / "older" when
  ``old``; else "middle-aged" / "older". "older" therefore always means *not young*.
* clauses, each drawn independently, then shuffled:

  - eyeglasses: "with glasses" / "wearing glasses" / "with eyeglasses" when present (``glasses`` = 0.9),
    "without glasses" when absent (``no_glasses`` = 0.3);
  - hair: "with blond hair" when ``blond`` (``blond`` = 0.7); otherwise "with grey hair" when ``old``
    and "with dark hair" when not (``not_blond`` = 0.3);
  - makeup: "wearing makeup" / "with makeup" / "with lipstick" when present (``makeup`` = 0.6);
  - **reporting bias** — "without makeup" / "with no makeup" is said of makeup-free faces with
    probability ``no_makeup_female`` = 0.6 when the face has the female cue but only
    ``no_makeup_male`` = 0.03 when it has the male cue, although male-cue faces never wear makeup in
    this world. People describe the absence of makeup mostly for women (the paper's Fig. 8), so with
    P(male) ≈ 0.4 and P(makeup | female) ≈ 0.55, about 93 % of "without makeup" captions describe
    female-cue faces, while only ≈ 40 % of makeup-free faces are female-cue;
  - skin tone: "with {word} skin", ``word = tone_words[tone]`` (``tone`` = 0.25);
  - pose: "in profile" when |yaw| > ``profile_yaw`` (0.35 rad), "facing the camera" when
    |yaw| < ``frontal_yaw`` (0.1 rad), otherwise nothing (``pose`` = 0.2).

Caption i depends only on ``(seed, i)`` (one RNG per sample), never on the batch it is made in.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass

from torch import Tensor

__all__ = ["PREFIXES", "CaptionRates", "caption", "make_captions"]

PREFIXES: tuple[str, ...] = ("a photo of", "a picture of", "a portrait of", "a close-up photo of")
GLASSES = ("with glasses", "wearing glasses", "with eyeglasses")
MAKEUP = ("wearing makeup", "with makeup", "with lipstick")
NO_MAKEUP = ("without makeup", "with no makeup")
OLD = ("old", "elderly", "older")
MIDDLE = ("middle-aged", "older")


@dataclass(frozen=True)
class CaptionRates:
    """Probabilities with which each attribute is mentioned (see the module docstring).

    Arguments:
        gender: say "man"/"woman" rather than "person".
        age: mention the age word.
        glasses: mention eyeglasses when present.
        no_glasses: say "without glasses" when absent.
        blond: mention blond hair when present.
        not_blond: mention dark (or, when old, grey) hair when not blond.
        makeup: mention makeup when present.
        no_makeup_female: say "without makeup" of a makeup-free female-cue face (the reporting bias).
        no_makeup_male: say "without makeup" of a male-cue face.
        tone: mention the skin tone.
        pose: mention the head pose (when frontal or in profile).
        frontal_yaw: |yaw| in radians below which a face is "facing the camera".
        profile_yaw: |yaw| in radians above which a face is "in profile".
        tone_words: one word per skin-tone bin, lightest first.
    """

    gender: float = 0.8
    age: float = 0.6
    glasses: float = 0.9
    no_glasses: float = 0.3
    blond: float = 0.7
    not_blond: float = 0.3
    makeup: float = 0.6
    no_makeup_female: float = 0.6
    no_makeup_male: float = 0.03
    tone: float = 0.25
    pose: float = 0.2
    frontal_yaw: float = 0.1
    profile_yaw: float = 0.35
    tone_words: tuple[str, ...] = ("light", "medium", "brown", "dark")


def _noun_phrase(face: Mapping[str, float], rng: random.Random, rates: CaptionRates) -> str:
    noun = "person"
    if rng.random() < rates.gender:
        noun = "man" if face["male"] else "woman"
    if rng.random() < rates.age:
        if face["young"]:
            noun = f"young {noun}"
        else:
            noun = f"{rng.choice(OLD if face.get('old', 0) else MIDDLE)} {noun}"
    article = "an" if noun[0] in "aeiou" else "a"
    return f"{article} {noun}"


def _glasses_hair(face: Mapping[str, float], rng: random.Random, rates: CaptionRates) -> list[str]:
    clauses = []
    if face["eyeglasses"] and rng.random() < rates.glasses:
        clauses.append(rng.choice(GLASSES))
    elif not face["eyeglasses"] and rng.random() < rates.no_glasses:
        clauses.append("without glasses")
    if face["blond"] and rng.random() < rates.blond:
        clauses.append("with blond hair")
    elif not face["blond"] and rng.random() < rates.not_blond:
        clauses.append("with grey hair" if face.get("old", 0) else "with dark hair")
    return clauses


def _makeup(face: Mapping[str, float], rng: random.Random, rates: CaptionRates) -> list[str]:
    if face["makeup"]:
        return [rng.choice(MAKEUP)] if rng.random() < rates.makeup else []
    p = rates.no_makeup_male if face["male"] else rates.no_makeup_female
    return [rng.choice(NO_MAKEUP)] if rng.random() < p else []


def _tone_pose(face: Mapping[str, float], rng: random.Random, rates: CaptionRates) -> list[str]:
    clauses = []
    if "tone" in face and rng.random() < rates.tone:
        tone = int(face["tone"])
        if not 0 <= tone < len(rates.tone_words):
            raise ValueError(f"labels['tone']: bin {tone} has no word in CaptionRates.tone_words")
        clauses.append(f"with {rates.tone_words[tone]} skin")
    if "yaw" in face and rng.random() < rates.pose:
        yaw = abs(float(face["yaw"]))
        if yaw > rates.profile_yaw:
            clauses.append("in profile")
        elif yaw < rates.frontal_yaw:
            clauses.append("facing the camera")
    return clauses


def _join(clauses: list[str]) -> str:
    if not clauses:
        return ""
    if len(clauses) == 1:
        return f" {clauses[0]}"
    return f" {', '.join(clauses[:-1])} and {clauses[-1]}"


def caption(face: Mapping[str, float], rng: random.Random, rates: CaptionRates | None = None) -> str:
    """One caption for one face, given its labels as numbers (keys as in :func:`make_captions`)."""
    rates = rates or CaptionRates()
    prefix = rng.choice(PREFIXES)
    subject = _noun_phrase(face, rng, rates)
    clauses = _glasses_hair(face, rng, rates) + _makeup(face, rng, rates) + _tone_pose(face, rng, rates)
    rng.shuffle(clauses)
    return f"{prefix} {subject}{_join(clauses)}"


def make_captions(labels: Mapping[str, Tensor], seed: int, rates: CaptionRates | None = None) -> list[str]:
    """Caption every face of a labelled batch.

    Arguments:
        labels: oracle labels, each a tensor of length N. Required keys: ``male``, ``eyeglasses``,
            ``blond``, ``young``, ``makeup`` (0/1). Used when present: ``old`` (0/1), ``tone`` (bin index),
            ``yaw`` (radians). Other keys are ignored.
        seed: caption i is drawn from an RNG seeded by ``(seed, i)`` only.
        rates: mention probabilities; defaults to :class:`CaptionRates` ().

    Returns:
        N captions.

    Example:
        >>> import torch
        >>> labels = {k: torch.tensor([1, 0]) for k in ("male", "eyeglasses", "blond", "young", "makeup")}
        >>> len(make_captions(labels, seed=0))
        2
    """
    required = ("male", "eyeglasses", "blond", "young", "makeup")
    missing = [k for k in required if k not in labels]
    if missing:
        raise KeyError(f"labels: missing keys {missing} (make_captions needs {list(required)})")
    keys = [k for k in (*required, "old", "tone", "yaw") if k in labels]
    columns = {k: labels[k].reshape(-1).tolist() for k in keys}
    n = len(columns["male"])
    faces = [{k: columns[k][i] for k in keys} for i in range(n)]
    return [caption(face, random.Random(seed * 1_000_003 + i), rates) for i, face in enumerate(faces)]
