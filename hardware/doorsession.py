"""egate's side of the door protocol: one command at a time, retries, heartbeat, reconnection.

A :class:`CommandSession` turns calls into numbered command lines on a
:class:`~hardware.link.SerialLink` and turns what comes back into events.  It
is the common engine of the door controller and occupancy sensor drivers;
they translate its :class:`Unsolicited` events into their own.

The rules it keeps (docs/door-protocol.md, "egate's side"):

- at most one command is outstanding; later ones wait in a queue;
- a command without a reply within ``timeout_s`` is sent again, unchanged,
  ``retries`` times; then it fails, and the device counts as not answering
  (``Disconnected``) until it answers again;
- when nothing has been sent for ``heartbeat_s``, a ``PING`` is sent, which
  also keeps the board's watchdog from closing the exit door;
- when the link goes down, every queued command fails (a stale OPEN is never
  sent late), and the session reopens the port with the link's exponential
  backoff (``SerialSettings.reconnect_initial_s`` to ``reconnect_max_s``);
- after every (re)connection, and after ``! READY``, the first command is the
  probe (``STATUS``); ``Connected`` is reported with the device's first reply.

Nothing here sleeps or blocks: ``poll(now)`` does what is due at ``now``.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from hardware.doorprotocol import (
    Command,
    ErrorReply,
    Event,
    Garbled,
    Message,
    MessageReader,
    Reply,
    encode,
    next_seq,
)
from hardware.link import LinkDown, SerialLink, SerialSettings

Clock = Callable[[], float]

# Enough for everything a device can send between two polls; the rest waits.
_READ_CHUNK = 4096
_MAX_READS_PER_POLL = 16


class CommandSettings(BaseModel):
    """How egate talks to a door protocol device: timeouts, retries, heartbeat."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    timeout_s: float = Field(default=0.5, gt=0, description="Wait for a reply before resending.")
    retries: int = Field(default=2, ge=0, le=10, description="Resends before a command fails.")
    heartbeat_s: float = Field(
        default=1.0, gt=0, description="Send PING after this long without sending anything."
    )
    checksum: bool = Field(default=True, description="End every command with a checksum field.")


# --- what a session reports ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class Connected:
    """The device answers (again); what was known of its state before is stale."""

    at: float


@dataclass(frozen=True, slots=True)
class Disconnected:
    """The port is gone or the device stopped answering; ``reason`` says which."""

    at: float
    reason: str


@dataclass(frozen=True, slots=True)
class Acknowledged:
    """The device accepted ``command``; ``reply`` carries the fields it reported."""

    at: float
    command: Command
    reply: Reply


@dataclass(frozen=True, slots=True)
class Refused:
    """The device answered ``command`` with ``ERR code text``."""

    at: float
    command: Command
    code: int
    text: str


@dataclass(frozen=True, slots=True)
class CommandFailed:
    """``command`` got no answer: no reply after all attempts, or the link went down."""

    at: float
    command: Command
    reason: str


@dataclass(frozen=True, slots=True)
class Unsolicited:
    """An event line from the device, for the driver to interpret."""

    at: float
    event: Event


@dataclass(frozen=True, slots=True)
class Unrecognized:
    """A line (or part of one) that means nothing here; ``raw`` is what arrived."""

    at: float
    raw: str
    reason: str


@dataclass(frozen=True, slots=True)
class DeviceRestarted:
    """The device reported ``! READY``: it has been powered on or reset."""

    at: float


SessionEvent = (
    Connected
    | Disconnected
    | Acknowledged
    | Refused
    | CommandFailed
    | Unsolicited
    | Unrecognized
    | DeviceRestarted
)


@dataclass
class _Pending:
    command: Command
    line: bytes
    attempts: int
    deadline: float
    internal: bool


def polling_link(port: SerialLink | SerialSettings, clock: Clock) -> SerialLink:
    """The link a session polls: one that never waits in ``read``.

    Given settings, a link is made with ``read_timeout_s=0``; a link given
    ready-made must have been made so.
    """
    if isinstance(port, SerialSettings):
        return SerialLink(port.model_copy(update={"read_timeout_s": 0.0}), clock=clock)
    if port.settings.read_timeout_s != 0:
        raise ValueError(
            f"serial port {port.settings.port}: read_timeout_s must be 0 for a polled driver"
        )
    return port


