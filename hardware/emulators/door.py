"""An emulated door controller board that speaks the door protocol on a pseudo-terminal.

:class:`DoorBoard` is the board's behaviour: two doors that take
``travel_s`` to open or close, reverse when an obstacle meets them, jam on
request, and a watchdog that closes the exit door when egate falls silent.
With ``interlock`` it refuses to open one door while the other is not
CLOSED (``ERR 21``), as a board with a hardware interlock does.  It keeps a
log of every door state change with its time (:attr:`DoorBoard.log`), so a
test can check what the doors did, not what egate asked: for instance that
they were never both away from CLOSED (:func:`both_not_closed`).
:class:`DoorEmulator` runs it on a pseudo-terminal with the door faults to
inject besides the line faults every emulator of the protocol has.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field

from hardware.doorprotocol import Command, Door, DoorState, ErrorCode, ErrorReply, Event, Reply
from hardware.doorsession import IDENTITY_PATTERN
from hardware.emulators.lineboard import (
    Answer,
    Board,
    Clock,
    LineDeviceEmulator,
    Wire,
    bad_argument,
    unknown,
)


class DoorBoardSettings(BaseModel):
    """How an emulated door board behaves (on a real board: its configuration)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    travel_s: float = Field(default=2.0, gt=0, description="Time to open or close a door fully.")
    watchdog_s: float = Field(
        default=3.0, gt=0, description="Silence after which the board closes the exit door."
    )
    dedupe_window_s: float = Field(
        default=5.0, ge=0, description="How long a repeated OPEN or CLOSE counts as a retry."
    )
    interlock: bool = Field(
        default=False, description="Refuse to open a door while the other one is not closed."
    )
    identity: str | None = Field(
        default="EMULATED-DOORS",
        pattern=f"^{IDENTITY_PATTERN}$",
        description="The ID answered to HELLO; None: the board does not know HELLO.",
    )


# The board keeps this many door state changes (a long mock run must not grow without end).
LOG_LENGTH = 100_000


@dataclass(frozen=True, slots=True)
class DoorChange:
    """``door`` entered ``state`` at ``at`` (board time)."""

    at: float
    door: Door
    state: DoorState


def both_not_closed(log: Iterable[DoorChange]) -> list[tuple[float, float | None]]:
    """The spans of time in ``log`` when neither door was CLOSED (end None: still so).

    Both doors count as CLOSED before the first change, as after power-on.
    """
    states = dict.fromkeys(Door, DoorState.CLOSED)
    spans: list[tuple[float, float | None]] = []
    since: float | None = None
    for change in log:
        states[change.door] = change.state
        both = all(state is not DoorState.CLOSED for state in states.values())
        if both and since is None:
            since = change.at
        elif not both and since is not None:
            spans.append((since, change.at))
            since = None
    if since is not None:
        spans.append((since, None))
    return spans


@dataclass
class _Leaf:
    """One door: its state, how far open (0 closed, 1 open), and what hinders it."""

    state: DoorState = DoorState.CLOSED
    position: float = 0.0
    jam: str | None = None
    obstructed: bool = False


