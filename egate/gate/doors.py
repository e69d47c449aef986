"""A gate's two doors as the controller knows them: as ordered, and as the board reports them.

Safety is judged on what the board reports.  For each door this keeps
whether the controller ordered it open, its position in the board's last
report, and how many of the controller's orders for it the board has not
answered yet: a report sent before the board took the latest order is
stale.  In a two-step gate (a mantrap) a door is ordered open only once the
other is reported CLOSED with nothing unanswered; until then it *waits*,
and the controller bounds the wait with its interlock timer.
"""

from __future__ import annotations

from egate.gate import commands as c
from egate.gate.commands import Command
from egate.gate.events import Door, DoorPosition

OTHER = {Door.ENTRY: Door.EXIT, Door.EXIT: Door.ENTRY}
_MOVING_OPEN = (DoorPosition.OPEN, DoorPosition.OPENING)


class Doors:
    """The doors of one gate; every change appends the door orders it takes to ``out``."""

    def __init__(self, mantrap: bool) -> None:
        """``mantrap``: a two-step gate, whose doors are never both away from closed."""
        self.mantrap = mantrap
        self._ordered = {Door.ENTRY: False, Door.EXIT: False}
        self._reported: dict[Door, DoorPosition | None] = {Door.ENTRY: None, Door.EXIT: None}
        self._unanswered = {Door.ENTRY: 0, Door.EXIT: 0}
        self.waiting: Door | None = None

    def ordered_open(self, door: Door) -> bool:
        """Whether ``door`` was last ordered open."""
        return self._ordered[door]

    def wanted_open(self, door: Door) -> bool:
        """Whether ``door`` is ordered open or waits to be."""
        return self._ordered[door] or self.waiting is door

    def open(self, door: Door, out: list[Command]) -> None:
        """Open ``door``: at once, or (mantrap) once the other is reported closed."""
        if self.mantrap:
            self.close(OTHER[door], out)
        if self.wanted_open(door):
            return
        self.waiting = door
        self.release(out)

    def close(self, door: Door, out: list[Command]) -> None:
        """Close ``door`` if it was ordered open (and stop it waiting)."""
        if self.waiting is door:
            self.waiting = None
        if self._ordered[door]:
            self._ordered[door] = False
            self._order(door, False, out)

    def shut_whatever_we_believe(self, door: Door, out: list[Command]) -> None:
        """Order ``door`` shut even if it was never ordered open (after a fault)."""
        if self.waiting is door:
            self.waiting = None
        self._ordered[door] = False
        self._order(door, False, out)

    def reported(
        self, door: Door, position: DoorPosition | None, out: list[Command]
    ) -> Door | None:
        """The board reports ``door`` at ``position``; the door this let open, if any."""
        if self._unanswered[door]:
            return None  # sent before the board took our last order for this door: stale
        self._reported[door] = position
        return self.release(out)

    def answered(
        self, door: Door, position: DoorPosition | None, refused: bool, out: list[Command]
    ) -> tuple[bool, Door | None]:
        """The board settled an order for ``door``: whether it refused the last one to
        open it (its interlock), and the door this let open, if any."""
        if not self._unanswered[door]:
            return False, None  # an answer to an order that was not the controller's
        self._unanswered[door] -= 1
        if self._unanswered[door]:
            return False, None
        self._reported[door] = position
        interlocked = refused and self._ordered[door]
        if interlocked:
            # Wait for the other door to be reported closed, and distrust a
            # report that said it was.
            self._ordered[door] = False
            self.waiting = door
            other = OTHER[door]
            if self._reported[other] is DoorPosition.CLOSED:
                self._reported[other] = None
        return interlocked, self.release(out)

    def release(self, out: list[Command]) -> Door | None:
        """Open the waiting door if the board now reports the other one closed; which one."""
        door = self.waiting
        if door is None:
            return None
        other = OTHER[door]
        if self.mantrap and self._settled(other) and self._reported[other] in _MOVING_OPEN:
            # Open with no order of ours (left open, or a board restarted): shut it.
            self._order(other, False, out)
            return None
        if self.mantrap and not (
            self._settled(other) and self._reported[other] is DoorPosition.CLOSED
        ):
            return None
        self.waiting = None
        self._ordered[door] = True
        self._order(door, True, out)
        return door

    def _settled(self, door: Door) -> bool:
        """Not ordered open, and every order for it answered."""
        return not self._ordered[door] and not self._unanswered[door]

    def _order(self, door: Door, opening: bool, out: list[Command]) -> None:
        """Send a door order; the door's position is unknown until the board answers it."""
        self._unanswered[door] += 1
        self._reported[door] = None
        if door is Door.ENTRY:
            out.append(c.OpenEntryDoor() if opening else c.CloseEntryDoor())
        else:
            out.append(c.OpenExitDoor() if opening else c.CloseExitDoor())
