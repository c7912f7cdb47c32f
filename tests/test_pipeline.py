"""The Snakemake pipeline: dry runs of every target, a tiny end-to-end Table 2, config validation."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = [sys.executable, "-m", "snakemake"]
TARGETS = {
    "table2.csv": ["table2_pool", "table2_fit", "table2_method", "table2_grid"],
    "table2_joint.csv": ["table2_pool", "table2_fit", "table2_method"],
    "table3.csv": ["world_dataset", "table3_reference", "table3_train", "table3_eval"],
    "table4.csv": ["table4_train", "table4_eval"],
    "table5.csv": ["table5_fit", "table5_train", "table5_shares"],
    "figure8.csv": ["figure8_text", "figure8_fit", "figure8_debias", "figure8_calibrate", "figure8_shares"],
    "tableA.csv": ["tableA_target"],
    "summary.md": [
        "summary",
        "table2_fit",
        "table3_eval",
        "table4_eval",
        "table5_shares",
        "figure8_shares",
    ],
    "world/metrics.csv": ["world_dataset", "world_metrics"],
    "world/retrained/metrics.csv": [
        "world_dataset",
        "world_retrain_models",
        "world_retrain_clip_vae",
        "world_retrain",
    ],
}


def _snakemake(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([*SNAKEMAKE, *args], cwd=cwd, capture_output=True, text=True, check=False)


@pytest.mark.parametrize("target", TARGETS)
def test_dry_run_plans_every_target_on_the_default_config(tmp_path, target) -> None:
    res = _snakemake(f"{tmp_path}/{target}", "-n", "--cores", "8", "--config", f"results={tmp_path}")
    assert res.returncode == 0, res.stdout + res.stderr
    assert all(rule in res.stdout for rule in TARGETS[target])


def test_tiny_table_a_end_to_end(tmp_path) -> None:
    cfg = ["--configfile", "tests/configs/tiny.yaml", "--config", f"results={tmp_path}"]
    res = _snakemake(f"{tmp_path}/tableA.csv", "--cores", "2", *cfg)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    table = pd.read_csv(tmp_path / "tableA.csv")
    assert table["target"].tolist() == ["two_modes_d2"]
    assert table["kl"].iloc[0] >= 0 and abs(table["log_z"].iloc[0] - table["log_z_exact"].iloc[0]) < 0.5
    assert (tmp_path / "plots" / "tableA_kl.png").stat().st_size > 0


def _paper_weight_files() -> list[str]:
    """Every weight file config/paper.yaml names (checkpoints, pretrained paths, FID statistics)."""
    paper = yaml.safe_load((ROOT / "config/paper.yaml").read_text())
    entries = [*paper["models"].values(), *(g["generator"] for g in paper["generators"].values())]
    files = [e[k] for e in entries for k in ("checkpoint", "pretrained") if isinstance(e.get(k), str)]
    files += [p for e in entries for p in (e.get("checkpoints") or {}).values()]
    return [*files, paper["table3"]["reference_stats"]]


def _paper_args(tmp_path: Path) -> list[str]:
    return [
        "-s",
        str(ROOT / "Snakefile"),
        "--directory",
        str(tmp_path),
        "--configfile",
        str(ROOT / "config/paper.yaml"),
    ]


@pytest.mark.parametrize("target", TARGETS)
def test_paper_config_plans_every_target(tmp_path, target) -> None:
    """config/paper.yaml with placeholder files for every weight (they are rule inputs)."""
    for f in _paper_weight_files():
        (tmp_path / f).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / f).touch()
    res = _snakemake(f"results/{target}", "-n", "--cores", "8", *_paper_args(tmp_path))
    assert res.returncode == 0, res.stdout + res.stderr
    assert all(
        rule in res.stdout for rule in TARGETS[target] if rule not in ("world_dataset", "table3_reference")
    )


@pytest.mark.parametrize("target", ["table2.csv", "table3.csv", "table4.csv", "table5.csv", "figure8.csv"])
def test_paper_dry_run_names_every_missing_weight_at_once(tmp_path, target) -> None:
    files = _paper_weight_files()
    (tmp_path / files[0]).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / files[0]).touch()  # one present: it must not be listed
    res = _snakemake(f"results/{target}", "-n", "--cores", "8", *_paper_args(tmp_path))
    assert res.returncode != 0
    out = res.stdout + res.stderr
    (line,) = [ln for ln in out.splitlines() if "weight file(s) missing" in ln]
    absent = [f for f in files if f != files[0]]
    assert f"{len(set(absent))} weight file(s) missing" in line
    assert all(f in line for f in absent) and files[0] + "," not in line
    assert "promptgen download" in line


USER_METHOD = """
from promptgen.methods import DebiasMethod, Draws


