"""The console's WebSocket messages: what a browser may send, parsed into typed values.

A browser sends one JSON object per text frame;
``parse_message`` turns it into a ``Control``, ``Fault``, ``AddPassenger`` or
``DeskOrder``, or raises ``ProtocolError`` with one line that names what was
wrong, carrying the message's ``request`` id when it had a usable one so the
reply can name the request.  The server's own messages (hello, state, lines,
ack, error) are made here too, so the wire format lives in one module::

    >>> parse_message('{"type": "control", "action": "speed", "rate": 2, "request": 7}')
    Control(action=<ControlAction.SPEED: 'speed'>, rate=2.0, request=7)
    >>> parse_message('{"type": "fault", "gate": "G1", "device": "camera"}')
    Traceback (most recent call last):
    ...
    station.classroom.protocol.ProtocolError: fault: lasts_s is missing
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeVar

from station.training.desk import DeskDecision, RefusalReason
from station.training.scenario import FaultDevice

# Largest client message, in bytes of UTF-8: the longest real one is well under 1 KiB.
MAX_MESSAGE_BYTES = 64 * 1024
# A request id is the client's own tag; a long one is no tag.
MAX_REQUEST_CHARS = 64
# Identifiers (gates, passengers) are short; anything longer is not one.
MAX_NAME_CHARS = 64
# How much of a wrong value an error message quotes.
_QUOTE_CHARS = 40

RequestId = int | str
_Choice = TypeVar("_Choice", bound=StrEnum)


class Role(StrEnum):
    """Who is at the other end of a socket, by the token it came with."""

    INSTRUCTOR = "instructor"
    DESK = "desk"
    VIEWER = "viewer"


class ControlAction(StrEnum):
    """What the instructor's transport buttons ask of the replay."""

    PLAY = "play"
    PAUSE = "pause"
    STEP_EVENT = "step_event"
    STEP_DECISION = "step_decision"
    SPEED = "speed"


@dataclass(frozen=True, slots=True)
class Control:
    """Play, pause, step or change speed (``rate`` with ``SPEED`` only)."""

    action: ControlAction
    rate: float | None = None
    request: RequestId | None = None


@dataclass(frozen=True, slots=True)
class Fault:
    """Make ``device`` of ``gate`` fail now for ``lasts_s`` scenario seconds."""

    gate: str
    device: FaultDevice
    lasts_s: float
    request: RequestId | None = None


@dataclass(frozen=True, slots=True)
class AddPassenger:
    """Send a copy of scenario passenger ``template`` to the queue now."""

    template: str
    request: RequestId | None = None


@dataclass(frozen=True, slots=True)
class DeskOrder:
    """The trainee's decision on a traveller at the desk."""

    passenger: str
    decision: DeskDecision
    reason: RefusalReason | None = None
    request: RequestId | None = None


ClientMessage = Control | Fault | AddPassenger | DeskOrder

# The message types, by the name a client gives in "type", and the roles that may send them.
MESSAGE_TYPES = ("control", "fault", "add_passenger", "desk")
ALLOWED: Mapping[str, frozenset[Role]] = {
    "control": frozenset({Role.INSTRUCTOR}),
    "fault": frozenset({Role.INSTRUCTOR}),
    "add_passenger": frozenset({Role.INSTRUCTOR}),
    "desk": frozenset({Role.INSTRUCTOR, Role.DESK}),
}


class ProtocolError(ValueError):
    """A client message the server cannot use; the text is one line for the client."""

    def __init__(self, message: str, request: RequestId | None = None) -> None:
        super().__init__(message)
        self.request = request


def parse_message(data: str | bytes) -> ClientMessage:
    """The client message in one WebSocket frame; ``ProtocolError`` when it is none."""
    if isinstance(data, bytes):
        raise ProtocolError("binary frames are not understood: send a JSON object as text")
    size = len(data.encode("utf-8", errors="replace"))
    if size > MAX_MESSAGE_BYTES:
        raise ProtocolError(f"message too long: {size} bytes, at most {MAX_MESSAGE_BYTES}")
    try:
        value = json.loads(data, parse_constant=_no_constant)
    except json.JSONDecodeError as error:
        raise ProtocolError(f"not JSON: {error.msg} at character {error.pos}") from None
    except (ValueError, RecursionError) as error:
        raise ProtocolError(f"not JSON: {_one_line(str(error)) or 'nested too deeply'}") from None
    return message_from(value)


def message_from(value: object) -> ClientMessage:
    """The client message that the decoded JSON ``value`` is; ``ProtocolError`` otherwise."""
    if not isinstance(value, dict):
        raise ProtocolError(f"a message is a JSON object, not {_json_kind(value)}")
    request = _request(value)
    kind = value.get("type")
    if kind is None:
        raise ProtocolError(f"type is missing; one of {', '.join(MESSAGE_TYPES)}", request)
    if not isinstance(kind, str) or kind not in MESSAGE_TYPES:
        raise ProtocolError(
            f"unknown type {_quote(kind)}; one of {', '.join(MESSAGE_TYPES)}", request
        )
    fields = _Fields(kind, value, request)
    if kind == "control":
        action = fields.choice("action", ControlAction)
        rate = fields.number("rate") if action is ControlAction.SPEED else None
        return Control(action, rate, request)
    if kind == "fault":
        return Fault(
            fields.name("gate"),
            fields.choice("device", FaultDevice),
            fields.number("lasts_s"),
            request,
        )
    if kind == "add_passenger":
        return AddPassenger(fields.name("template"), request)
    decision = fields.choice("decision", DeskDecision)
    reason = None if value.get("reason") is None else fields.choice("reason", RefusalReason)
    return DeskOrder(fields.name("passenger"), decision, reason, request)


