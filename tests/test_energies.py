import json

import pytest
import torch
import torch.nn.functional as F

from promptgen.energies import EnergyInput, EnergySum, build_energy_sum
from promptgen.energies.base import NonFiniteEnergyError
from promptgen.energies.classifier import ClassifierEnergy, ClassProbabilities
from promptgen.energies.clip import CLIPEnergy
from promptgen.energies.diffaug import POLICIES, diff_augment
from promptgen.energies.identity import IdentityEnergy
from promptgen.energies.moment import MomentEnergy
from promptgen.energies.pose import PoseEnergy, target_rotation
from promptgen.registry import ConfigError
from promptgen.rotations import euler_xyz_to_matrix


class FixedLogits(torch.nn.Module):
    def __init__(self, outputs):
        super().__init__()
        self.outputs = outputs

    def forward(self, x):
        return self.outputs


def test_classifier_energy_binary_categorical_and_combinations() -> None:
    male = torch.tensor([2.0, -1.0])
    tone = torch.tensor([[0.1, 2.0, -1.0, 0.3], [1.0, 1.0, 1.0, 1.0]])
    clf = FixedLogits({"male": male, "tone": tone})
    x = torch.zeros(2, 3, 4, 4)
    e_male = ClassifierEnergy(clf, {"male": 1})(EnergyInput(x))
    assert torch.allclose(e_male, -F.logsigmoid(male))
    e_female = ClassifierEnergy(clf, {"male": 0})(EnergyInput(x))
    assert torch.allclose(e_female, -torch.log1p(-torch.sigmoid(male)), atol=1e-6)
    e_tone = ClassifierEnergy(clf, {"tone": 1})(EnergyInput(x))
    assert torch.allclose(e_tone, -F.log_softmax(tone, -1)[:, 1])
    both = ClassifierEnergy(clf, {"male": 1, "tone": 1})(EnergyInput(x))
    assert torch.allclose(both, e_male + e_tone)
    probs = ClassProbabilities(clf, "male")(x)
    assert torch.allclose(probs[:, 1], torch.sigmoid(male)) and torch.allclose(probs.sum(1), torch.ones(2))
    with pytest.raises(KeyError, match="no head 'young'"):
        ClassifierEnergy(clf, {"young": 1})(EnergyInput(x))


def test_moment_energy_is_minus_beta_dot_gamma() -> None:
    clf = FixedLogits({"tone": torch.tensor([[0.0, 1.0, 2.0]])})
    beta = torch.tensor([0.5, -1.0, 2.0])
    e = MomentEnergy(ClassProbabilities(clf, "tone"), beta)(EnergyInput(torch.zeros(1, 3, 2, 2)))
    assert torch.allclose(e, -(F.softmax(torch.tensor([[0.0, 1.0, 2.0]]), -1) @ beta))


class RotationFromInput(torch.nn.Module):
    """A stand-in pose regressor: reads Euler angles from the first three pixels."""

    def forward(self, x):
        return euler_xyz_to_matrix(x.flatten(1)[:, :3])


def test_pose_energy_zero_at_the_requested_pose() -> None:
    alpha = torch.tensor([[0.2, -0.1], [0.0, 0.3]])
    target = target_rotation(alpha, euler_xyz_to_matrix(torch.tensor([0.3, 0.0, 0.0])))
    # Images whose "regressed" rotation equals the target: recover Euler angles by brute force.
    energy = PoseEnergy(RotationFromInput())
    angles = torch.zeros(2, 3, requires_grad=True)
    opt = torch.optim.Adam([angles], lr=0.05)
    for _ in range(400):
        opt.zero_grad()
        loss = ((euler_xyz_to_matrix(angles) - target) ** 2).sum()
        loss.backward()
        opt.step()
    x = torch.zeros(2, 1, 2, 2)
    x.view(2, -1)[:, :3] = angles.detach()
    e = energy(EnergyInput(x, cond=alpha))
    assert e.max() < 1e-5
    other = energy(EnergyInput(x, cond=alpha.flip(0)))
    assert other.min() > 1e-2


