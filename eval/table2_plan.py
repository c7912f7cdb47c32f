"""Table 2's job plan at DAG time: the methods each generator runs and the files each target needs.

Snakemake's rules (workflow/rules/table2.smk) call this; it builds each method once from its config entry
(cheap: no model is loaded) to read what it declares (``trains``, ``needs``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from eval.specs import generator_section
from eval.table2 import method_names, table2_group_weights
from promptgen.methods import (
    DebiasMethod,
    build_method,
    check_needs,
    class_scale,
    generator_provides,
    missing_needs,
)
from promptgen.registry import ConfigError

__all__ = ["Table2Plan"]


class Table2Plan:
    """Methods per generator, validated once; paths of every (generator, seed, task, method) output.

    Arguments:
        config: the validated pipeline config.
        results: maps a path under the results directory to its full path (the rules' ``R``).

    Raises:
        ConfigError: an unknown generator, method or ``generator_methods`` key; overlapping ``seeds`` and
            ``tuning_seeds``; a method whose needs its generator does not provide (one line naming both); a
            ``class_weights`` or ``group_weights`` entry that names no class or group of the table.
    """

    def __init__(self, config: Mapping[str, Any], results: Callable[[str], str]):
        self.config, self.t2, self.results = config, config["table2"], results
        self.base: dict[str, str] = {}  # derived generator name -> the generator whose methods it runs
        self._methods: dict[str, dict[str, DebiasMethod]] = {}
        extra = sorted(set(self.t2["generator_methods"]) - set(self.t2["generators"]))
        if extra:
            raise ConfigError(
                f"table2.generator_methods: {extra} not in table2.generators {self.t2['generators']}"
            )
        overlap = sorted(set(self.t2["seeds"]) & set(self.t2["tuning_seeds"]))
        if overlap:
            raise ConfigError(
                f"table2.seeds and table2.tuning_seeds share {overlap}: reported seeds must not be the ones "
                "settings were chosen on"
            )
        table2_group_weights(self.t2)
        for gen in self.t2["generators"]:
            self.methods_of(gen)
            own = (self.t2.get("generator_train") or {}).get(gen) or {}
            section = generator_section(self.t2, gen, "table2")
            where = f"table2.generator_train.{gen}.class_weights" if "class_weights" in own else None
            class_scale(
                section.get("class_weights") or {},
                self.t2["attributes"],
                section["weight"],
                where or "table2.class_weights",
            )

    def methods_of(self, gen: str) -> dict[str, DebiasMethod]:
        """{method name: built method} of one configured generator (a derived one runs its base's)."""
        if gen not in self._methods:
            if gen not in self.config["generators"]:
                raise ConfigError(f"table2.generators: {gen!r} is not a key of generators")
            provides = generator_provides(self.config["generators"][gen])
            base = self.base.get(gen, gen)
            listed = base in (self.t2.get("generator_methods") or {})
            out = {}
            for name in method_names(self.t2, base):
                method = build_method(self.t2["methods"][name], f"table2.methods.{name}")
                if listed:  # configured for this generator: a capability it lacks is an error
                    check_needs(name, method, gen, provides)
                elif missing_needs(method, provides):  # by default, every method the generator can run
                    continue
                out[name] = method
            self._methods[gen] = out
        return self._methods[gen]

    def csvs(self, seeds: Iterable[int], task: str, suffix: str = "csv", gens: Iterable[str] | None = None):
        """Every (generator, method, seed) file of one task (``columns`` or ``joint``)."""
        return [
            self.results(f"table2/{gen}/seed{seed}/{task}/{method}.{suffix}")
            for gen in (self.t2["generators"] if gens is None else gens)
            for method in self.methods_of(gen)
            for seed in seeds
        ]

    def fit(self, gen: str, seed: int | str, method: str) -> str:
        """One method's training status file (its training job's output, in the method's state folder)."""
        return self.results(f"table2/{gen}/seed{seed}/fit/{method}/status.json")

    def fits(self, gen: str, seed: int | str) -> list[str]:
        """The training status files of every method of ``gen`` that has a training stage."""
        return [self.fit(gen, seed, name) for name, method in self.methods_of(gen).items() if method.trains]

    def state(self, wildcards) -> list[str]:
        """A method's training status file (its training job's output), or none for a method without one."""
        if self.methods_of(wildcards.gen)[wildcards.method].trains:
            return [self.fit(wildcards.gen, wildcards.seed, wildcards.method)]
        return []
