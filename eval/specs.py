"""The shared part of every experiment's control spec (see :mod:`promptgen.spec`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["SECTION_KEYS", "control_spec", "evaluation_section", "generator_section", "method_section"]


def control_spec(
    gen_cfg: Mapping[str, Any],
    section: Mapping[str, Any],
    energies: Mapping[str, Any],
    device: str,
    seed: int,
    condition: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Generator at its training ψ, INN and train settings seeded with ``seed``, and the energies."""
    return {
        "generator": gen_cfg["generator"],
        "psi": gen_cfg["psi_train"],
        "device": device,
        "inn": {**dict(section["inn"]), "seed": seed},
        "condition": None if condition is None else dict(condition),
        "energies": dict(energies),
        "train": {**dict(section["train"]), "seed": seed},
    }


# Keys of a generator_train entry that replace the section's own keys, not its train keys (λ per generator).
SECTION_KEYS = ("weight", "class_weights")


def generator_section(section: Mapping[str, Any], gen_name: str, key: str) -> dict[str, Any]:
    """A table's config section with ``generator_train[gen_name]`` merged over its ``train``; the entry's
    ``weight`` and ``class_weights`` (where the section's schema allows them) replace the section's own.

    ``generator_train`` itself is left out, so a rule's params change only when this generator's settings
    do (Snakemake re-runs a job whose params changed). ``key`` names the section in errors (``table5``).
    Imports nothing heavy: Snakemake calls it at DAG time.

    Raises:
        ConfigError: a ``generator_train`` key that is not one of the section's ``generators``.
    """
    from promptgen.registry import ConfigError

    overrides = dict(section.get("generator_train") or {})
    known = list(section.get("generators") or [])
    unknown = sorted(set(overrides) - set(known))
    if unknown:
        raise ConfigError(f"{key}.generator_train: {unknown} not in {key}.generators {known}")
    rest = {k: v for k, v in section.items() if k != "generator_train"}
    mine = dict(overrides.get(gen_name) or {})
    lifted = {k: mine.pop(k) for k in SECTION_KEYS if k in mine}
    return {**rest, **lifted, "train": {**dict(section["train"]), **mine}}


def evaluation_section(section: Mapping[str, Any], key: str, training_keys: Iterable[str]) -> dict[str, Any]:
    """A table's config section as its evaluation jobs see it: without ``generator_train`` and without
    ``training_keys`` (settings that only shape a training), so changing those re-runs the trainings and,
    through their outputs, the rows that use them, but not the pools or the other methods' rows."""
    drop = set(training_keys)
    return {k: v for k, v in generator_section(section, "", key).items() if k not in drop}


def method_section(section: Mapping[str, Any], method: str | None) -> dict[str, Any]:
    """A table's section as one method's jobs see it: ``methods`` holds that method's entry only (none for
    ``method=None``, a job no method shapes), without ``generator_methods``, so changing another method's
    entry or list re-runs none of its jobs."""
    rest = {k: v for k, v in section.items() if k not in ("methods", "generator_methods")}
    return rest if method is None else {**rest, "methods": {method: section["methods"][method]}}
