"""How serial MRZ readers wrap a document in bytes: incremental decoders and encoders.

A reader sends each document it reads as a *frame*. Three framings are
implemented, byte by byte as docs/readers.md describes them:

* ``lines``: one MRZ line per CR (or CR LF, or LF), no other markers;
* ``desko``: ``SOD STX line CR line CR [line CR] ETX EOD`` (DESKO's CUTE style);
* ``rte``: ``SOH length "OU" STX flag data ETX BCC`` (3M RTE native style).

A decoder is fed bytes as they arrive, in whatever chunks the port hands
over, with the time they arrived, and returns events: a ``Frame`` (the lines
of one document and its raw bytes) or a ``Misread`` (bytes that did not make
a good frame, and why). Decoders are pure: no I/O and no clock of their own.
The driver calls ``flush(now)`` when the line is idle, so that a frame that
stopped half-way ends after the inter-character timeout instead of waiting
for the next document.

For every framing and any input, a decoder never raises, never holds more
than ``MAX_FRAME_BYTES``, reports every byte that is not part of a good frame
in some ``Misread``, and never lets a bad frame swallow the good frame after
it. The same bytes give the same events however they are chunked.

This module names the framings, makes one (``make_framing``) and holds the
plainest, ``lines``. The events and the protocol every decoder follows are in
``hardware.frames``; the framings with a start byte in
``hardware.deskoframing`` and ``hardware.rteframing``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from hardware.deskoframing import DeskoBytes, DeskoFraming
from hardware.frames import (
    CR,
    DEFAULT_IDLE_TIMEOUT_S,
    LF,
    MAX_FRAME_BYTES,
    Frame,
    FrameEvent,
    Framing,
    Misread,
    checked_idle_timeout,
    encode_line,
    mrz_text,
)
from hardware.rteframing import RteFraming

FramingName = Literal["lines", "desko", "rte"]
FRAMING_NAMES: tuple[FramingName, ...] = ("lines", "desko", "rte")


def make_framing(
    name: str,
    *,
    idle_timeout_s: float = DEFAULT_IDLE_TIMEOUT_S,
    desko: DeskoBytes | None = None,
) -> Framing:
    """A new decoder for the framing called ``name``; ``ValueError`` for unknown names.

    ``desko`` sets the DESKO framing's start and end of data bytes (ignored by
    the other framings).
    """
    if name == "lines":
        return LinesFraming(idle_timeout_s=idle_timeout_s)
    if name == "desko":
        chosen = desko or DeskoBytes()
        return DeskoFraming(idle_timeout_s=idle_timeout_s, sod=chosen.start, eod=chosen.end)
    if name == "rte":
        return RteFraming(idle_timeout_s=idle_timeout_s)
    raise ValueError(f"unknown framing {name!r} (expected one of: {', '.join(FRAMING_NAMES)})")


# --- lines -------------------------------------------------------------------

# Widths a first line may have and still open an MRZ (each format's width
# give or take a few characters, as the MRZ parser tolerates).
_FIRST_LINE_WIDTHS = range(26, 49)
# A first line up to this long is a TD1 (3 lines of 30); longer, 2 lines.
_TD1_MAX_WIDTH = 33


class LinesFraming:
    """One MRZ line per CR, CR LF or LF; the first line's width says how many lines follow.

    A document ends after its format's line count (3 when the first line is
    about 30 characters wide, else 2). A blank line or the idle timeout before
    that ends it as a ``Misread``. A line that cannot open an MRZ (too short,
    too long, or holding non-printable bytes) is a ``Misread`` on its own, so
    junk lines do not swallow the document after them. This framing has no
    start marker: noise glued to the front of a line can only be told apart
    by an idle gap before the document.
    """

    name = "lines"
    control_bytes = frozenset({CR, LF})

    def __init__(
        self, *, idle_timeout_s: float = DEFAULT_IDLE_TIMEOUT_S, terminator: bytes = b"\r"
    ) -> None:
        self._idle_timeout_s = checked_idle_timeout(idle_timeout_s)
        if terminator not in (b"\r", b"\r\n", b"\n"):
            raise ValueError(f"terminator must be CR, CR LF or LF, got {terminator!r}")
        self._terminator = terminator
        self._raw = bytearray()  # the document so far, terminators included
        self._line = bytearray()  # the line being received
        self._lines: list[str] = []
        self._expected = 0
        self._after_cr = False
        self._last: float | None = None

    @property
    def buffered(self) -> int:
        return len(self._raw)

    def feed(self, data: bytes, now: float) -> list[FrameEvent]:
        events = self.flush(now)
        if not data:
            return events
        self._last = now
        for byte in data:
            if byte == LF and self._after_cr:
                # The LF of a CR LF: the line already ended at the CR.
                self._after_cr = False
                if self._raw:
                    self._raw.append(byte)
            else:
                self._after_cr = byte == CR
                self._raw.append(byte)
                if byte in (CR, LF):
                    self._end_line(events)
                else:
                    self._line.append(byte)
            if len(self._raw) >= MAX_FRAME_BYTES:
                self._misread(f"more than {MAX_FRAME_BYTES} bytes without a document", events)
        return events

    def flush(self, now: float) -> list[FrameEvent]:
        if self._last is None or now - self._last < self._idle_timeout_s:
            return []
        self._last = None
        self._after_cr = False
        if not self._raw:
            return []
        if self._lines:
            reason = (
                f"document cut short: {len(self._lines)} of {self._expected} lines, "
                f"then no data for {self._idle_timeout_s:g} s"
            )
        else:
            reason = f"incomplete line, then no data for {self._idle_timeout_s:g} s"
        events: list[FrameEvent] = []
        self._misread(reason, events)
        return events

    def abandon(self, reason: str) -> list[FrameEvent]:
        events: list[FrameEvent] = []
        if self._raw:
            self._misread(reason, events)
        self._after_cr = False
        return events

    def encode(self, lines: Sequence[str]) -> bytes:
        return b"".join(encode_line(line) + self._terminator for line in lines)

    def _misread(self, reason: str, events: list[FrameEvent]) -> None:
        events.append(Misread(bytes(self._raw), reason))
        self._reset()

    def _reset(self) -> None:
        self._raw.clear()
        self._line.clear()
        self._lines.clear()
        self._expected = 0

    def _end_line(self, events: list[FrameEvent]) -> None:
        line = bytes(self._line)
        self._line.clear()
        text = mrz_text(line).strip(" \t")
        if not self._lines:
            if not line:
                # Blank lines between documents carry nothing.
                self._raw.clear()
                return
            printable = all(0x20 <= byte <= 0x7E for byte in line)
            if not printable or len(text) not in _FIRST_LINE_WIDTHS:
                what = "non-printable bytes" if not printable else f"{len(text)} characters"
                self._misread(f"a line of {what} cannot open an MRZ", events)
                return
            self._expected = 3 if len(text) <= _TD1_MAX_WIDTH else 2
        elif not line:
            self._misread(
                f"document cut short by a blank line after {len(self._lines)} of "
                f"{self._expected} lines",
                events,
            )
            return
        self._lines.append(text)
        if len(self._lines) == self._expected:
            events.append(Frame(tuple(self._lines), bytes(self._raw)))
            self._reset()
