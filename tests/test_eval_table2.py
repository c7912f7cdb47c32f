"""Table 2's evaluation: the pooled rows equal judging each method's own samples, the columns follow the
paper's protocol, accuracy and KL are computed per request, and one failing method does not sink
the others."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import snakemake.utils
import torch
import yaml

from eval.debias import column_requests, labels_from_log_probs, request_stats
from eval.specs import generator_section
from eval.table2 import (
    _Setup,
    aggregate_table2,
    evaluate_method,
    judge_pool,
    table2_group_weights,
    table2_groups,
)
from promptgen.conditions import DiscreteCondition, encode_partial, partial_targets
from promptgen.energies.base import EnergyInput
from promptgen.energies.classifier import PartialClassifierEnergy
from promptgen.registry import ConfigError
from promptgen.sample import per_sample_normal

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def tiny() -> dict:
    cfg = yaml.safe_load((ROOT / "tests/configs/tiny.yaml").read_text())
    snakemake.utils.validate(cfg, str(ROOT / "workflow/schemas/config.schema.yaml"))
    return cfg


@pytest.fixture(scope="module")
def pool(tiny: dict, tmp_path_factory) -> Path:
    t2 = generator_section(tiny["table2"], "", "table2")
    path = tmp_path_factory.mktemp("t2") / "pool.pt"
    return judge_pool("user", tiny["generators"]["user"], t2, tiny["models"], path, device="cpu", seed=3)


def _evaluate(tiny: dict, pool: Path, method: str, tmp_path: Path, t2: dict | None = None):
    t2 = t2 or generator_section(tiny["table2"], "", "table2")
    gen = tiny["generators"]["user"]
    return evaluate_method(
        "user", gen, t2, tiny["models"], method, pool_path=pool, state_dir=tmp_path, device="cpu", seed=3
    )


def test_pooled_rows_equal_each_method_judged_on_its_own(tiny: dict, pool: Path, tmp_path: Path) -> None:
    t2 = generator_section(tiny["table2"], "", "table2")
    setup = _Setup("user", tiny["generators"]["user"], t2, tiny["models"], "cpu")
    z_pool = per_sample_normal(3, range(int(t2["pool"])), setup.generator.latent_dim)
    k = len(setup.attrs)
    for method in ("unmodified", "resample"):
        rows, combos = _evaluate(tiny, pool, method, tmp_path)
        rows = rows.set_index("judge")
        for col, group in {"gender": (0,), "age_gender": (3, 0)}.items():
            requests = column_requests(k, group, setup.per)
            if method == "unmodified":
                z = z_pool[: len(requests)]
            else:  # the same draws, from the same seeded generator, as the method makes
                ctx = setup.context(3, tmp_path, _pool_of(pool))
                z = z_pool[setup.method(method).sample(ctx, requests, 3).pool_index]
            for judge, labels in setup.judge(z).items():
                kl, acc, _ = request_stats(labels, requests, setup.attrs, group)
                assert rows.loc[judge, f"kl_{col}"] == pytest.approx(kl, abs=1e-12), (method, judge, col)
                assert rows.loc[judge, f"N_{col}"] == len(requests)
                if method == "resample":
                    assert rows.loc[judge, f"acc_{col}"] == pytest.approx(acc, abs=1e-12)
                else:  # prior samples ignore the request: no accuracy
                    assert math.isnan(rows.loc[judge, f"acc_{col}"])
    # the resampling reference reports an effective sample size per combination, within (0, pool]
    ess = combos["ess"].to_numpy()
    assert np.isfinite(ess).all() and (ess > 0).all() and (ess <= int(t2["pool"])).all()
    assert set(combos[combos["column"] == "age_gender"]["combination"]) == {
        "male=0,young=0",
        "male=1,young=0",
        "male=0,young=1",
        "male=1,young=1",
    }


def _pool_of(path: Path):
    from eval.table2 import _load_pool

    return _load_pool(path)[0]


def test_columns_leave_the_other_attributes_free() -> None:
    req = column_requests(4, (3, 0), 2)
    assert req.tolist() == [
        [0, -1, -1, 0],
        [0, -1, -1, 0],
        [1, -1, -1, 0],
        [1, -1, -1, 0],
        [0, -1, -1, 1],
        [0, -1, -1, 1],
        [1, -1, -1, 1],
        [1, -1, -1, 1],
    ]


def test_request_stats_see_balanced_misclassification() -> None:
    """Half the samples requested male are judged female and vice versa: KL is 0, accuracy 0.5."""
    requests = column_requests(1, (0,), 4)
    labels = {"male": np.array([1, 1, 0, 0, 0, 0, 1, 1])}
    kl, acc, per = request_stats(labels, requests, ["male"], (0,))
    assert kl == 0.0 and acc == 0.5
    assert per == {"male=0": {"n": 4, "accuracy": 0.5}, "male=1": {"n": 4, "accuracy": 0.5}}


def test_authors_threshold_is_the_raw_logit_at_half() -> None:
    logit = torch.tensor([0.0, 0.3, 0.49, 0.51, 2.0])
    logp = torch.stack([torch.nn.functional.logsigmoid(-logit), torch.nn.functional.logsigmoid(logit)], 1)
    assert labels_from_log_probs({"a": logp})["a"].tolist() == [1, 1, 1, 1, 1]
    assert labels_from_log_probs({"a": logp}, "authors")["a"].tolist() == [0, 0, 0, 1, 1]
    with pytest.raises(ConfigError, match="table2.label_threshold"):
        labels_from_log_probs({"a": logp}, "logit")


def test_partial_energy_ignores_free_attributes() -> None:
    class Fixed(torch.nn.Module):
        def forward(self, x):
            return {"a": x[:, 0], "b": x[:, 1]}

    x = torch.tensor([[1.0, -2.0], [0.5, 3.0], [-1.0, 0.0]])
    targets = torch.tensor([[1.0, -1.0], [-1.0, 0.0], [0.0, 1.0]])
    energy = PartialClassifierEnergy(Fixed(), ["a", "b"])(EnergyInput(x=x, cond=encode_partial(targets)))
    sp = torch.nn.functional.softplus
    expected = torch.stack([sp(-x[0, 0]), sp(x[1, 1]), sp(x[2, 0]) + sp(-x[2, 1])])
    torch.testing.assert_close(energy, expected)


def test_partial_condition_draws_each_group_equally() -> None:
    cond = DiscreteCondition.partial(4, [[0], [3, 0], [0, 1, 2, 3]])
    draws = cond.sample(30000, torch.Generator().manual_seed(0))
    specified = (draws[:, :4] + draws[:, 4:]).sum(1)  # attributes specified per draw: 1, 2 or 4
    shares = [(specified == s).float().mean().item() for s in (1, 2, 4)]
    assert shares == pytest.approx([1 / 3] * 3, abs=0.015)
    assert encode_partial(partial_targets(4, [2], 1)).tolist() == [
        [0, 0, 0, 0, 0, 0, 1, 0],
        [0, 0, 1, 0] + [0] * 4,
    ]


def test_partial_energy_scales_exactly_the_named_classes() -> None:
    class Fixed(torch.nn.Module):
        def forward(self, x):
            return {"a": x[:, 0], "b": x[:, 1]}

    x = torch.tensor([[1.0, -2.0], [0.5, 3.0], [-1.0, 0.0], [2.0, 1.0]])
    targets = torch.tensor([[1.0, -1.0], [1.0, 1.0], [0.0, 1.0], [-1.0, 1.0]])
    cond = encode_partial(targets)
    plain = PartialClassifierEnergy(Fixed(), ["a", "b"])(EnergyInput(x=x, cond=cond))
    scale = {"a=1": 3.0, "b=1, a=1": 0.5}  # order and spaces inside a key do not matter
    scaled = PartialClassifierEnergy(Fixed(), ["a", "b"], scale)(EnergyInput(x=x, cond=cond))
    # a=1 alone is the first request only: a=1,b=1 has its own factor, a=0,b=1 and b=1 alone have none
    torch.testing.assert_close(scaled / plain, torch.tensor([3.0, 0.5, 1.0, 1.0]))


@pytest.mark.parametrize(
    ("scale", "message"),
    [
        ({"c=1": 2.0}, r"^class_scale: 'c=1' is not a combination 'attribute=0\|1,...' over \['a', 'b'\]$"),
        ({"a=2": 2.0}, r"^class_scale: 'a=2' is not a combination"),
        ({"a=1,a=0": 2.0}, r"^class_scale: 'a=1,a=0' names 'a' twice$"),
        ({"a=1": 0}, r"^class_scale\['a=1'\]: expected a number > 0, got 0$"),
        ({"a=1": 1.0, " a = 1": 2.0}, r"^class_scale\[' a = 1'\]: the same class is given twice$"),
    ],
)
def test_a_bad_class_scale_is_one_line_naming_it(scale: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        PartialClassifierEnergy(torch.nn.Identity(), ["a", "b"], scale)


def test_group_weights_set_how_often_each_group_is_drawn() -> None:
    cond = DiscreteCondition.partial(4, [[0], [3, 0], [0, 1, 2, 3]], group_weights=[1, 2, 1])
    draws = cond.sample(40000, torch.Generator().manual_seed(0))
    specified = (draws[:, :4] + draws[:, 4:]).sum(1)
    shares = [(specified == s).float().mean().item() for s in (1, 2, 4)]
    assert shares == pytest.approx([0.25, 0.5, 0.25], abs=0.015)
    pairs = draws[specified == 2]  # within a group, every combination equally often
    assert [(pairs[:, 3] == a).float().mean().item() for a in (0, 1)] == pytest.approx([0.5, 0.5], abs=0.02)
    for bad, message in (([1, 2], "expected 3 numbers >= 0"), ([0, 0, 0], "at least one group")):
        with pytest.raises(ConfigError, match=f"^condition.group_weights: {message}"):
            DiscreteCondition.partial(4, [[0], [3, 0], [0, 1, 2, 3]], group_weights=bad)


def test_table2_group_weights_follow_the_columns(tiny: dict) -> None:
    t2 = generator_section(tiny["table2"], "", "table2")
    assert table2_group_weights(t2) is None  # default: every group equally often
    weights = table2_group_weights({**t2, "group_weights": {"age_eyeglasses": 3, "joint": 0.5}})
    names = ["gender", "eyeglasses", "blond", "age_gender", "age_eyeglasses", "gender_eyeglasses", "joint"]
    assert weights == [1, 1, 1, 1, 3, 1, 0.5] and len(table2_groups(t2["attributes"])) == len(names)
    with pytest.raises(
        ConfigError, match=r"^table2.group_weights: unknown groups \['age'\] \(groups: gender,"
    ):
        table2_group_weights({**t2, "group_weights": {"age": 2}})
    with pytest.raises(ConfigError, match=r"^table2.group_weights.joint: expected a number >= 0, got -1$"):
        table2_group_weights({**t2, "group_weights": {"joint": -1}})


def test_a_failing_method_gets_a_failed_row_with_its_reason(
    tiny: dict, pool: Path, tmp_path: Path, caplog
) -> None:
    t2 = generator_section(tiny["table2"], "", "table2")
    t2["methods"] = {
        **t2["methods"],
        "broken": {"kind": "python", "python": "tests.plugins.methods:make_broken"},
    }
    rows, combos = _evaluate(tiny, pool, "broken", tmp_path, t2)
    assert (rows["status"] == "failed").all() and combos.empty
    assert rows["reason"].str.contains("LinAlgError").all()
    assert "table2 method broken failed" in caplog.text
    ok, _ = _evaluate(tiny, pool, "unmodified", tmp_path, t2)
    table = aggregate_table2([rows, ok], literature=False)
    broken = table[table["method"] == "broken"]
    assert (broken["status"] == "failed").all() and broken["kl_gender"].isna().all()
    assert (table[table["method"] == "unmodified"]["status"] == "ok").all()


def test_a_missing_model_role_is_one_line(tiny: dict, pool: Path, tmp_path: Path) -> None:
    models = {k: v for k, v in tiny["models"].items() if k != "control_classifier"}
    t2 = generator_section(tiny["table2"], "", "table2")
    with pytest.raises(
        ConfigError, match=r"^table2.control_model: no model 'control_classifier' under models"
    ):
        evaluate_method(
            "user", tiny["generators"]["user"], t2, models, "unmodified", pool_path=pool, state_dir=tmp_path
        )
