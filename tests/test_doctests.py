"""Every docstring example in promptgen/ and eval/ runs, so an example cannot drift from the code."""

import doctest
import importlib
import pkgutil

import pytest

import eval as eval_package
import promptgen

MODULES = sorted(
    info.name
    for package in (promptgen, eval_package)
    for info in pkgutil.walk_packages(package.__path__, f"{package.__name__}.")
    if not info.name.endswith("__main__")
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_pass(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{name}: {result.failed} of {result.attempted} doctest examples failed"


def test_core_modules_have_examples() -> None:
    finder = doctest.DocTestFinder()
    for name in ("promptgen.flows", "promptgen.kl"):
        examples = sum(len(t.examples) for t in finder.find(importlib.import_module(name)))
        assert examples >= 3, f"{name}: expected docstring examples, found {examples}"
