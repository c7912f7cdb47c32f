"""Difficulty as a benchmark axis: Table 2 at several settings of one generator argument (e.g. curvature).

Each setting is a *derived* generator entry, the swept generator's entry with one argument replaced, named
``<generator>-<argument><value>`` (the base name where the value is the base entry's own), so the Table-2
rules train and evaluate it like any generator. The sweep table keeps, for every setting, method and
judge, the largest column of the Table-2 KL (mean over seeds per column, then the worst column).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from promptgen.registry import ConfigError

__all__ = ["derived_generators", "entanglement_table", "setting_name"]


def _arguments(entry: Mapping[str, Any]) -> dict[str, Any]:
    """The keyword arguments of a generator registry entry (under ``kwargs`` for kind ``python``)."""
    gen = dict(entry["generator"])
    return dict(gen.get("kwargs") or {}) if gen.get("kind") == "python" else gen


def setting_name(base: str, entry: Mapping[str, Any], argument: str, value: Any) -> str:
    """The generator name of one setting: ``base`` where the entry already has ``value``."""
    if _arguments(entry).get(argument) == value:
        return base
    return f"{base}-{argument}{value:g}" if isinstance(value, (int, float)) else f"{base}-{argument}{value}"


def derived_generators(
    generators: Mapping[str, Mapping[str, Any]], sweep: Mapping[str, Any]
) -> dict[float, tuple[str, dict[str, Any]]]:
    """The generator entry of every swept value, by value: ``{value: (name, entry)}``.

    Arguments:
        generators: the config's ``generators``.
        sweep: the config's ``entanglement`` section (``generator``, ``argument``, ``values``).

    Raises:
        ConfigError: the swept generator is not configured, or no values are given.
    """
    base = sweep.get("generator")
    if base not in generators:
        raise ConfigError(f"entanglement.generator: {base!r} is not a key of generators {sorted(generators)}")
    values = list(sweep.get("values") or [])
    if not values:
        raise ConfigError("entanglement.values: give at least one value of entanglement.argument")
    entry, argument = generators[base], sweep["argument"]
    out = {}
    for value in values:
        gen = dict(entry["generator"])
        if gen.get("kind") == "python":
            gen["kwargs"] = {**dict(gen.get("kwargs") or {}), argument: value}
        else:
            gen[argument] = value
        out[value] = (setting_name(base, entry, argument, value), {**dict(entry), "generator": gen})
    return out


def entanglement_table(
    frames: Iterable[pd.DataFrame], settings: Mapping[str, float], argument: str, judge: str
) -> pd.DataFrame:
    """Largest-column KL per (setting, method), judged by ``judge``.

    Arguments:
        frames: Table-2 per-seed rows (``generator, method, seed, judge, N, kl_*``) of every setting.
        settings: generator name -> swept value.
        argument: the swept argument's name (the value column's name).
        judge: the judge whose labels count (``oracle``, a classifier role).

    Returns:
        One row per (value, method): ``worst_column``, ``max_kl`` (the largest of the per-column means over
        seeds), ``max_kl_std`` (that column's std over seeds), ``seeds``, ``N`` and the generator name.
    """
    df = pd.concat(list(frames), ignore_index=True)
    df = df[df["generator"].isin(settings) & (df["judge"] == judge)]
    if df.empty:
        raise ValueError(
            f"entanglement.judge: no Table-2 rows judged by {judge!r} for generators {sorted(settings)}"
        )
    cols = [c for c in df.columns if c.startswith("kl_") and not c.endswith("_joint")]
    rows = []
    for (gen, method), part in df.groupby(["generator", "method"], sort=False):
        mean, std = part[cols].mean(), part[cols].std(ddof=1)
        worst = str(mean.idxmax()) if mean.notna().any() else cols[0]  # a failed method: every KL empty
        rows.append(
            {
                argument: settings[gen],
                "method": method,
                "judge": judge,
                "max_kl": float(mean[worst]),
                "max_kl_std": float(std[worst]),
                "worst_column": worst.removeprefix("kl_"),
                "seeds": part["seed"].nunique(),
                "N": int(part[n_col if (n_col := f"N_{worst.removeprefix('kl_')}") in part else "N"].iloc[0]),
                "generator": gen,
            }
        )
    return pd.DataFrame(rows).sort_values(argument, kind="stable").reset_index(drop=True)
