"""A small registry keyed by ``kind``, shared by generators, control models and energies."""

from __future__ import annotations

import functools
import importlib
import inspect
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["ConfigError", "Registry", "import_object", "import_oracle"]


class ConfigError(ValueError):
    """A configuration entry is malformed; the message names the offending key or value."""


def import_object(spec: str, *, key: str = "python") -> Any:
    """Import ``"package.module:attribute"``; errors name the config key that held ``spec``."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise ConfigError(f"{key}: expected 'package.module:factory', got {spec!r}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise ConfigError(f"{key}: cannot import module {module_name!r} ({err})") from err
    try:
        return getattr(module, attr)
    except AttributeError as err:
        raise ConfigError(f"{key}: module {module_name!r} has no attribute {attr!r}") from err


def import_oracle(gen_cfg: Mapping[str, Any], gen_name: str) -> Callable[..., Any]:
    """A generator entry's oracle (``generators.<gen_name>.oracle``), called as ``oracle(z, psi)``.

    The generator's keyword arguments that the oracle's signature names (e.g. ``seed``) are bound, so
    the oracle labels the world this generator renders.

    Arguments:
        gen_cfg: the entry ``generators.<gen_name>`` (keys ``oracle`` and ``generator``).
        gen_name: its name, for error messages.

    Returns:
        The oracle with those arguments bound.
    """
    oracle = import_object(gen_cfg["oracle"], key=f"generators.{gen_name}.oracle")
    names = set(inspect.signature(oracle).parameters) - {"z", "psi"}
    bound = {k: v for k, v in dict(gen_cfg.get("generator") or {}).items() if k in names}
    return functools.partial(oracle, **bound) if bound else oracle


class Registry:
    """Maps a config entry's ``kind`` to a factory.

    Every entry is a mapping with a ``kind`` key; the other keys are the factory's keyword arguments.
    The built-in kind ``python`` takes ``python: "package.module:factory"`` and ``kwargs``, so users add
    their own parts without touching this package.

    Arguments:
        what: what the registry builds, used in error messages (e.g. ``"generator"``).
    """

    def __init__(self, what: str):
        self.what = what
        self._factories: dict[str, Callable[..., Any]] = {}

    def register(self, kind: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        def decorator(factory: Callable[..., Any]) -> Callable[..., Any]:
            self._factories[kind] = factory
            return factory

        return decorator

    @property
    def kinds(self) -> list[str]:
        return sorted([*self._factories, "python"])

    def build(self, entry: Mapping[str, Any], *, where: str | None = None, **extra: Any) -> Any:
        """Build the object an entry describes; ``extra`` keyword arguments go to the factory."""
        where = where or self.what
        if not isinstance(entry, Mapping):
            raise ConfigError(f"{where}: expected a mapping with a 'kind' key, got {entry!r}")
        if "kind" not in entry:
            raise ConfigError(f"{where}: missing key 'kind' (one of {', '.join(self.kinds)})")
        kind = entry["kind"]
        args = {k: v for k, v in entry.items() if k != "kind"}
        if kind == "python":
            return self._build_python(args, where, extra)
        if kind not in self._factories:
            raise ConfigError(
                f"{where}.kind: unknown {self.what} kind {kind!r} (one of {', '.join(self.kinds)})"
            )
        factory = self._factories[kind]
        try:
            return factory(**args, **extra)
        except TypeError as err:
            if "argument" in str(err) and factory.__name__ in str(err):
                raise ConfigError(f"{where}: bad keys for {self.what} kind {kind!r}: {err}") from err
            raise

    def _build_python(self, args: dict[str, Any], where: str, extra: dict[str, Any]) -> Any:
        unknown = set(args) - {"python", "kwargs"}
        if unknown:
            raise ConfigError(f"{where}: unknown keys {sorted(unknown)} for kind 'python' (use 'kwargs')")
        if "python" not in args:
            raise ConfigError(f"{where}.python: missing 'package.module:factory' for kind 'python'")
        factory = import_object(args["python"], key=f"{where}.python")
        return factory(**dict(args.get("kwargs") or {}), **extra)
