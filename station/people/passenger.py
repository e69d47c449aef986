"""A mock passenger: someone who walks through the mock gate, reacting only to what they see.

A person at an e-gate knows nothing of its state machine.  They lay the
passport on the reader, watch the doors and the indicator, walk through a
door once it stands open, and leave when the gate sends them away.
``MockPassenger`` plays such a person against the emulated devices: it reads
door states from the door emulator (only a fully ``OPEN`` door is
passable), the signal from the indicator, and acts through the document feed
(laying down and taking away the document) and the occupancy emulator
(crossing a beam).  The on-gate service in mock mode calls :meth:`step`
every few milliseconds with the monotonic time; each call does at most one
thing, as a person does.

How the passenger reads the gate:

* The gate *answers* once the indicator shows something other than what it
  showed when the document went down (the previous traveller's ``OFFICER``
  may still be lit then).  ``OFFICER``, ``READY`` or ``CLOSED`` as an answer
  means "not you": a passenger outside takes the document and goes.
* Outside, an open entry door after an answer that is not a "no" is the way
  in; ``walk_s`` later they have crossed the entry beam.  A tailgater crosses
  right behind them, at the next step.
* Inside, an open exit door is the way out.  The entry opening again (after
  it was seen closing), or standing open while the indicator says "no",
  sends them back out through the entry, the tailgater with them.
* Someone who ``retreats`` changes their mind: when the entry opens for
  them, they take the passport back and walk away.
* Patience: when nothing they can see changes for ``patience_s``, they give
  up.  Outside they take the document and leave.  Inside they leave through
  the entry if it is open; if both doors are shut they cannot leave, and
  stay (``gave_up`` True, ``done`` False) until a door opens for them, as
  someone locked in a mantrap waits for an officer.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Literal, Protocol

from egate.gate.commands import Signal
from hardware.doorprotocol import Door, DoorState
from hardware.indicator import Indicator, Shown

if TYPE_CHECKING:
    from hardware.emulators.door import DoorEmulator
    from hardware.emulators.occupancy import OccupancyEmulator
    from station.people.traveller import MockDocument, MockDocumentFeed


class PassengerPhase(StrEnum):
    """Where a mock passenger is."""

    WAITING = "waiting"  # stepping up to the reader
    PRESENTED = "presented"  # the document is on the reader; still outside the gate
    INSIDE = "inside"
    LEFT_THROUGH_EXIT = "left_through_exit"
    TURNED_BACK = "turned_back"  # was inside, left through the entry
    TURNED_AWAY = "turned_away"  # never entered: took the document and went


_GONE = frozenset(
    {PassengerPhase.LEFT_THROUGH_EXIT, PassengerPhase.TURNED_BACK, PassengerPhase.TURNED_AWAY}
)

# What a traveller takes for "the gate will not let you on": see an officer,
# start again, out of service.
_NO_SIGNALS = frozenset({Signal.OFFICER, Signal.READY, Signal.CLOSED})

# Door states and indicator as the passenger saw them at one step.
_View = tuple[DoorState, DoorState, Shown | None]


@dataclass(frozen=True, slots=True)
class Behaviour:
    """The timing and misbehaviour of one passenger (seconds)."""

    present_s: float = 0.5  # from stepping up to laying the document on the reader
    walk_s: float = 1.0  # from a door being fully open to having crossed it
    tailgater: bool = False  # a second person follows them in through the entry
    patience_s: float = 60.0  # gives up after this long without anything changing
    # Changes their mind: once the entry opens, takes the passport back and walks away.
    retreats: bool = False

    def __post_init__(self) -> None:
        if self.present_s < 0 or self.walk_s < 0:
            raise ValueError("present_s and walk_s must be 0 or more")
        if not self.patience_s > 0:
            raise ValueError("patience_s must be positive")


class Traveller(Protocol):
    """Whoever walks through the mock gate: a sample traveller or a scenario's passenger."""

    @property
    def label(self) -> str:
        """Their id in transcripts: never a name."""
        ...

    @property
    def document(self) -> MockDocument:
        """The passport (and face) they bring."""
        ...

    @property
    def behaviour(self) -> Behaviour:
        """How they act at the gate."""
        ...


