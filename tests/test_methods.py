"""The Table-2 method registry: built-in methods remove a bias under the paper's protocol, user entries build
from config, needs are checked against what a generator provides."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from eval.debias import column_requests, labels_from_log_probs, request_stats
from promptgen.checkpoint import save_inn
from promptgen.energies.classifier import class_log_probs
from promptgen.flows import INN
from promptgen.generators import IdentityGenerator
from promptgen.methods import (
    MethodContext,
    PriorPool,
    PromptGen,
    build_method,
    check_needs,
    class_scale,
    generator_provides,
)
from promptgen.registry import ConfigError
from promptgen.sample import per_sample_normal


class Linear(torch.nn.Module):
    """Heads a, b: logits 6·(z_0 − 0.8), 6·(z_1 + 0.3) — a biased world (a ≈ 21 %, b ≈ 62 %)."""

    def forward(self, x):
        z = x.flatten(1)
        return {"a": 6 * (z[:, 0] - 0.8), "b": 6 * (z[:, 1] + 0.3)}


def _context(tmp_path: Path, pool_size: int = 40000, weight: float = 5.0) -> MethodContext:
    gen, clf = IdentityGenerator(3), Linear()
    z = per_sample_normal(0, range(pool_size), 3)
    logits = clf(gen(z))
    pool = PriorPool(z=z, control={h: class_log_probs(v) for h, v in logits.items()})
    return MethodContext(
        generator=gen,
        control=clf,
        attributes=["a", "b"],
        weight=weight,
        groups=[(0,), (1,), (0, 1)],
        gen_cfg={"generator": {"kind": "identity", "latent_dim": 3}, "psi_train": 1.0},
        section={"inn": {"blocks": 1, "hidden": 4}, "train": {"steps": 1}},
        control_entry={},
        device="cpu",
        seed=0,
        state_dir=tmp_path,
        pool=pool,
    )


def _column_kl(ctx: MethodContext, method, group, per: int) -> tuple[float, float]:
    requests = column_requests(2, group, per)
    draws = method.sample(ctx, requests, 1)
    z = ctx.pool.z[draws.pool_index] if draws.pool_index is not None else draws.z
    logps = {h: class_log_probs(v) for h, v in ctx.control(ctx.generator(z)).items()}
    kl, acc, _ = request_stats(labels_from_log_probs(logps), requests, ctx.attributes, group)
    return kl, acc


@pytest.mark.parametrize("group", [(0,), (1,), (0, 1)])
def test_baselines_remove_the_bias_of_each_column(tmp_path: Path, group) -> None:
    ctx = _context(tmp_path)
    prior, _ = _column_kl(ctx, build_method({"kind": "unmodified"}, "m"), group, 2000)
    assert prior > 0.02
    for entry in ({"kind": "direction", "fit_samples": 4000}, {"kind": "resample"}):
        kl, acc = _column_kl(ctx, build_method(entry, "m"), group, 2000)
        assert kl < 5e-3 and acc > 0.95, (entry, kl, acc)


def test_direction_leaves_free_attributes_alone(tmp_path: Path) -> None:
    """A gender-like column moves only along its own boundary: the free attribute keeps its prior share."""
    ctx = _context(tmp_path)
    method = build_method({"kind": "direction", "fit_samples": 4000}, "m")
    draws = method.sample(ctx, column_requests(2, (0,), 2000), 1)
    free_before = (ctx.pool.z[:4000, 1] > -0.3).float().mean()
    free_after = (draws.z[:, 1] > -0.3).float().mean()
    assert abs(float(free_after - free_before)) < 0.02


def test_resample_reports_the_effective_sample_size_per_combination(tmp_path: Path) -> None:
    ctx = _context(tmp_path)
    draws = build_method({"kind": "resample"}, "m").sample(ctx, column_requests(2, (0, 1), 100), 1)
    assert set(draws.stats) == {"a=0,b=0", "a=0,b=1", "a=1,b=0", "a=1,b=1"}
    ess = {k: v["ess"] for k, v in draws.stats.items()}
    assert all(0 < e <= 40000 for e in ess.values())
    assert ess["a=1,b=0"] < ess["a=0,b=1"]  # the rarest combination has the fewest effective samples


def test_promptgen_samples_answer_requests_in_order(tmp_path: Path) -> None:
    ctx = _context(tmp_path)
    inn = INN(3, cond_dim=4, blocks=1, hidden=4)
    save_inn(inn, tmp_path / "inn.pt", {})
    requests = column_requests(2, (0, 1), 5)
    z = PromptGen().sample(ctx, requests, 0).z
    assert z.shape == (20, 3) and np.isfinite(z.numpy()).all()
    again = PromptGen().sample(ctx, requests[10:], 0).z  # a different request set: its own ε draws
    assert again.shape == (10, 3)
    spec = PromptGen().spec(ctx)
    assert spec["condition"] == {"kind": "partial", "k": 2, "groups": [[0], [1], [0, 1]]}
    assert spec["energies"]["classifier"]["kind"] == "partial-classifier"


def test_promptgen_spec_carries_class_and_group_weights(tmp_path: Path) -> None:
    ctx = _context(tmp_path, pool_size=10, weight=40.0)
    ctx.section = {**ctx.section, "class_weights": {"a=1": 120, "a=0,b=1": 20}}
    ctx.group_weights = [1.0, 1.0, 2.0]
    spec = PromptGen().spec(ctx)
    energy = spec["energies"]["classifier"]
    assert energy["weight"] == 40.0 and energy["class_scale"] == {"a=1": 3.0, "a=0,b=1": 0.5}
    assert spec["condition"]["group_weights"] == [1.0, 1.0, 2.0]
    assert "class_scale" not in PromptGen().spec(_context(tmp_path))["energies"]["classifier"]
    assert class_scale({"b=0": 10}, ["a", "b"], 5.0) == {"b=0": 2.0}
    with pytest.raises(ConfigError, match=r"^table2.class_weights: 'c=1' is not a combination"):
        class_scale({"c=1": 10}, ["a", "b"], 5.0)
    with pytest.raises(ConfigError, match=r"^table2.class_weights\['a=1'\]: expected a λ > 0, got -3$"):
        class_scale({"a=1": -3}, ["a", "b"], 5.0)


def test_a_user_method_builds_from_config_alone() -> None:
    method = build_method(
        {"kind": "python", "python": "tests.plugins.methods:make_broken"}, "table2.methods.x"
    )
    assert type(method).__name__ == "Broken" and not method.trains
    with pytest.raises(ConfigError, match=r"^table2.methods.x.kind: unknown method kind 'fairstile'"):
        build_method({"kind": "fairstile"}, "table2.methods.x")


def test_needs_are_checked_against_what_a_generator_provides() -> None:
    style = build_method({"kind": "python", "python": "tests.plugins.methods:make_style_method"}, "m")
    render = {"generator": {"kind": "identity", "latent_dim": 2}}
    assert generator_provides(render) == frozenset()
    with pytest.raises(ConfigError) as err:
        check_needs("styler", style, "render", generator_provides(render))
    assert str(err.value) == (
        "table2.methods.styler needs style_space, which generators.render does not provide "
        "(provides: nothing)"
    )
    check_needs("styler", style, "sg2", frozenset({"style_space", "w_space"}))  # provided: no error
    check_needs("direction", build_method({"kind": "direction"}, "m"), "render", frozenset())  # pool only
