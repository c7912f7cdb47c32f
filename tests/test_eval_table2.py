"""Table 2's baselines from one judged pool: the rows that judging each method's own latents gives."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import snakemake.utils
import yaml

from eval.debias import (
    binary_labels,
    direction_latents,
    judge_labels,
    judge_log_probs,
    kl_columns,
    resample_indices,
)
from eval.specs import generator_section
from eval.table2 import BASELINES, _Setup, evaluate_baselines
from promptgen.sample import per_sample_normal

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def tiny() -> dict:
    cfg = yaml.safe_load((ROOT / "tests/configs/tiny.yaml").read_text())
    snakemake.utils.validate(cfg, str(ROOT / "workflow/schemas/config.schema.yaml"))
    return cfg


def test_pooled_baselines_equal_each_method_judged_on_its_own(tiny: dict) -> None:
    t2 = generator_section(tiny["table2"], "", "table2")
    gen_cfg, models, seed = tiny["generators"]["user"], tiny["models"], 3
    frames = evaluate_baselines("user", gen_cfg, t2, models, device="cpu", seed=seed)
    assert list(frames) == list(BASELINES)

    setup = _Setup("user", gen_cfg, t2, models, "cpu")
    g, attrs, n, fit = setup.generator, setup.attrs, setup.n, int(t2["direction"]["fit_samples"])
    pool = int(t2["resample"]["pool"])
    z_all = per_sample_normal(seed, range(max(pool, n + fit)), g.latent_dim)
    expected = {"unmodified": z_all[:n]}
    fit_labels = binary_labels(g, z_all[n : n + fit], setup.control, attrs)
    expected["direction"] = direction_latents(
        z_all[n : n + fit], fit_labels, attrs, setup.combos, setup.per, seed
    )
    logps = judge_log_probs(g, z_all[:pool], {"c": setup.control}, attrs)["c"]
    picked = resample_indices(logps, attrs, setup.combos, setup.per, weight=float(t2["weight"]), seed=seed)
    expected["resample"] = z_all[:pool][picked]

    for method, z in expected.items():
        judged = judge_labels(g, z, setup.judges, attrs)
        frame = frames[method].set_index("judge")
        assert set(frame.index) == set(judged) and (frame["N"] == n).all()
        for judge, labels in judged.items():
            for col, kl in kl_columns(labels).items():
                assert frame.loc[judge, f"kl_{col}"] == pytest.approx(kl, abs=1e-12), (method, judge, col)
    # the baselines differ from each other: the rows are not copies
    kls = [frames[m].filter(like="kl_").to_numpy() for m in BASELINES]
    assert not np.allclose(kls[0], kls[2])
