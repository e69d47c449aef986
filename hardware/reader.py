"""Passport readers: what the gate needs from one, and the driver for serial MRZ readers.

The gate asks a reader one thing, over and over: ``poll(now)``, the documents
read (``DocumentRead``, the parsed MRZ whether valid or not) and the reads
that failed (``ReadFailed``, with the raw bytes and why) since the last call.
``state`` says whether the device is there, ``problem`` whether the gate
should count on it.

``ReaderDecoder`` turns a reader's bytes into those events: the configured
framing, then ``parse_mrz`` on each frame. It is pure and total: no byte
sequence, cut into chunks any way, makes it raise; garbage is counted and
reported as ``ReadFailed``. It also notices a port that delivers plenty of
bytes but never one valid frame, which is the signature of a wrong framing
or of another device (a door board, say) on the reader's port.

``SerialMrzReader`` is the driver that runs on the gate and, in mock mode,
against an emulator on a pseudo-terminal: it reads a ``SerialLink`` and feeds
a ``ReaderDecoder``. When the device vanishes it reports ``disconnected`` and
tries again on later polls, backing off, without ever sleeping itself;
documents sent once the device is back are read as usual.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Protocol

from egate.documents.mrz import MrzFormatError, MrzResult, parse_mrz
from hardware.frames import (
    DEFAULT_IDLE_TIMEOUT_S,
    MAX_FRAME_BYTES,
    Frame,
    FrameEvent,
    Framing,
    Misread,
)
from hardware.framing import make_framing
from hardware.link import LinkDown, LinkState, SerialLink, SerialSettings

logger = logging.getLogger(__name__)

# More than any MRZ frame: one read takes everything that has arrived.
_READ_CHUNK = 4096
# A reader sends a valid frame for every document, and its noise comes in
# bytes, not kilobytes; four of the largest frames' worth of bytes without
# one valid frame means the port carries something else.
DEFAULT_NO_FRAME_LIMIT = 4 * MAX_FRAME_BYTES
# At most one log line in this time about what the port's bytes look like,
# however often a flaky line makes it change.
_LOG_INTERVAL_S = 60.0


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


class ReaderCondition(StrEnum):
    """What is known of the device behind a reader's port, beyond the link's state.

    A reader sends nothing until a document is laid on it, so an open port
    alone does not show that the right device, in the right framing, is there:
    the first valid frame does.
    """

    DISCONNECTED = "disconnected"
    CONNECTING = "connecting"
    # The port is open; no valid frame has come since it opened.
    NO_FRAME_YET = "no_frame_yet"
    # Many bytes and not one valid frame: a wrong framing or another device.
    NO_VALID_FRAME = "no_valid_frame"
    # A valid frame has come since the port opened, and nothing contradicts it since.
    CONNECTED = "connected"


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


class ReaderDecoder:
    """A reader's bytes to documents and failed reads; never raises, whatever the bytes.

    Each frame of ``framing`` is parsed with ``parse_mrz`` (``today`` resolves
    two-digit years). The decoder also keeps what identifies the device: how
    many valid frames came since ``restart`` and how many bytes since the
    last one. ``no_frame_limit`` bytes without a valid frame raise
    ``problem``; the next valid frame clears it.
    """

    def __init__(
        self,
        framing: Framing,
        today: Callable[[], date],
        *,
        no_frame_limit: int = DEFAULT_NO_FRAME_LIMIT,
    ) -> None:
        if no_frame_limit < MAX_FRAME_BYTES:
            # Less than one frame's worth would flag a frame merely arriving slowly.
            raise ValueError(f"no_frame_limit must be at least {MAX_FRAME_BYTES} bytes")
        self._framing = framing
        self._today = today
        self._limit = no_frame_limit
        self.frames = 0
        self.bytes_since_frame = 0
        self.bytes_total = 0
        self._logged_at: float | None = None
        self._unlogged = 0

    @property
    def framing(self) -> Framing:
        return self._framing

    @property
    def no_frame_limit(self) -> int:
        return self._limit

    @property
    def frame_seen(self) -> bool:
        """A valid frame came since the last ``restart``."""
        return self.frames > 0

    @property
    def no_valid_frame(self) -> bool:
        """At least ``no_frame_limit`` bytes came since the last valid frame (or restart)."""
        return self.bytes_since_frame >= self._limit

    @property
    def problem(self) -> str | None:
        """Why the bytes on this port do not look like this reader's (None: they do)."""
        if not self.no_valid_frame:
            return None
        return (
            f"no valid {self._framing.name} frame in {self._limit} bytes: "
            "wrong framing or another device on this port"
        )

    def restart(self) -> None:
        """A new connection: what identified the device before no longer counts."""
        self.frames = 0
        self.bytes_since_frame = 0

    def feed(self, data: bytes, now: float) -> list[ReaderEvent]:
        """Decode ``data`` that arrived at ``now``; the reads it completes."""
        was_wrong = self.no_valid_frame
        frames = self._framing.feed(data, now)
        self.bytes_total += len(data)
        last_frame = max(
            (index for index, event in enumerate(frames) if isinstance(event, Frame)), default=-1
        )
        if last_frame < 0:
            self.bytes_since_frame += len(data)
        else:
            # Count only what came after the last good frame: the misreads
            # after it and what the framing still holds.
            after = frames[last_frame + 1 :]
            self.bytes_since_frame = self._framing.buffered + sum(len(e.raw) for e in after)
        events = self._events(frames)
        if self.no_valid_frame != was_wrong:
            self._log_change(now)
        return events

    def flush(self, now: float) -> list[ReaderEvent]:
        """The line is idle at ``now``: a frame left incomplete too long becomes a failed read."""
        return self._events(self._framing.flush(now))

    def abandon(self, reason: str) -> list[ReaderEvent]:
        """Whatever is buffered as a failed read with ``reason``; the decoder starts afresh."""
        return self._events(self._framing.abandon(reason))

    def _log_change(self, now: float) -> None:
        # Noise itself is never logged here (every chunk of it is a ReadFailed
        # already); a change of verdict is, at most once per _LOG_INTERVAL_S.
        if self._logged_at is not None and now - self._logged_at < _LOG_INTERVAL_S:
            self._unlogged += 1
            return
        also = f" ({self._unlogged} earlier changes not logged)" if self._unlogged else ""
        self._logged_at, self._unlogged = now, 0
        if self.no_valid_frame:
            logger.warning("reader: %s%s", self.problem, also)
        else:
            logger.info("reader: a valid %s frame again%s", self._framing.name, also)

    def _events(self, frames: Iterable[FrameEvent]) -> list[ReaderEvent]:
        events: list[ReaderEvent] = []
        for frame in frames:
            if isinstance(frame, Misread):
                events.append(ReadFailed(frame.raw, frame.reason))
                continue
            # A frame of the configured framing identifies the device, MRZ or not.
            self.frames += 1
            try:
                result = parse_mrz(frame.lines, self._today())
            except MrzFormatError as error:
                events.append(ReadFailed(frame.raw, f"not an MRZ: {error}"))
            else:
                events.append(DocumentRead(result, frame.raw, frame.lines))
        return events


