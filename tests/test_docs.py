"""User documentation: no history narration in README.md, docs/ and config/; the README stays short, its links
resolve, and CI runs the README's test command."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MONTHS = (
    "January|February|March|April|May|June|July|August|September|October|November|December"
    "|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec"
)
ORDINALS = (
    "first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|eleventh|twelfth|\\d+(st|nd|rd|th)"
)
# Each pattern catches one way of telling what happened before, not what is.
NARRATION = {
    "a date": rf"(?<![\w/-])20\d\d-\d\d-\d\d(?![\w-])|(?-i:\b({MONTHS})\.? \d{{1,2}}(st|nd|rd|th)?\b)",
    "a work session": rf"\b(this|that|earlier|previous|last|next|same|({ORDINALS}))\s+sessions?\b",
    "an earlier round": r"\bearlier (rounds?|runs?|versions?|sessions?|commits?)\b|\bthe day before\b",
    "'was X before'": r"\b(was|were|used to be|had been)\b(?:[^.;\n]|\.\d){0,60}\bbefore\b",
    "'previously'": r"\bpreviously\b",
    "'no longer'": r"\bno longer\b",
    "'is now'": r"\b(is|are|was|were) now\b"
    r"|\bnow (the default|uses?|runs?|trains?|takes?|reads?|passes?|has|have)\b",
    "'until/since' a change": r"\b(until|since) (recently|the [a-z]+ (session|commit|change))\b",
    "'not yet'": r"\bnot (measured|tested|run|done) yet\b|\bnot yet (measured|tested|run|done|adopted)\b",
}


def narration(text: str) -> list[tuple[int, str, str]]:
    """(line number, what, line) for every line of ``text`` that narrates earlier work."""
    hits = []
    for number, line in enumerate(text.splitlines(), 1):
        for what, pattern in NARRATION.items():
            if re.search(pattern, line, flags=re.IGNORECASE):
                hits.append((number, what, line.strip()))
    return hits


def _documents() -> list[Path]:
    return [
        ROOT / "README.md",
        *sorted((ROOT / "docs").glob("*.md")),
        *sorted((ROOT / "config").glob("*.yaml")),
    ]


@pytest.mark.parametrize(
    "planted",
    [
        "The VAE changed on 2026-12-02 and every row moved.",
        "Measured on Dec 2 on the AMX machine.",
        "In the eighth session the renderer was compiled.",
        "Its FID was 54.7 before the adversarial stage.",
        "The stage previously ran 3 000 steps.",
        "Table 2 no longer uses the paper's λ.",
        "The renderer's INN now trains 1 500 steps.",
        "Re-run of the earlier round's numbers.",
        "# 1 000 steps: the default is now 640",
        "The effect on the wall time is not measured yet.",
    ],
)
def test_the_checker_catches_narration(planted: str) -> None:
    assert narration(planted), planted


@pytest.mark.parametrize(
    "prose",
    [
        "The INN trains 1 500 steps at batch 64: seeds 0-3 reach ≤ 5.9e-4 in every column.",
        "Sample i depends only on (seed, i), never on the batch size.",
        "The energy weights ramp up over the first 40 % of the steps, then stay at λ.",
        "Run the benchmark before the pipeline to compare machines.",
        "A generator is built from a config entry; the session of a SLURM job is not touched.",
        "The dataset holds 10 000 renders drawn from the world's prior.",
        "The decoder 32-64-128 channels mirror the encoder; a share may 2× the other.",
    ],
)
def test_the_checker_passes_ordinary_prose(prose: str) -> None:
    assert narration(prose) == []


def test_readme_docs_and_config_narrate_no_history() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{n}: {what}: {line}"
        for path in _documents()
        for n, what, line in narration(path.read_text())
    ]
    assert not found, "history narration (belongs in git history or CHANGELOG.md):\n" + "\n".join(found)


def test_readme_is_short() -> None:
    assert (ROOT / "README.md").stat().st_size <= 12 * 1024


def test_readme_and_docs_links_resolve() -> None:
    missing = []
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", path.read_text()):
            if not re.match(r"[a-z]+:", target) and not (path.parent / target).exists():
                missing.append(f"{path.relative_to(ROOT)} -> {target}")
    assert not missing, missing


def test_ci_runs_the_readme_test_command() -> None:
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    commands = re.findall(r"```bash\n(python3\.11 -m venv[^\n]*python -m pytest)\n```", readme)
    assert commands, "README.md gives no test command ending in `python -m pytest`"
    assert commands[0] in ci.splitlines()
