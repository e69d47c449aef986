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
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from dataclasses import dataclass
from functools import reduce
from operator import xor
from typing import Annotated, Literal, Protocol

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    model_validator,
)

SOH = 0x01
STX = 0x02
ETX = 0x03
LF = 0x0A
CR = 0x0D
# DESKO's CUTE protocol gives each device its own start and end of data
# bytes; these are the ones egate uses for the OCR reader (see docs/readers.md).
DESKO_SOD = 0x1C
DESKO_EOD = 0x1D

# No MRZ frame comes near this; anything longer is noise or a lost end marker.
MAX_FRAME_BYTES = 1024
DEFAULT_IDLE_TIMEOUT_S = 0.3

FramingName = Literal["lines", "desko", "rte"]
FRAMING_NAMES: tuple[FramingName, ...] = ("lines", "desko", "rte")


# --- DESKO start and end of data bytes, as configured -----------------------------

# Bytes the DESKO framing gives a meaning of its own, whatever the reader's
# start and end of data bytes are.
_DESKO_FIXED = {STX: "STX", ETX: "ETX", CR: "CR", LF: "LF"}


def desko_byte_problem(value: int) -> str | None:
    """Why ``value`` cannot be a DESKO start or end of data byte (None: it can)."""
    if not 0 <= value <= 0xFF:
        return f"{value} is not a byte (00 to FF)"
    if value in _DESKO_FIXED:
        return f"{value:02X} is {_DESKO_FIXED[value]}, which the framing itself uses"
    if 0x20 <= value <= 0x7E:
        # It would end a frame in the middle of an MRZ line.
        return f"{value:02X} is printable ASCII ({chr(value)!r}), the text of an MRZ"
    return None


def _hex_byte(value: object) -> int:
    """A byte written as two hexadecimal digits ("1E", "0x1E"), checked for DESKO."""
    # A bare YAML number is refused: is 10 ten or sixteen? Quoted hex is unambiguous.
    if not isinstance(value, str):
        raise ValueError('expected a byte as two hexadecimal digits in quotes, e.g. "1E"')
    digits = value.strip().lower().removeprefix("0x")
    if len(digits) != 2 or not all(char in string.hexdigits for char in digits):
        raise ValueError(f'expected two hexadecimal digits, e.g. "1E", not {value!r}')
    byte = int(digits, 16)
    problem = desko_byte_problem(byte)
    if problem is not None:
        raise ValueError(problem)
    return byte


HexByte = Annotated[
    int,
    BeforeValidator(_hex_byte),
    PlainSerializer(lambda byte: f"{byte:02X}", return_type=str),
]
"""A byte given in configuration as two hexadecimal digits; written back the same way."""