class SerialMrzReader:
    """An MRZ reader on a serial port, in one of the framings of ``hardware.framing``.

    ``framing`` is a framing's name or a ready-made decoder (for instance a
    DESKO framing with the reader's own start and end bytes). ``today``
    resolves two-digit years in the MRZ. ``poll`` waits at most the port's
    ``read_timeout_s`` for bytes while connected (set it to 0 for a poll that
    never waits) and returns at once while disconnected; a caller with
    nothing else to do then sleeps a little before polling again. Nothing a
    device sends makes it raise.

    A DESKO reader on pyserial's ``loop://`` port, which hands back whatever
    is written to it: the frame written here is what a reader would send::

        >>> from datetime import date
        >>> from hardware.framing import make_framing
        >>> from hardware.link import SerialSettings
        >>> reader = SerialMrzReader(SerialSettings(port="loop://"), "desko",
        ...                          today=lambda: date(2026, 1, 1))
        >>> reader.open()
        >>> specimen = ["P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<",
        ...             "L898902C<3UTO6908061F9406236ZE184226B<<<<<14"]
        >>> reader.link.write(make_framing("desko").encode(specimen))
        >>> reader.poll()
        [DocumentRead(MrzResult(format=TD3, valid=True, <personal data redacted>), raw=<94 bytes>)]
        >>> reader.link.write(make_framing("desko").encode(["HELLO"]))  # a frame, no MRZ
        >>> [failed] = reader.poll()
        >>> failed.reason  # doctest: +ELLIPSIS
        'not an MRZ: 1 line of 5 characters (expected 2 lines of 36 or 44 characters, ...)'
        >>> reader.condition.value
        'connected'
        >>> reader.close()
    """

    def __init__(
        self,
        settings: SerialSettings,
        framing: str | Framing,
        today: Callable[[], date],
        clock: Callable[[], float] = time.monotonic,
        *,
        idle_timeout_s: float = DEFAULT_IDLE_TIMEOUT_S,
        no_frame_limit: int = DEFAULT_NO_FRAME_LIMIT,
        on_state: Callable[[LinkState], None] | None = None,
    ) -> None:
        decoder = (
            make_framing(framing, idle_timeout_s=idle_timeout_s)
            if isinstance(framing, str)
            else framing
        )
        self._decoder = ReaderDecoder(decoder, today, no_frame_limit=no_frame_limit)
        self.framing_name = decoder.name
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
        return self._decoder.framing

    @property
    def decoder(self) -> ReaderDecoder:
        """The bytes-to-documents decoder, with what identifies the device so far."""
        return self._decoder

    @property
    def state(self) -> LinkState:
        return self._link.state

    @property
    def condition(self) -> ReaderCondition:
        """The link's state and what the bytes since it opened say of the device."""
        state = self._link.state
        if state is LinkState.DISCONNECTED:
            return ReaderCondition.DISCONNECTED
        if state is LinkState.CONNECTING:
            return ReaderCondition.CONNECTING
        if self._decoder.no_valid_frame:
            return ReaderCondition.NO_VALID_FRAME
        if self._decoder.frame_seen:
            return ReaderCondition.CONNECTED
        return ReaderCondition.NO_FRAME_YET

    @property
    def problem(self) -> str | None:
        """Why the gate should not count on this reader now (None: it can).

        An open port with no frame yet is no problem (a reader is silent
        until a document comes); a closed port, or a port full of bytes that
        never make a valid frame, is.
        """
        if self._link.state is not LinkState.CONNECTED:
            return self._link.last_error or f"link {self._link.state.value}"
        return self._decoder.problem

    @property
    def last_error(self) -> str | None:
        """Why the port could not be opened or was lost, last time it happened."""
        return self._link.last_error

    def open(self) -> None:
        """Open the port now; ``LinkError`` (one line) when it cannot be.

        Optional: ``poll`` opens the port itself, and keeps trying, when it is closed.
        """
        if not self._link.is_open:
            self._link.open()
            self._decoder.restart()

    def close(self) -> None:
        """Close the port; a frame half received is dropped."""
        self._decoder.abandon("reader closed")
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
            # Possibly another device under the same name: identify it afresh.
            self._decoder.restart()
        try:
            data = self._link.read(_READ_CHUNK)
        except LinkDown:
            return self._decoder.abandon("link lost in the middle of a frame")
        arrived = self._clock()
        if data:
            return self._decoder.feed(data, arrived)
        return self._decoder.flush(arrived)