class MockPassenger:
    """One traveller (and a tailgater, if they bring one) walking through the mock gate."""

    def __init__(
        self,
        traveller: Traveller,
        feed: MockDocumentFeed,
        doors: DoorEmulator,
        occupancy: OccupancyEmulator,
        indicator: Indicator,
        behaviour: Behaviour | None = None,
    ) -> None:
        self.traveller = traveller
        self.behaviour = behaviour if behaviour is not None else traveller.behaviour
        self._feed = feed
        self._doors = doors
        self._occupancy = occupancy
        self._indicator = indicator
        self._phase = PassengerPhase.WAITING
        self._arrived_at: float | None = None
        self._finished_at: float | None = None
        # What the indicator showed at the last thing they did (laying the
        # document down, walking in): anything else since is the gate's answer.
        self._shown_then: Shown | None = None
        # The door they are walking through and since when it has stood open.
        self._walking: tuple[Door, float] | None = None
        self._entry_shut_behind = False
        # The tailgater's next move: walking in or out across a beam.
        self._follower: tuple[Literal["in", "out"], str] | None = None
        self._tailgater_inside = False
        self._seen: _View | None = None
        self._changed_at = 0.0
        self._gave_up = False

    @property
    def phase(self) -> PassengerPhase:
        """Where the passenger is now."""
        return self._phase

    @property
    def done(self) -> bool:
        """Whether they (and any tailgater) have left the gate area, one way or another."""
        return self._phase in _GONE and self._follower is None

    @property
    def finished_at(self) -> float | None:
        """The time of the step at which the last of them left, or None."""
        return self._finished_at

    @property
    def gave_up(self) -> bool:
        """Whether their patience ran out; inside behind shut doors they wait for an officer."""
        return self._gave_up

    def __repr__(self) -> str:
        return f"MockPassenger({self.traveller.label}, {self._phase.value})"

    def step(self, now: float) -> None:
        """Look at the gate at ``now`` (monotonic seconds) and do at most one thing."""
        if self.done:
            return
        if self._arrived_at is None:
            self._arrived_at = self._changed_at = now
        if self._follower is not None:
            self._move_follower(now)
            return
        if self._phase is PassengerPhase.WAITING:
            if now - self._arrived_at >= self.behaviour.present_s:
                self._feed.present(self.traveller.document)
                self._shown_then = self._indicator.current
                self._phase = PassengerPhase.PRESENTED
                self._changed_at = now
            return
        entry, exit_, shown = self._look(now)
        if self._phase is PassengerPhase.PRESENTED:
            self._outside(now, entry, shown)
        else:
            self._inside(now, entry, exit_, shown)

    def go_elsewhere(self, now: float) -> bool:
        """Leave a gate that closed before they went in (taking the document); False if inside."""
        if self._phase is PassengerPhase.WAITING:
            self._leave(PassengerPhase.TURNED_AWAY, now)
            return True
        if self._phase is PassengerPhase.PRESENTED:
            self._feed.take_away()
            self._leave(PassengerPhase.TURNED_AWAY, now)
            return True
        return False

    # -- what they see ---------------------------------------------------------

    def _look(self, now: float) -> _View:
        view = (
            self._doors.state(Door.ENTRY),
            self._doors.state(Door.EXIT),
            self._indicator.current,
        )
        if view != self._seen:
            self._seen = view
            self._changed_at = now
        elif now - self._changed_at >= self.behaviour.patience_s:
            self._gave_up = True
        return view

    def _answered(self, shown: Shown | None) -> bool:
        """Whether the indicator shows something new since their last act."""
        return shown is not None and shown != self._shown_then

    def _walked(self, door: Door, now: float) -> bool:
        """Walk towards the open ``door``; True once ``walk_s`` has passed with it open."""
        if self._walking is None or self._walking[0] is not door:
            self._walking = (door, now)
        return now - self._walking[1] >= self.behaviour.walk_s

    # -- what they do ----------------------------------------------------------

    def _outside(self, now: float, entry: DoorState, shown: Shown | None) -> None:
        answered = self._answered(shown)
        told_no = answered and shown is not None and shown.signal in _NO_SIGNALS
        changed_mind = answered and entry is DoorState.OPEN and self.behaviour.retreats
        if told_no or changed_mind or self._gave_up:
            self._feed.take_away()
            self._leave(PassengerPhase.TURNED_AWAY, now)
        elif answered and entry is DoorState.OPEN:
            if self._walked(Door.ENTRY, now):
                self._occupancy.walk_in(Door.ENTRY.value)
                self._walking = None
                self._phase = PassengerPhase.INSIDE
                self._shown_then = shown
                self._entry_shut_behind = False
                if self.behaviour.tailgater:
                    self._follower = ("in", Door.ENTRY.value)
        else:
            self._walking = None  # the door shut before they got there

    def _inside(self, now: float, entry: DoorState, exit_: DoorState, shown: Shown | None) -> None:
        if entry is not DoorState.OPEN:
            self._entry_shut_behind = True
        told_no = self._answered(shown) and shown is not None and shown.signal in _NO_SIGNALS
        if exit_ is DoorState.OPEN:
            way: Door | None = Door.EXIT
        elif entry is DoorState.OPEN and (self._entry_shut_behind or told_no or self._gave_up):
            way = Door.ENTRY
        else:
            way = None
        if way is None:
            self._walking = None
            return
        if not self._walked(way, now):
            return
        self._occupancy.walk_out(way.value)
        # The document lies on the reader until they go: the camera sees them meanwhile.
        self._feed.take_away()
        self._walking = None
        if self._tailgater_inside:
            self._follower = ("out", way.value)
        phase = PassengerPhase.LEFT_THROUGH_EXIT if way is Door.EXIT else PassengerPhase.TURNED_BACK
        self._leave(phase, now)

    def _move_follower(self, now: float) -> None:
        assert self._follower is not None
        direction, beam = self._follower
        if direction == "in":
            self._occupancy.walk_in(beam)
        else:
            self._occupancy.walk_out(beam)
        self._tailgater_inside = direction == "in"
        self._follower = None
        if self._phase in _GONE:
            self._finished_at = now

    def _leave(self, phase: PassengerPhase, now: float) -> None:
        self._phase = phase
        if self._follower is None:
            self._finished_at = now
