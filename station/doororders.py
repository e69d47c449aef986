"""The gate controller's door orders on the board, and the board's word back as controller events.

The controller judges doors on what the board reports (see egate.gate.controller),
so every order it gives must come back settled: ``DoorAnswered`` with the door's
position in the board's reply, refused (the interlock's ``ERR 21``), or with no
position when the order got no answer at all.  The board's events and reply
fields become ``DoorReported``.  After an interlock refusal the board is asked for
its STATUS, and the positions in the answer are reported again, so a waiting
door is retried as soon as the board says the other one is closed.
"""

from __future__ import annotations

from egate.gate import commands as c
from egate.gate import events as e
from egate.gate.events import DoorPosition
from hardware.door import (
    Acknowledged,
    CommandFailed,
    DoorController,
    DoorEvent,
    DoorForced,
    DoorState,
    DoorStateChanged,
    Refused,
)
from hardware.doorprotocol import Door as BoardDoor
from hardware.doorprotocol import ErrorCode

_DOOR = {BoardDoor.ENTRY: e.Door.ENTRY, BoardDoor.EXIT: e.Door.EXIT}
_BOARD_DOOR = {door: board for board, door in _DOOR.items()}
_POSITION = {
    DoorState.OPENING: DoorPosition.OPENING,
    DoorState.OPEN: DoorPosition.OPEN,
    DoorState.CLOSING: DoorPosition.CLOSING,
    DoorState.CLOSED: DoorPosition.CLOSED,
    DoorState.FAULT: DoorPosition.FAULT,
}
_ORDERS: dict[type, tuple[e.Door, bool]] = {
    c.OpenEntryDoor: (e.Door.ENTRY, True),
    c.CloseEntryDoor: (e.Door.ENTRY, False),
    c.OpenExitDoor: (e.Door.EXIT, True),
    c.CloseExitDoor: (e.Door.EXIT, False),
}


def position(state: DoorState | None) -> DoorPosition | None:
    """The controller's word for a board door state."""
    return None if state is None else _POSITION[state]


def ordered_door(command: c.Command) -> e.Door | None:
    """The door ``command`` orders, if it is a door order."""
    order = _ORDERS.get(type(command))
    return None if order is None else order[0]


def board_door(door: e.Door) -> BoardDoor:
    """The board's name for one of the controller's doors."""
    return _BOARD_DOOR[door]


class DoorOrders:
    """Sends the controller's door orders and turns the driver's events into controller events."""

    def __init__(self, doors: DoorController) -> None:
        self._doors = doors
        # The controller's orders the board has not settled, by sequence number.
        self._orders: dict[int, e.Door] = {}
        self._status: int | None = None

    def carry_out(self, command: c.Command) -> bool:
        """Send ``command`` if it is a door order; whether it was one."""
        order = _ORDERS.get(type(command))
        if order is None:
            return False
        door, opening = order
        side = _BOARD_DOOR[door]
        sent = self._doors.open(side) if opening else self._doors.close(side)
        self._orders[sent.seq] = door
        return True

    def events(self, event: DoorEvent) -> list[e.Event]:
        """What the driver's ``event`` tells the controller (often nothing)."""
        match event:
            case DoorForced(door=side):
                return [e.DoorForced(_DOOR[side])]
            case DoorStateChanged(door=side, state=state):
                return [e.DoorReported(_DOOR[side], _POSITION[state])]
            case Acknowledged(command=command, reply=reply):
                if command.seq == self._status:
                    self._status = None
                    return self.positions()
                door = self._orders.pop(command.seq, None)
                if door is None:
                    return []
                answered = DoorState.__members__.get(reply.get(_BOARD_DOOR[door].value) or "")
                return [e.DoorAnswered(door, position(answered))]
            case Refused(command=command, code=code):
                door = self._orders.pop(command.seq, None)
                if door is None:
                    return []
                if code != ErrorCode.INTERLOCK:
                    # Not carried out for another reason (a door in fault): the
                    # door's position is unknown until the board reports it.
                    return [e.DoorAnswered(door, None)]
                self._status = self._doors.status().seq
                now_at = self._doors.state(_BOARD_DOOR[door])
                return [e.DoorAnswered(door, position(now_at), refused=True)]
            case CommandFailed(command=command):
                door = self._orders.pop(command.seq, None)
                if command.seq == self._status:
                    self._status = None
                return [] if door is None else [e.DoorAnswered(door, None)]
        return []

    def positions(self) -> list[e.Event]:
        """Where the driver last heard the doors were, as reports (after a start, say)."""
        return [
            e.DoorReported(door, position(self._doors.state(side))) for side, door in _DOOR.items()
        ]
