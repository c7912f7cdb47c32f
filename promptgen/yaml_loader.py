"""YAML as users write it: ``3e-3`` is a number.

PyYAML follows YAML 1.1, whose floats need a dot (``3.0e-3``), so ``lr: 3e-3`` would be read as the string
``"3e-3"``. :data:`Loader` is PyYAML's safe loader with YAML 1.2's float syntax added.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from promptgen.registry import ConfigError

__all__ = ["FLOAT_PATTERN", "Loader", "load_yaml", "number_from_string"]

# YAML 1.2 core schema floats without a dot (YAML 1.1 resolves the ones with a dot already)
FLOAT_PATTERN = re.compile(r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)$")


class Loader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that also reads ``1e-3``, ``-2E5`` and ``.5e1`` as floats."""


Loader.add_implicit_resolver("tag:yaml.org,2002:float", FLOAT_PATTERN, list("-+.0123456789"))


def number_from_string(value: str) -> float | None:
    """``value`` as a float when it is a YAML 1.2 float that YAML 1.1 left a string, else ``None``."""
    return float(value) if FLOAT_PATTERN.match(value.strip()) else None


def load_yaml(path: str | Path) -> Any:
    """Read a YAML file with :data:`Loader`; a missing or malformed file is a one-line ConfigError."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: file not found")
    try:
        return yaml.load(path.read_text(), Loader=Loader)  # noqa: S506 - Loader is a SafeLoader
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise ConfigError(f"{path}: not valid YAML{where} ({problem})") from err