class CommandSession:
    """Commands out, replies matched to them, events in, over one serial link."""

    def __init__(
        self,
        link: SerialLink,
        settings: CommandSettings | None = None,
        *,
        probe: str = "STATUS",
        clock: Clock = time.monotonic,
        first_seq: int = 1,
    ) -> None:
        self._link = link
        self.settings = settings or CommandSettings()
        self._probe = probe
        self._clock = clock
        self._seq = first_seq
        self._reader = MessageReader()
        self._queue: deque[_Pending] = deque()
        self._pending: _Pending | None = None
        self._events: list[SessionEvent] = []
        self._link_up = False
        self._answering = False
        # What was last reported: None before the first Connected or Disconnected.
        self._reported: bool | None = None
        self._closed = False
        self._last_sent = float("-inf")
        if link.is_open:
            self._up(clock())

    @property
    def connected(self) -> bool:
        """The port is open and the device has answered since it was (re)opened."""
        return self._link_up and self._answering

    @property
    def busy(self) -> bool:
        """A command is outstanding or queued."""
        return self._pending is not None or bool(self._queue)

    @property
    def port(self) -> str:
        """The serial port (or URL) of the device."""
        return self._link.settings.port

    def submit(self, verb: str, *args: str) -> Command:
        """Queue a command (sent at once when nothing is outstanding); its number is in it."""
        return self._submit(verb, args, internal=False)

    def close(self) -> None:
        """Close the port for good; queued commands fail."""
        self._lost("closed", self._clock())
        self._closed = True
        self._link.close()

    def poll(self, now: float) -> list[SessionEvent]:
        """Do what is due at ``now``: read, match, resend, ping, reconnect; what happened."""
        if not self._link_up and not self._closed:
            if self._link.try_reconnect(now):
                self._up(now)
            else:
                self._report(False, now, self._link.last_error or "not open")
        if self._link_up:
            self._read(now)
        if self._link_up:
            self._expire(now)
            self._heartbeat(now)
            self._transmit(now)
        events, self._events = self._events, []
        return events

    # --- internals ----------------------------------------------------------

    def _submit(self, verb: str, args: tuple[str, ...], *, internal: bool) -> Command:
        now = self._clock()
        item = self._make(verb, args, now, internal=internal)
        if not self._link_up:
            self._events.append(CommandFailed(now, item.command, "not connected"))
        else:
            self._queue.append(item)
            self._transmit(now)
        return item.command

    def _make(self, verb: str, args: tuple[str, ...], now: float, *, internal: bool) -> _Pending:
        command = Command(self._seq, verb, args)
        # Encoded once: a retry resends these very bytes.  (ProtocolError: a caller's bug.)
        line = encode(command, with_checksum=self.settings.checksum)
        self._seq = next_seq(self._seq)
        return _Pending(command, line, attempts=0, deadline=now, internal=internal)

    def _up(self, now: float) -> None:
        self._link_up = True
        self._reader = MessageReader()
        self._queue.appendleft(self._internal(self._probe, now))

    def _report(self, answering: bool, now: float, reason: str = "") -> None:
        """Connected or Disconnected, once per change."""
        self._answering = answering
        if self._reported is not answering:
            self._reported = answering
            self._events.append(Connected(now) if answering else Disconnected(now, reason))

    def _internal(self, verb: str, now: float) -> _Pending:
        return self._make(verb, (), now, internal=True)

    def _lost(self, reason: str, now: float) -> None:
        self._link_up = False
        self._report(False, now, reason)
        for item in [*([self._pending] if self._pending else []), *self._queue]:
            if not item.internal:
                self._events.append(CommandFailed(now, item.command, reason))
        self._pending = None
        self._queue.clear()

    def _read(self, now: float) -> None:
        for _ in range(_MAX_READS_PER_POLL):
            try:
                data = self._link.read(_READ_CHUNK)
            except LinkDown as error:
                self._lost(f"link down: {error}", now)
                return
            if not data:
                return
            for item in self._reader.feed(data):
                self._received(item, now)

    def _received(self, item: Message | Garbled, now: float) -> None:
        if isinstance(item, Garbled):
            self._events.append(Unrecognized(now, item.text, item.reason))
        elif isinstance(item, Event):
            if item.name == "READY" and not item.args:
                self._events.append(DeviceRestarted(now))
                if not any(queued.command.verb == self._probe for queued in self._queue):
                    self._queue.append(self._internal(self._probe, now))
            else:
                self._events.append(Unsolicited(now, item))
        elif isinstance(item, Command):
            self._events.append(Unrecognized(now, _text(item), "a command from the device"))
        else:
            self._answered(item, now)

    def _answered(self, reply: Reply | ErrorReply, now: float) -> None:
        pending = self._pending
        if pending is None or reply.seq != pending.command.seq:
            # Typically the second answer to a resent command: the first one was late.
            self._events.append(Unrecognized(now, _text(reply), "reply to no outstanding command"))
            return
        self._pending = None
        if not self._answering:
            self._report(True, now)
            if pending.command.verb != self._probe:
                # Answering again after silence: what it said before may be stale.
                self._queue.appendleft(self._internal(self._probe, now))
        if isinstance(reply, ErrorReply):
            self._events.append(Refused(now, pending.command, reply.code, reply.text))
        elif not (pending.internal and pending.command.verb == "PING"):
            self._events.append(Acknowledged(now, pending.command, reply))

    def _expire(self, now: float) -> None:
        pending = self._pending
        if pending is None or now < pending.deadline:
            return
        if pending.attempts <= self.settings.retries:
            self._write(pending, now)
            return
        self._pending = None
        reason = f"no reply after {pending.attempts} attempts"
        if not pending.internal or pending.command.verb != "PING":
            self._events.append(CommandFailed(now, pending.command, reason))
        self._report(False, now, f"device silent: {pending.command.verb}, {reason}")

    def _heartbeat(self, now: float) -> None:
        if not self.busy and now - self._last_sent >= self.settings.heartbeat_s:
            self._queue.append(self._internal("PING", now))

    def _transmit(self, now: float) -> None:
        if self._pending is None and self._queue and self._link_up:
            self._pending = self._queue.popleft()
            self._write(self._pending, now)

    def _write(self, pending: _Pending, now: float) -> None:
        pending.attempts += 1
        pending.deadline = now + self.settings.timeout_s
        self._last_sent = now
        try:
            self._link.write(pending.line)
        except LinkDown as error:
            self._lost(f"link down: {error}", now)


