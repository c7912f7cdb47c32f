"""Fuzz: bad configs, specs and checkpoints each fail with one line that names the key or the file.

Every case also checks that no output already written changed: a finished `promptgen train` run, a sample
folder and a results folder are hashed before and after. Configs are checked in process (as the Snakefile
does at parse time) and a few through `snakemake -n`; specs through the `promptgen` CLI in process;
checkpoints through the registries that build them.
"""

from __future__ import annotations

import copy
import datetime
import hashlib
import logging
import os
import struct
import subprocess
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import torch
import yaml
from click.testing import CliRunner
from snakemake_glue import logged

from eval.config import resolve_config
from promptgen.cli import main
from promptgen.generators import build_generator
from promptgen.models import MODELS, load_builtin_adapters
from promptgen.registry import ConfigError
from tests.stylegan2_fixtures import TinySpec, random_state, write_rosinality

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = ROOT / "workflow/schemas/config.schema.yaml"
DEFAULT = ROOT / "config/config.yaml"
TINY = yaml.safe_load((ROOT / "tests/configs/tiny.yaml").read_text())
USER_GEN = {
    "kind": "python",
    "python": "tests.plugins.user_generator:make_generator",
    "kwargs": {"latent_dim": 4},
}
BAD_GEN = "tests.plugins.bad_generators:make_bad_generator"
TINY_CLIP = {"kind": "python", "python": "tests.plugins.tiny_clip:make_clip"}
SPEC = {
    "generator": USER_GEN,
    "device": "cpu",
    "inn": {"blocks": 2, "hidden": 8},
    "energies": {"bright": {"kind": "python", "python": "tests.test_cli:brightness", "weight": 1.0}},
    "train": {"steps": 3, "batch_size": 4, "checkpoint_every": 2},
}


@dataclass
class World:
    """What the cases read and write: ``written`` holds outputs that no failing case may change."""

    tmp: Path
    written: Path
    rosinality: Path

    @property
    def run(self) -> Path:
        return self.written / "run"


@dataclass
class Case:
    id: str
    run: Callable[[World], str]  # returns the error message (the case fails if nothing fails)
    named: str  # what the one line must name


# ----------------------------------------------------------------------------------------------------
# runners


def _config(mutate: Callable[[dict], Any]) -> Callable[[World], str]:
    def run(world: World) -> str:
        cfg = copy.deepcopy(TINY)
        cfg = mutate(cfg) or cfg
        cfg["results"] = str(world.written / "results")
        with pytest.raises(ConfigError) as err:
            resolve_config(cfg, SCHEMA, DEFAULT)
        return str(err.value)

    return run


def _set(path: str, value: Any) -> Callable[[dict], None]:
    """A mutation setting ``a.b[0].c`` to ``value``."""

    def mutate(cfg: dict) -> None:
        keys = [int(k) if k.isdigit() else k for k in path.replace("[", ".").replace("]", "").split(".")]
        node = cfg
        for key in keys[:-1]:
            node = node.setdefault(key, {}) if isinstance(key, str) else node[key]
        node[keys[-1]] = value

    return mutate


