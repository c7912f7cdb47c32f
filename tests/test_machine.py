"""Machine calibration (eval.machine, benchmarks/machine.py): a fixed workload, the CPU, the CSV writer."""

import csv
import sys
from pathlib import Path

import pytest
import torch

from eval.machine import calibration_seconds, cpu_model, machine_row, reference_workload

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
from machine import append_row  # noqa: E402


def test_reference_workload_is_fixed() -> None:
    assert reference_workload() == reference_workload()


def test_calibration_runs_on_one_thread_and_restores_the_setting() -> None:
    threads = torch.get_num_threads()
    seconds = calibration_seconds(repeats=1)
    assert 0 < seconds < 60
    assert torch.get_num_threads() == threads
    with pytest.raises(ValueError, match="repeats"):
        calibration_seconds(repeats=0)


def test_cpu_model_reads_cpuinfo(tmp_path) -> None:
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7B12\n")
    assert cpu_model(info) == "AMD EPYC 7B12"
    assert cpu_model(tmp_path / "missing")  # falls back to platform's answer


def test_machine_row_names_the_machine() -> None:
    row = machine_row(repeats=1, reuse=False)
    assert {"cpu_model", "cores", "calibration_s", "load_avg_1min", "date"} <= set(row)
    assert row["calibration_s"] > 0


def test_append_row_widens_the_header_and_leaves_old_rows_unknown(tmp_path) -> None:
    out = tmp_path / "b.csv"
    append_row(out, {"date": "d1", "seconds": 1.0})
    append_row(out, {"date": "d2", "seconds": 2.0, "calibration_s": 0.15})
    with open(out, newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["calibration_s"] for r in rows] == ["", "0.15"]
    assert [r["seconds"] for r in rows] == ["1.0", "2.0"]