class Mirror(DebiasMethod):
    needs = frozenset({"pool"})

    def sample(self, ctx, requests, seed):
        z = ctx.pool.z[: len(requests)]
        return Draws(z=-z)


def make_method():
    return Mirror()
"""


def test_tiny_table2_end_to_end_with_a_user_generator_and_user_methods(tmp_path) -> None:
    """The paper's protocol on the tiny config; a user's method from outside the repository and a method that
    raises, both added by config alone."""
    (tmp_path / "usermods").mkdir()
    (tmp_path / "usermods/my_debias.py").write_text(USER_METHOD)
    cfg = yaml.safe_load((ROOT / "tests/configs/tiny.yaml").read_text())
    cfg["table2"]["methods"]["mine"] = {"kind": "python", "python": "my_debias:make_method"}
    cfg["table2"]["methods"]["broken"] = {"kind": "python", "python": "tests.plugins.methods:make_broken"}
    config = tmp_path / "tiny_methods.yaml"
    config.write_text(yaml.safe_dump(cfg))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path / "usermods"), str(ROOT)])}
    res = subprocess.run(
        [*SNAKEMAKE, f"{tmp_path}/r/table2.csv", "--cores", "2", "--configfile", str(config)]
        + ["--config", f"results={tmp_path}/r"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    out = tmp_path / "r"
    table = pd.read_csv(out / "table2.csv")
    measured = table[table["source"] == "measured"].set_index(["method", "judge"])
    methods = {"unmodified", "direction", "resample", "promptgen", "mine", "broken"}
    assert set(measured.index.get_level_values("method")) == methods
    assert set(measured.index.get_level_values("judge")) == {"control_classifier", "eval_classifier"}
    assert (measured["label_threshold"] == "P>=0.5").all()
    # the failing method has its reason; every other row is written
    assert (measured.loc["broken", "status"] == "failed").all()
    assert measured.loc["broken", "reason"].str.contains("LinAlgError").all()
    ok = measured.drop(index="broken", level="method")
    assert (ok["status"] == "ok").all() and ok["kl_gender"].notna().all()
    assert (ok["N_gender"] == 2 * 100).all() and (ok["N_age_gender"] == 4 * 100).all()
    # PromptGen works: every column ≥ 10× below the unmodified generator's, by both classifiers
    kl = [c for c in table.columns if c.startswith("kl_") and not c.endswith("_std")]
    for judge in ("control_classifier", "eval_classifier"):
        ours, prior = measured.loc[("promptgen", judge), kl], measured.loc[("unmodified", judge), kl]
        assert (ours * 10 <= prior).all(), (judge, ours.to_dict(), prior.to_dict())
        assert (measured.loc[("promptgen", judge), [f"acc_{c[3:]}" for c in kl]] >= 0.75).all()
    combos = pd.read_csv(out / "table2_combinations.csv")
    assert combos[combos["method"] == "resample"]["ess"].gt(0).all()
    assert (out / "plots" / "table2_kl.png").stat().st_size > 0
    assert (out / "plots" / "table2_samples_user.png").stat().st_size > 0  # drawn with the table
    assert "mine" in _plotted_methods(table)
    # table2.generator_train.user.steps = 200 replaced train.steps = 30 for this generator's INN
    assert len(pd.read_csv(out / "table2/user/seed0/fit/promptgen/loss.csv")) == 200
    again = subprocess.run(
        [*SNAKEMAKE, f"{out}/table2.csv", "-n", "--cores", "2", "--configfile", str(config)]
        + ["--config", f"results={out}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    assert again.returncode == 0 and "Nothing to be done" in again.stdout + again.stderr


def _plotted_methods(table: pd.DataFrame) -> set[str]:
    """The legend labels of Table 2's plot as eval.plots draws it from ``table`` (figure or panel legends)."""
    import eval.plots

    figures = []
    original = eval.plots._save
    eval.plots._save = lambda fig, path: figures.append(fig) or Path(path)
    try:
        eval.plots.table2_bars(table, "unused.png")
    finally:
        eval.plots._save = original
    legends = [leg for fig in figures for leg in [*fig.legends, *(ax.get_legend() for ax in fig.axes)] if leg]
    return {t.get_text() for leg in legends for t in leg.get_texts()}


