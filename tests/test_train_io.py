"""Nothing lost, nothing corrupted: kill -9 loops, concurrent writers, NaN stops, Ctrl-C, progress lines."""

import csv
import logging
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
import yaml
from click.testing import CliRunner

from promptgen.cli import main
from promptgen.device import CompiledOrEager
from promptgen.energies import Energy, EnergySum
from promptgen.energies.analytic import QuadraticEnergy
from promptgen.flows import INN
from promptgen.generators import IdentityGenerator
from promptgen.lock import FolderInUseError, lock_folder
from promptgen.train import LossLogError, NonFiniteLossError, TrainConfig, TrainingInterrupted, train

ROOT = Path(__file__).resolve().parents[1]
# A CLI training of a few seconds: a state write every 3 steps, so kills land in and between writes; a dev
# evaluation every 7 steps, so they land between dev rows and the best dev state must survive them.
SPEC = {
    "generator": {"kind": "identity", "latent_dim": 8},
    "device": "cpu",
    "inn": {"blocks": 4, "hidden": 128, "seed": 0},
    "energies": {
        "modes": {
            "kind": "gaussian-mixture",
            "weight": 1.0,
            "means": [[-1.5] + [0.0] * 7, [1.5] + [0.0] * 7],
            "sigma": 0.6,
        }
    },
    "train": {
        "steps": 120,
        "batch_size": 64,
        "lr": 0.003,
        "checkpoint_every": 3,
        "seed": 0,
        "dev_every": 7,
        "dev_samples": 128,
    },
}


def _env() -> dict[str, str]:
    path = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    return {**os.environ, "PYTHONPATH": path, "OMP_NUM_THREADS": "1"}


def _start(spec: Path, out: Path) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "promptgen.cli", "train", str(spec), "--out", str(out), "--no-progress"]
    return subprocess.Popen(
        cmd,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_default_sigint,
    )


def _default_sigint() -> None:
    """A suite started in the background (nohup, `&` in a script) passes SIGINT on as ignored, and Python then
    keeps ignoring it: give the child the default action, as a terminal's Ctrl-C finds it."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _rows(out: Path) -> int:
    try:
        return (out / "loss.csv").read_bytes().count(b"\n") - 1
    except FileNotFoundError:
        return -1


def _steps(out: Path) -> list[int]:
    with open(out / "loss.csv", newline="") as f:
        return [int(r["step"]) for r in csv.DictReader(f)]


def _dev_rows(out: Path) -> list[list[str]]:
    """dev.csv's rows without their ``seconds`` column."""
    with open(out / "dev.csv", newline="") as f:
        return [row[:-1] for row in csv.reader(f)]


def _wait_for_rows(proc: subprocess.Popen, out: Path, more_than: int, timeout: float = 120) -> bool:
    """Wait until loss.csv has more than ``more_than`` rows; False if the process ended first."""
    end = time.monotonic() + timeout
    while _rows(out) <= more_than:
        if proc.poll() is not None:
            return False
        assert time.monotonic() < end, "the training made no progress"
        time.sleep(0.01)
    return True


def _wait_for_state_write(proc: subprocess.Popen, out: Path, timeout: float = 10) -> None:
    """Spin until a temporary state file exists (a checkpoint write is under way) or ``timeout``."""
    end = time.monotonic() + timeout
    while time.monotonic() < end and proc.poll() is None:
        if any(p.name.startswith("train_state.pt.") for p in out.iterdir()):
            return


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> tuple[Path, bytes, list[list[str]]]:
    """The spec file, the inn.pt bytes and the dev.csv rows of one uninterrupted CLI run."""
    tmp = tmp_path_factory.mktemp("reference")
    spec = tmp / "spec.yaml"
    spec.write_text(yaml.safe_dump(SPEC))
    proc = _start(spec, tmp / "run")
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err
    assert _steps(tmp / "run") == list(range(1, SPEC["train"]["steps"] + 1))
    dev_steps = [int(row[0]) for row in _dev_rows(tmp / "run")[1:]]
    assert dev_steps == [*range(7, 120, 7), 120]
    return spec, (tmp / "run" / "inn.pt").read_bytes(), _dev_rows(tmp / "run")