def test_identity_energy_is_zero_for_identical_pairs() -> None:
    emb = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 5))
    x = torch.randn(3, 3, 2, 2)
    energy = IdentityEnergy(emb)
    assert energy(EnergyInput(x, x_ref=x)).abs().max() < 1e-6
    assert energy(EnergyInput(x, x_ref=torch.randn(3, 3, 2, 2))).min() > 0
    with pytest.raises(ValueError, match="needs x_ref"):
        energy(EnergyInput(x))


@pytest.mark.parametrize("policy", list(POLICIES))
def test_each_augmentation_is_differentiable_and_random_per_copy(policy) -> None:
    x = torch.rand(1, 3, 16, 16).mul(2).sub(1).repeat(6, 1, 1, 1).requires_grad_(True)
    y = diff_augment(x, policy, torch.Generator().manual_seed(0))
    assert y.shape == x.shape
    assert len({tuple(v.flatten()[:64].tolist()) for v in y.detach()}) > 1  # copies differ
    y.sum().backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    y2 = diff_augment(x, policy, torch.Generator().manual_seed(0))
    assert torch.equal(y, y2)


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory):
    from promptgen.models.clip import load_open_clip

    cfg = {
        "embed_dim": 16,
        "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "patch_size": 8, "head_width": 16},
        "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1},
    }
    path = tmp_path_factory.mktemp("clip") / "test-tiny-clip.json"
    path.write_text(json.dumps(cfg))
    torch.manual_seed(0)
    return load_open_clip(model="test-tiny-clip", model_config=str(path))


def test_clip_energy_averages_augmented_copies(tiny_clip) -> None:
    x = torch.rand(3, 3, 20, 20).mul(2).sub(1).requires_grad_(True)
    energy = CLIPEnergy(tiny_clip, "a photo of a person without makeup", n_aug=5)
    gen = torch.Generator().manual_seed(1)
    e = energy(EnergyInput(x, generator=gen))
    assert e.shape == (3,) and ((e >= 0) & (e <= 2)).all()
    e.sum().backward()
    assert x.grad.abs().sum() > 0
    plain = CLIPEnergy(tiny_clip, "a photo of a person without makeup", n_aug=0)(EnergyInput(x.detach()))
    expected = (
        1
        - tiny_clip.encode_image(x.detach())
        @ tiny_clip.encode_text(["a photo of a person without makeup"])[0]
    )
    assert torch.allclose(plain, expected, atol=1e-6)
    again = energy(EnergyInput(x.detach(), generator=torch.Generator().manual_seed(1)))
    assert torch.allclose(again, e.detach())


def test_energy_sum_names_non_finite_terms() -> None:
    class Bad(torch.nn.Module):
        needs = frozenset()

        def forward(self, inp):
            return torch.full((inp.x.shape[0],), float("inf"))

    s = EnergySum({"ok": (1.0, IdentityEnergy(torch.nn.Flatten())), "broken": (3.0, Bad())})
    x = torch.randn(2, 1, 2, 2)
    with pytest.raises(NonFiniteEnergyError, match="'broken'"):
        s(EnergyInput(x, x_ref=x))


def test_build_energy_sum_from_spec_and_errors() -> None:
    spec = {
        "target": {
            "kind": "quadratic",
            "weight": 2.0,
            "mean": [0.0, 1.0],
            "precision": [[1.0, 0.0], [0.0, 1.0]],
        }
    }
    s = build_energy_sum(spec)
    x = torch.tensor([[0.0, 1.0], [1.0, 1.0]]).view(2, 2, 1, 1)
    assert torch.allclose(s(EnergyInput(x)), torch.tensor([0.0, 1.0]))
    with pytest.raises(ConfigError, match=r"energies.target.weight: missing"):
        build_energy_sum({"target": {"kind": "quadratic", "mean": [0.0], "precision": [[1.0]]}})
    with pytest.raises(ConfigError, match=r"energies.t.kind: unknown energy kind 'nope'"):
        build_energy_sum({"t": {"kind": "nope", "weight": 1}})
    with pytest.raises(ConfigError, match=r"energies.t: bad keys"):
        build_energy_sum(
            {"t": {"kind": "quadratic", "weight": 1, "mean": [0.0], "precision": [[1.0]], "oops": 1}}
        )
