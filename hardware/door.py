"""The door controller driver: entry and exit doors behind a board on a serial line.

:class:`DoorController` sends ``OPEN``, ``CLOSE`` and ``STATUS`` commands of
the door protocol (docs/door-protocol.md), keeps the board's watchdog fed,
and reports, from ``poll(now)``, what it learnt: acknowledgements, door state
changes, forced and obstructed doors, faults, the connection going and
coming back.  It never raises on what the device sends, and it never trusts
a door state from before a reconnection: :meth:`DoorController.state` is
None until the board has told it again.

After every (re)connection the board must show it is a door board: its
STATUS reply names both doors with door states (and, with a configured
``identity``, it first answers HELLO with that ID).  Anything else on the
port is reported ``WrongDevice`` and never commanded.  A refused OPEN or
CLOSE is reported as :class:`DoorRefused`, which names the door, so that an
interlock refusal (``ERR 21``) can be retried once the other door is CLOSED.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from hardware.doorprotocol import Command, Door, DoorState, ErrorCode, ErrorReply, Event, Reply
from hardware.doorsession import (
    Acknowledged,
    Clock,
    CommandFailed,
    CommandSettings,
    Connected,
    DeviceRestarted,
    Disconnected,
    Identified,
    Refused,
    SessionEvent,
    Unrecognized,
    WrongDevice,
)
from hardware.link import SerialLink, SerialSettings
from hardware.sessiondriver import SessionDriver, fields_text

__all__ = [
    "Acknowledged",
    "CommandFailed",
    "CommandSettings",
    "Connected",
    "DeviceRestarted",
    "Disconnected",
    "Door",
    "DoorController",
    "DoorEvent",
    "DoorFault",
    "DoorForced",
    "DoorObstructed",
    "DoorRefused",
    "DoorState",
    "DoorStateChanged",
    "Identified",
    "Refused",
    "Unrecognized",
    "WatchdogTripped",
    "WrongDevice",
]


@dataclass(frozen=True, slots=True)
class DoorStateChanged:
    """The board reported ``door`` in a new state (in a reply or an event)."""

    at: float
    door: Door
    state: DoorState


@dataclass(frozen=True, slots=True)
class DoorForced:
    """``! FORCED door``: the door was pushed open without a command."""

    at: float
    door: Door


@dataclass(frozen=True, slots=True)
class DoorObstructed:
    """``! OBSTRUCTED door``: a closing door met an obstacle and is re-opening."""

    at: float
    door: Door


@dataclass(frozen=True, slots=True)
class DoorFault:
    """``! FAULT door code``: the door is in FAULT; ``code`` is the board's reason."""

    at: float
    door: Door
    code: str


@dataclass(frozen=True, slots=True)
class DoorRefused(Refused):
    """The board refused to OPEN or CLOSE ``door`` with ``ERR code text``.

    A :class:`Refused` like any other (matching on ``Refused`` still finds
    it), plus the door.  ``interlock`` (``ERR 21``): the other door was not
    CLOSED; the same command may succeed once the board reports it CLOSED.
    """

    door: Door

    @property
    def verb(self) -> str:
        """``OPEN`` or ``CLOSE``."""
        return self.command.verb

    @property
    def interlock(self) -> bool:
        """Refused by the board's interlock: the other door was not CLOSED."""
        return self.code == ErrorCode.INTERLOCK


@dataclass(frozen=True, slots=True)
class WatchdogTripped:
    """``! WATCHDOG``: the board heard nothing for too long and is closing the exit."""

    at: float


DoorEvent = (
    SessionEvent
    | DoorStateChanged
    | DoorForced
    | DoorObstructed
    | DoorFault
    | DoorRefused
    | WatchdogTripped
)

# Unsolicited events that name a door, and the state the door is in after them.
_DOOR_EVENTS: dict[str, DoorState] = {
    "OPENED": DoorState.OPEN,
    "CLOSED": DoorState.CLOSED,
    "FORCED": DoorState.OPEN,
    "OBSTRUCTED": DoorState.OPENING,
    "FAULT": DoorState.FAULT,
}