def _kill_loop(reference, out: Path, kills: int, seed: int) -> list[str]:
    """Train with ``kills`` random kill -9s (every other one while a state file is being written), then
    to the end; returns what each kill hit."""
    spec = reference[0]
    rnd, hits = random.Random(seed), []
    while len(hits) < kills:
        before = _rows(out)
        proc = _start(spec, out)
        if not _wait_for_rows(proc, out, before):
            pytest.fail(f"the run ended before kill {len(hits) + 1}: {proc.communicate()[1]}")
        if len(hits) % 2:
            _wait_for_state_write(proc, out)
        else:
            time.sleep(rnd.uniform(0, 0.3))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        torn = any(p.name.endswith(".tmp") for p in out.iterdir())
        hits.append(f"row {_rows(out)}{', a state write' if torn else ''}")
    proc = _start(spec, out)
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err
    return hits


def _assert_same_as_reference(reference, out: Path) -> None:
    _, inn_bytes, dev_rows = reference
    assert _steps(out) == list(range(1, SPEC["train"]["steps"] + 1))
    assert (out / "inn.pt").read_bytes() == inn_bytes
    assert _dev_rows(out) == dev_rows
    assert not [p.name for p in out.iterdir() if p.name.endswith(".tmp")]


def test_kill_loop_leaves_one_row_per_step_and_the_same_inn(reference, tmp_path) -> None:
    hits = _kill_loop(reference, tmp_path / "run", kills=2, seed=0)
    _assert_same_as_reference(reference, tmp_path / "run")
    print("kills:", hits)


@pytest.mark.slow
def test_ten_random_kills_leave_one_row_per_step_and_the_same_inn(reference, tmp_path) -> None:
    hits = _kill_loop(reference, tmp_path / "run", kills=10, seed=1)
    _assert_same_as_reference(reference, tmp_path / "run")
    print("kills:", hits)


def test_a_second_writer_is_refused_with_one_line_and_the_first_is_intact(reference, tmp_path) -> None:
    spec = reference[0]
    out = tmp_path / "run"
    first = _start(spec, out)
    assert _wait_for_rows(first, out, 0)
    first.send_signal(signal.SIGSTOP)  # the first writer holds the folder while the second starts
    try:
        second = CliRunner().invoke(main, ["train", str(spec), "--out", str(out), "--no-progress"])
    finally:
        first.send_signal(signal.SIGCONT)
    assert second.exit_code != 0
    assert second.output.strip().count("\n") == 0, second.output
    assert f"{out} is being written by pid {first.pid}" in second.output
    _, err = first.communicate(timeout=600)
    assert first.returncode == 0, err
    _assert_same_as_reference(reference, out)


def test_ctrl_c_ends_with_one_line_and_keeps_the_saved_state(reference, tmp_path) -> None:
    spec = reference[0]
    out = tmp_path / "run"
    proc = _start(spec, out)
    assert _wait_for_rows(proc, out, 4)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130
    assert err.strip().count("\n") == 0 and "Traceback" not in err, err
    assert err.startswith("Interrupted: interrupted during step ") and str(out / "train_state.pt") in err
    # the state it names is whole and its log holds every row up to it (resuming is the kill loop's test)
    saved = torch.load(out / "train_state.pt", weights_only=False)["step"]
    assert f"the state of step {saved} is kept" in err
    assert _steps(out)[:saved] == list(range(1, saved + 1))


def test_lock_is_exclusive_and_released_with_the_holder(tmp_path) -> None:
    with lock_folder(tmp_path):
        with pytest.raises(FolderInUseError, match=f"{tmp_path} is being written by pid {os.getpid()}"):
            with lock_folder(tmp_path):
                pass
    with lock_folder(tmp_path):  # free again
        pass


def _setup(seed: int = 0):
    energy = EnergySum({"q": (2.0, QuadraticEnergy(torch.ones(4), torch.eye(4)))})
    return IdentityGenerator(4), INN(4, blocks=2, hidden=16, seed=seed), energy


class _FailsOnce(Energy):
    """A quadratic energy that returns NaN on its ``at``-th call (counted across instances via ``calls``)."""

    def __init__(self, at: int | None):
        super().__init__()
        self.inner, self.at, self.calls = QuadraticEnergy(torch.ones(4), torch.eye(4)), at, 0

    def forward(self, inp):
        self.calls += 1
        value = self.inner(inp)
        return value * float("nan") if self.calls == self.at else value


