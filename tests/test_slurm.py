"""Table 2 of the tiny config through a real single-node SLURM cluster (docs/cluster.md).

Starts the cluster with scripts/slurm-local.sh, runs the pipeline with `--workflow-profile profiles/slurm`,
cancels the INN training job mid-run (scancel) and checks that Snakemake reports it as failed, that a rerun
completes the table without recomputing any finished job, and that the table is byte-identical to a local
run with the same config and seeds. Needs root, Linux, Debian's slurm-wlm + munge and the `cluster` extra;
it skips otherwise (PROMPTGEN_REQUIRE_SLURM=1, as in .ci/run, turns those skips into failures).
"""

import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "slurm-local.sh"
SNAKEMAKE = [sys.executable, "-m", "snakemake"]
# What a cluster without an accounting database (sacct) needs on top of the profile; see docs/cluster.md.
SLURM_ARGS = [
    "--workflow-profile",
    "profiles/slurm",
    "--slurm-no-account",
    "--slurm-status-command",
    "squeue",
    "--slurm-init-seconds-before-status-checks",
    "5",
    "--seconds-between-status-checks",
    "3",
]
METHODS = ["unmodified", "direction", "resample", "promptgen"]

pytestmark = pytest.mark.slow


def _why_not() -> str | None:
    if platform.system() != "Linux":
        return "needs Linux"
    if os.geteuid() != 0:
        return "needs root (scripts/slurm-local.sh starts munged, slurmctld and slurmd)"
    if shutil.which("slurmctld") is None or shutil.which("munged") is None:
        return "slurmctld/munged not installed (apt-get install -y slurm-wlm munge)"
    try:
        import snakemake_executor_plugin_slurm  # noqa: F401
    except ImportError:
        return "snakemake-executor-plugin-slurm not installed (pip install -e '.[cluster]')"
    return None


@pytest.fixture(scope="module")
def slurm_cluster():
    reason = _why_not()
    if reason:
        if os.environ.get("PROMPTGEN_REQUIRE_SLURM") == "1":
            pytest.fail(f"PROMPTGEN_REQUIRE_SLURM=1 but {reason}")
        pytest.skip(reason)
    start = subprocess.run([str(SCRIPT), "start"], capture_output=True, text=True)
    try:
        assert start.returncode == 0, start.stdout + start.stderr
        yield
    finally:
        stop = subprocess.run([str(SCRIPT), "stop"], capture_output=True, text=True)
        assert stop.returncode == 0, stop.stdout + stop.stderr


def _squeue() -> list[tuple[str, str, str]]:
    """(id, state, comment) of every job the controller knows; the comment is rule_<rule>_wildcards_..."""
    out = subprocess.run(
        ["squeue", "-h", "-t", "all", "-o", "%i|%T|%k"], capture_output=True, text=True, check=True
    ).stdout
    return [tuple(line.split("|", 2)) for line in out.splitlines() if line.strip()]


def _wait_until(predicate, timeout: float, what: str, proc: subprocess.Popen | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"snakemake exited ({proc.returncode}) before {what}")
        time.sleep(0.5)
    pytest.fail(f"timed out after {timeout} s waiting for {what}")


