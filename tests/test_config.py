"""The pipeline config: a file over its base, YAML 1.2 numbers, and user code tracked by its hash."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from eval.config import merge, resolve_config
from promptgen.registry import ConfigError
from promptgen.train import TrainConfig
from promptgen.yaml_loader import load_yaml

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = ROOT / "workflow/schemas/config.schema.yaml"
DEFAULT = ROOT / "config/config.yaml"
SNAKEMAKE = [sys.executable, "-m", "snakemake"]


def _resolve(config: dict) -> dict:
    return resolve_config(config, SCHEMA, DEFAULT)


def test_merge_replaces_kind_entries_and_lists_and_merges_the_rest() -> None:
    base = {
        "models": {
            "clip": {"kind": "open_clip", "model": "ViT", "pretrained": "x.pt"},
            "pose": {"kind": "p"},
        },
        "table2": {"train": {"steps": 10, "lr": 0.1}, "generators": ["a", "b"]},
    }
    over = {
        "models": {"clip": {"kind": "python", "python": "m:f"}},
        "table2": {"train": {"steps": 5}, "generators": ["c"]},
    }
    out = merge(base, over)
    assert out["models"] == {"clip": {"kind": "python", "python": "m:f"}, "pose": {"kind": "p"}}
    assert out["table2"] == {"train": {"steps": 5, "lr": 0.1}, "generators": ["c"]}


def test_a_partial_file_runs_over_the_default_and_paper_yaml_replaces_it() -> None:
    mine = {
        "generators": {
            "mine": {"generator": {"kind": "python", "python": "tests.plugins.user_generator:make_generator"}}
        },
        "table2": {"generators": ["mine"]},
    }
    cfg = _resolve(mine)
    default = yaml.safe_load(DEFAULT.read_text())
    assert set(cfg["generators"]) == {*default["generators"], "mine"}
    assert cfg["table2"]["generators"] == ["mine"] and cfg["models"] == default["models"]
    assert cfg["table2"]["train"] == default["table2"]["train"]
    assert cfg["table2"]["generator_train"] == {}  # the default's `vae` setting: vae is not in this table
    paper = _resolve(yaml.safe_load((ROOT / "config/paper.yaml").read_text()))
    assert set(paper["generators"]) == {"ffhq1024", "ffhq1024_pose", "metfaces1024"}
    over_paper = _resolve({**mine, "base": str(ROOT / "config/paper.yaml")})
    assert set(over_paper["generators"]) == {"ffhq1024", "ffhq1024_pose", "metfaces1024", "mine"}


def test_a_base_cycle_is_named(tmp_path: Path) -> None:
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    a.write_text(f"base: {b}\n")
    b.write_text(f"base: {a}\n")
    with pytest.raises(ConfigError, match="is its own base"):
        _resolve({"base": str(a)})


def test_yaml_1_1_number_strings_are_read_as_numbers(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_text("lr: 3e-3\nn: -2E5\ntext: a 1e5 photo\n")
    assert load_yaml(path) == {"lr": 0.003, "n": -200000.0, "text": "a 1e5 photo"}
    cfg = _resolve({"table2": {"train": {"lr": "3e-3", "steps": "1e3"}, "weight": "1e1"}})
    assert cfg["table2"]["train"]["lr"] == 0.003 and cfg["table2"]["train"]["steps"] == 1000
    assert cfg["table2"]["weight"] == 10.0
    assert TrainConfig.from_dict({"lr": "3e-3"}).lr == 0.003


def test_the_readme_snippet_plans_table2_for_the_users_generator(tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text()
    snippet = re.search(r"\*\*A generator\*\* is one config entry.*?```yaml\n(.*?)```", readme, re.S)
    assert snippet is not None
    text = snippet[1].replace(
        "my_package.my_module:make_generator", "tests.plugins.user_generator:make_generator"
    )
    path = tmp_path / "mine.yaml"
    path.write_text(text)
    res = subprocess.run(
        [*SNAKEMAKE, f"{tmp_path}/table2.csv", "-n", "--cores", "1", "--configfile", str(path)]
        + ["--config", f"results={tmp_path}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert res.returncode == 0, res.stdout + res.stderr
    assert f"{tmp_path}/table2/mine/seed5/fit/promptgen/" in res.stdout  # the first reported seed
    assert "/render/" not in res.stdout  # the default's generators are defined but not in this table


@pytest.mark.slow
def test_editing_a_user_generator_reruns_the_jobs_that_used_it(tmp_path: Path) -> None:
    code = tmp_path / "code"
    code.mkdir()
    module = code / "edited_user_generator.py"
    shutil.copy(ROOT / "tests/plugins/user_generator.py", module)
    cfg = yaml.safe_load((ROOT / "tests/configs/tiny.yaml").read_text())
    cfg["generators"]["user"]["generator"]["python"] = "edited_user_generator:make_generator"
    cfg["table2"].update(train={"steps": 2, "batch_size": 8}, generator_train={})
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(cfg))
    target = tmp_path / "results/table2/user/seed0/inn.pt"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(code), str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }

    def snakemake(*args: str) -> subprocess.CompletedProcess:
        cmd = [*SNAKEMAKE, str(target), "--cores", "1", "--configfile", str(path), *args]
        cmd += ["--config", f"results={tmp_path / 'results'}"]
        return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False, env=env)

    first = snakemake()
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    again = snakemake("-n")
    assert "Nothing to be done" in again.stdout + again.stderr
    module.write_text(module.read_text() + "\n# edited\n")
    edited = snakemake("-n")
    assert edited.returncode == 0 and "table2_train" in edited.stdout, edited.stdout + edited.stderr
    assert "params" in edited.stdout  # the reason: the entry's version (the module's sha256) changed
