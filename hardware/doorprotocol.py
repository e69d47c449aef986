"""The door protocol: the ASCII lines that door controllers and occupancy sensors speak.

egate sends numbered commands (``#12 OPEN ENTRY``), the device answers each
with the same number (``#12 OK ENTRY=OPENING`` or ``#12 ERR 20 door fault``)
and reports what happens by itself in events without a number
(``! FORCED EXIT``).  One message per line, printable ASCII, at most
``MAX_LINE`` characters, optionally closed by a checksum field (``*5C``).
docs/door-protocol.md is the integrator's reference; this module is its
codec: the message types, :func:`encode`, :func:`decode` and
:class:`MessageReader`, which cuts a byte stream into messages and never
raises, whatever the bytes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

MAX_LINE = 64
"""Characters in a line, checksum field included, line terminator excluded."""

MAX_SEQ = 9999
"""Sequence numbers run from 1 to MAX_SEQ, then start again at 1."""

TERMINATOR = b"\r\n"
"""What senders end a line with; receivers also accept CR or LF alone."""

# A verb, an event name or a field key: upper-case letters, digits, underscores.
_NAME = re.compile(r"[A-Z][A-Z0-9_]*")
# An argument, a field value or a word of error text: printable, no space, no '*'.
_WORD = re.compile(r"[\x21-\x29\x2b-\x7e]+")
_SEQ = re.compile(r"#([1-9][0-9]{0,3})")
_ERROR_CODE = re.compile(r"[0-9]{1,3}")
_CHECKSUM_FIELD = re.compile(r" \*([0-9A-Fa-f]{2})")
_RESERVED_VERBS = frozenset({"OK", "ERR"})


class ProtocolError(ValueError):
    """A line, or a message to encode, that the protocol does not allow."""


class Door(StrEnum):
    """The two doors of a gate, as the protocol names them."""

    ENTRY = "ENTRY"
    EXIT = "EXIT"


class DoorState(StrEnum):
    """Where a door is; ``FAULT`` until the device has cleared the cause."""

    OPEN = "OPEN"
    CLOSED = "CLOSED"
    OPENING = "OPENING"
    CLOSING = "CLOSING"
    FAULT = "FAULT"


class ErrorCode:
    """The numbers of ``ERR`` replies (the text after them is for people)."""

    UNKNOWN_COMMAND = 10
    BAD_ARGUMENT = 11
    DOOR_FAULT = 20
    INTERLOCK = 21
    DEVICE_FAILURE = 50


@dataclass(frozen=True, slots=True)
class Command:
    """``#seq VERB args...``: what egate asks of the device."""

    seq: int
    verb: str
    args: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Reply:
    """``#seq OK KEY=VALUE...``: the command was accepted; fields report state."""

    seq: int
    fields: tuple[tuple[str, str], ...] = ()

    def get(self, key: str) -> str | None:
        """The value of field ``key``, or None when the reply has none."""
        for name, value in self.fields:
            if name == key:
                return value
        return None


@dataclass(frozen=True, slots=True)
class ErrorReply:
    """``#seq ERR code text``: the command was refused; ``code`` is one of ErrorCode."""

    seq: int
    code: int
    text: str = ""


@dataclass(frozen=True, slots=True)
class Event:
    """``! NAME args...``: something the device reports without being asked."""

    name: str
    args: tuple[str, ...] = ()


Message = Command | Reply | ErrorReply | Event


@dataclass(frozen=True, slots=True)
class Garbled:
    """Received bytes that are no message; ``raw`` is what arrived (at most a line's worth)."""

    raw: bytes
    reason: str

    @property
    def text(self) -> str:
        """The raw bytes as printable text, anything else as ``\\xNN``."""
        return "".join(chr(b) if 0x20 <= b <= 0x7E else f"\\x{b:02x}" for b in self.raw)


def checksum(body: bytes) -> int:
    """The checksum of a line: XOR of all its bytes before the checksum field."""
    value = 0
    for byte in body:
        value ^= byte
    return value


