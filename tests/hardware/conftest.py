"""Fixtures for the device tests: pseudo-terminals, quick link settings, polling.

Helpers are handed out as fixtures rather than imported, so that this file
never competes with ``tests/conftest.py`` for the module name ``conftest``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

import pytest

from hardware.emulators.pty import PseudoTerminal
from hardware.link import SerialSettings
from hardware.reader import ReaderEvent, SerialMrzReader

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
