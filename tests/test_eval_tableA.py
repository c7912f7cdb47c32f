import math

import pytest

from eval.tableA import run_target


def test_kl_uses_the_exact_log_z_and_reports_the_estimated_one_beside(tmp_path) -> None:
    energy = {"kind": "gaussian-mixture", "weight": 1.0, "means": [[-1.5, 0.0], [1.5, 0.0]], "sigma": 0.6}
    spec = {
        "generator": {"kind": "identity", "latent_dim": 2},
        "device": "cpu",
        "inn": {"blocks": 2, "hidden": 16, "seed": 0},
        "energies": {"target": energy},
        "train": {"steps": 20, "batch_size": 64, "lr": 0.003, "seed": 0},
    }
    row = run_target("t", spec, tmp_path, kl_samples=4096).iloc[0]
    assert row["kl_log_z"] == "exact"
    assert math.isfinite(row["log_z_exact"])
    # Same Monte-Carlo term, so the two KLs differ exactly by the two log Z values.
    assert row["kl"] - row["kl_est_log_z"] == pytest.approx(row["log_z_exact"] - row["log_z"], abs=1e-9)
    assert row["kl"] >= -4 * row["kl_mc_stderr"]