def next_seq(seq: int) -> int:
    """The sequence number after ``seq``: 1, 2, ..., MAX_SEQ, 1, ..."""
    return 1 if seq >= MAX_SEQ else seq + 1


# --- encoding ---------------------------------------------------------------


def encode(message: Message, *, with_checksum: bool = True) -> bytes:
    """The line for ``message``, terminator included; ProtocolError if it has no line."""
    body = _body(message)
    if with_checksum:
        body = f"{body} *{checksum(body.encode('ascii')):02X}"
    if len(body) > MAX_LINE:
        raise ProtocolError(
            f"line of {len(body)} characters, at most {MAX_LINE}: {body[:MAX_LINE]}"
        )
    return body.encode("ascii") + TERMINATOR


def _body(message: Message) -> str:
    if isinstance(message, Event):
        return " ".join(["!", _name(message.name), *map(_word, message.args)])
    seq = _seq(message.seq)
    if isinstance(message, Command):
        if message.verb in _RESERVED_VERBS:
            raise ProtocolError(f"{message.verb} is a reply, not a command")
        return " ".join([seq, _name(message.verb), *map(_word, message.args)])
    if isinstance(message, Reply):
        return " ".join(
            [seq, "OK", *(f"{_name(key)}={_word(value)}" for key, value in message.fields)]
        )
    if not 0 <= message.code <= 999:
        raise ProtocolError(f"error code {message.code} is not 0 to 999")
    words = message.text.split(" ")
    text = [_word(word) for word in words] if message.text else []
    return " ".join([seq, "ERR", str(message.code), *text])


def _seq(seq: int) -> str:
    if not 1 <= seq <= MAX_SEQ:
        raise ProtocolError(f"sequence number {seq} is not 1 to {MAX_SEQ}")
    return f"#{seq}"


