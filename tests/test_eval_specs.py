import pytest

from eval.specs import control_spec, evaluation_section, generator_section, method_section
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


def test_the_evaluation_section_leaves_out_training_settings() -> None:
    """A changed training setting must not change the evaluation jobs' params (Snakemake re-runs a job whose
    params changed): the pools and the untrained methods' rows stay."""
    t2 = {"generators": ["render"], "weight": 40, "class_weights": {"eyeglasses=1": 120}, **T5}
    t2["generators"] = ["render", "vae"]
    keys = ("train", "inn", "class_weights")
    seen = evaluation_section(t2, "table2", keys)
    assert seen == {"generators": ["render", "vae"], "weight": 40}
    changed = {**t2, "train": {**t2["train"], "lr": 0.01}, "class_weights": {}}
    assert evaluation_section(changed, "table2", keys) == seen
    with pytest.raises(ConfigError, match="table2.generator_train"):
        evaluation_section({**t2, "generator_train": {"usr": {}}}, "table2", keys)


def test_a_method_section_holds_that_method_only() -> None:
    """Changing one method's entry or the generator's method list leaves every other method's jobs' params
    (and the pools') unchanged, and changes that method's."""
    t2 = {
        "weight": 40,
        "methods": {"fairstyle": {"kind": "fairstyle", "channels": 1}, "promptgen": {"kind": "promptgen"}},
        "generator_methods": {"stylegan2": ["fairstyle", "promptgen"]},
    }
    retuned = {
        **t2,
        "methods": {**t2["methods"], "fairstyle": {"kind": "fairstyle", "channels": 16}},
        "generator_methods": {"stylegan2": ["promptgen"]},
    }
    assert method_section(t2, "promptgen") == {"weight": 40, "methods": {"promptgen": {"kind": "promptgen"}}}
    assert method_section(retuned, "promptgen") == method_section(t2, "promptgen")
    assert method_section(retuned, None) == method_section(t2, None) == {"weight": 40}
    assert method_section(retuned, "fairstyle") != method_section(t2, "fairstyle")
