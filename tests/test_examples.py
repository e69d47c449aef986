"""The usage examples in the public entry points' docstrings run, and show what they say.

Each entry class or function below carries a short ``>>>`` example in its own
docstring (its methods' docstrings do not count), in the manner of
prometheus client_python's ``Counter``.  Here every example runs with
``doctest`` in the globals of its module, and none may fail.  An example
line marked ``# doctest: +SKIP`` (a replay's ``run``, which needs the sample
photos) is not run and does not count.
"""

from __future__ import annotations

import doctest
import io
import sys
from collections.abc import Callable

import pytest

from egate.biometrics.matching import MatchingCore
from egate.biometrics.verifier import FaceVerifier
from egate.documents.mrz import parse_mrz
from egate.gate.controller import GateController
from hardware.door import DoorController
from hardware.reader import SerialMrzReader
from simulation.hall import Hall
from station.service import GateService
from station.training.replay import Replay

ENTRY_POINTS: list[type | Callable[..., object]] = [
    GateController,
    GateService,
    MatchingCore,
    FaceVerifier,
    SerialMrzReader,
    DoorController,
    Hall,
    Replay,
    parse_mrz,
]
# Examples on pseudo-terminals carry the ``hardware`` mark, as the driver tests do.
ON_PSEUDO_TERMINALS = {GateService, DoorController}


def examples_of(entry: type | Callable[..., object]) -> list[doctest.DocTest]:
    """The doctests of ``entry``'s own docstring (not its methods'), in its module's globals."""
    module = sys.modules[entry.__module__]
    finder = doctest.DocTestFinder(recurse=False)
    found = finder.find(entry, entry.__qualname__, module=module, globs=vars(module).copy())
    return [test for test in found if test.examples]


def runnable(test: doctest.DocTest) -> int:
    """How many of ``test``'s examples are not skipped."""
    return sum(not example.options.get(doctest.SKIP, False) for example in test.examples)


@pytest.mark.parametrize(
    "entry",
    [
        pytest.param(
            entry,
            id=entry.__qualname__,
            marks=[pytest.mark.hardware] if entry in ON_PSEUDO_TERMINALS else [],
        )
        for entry in ENTRY_POINTS
    ],
)
def test_the_usage_example_runs(entry: type | Callable[..., object]) -> None:
    tests = examples_of(entry)
    assert tests, f"{entry.__qualname__}'s docstring has no example"
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    report = io.StringIO()
    for test in tests:
        runner.run(test, out=report.write)
    results = runner.summarize(verbose=False)
    assert results.failed == 0, report.getvalue()
    # Every example that is not marked +SKIP ran, and there was at least one.
    assert results.attempted == sum(map(runnable, tests)) > 0
