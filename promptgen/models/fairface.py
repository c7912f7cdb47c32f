"""The FairFace race/gender/age classifier (kind ``fairface-resnet34``).

Checkpoint: ``res34_fair_align_multi_7_20190809.pt`` (FairFace, Kärkkäinen & Joo, WACV 2021), a plain
state dict of a torchvision ResNet-34 whose ``fc`` is Linear(512, 18). The 18 logits are three groups, in
FairFace's order (``predict.py`` of dchen236/FairFace; the PromptGen authors' code uses the same slices):

* ``race`` = logits[0:7]: White, Black, Latino_Hispanic, East Asian, Southeast Asian, Indian, Middle Eastern;
* ``gender`` = logits[7:9]: Male, Female;
* ``age`` = logits[9:18]: 0-2, 3-9, 10-19, 20-29, 30-39, 40-49, 50-59, 60-69, 70+.

Preprocessing as both codes: images in [0, 1] resized to 224 × 224 and normalised with the ImageNet mean and
std (FairFace's own script resizes dlib face chips; the PromptGen code resizes whole generated images,
bilinear, without antialiasing).
"""

from __future__ import annotations

from pathlib import Path

import torchvision
from torch import Tensor, nn

from promptgen.models import MODELS
from promptgen.models.common import (
    imagenet_normalize,
    load_checkpoint_file,
    load_state_strict,
    resize,
    state_entry,
    to_unit_range,
)

__all__ = ["AGE_LABELS", "GENDER_LABELS", "HEADS", "RACE_LABELS", "FairFaceClassifier", "load_fairface"]

RACE_LABELS = (
    "White",
    "Black",
    "Latino_Hispanic",
    "East Asian",
    "Southeast Asian",
    "Indian",
    "Middle Eastern",
)
GENDER_LABELS = ("Male", "Female")
AGE_LABELS = ("0-2", "3-9", "10-19", "20-29", "30-39", "40-49", "50-59", "60-69", "70+")
HEADS = {"race": RACE_LABELS, "gender": GENDER_LABELS, "age": AGE_LABELS}  # in the order of the 18 logits
OUTPUTS = sum(len(labels) for labels in HEADS.values())
EXPECTED = f"a torchvision ResNet-34 state dict with fc: 512 -> {OUTPUTS} (FairFace race 7, gender 2, age 9)"


class FairFaceClassifier(nn.Module):
    """FairFace ResNet-34: images in [-1, 1] -> ``{"race": (N, 7), "gender": (N, 2), "age": (N, 9)}`` logits.

    Arguments:
        size: input size (224).
        antialias: antialias when downsizing (the PromptGen authors' code: no).

    Attributes:
        labels: head -> class names, index-aligned with the logits.
    """

    labels = HEADS

    def __init__(self, size: int = 224, antialias: bool = False):
        super().__init__()
        self.net = torchvision.models.resnet34(weights=None)
        self.net.fc = nn.Linear(self.net.fc.in_features, OUTPUTS)
        self.size, self.antialias = int(size), bool(antialias)

    def preprocess(self, x: Tensor) -> Tensor:
        return imagenet_normalize(resize(to_unit_range(x), self.size, "bilinear", self.antialias))

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        logits = self.net(self.preprocess(x))
        heads, start = {}, 0
        for name, labels in HEADS.items():
            heads[name] = logits[:, start : start + len(labels)]
            start += len(labels)
        return heads


@MODELS.register("fairface-resnet34")
def load_fairface(
    checkpoint: str | Path, size: int = 224, antialias: bool = False, trusted: bool = False
) -> FairFaceClassifier:
    """Factory of kind ``fairface-resnet34``: ``checkpoint`` is ``res34_fair_align_multi_7_20190809.pt``.

    ``trusted``: unpickle the file fully (a legacy file holding Python objects; runs code stored in it).

    Example (needs the downloaded checkpoint; not run as a doctest)::

        clf = load_fairface("weights/fairface/res34_fair_align_multi_7_20190809.pt")
        clf(images)["age"].shape  # (N, 9), classes FairFaceClassifier.labels["age"]
    """
    state = state_entry(load_checkpoint_file(checkpoint, EXPECTED, trusted), None, checkpoint, EXPECTED)
    model = FairFaceClassifier(size, antialias)
    load_state_strict(model.net, state, checkpoint, EXPECTED)
    return model.eval().requires_grad_(False)
