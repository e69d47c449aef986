"""What the gate shows the traveller: a signal (lamp or pictogram) and a short text.

E-gates guide travellers with a few signals: place the passport, wait, look
at the camera, walk through, see an officer, and out of service.  The
``Indicator`` interface carries those signals; an implementation drives a
lamp board or a screen.  Two come with egate: ``TerminalIndicator`` writes
each change as a line (mock mode, a trainer's terminal), and
``RecordingIndicator`` keeps them with their time (tests, replay transcripts).
Texts are instructions, never traveller data: no names, no numbers.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

# The controller's signals: what the indicator shows is what it decided.
from egate.gate.commands import Signal

# Longest text an indicator shows: a gate's screen line, not a paragraph.
MAX_TEXT = 80


COLOURS: dict[Signal, str] = {
    Signal.READY: "green",
    Signal.WAIT: "amber",
    Signal.LOOK: "amber",
    Signal.PASS: "green",
    Signal.OFFICER: "red",
    Signal.CLOSED: "red",
}


class IndicatorError(ValueError):
    """A text an indicator cannot show."""


@dataclass(frozen=True, slots=True)
class Shown:
    """One thing an indicator showed, and when."""

    at: float
    signal: Signal
    text: str


class Indicator(Protocol):
    """Anything that shows the traveller a signal and a short instruction."""

    def show(self, signal: Signal, text: str = "") -> None:
        """Show ``signal`` with ``text`` until the next call."""
        ...

    @property
    def current(self) -> Shown | None:
        """What is shown now, or None before the first call."""
        ...


def _checked(text: str) -> str:
    if len(text) > MAX_TEXT or not text.isprintable():
        raise IndicatorError(f"indicator text must be printable and at most {MAX_TEXT} characters")
    return text


class RecordingIndicator:
    """Keeps every signal shown, with its time: for tests and replay transcripts."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self.history: list[Shown] = []

    def show(self, signal: Signal, text: str = "") -> None:
        """Record ``signal`` and ``text``; showing the same twice records it once."""
        shown = Shown(self._clock(), signal, _checked(text))
        if self.current is None or (self.current.signal, self.current.text) != (signal, text):
            self.history.append(shown)

    @property
    def current(self) -> Shown | None:
        """The last signal shown."""
        return self.history[-1] if self.history else None


class TerminalIndicator(RecordingIndicator):
    """Writes each change as one line, e.g. ``[gate mock-1] PASS (green): please walk through``."""

    def __init__(
        self,
        gate_id: str,
        write: Callable[[str], None] = print,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(clock)
        self._gate_id = gate_id
        self._write = write

    def show(self, signal: Signal, text: str = "") -> None:
        """Record and write the change (repeats are not written again)."""
        before = len(self.history)
        super().show(signal, text)
        if len(self.history) > before:
            suffix = f": {text}" if text else ""
            self._write(f"[gate {self._gate_id}] {signal.name} ({COLOURS[signal]}){suffix}")
