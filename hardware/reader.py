"""Passport readers: what the gate needs from one, and the driver for serial MRZ readers.

The gate asks a reader one thing, over and over: ``poll(now)``, the documents
read (``DocumentRead``, the parsed MRZ whether valid or not) and the reads
that failed (``ReadFailed``, with the raw bytes and why) since the last call.
``state`` says whether the device is there.

``SerialMrzReader`` is the driver that runs on the gate and, in mock mode,
against an emulator on a pseudo-terminal: it reads a ``SerialLink``, feeds
the bytes to the configured framing and parses each frame with
``parse_mrz``. When the device vanishes it reports ``disconnected`` and tries
again on later polls, backing off, without ever sleeping itself; documents
sent once the device is back are read as usual.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from typing import Protocol

from egate.documents.mrz import MrzFormatError, MrzResult, parse_mrz
from hardware.framing import (
    DEFAULT_IDLE_TIMEOUT_S,
    FrameEvent,
    Framing,
    Misread,
    make_framing,
)
from hardware.link import LinkDown, LinkState, SerialLink, SerialSettings

# More than any MRZ frame: one read takes everything that has arrived.
_READ_CHUNK = 4096


@dataclass(frozen=True, slots=True, repr=False)
class DocumentRead:
    """A frame that holds an MRZ: the parse result (valid or not), its bytes and lines."""

    result: MrzResult
    raw: bytes
    lines: tuple[str, ...]

    def __repr__(self) -> str:
        # The MRZ is personal data: keep it out of logs that print events.
        return f"DocumentRead({self.result!r}, raw=<{len(self.raw)} bytes>)"


@dataclass(frozen=True, slots=True, repr=False)
class ReadFailed:
    """Bytes that gave no MRZ: a misread frame, noise, or lines that are no MRZ at all."""

    raw: bytes
    reason: str

    def __repr__(self) -> str:
        return f"ReadFailed(raw=<{len(self.raw)} bytes>, reason={self.reason!r})"


ReaderEvent = DocumentRead | ReadFailed


class PassportReader(Protocol):
    """A device that reads the MRZ of the document put on it."""

    @property
    def state(self) -> LinkState:
        """Whether the device is there (``connected``) or being looked for."""
        ...

    def poll(self, now: float) -> list[ReaderEvent]:
        """The reads completed since the last call; returns promptly, never sleeps to retry."""
        ...

    def close(self) -> None:
        """Let go of the device."""
        ...


class SerialMrzReader:
    """An MRZ reader on a serial port, in one of the framings of ``hardware.framing``.

    ``today`` resolves two-digit years in the MRZ. ``poll`` waits at most the
    port's ``read_timeout_s`` for bytes while connected (set it to 0 for a
    poll that never waits) and returns at once while disconnected; a caller
    with nothing else to do then sleeps a little before polling again.
    """

    def __init__(
        self,
        settings: SerialSettings,
        framing: str,
        today: Callable[[], date],
        clock: Callable[[], float] = time.monotonic,
        *,
        idle_timeout_s: float = DEFAULT_IDLE_TIMEOUT_S,
        on_state: Callable[[LinkState], None] | None = None,
    ) -> None:
        self._framing: Framing = make_framing(framing, idle_timeout_s=idle_timeout_s)
        self.framing_name = framing
        self._today = today
        self._clock = clock
        self._link = SerialLink(settings, clock=clock, on_state=on_state)

    def __enter__(self) -> SerialMrzReader:
        self.open()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def link(self) -> SerialLink:
        return self._link

    @property
    def framing(self) -> Framing:
        return self._framing

    @property
    def state(self) -> LinkState:
        return self._link.state

    @property
    def last_error(self) -> str | None:
        """Why the port could not be opened or was lost, last time it happened."""
        return self._link.last_error

    def open(self) -> None:
        """Open the port now; ``LinkError`` (one line) when it cannot be.

        Optional: ``poll`` opens the port itself, and keeps trying, when it is closed.
        """
        self._link.open()

    def close(self) -> None:
        """Close the port; a frame half received is dropped."""
        self._framing.abandon("reader closed")
        self._link.close()

    def poll(self, now: float | None = None) -> list[ReaderEvent]:
        """The documents read and the failed reads since the last call.

        ``now`` is the caller's reading of the same clock (default: read it);
        it schedules reconnection attempts.
        """
        if not self._link.is_open:
            now = self._clock() if now is None else now
            if not self._link.try_reconnect(now):
                return []
        try:
            data = self._link.read(_READ_CHUNK)
        except LinkDown:
            return self._events(self._framing.abandon("link lost in the middle of a frame"))
        arrived = self._clock()
        if data:
            return self._events(self._framing.feed(data, arrived))
        return self._events(self._framing.flush(arrived))

    def _events(self, frames: Iterable[FrameEvent]) -> list[ReaderEvent]:
        events: list[ReaderEvent] = []
        for frame in frames:
            if isinstance(frame, Misread):
                events.append(ReadFailed(frame.raw, frame.reason))
                continue
            try:
                result = parse_mrz(frame.lines, self._today())
            except MrzFormatError as error:
                events.append(ReadFailed(frame.raw, f"not an MRZ: {error}"))
            else:
                events.append(DocumentRead(result, frame.raw, frame.lines))
        return events
