"""CelebA binary attribute classifiers in the PromptGen authors' checkpoint layout (kind ``celeba-resnet50``).

One file per attribute (the authors' ``celeba.zip`` unpacks to ``celeba/<Attribute>/best.pth``), each a
dict whose key ``model`` holds the state dict of a torchvision ResNet-50 whose ``fc`` became
Linear(2048, 2048), followed by ReLU, Dropout(0.5) and a top-level Linear(2048, 1):

* ``resnet.*`` — the ResNet-50 body, ``resnet.fc.weight`` (2048, 2048), ``resnet.fc.bias`` (2048,);
* ``fc.weight`` (1, 2048), ``fc.bias`` (1,) — the attribute logit.

Preprocessing as the authors' code: images in [0, 1] resized to 224 × 224 (bilinear; torchvision 0.12
resized tensors without antialiasing) and normalised with the ImageNet mean and std.
"""

from __future__ import annotations

from collections.abc import Mapping
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
from promptgen.registry import ConfigError

__all__ = ["CHECKPOINT_KEY", "CelebAClassifiers", "CelebAResNet50", "load_celeba_classifiers"]

CHECKPOINT_KEY = "model"
FEATURES = 2048  # ResNet-50 feature width
EXPECTED = "a dict with key 'model' holding a CelebA ResNet-50 state dict (resnet.* + fc: 2048 -> 1)"


class CelebAResNet50(nn.Module):
    """One attribute: ResNet-50 body -> Linear(2048, hidden) -> ReLU -> Dropout -> Linear(hidden, 1).

    Arguments:
        hidden: width of the hidden layer (the authors: 2048).
        dropout: dropout probability (inactive in eval mode; the authors: 0.5).
    """

    def __init__(self, hidden: int = FEATURES, dropout: float = 0.5):
        super().__init__()
        self.resnet = torchvision.models.resnet50(weights=None)
        self.resnet.fc = nn.Linear(FEATURES, hidden)
        self.relu = nn.ReLU()
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(hidden, 1)

    def forward(self, x: Tensor) -> Tensor:
        """Logits (N,) of ImageNet-normalised 224 × 224 images."""
        return self.fc(self.dropout(self.relu(self.resnet(x)))).squeeze(1)


class CelebAClassifiers(nn.Module):
    """Binary CelebA classifiers behind one adapter: images in [-1, 1] -> ``{attribute: logits (N,)}``.

    Arguments:
        networks: attribute name -> its :class:`CelebAResNet50`.
        size: input size of the networks (the authors: 224).
        antialias: antialias when downsizing (the authors' code: no).
    """

    def __init__(self, networks: Mapping[str, CelebAResNet50], size: int = 224, antialias: bool = False):
        super().__init__()
        self.attributes = list(networks)
        self.networks = nn.ModuleDict(dict(networks))
        self.size, self.antialias = int(size), bool(antialias)

    def preprocess(self, x: Tensor) -> Tensor:
        x = resize(to_unit_range(x), self.size, "bilinear", self.antialias)
        return imagenet_normalize(x)

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        x = self.preprocess(x)
        return {name: self.networks[name](x) for name in self.attributes}


def _load_network(path: str | Path, trusted: bool = False) -> CelebAResNet50:
    state = state_entry(load_checkpoint_file(path, EXPECTED, trusted), CHECKPOINT_KEY, path, EXPECTED)
    net = CelebAResNet50()
    load_state_strict(net, state, path, EXPECTED)
    return net.eval().requires_grad_(False)


@MODELS.register("celeba-resnet50")
def load_celeba_classifiers(
    checkpoints: Mapping[str, str], size: int = 224, antialias: bool = False, trusted: bool = False
) -> CelebAClassifiers:
    """Factory of kind ``celeba-resnet50``.

    Arguments:
        checkpoints: head name -> checkpoint path, e.g. ``{male: weights/celeba/Male/best.pth}``; the head
            names are what classifier energies refer to.
        size: input size (224).
        antialias: antialias when downsizing (the authors' code: false).
        trusted: unpickle the files fully (legacy files holding Python objects; runs code stored in them).

    Example (needs the downloaded checkpoints; not run as a doctest)::

        clf = load_celeba_classifiers({"male": "weights/celeba/Male/best.pth"})
        clf(images)["male"].shape  # (N,) logits; P(male) = sigmoid(logit)
    """
    if not isinstance(checkpoints, Mapping) or not checkpoints:
        raise ConfigError(f"checkpoints: expected a mapping {{attribute: path}}, got {checkpoints!r}")
    networks = {str(name): _load_network(path, trusted) for name, path in checkpoints.items()}
    return CelebAClassifiers(networks, size, antialias).eval()
