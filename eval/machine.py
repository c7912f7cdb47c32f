"""Machine calibration: the CPU a measurement ran on, and how fast it is on a fixed reference workload.

Wall times from different machines compare only with a measure of each machine's speed beside them. The
reference workload is fixed and owes nothing to the project's models, so its figure does not move when the
code does: float32 on one thread, a 256 × 256 matrix product chain and a 3 × 3 convolution over a
(8, 32, 64, 64) batch, with fixed seeds. :func:`calibration_seconds` is the fastest of ``repeats`` runs of it
after one untimed warm-up (lower is faster): other processes on a shared CPU can only slow a run down, so the
minimum is the figure that least depends on the load (the load average is recorded beside it). A benchmark
row that records it can be rescaled to another machine by the ratio of the two figures.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import time
from functools import cache
from pathlib import Path

import torch
import torch.nn.functional as F

__all__ = ["calibration_seconds", "cpu_model", "machine_row", "reference_workload"]

MATMUL_SIZE = 256
MATMUL_CHAIN = 64
CONV_INPUT = (8, 32, 64, 64)
CONV_REPEATS = 12


def cpu_model(cpuinfo: str | Path = "/proc/cpuinfo") -> str:
    """The CPU's model name (``model name`` in /proc/cpuinfo; ``platform.processor()`` elsewhere).

    Example:
        >>> isinstance(cpu_model(), str) and len(cpu_model()) > 0
        True
    """
    path = Path(cpuinfo)
    if path.is_file():
        for line in path.read_text(errors="replace").splitlines():
            key, _, value = line.partition(":")
            if key.strip() in ("model name", "Model name") and value.strip():
                return value.strip()
    return platform.processor() or platform.machine() or "unknown"


def reference_workload() -> float:
    """Run the fixed workload once on the current thread settings; returns a checksum (keeps it from
    being optimised away and lets a test check it is deterministic)."""
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(MATMUL_SIZE, MATMUL_SIZE, generator=gen) / MATMUL_SIZE**0.5
    x = torch.randn(MATMUL_SIZE, MATMUL_SIZE, generator=gen)
    for _ in range(MATMUL_CHAIN):
        x = torch.tanh(a @ x)
    images = torch.randn(*CONV_INPUT, generator=gen)
    kernel = torch.randn(CONV_INPUT[1], CONV_INPUT[1], 3, 3, generator=gen) / (9 * CONV_INPUT[1]) ** 0.5
    for _ in range(CONV_REPEATS):
        images = torch.tanh(F.conv2d(images, kernel, padding=1))
    return float(x.sum() + images.sum())


def calibration_seconds(repeats: int = 9) -> float:
    """Fastest wall seconds of :func:`reference_workload` on one thread, float32, after one warm-up run.

    Arguments:
        repeats: timed runs (the fastest is returned).

    Returns:
        Seconds per run (lower is faster).
    """
    if repeats < 1:
        raise ValueError(f"repeats must be ≥ 1, got {repeats}")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.no_grad():
            reference_workload()
            times = []
            for _ in range(repeats):
                start = time.perf_counter()
                reference_workload()
                times.append(time.perf_counter() - start)
    finally:
        torch.set_num_threads(threads)
    return min(times)


@cache
def _cached_calibration(repeats: int) -> float:
    return calibration_seconds(repeats)


def machine_row(repeats: int = 9, reuse: bool = True) -> dict[str, object]:
    """The machine columns of a measurement: date, CPU model, cores, load, calibration seconds, torch.

    Arguments:
        repeats: timed runs of the reference workload.
        reuse: time the workload once per process and reuse the figure (benchmarks writing many rows).

    Returns:
        A dict with ``date``, ``cpu_model``, ``cores``, ``load_avg_1min``, ``calibration_s`` and ``torch``.
    """
    seconds = _cached_calibration(repeats) if reuse else calibration_seconds(repeats)
    return {
        "date": dt.datetime.now().isoformat(timespec="seconds"),
        "cpu_model": cpu_model(),
        "cores": os.cpu_count(),
        "load_avg_1min": round(os.getloadavg()[0], 2),
        "calibration_s": round(seconds, 4),
        "torch": torch.__version__,
    }
