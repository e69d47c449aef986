"""Shared fixtures: the command line in-process and as a process; device pseudo-terminals;
the optional folder of face photos."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest

from egate.cli.main import main
from hardware.emulators.pty import PseudoTerminal
from hardware.link import SerialSettings
from hardware.reader import ReaderEvent, SerialMrzReader


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


# --- the optional folder of face photos ----------------------------------------

# The setting that names a folder of face photos (layout: docs/biometrics.md,
# "Sample photos"); tests marked ``faces`` use it and skip without it.
FACES_DIR_VARIABLE = "EGATE_FACES_DIR"
# When the setting is unset: the face photo folder of the development setup,
# shared/faces beside the checkout (see docs/biometrics.md).
DEVELOPMENT_FACES_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "faces"


def faces_dir() -> Path:
    """The folder of face photos: ``$EGATE_FACES_DIR``, else the development setup's."""
    configured = os.environ.get(FACES_DIR_VARIABLE)
    return Path(configured).expanduser() if configured else DEVELOPMENT_FACES_DIR


@pytest.fixture(scope="session")
def face_folder() -> Path:
    """The folder of face photos, or a skip on machines without one."""
    folder = faces_dir().resolve()
    if not (folder / "identities").is_dir():
        pytest.skip(
            f"no face photos in {folder} (optional: set {FACES_DIR_VARIABLE}"
            " to a folder laid out as docs/biometrics.md says)"
        )
    return folder


# --- devices: pseudo-terminals, quick link settings, polling ---------------------

# A safety net against a hung test, never a measure: tests assert on what
# happened, not on how long it took.
PATIENCE_S = 10.0

SettingsFactory = Callable[..., SerialSettings]
PollUntil = Callable[..., list[ReaderEvent]]


@pytest.fixture
def today() -> date:
    """The gate's date in these tests (resolves two-digit years in MRZs)."""
    return date(2026, 11, 26)


@pytest.fixture
def fast_settings() -> SettingsFactory:
    """``fast_settings(port, **overrides)``: link settings with short waits and backoff."""

    def make(port: str, **overrides: object) -> SerialSettings:
        values: dict[str, object] = {
            "port": port,
            "read_timeout_s": 0.01,
            "reconnect_initial_s": 0.01,
            "reconnect_max_s": 0.05,
        }
        values.update(overrides)
        return SerialSettings.model_validate(values)

    return make


@pytest.fixture
def pty(tmp_path: Path) -> Iterator[PseudoTerminal]:
    """A pseudo-terminal with a symbolic link that follows it across replugs.

    It watches flushes, so an emulator on it starts talking the moment a
    driver has opened the port.
    """
    with PseudoTerminal(link=tmp_path / "ttyEMU0", watch_flushes=True) as terminal:
        yield terminal


@pytest.fixture
def poll_until() -> PollUntil:
    """``poll_until(reader, done)``: poll until ``done(events so far)``, else fail the test."""

    def run(
        reader: SerialMrzReader,
        done: Callable[[list[ReaderEvent]], bool],
        *,
        patience_s: float = PATIENCE_S,
    ) -> list[ReaderEvent]:
        events: list[ReaderEvent] = []
        give_up = time.monotonic() + patience_s
        while not done(events):
            if time.monotonic() > give_up:
                pytest.fail(f"gave up waiting; events so far: {events}")
            events.extend(reader.poll())
        return events

    return run
