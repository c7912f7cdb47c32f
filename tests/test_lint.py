import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _ruff(*args: str) -> subprocess.CompletedProcess:
    exe = shutil.which("ruff") or str(Path(sys.executable).parent / "ruff")
    return subprocess.run([exe, *args], cwd=ROOT, capture_output=True, text=True, check=False)


@pytest.mark.parametrize("args", [("check", "."), ("format", "--check", ".")])
def test_ruff_clean(args) -> None:
    res = _ruff(*args)
    assert res.returncode == 0, res.stdout + res.stderr


def _rule_blocks() -> dict[str, str]:
    """Rule name -> its source text, for every rule in workflow/rules/*.smk."""
    blocks: dict[str, str] = {}
    for path in sorted((ROOT / "workflow" / "rules").glob("*.smk")):
        name = None
        for line in path.read_text().splitlines():
            if line.startswith("rule "):
                name = line.split()[1].rstrip(":")
                blocks[name] = ""
            elif name and line and not line.startswith((" ", "#")):
                name = None  # a top-level statement ends the rule
            elif name:
                blocks[name] += line + "\n"
    return blocks


def test_every_rule_declares_threads_resources_log_and_benchmark() -> None:
    blocks = _rule_blocks()
    assert len(blocks) >= 20, sorted(blocks)
    missing = [
        f"{name}: {key}"
        for name, text in blocks.items()
        for key in ("threads:", "resources:", "mem_mb=", "runtime=", "log:", "benchmark:")
        if key not in text
    ]
    assert not missing, missing
