import numpy as np
import torch

from eval.debias import (
    binary_labels,
    direction_latents,
    kl_columns,
    promptgen_latents,
    resample_latents,
    unmodified_latents,
)
from promptgen.conditions import DiscreteCondition
from promptgen.flows import INN
from promptgen.generators import IdentityGenerator


class Linear(torch.nn.Module):
    """Heads a, b: logits 6·(z_0 − 0.8), 6·(z_1 + 0.3) — a biased world (a ≈ 21 %, b ≈ 62 %)."""

    def forward(self, x):
        z = x.flatten(1)
        return {"a": 6 * (z[:, 0] - 0.8), "b": 6 * (z[:, 1] + 0.3)}


COLUMNS = {"a": ("a",), "b": ("b",), "ab": ("a", "b")}


def test_kl_columns_show_bias_and_baselines_remove_it() -> None:
    gen, clf, heads = IdentityGenerator(3), Linear(), ["a", "b"]
    combos = DiscreteCondition.binary(2).values
    z0 = unmodified_latents(3, 8000, seed=0)
    base = kl_columns(binary_labels(gen, z0, clf, heads), COLUMNS)
    assert base["a"] > 0.1 and base["ab"] > base["b"] > 0.0
    z_dir = direction_latents(z0, binary_labels(gen, z0, clf, heads), heads, combos, 2000, seed=1)
    assert max(kl_columns(binary_labels(gen, z_dir, clf, heads), COLUMNS).values()) < 5e-3
    z_res = resample_latents(gen, clf, heads, combos, 2000, weight=5.0, pool=40000, seed=2)
    assert max(kl_columns(binary_labels(gen, z_res, clf, heads), COLUMNS).values()) < 5e-3


def test_promptgen_latents_follow_the_condition_order() -> None:
    inn = INN(3, cond_dim=2, blocks=1, hidden=4)
    combos = DiscreteCondition.binary(2).values
    z = promptgen_latents(inn, combos, per_combo=5, seed=0, batch_size=3)
    assert z.shape == (20, 3)
    again = promptgen_latents(inn, combos, per_combo=5, seed=0, batch_size=20)
    assert torch.allclose(z, again, atol=1e-6)
    assert np.isfinite(z.numpy()).all()
