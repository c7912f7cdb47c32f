import pytest

from eval.specs import control_spec, generator_section
from promptgen.registry import ConfigError

T5 = {
    "generators": ["render", "vae"],
    "inn": {"blocks": 2},
    "train": {"steps": 10, "batch_size": 32, "lr": 0.003},
    "generator_train": {"vae": {"batch_size": 64, "estimator": "stl"}},
}


def test_generator_train_replaces_only_the_named_generators_keys() -> None:
    vae = generator_section(T5, "vae", "table5")
    assert vae["train"] == {"steps": 10, "batch_size": 64, "lr": 0.003, "estimator": "stl"}
    assert generator_section(T5, "render", "table5")["train"] == T5["train"]
    assert T5["train"]["batch_size"] == 32  # the config itself is not modified
    # a rule's params are this generator's settings only: another generator's override does not change them
    assert "generator_train" not in vae and generator_section(T5, "render", "table5") == {
        k: v for k, v in T5.items() if k != "generator_train"
    }
    gen_cfg = {"generator": {"kind": "identity", "latent_dim": 4}, "psi_train": 1.0}
    spec = control_spec(gen_cfg, vae, {}, "cpu", seed=3)
    assert spec["train"] == {**vae["train"], "seed": 3}


def test_a_misspelt_generator_name_is_named() -> None:
    bad = {**T5, "generator_train": {"vea": {"batch_size": 64}}}
    with pytest.raises(ConfigError, match=r"table5.generator_train: \['vea'\] not in table5.generators"):
        generator_section(bad, "vae", "table5")


def test_a_generators_own_lambda_replaces_the_sections() -> None:
    t2 = {
        "generators": ["render", "vae"],
        "weight": 10,
        "class_weights": {"eyeglasses=1": 30},
        "train": {"steps": 10},
        "generator_train": {"vae": {"steps": 5, "weight": 20, "class_weights": {}}},
    }
    vae = generator_section(t2, "vae", "table2")
    assert vae["weight"] == 20 and vae["class_weights"] == {} and vae["train"] == {"steps": 5}
    render = generator_section(t2, "render", "table2")
    assert render["weight"] == 10 and render["class_weights"] == {"eyeglasses=1": 30}
    assert render["train"] == {"steps": 10}