class DeskoBytes(BaseModel):
    """The start and end of data bytes a DESKO reader wraps each document in (CUTE).

    CUTE gives each device of a kiosk its own pair; egate's default is the
    OCR reader's ``1C``/``1D``. In a gate file: ``desko: {start: "1E", end: "1F"}``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    start: HexByte = Field(
        default=DESKO_SOD, description="Start of data byte, two hex digits (default 1C)."
    )
    end: HexByte = Field(
        default=DESKO_EOD, description="End of data byte, two hex digits (default 1D)."
    )

    @model_validator(mode="after")
    def _two_bytes(self) -> DeskoBytes:
        if self.start == self.end:
            raise ValueError(f"start and end are both {self.start:02X}; they must differ")
        return self


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


def _text(data: bytes) -> str:
    # A byte outside ASCII becomes U+FFFD, which the MRZ checks then report.
    return data.decode("ascii", "replace")


def _encode_line(line: str) -> bytes:
    return line.encode("ascii", "replace")


def _check_timeout(idle_timeout_s: float) -> float:
    if not idle_timeout_s > 0:
        raise ValueError(f"idle_timeout_s must be positive, got {idle_timeout_s!r}")
    return idle_timeout_s


def block_check(data: bytes) -> int:
    """The XOR of every byte of ``data`` (the RTE block check character)."""
    return reduce(xor, data, 0)


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
        self._idle_timeout_s = _check_timeout(idle_timeout_s)
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
        return b"".join(_encode_line(line) + self._terminator for line in lines)

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
        text = _text(line).strip(" \t")
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


# --- framings with a start byte ------------------------------------------------


class _Delimited:
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
        self._idle_timeout_s = _check_timeout(idle_timeout_s)
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
                outcome = _Bad(f"frame longer than {MAX_FRAME_BYTES} bytes")
            if isinstance(outcome, _Bad):
                rest = self._reject(outcome, events)
                if rest:
                    pending = rest + pending[index:]
                    index = 0
            else:
                events.append(Frame(outcome, bytes(self._raw)))
                self._raw.clear()

    def _reject(self, bad: _Bad, events: list[FrameEvent]) -> bytes:
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

    def _step(self, byte: int) -> tuple[str, ...] | _Bad | None:
        """Take ``byte`` (already appended to the frame): the lines when the frame is
        complete, ``_Bad`` when it cannot be a good frame, None to go on."""
        raise NotImplementedError


@dataclass(frozen=True, slots=True)
class _Bad:
    """Why a frame is bad, and where to look for the next start byte in it."""

    reason: str
    rescan_from: int = 1


def _split_lines(data: bytes, padding: bytes = b"") -> list[str]:
    """The CR-separated lines of ``data``; a final CR ends the last line, LFs are dropped."""
    pieces = data.split(b"\r")
    if pieces[-1] == b"":
        pieces.pop()
    return [_text(piece.replace(b"\n", b"").strip(padding)) for piece in pieces]


class DeskoFraming(_Delimited):
    """``SOD STX line CR line CR [line CR] ETX EOD``, as DESKO readers send under CUTE.

    The lines are sent as read, misread characters included; there is no
    checksum. A byte other than STX after SOD, or other than EOD after ETX,
    makes the frame a misread.
    """

    name = "desko"

    def __init__(
        self,
        *,
        idle_timeout_s: float = DEFAULT_IDLE_TIMEOUT_S,
        sod: int = DESKO_SOD,
        eod: int = DESKO_EOD,
    ) -> None:
        super().__init__(idle_timeout_s)
        for what, value in (("SOD", sod), ("EOD", eod)):
            if (problem := desko_byte_problem(value)) is not None:
                raise ValueError(f"{what}: {problem}")
        if sod == eod:
            raise ValueError("SOD and EOD must differ")
        self._start = sod
        self._eod = eod
        self.control_bytes = frozenset({sod, eod, STX, ETX})
        self._state = 0

    # States: after SOD, in the text, after ETX.
    _AFTER_SOD, _TEXT, _AFTER_ETX = range(3)

    def _begin(self) -> None:
        self._state = self._AFTER_SOD

    def _step(self, byte: int) -> tuple[str, ...] | _Bad | None:
        if self._state == self._AFTER_SOD:
            if byte == STX:
                self._state = self._TEXT
                return None
            return _Bad(f"start of data followed by 0x{byte:02X}, not STX")
        if self._state == self._TEXT:
            if byte == ETX:
                self._state = self._AFTER_ETX
                return None
            if byte == self._start:
                return _Bad("frame cut short by the start of the next one")
            if byte in (STX, self._eod):
                return _Bad(f"unexpected 0x{byte:02X} inside the text")
            return None
        if byte == self._eod:
            return tuple(_split_lines(bytes(self._raw[2:-2])))
        return _Bad(f"ETX followed by 0x{byte:02X}, not end of data")

    def encode(self, lines: Sequence[str]) -> bytes:
        text = b"".join(_encode_line(line) + b"\r" for line in lines)
        return bytes([self._start, STX]) + text + bytes([ETX, self._eod])


# RTE header: SOH, length (2 bytes), "OU", STX, flag; then data, ETX, BCC.
_RTE_HEADER = 7
_RTE_OVERHEAD = _RTE_HEADER + 2
# The OCR data holds three line slots, bottom-aligned; unread slots send only
# their CR. Lines are padded with "_" to 30 characters (3-line documents) or 44.
_RTE_SLOTS = 3
_RTE_PAD = b"_"
RTE_FLAG = ord("0")


class RteFraming(_Delimited):
    """``SOH len_lo len_hi "O" "U" STX flag data ETX BCC``, as 3M RTE readers send.

    ``len`` is a little-endian 14-bit count of every byte of the block, SOH
    and BCC included; ``BCC`` is the XOR of every byte after SOH up to and
    including ETX. The data holds three lines, each ending in CR (a line not
    found sends only its CR), padded with ``_``; padding and empty leading or
    trailing lines are removed. A wrong length or BCC makes the frame a misread.
    """

    name = "rte"
    control_bytes = frozenset({SOH, STX, ETX})
    _start = SOH

    def __init__(self, *, idle_timeout_s: float = DEFAULT_IDLE_TIMEOUT_S) -> None:
        super().__init__(idle_timeout_s)
        self._length = 0
        self._in_data = False

    def _begin(self) -> None:
        self._length = 0
        self._in_data = False

    def _step(self, byte: int) -> tuple[str, ...] | _Bad | None:
        position = len(self._raw) - 1
        if self._in_data:
            return self._data_byte(byte, position)
        if position == 2:
            length = self._raw[1] | (byte << 8)
            if byte & 0xC0 or not _RTE_OVERHEAD <= length <= MAX_FRAME_BYTES:
                return _Bad(f"length field {length} is no block length")
            self._length = length
        elif (position == 3 and byte != ord("O")) or (position == 4 and byte != ord("U")):
            return _Bad('header does not read "OU"')
        elif position == 5 and byte != STX:
            return _Bad(f"header followed by 0x{byte:02X}, not STX")
        elif position == _RTE_HEADER - 1:
            self._in_data = True  # the flag byte: any value
        return None

    def _data_byte(self, byte: int, position: int) -> tuple[str, ...] | _Bad | None:
        if position == self._length - 1:
            # The block check character, whatever its value.
            expected = block_check(bytes(self._raw[1:-1]))
            if byte != expected:
                # When the BCC byte is a SOH, it may be the next frame after a
                # frame that lost its BCC: read again from it.
                return _Bad(
                    f"bad BCC: computed 0x{expected:02X}, received 0x{byte:02X}",
                    rescan_from=position,
                )
            data = bytes(self._raw[_RTE_HEADER:-2])
            lines = _split_lines(data, _RTE_PAD)
            while lines and not lines[-1]:
                lines.pop()
            while lines and not lines[0]:
                lines.pop(0)
            return tuple(lines)
        if byte == ETX:
            if position != self._length - 2:
                return _Bad(f"length field says {self._length} bytes, block has {position + 2}")
            return None
        if byte in (SOH, STX):
            return _Bad(f"unexpected 0x{byte:02X} in the data: frame cut short?")
        if position >= self._length - 2:
            return _Bad(f"no ETX where the length field ({self._length}) puts it")
        return None

    def encode(self, lines: Sequence[str], *, flag: int = RTE_FLAG) -> bytes:
        width = 30 if len(lines) == 3 else 44
        slots = [""] * (_RTE_SLOTS - len(lines)) + list(lines)
        data = b"".join(
            (_encode_line(line).ljust(width, _RTE_PAD) if line else b"") + b"\r" for line in slots
        )
        length = _RTE_OVERHEAD + len(data)
        body = (
            bytes([length & 0xFF, length >> 8]) + b"OU" + bytes([STX, flag]) + data + bytes([ETX])
        )
        return bytes([SOH]) + body + bytes([block_check(body)])