def test_resume_after_a_nan_stop_is_exact(tmp_path) -> None:
    cfg = TrainConfig(steps=10, batch_size=8, grad_accum=2, lr=1e-2, checkpoint_every=3, seed=1)
    gen, straight, _ = _setup()
    train(
        gen, straight, EnergySum({"q": (2.0, _FailsOnce(None))}), cfg, tmp_path / "straight", progress=False
    )

    gen, failing, _ = _setup()
    # call 10 is step 5's second micro-batch: after that step's draws, two steps after the state of step 3
    with pytest.raises(NonFiniteLossError, match="step 5"):
        train(gen, failing, EnergySum({"q": (2.0, _FailsOnce(10))}), cfg, tmp_path / "run", progress=False)
    assert torch.load(tmp_path / "run" / "train_state.pt", weights_only=False)["step"] == 4
    gen, resumed, _ = _setup()
    train(gen, resumed, EnergySum({"q": (2.0, _FailsOnce(None))}), cfg, tmp_path / "run", progress=False)
    for a, b in zip(straight.state_dict().values(), resumed.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    assert _steps(tmp_path / "run") == list(range(1, 11))


def _train_to(out: Path, stop_after: int | None, steps: int = 6) -> None:
    gen, inn, energy = _setup()
    cfg = TrainConfig(steps=steps, batch_size=4, checkpoint_every=2)
    train(gen, inn, energy, cfg, out, progress=False, stop_after=stop_after)


def test_resume_truncates_the_log_after_the_state_step_and_a_torn_row(tmp_path) -> None:
    _train_to(tmp_path, stop_after=4)
    with open(tmp_path / "loss.csv", "ab") as f:  # rows a killed run wrote after its last state: redone
        f.write(b"5,1.0,1.0,1.0,1.0,0.001,1.0,0.1\n6,1.0,1.0,\x00\x00")
    _train_to(tmp_path, stop_after=None)
    assert _steps(tmp_path) == [1, 2, 3, 4, 5, 6]
    assert b"\x00" not in (tmp_path / "loss.csv").read_bytes()


@pytest.mark.parametrize("damage", ["nul", "missing_row", "no_file"])
def test_a_log_without_the_rows_of_the_resumed_state_is_one_line_naming_it(tmp_path, damage) -> None:
    _train_to(tmp_path, stop_after=4)
    log = tmp_path / "loss.csv"
    lines = log.read_bytes().split(b"\n")
    if damage == "nul":
        lines[2] = b"\x00" * len(lines[2])
        log.write_bytes(b"\n".join(lines))
    elif damage == "missing_row":
        log.write_bytes(b"\n".join(lines[:2] + lines[3:]))
    else:
        log.unlink()
    before = log.read_bytes() if log.exists() else None
    with pytest.raises(LossLogError) as err:
        _train_to(tmp_path, stop_after=None)
    msg = str(err.value)
    assert "\n" not in msg and str(log) in msg and "train_state.pt" in msg
    assert (log.read_bytes() if log.exists() else None) == before  # nothing rewritten


def test_fresh_run_removes_another_runs_state_and_temporaries(tmp_path) -> None:
    _train_to(tmp_path, stop_after=4)
    (tmp_path / "train_state.pt.abc123.tmp").write_bytes(b"torn")
    gen, inn, energy = _setup()
    cfg = TrainConfig(steps=3, batch_size=4, checkpoint_every=100)
    train(gen, inn, energy, cfg, tmp_path, progress=False, stop_after=1)  # another config: starts over
    assert torch.load(tmp_path / "train_state.pt", weights_only=False)["step"] == 1
    assert _steps(tmp_path) == [1]
    assert not list(tmp_path.glob("*.tmp"))


def test_outputs_get_the_mode_of_new_files(tmp_path) -> None:
    old = os.umask(0o022)
    try:
        _train_to(tmp_path, stop_after=None)
    finally:
        os.umask(old)
    for name in ("inn.pt", "loss.csv", "train_state.pt"):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o644, name


def test_training_logs_its_start_then_step_total_loss_and_eta(tmp_path, caplog) -> None:
    gen, inn, energy = _setup()
    with caplog.at_level(logging.INFO, logger="promptgen.train"):
        train(gen, inn, energy, TrainConfig(steps=5, batch_size=4), tmp_path, progress=False)
    lines = [r.getMessage() for r in caplog.records if r.name == "promptgen.train"]
    assert lines[0] == f"training 5 steps into {tmp_path}, from step 0"
    assert lines[1].startswith("step 1/5, loss ") and ", first step " in lines[1]
    assert lines[-1].startswith("step 5/5, ") and "s/step" in lines[-1] and lines[-1].endswith("ETA 0 s")


def test_progress_gives_the_rate_and_time_left_after_the_first_step(monkeypatch, caplog) -> None:
    from promptgen import train as train_module

    clock = iter([0.0, 100.0, 101.0, 111.0, 112.0, 150.0])  # start; steps 1 (compiling), 2, 3, 4, 5
    monkeypatch.setattr(train_module.time, "monotonic", lambda: next(clock))
    progress = train_module._Progress(total=100, start=0)
    with caplog.at_level(logging.INFO, logger="promptgen.train"):
        for step in range(1, 6):
            progress.update(step, 1.0)
    assert [r.getMessage() for r in caplog.records] == [
        "step 1/100, loss 1, first step 1 min 40 s",
        "step 3/100, loss 1, 5.5 s/step, ETA 8 min 54 s",  # 10 s after step 1; (111 - 100) / 2 steps
        "step 5/100, loss 1, 12.5 s/step, ETA 19 min 48 s",  # 30 s later: (150 - 100) / 4 steps
    ]


def test_interrupt_inside_training_names_the_kept_state(tmp_path) -> None:
    class Interrupts(Energy):
        def forward(self, inp):
            self.calls = getattr(self, "calls", 0) + 1
            if self.calls == 5:
                raise KeyboardInterrupt
            return inp.x.flatten(1).pow(2).sum(1)

    gen, inn, _ = _setup()
    cfg = TrainConfig(steps=10, batch_size=4, checkpoint_every=2)
    with pytest.raises(TrainingInterrupted, match=r"during step 5/10; the state of step 4 is kept in .*"):
        train(gen, inn, EnergySum({"e": (1.0, Interrupts())}), cfg, tmp_path, progress=False)


def test_snakemake_job_interrupted_writes_one_line_to_its_log(tmp_path) -> None:
    from snakemake_glue import logged

    log = tmp_path / "job.log"
    sm = SimpleNamespace(log=[str(log)], rule="table2_train", wildcards={"gen": "render", "seed": "0"})
    why = "interrupted during step 5/10; the state of step 4 is kept in x"
    root, handlers = logging.getLogger(), logging.getLogger().handlers[:]
    try:
        with pytest.raises(SystemExit) as exit_:
            with logged(sm):
                raise TrainingInterrupted(why)
    finally:
        for h in root.handlers:
            h.close()
        root.handlers[:] = handlers
    assert exit_.value.code == 130
    lines = log.read_text().splitlines()
    assert len(lines) == 2 and "Traceback" not in log.read_text()
    assert lines[0].endswith("rule table2_train started (gen=render, seed=0)")
    assert lines[1].endswith(
        "rule table2_train interrupted: interrupted during step 5/10; the state of step 4 is kept in x"
    )


def test_snakemake_job_refused_a_locked_folder_writes_one_line_to_its_log(tmp_path) -> None:
    from snakemake_glue import logged

    log = tmp_path / "job.log"
    sm = SimpleNamespace(log=[str(log)], rule="table2_train", wildcards={"gen": "render", "seed": "0"})
    root, handlers = logging.getLogger(), logging.getLogger().handlers[:]
    try:
        with lock_folder(tmp_path / "run"), pytest.raises(SystemExit) as exit_:
            with logged(sm):
                with lock_folder(tmp_path / "run"):
                    pass
    finally:
        for h in root.handlers:
            h.close()
        root.handlers[:] = handlers
    expected = f"rule table2_train failed: {tmp_path / 'run'} is being written by pid {os.getpid()}"
    assert str(exit_.value.code).startswith(expected)
    lines = log.read_text().splitlines()
    assert len(lines) == 2 and expected in lines[1] and "Traceback" not in log.read_text()


@pytest.mark.parametrize("grad", [False, True])
def test_compiling_is_announced_before_the_first_call_and_timed_after(monkeypatch, caplog, grad) -> None:
    monkeypatch.setattr(torch, "compile", lambda fn, **_: fn)
    calls = CompiledOrEager(lambda x: x + 1, "the renderer (synth-render)", first_use_s=(80, 120))
    with caplog.at_level(logging.INFO, logger="promptgen.device"):
        calls(torch.zeros(2, requires_grad=grad))
        calls(torch.zeros(2, requires_grad=grad))
    lines = [r.getMessage() for r in caplog.records]
    about = "about 120 s with its backward pass" if grad else "about 80 s"
    assert lines[0] == f"compiling the renderer (synth-render) ({about} on first use)…"
    assert lines[1].startswith("compiled the renderer (synth-render) in ") and len(lines) == 2
    assert lines[1].endswith(" (its backward pass compiles at the first backward)") == grad


def test_only_the_no_cuda_runtime_warning_is_silenced(caplog) -> None:
    import promptgen.device  # noqa: F401 - installs the filter

    cpp = logging.getLogger("torch.utils.cpp_extension")
    with caplog.at_level(logging.WARNING):
        cpp.warning("No CUDA runtime is found, using CUDA_HOME='%s'", "/usr/local")
        cpp.warning("Error checking compiler version for %s", "c++")
    assert [r.getMessage() for r in caplog.records] == ["Error checking compiler version for c++"]
