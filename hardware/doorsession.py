"""egate's side of the door protocol: one command at a time, retries, heartbeat, reconnection.

(One concept past the ~400-line guideline: the session's rules, one command
outstanding, retries, heartbeat, reconnection and the device's proof of
identity, all act on one queue and one link, and the events they report are
defined beside them. The wire format is hardware.doorprotocol's; what the
door and sensor drivers share is hardware.sessiondriver's.)

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
  probe (``STATUS``); ``Connected`` is reported with the device's first reply;
- after a (re)connection the device must prove what it is before anything
  else is sent: its probe reply must be that of its kind of device (the
  driver's check), and with a configured identity it must first answer
  ``HELLO`` with that ``ID``.  Another device (a renumbered ``/dev/ttyUSBn``)
  is reported ``WrongDevice``, never commanded, and looked at again later;
- a device that leaves ``reopen_after`` commands in a row unanswered (pings
  included) has its port closed and reopened, with backoff: a hung USB
  adapter or a hung device often comes back that way.

Nothing here sleeps or blocks: ``poll(now)`` does what is due at ``now``.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

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
    reopen_after: int = Field(
        default=3,
        ge=1,
        le=100,
        description=(
            "Commands in a row (heartbeats included) left unanswered, after which the port "
            "is closed and opened again."
        ),
    )


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


@dataclass(frozen=True, slots=True)
class Identified:
    """The device answered ``HELLO`` with the configured identity (``kind``: its KIND field)."""

    at: float
    kind: str | None
    identity: str


@dataclass(frozen=True, slots=True)
class WrongDevice:
    """What answers on the port is not the configured device; ``reason`` says why.

    Nothing is sent to it but the identification; the port is closed and
    looked at again after a backoff.  Reported once per distinct reason
    until the right device answers.
    """

    at: float
    reason: str


SessionEvent = (
    Connected
    | Disconnected
    | Acknowledged
    | Refused
    | CommandFailed
    | Unsolicited
    | Unrecognized
    | DeviceRestarted
    | Identified
    | WrongDevice
)

# Checks a probe reply received while identifying a device: None when it is
# the expected kind of device, else why not.
ProbeCheck = Callable[[Reply | ErrorReply], str | None]

HELLO = "HELLO"
# What an identity may be (docs/door-protocol.md, "Identity").
IDENTITY_PATTERN = r"[A-Za-z0-9._:-]{1,24}"


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
    """Commands out, replies matched to them, events in, over one serial link.

    ``identity`` is the ``ID`` the device must give in its answer to
    ``HELLO`` after every (re)connection (None: it is not asked), ``kind``
    the ``KIND`` it must give if it gives one, and ``check`` judges the
    reply to the probe sent after every (re)connection.
    """

    def __init__(
        self,
        link: SerialLink,
        settings: CommandSettings | None = None,
        *,
        probe: str = "STATUS",
        clock: Clock = time.monotonic,
        first_seq: int = 1,
        identity: str | None = None,
        kind: str | None = None,
        check: ProbeCheck | None = None,
    ) -> None:
        self._link = link
        self.settings = settings or CommandSettings()
        self._probe = probe
        self._clock = clock
        self._seq = first_seq
        self._identity = identity
        self._kind = kind
        self._check = check
        self._handshake = (HELLO, probe) if identity is not None else (probe,)
        self._reader = MessageReader()
        self._queue: deque[_Pending] = deque()
        self._pending: _Pending | None = None
        self._events: list[SessionEvent] = []
        self._link_up = False
        self._answering = False
        # The device has passed identification since the port was (re)opened.
        self._verified = False
        # It has answered HELLO with the identity since then (when one is configured).
        self._hello_passed = False
        # Commands in a row that got no reply.
        self._failures = 0
        # A port closed on purpose (silence, wrong device) is reopened no sooner than this.
        self._reopen_at = float("-inf")
        self._reopen_delay = link.settings.reconnect_initial_s
        self._wrong: str | None = None
        # What was last reported: None before the first Connected or Disconnected.
        self._reported: bool | None = None
        self._problem: str | None = "not connected yet"
        self._closed = False
        self._last_sent = float("-inf")
        if link.is_open:
            self._up(clock())

    @property
    def connected(self) -> bool:
        """The port is open, the device identified, and it has answered since."""
        return self._link_up and self._verified and self._answering

    @property
    def problem(self) -> str | None:
        """Why the device is not connected (None when it is): the last reason reported."""
        return None if self.connected else self._problem

    @property
    def busy(self) -> bool:
        """A command is outstanding or queued."""
        return self._pending is not None or bool(self._queue)

    @property
    def port(self) -> str:
        """The serial port (or URL) of the device."""
        return self._link.settings.port

    def submit(self, verb: str, *args: str) -> Command:
        """Queue a command (sent at once when nothing is outstanding); its number is in it.

        Until the device on a (re)opened port is identified, commands fail at
        once: nothing but the identification goes to a device not known to
        be the right one.
        """
        return self._submit(verb, args, internal=False)

    def close(self) -> None:
        """Close the port for good; queued commands fail."""
        self._lost("closed", self._clock())
        self._closed = True
        self._link.close()

    def poll(self, now: float) -> list[SessionEvent]:
        """Do what is due at ``now``: read, match, resend, ping, reconnect; what happened."""
        if not self._link_up and not self._closed and now >= self._reopen_at:
            if self._link.try_reconnect(now):
                self._up(now)
            else:
                self._report(False, now, self._link.last_error or "not open")
        if self._link_up:
            self._read(now)
        if self._link_up:
            self._expire(now)
        if self._link_up:
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
        elif not self._verified and not internal:
            self._events.append(CommandFailed(now, item.command, "device not identified yet"))
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
        self._verified = False
        self._hello_passed = False
        self._failures = 0
        self._reader = MessageReader()
        handshake = [self._internal(verb, now) for verb in self._handshake]
        self._queue.extendleft(reversed(handshake))

    def _report(self, answering: bool, now: float, reason: str = "") -> None:
        """Connected or Disconnected, once per change; the latest reason is kept."""
        self._answering = answering
        if not answering and reason:
            self._problem = reason
        if self._reported is not answering:
            self._reported = answering
            self._events.append(Connected(now) if answering else Disconnected(now, reason))

    def _internal(self, verb: str, now: float) -> _Pending:
        return self._make(verb, (), now, internal=True)

    def _lost(self, reason: str, now: float) -> None:
        self._link_up = False
        self._verified = False
        self._report(False, now, reason)
        for item in [*([self._pending] if self._pending else []), *self._queue]:
            if not item.internal:
                self._events.append(CommandFailed(now, item.command, reason))
        self._pending = None
        self._queue.clear()

    def _reopen_later(self, reason: str, now: float) -> None:
        """Close the port on purpose and open it again after a growing delay."""
        self._lost(reason, now)
        self._link.close()
        self._reopen_at = now + self._reopen_delay
        self._reopen_delay = min(self._reopen_delay * 2, self._link.settings.reconnect_max_s)

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
                if not self._link_up:
                    return  # closed on purpose (a wrong device): the rest is its noise

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
        self._failures = 0
        if not self._verified:
            if not self._identified(pending.command, reply, now):
                return
        elif not self._answering:
            self._report(True, now)
            if pending.command.verb != self._probe:
                # Answering again after silence: what it said before may be stale.
                self._queue.appendleft(self._internal(self._probe, now))
        if isinstance(reply, ErrorReply):
            self._events.append(Refused(now, pending.command, reply.code, reply.text))
        elif not (pending.internal and pending.command.verb == "PING"):
            self._events.append(Acknowledged(now, pending.command, reply))

    def _identified(self, command: Command, reply: Reply | ErrorReply, now: float) -> bool:
        """Judge one reply of the identification; True when it is the probe's, and passed."""
        reason = self._judge(command, reply)
        if reason is not None:
            if reason != self._wrong:
                self._wrong = reason
                self._events.append(WrongDevice(now, reason))
            self._reopen_later(reason, now)
            return False
        if command.verb == HELLO and isinstance(reply, Reply) and self._identity is not None:
            self._hello_passed = True
            self._events.append(Identified(now, reply.get("KIND"), self._identity))
            return False
        if command.verb != self._probe or (self._identity is not None and not self._hello_passed):
            # Nothing learnt (the probe alone is no identity): asked again when idle.
            return False
        self._verified = True
        self._wrong = None
        self._reopen_delay = self._link.settings.reconnect_initial_s
        self._report(True, now)
        return True

    def _judge(self, command: Command, reply: Reply | ErrorReply) -> str | None:
        """Why ``reply`` shows the wrong device on the port; None when it shows no such thing."""
        if command.verb == HELLO:
            expected = f"expected ID={self._identity}"
            if isinstance(reply, ErrorReply):
                refusal = f"{reply.code} {reply.text}".strip()
                return f"wrong device: HELLO refused ({refusal}), {expected}"
            kind, identity = reply.get("KIND"), reply.get("ID")
            if self._kind is not None and kind is not None and kind != self._kind:
                return f"wrong device: KIND={kind} ID={identity}, expected KIND={self._kind}"
            if identity != self._identity:
                found = "no ID" if identity is None else f"ID={identity}"
                return f"wrong device: HELLO answered {found}, {expected}"
            return None
        if command.verb == self._probe and self._check is not None:
            return self._check(reply)
        return None

    def _expire(self, now: float) -> None:
        pending = self._pending
        if pending is None or now < pending.deadline:
            return
        if pending.attempts <= self.settings.retries:
            self._write(pending, now)
            return
        self._pending = None
        self._failures += 1
        if not self._verified:
            # The identification starts over, whole: a probe answered after a
            # HELLO that was not must not pass for an identified device.
            self._queue.clear()
        reason = f"no reply after {pending.attempts} attempts"
        if not pending.internal or pending.command.verb != "PING":
            self._events.append(CommandFailed(now, pending.command, reason))
        self._report(False, now, f"device silent: {pending.command.verb}, {reason}")
        if self._failures >= self.settings.reopen_after:
            # Still open but mute: a hung adapter or device; reopening often revives it.
            self._reopen_later(
                f"device silent: {self._failures} commands in a row unanswered, reopening the port",
                now,
            )

    def _heartbeat(self, now: float) -> None:
        if not self.busy and now - self._last_sent >= self.settings.heartbeat_s:
            if self._verified:
                self._queue.append(self._internal("PING", now))
            else:
                # Not identified yet: the identification is asked again, never a ping.
                self._queue.extend(self._internal(verb, now) for verb in self._handshake)

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