def _name(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise ProtocolError(f"{name!r} is not a name (A-Z, then A-Z, 0-9 or _)")
    return name


def _word(word: str) -> str:
    if not _WORD.fullmatch(word):
        raise ProtocolError(f"{word!r} is not a word (printable ASCII, no space, no '*')")
    return word


# --- decoding ---------------------------------------------------------------


def decode(line: bytes | str) -> Message:
    """The message in one line (a trailing terminator is allowed); ProtocolError otherwise."""
    text = _printable(line)
    if len(text) > MAX_LINE:
        raise ProtocolError(f"line of {len(text)} characters, at most {MAX_LINE}")
    body = _verified_body(text)
    tokens = body.split()
    if not tokens:
        raise ProtocolError("empty line")
    head, rest = tokens[0], tokens[1:]
    if head == "!":
        if not rest:
            raise ProtocolError("event without a name")
        return Event(_decoded_name(rest[0], "event name"), tuple(rest[1:]))
    matched = _SEQ.fullmatch(head)
    if not matched:
        raise ProtocolError(f"a line starts with '#' and a sequence number, or '! ', not {head!r}")
    seq = int(matched.group(1))
    if not rest:
        raise ProtocolError(f"nothing after {head}")
    verb, args = rest[0], rest[1:]
    if verb == "OK":
        return Reply(seq, tuple(map(_decoded_field, args)))
    if verb == "ERR":
        if not args or not _ERROR_CODE.fullmatch(args[0]):
            raise ProtocolError("ERR without an error code (0 to 999)")
        return ErrorReply(seq, int(args[0]), " ".join(args[1:]))
    # Arguments need no check: the line is printable, split at spaces, '*' is the checksum's.
    return Command(seq, _decoded_name(verb, "command"), tuple(args))


def _printable(line: bytes | str) -> str:
    """The line without its terminator, if it is all printable ASCII."""
    raw = line.encode("utf-8") if isinstance(line, str) else line
    for terminator in (b"\r\n", b"\n", b"\r"):
        if raw.endswith(terminator):
            raw = raw[: -len(terminator)]
            break
    for column, byte in enumerate(raw, start=1):
        if not 0x20 <= byte <= 0x7E:
            raise ProtocolError(f"byte 0x{byte:02X} at column {column} is not printable ASCII")
    return raw.decode("ascii")


def _verified_body(text: str) -> str:
    star = text.find("*")
    if star < 0:
        return text
    field = _CHECKSUM_FIELD.fullmatch(text, star - 1) if star > 0 else None
    if field is None:
        raise ProtocolError("'*' is only allowed in a final checksum field ' *HH'")
    body = text[: star - 1]
    expected = checksum(body.encode("ascii"))
    if int(field.group(1), 16) != expected:
        raise ProtocolError(f"bad checksum *{field.group(1)}, the line's is *{expected:02X}")
    return body


def _decoded_name(token: str, what: str) -> str:
    if not _NAME.fullmatch(token):
        raise ProtocolError(f"{what} {token!r} is not a name (A-Z, then A-Z, 0-9 or _)")
    return token


def _decoded_field(token: str) -> tuple[str, str]:
    key, equals, value = token.partition("=")
    if not equals or not value or not _NAME.fullmatch(key):
        raise ProtocolError(f"reply field {token!r} is not KEY=VALUE")
    return key, value


# --- streams ----------------------------------------------------------------

_CR, _LF = 0x0D, 0x0A


class MessageReader:
    """Cuts received bytes into messages, whatever arrives; ``feed`` never raises.

    A line ends at CR, LF or CR LF; empty lines are skipped.  A byte that is
    neither printable ASCII nor a terminator spoils the line it is in: what
    came before it and the run of such bytes are reported as one Garbled and
    a new line starts after them, so binary noise does not swallow the next
    good line.  A line longer than ``max_line`` is reported once, at its
    terminator, with its first characters.  Nothing held ever exceeds
    ``max_line`` bytes, and the result does not depend on how the bytes were
    cut into chunks.
    """

    __slots__ = ("_bad", "_junk", "_line", "_max_line", "_overflow")

    def __init__(self, max_line: int = MAX_LINE) -> None:
        if max_line < 1:
            raise ValueError(f"max_line must be at least 1, got {max_line}")
        self._max_line = max_line
        self._line = bytearray()
        self._overflow = False
        # A spoilt line: its first bytes (the bad byte always among them) and
        # the first bad byte, which names the reason.
        self._junk = bytearray()
        self._bad: int | None = None

    def feed(self, data: bytes) -> list[Message | Garbled]:
        """Messages and garbled lines completed by ``data``, in order of arrival."""
        out: list[Message | Garbled] = []
        for byte in data:
            if byte in (_CR, _LF):
                self._end_junk(out)
                self._end_line(out)
            elif 0x20 <= byte <= 0x7E:
                self._end_junk(out)
                if len(self._line) < self._max_line:
                    self._line.append(byte)
                else:
                    self._overflow = True
            elif self._bad is None:
                # The partial line is spoilt with the bad byte; report them
                # together, keeping room for the bad byte itself so that the
                # raw bytes always show what spoilt the line.
                self._junk = self._line[: self._max_line - 1]
                self._junk.append(byte)
                self._bad = byte
                self._line = bytearray()
                self._overflow = False
            elif len(self._junk) < self._max_line:
                self._junk.append(byte)
        return out

    def _end_junk(self, out: list[Message | Garbled]) -> None:
        if self._bad is not None:
            reason = f"byte 0x{self._bad:02X} is not printable ASCII"
            out.append(Garbled(bytes(self._junk), reason))
            self._junk = bytearray()
            self._bad = None

    def _end_line(self, out: list[Message | Garbled]) -> None:
        line, overflow = bytes(self._line), self._overflow
        self._line = bytearray()
        self._overflow = False
        if not line:
            return
        if overflow:
            out.append(Garbled(line, f"line longer than {self._max_line} characters"))
            return
        try:
            out.append(decode(line))
        except ProtocolError as error:
            out.append(Garbled(line, str(error)))