def _snakemake(mutate: Callable[[dict], Any]) -> Callable[[World], str]:
    def run(world: World) -> str:
        cfg = copy.deepcopy(TINY)
        cfg = mutate(cfg) or cfg
        path = world.tmp / "snakemake_bad.yaml"
        path.write_text(yaml.safe_dump(cfg))
        res = subprocess.run(
            [sys.executable, "-m", "snakemake", "-n", "--cores", "1", "--configfile", str(path)]
            + ["--config", f"results={world.written / 'results'}"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        assert res.returncode != 0
        lines = [
            line
            for line in (res.stdout + res.stderr).splitlines()
            if line.strip() and not line.startswith("Using workflow specific profile")
        ]
        assert len(lines) == 1, lines
        return lines[0]

    return run


def _cli(args: Callable[[World], list[str]]) -> Callable[[World], str]:
    def run(world: World) -> str:
        res = CliRunner().invoke(main, args(world))
        assert res.exit_code == 1, res.output
        assert res.output.startswith("Error: "), res.output
        return res.output.strip()

    return run


def _spec_file(world: World, spec: dict, name: str = "bad.yaml", text: str | None = None) -> str:
    path = world.tmp / name
    path.write_text(text if text is not None else yaml.safe_dump(spec))
    return str(path)


def _train(mutate: Callable[[dict], Any]) -> Callable[[World], str]:
    """``promptgen train`` of a bad spec into the finished run's folder."""

    def args(world: World) -> list[str]:
        spec = copy.deepcopy(SPEC)
        spec = mutate(spec) or spec
        return ["train", _spec_file(world, spec), "--out", str(world.run), "--no-progress"]

    return _cli(args)


def _raises(build: Callable[[World], Any]) -> Callable[[World], str]:
    def run(world: World) -> str:
        with pytest.raises(ConfigError) as err, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            build(world)
        return str(err.value)

    return run


def _file(name: str, data: bytes | Callable[[Path], Any]) -> Callable[[World], Path]:
    """A file under the case folder: raw bytes, or written by a function of its path."""

    def make(world: World) -> Path:
        path = world.tmp / name
        if callable(data):
            data(path)
        else:
            path.write_bytes(data)
        return path

    return make


GARBAGE = bytes(range(256)) * 8
TORCH_SAVE_HEAD = 2048  # bytes kept of a torch.save zip: the central directory at its end is lost


def _truncated(path: Path) -> None:
    torch.save({"state_dict": {"w": torch.zeros(4096)}}, path)
    path.write_bytes(path.read_bytes()[:TORCH_SAVE_HEAD])


def _legacy(key: str | None) -> Callable[[Path], None]:
    """A checkpoint holding a Python object besides its tensors (as old training scripts saved them)."""

    def write(path: Path) -> None:
        blob = {"w": torch.zeros(2), "saved_on": datetime.date(2020, 1, 1)}
        torch.save({key: blob} if key else blob, path)

    return write


def _rosinality(edit: Callable[[dict], None]) -> Callable[[World], Path]:
    def make(world: World) -> Path:
        ckpt = torch.load(world.rosinality, weights_only=False)
        edit(ckpt)
        path = world.tmp / "edited_rosinality.pt"
        torch.save(ckpt, path)
        return path

    return make


def _drop(key: str) -> Callable[[dict], None]:
    return lambda ckpt: ckpt["g_ema"].pop(key)


def _memory_bomb(path: Path) -> None:
    """A pickle whose FRAME opcode announces 2^62 bytes: the unpickler's allocation fails."""
    path.write_bytes(b"\x80\x05\x95" + struct.pack("<Q", 2**62) + b"N.")


def _torchscript(path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.jit.script(torch.nn.Linear(2, 2)).save(str(path))


def _model(
    entry: dict[str, Any], path: Callable[[World], Path], key: str = "checkpoint"
) -> Callable[[World], str]:
    def build(world: World) -> Any:
        load_builtin_adapters()
        value = str(path(world))
        return MODELS.build(
            {**entry, key: {"male": value} if key == "checkpoints" else value}, where="models.x"
        )

    return _raises(build)


def _generator(entry: dict[str, Any], path: Callable[[World], Path] | None = None) -> Callable[[World], str]:
    def build(world: World) -> Any:
        full = {**entry, "checkpoint": str(path(world))} if path else entry
        return build_generator(full, where="generators.g.generator")

    return _raises(build)


def _bad_gen(**kwargs: Any) -> dict[str, Any]:
    return {"kind": "python", "python": BAD_GEN, "kwargs": {"latent_dim": 4, **kwargs}}


# ----------------------------------------------------------------------------------------------------
# the table


def _partial(cfg: dict) -> dict:
    return {"base": "none", "generators": cfg["generators"], "table2": {"generators": ["user"]}}


CASES = [
    # 1: a partial config that says it is whole (base: none)
    Case("partial-config-without-base", _config(_partial), "models: missing"),
    # 2: schema errors print only the key and value
    Case("top-level-typo", _config(_set("tabel2", {})), "tabel2: unknown key"),
    Case("nested-typo", _config(_set("table2.sample_per_combo", 3)), "table2.sample_per_combo: unknown key"),
    Case("train-typo", _config(_set("table2.train.step", 3)), "table2.train.step: unknown key"),
    Case("inn-typo", _config(_set("table3.inn.block", 3)), "table3.inn.block: unknown key"),
    Case("moment-typo", _config(_set("table5.moment.step", 3)), "table5.moment.step: unknown key"),
    Case("clip-typo", _config(_set("figure8.clip.n_augs", 3)), "figure8.clip.n_augs: unknown key"),
    Case("generator-entry-typo", _config(_set("generators.user.psi_trian", 1)), "generators.user.psi_trian"),
    # 3: train values YAML or a user gets wrong
    Case(
        "lr-word", _config(_set("table2.train.lr", "fast")), "table2.train.lr: expected a number, got 'fast'"
    ),
    Case(
        "weight-decay-none", _config(_set("table2.train.weight_decay", "none")), "table2.train.weight_decay"
    ),
    Case("grad-clip-word", _config(_set("table4.train.grad_clip", "one")), "table4.train.grad_clip"),
    Case("seed-word", _config(_set("table2.train.seed", "zero")), "table2.train.seed: expected an integer"),
    Case("steps-zero", _config(_set("figure8.debias_train.steps", 0)), "figure8.debias_train.steps"),
    Case("lr-negative", _config(_set("table5.train.lr", -1e-3)), "table5.train.lr: expected a value > 0"),
    Case("precision", _config(_set("table2.train.precision", "fp64")), "table2.train.precision"),
    Case("warmup", _config(_set("table2.train.energy_warmup", 2)), "table2.train.energy_warmup"),
    Case(
        "generator-train-value",
        _config(_set("table2.generator_train.user.lr", "x")),
        "generator_train.user.lr",
    ),
    # 4: INN sizes
    Case("inn-blocks-zero", _config(_set("table2.inn.blocks", 0)), "table2.inn.blocks: expected a value ≥ 1"),
    Case(
        "inn-hidden-word", _config(_set("table2.inn.hidden", "big")), "table2.inn.hidden: expected an integer"
    ),
    # 5: energy weights
    Case(
        "lambda-negative", _config(_set("table2.weight", -10)), "table2.weight: expected a value > 0, got -10"
    ),
    Case("table5-lambda-zero", _config(_set("table5.lambdas", [1, 0])), "table5.lambdas[1]"),
    Case("figure8-lambda", _config(_set("figure8.lambda", -2)), "figure8.lambda"),
    Case("pose-weight-word", _config(_set("table3.pose_weight", "high")), "table3.pose_weight"),
    Case("clip-weight", _config(_set("table4.clip.weight", 0)), "table4.clip.weight"),
    # 8: CLIP texts
    Case(
        "clip-text-empty", _config(_set("table4.texts", [""])), "table4.texts[0]: expected a non-blank string"
    ),
    Case(
        "clip-text-blank", _config(_set("figure8.text", "   ")), "figure8.text: expected a non-blank string"
    ),
    Case("clip-text-list", _config(_set("figure8.text", ["a", "b"])), "figure8.text: expected a string"),
    # 10: names that point nowhere
    Case("unknown-generator", _config(_set("table2.generators", ["usr"])), "table2.generators: 'usr' is not"),
    Case("unknown-generator-t5", _config(_set("table5.generators", ["usr"])), "table5.generators: 'usr'"),
    Case(
        "generator-train-name",
        _config(_set("table2.generator_train", {"usr": {}})),
        "generator_train: ['usr']",
    ),
    Case("missing-model-role", _config(_set("table2.control_model", "ctrl")), "table2.control_model: 'ctrl'"),
    Case("missing-judge-role", _config(_set("table2.judges", ["nope"])), "table2.judges: 'nope'"),
    Case("missing-clip-role", _config(_set("table4.clip_model", "clap")), "table4.clip_model: 'clap'"),
    Case(
        "entry-without-kind", _config(_set("generators.user.generator", {"python": "a:b"})), "generator.kind"
    ),
    Case("python-spec", _config(_set("generators.user.generator.python", "no_colon")), "generator.python"),
    Case("psi-range", _config(_set("generators.user.psi_train", 2)), "generators.user.psi_train"),
    Case(
        "trusted-word", _config(_set("models.pose.trusted", "yes")), "models.pose.trusted: expected a boolean"
    ),
    Case("base-missing", _config(_set("base", "config/nope.yaml")), "config/nope.yaml"),
    Case("seeds-empty", _config(_set("table2.seeds", [])), "table2.seeds: expected at least 1 entry"),
    # the same through snakemake's parse step: one line on the terminal
    Case("snakemake-typo", _snakemake(_set("table2.sample_per_combo", 3)), "table2.sample_per_combo"),
    Case("snakemake-lr", _snakemake(_set("table2.train.lr", "fast")), "table2.train.lr"),
    Case("snakemake-generator", _snakemake(_set("table2.generators", ["usr"])), "'usr'"),
    Case("snakemake-partial", _snakemake(_partial), "models: missing"),
    # the CLI: specs
    Case("spec-typo", _train(_set("trian", {})), "unknown keys ['trian']"),
    Case(
        "spec-yaml", _cli(lambda w: ["train", _spec_file(w, {}, text="a: [1,"), "--out", str(w.run)]), "YAML"
    ),
    Case(
        "spec-list",
        _cli(lambda w: ["train", _spec_file(w, {}, text="- 1\n"), "--out", str(w.run)]),
        "mapping",
    ),
    Case("spec-lr-word", _train(_set("train.lr", "fast")), "train.lr: expected a number > 0, got 'fast'"),
    Case("spec-seed-word", _train(_set("train.seed", "zero")), "train.seed: expected an integer"),
    Case("spec-grad-clip", _train(_set("train.grad_clip", "one")), "train.grad_clip"),
    Case("spec-weight-decay", _train(_set("train.weight_decay", "none")), "train.weight_decay"),
    Case("spec-inn-blocks", _train(_set("inn.blocks", 0)), "inn.blocks: expected an integer ≥ 1, got 0"),
    Case("spec-inn-hidden", _train(_set("inn.hidden", "big")), "inn.hidden: expected an integer"),
    Case("spec-weight-negative", _train(_set("energies.bright.weight", -10)), "energies.bright.weight"),
    Case("spec-psi", _train(_set("psi", 2)), "psi"),
    Case(
        "spec-clip-text-empty",
        _train(_set("energies", {"t": {"kind": "clip", "weight": 1, "model": TINY_CLIP, "text": ""}})),
        "energies.t.text: expected a non-blank string",
    ),
    Case(
        "spec-clip-text-list",
        _train(
            _set("energies", {"t": {"kind": "clip", "weight": 1, "model": TINY_CLIP, "text": ["a", "b"]}})
        ),
        "energies.t.text",
    ),
    Case("spec-kwargs", _train(_set("generator.kwargs", {"latent": 4})), "generator.kwargs"),
    # 6, 7: user generators that break the contract
    Case(
        "generator-range",
        _train(_set("generator", _bad_gen(scale=255.0))),
        "generator: forward(z) returned values",
    ),
    Case("generator-shape", _train(_set("generator", _bad_gen(flat=True))), "returned shape (4, 192)"),
    Case(
        "generator-nan", _train(_set("generator", _bad_gen(nan_from=0))), "generator: forward(z) returned NaN"
    ),
    Case(
        "generator-nan-in-training",
        _cli(
            lambda w: [
                "train",
                _spec_file(w, {**SPEC, "generator": _bad_gen(nan_from=1)}),
                "--out",
                str(w.tmp / "nan_run"),
                "--no-progress",
            ]
        ),
        "the generator's output G(z) holds NaN",
    ),
    Case(
        "generator-range-snakemake-entry",
        _generator(_bad_gen(scale=-3.0)),
        "generators.g.generator: forward(z) returned values",
    ),
    # 9: checkpoints the CLI reads
    Case(
        "inn-garbage",
        _cli(lambda w: ["sample", str(_file("inn.pt", GARBAGE)(w)), "--out", str(w.written / "samples")]),
        "inn.pt: not a torch checkpoint",
    ),
    Case(
        "inn-truncated",
        _cli(lambda w: ["sample", str(_file("inn.pt", _truncated)(w)), "--out", str(w.written / "samples")]),
        "inn.pt: truncated or corrupt",
    ),
    Case(
        "inn-wrong-layout",
        _cli(
            lambda w: [
                "kl",
                _spec_file(w, SPEC, "ok.yaml"),
                str(_file("inn.pt", lambda p: torch.save({"w": torch.zeros(2)}, p))(w)),
            ]
        ),
        "inn.pt is not a promptgen-inn/1 file",
    ),
    Case(
        "fit-moment-without-gamma",
        _cli(lambda w: ["fit-moment", _spec_file(w, SPEC), "--out", str(w.written / "beta.json")]),
        "missing key 'gamma' for fit-moment",
    ),
    # 9, 17: checkpoints the registries load
    Case(
        "vae-garbage",
        _generator({"kind": "world-vae"}, _file("vae.pt", GARBAGE)),
        "vae.pt is not a world-vae",
    ),
    Case(
        "vae-truncated",
        _generator({"kind": "world-vae"}, _file("vae.pt", _truncated)),
        "truncated or corrupt",
    ),
    Case(
        "vae-layout",
        _generator({"kind": "world-vae"}, _file("vae.pt", lambda p: torch.save({"arch": {}}, p))),
        "vae.pt is not a world-vae checkpoint",
    ),
    Case("world-classifier-garbage", _model({"kind": "world-classifier"}, _file("c.pt", GARBAGE)), "c.pt"),
    Case(
        "celeba-garbage", _model({"kind": "celeba-resnet50"}, _file("m.pth", GARBAGE), "checkpoints"), "m.pth"
    ),
    Case(
        "fairface-truncated",
        _model({"kind": "fairface-resnet34"}, _file("f.pt", _truncated)),
        "f.pt: truncated",
    ),
    Case(
        "irse50-garbage",
        _model({"kind": "irse50"}, _file("ir.pth", GARBAGE)),
        "ir.pth: not a torch checkpoint",
    ),
    Case(
        "deca-legacy-objects",
        _model({"kind": "deca-encoder"}, _file("deca.tar", _legacy("E_flame"))),
        "set `trusted: true`",
    ),
    Case(
        "open-clip-garbage",
        _model(
            {
                "kind": "open_clip",
                "model": "test-tiny-clip",
                "model_config": str(ROOT / "tests/plugins/test-tiny-clip.json"),
            },
            _file("clip.pt", GARBAGE),
            "pretrained",
        ),
        "models.x.pretrained: ",
    ),
    Case(
        "open-clip-torchscript",
        _model(
            {
                "kind": "open_clip",
                "model": "test-tiny-clip",
                "model_config": str(ROOT / "tests/plugins/test-tiny-clip.json"),
            },
            _file("ViT-B-32.pt", _torchscript),
            "pretrained",
        ),
        "ViT-B-32.pt: a TorchScript archive",
    ),
    Case(
        "stylegan2-no-style1",
        _generator({"kind": "stylegan2"}, _rosinality(_drop("style.1.weight"))),
        "style.1",
    ),
    Case(
        "stylegan2-no-to-rgb1",
        _generator({"kind": "stylegan2"}, _rosinality(_drop("to_rgb1.conv.weight"))),
        "lacks 'to_rgb1.conv.weight'",
    ),
    Case(
        "stylegan2-g-ema-not-dict",
        _generator({"kind": "stylegan2"}, _rosinality(lambda c: c.update(g_ema=[1, 2]))),
        "g_ema is a list, expected a state dict",
    ),
    Case(
        "stylegan2-legacy-objects",
        _generator(
            {"kind": "stylegan2"}, _rosinality(lambda c: c.update(saved_on=datetime.date(2020, 1, 1)))
        ),
        "set `trusted: true`",
    ),
    Case(
        "stylegan2-garbage-pt", _generator({"kind": "stylegan2"}, _file("g.pt", GARBAGE)), "g.pt: not a torch"
    ),
    Case("stylegan2-pickle-memory", _generator({"kind": "stylegan2"}, _file("g.pkl", _memory_bomb)), "g.pkl"),
    Case(
        "stylegan2-missing",
        _generator({"kind": "stylegan2", "checkpoint": "nope/g.pkl"}),
        "nope/g.pkl not found",
    ),
]


# ----------------------------------------------------------------------------------------------------
# the test


def _hashes(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    """A finished training run, a sample folder and a results folder (outputs a failing case must not touch),
    and a valid tiny rosinality checkpoint that the StyleGAN2 cases damage."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    base = tmp_path_factory.mktemp("fuzz")
    written = base / "written"
    spec = base / "spec.yaml"
    spec.write_text(yaml.safe_dump(SPEC))
    runner = CliRunner()
    res = runner.invoke(main, ["train", str(spec), "--out", str(written / "run"), "--no-progress"])
    assert res.exit_code == 0, res.output
    res = runner.invoke(
        main,
        [
            "sample",
            str(written / "run/inn.pt"),
            "--out",
            str(written / "samples"),
            "-n",
            "2",
            "--device",
            "cpu",
        ],
    )
    assert res.exit_code == 0, res.output
    (written / "results/table2").mkdir(parents=True)
    (written / "results/table2.csv").write_text("generator,method,kl\nuser,promptgen,0.1\n")
    rosinality = write_rosinality(base / "tiny.pt", random_state(TinySpec(), seed=0), TinySpec())
    yield World(base / "cases", written, rosinality)
    torch.set_num_threads(threads)


def test_the_table_covers_forty_cases() -> None:
    assert len(CASES) >= 40 and len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_gives_one_line_naming_it(case: Case, world: World) -> None:
    world.tmp.mkdir(exist_ok=True)
    before = _hashes(world.written)
    message = case.run(world)
    assert "\n" not in message.strip(), message
    assert case.named in message, message
    assert "weights_only" not in message and "Traceback" not in message, message
    assert _hashes(world.written) == before


def test_verbose_shows_the_traceback(world: World) -> None:
    world.tmp.mkdir(exist_ok=True)
    spec = _spec_file(world, {**SPEC, "inn": {"blocks": 0}})
    res = CliRunner().invoke(main, ["--verbose", "train", spec, "--out", str(world.tmp / "v")])
    assert res.exit_code != 0 and isinstance(res.exception, ConfigError)
    assert "inn.blocks" in str(res.exception)


def test_legacy_checkpoint_loads_when_its_entry_is_trusted(world: World, tmp_path: Path) -> None:
    ckpt = torch.load(world.rosinality, weights_only=False)
    ckpt["saved_on"] = datetime.date(2020, 1, 1)
    path = tmp_path / "legacy.pt"
    torch.save(ckpt, path)
    entry = {"kind": "stylegan2", "checkpoint": str(path)}
    with pytest.raises(ConfigError, match="trusted: true"):
        build_generator(entry)
    gen = build_generator({**entry, "trusted": True})
    assert gen(torch.zeros(1, gen.latent_dim)).shape == (1, 3, 16, 16)


def test_a_jobs_config_error_is_one_line_in_its_log(tmp_path: Path) -> None:
    """The scripts' shared wrapper: a ConfigError from a job's spec names generators.<gen>, in one line."""
    job = SimpleNamespace(
        log=[str(tmp_path / "job.log")], rule="table2_train", wildcards=SimpleNamespace(gen="bad")
    )
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        with pytest.raises(SystemExit) as exit_, logged(job):
            build_generator(_bad_gen(flat=True))
    finally:
        for handler in root.handlers:
            handler.close()
        root.handlers[:], root.level = handlers, level
    expected = "rule table2_train failed: generators.bad.generator: forward(z) returned shape (4, 192)"
    assert str(exit_.value.code).startswith(expected)
    log = (tmp_path / "job.log").read_text().strip().splitlines()
    assert len(log) == 2 and log[0].endswith("rule table2_train started (gen=bad)") and expected in log[1]


@pytest.mark.slow
def test_job_log_holds_one_line_naming_the_generator_entry(tmp_path: Path) -> None:
    """A user generator that breaks the contract, run as a Snakemake job: one line in its log."""
    cfg = copy.deepcopy(TINY)
    cfg["generators"]["bad"] = {"generator": _bad_gen(scale=9.0, resolution=8, latent_dim=6)}
    cfg["table2"]["generators"] = ["bad"]
    cfg["table2"]["generator_train"] = {}
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(cfg))
    target = tmp_path / "results/table2/bad/seed0/inn.pt"
    res = subprocess.run(
        [sys.executable, "-m", "snakemake", str(target), "--cores", "1", "--configfile", str(path)]
        + ["--config", f"results={tmp_path / 'results'}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert res.returncode != 0
    log = (tmp_path / "results/logs/table2_train/bad_seed0.log").read_text().strip().splitlines()
    assert len(log) == 2 and log[0].endswith("rule table2_train started (gen=bad, seed=0)"), log
    assert "generators.bad.generator: forward(z) returned values in" in log[1]
    assert "generators.bad.generator: forward(z) returned values in" in res.stderr
    assert not target.exists()