def _text(message: Message) -> str:
    return encode(message, with_checksum=False).decode("ascii").rstrip()


DeviceEvent = TypeVar("DeviceEvent")


class SessionDriver(Generic[DeviceEvent]):
    """What the door controller and the occupancy sensor drivers share.

    The session carries commands, retries and reconnection; a subclass only
    says what replies and unsolicited events mean for its device, and what to
    forget when the device may have changed behind its back.
    """

    def __init__(
        self,
        port: SerialLink | SerialSettings,
        settings: CommandSettings | None = None,
        *,
        clock: Clock = time.monotonic,
        first_seq: int = 1,
    ) -> None:
        self._session = CommandSession(
            polling_link(port, clock), settings, probe="STATUS", clock=clock, first_seq=first_seq
        )

    @property
    def connected(self) -> bool:
        """The device is answering."""
        return self._session.connected

    @property
    def busy(self) -> bool:
        """A command is outstanding or queued."""
        return self._session.busy

    @property
    def port(self) -> str:
        """The serial port (or URL) of the device."""
        return self._session.port

    def status(self) -> Command:
        """Ask the device for everything it reports."""
        return self._session.submit("STATUS")

    def shutdown(self) -> None:
        """Close the serial port; the driver is done."""
        self._session.close()

    def poll(self, now: float) -> list[SessionEvent | DeviceEvent]:
        """What happened up to ``now``: session events followed by what they mean."""
        events: list[SessionEvent | DeviceEvent] = []
        for event in self._session.poll(now):
            events.append(event)
            if isinstance(event, Connected | Disconnected | DeviceRestarted):
                # Whatever was known is stale until the device reports again.
                self._forget()
            elif isinstance(event, Acknowledged):
                events += self._fields(event.reply, event.at)
            elif isinstance(event, Unsolicited):
                events += self._unsolicited(event.event, event.at)
        return events

    def _forget(self) -> None:
        raise NotImplementedError

    def _fields(self, reply: Reply, at: float) -> list[SessionEvent | DeviceEvent]:
        raise NotImplementedError

    def _unsolicited(self, event: Event, at: float) -> list[SessionEvent | DeviceEvent]:
        raise NotImplementedError
