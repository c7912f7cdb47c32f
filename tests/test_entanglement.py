"""The Table-2 entanglement sweep: derived generator entries, the sweep table, and the target end to end."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from eval.entanglement import derived_generators, entanglement_table
from promptgen.registry import ConfigError

ROOT = Path(__file__).resolve().parents[1]
RENDER = {"generator": {"kind": "synth-render", "seed": 0, "curvature": 0.5}, "psi_eval": 1.0}
USER = {"generator": {"kind": "python", "python": "m:f", "kwargs": {"seed": 1}}}


def _snakemake(*args: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "snakemake", *args]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)


def test_derived_entries_replace_one_argument_and_reuse_the_base_name():
    sweep = {"generator": "render", "argument": "curvature", "values": [0.0, 0.5, 1.0]}
    out = derived_generators({"render": RENDER}, sweep)
    assert [name for name, _ in out.values()] == ["render-curvature0", "render", "render-curvature1"]
    assert out[1.0][1]["generator"] == {"kind": "synth-render", "seed": 0, "curvature": 1.0}
    assert out[1.0][1]["psi_eval"] == 1.0 and RENDER["generator"]["curvature"] == 0.5
    user = derived_generators({"user": USER}, {"generator": "user", "argument": "seed", "values": [2]})
    assert user[2] == ("user-seed2", {"generator": {**USER["generator"], "kwargs": {"seed": 2}}})


def test_bad_sweep_is_a_config_error():
    with pytest.raises(ConfigError, match="entanglement.generator"):
        derived_generators({"render": RENDER}, {"generator": "vae", "argument": "curvature", "values": [0]})
    with pytest.raises(ConfigError, match="entanglement.values"):
        derived_generators({"render": RENDER}, {"generator": "render", "argument": "curvature", "values": []})


def _rows(gen: str, method: str, seed: int, kls: tuple[float, float], judge: str = "oracle") -> dict:
    return {
        "generator": gen,
        "method": method,
        "seed": seed,
        "judge": judge,
        "N": 100,
        "kl_a": kls[0],
        "kl_b": kls[1],
    }


def test_table_takes_the_worst_column_of_the_seed_means():
    frame = pd.DataFrame(
        [
            _rows("g0", "direction", 0, (0.1, 0.0)),
            _rows("g0", "direction", 1, (0.1, 0.4)),  # means: a 0.1, b 0.2 -> b
            _rows("g0", "direction", 0, (9.0, 9.0), judge="control_classifier"),  # other judge: ignored
            _rows("g1", "direction", 0, (0.3, 0.2)),
            _rows("other", "direction", 0, (5.0, 5.0)),  # not a setting: ignored
        ]
    )
    table = entanglement_table([frame], {"g1": 1.0, "g0": 0.0}, "curvature", "oracle")
    assert table["curvature"].tolist() == [0.0, 1.0]
    assert table["worst_column"].tolist() == ["b", "a"]
    assert table["max_kl"].tolist() == pytest.approx([0.2, 0.3])
    assert table["max_kl_std"].iloc[0] == pytest.approx(pd.Series([0.0, 0.4]).std())
    assert table["seeds"].tolist() == [2, 1]
    with pytest.raises(ValueError, match="entanglement.judge"):
        entanglement_table([frame], {"g0": 0.0}, "curvature", "eval_classifier")


def test_default_config_sweeps_zero_the_default_and_twice_it():
    cfg = yaml.safe_load((ROOT / "config/config.yaml").read_text())
    sweep = cfg["entanglement"]
    default = cfg["generators"][sweep["generator"]]["generator"][sweep["argument"]]
    assert default > 0 and {0.0, default, 2 * default} <= set(sweep["values"])
    assert sweep["judge"] == "oracle"


def test_dry_run_plans_the_sweep_on_the_default_config(tmp_path):
    res = _snakemake(
        f"{tmp_path}/table2_entanglement.csv", "-n", "--cores", "8", "--config", f"results={tmp_path}"
    )
    assert res.returncode == 0, res.stdout + res.stderr
    for name in ("render-curvature0", "render-curvature1.1", "render/"):
        assert f"{tmp_path}/table2/{name}" in res.stdout, name


@pytest.mark.slow  # about a minute on an idle 2-core machine: two tiny Table 2s
def test_tiny_sweep_end_to_end(tmp_path):
    """The tiny user generator has no curvature: the sweep varies its `seed` and is judged by a classifier."""
    cfg = yaml.safe_load((ROOT / "tests/configs/tiny.yaml").read_text())
    cfg["entanglement"] = {
        "generator": "user",
        "argument": "seed",
        "values": [1, 2],
        "judge": "control_classifier",
    }
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(cfg))
    args = ["--cores", "2", "--configfile", str(path), "--config", f"results={tmp_path}"]
    res = _snakemake(f"{tmp_path}/table2_entanglement.csv", *args)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    table = pd.read_csv(tmp_path / "table2_entanglement.csv")
    assert table["seed"].tolist() == [1] * 4 + [2] * 4
    assert set(table["generator"]) == {"user", "user-seed2"}
    assert set(table["method"]) == {"unmodified", "direction", "resample", "promptgen"}
    assert (table["max_kl"] >= 0).all() and (table["judge"] == "control_classifier").all()
    assert (tmp_path / "plots" / "table2_entanglement.png").stat().st_size > 0
    again = _snakemake(f"{tmp_path}/table2_entanglement.csv", "-n", *args)
    assert again.returncode == 0 and "Nothing to be done" in again.stdout + again.stderr
