"""Real-browser fixtures: Debian's chromium driven by Playwright, and a classroom console
serving a short drill (``egate replay DRILL --console``) as a process of its own.

Playwright's own browser download is never used: the browser is the system's
``chromium`` (``./bootstrap test`` installs Debian's package when it can).
Without it, or without the Playwright package, the browser tests skip, unless
the environment variable ``CI`` is set: CI must run them, so there they fail.

Timeouts here are safety nets against a hung test, never measurements.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from egate.samples import SampleError, fetch_samples

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

FALLBACK_CHROMIUM = "/usr/bin/chromium"
# Without the networking flags chromium keeps trying to reach Google's services,
# which on a machine without a network only costs time and log noise.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# Safety nets, not measurements.
CONSOLE_START_S = 120.0
WAIT_MS = 30_000
STOP_S = 15.0

EGATE_SCRIPT = Path(sys.executable).parent / "egate"
_URL = re.compile(r"\b(instructor|desk|viewers?)\b\s*:\s*(https?://\S+)", re.IGNORECASE)


def skip_or_fail(reason: str) -> None:
    """Skip the browser tests for ``reason``; under CI (``CI`` set) fail them instead."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; CI must run the browser tests", pytrace=False)
    pytest.skip(reason)


def chromium_binary() -> str:
    """The system chromium's path; skips (fails under CI) when there is none."""
    found = shutil.which("chromium")
    if found is None and os.access(FALLBACK_CHROMIUM, os.X_OK):
        found = FALLBACK_CHROMIUM
    if found is None:
        skip_or_fail(f"no chromium on PATH or at {FALLBACK_CHROMIUM} (apt-get install chromium)")
    assert found is not None
    return found


# Module scope, not session: Playwright's synchronous API keeps an asyncio loop
# running in the main thread while it is open, and the tests that run after
# these (asyncio.run, Starlette's TestClient) must find none.
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One headless chromium for the tests of a module."""
    executable = chromium_binary()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        skip_or_fail("the playwright package is not installed (pip install -e '.[dev]')")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh page in a context of its own (cookies and storage are not shared)."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(WAIT_MS)
    opened = context.new_page()
    try:
        yield opened
    finally:
        context.close()


# --- a console serving a short drill ---------------------------------------------


def _document(surname: str, given: str, number: str, birth: str, expiry: str) -> str:
    return (
        f"{{issuing_state: CHN, surname: {surname}, given_names: {given}, number: {number}, "
        f"birth_date: {birth}, sex: M, expiry_date: {expiry}}}"
    )


# Two gates. B1 genuine at G1; B2 an impostor on B1's look-alike's passport at
# G2, referred on the face to the trainee desk (expected: refuse, impostor);
# B3 genuine, after them, looking away at the first capture (guided, then
# accepted); B4 genuine, arriving late, so that the replay is
# still running (not finished) while the tests pause, step and inject faults.
DRILL = f"""\
name: Browser drill
description: Four travellers at two gates for the browser tests; one impostor.
start: 2026-03-14T08:10:00+08:00
gates:
  count: 2
passengers:
  - id: B1
    arrives: 08:10:01
    gate: G1
    document: {_document("WANG", "ZHIHENG", "EC3018452", "1980-05-12", "2031-07-08")}
    chip: samples:obama
    face: samples:obama2
    expected: accepted
  - id: B2
    kind: impostor
    arrives: 08:10:02
    gate: G2
    document: {_document("LI", "GUOQIANG", "EC4720961", "1976-10-03", "2030-02-14")}
    chip: samples:obama
    face: samples:biden
    expected: {{outcome: referred, reason: BIOMETRIC_MISMATCH}}
  - id: B3
    arrives: 08:10:20
    document: {_document("ZHAO", "DEMING", "EC1597304", "1962-11-20", "2028-06-30")}
    chip: samples:biden
    face: {{frames: [none, {{photo: samples:biden, brightness: 0.9}}]}}
    expected: accepted
  - id: B4
    arrives: 08:18:00
    gate: G1
    document: {_document("HUANG", "LEI", "EC3950187", "1987-03-02", "2031-08-15")}
    chip: samples:obama2
    face: samples:obama3
    expected: accepted