class DoorBoard(Board):
    """The behaviour of a door controller board: two doors, their motors, the watchdog."""

    STATE_CHANGING = frozenset({"OPEN", "CLOSE"})
    KIND = "DOORS"

    def __init__(self, settings: DoorBoardSettings, now: float) -> None:
        super().__init__(now, settings.dedupe_window_s, settings.identity)
        self.settings = settings
        self.doors = {door: _Leaf() for door in Door}
        self.log: deque[DoorChange] = deque(maxlen=LOG_LENGTH)
        # The silence the watchdog last fired for (the time of the command before it).
        self._watchdog_fired_for: float | None = None

    def power_on(self, now: float) -> list[Event]:
        """Doors that are not closed are driven closed, jammed ones reported; watchdog from now."""
        events = super().power_on(now)
        self._watchdog_fired_for = None
        for door, leaf in self.doors.items():
            leaf.obstructed = False
            if leaf.jam is not None:
                events += self.jam(door, leaf.jam, now)
            else:
                self._set(door, DoorState.CLOSING if leaf.position > 0 else DoorState.CLOSED, now)
        return events

    def state(self, door: Door) -> DoorState:
        """Where ``door`` is now."""
        return self.doors[door].state

    def repeat(self, reply: Answer) -> Answer:
        """The same answer, but with the door's state as it is now, not as it was."""
        if isinstance(reply, ErrorReply):
            return reply
        now = tuple((key, self.state(Door(key)).value) for key, _ in reply.fields)
        return Reply(reply.seq, now)

    def execute(self, command: Command) -> Answer:
        """OPEN door, CLOSE door, STATUS, PING."""
        if command.verb == "PING":
            return bad_argument(command, "nothing") if command.args else Reply(command.seq)
        if command.verb == "STATUS":
            if command.args:
                return bad_argument(command, "nothing")
            return Reply(command.seq, tuple((d.value, self.state(d).value) for d in Door))
        if command.verb not in self.STATE_CHANGING:
            return unknown(command)
        if len(command.args) != 1 or command.args[0] not in Door.__members__:
            return bad_argument(command, "ENTRY or EXIT")
        door = Door(command.args[0])
        leaf = self.doors[door]
        if leaf.jam is not None:
            return ErrorReply(command.seq, ErrorCode.DOOR_FAULT, f"door fault {leaf.jam}")
        if command.verb == "OPEN":
            other = self.doors[Door.EXIT if door is Door.ENTRY else Door.ENTRY]
            if self.settings.interlock and other.state is not DoorState.CLOSED:
                return ErrorReply(command.seq, ErrorCode.INTERLOCK, "other door not closed")
            if leaf.state is not DoorState.OPEN:
                self._set(door, DoorState.OPENING, self.now)
        elif leaf.state is not DoorState.CLOSED:
            self._set(door, DoorState.CLOSING, self.now)
        return Reply(command.seq, ((door.value, leaf.state.value),))

    def advance(self, now: float) -> list[Event]:
        """Doors move, obstacles reverse closing doors, the watchdog closes the exit."""
        events: list[Event] = []
        trips_at = self.last_heard + self.settings.watchdog_s
        if now > trips_at and self._watchdog_fired_for != self.last_heard:
            # Doors move until the moment it trips, and only then does the exit turn.
            events += self._move(max(self.now, trips_at))
            self._watchdog_fired_for = self.last_heard
            events.append(Event("WATCHDOG"))
            exit_door = self.doors[Door.EXIT]
            if exit_door.jam is None and exit_door.state is not DoorState.CLOSED:
                self._set(Door.EXIT, DoorState.CLOSING, max(self.now, trips_at))
        return events + self._move(now)

    def _move(self, now: float) -> list[Event]:
        events: list[Event] = []
        start = self.now
        step = max(0.0, now - start) / self.settings.travel_s
        super().advance(now)
        travel = self.settings.travel_s
        for door, leaf in self.doors.items():
            if leaf.state is DoorState.CLOSING and leaf.obstructed:
                self._set(door, DoorState.OPENING, start)
                events.append(Event("OBSTRUCTED", (door.value,)))
            if leaf.state is DoorState.OPENING:
                if leaf.position + step >= 1.0:
                    # Logged when the door got there, not when the board looked.
                    self._set(door, DoorState.OPEN, start + (1.0 - leaf.position) * travel)
                    events.append(Event("OPENED", (door.value,)))
                leaf.position = min(1.0, leaf.position + step)
            elif leaf.state is DoorState.CLOSING:
                if leaf.position - step <= 0.0:
                    self._set(door, DoorState.CLOSED, start + leaf.position * travel)
                    events.append(Event("CLOSED", (door.value,)))
                leaf.position = max(0.0, leaf.position - step)
        return events

    def _set(self, door: Door, state: DoorState, at: float) -> None:
        """Put ``door`` in ``state`` and log it, if that is a change."""
        leaf = self.doors[door]
        if leaf.state is not state:
            leaf.state = state
            self.log.append(DoorChange(at, door, state))

    # Things that happen to the doors, not commanded by egate.

    def jam(self, door: Door, code: str, now: float) -> list[Event]:
        """The door's motor or lock fails: it stops where it is, in FAULT."""
        events = self.advance(now)
        self.doors[door].jam = code
        self._set(door, DoorState.FAULT, self.now)
        return [*events, Event("FAULT", (door.value, code))]

    def unjam(self, door: Door, now: float) -> list[Event]:
        """The cause of the fault is gone; the door stays in FAULT until commanded."""
        events = self.advance(now)
        self.doors[door].jam = None
        return events

    def force(self, door: Door, now: float) -> list[Event]:
        """Someone pushes the door open."""
        events = self.advance(now)
        leaf = self.doors[door]
        if leaf.jam is not None or leaf.state is DoorState.OPEN:
            return events
        self._set(door, DoorState.OPEN, self.now)
        leaf.position = 1.0
        return [*events, Event("FORCED", (door.value,))]

    def obstruct(self, door: Door, obstructed: bool, now: float) -> list[Event]:
        """Something stands in the door's way (True) or has gone (False)."""
        events = self.advance(now)
        self.doors[door].obstructed = obstructed
        return [*events, *self.advance(now)]


class DoorEmulator(LineDeviceEmulator):
    """An emulated door controller board on a pseudo-terminal, with door faults to inject."""

    board: DoorBoard

    def __init__(
        self,
        port: Wire | int,
        settings: DoorBoardSettings | None = None,
        *,
        with_checksum: bool = True,
        clock: Clock = time.monotonic,
    ) -> None:
        board = DoorBoard(settings or DoorBoardSettings(), clock())
        super().__init__(board, port, with_checksum=with_checksum, clock=clock)

    def state(self, door: Door) -> DoorState:
        """Where ``door`` is now."""
        with self._lock:
            self._send(self.board.advance(self._clock()))
            return self.board.state(door)

    def jam(self, door: Door, code: str = "JAMMED") -> None:
        """The door jams: ``! FAULT door code``; commands to it fail until ``unjam``."""
        self.inject(lambda now: self.board.jam(door, code, now))

    def unjam(self, door: Door) -> None:
        """The jam is cleared; the next OPEN or CLOSE moves the door again."""
        self.inject(lambda now: self.board.unjam(door, now))

    def force(self, door: Door) -> None:
        """Someone pushes the door open: ``! FORCED door``."""
        self.inject(lambda now: self.board.force(door, now))

    def obstruct(self, door: Door, obstructed: bool = True) -> None:
        """Something blocks the door (or no longer does); a closing door re-opens."""
        self.inject(lambda now: self.board.obstruct(door, obstructed, now))

    def executions(self, verb: str) -> list[Command]:
        """The commands with ``verb`` that the board carried out (retries excluded)."""
        with self._lock:
            return [command for command in self.board.executed if command.verb == verb]

    @property
    def log(self) -> list[DoorChange]:
        """Every door state change so far (the last ``LOG_LENGTH``), oldest first."""
        with self._lock:
            self._send(self.board.advance(self._clock()))
            return list(self.board.log)
