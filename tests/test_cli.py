import json

import torch
import yaml
from click.testing import CliRunner

from promptgen.cli import main

USER_GEN = {
    "kind": "python",
    "python": "tests.plugins.user_generator:make_generator",
    "kwargs": {"latent_dim": 4},
}


def _write(path, spec):
    path.write_text(yaml.safe_dump(spec))
    return str(path)


def test_help_lists_every_command() -> None:
    out = CliRunner().invoke(main, ["--help"]).output
    for cmd in ("train", "sample", "fit-moment", "langevin", "kl"):
        assert cmd in out
    assert "--num" in CliRunner().invoke(main, ["sample", "--help"]).output


def test_train_sample_kl_langevin_end_to_end(tmp_path) -> None:
    spec = _write(
        tmp_path / "spec.yaml",
        {
            "generator": USER_GEN,
            "device": "cpu",
            "inn": {"blocks": 2, "hidden": 16},
            "energies": {"bright": {"kind": "python", "python": "tests.test_cli:brightness", "weight": 1.0}},
            "train": {"steps": 5, "batch_size": 4, "checkpoint_every": 2},
        },
    )
    runner = CliRunner()
    res = runner.invoke(main, ["train", spec, "--out", str(tmp_path / "run"), "--no-progress"])
    assert res.exit_code == 0, res.output
    res = runner.invoke(
        main,
        [
            "sample",
            str(tmp_path / "run" / "inn.pt"),
            "--out",
            str(tmp_path / "s"),
            "-n",
            "5",
            "--device",
            "cpu",
        ],
    )
    assert res.exit_code == 0, res.output
    assert len(list((tmp_path / "s").glob("*.png"))) == 5
    res = runner.invoke(main, ["kl", spec, str(tmp_path / "run" / "inn.pt"), "-n", "256"])
    assert res.exit_code == 0, res.output
    assert "log_z" in json.loads(res.output)
    res = runner.invoke(main, ["langevin", spec, "--out", str(tmp_path / "l"), "-n", "3", "--steps", "2"])
    assert res.exit_code == 0, res.output
    assert torch.load(tmp_path / "l" / "samples.pt")["z"].shape == (3, 4)


def brightness(**_):
    from promptgen.energies import Energy

    class Brightness(Energy):
        def forward(self, inp):
            return -inp.x.mean(dim=(1, 2, 3))

    return Brightness()


def test_fit_moment_cli(tmp_path) -> None:
    spec = _write(
        tmp_path / "m.yaml",
        {
            "generator": USER_GEN,
            "device": "cpu",
            "gamma": {
                "model": {"kind": "python", "python": "tests.test_cli:sign_classifier"},
                "head": "bright",
            },
            "mu": "uniform",
            "moment": {"n": 256, "steps": 50, "eval_samples": 1024},
        },
    )
    res = CliRunner().invoke(main, ["fit-moment", spec, "--out", str(tmp_path / "beta.json")])
    assert res.exit_code == 0, res.output
    fit = json.loads((tmp_path / "beta.json").read_text())
    assert len(fit["beta_hat"]) == 2 and fit["mu"] == [0.5, 0.5]


def sign_classifier():
    class Sign(torch.nn.Module):
        def forward(self, x):
            return {"bright": 4 * x.mean(dim=(1, 2, 3)) + 1.0}

    return Sign()


def test_bad_spec_key_gives_a_one_line_error(tmp_path) -> None:
    spec = _write(tmp_path / "bad.yaml", {"generator": USER_GEN, "trian": {"steps": 1}})
    res = CliRunner().invoke(main, ["train", spec, "--out", str(tmp_path / "x")])
    assert res.exit_code != 0
    assert "unknown keys ['trian']" in res.output and len(res.output.strip().splitlines()) == 1


def test_bad_train_key_is_named(tmp_path) -> None:
    spec = _write(tmp_path / "bad.yaml", {"generator": USER_GEN, "train": {"step": 1}})
    res = CliRunner().invoke(main, ["train", spec, "--out", str(tmp_path / "x")])
    assert res.exit_code != 0 and "train: unknown keys ['step']" in res.output
