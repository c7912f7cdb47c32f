"""Generators: the protocol, the registry keyed by ``kind``, and composition G∘f (Alg. 1).

Built-in kinds are listed in :data:`BUILTIN_GENERATOR_MODULES` and registered on first use. A user's
generator needs no code here: the config entry ``{kind: python, python: "package.module:factory",
kwargs: {...}}`` calls ``factory(**kwargs, psi=ψ)``, which must return a :class:`Generator`.
"""

from promptgen.generators.base import (
    BUILTIN_GENERATOR_MODULES,
    GENERATORS,
    Generator,
    IdentityGenerator,
    build_generator,
    check_contract,
    check_psi,
    load_builtin_generators,
)

__all__ = [
    "BUILTIN_GENERATOR_MODULES",
    "GENERATORS",
    "Generator",
    "IdentityGenerator",
    "build_generator",
    "check_contract",
    "check_psi",
    "load_builtin_generators",
]
