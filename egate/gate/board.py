"""A door board whose doors reach where they are ordered at once.

The capacity model counts door travel inside its step durations, so it needs
a board that answers the controller's door orders without delay; unit tests
use it for the same reason.  On a gate the real board's reports come through
the door driver instead (hardware/door.py).
"""

from __future__ import annotations

from collections.abc import Callable

from egate.gate import commands as c
from egate.gate import events as e
from egate.gate.events import Door, DoorPosition

_ORDERS: dict[type, tuple[Door, DoorPosition]] = {
    c.OpenEntryDoor: (Door.ENTRY, DoorPosition.OPEN),
    c.CloseEntryDoor: (Door.ENTRY, DoorPosition.CLOSED),
    c.OpenExitDoor: (Door.EXIT, DoorPosition.OPEN),
    c.CloseExitDoor: (Door.EXIT, DoorPosition.CLOSED),
}


class InstantBoard:
    """Answers each door order with the door already where it was ordered."""

    def __init__(self) -> None:
        self.positions = dict.fromkeys(Door, DoorPosition.CLOSED)

    def report(self) -> list[e.Event]:
        """Where both doors are: what a board says when it (re)connects."""
        return [e.DoorReported(door, position) for door, position in self.positions.items()]

    def answer(self, commands: list[c.Command]) -> list[e.Event]:
        """The board's answers to the door orders among ``commands``, in order."""
        out: list[e.Event] = []
        for command in commands:
            order = _ORDERS.get(type(command))
            if order is not None:
                door, position = order
                self.positions[door] = position
                out.append(e.DoorAnswered(door, position))
        return out

    def drive(
        self, handle: Callable[[e.Event, float], list[c.Command]], event: e.Event, now: float
    ) -> list[c.Command]:
        """``handle(event, now)`` (a controller's), then the board's answers to its door
        orders, until nothing is left to answer; every command given, in order."""
        commands = handle(event, now)
        answers = self.answer(commands)
        while answers:
            more = handle(answers.pop(0), now)
            commands += more
            answers += self.answer(more)
        return commands