def kind_of(message: ClientMessage) -> str:
    """The ``type`` a client gives for ``message``."""
    match message:
        case Control():
            return "control"
        case Fault():
            return "fault"
        case AddPassenger():
            return "add_passenger"
        case DeskOrder():
            return "desk"


def permission_error(message: ClientMessage, role: Role) -> str | None:
    """Why ``role`` may not send ``message``, or None when it may."""
    kind = kind_of(message)
    if role in ALLOWED[kind]:
        return None
    if kind == "desk":
        return "a desk decision needs the instructor's or the desk's token"
    return f"{kind} needs the instructor's token"


# -- what the server sends -----------------------------------------------------------------


def hello(role: Role) -> str:
    """The first message on a socket: the role its token gave."""
    return encode({"type": "hello", "role": role.value})


def state(snapshot: Mapping[str, object]) -> str:
    """The replay's state, as one client's role may see it."""
    return encode({"type": "state", "state": snapshot})


def lines(transcript: Sequence[Mapping[str, object]]) -> str:
    """Transcript lines the client has not had yet."""
    return encode({"type": "lines", "lines": list(transcript)})


def ack(request: RequestId | None, result: Mapping[str, object]) -> str:
    """A client message done; ``result`` says what came of it."""
    return encode({"type": "ack", "request": request, "result": result})


def error(request: RequestId | None, text: str) -> str:
    """A client message refused, with one line saying why."""
    return encode({"type": "error", "request": request, "error": _one_line(text)})


# -- inside ----------------------------------------------------------------------------------


class _Fields:
    """Reads the fields of one message, each error naming the message type and the field."""

    def __init__(self, kind: str, value: dict[str, object], request: RequestId | None) -> None:
        self._kind = kind
        self._value = value
        self._request = request

    def _fail(self, text: str) -> ProtocolError:
        return ProtocolError(f"{self._kind}: {text}", self._request)

    def _get(self, field: str) -> object:
        if field not in self._value or self._value[field] is None:
            raise self._fail(f"{field} is missing")
        return self._value[field]

    def name(self, field: str) -> str:
        value = self._get(field)
        if not isinstance(value, str) or not value.strip():
            raise self._fail(f"{field} must be a non-empty string, not {_quote(value)}")
        if len(value) > MAX_NAME_CHARS:
            raise self._fail(f"{field} is longer than {MAX_NAME_CHARS} characters")
        return value

    def number(self, field: str) -> float:
        value = self._get(field)
        # bool is an int in Python, but true is no number of seconds.
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self._fail(f"{field} must be a number, not {_quote(value)}")
        number = float(value)
        if not math.isfinite(number):
            raise self._fail(f"{field} must be a finite number")
        return number

    def choice(self, field: str, enum: type[_Choice]) -> _Choice:
        value = self._get(field)
        if isinstance(value, str):
            for member in enum:
                if member.value == value:
                    return member
        choices = ", ".join(member.value for member in enum)
        raise self._fail(f"{field} must be one of {choices}, not {_quote(value)}")


def _request(value: dict[str, object]) -> RequestId | None:
    request = value.get("request")
    if request is None:
        return None
    if isinstance(request, bool) or not isinstance(request, int | str):
        raise ProtocolError(f"request must be an integer or a string, not {_quote(request)}")
    if isinstance(request, str) and len(request) > MAX_REQUEST_CHARS:
        raise ProtocolError(f"request is longer than {MAX_REQUEST_CHARS} characters")
    if isinstance(request, int) and abs(request) > 2**53:
        # Beyond this a browser's number is no longer the same integer.
        raise ProtocolError("request is an integer too large for JavaScript")
    return request


def _no_constant(name: str) -> object:
    # Python's json reads NaN and Infinity, which are not JSON.
    raise ValueError(f"{name} is not a JSON value")


def _json_kind(value: object) -> str:
    match value:
        case list():
            return "an array"
        case str():
            return "a string"
        case bool():
            return "a boolean"
        case int() | float():
            return "a number"
        case None:
            return "null"
        case _:
            return type(value).__name__


def _quote(value: object) -> str:
    """A wrong value as an error message shows it: JSON, shortened, on one line."""
    try:
        text = json.dumps(value, ensure_ascii=True)
    except (TypeError, ValueError, RecursionError):
        text = _json_kind(value)
    text = _one_line(text)
    return text if len(text) <= _QUOTE_CHARS else text[: _QUOTE_CHARS - 3] + "..."


def _one_line(text: str) -> str:
    return " ".join(text.split())


def encode(message: object) -> str:
    """``message`` as JSON text a browser can parse."""
    # default=str: a value the view did not make JSON-ready is shown, not a crash.
    try:
        return json.dumps(message, ensure_ascii=False, allow_nan=False, default=str)
    except ValueError:
        # A NaN or an infinity somewhere: a browser's JSON.parse refuses the whole message.
        return json.dumps(_finite(message), ensure_ascii=False, allow_nan=False, default=str)


def _finite(value: object) -> object:
    """``value`` with every NaN and infinity made null."""
    match value:
        case float() if not math.isfinite(value):
            return None
        case Mapping():
            return {key: _finite(item) for key, item in value.items()}
        case list() | tuple():
            return [_finite(item) for item in value]
        case _:
            return value


__all__ = [
    "ALLOWED",
    "MAX_MESSAGE_BYTES",
    "MESSAGE_TYPES",
    "AddPassenger",
    "ClientMessage",
    "Control",
    "ControlAction",
    "DeskOrder",
    "Fault",
    "ProtocolError",
    "RequestId",
    "Role",
    "ack",
    "encode",
    "error",
    "hello",
    "kind_of",
    "lines",
    "message_from",
    "parse_message",
    "permission_error",
    "state",
]