"""
IMPOSTOR = "B2"
GATES = ("G1", "G2")


def write_drill(folder: Path) -> Path:
    """The browser drill as a scenario file in ``folder``."""
    path = folder / "browser-drill.yaml"
    path.write_text(DRILL, encoding="utf-8")
    return path


@dataclass(frozen=True)
class RunningConsole:
    """A console process and the addresses it printed for each role."""

    process: subprocess.Popen[bytes]
    instructor: str
    desk: str
    viewer: str
    log: Path

    def output(self) -> str:
        """What the process has printed so far (stdout and stderr together)."""
        return self.log.read_text(encoding="utf-8", errors="replace")


def parse_urls(text: str) -> dict[str, str]:
    """The role URLs in a console's start-up output: ``{"instructor": ..., "desk": ...,
    "viewer": ...}`` (as many as were printed)."""
    found: dict[str, str] = {}
    for match in _URL.finditer(text):
        role = match.group(1).lower().removesuffix("s")
        found.setdefault(role, match.group(2).rstrip(".,;)"))
    return found


def _stop(process: subprocess.Popen[bytes], log: Path) -> None:
    """Interrupt the console as Ctrl-C would, and fail unless it then ends cleanly (exit 0:
    a console ends only when told to, browsers connected or not)."""
    if process.poll() is not None:
        pytest.fail(
            f"the console ended by itself ({process.returncode}) during the tests:\n{_tail(log)}",
            pytrace=False,
        )
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=STOP_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=STOP_S)
        pytest.fail(f"the console did not stop on Ctrl-C:\n{_tail(log)}", pytrace=False)
    if process.returncode != 0:
        pytest.fail(
            f"the console exited {process.returncode} on Ctrl-C:\n{_tail(log)}", pytrace=False
        )


def _tail(log: Path, lines: int = 40) -> str:
    return "\n".join(log.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])


def start_console(folder: Path, *extra: str) -> Iterator[RunningConsole]:
    """Run ``egate replay DRILL --console --port 0`` until the generator is closed."""
    try:
        fetch_samples()
    except SampleError as error:
        pytest.skip(f"sample faces unavailable (no network or registry?): {error}")
    drill = write_drill(folder)
    log = folder / "console.log"
    env = {key: value for key, value in os.environ.items() if key != "FORCE_COLOR"}
    env["COLUMNS"] = "200"
    env["PYTHONUNBUFFERED"] = "1"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [str(EGATE_SCRIPT), "replay", str(drill), "--console", "--port", "0", *extra],
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=folder,
        )
    started = False
    try:
        deadline = time.monotonic() + CONSOLE_START_S
        urls: dict[str, str] = {}
        while time.monotonic() < deadline:
            urls = parse_urls(log.read_text(encoding="utf-8", errors="replace"))
            if {"instructor", "desk", "viewer"} <= urls.keys():
                break
            if process.poll() is not None:
                pytest.fail(
                    f"egate replay --console ended ({process.returncode}) before printing its "
                    f"URLs:\n{_tail(log)}",
                    pytrace=False,
                )
            time.sleep(0.1)
        else:
            pytest.fail(
                f"egate replay --console printed no URLs for every role:\n{_tail(log)}",
                pytrace=False,
            )
        started = True
        yield RunningConsole(process, urls["instructor"], urls["desk"], urls["viewer"], log)
    finally:
        if started:
            _stop(process, log)
        elif process.poll() is None:
            process.kill()
            process.wait(timeout=STOP_S)


@pytest.fixture(scope="module")
def console(browser: Browser, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningConsole]:
    """One console per test module, serving the browser drill (the browser is asked for
    first, so that a machine without chromium skips before any replay starts)."""
    yield from start_console(tmp_path_factory.mktemp("console"))
