"""Shared fixtures: running the command line in-process and as a real process."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from egate.cli.main import main


@dataclass(frozen=True)
class Ran:
    """What a run of ``egate`` left: its exit status and its two outputs."""

    status: int
    out: str
    err: str


RunCli = Callable[..., Ran]


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> RunCli:
    """``cli("mrz", "parse", stdin=b"...")`` runs ``egate.cli.main.main`` in this process."""
    # Wide, colourless tables whatever the terminal running the tests.
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.delenv("FORCE_COLOR", raising=False)

    def run(*argv: str, stdin: bytes = b"") -> Ran:
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin)))
        status = main(list(argv))
        captured = capsys.readouterr()
        return Ran(status, captured.out, captured.err)

    return run


# The console script installed next to this interpreter (by pip install -e).
EGATE_SCRIPT = Path(sys.executable).parent / "egate"
COMMANDS = {"script": [str(EGATE_SCRIPT)], "module": [sys.executable, "-m", "egate"]}

RunProcess = Callable[..., "subprocess.CompletedProcess[bytes]"]


@pytest.fixture
def egate_process() -> RunProcess:
    """``egate_process("mrz", "parse", stdin=b"...", via="script")`` runs egate as a process.

    ``via`` is ``script`` (the installed console script) or ``module``
    (``python -m egate``).  Outputs are bytes.
    """
    env = {key: value for key, value in os.environ.items() if key != "FORCE_COLOR"}
    env["COLUMNS"] = "200"

    def run(
        *argv: str, stdin: bytes = b"", via: str = "script"
    ) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            [*COMMANDS[via], *argv], input=stdin, capture_output=True, env=env, check=False
        )

    return run
