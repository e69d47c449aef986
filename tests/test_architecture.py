"""The dependency rules of docs/architecture.md, checked on the source.

* The core (``egate`` less its command line) imports none of ``hardware``,
  ``station`` and ``simulation``: they import it.  The command line
  (``egate/cli/``) is the one place that wires them together.
* The drivers (``hardware``, emulators included) import the core only; the
  on-gate application (``station``) imports drivers and core, never the
  simulation; the simulation imports the core only.
* The core owns no clock: only the command line (``egate/cli/``, the wiring
  layer) may read the real time; everything else is handed ``now``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CORE = ROOT / "egate"
WIRING = CORE / "cli"
OUTER_PACKAGES = {"hardware", "simulation", "station"}
# What each outer package may not import (beyond itself and the core).
FORBIDDEN = {
    "hardware": {"station", "simulation"},
    "station": {"simulation"},
    "simulation": {"hardware", "station"},
}
# Calls that read the wall clock.  (Monotonic timers that measure a duration
# are not in this list.)
CLOCK_READS = {
    "datetime.datetime.now",
    "datetime.datetime.utcnow",
    "datetime.datetime.today",
    "datetime.date.today",
    "time.time",
    "time.time_ns",
}


def core_modules() -> list[Path]:
    return sorted(CORE.rglob("*.py"))


def module_id(path: Path) -> str:
    return str(path.relative_to(ROOT))


def imported_modules(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """(line, module) of every import, including those inside functions."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module
            for alias in node.names:
                yield node.lineno, f"{node.module}.{alias.name}"


def clock_reads(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """(line, name) of every use of a wall-clock function, however it was imported."""
    # What each local name stands for: `import datetime as dt` -> dt: datetime,
    # `from datetime import date` -> date: datetime.date.
    bound: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                bound[alias.asname or alias.name.split(".")[0]] = (
                    alias.name if alias.asname else alias.name.split(".")[0]
                )
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            for alias in node.names:
                qualified = f"{node.module}.{alias.name}"
                bound[alias.asname or alias.name] = qualified
                if qualified in CLOCK_READS:
                    yield node.lineno, qualified

    def qualified_name(node: ast.expr) -> str | None:
        if isinstance(node, ast.Name):
            return bound.get(node.id)
        if isinstance(node, ast.Attribute):
            base = qualified_name(node.value)
            return None if base is None else f"{base}.{node.attr}"
        return None

    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            name = qualified_name(node)
            if name in CLOCK_READS:
                yield node.lineno, name


def parse(path: Path) -> ast.AST:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def test_the_core_is_found():
    modules = {module_id(path) for path in core_modules()}
    assert {"egate/config.py", "egate/documents/policy.py", "egate/cli/main.py"} <= modules


@pytest.mark.parametrize(
    "path",
    [path for path in core_modules() if not path.is_relative_to(WIRING)],
    ids=module_id,
)
def test_the_core_imports_no_outer_package(path: Path):
    offending = [
        f"{module_id(path)}:{line}: imports {module}"
        for line, module in imported_modules(parse(path))
        if module.split(".")[0] in OUTER_PACKAGES
    ]
    assert offending == []


@pytest.mark.parametrize(
    "path",
    [path for package in FORBIDDEN for path in sorted((ROOT / package).rglob("*.py"))],
    ids=module_id,
)
def test_each_room_imports_only_what_it_may(path: Path):
    package = path.relative_to(ROOT).parts[0]
    offending = [
        f"{module_id(path)}:{line}: imports {module}"
        for line, module in imported_modules(parse(path))
        if module.split(".")[0] in FORBIDDEN[package]
    ]
    assert offending == []


@pytest.mark.parametrize(
    "path",
    [path for path in core_modules() if not path.is_relative_to(WIRING)],
    ids=module_id,
)
def test_the_core_reads_no_clock(path: Path):
    offending = [f"{module_id(path)}:{line}: {name}" for line, name in clock_reads(parse(path))]
    assert offending == []


SNIPPETS = {
    "import hardware": ("import hardware.door\n", True, False),
    "from station": ("from station.service import GateService\n", True, False),
    "from simulation": ("def f():\n    from simulation.arrivals import Poisson\n", True, False),
    "datetime.now": ("from datetime import datetime\nx = datetime.now()\n", False, True),
    "module datetime": ("import datetime\nx = datetime.datetime.utcnow()\n", False, True),
    "date.today": ("from datetime import date\nx = date.today()\n", False, True),
    "aliased": ("import datetime as dt\nx = dt.date.today\n", False, True),
    "time.time": ("import time\nstarted = time.time()\n", False, True),
    "from time import": ("from time import time\n", False, True),
    "clean": (
        "import datetime\nfrom egate.hardware_like import x\nx = datetime.date(2026, 11, 26)\n",
        False,
        False,
    ),
}


@pytest.mark.parametrize(("source", "imports", "clock"), SNIPPETS.values(), ids=SNIPPETS.keys())
def test_the_checks_see_what_they_look_for(source, imports, clock):
    tree = ast.parse(source)
    found_imports = any(
        module.split(".")[0] in OUTER_PACKAGES for _, module in imported_modules(tree)
    )
    assert found_imports is imports
    assert any(True for _ in clock_reads(tree)) is clock


def test_the_controllers_words_load_nothing_heavy():
    """The gate controller and its vocabulary import neither numpy nor OpenCV (nor dlib):
    the capacity model and the drivers name its words without paying for face matching."""
    import subprocess
    import sys

    probe = (
        "import sys, egate.gate, egate.gate.events, egate.gate.commands, egate.biometrics.decision;"
        "print(sorted(m for m in ('numpy', 'cv2', 'dlib', 'PIL') if m in sys.modules))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert loaded == "[]"


def test_the_vocabulary_is_defined_once():
    """Decision, ChipStatus and Signal each have one definition in the source tree."""
    definitions: dict[str, list[str]] = {"Decision": [], "ChipStatus": [], "Signal": []}
    for package in ("egate", "hardware", "station", "simulation"):
        for path in sorted((ROOT / package).rglob("*.py")):
            for node in ast.walk(parse(path)):
                if isinstance(node, ast.ClassDef) and node.name in definitions:
                    definitions[node.name].append(module_id(path))
    assert definitions == {
        "Decision": ["egate/biometrics/decision.py"],
        "ChipStatus": ["egate/gate/events.py"],
        "Signal": ["egate/gate/commands.py"],
    }
