"""The oracle and the world's FFHQ-like biases."""

from __future__ import annotations

import pytest
import torch

import promptgen.world as world_pkg
from promptgen.world.groundtruth import oracle


@pytest.fixture(scope="module")
def labels() -> dict[str, torch.Tensor]:
    return oracle(torch.randn(40_000, 64, generator=torch.Generator().manual_seed(7)))


@pytest.mark.parametrize(
    ("name", "target"),
    [("male", 0.40), ("eyeglasses", 0.20), ("blond", 0.15), ("old", 0.25), ("young", 0.45)],
)
def test_marginals(labels, name, target):
    assert abs(labels[name].float().mean().item() - target) < 0.015


def test_correlations_like_ffhq(labels):
    p = lambda a, m: labels[a][m].float().mean().item()  # noqa: E731
    assert p("eyeglasses", labels["old"]) > 1.5 * p("eyeglasses", ~labels["old"])
    assert p("blond", ~labels["male"]) > 1.5 * p("blond", labels["male"])
    assert not (labels["makeup"] & labels["male"]).any()
    shares = torch.bincount(labels["tone"], minlength=4).float() / len(labels["tone"])
    assert (shares[:-1] > shares[1:]).all(), "tone bins are skewed towards light"


def test_label_consistency(labels):
    assert torch.equal(labels["age_group"] == 0, labels["young"])
    assert torch.equal(labels["age_group"] == 2, labels["old"])
    assert torch.equal(labels["gender"] == 1, labels["male"])
    assert labels["identity"].shape[1] == 10
    for a in ("yaw", "pitch", "roll"):
        assert labels[a].abs().max() <= torch.deg2rad(torch.tensor(30.0)) + 1e-6


def test_package_level_oracle_is_the_function():
    z = torch.randn(5, 64)
    assert torch.equal(world_pkg.oracle(z)["male"], oracle(z)["male"])