def test_table2_through_slurm_with_a_cancelled_job(slurm_cluster, tmp_path) -> None:
    # A snapshot of the config: every SLURM job step re-reads it, so it must not change under the run.
    config = tmp_path / "tiny.yaml"
    shutil.copy(ROOT / "tests/configs/tiny.yaml", config)
    local, cluster = tmp_path / "local", tmp_path / "slurm"

    local_cmd = [*SNAKEMAKE, f"{local}/table2.csv", "--cores", "2", "--configfile", str(config)]
    res = subprocess.run(
        [*local_cmd, "--config", f"results={local}"], cwd=ROOT, capture_output=True, text=True
    )
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]

    cfg = ["--configfile", str(config), "--config", f"results={cluster}"]
    cmd = [
        *SNAKEMAKE,
        f"{cluster}/table2.csv",
        *SLURM_ARGS,
        "--verbose",
        "--slurm-logdir",
        str(tmp_path / "slurm_logs"),
        *cfg,
    ]
    log1 = tmp_path / "slurm_run1.log"
    with log1.open("w") as sink:
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=sink, stderr=subprocess.STDOUT, text=True)
        try:
            # Cancel the INN training while it runs, once some other job has finished.
            def running_train():
                columns = cluster / "table2/user/seed0/columns"
                finished = [m for m in METHODS[:3] if (columns / f"{m}.csv").exists()]
                jobs = [j for j in _squeue() if j[2].startswith("rule_table2_fit") and j[1] == "RUNNING"]
                return jobs[0][0] if jobs and finished else None

            train_job = _wait_until(running_train, 300, "a running table2_fit job", proc)
            subprocess.run(["scancel", train_job], check=True)
            proc.wait(timeout=300)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    out1 = log1.read_text()
    assert proc.returncode != 0, out1[-3000:]
    assert "Error in rule table2_fit" in out1, out1[-3000:]
    assert f"SLURM-job '{train_job}' failed, SLURM status is: 'CANCELLED'" in out1, out1[-3000:]
    assert not (cluster / "table2/user/seed0/fit/promptgen/status.json").exists()
    assert not (cluster / "table2.csv").exists()

    # Requests mapped from the rules' resources: threads -> cpus, mem_mb, runtime; CPU-only -> no GPU.
    calls = [line for line in out1.splitlines() if "sbatch call:" in line]
    assert calls, out1[-3000:]
    for call in calls:
        assert "--cpus-per-task=1" in call and "--gpus" not in call and "--gres" not in call, call
    train_calls = [c for c in calls if "rule_table2_fit" in c]
    assert train_calls and all("--mem 4000" in c and "-t 120" in c for c in train_calls), train_calls

    # Nothing left on the cluster; what finished before the failure is complete and is kept.
    active = ("PENDING", "RUNNING", "COMPLETING")
    _wait_until(lambda: not [j for j in _squeue() if j[1] in active], 120, "the cluster to drain")
    # Every method table on disk after the failure is a finished job: the rerun's plan must not include it.
    # (The cancelled training's own loss.csv is not a job output: the rerun trains again and rewrites it.)
    tables = [cluster / f"table2/user/seed0/columns/{m}.csv" for m in METHODS]
    finished = {p: p.stat().st_mtime_ns for p in tables if p.exists()}
    plan = subprocess.run([*cmd, "-n"], cwd=ROOT, capture_output=True, text=True)
    assert plan.returncode == 0, plan.stdout[-3000:] + plan.stderr[-3000:]
    for path in finished:
        assert f"output: {path}" not in plan.stdout, f"{path} is on disk but planned again:\n{plan.stdout}"
    assert f"output: {cluster}/table2/user/seed0/fit/promptgen/status.json" in plan.stdout, plan.stdout
    assert finished, out1[-3000:]

    log2 = tmp_path / "slurm_run2.log"
    res = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    log2.write_text(res.stdout + res.stderr)
    out2 = log2.read_text()
    assert res.returncode == 0, out2[-3000:]
    assert "rule table2_fit:" in out2
    for path, mtime in finished.items():
        assert path.stat().st_mtime_ns == mtime, f"{path} was recomputed"
        assert f"output: {path}" not in out2, f"{path} was rescheduled"
    again = subprocess.run([*cmd, "-n"], cwd=ROOT, capture_output=True, text=True)
    assert again.returncode == 0 and "Nothing to be done" in again.stdout + again.stderr

    # Same seeds, CPU, same threads: the table is the local one, byte for byte.
    assert (cluster / "table2.csv").read_bytes() == (local / "table2.csv").read_bytes()
    pd.testing.assert_frame_equal(pd.read_csv(cluster / "table2.csv"), pd.read_csv(local / "table2.csv"))
    for method in METHODS:
        part = f"table2/user/seed0/columns/{method}.csv"
        assert (cluster / part).read_bytes() == (local / part).read_bytes(), part
