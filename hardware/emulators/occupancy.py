"""An emulated occupancy sensor that speaks the door protocol on a pseudo-terminal.

The sensor counts the people inside the gate and watches light beams (by
default one at each door); it reports changes as events (``! COUNT 2``,
``! BEAM ENTRY BROKEN``, ``! TAILGATE``) and answers ``COUNT``, ``STATUS``,
``PING`` and ``HELLO``.  Tests and replays move people through it with
:meth:`OccupancyEmulator.walk_in`, :meth:`OccupancyEmulator.walk_out` or
the lower-level :meth:`OccupancyEmulator.set_count` and
:meth:`OccupancyEmulator.beam`.

Sensors differ in the order in which they report one person crossing a
beam (:class:`PassageOrder`), and some have no beams at all (a 3D camera
that only counts): :class:`OccupancySensorSettings` plays either.
"""

from __future__ import annotations

import re
import time
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator

from hardware.doorprotocol import Command, Event, Reply
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

BROKEN, CLEAR = "BROKEN", "CLEAR"
_BEAM_NAME = r"[A-Z][A-Z0-9_]*"


class PassageOrder(StrEnum):
    """The order of a sensor's events when one person crosses a beam."""

    BROKEN_CLEAR_COUNT = "broken,clear,count"
    BROKEN_COUNT_CLEAR = "broken,count,clear"
    COUNT_BROKEN_CLEAR = "count,broken,clear"


class OccupancySensorSettings(BaseModel):
    """How an emulated occupancy sensor behaves (on a real one: its make and configuration)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    beams: tuple[str, ...] = Field(
        default=("ENTRY", "EXIT"),
        description="The sensor's light beams; none: a sensor that only counts (a 3D camera).",
    )
    order: PassageOrder = Field(
        default=PassageOrder.BROKEN_CLEAR_COUNT,
        description="The order of beam and count events when someone crosses a beam.",
    )
    identity: str | None = Field(
        default="EMULATED-OCCUPANCY",
        pattern=f"^{IDENTITY_PATTERN}$",
        description="The ID answered to HELLO; None: the sensor does not know HELLO.",
    )

    @field_validator("beams")
    @classmethod
    def _beam_names(cls, beams: tuple[str, ...]) -> tuple[str, ...]:
        for name in beams:
            if not re.fullmatch(_BEAM_NAME, name) or name == "COUNT":
                raise ValueError(f"{name!r} is no beam name (A-Z, then A-Z, 0-9 or _; not COUNT)")
        if len(set(beams)) != len(beams):
            raise ValueError("a beam is named twice")
        return beams

    @property
    def count_only(self) -> bool:
        """The sensor has no beams: it reports only the count."""
        return not self.beams


class OccupancyBoard(Board):
    """The behaviour of an occupancy sensor: a person count and named beams."""

    KIND = "OCCUPANCY"

    def __init__(
        self,
        now: float,
        beams: tuple[str, ...] = ("ENTRY", "EXIT"),
        *,
        identity: str | None = "EMULATED-OCCUPANCY",
    ) -> None:
        super().__init__(now, dedupe_window_s=0.0, identity=identity)
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
        """Beam ``name`` is interrupted (True) or clear again (False); a sensor without it: []."""
        if name not in self.broken or self.broken[name] == broken:
            return []
        self.broken[name] = broken
        return [Event("BEAM", (name, BROKEN if broken else CLEAR))]

    def cross(self, beam: str, count: int, order: PassageOrder) -> list[Event]:
        """Someone crosses ``beam`` and the count becomes ``count``, reported in ``order``."""
        if order is PassageOrder.COUNT_BROKEN_CLEAR:
            return [*self.set_count(count), *self.beam(beam, True), *self.beam(beam, False)]
        if order is PassageOrder.BROKEN_COUNT_CLEAR:
            return [*self.beam(beam, True), *self.set_count(count), *self.beam(beam, False)]
        return [*self.beam(beam, True), *self.beam(beam, False), *self.set_count(count)]


class OccupancyEmulator(LineDeviceEmulator):
    """An emulated occupancy sensor on a pseudo-terminal; people come and go on request.

    ``beams`` is kept for callers that name beams only; ``settings`` says
    everything (and wins when both are given).
    """

    board: OccupancyBoard

    def __init__(
        self,
        port: Wire | int,
        settings: OccupancySensorSettings | None = None,
        *,
        beams: tuple[str, ...] = ("ENTRY", "EXIT"),
        with_checksum: bool = True,
        clock: Clock = time.monotonic,
    ) -> None:
        self.settings = settings or OccupancySensorSettings(beams=beams)
        board = OccupancyBoard(clock(), self.settings.beams, identity=self.settings.identity)
        super().__init__(board, port, with_checksum=with_checksum, clock=clock)

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
        """One person crosses ``beam`` into the gate (a count-only sensor just counts)."""
        self.inject(lambda now: self.board.cross(beam, self.board.count + 1, self.settings.order))

    def walk_out(self, beam: str = "EXIT") -> None:
        """One person leaves the gate across ``beam``."""
        self.inject(
            lambda now: self.board.cross(beam, max(0, self.board.count - 1), self.settings.order)
        )