def test_a_style_space_method_on_a_generator_without_one_is_one_line(tmp_path) -> None:
    cfg = yaml.safe_load((ROOT / "tests/configs/tiny.yaml").read_text())
    cfg["table2"]["methods"]["styler"] = {
        "kind": "python",
        "python": "tests.plugins.methods:make_style_method",
    }
    path = tmp_path / "ok.yaml"
    path.write_text(yaml.safe_dump(cfg))
    res = _snakemake(
        f"{tmp_path}/table2.csv", "-n", "--configfile", str(path), "--config", f"results={tmp_path}"
    )
    assert res.returncode == 0, res.stdout[-2000:]  # without an entry, a generator runs the methods it can
    assert "/promptgen.csv" in res.stdout and "/styler.csv" not in res.stdout
    cfg["table2"]["generator_methods"] = {"user": ["unmodified", "styler"]}  # configured for it explicitly
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(cfg))
    res = _snakemake(
        f"{tmp_path}/table2.csv", "-n", "--configfile", str(path), "--config", f"results={tmp_path}"
    )
    assert res.returncode != 0
    line = (
        "table2.methods.styler needs style_space, which generators.user does not provide (provides: nothing)"
    )
    assert line in res.stdout + res.stderr


def test_bad_config_key_is_named(tmp_path) -> None:
    cfg = yaml.safe_load((ROOT / "tests/configs/tiny.yaml").read_text())
    cfg["table2"]["sample_per_combo"] = 3
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(cfg))
    res = _snakemake("-n", "--cores", "1", "--configfile", str(path), "--config", f"results={tmp_path}")
    assert res.returncode != 0
    assert "sample_per_combo" in res.stdout + res.stderr


def test_misspelt_table2_generator_train_name_is_named(tmp_path) -> None:
    cfg = yaml.safe_load((ROOT / "tests/configs/tiny.yaml").read_text())
    cfg["table2"]["generator_train"] = {"usr": {"steps": 5}}
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(cfg))
    res = _snakemake("-n", "--cores", "1", "--configfile", str(path), "--config", f"results={tmp_path}")
    assert res.returncode != 0
    assert "table2.generator_train: ['usr'] not in generators (defined: user)" in res.stdout + res.stderr


def test_lint_is_clean() -> None:
    res = _snakemake("--lint")
    assert res.returncode == 0 and "Congratulations" in res.stdout + res.stderr, res.stdout + res.stderr


def test_tiny_table5_end_to_end(tmp_path) -> None:
    cfg = ["--configfile", "tests/configs/tiny.yaml", "--config", f"results={tmp_path}"]
    res = _snakemake(f"{tmp_path}/table5.csv", "--cores", "2", *cfg)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    table = pd.read_csv(tmp_path / "table5.csv")
    assert table["method"].tolist() == ["unmodified", "lambda1"]
    shares = table[[f"share_{i}" for i in range(4)]].sum(axis=1)
    assert ((shares - 1).abs() < 1e-9).all() and (table["kl"] >= 0).all()
    assert (tmp_path / "table5/user/tone/beta.json").exists()
    assert (tmp_path / "plots" / "table5_shares.png").stat().st_size > 0


def test_tiny_figure8_iterative_control_end_to_end(tmp_path) -> None:
    cfg = ["--configfile", "tests/configs/tiny.yaml", "--config", f"results={tmp_path}"]
    res = _snakemake(f"{tmp_path}/figure8.csv", "--cores", "2", *cfg)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    table = pd.read_csv(tmp_path / "figure8.csv")
    assert table["iteration"].tolist() == [0, 1, 2, 2]
    assert table["method"].tolist()[2:] == ["iter2_debias", "iter2_calibrated"]
    assert ((table["share_0"] + table["share_1"] - 1).abs() < 1e-9).all()
    for run in ("iter2", "iter2_calibrated"):
        inn2 = torch.load(tmp_path / f"figure8/user/{run}/inn.pt", weights_only=True)
        assert inn2["metadata"]["generator"]["kind"] == "promptgen"  # iteration 2 controls G∘f1
        assert inn2["metadata"]["train"]["energy_gradient"] == "score"
    calibration = json.loads((tmp_path / "figure8/user/iter2_calibrated/calibration.json").read_text())
    assert [t["lambda"] for t in calibration["trials"]] == [1.0, 2.0]  # the configured start, 2 rounds
    best = min(calibration["trials"], key=lambda t: abs(t["gap"]))
    assert calibration["lambda"] == best["lambda"] == table["weight"].iloc[3]
    assert (tmp_path / "plots" / "figure8_shares.png").stat().st_size > 0


