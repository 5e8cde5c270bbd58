"""The runnable examples in the docstrings of ``bno.synth``, ``bno.model`` and ``bno.schema`` hold."""

import doctest
import importlib
import pkgutil

import pytest

import bno.model
import bno.schema  # noqa: F401
import bno.synth

MODULES = sorted(
    ["bno.errors", "bno.files", "bno.schema"]
    + [info.name for package in (bno.synth, bno.model) for info in pkgutil.walk_packages(package.__path__, f"{package.__name__}.")]
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {name}"


def test_the_examples_are_there():
    """The operator modules and the registry each carry at least one example (the style guide asks for it)."""
    counted = {name: doctest.DocTestFinder().find(importlib.import_module(name)) for name in MODULES}
    with_examples = {name for name, tests in counted.items() if any(test.examples for test in tests)}
    assert {"bno.synth.ops", "bno.synth.ops.exposure", "bno.synth.ops.blacks", "bno.synth.ops.vibrance", "bno.synth.dng"} <= with_examples
