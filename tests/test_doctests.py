"""The docstring examples of every ``lponet_tf`` module run and give what they show.

Run here with :mod:`doctest` itself, one test per module, rather than with pytest's
``--doctest-modules``: that plugin collects ``lponet_tf/``, outside ``tests/``, where this
suite's conftest (strict mode, the xdist module groups) does not apply, and it reports a
docstring whose examples are all ``# doctest: +SKIP`` (they need a model file or real data)
as a pytest skip, which strict mode would count as a failure. Here a skipped example is
simply not run, as doctest intends; every other example must pass. Same options as pytest's
default (``ELLIPSIS``); examples run in a temporary directory, so none writes into the
repository.
"""
from __future__ import annotations

import doctest
import importlib
import pathlib
import pkgutil

import pytest

import lponet_tf

#: Modules not imported here, and why.
NOT_IMPORTED = {
    # Runs the command line on import (pytest's --doctest-modules leaves __main__.py out too).
    "lponet_tf.export.__main__": "command-line entry point",
}


def _modules():
    path = pathlib.Path(lponet_tf.__file__).parent
    names = ["lponet_tf"] + [m.name for m in pkgutil.walk_packages([str(path)], "lponet_tf.")]
    return [n for n in sorted(names) if n not in NOT_IMPORTED]


@pytest.mark.parametrize("name", _modules())
def test_docstring_examples(name, tmp_path, monkeypatch):
    module = importlib.import_module(name)
    monkeypatch.chdir(tmp_path)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    for test in doctest.DocTestFinder(exclude_empty=True).find(module, name):
        runner.run(test, out=lambda text: print(text, end=""))  # failures show in the report
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples of {name} failed"