def test_tiny_table4_end_to_end(tmp_path) -> None:
    cfg = ["--configfile", "tests/configs/tiny.yaml", "--config", f"results={tmp_path}"]
    res = _snakemake(f"{tmp_path}/table4.csv", "--cores", "2", *cfg)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    table = pd.read_csv(tmp_path / "table4.csv")
    measured = table[table["source"] == "measured"].set_index("method")
    assert list(measured.index) == ["PromptGen", "PPGM (n=2)", "PPGM (n=3)", "generator"]
    assert (
        measured.loc["PPGM (n=3)", "clip_backprops"] == 3 and measured.loc["PromptGen", "clip_backprops"] == 0
    )
    assert (measured["seconds_per_sample"] > 0).all() and measured["clip_energy"].between(0, 2).all()
    ppgm = measured.loc[["PPGM (n=2)", "PPGM (n=3)"]]
    assert ppgm["ppgm_step_size"].isin([0.001, 0.003, 0.01, 0.03]).all()  # the schema's default sweep
    assert (ppgm["ppgm_tuning"].str.count(":") == 4).all()  # every η's tuning energy is reported
    assert (ppgm["break_even_samples"] > 0).all() and measured.loc["PromptGen", "train_seconds"] > 0
    assert (measured["psi"] == 1.0).all()
    assert (tmp_path / "plots" / "table4_energy_latency.png").exists()


def test_tiny_table3_end_to_end(tmp_path) -> None:
    pytest.importorskip("promptgen.world.dataset")  # the FID reference is the world's dataset
    cfg = ["--configfile", "tests/configs/tiny.yaml", "--config", f"results={tmp_path}"]
    res = _snakemake(f"{tmp_path}/table3.csv", "--cores", "2", *cfg)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    table = pd.read_csv(tmp_path / "table3.csv")
    measured = table[table["source"] == "measured"].set_index("method")
    assert list(measured.index) == ["unmodified", "PromptGen (pose + ID)"]
    assert (measured["fid"] >= 0).all()
    row = measured.loc["PromptGen (pose + ID)"]
    assert 0 <= row["dist_same_id"] <= 2 and 0 <= row["dist_diff_id"] <= 2
    ckpt = torch.load(tmp_path / "table3/user/inn.pt", weights_only=True)
    assert ckpt["inn_config"]["cond_dim"] == 2
    assert (tmp_path / "plots" / "table3_fid_identity.png").stat().st_size > 0


def test_a_replaced_generator_checkpoint_changes_the_job_params(tmp_path) -> None:
    """Jobs take `generator_entry(name)` as a param, so a checkpoint with new bytes re-runs them."""
    ckpt = tmp_path / "g.pt"
    config = {
        "results": str(tmp_path),
        "device": "cpu",
        "generators": {
            "vae": {"generator": {"kind": "world-vae", "checkpoint": str(ckpt)}, "psi_eval": 1.0},
            "render": {"generator": {"kind": "synth-render", "latent_dim": 64}, "psi_eval": 1.0},
        },
    }
    namespace = {"config": config}
    exec(compile((ROOT / "workflow/rules/common.smk").read_text(), "common.smk", "exec"), namespace)
    entry = namespace["generator_entry"]
    assert entry("render") == config["generators"]["render"]  # no checkpoint: the params are the entry
    assert entry("vae") == config["generators"]["vae"]  # a checkpoint not on disk: no hash either
    ckpt.write_bytes(b"weights, version 1")
    first = entry("vae")
    assert (
        first["generator"] == config["generators"]["vae"]["generator"]
        and len(first["checkpoint_sha256"]) == 64
    )
    namespace["_sha256"].cache_clear()  # a new Snakemake process: the file is read again
    ckpt.write_bytes(b"weights, version 2")
    assert entry("vae")["checkpoint_sha256"] != first["checkpoint_sha256"]