class DoorController(SessionDriver[DoorEvent]):
    """Drives a door controller board: entry and exit doors over one serial link.

    ``port`` is the serial settings (the driver makes its link) or a
    :class:`~hardware.link.SerialLink` made with ``read_timeout_s=0``.
    Commands return at once with the :class:`Command` sent (its ``seq``
    identifies the ``Acknowledged``, ``Refused`` or ``CommandFailed`` event
    that later settles it).  Call :meth:`poll` often (every few
    milliseconds to tens of milliseconds); it does not block.  ``clock``
    stamps commands sent between polls: ``poll(now)`` takes the same time.
    ``identity``: the ID the board must answer HELLO with (None: not asked).

    The driver against the emulated board on a pseudo-terminal, as in mock
    mode: it identifies the board, then opens the exit door, whose state
    follows the board's reports (``OPENING`` in the reply, ``OPEN`` once the
    door got there)::

        >>> import time
        >>> from hardware.emulators.door import DoorBoardSettings, DoorEmulator
        >>> from hardware.emulators.pty import PseudoTerminal
        >>> from hardware.link import SerialSettings
        >>> tty = PseudoTerminal()
        >>> tty.open()
        >>> board = DoorEmulator(tty, DoorBoardSettings(travel_s=0.1))
        >>> board.start()
        >>> doors = DoorController(SerialSettings(port=tty.port))
        >>> def poll_until(done, limit_s=5.0):
        ...     events, give_up = [], time.monotonic() + limit_s
        ...     while not done() and time.monotonic() < give_up:
        ...         events += doors.poll(time.monotonic())
        ...         time.sleep(0.005)
        ...     return [(e.door.value, e.state.value) for e in events
        ...             if isinstance(e, DoorStateChanged)]
        >>> poll_until(lambda: doors.connected)
        [('ENTRY', 'CLOSED'), ('EXIT', 'CLOSED')]
        >>> command = doors.open(Door.EXIT)  # its seq identifies the board's answer
        >>> command.verb, command.args
        ('OPEN', ('EXIT',))
        >>> poll_until(lambda: doors.state(Door.EXIT) is DoorState.OPEN)
        [('EXIT', 'OPENING'), ('EXIT', 'OPEN')]
        >>> board.state(Door.EXIT).value  # where the emulated door really is
        'OPEN'
        >>> doors.shutdown()
        >>> board.stop()
        >>> tty.close()
    """

    KIND = "DOORS"

    def __init__(
        self,
        port: SerialLink | SerialSettings,
        settings: CommandSettings | None = None,
        *,
        clock: Clock = time.monotonic,
        first_seq: int = 1,
        identity: str | None = None,
    ) -> None:
        super().__init__(port, settings, clock=clock, first_seq=first_seq, identity=identity)
        self._states: dict[Door, DoorState | None] = dict.fromkeys(Door)

    def state(self, door: Door) -> DoorState | None:
        """The last state the board reported for ``door`` since it (re)connected, else None."""
        return self._states[door]

    def open(self, door: Door) -> Command:
        """Ask the board to open ``door``."""
        return self._session.submit("OPEN", door.value)

    def close(self, door: Door) -> Command:
        """Ask the board to close ``door``."""
        return self._session.submit("CLOSE", door.value)

    def _check_probe(self, reply: Reply | ErrorReply) -> str | None:
        if isinstance(reply, ErrorReply):
            refusal = f"{reply.code} {reply.text}".strip()
            return f"wrong device: STATUS refused ({refusal}), not a door board"
        doors = [reply.get(door.value) for door in Door]
        if reply.get("COUNT") is not None or not all(
            state in DoorState.__members__ for state in doors
        ):
            return f"wrong device: STATUS answered {fields_text(reply)}, not a door board"
        return None

    def _refused(self, event: Refused) -> DoorEvent:
        command = event.command
        if (
            command.verb in ("OPEN", "CLOSE")
            and command.args
            and command.args[0] in Door.__members__
        ):
            door = Door(command.args[0])
            return DoorRefused(event.at, command, event.code, event.text, door)
        return event

    def _forget(self, at: float) -> list[DoorEvent]:
        self._states = dict.fromkeys(Door)
        return []

    def _fields(self, command: Command, reply: Reply, at: float) -> list[DoorEvent]:
        out: list[DoorEvent] = []
        for key, value in reply.fields:
            if key not in Door.__members__:
                continue
            if value not in DoorState.__members__:
                out.append(Unrecognized(at, f"{key}={value}", "unknown door state"))
                continue
            out += self._set(Door(key), DoorState(value), at)
        return out

    def _unsolicited(self, event: Event, at: float) -> list[DoorEvent]:
        if event.name == "WATCHDOG" and not event.args:
            # The board starts closing the exit door unless it is closed or in fault.
            if self._states[Door.EXIT] in (DoorState.OPEN, DoorState.OPENING):
                return [WatchdogTripped(at), *self._set(Door.EXIT, DoorState.CLOSING, at)]
            return [WatchdogTripped(at)]
        after = _DOOR_EVENTS.get(event.name)
        arity = 2 if event.name == "FAULT" else 1
        if after is None or len(event.args) != arity or event.args[0] not in Door.__members__:
            raw = " ".join(["!", event.name, *event.args])
            return [Unrecognized(at, raw, "unknown event")]
        door = Door(event.args[0])
        out: list[DoorEvent] = []
        if event.name == "FORCED":
            out.append(DoorForced(at, door))
        elif event.name == "OBSTRUCTED":
            out.append(DoorObstructed(at, door))
        elif event.name == "FAULT":
            out.append(DoorFault(at, door, event.args[1]))
        return [*out, *self._set(door, after, at)]

    def _set(self, door: Door, state: DoorState, at: float) -> list[DoorEvent]:
        if self._states[door] is state:
            return []
        self._states[door] = state
        return [DoorStateChanged(at, door, state)]
