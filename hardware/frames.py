"""What a reader framing decodes a serial line into, and what every framing promises.

A framing (``hardware.framing`` names them and makes one) is an incremental
decoder: it is fed bytes as they arrive and returns events, a ``Frame`` (the
lines of one document and its raw bytes) or a ``Misread`` (bytes that did not
make a good frame, and why). This module holds those events, the ``Framing``
protocol every decoder follows, the control bytes and limits they share, and
``StartByteFraming``, the machinery of the framings whose frames open with a
start byte (``hardware.deskoframing``, ``hardware.rteframing``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

SOH = 0x01
STX = 0x02
ETX = 0x03
LF = 0x0A
CR = 0x0D

# No MRZ frame comes near this; anything longer is noise or a lost end marker.
MAX_FRAME_BYTES = 1024
DEFAULT_IDLE_TIMEOUT_S = 0.3


@dataclass(frozen=True, slots=True, repr=False)
class Frame:
    """One document as the reader framed it: its MRZ lines and the bytes they came in."""

    lines: tuple[str, ...]
    raw: bytes

    def __repr__(self) -> str:
        # MRZ lines are personal data: they stay out of logs that print objects.
        return f"Frame(<{len(self.lines)} lines redacted>, raw=<{len(self.raw)} bytes>)"


@dataclass(frozen=True, slots=True, repr=False)
class Misread:
    """Bytes that did not form a good frame, and why."""

    raw: bytes
    reason: str

    def __repr__(self) -> str:
        return f"Misread(raw=<{len(self.raw)} bytes>, reason={self.reason!r})"


FrameEvent = Frame | Misread


class Framing(Protocol):
    """An incremental decoder (and encoder) for one reader framing."""

    name: str
    # Bytes with a meaning in the framing; everything else is data or noise.
    control_bytes: frozenset[int]

    @property
    def buffered(self) -> int:
        """How many bytes the decoder holds (never more than ``MAX_FRAME_BYTES``)."""
        ...

    def feed(self, data: bytes, now: float) -> list[FrameEvent]:
        """Decode ``data`` that arrived at ``now``; the events it completes."""
        ...

    def flush(self, now: float) -> list[FrameEvent]:
        """The line is idle at ``now``: end a frame left incomplete for too long."""
        ...

    def abandon(self, reason: str) -> list[FrameEvent]:
        """Report whatever is buffered as a ``Misread`` (e.g. the link was lost) and reset."""
        ...

    def encode(self, lines: Sequence[str]) -> bytes:
        """The bytes a reader of this framing sends for ``lines``."""
        ...


def mrz_text(data: bytes) -> str:
    """``data`` as text; a byte outside ASCII becomes U+FFFD, which the MRZ checks then report."""
    return data.decode("ascii", "replace")


def encode_line(line: str) -> bytes:
    """An MRZ line as the bytes a reader sends."""
    return line.encode("ascii", "replace")


def checked_idle_timeout(idle_timeout_s: float) -> float:
    """``idle_timeout_s``, or ``ValueError`` when it is not positive."""
    if not idle_timeout_s > 0:
        raise ValueError(f"idle_timeout_s must be positive, got {idle_timeout_s!r}")
    return idle_timeout_s


# --- framings with a start byte ------------------------------------------------


class StartByteFraming:
    """Shared machinery of the framings whose frames open with a start byte.

    Bytes before a start byte are noise, reported when the frame starts, at
    the idle timeout or when there are ``MAX_FRAME_BYTES`` of them. When a
    frame turns out bad, the bytes after its start byte are read again from
    the next start byte among them: a frame cut short by the next one loses
    only itself.
    """

    name: str
    control_bytes: frozenset[int]
    _start: int

    def __init__(self, idle_timeout_s: float) -> None:
        self._idle_timeout_s = checked_idle_timeout(idle_timeout_s)
        self._noise = bytearray()
        self._raw = bytearray()  # the frame being received, from its start byte
        self._last: float | None = None

    @property
    def buffered(self) -> int:
        return len(self._noise) + len(self._raw)

    def feed(self, data: bytes, now: float) -> list[FrameEvent]:
        events = self.flush(now)
        if data:
            self._last = now
            self._consume(bytes(data), events)
        return events

    def flush(self, now: float) -> list[FrameEvent]:
        if self._last is None or now - self._last < self._idle_timeout_s:
            return []
        self._last = None
        events: list[FrameEvent] = []
        self._report_noise(events)
        if self._raw:
            events.append(
                Misread(
                    bytes(self._raw),
                    f"frame incomplete, then no data for {self._idle_timeout_s:g} s",
                )
            )
            self._raw.clear()
        return events

    def abandon(self, reason: str) -> list[FrameEvent]:
        events: list[FrameEvent] = []
        self._report_noise(events)
        if self._raw:
            events.append(Misread(bytes(self._raw), reason))
            self._raw.clear()
        return events

    def _report_noise(self, events: list[FrameEvent]) -> None:
        if self._noise:
            events.append(Misread(bytes(self._noise), f"{len(self._noise)} bytes outside a frame"))
            self._noise.clear()

    def _consume(self, data: bytes, events: list[FrameEvent]) -> None:
        pending = data
        index = 0
        while index < len(pending):
            byte = pending[index]
            index += 1
            if not self._raw:
                if byte == self._start:
                    self._report_noise(events)
                    self._raw.append(byte)
                    self._begin()
                else:
                    self._noise.append(byte)
                    if len(self._noise) >= MAX_FRAME_BYTES:
                        self._report_noise(events)
                continue
            self._raw.append(byte)
            outcome = self._step(byte)
            if outcome is None:
                if len(self._raw) < MAX_FRAME_BYTES:
                    continue
                outcome = BadFrame(f"frame longer than {MAX_FRAME_BYTES} bytes")
            if isinstance(outcome, BadFrame):
                rest = self._reject(outcome, events)
                if rest:
                    pending = rest + pending[index:]
                    index = 0
            else:
                events.append(Frame(outcome, bytes(self._raw)))
                self._raw.clear()

    def _reject(self, bad: BadFrame, events: list[FrameEvent]) -> bytes:
        """Report the frame as a misread up to the next start byte in it; the bytes from there."""
        raw = bytes(self._raw)
        self._raw.clear()
        restart = raw.find(self._start, bad.rescan_from)
        if restart == -1:
            events.append(Misread(raw, bad.reason))
            return b""
        events.append(Misread(raw[:restart], bad.reason))
        return raw[restart:]

    def _begin(self) -> None:
        """A start byte was received: reset the per-frame state."""
        raise NotImplementedError

    def _step(self, byte: int) -> tuple[str, ...] | BadFrame | None:
        """Take ``byte`` (already appended to the frame): the lines when the frame is
        complete, ``BadFrame`` when it cannot be a good frame, None to go on."""
        raise NotImplementedError


@dataclass(frozen=True, slots=True)
class BadFrame:
    """Why a frame is bad, and where to look for the next start byte in it."""

    reason: str
    rescan_from: int = 1


def split_frame_lines(data: bytes, padding: bytes = b"") -> list[str]:
    """The CR-separated lines of ``data``; a final CR ends the last line, LFs are dropped."""
    pieces = data.split(b"\r")
    if pieces[-1] == b"":
        pieces.pop()
    return [mrz_text(piece.replace(b"\n", b"").strip(padding)) for piece in pieces]
