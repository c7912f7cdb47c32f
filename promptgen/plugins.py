"""Plugins: packages that add generators, control models, de-biasing methods or commands to PromptGen.

A plugin is an installed package that names a module under the entry-point group ``promptgen.plugins`` in
its ``pyproject.toml``. Importing that module registers the package's kinds in the registries
(:data:`promptgen.generators.GENERATORS`, :data:`promptgen.models.MODELS`, ...); the registries load every
plugin before they look a kind up, so an installed plugin's kinds resolve from config like built-in ones.
A plugin's click commands, named under ``promptgen.commands``, become subcommands of ``promptgen``.

A package ``my_package`` adds its kinds and a command group ``promptgen mine`` with::

    [project.entry-points."promptgen.plugins"]
    mine = "my_package.plugin"

    [project.entry-points."promptgen.commands"]
    mine = "my_package.cli:main"

This project's embedded synthetic world is installed the same way (see pyproject.toml).

Example:
    >>> from promptgen.plugins import load_plugins
    >>> names = load_plugins()  # every installed plugin's kinds are registered now
"""

from __future__ import annotations

import functools
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from promptgen.registry import ConfigError

__all__ = ["COMMANDS_GROUP", "PLUGINS_GROUP", "load_plugins", "plugin_commands"]

PLUGINS_GROUP = "promptgen.plugins"
COMMANDS_GROUP = "promptgen.commands"


def _load(entry: EntryPoint) -> Any:
    try:
        return entry.load()
    except Exception as err:  # noqa: BLE001 - any failure of a plugin's import is reported the same way
        raise ConfigError(f"plugin {entry.name!r} ({entry.value}): cannot be loaded ({err})") from err


@functools.cache
def load_plugins() -> tuple[str, ...]:
    """Import every installed plugin module once; returns the plugins' names."""
    entries = list(entry_points(group=PLUGINS_GROUP))
    for entry in entries:
        _load(entry)  # importing the module (or the module of the named object) registers its kinds
    return tuple(entry.name for entry in entries)


def plugin_commands() -> dict[str, Any]:
    """The click commands that installed plugins add to ``promptgen``, by name."""
    return {entry.name: _load(entry) for entry in entry_points(group=COMMANDS_GROUP)}
