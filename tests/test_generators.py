import pytest
import torch

from promptgen.generators import GENERATORS, build_generator, load_builtin_generators
from promptgen.registry import ConfigError


def test_python_kind_builds_a_user_generator_with_explicit_psi() -> None:
    entry = {
        "kind": "python",
        "python": "tests.plugins.user_generator:make_generator",
        "kwargs": {"latent_dim": 5},
    }
    g1 = build_generator(entry, psi=1.0)
    g07 = build_generator(entry, psi=0.7)
    assert (g1.latent_dim, g1.resolution, g07.psi) == (5, 8, 0.7)
    z = torch.randn(2, 5)
    assert not torch.allclose(g1(z), g07(z))
    assert not any(p.requires_grad for p in g1.parameters())


@pytest.mark.parametrize(
    "entry,message",
    [
        ({"latent_dim": 3}, "generator: missing key 'kind'"),
        ({"kind": "nope"}, "generator.kind: unknown generator kind 'nope'"),
        ({"kind": "python", "python": "no_colon"}, "generator.python: expected 'package.module:factory'"),
        ({"kind": "python", "python": "tests.plugins.user_generator:missing"}, "has no attribute 'missing'"),
        ({"kind": "python", "python": "x:y", "kwarg": {}}, "unknown keys \\['kwarg'\\]"),
        ({"kind": "identity", "latent_dim": 3, "colour": 1}, "bad keys for generator kind 'identity'"),
    ],
)
def test_bad_generator_entries_fail_with_a_named_key(entry, message) -> None:
    with pytest.raises(ConfigError, match=message):
        build_generator(entry)


def test_psi_must_be_in_unit_interval() -> None:
    with pytest.raises(ConfigError, match="psi"):
        build_generator({"kind": "identity", "latent_dim": 2}, psi=1.5)


def test_registry_lists_builtin_kinds() -> None:
    load_builtin_generators()
    assert {"identity", "promptgen", "python"} <= set(GENERATORS.kinds)
