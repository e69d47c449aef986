"""An emulated occupancy sensor that speaks the door protocol on a pseudo-terminal.

The sensor counts the people inside the gate and watches light beams (by
default one at each door); it reports changes as events (``! COUNT 2``,
``! BEAM ENTRY BROKEN``, ``! TAILGATE``) and answers ``COUNT``, ``STATUS`` and
``PING``.  Tests and replays move people through it with :meth:`walk_in`,
:meth:`walk_out` or the lower-level :meth:`set_count` and :meth:`beam`.
"""

from __future__ import annotations

import time

from hardware.doorprotocol import Command, Event, Reply
from hardware.emulators.doorprotocol import (
    Answer,
    Board,
    Clock,
    LineDeviceEmulator,
    Wire,
    bad_argument,
    unknown,
)

BROKEN, CLEAR = "BROKEN", "CLEAR"


class OccupancyBoard(Board):
    """The behaviour of an occupancy sensor: a person count and named beams."""

    def __init__(self, now: float, beams: tuple[str, ...] = ("ENTRY", "EXIT")) -> None:
        super().__init__(now, dedupe_window_s=0.0)
        self.beam_names = beams
        self.count = 0
        self.broken = dict.fromkeys(beams, False)

    def power_on(self, now: float) -> list[Event]:
        """Nobody inside, every beam clear."""
        self.count = 0
        self.broken = dict.fromkeys(self.beam_names, False)
        return super().power_on(now)

    def execute(self, command: Command) -> Answer:
        """COUNT, STATUS, PING."""
        if command.verb not in ("COUNT", "STATUS", "PING"):
            return unknown(command)
        if command.args:
            return bad_argument(command, "nothing")
        if command.verb == "PING":
            return Reply(command.seq)
        fields = [("COUNT", str(self.count))]
        if command.verb == "STATUS":
            fields += [(name, BROKEN if broken else CLEAR) for name, broken in self.broken.items()]
        return Reply(command.seq, tuple(fields))

    def set_count(self, count: int) -> list[Event]:
        """``count`` people are inside now; two or more is a tailgate."""
        if count == self.count:
            return []
        events = [Event("COUNT", (str(count),))]
        if count >= 2 > self.count:
            events.append(Event("TAILGATE"))
        self.count = count
        return events

    def beam(self, name: str, broken: bool) -> list[Event]:
        """Beam ``name`` is interrupted (True) or clear again (False)."""
        if self.broken.get(name) == broken:
            return []
        self.broken[name] = broken
        return [Event("BEAM", (name, BROKEN if broken else CLEAR))]


class OccupancyEmulator(LineDeviceEmulator):
    """An emulated occupancy sensor on a pseudo-terminal; people come and go on request."""

    board: OccupancyBoard

    def __init__(
        self,
        port: Wire | int,
        *,
        beams: tuple[str, ...] = ("ENTRY", "EXIT"),
        with_checksum: bool = True,
        clock: Clock = time.monotonic,
    ) -> None:
        super().__init__(
            OccupancyBoard(clock(), beams), port, with_checksum=with_checksum, clock=clock
        )

    @property
    def count(self) -> int:
        """How many people the sensor sees now."""
        with self._lock:
            return self.board.count

    def set_count(self, count: int) -> None:
        """``count`` people are inside: ``! COUNT n`` (and ``! TAILGATE`` from 0 or 1 to 2+)."""
        self.inject(lambda now: self.board.set_count(count))

    def beam(self, name: str, broken: bool = True) -> None:
        """Beam ``name`` is broken or clear again: ``! BEAM name BROKEN|CLEAR``."""
        self.inject(lambda now: self.board.beam(name, broken))

    def tailgate(self) -> None:
        """The sensor sees two people close together whatever the count: ``! TAILGATE``."""
        self.inject(lambda now: [Event("TAILGATE")])

    def walk_in(self, beam: str = "ENTRY") -> None:
        """One person crosses ``beam`` into the gate."""
        self.inject(
            lambda now: [
                *self.board.beam(beam, True),
                *self.board.beam(beam, False),
                *self.board.set_count(self.board.count + 1),
            ]
        )

    def walk_out(self, beam: str = "EXIT") -> None:
        """One person leaves the gate across ``beam``."""
        self.inject(
            lambda now: [
                *self.board.beam(beam, True),
                *self.board.beam(beam, False),
                *self.board.set_count(max(0, self.board.count - 1)),
            ]
        )
