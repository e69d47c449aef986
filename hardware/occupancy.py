"""The occupancy sensor driver: how many people are inside the gate, and its light beams.

:class:`OccupancySensor` speaks the door protocol (docs/door-protocol.md,
"Occupancy sensor") over a serial line: it asks ``COUNT`` and ``STATUS`` and
reports, from ``poll(now)``, the count changing, beams broken and cleared,
and tailgating (two or more people at once), besides the connection events
every driver of the protocol reports.  Like the door driver it never raises on
what the device sends and forgets what it knew when the connection drops.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from hardware.doorprotocol import Command, Event, Reply
from hardware.doorsession import (
    Clock,
    CommandSettings,
    SessionDriver,
    SessionEvent,
    Unrecognized,
)
from hardware.link import SerialLink, SerialSettings

BROKEN, CLEAR = "BROKEN", "CLEAR"


@dataclass(frozen=True, slots=True)
class OccupancyChanged:
    """The sensor counts ``count`` people inside the gate now."""

    at: float
    count: int


@dataclass(frozen=True, slots=True)
class BeamChanged:
    """Light beam ``beam`` was interrupted (``broken``) or is clear again."""

    at: float
    beam: str
    broken: bool


@dataclass(frozen=True, slots=True)
class TailgateDetected:
    """``! TAILGATE``: the sensor saw more than one person."""

    at: float


OccupancyEvent = SessionEvent | OccupancyChanged | BeamChanged | TailgateDetected


class OccupancySensor(SessionDriver[OccupancyEvent]):
    """Drives an occupancy sensor over one serial link; call :meth:`poll` often.

    ``port``, ``settings``, ``clock`` and ``first_seq`` are as for
    :class:`~hardware.door.DoorController`.
    """

    def __init__(
        self,
        port: SerialLink | SerialSettings,
        settings: CommandSettings | None = None,
        *,
        clock: Clock = time.monotonic,
        first_seq: int = 1,
    ) -> None:
        super().__init__(port, settings, clock=clock, first_seq=first_seq)
        self._count: int | None = None
        self._beams: dict[str, bool] = {}

    @property
    def count(self) -> int | None:
        """People inside, as last reported since the sensor (re)connected; else None."""
        return self._count

    def beam(self, name: str) -> bool | None:
        """Whether beam ``name`` is broken, as last reported; None when not known."""
        return self._beams.get(name)

    def request_count(self) -> Command:
        """Ask the sensor how many people are inside."""
        return self._session.submit("COUNT")

    def _forget(self) -> None:
        self._count = None
        self._beams = {}

    def _fields(self, reply: Reply, at: float) -> list[OccupancyEvent]:
        out: list[OccupancyEvent] = []
        for key, value in reply.fields:
            if key == "COUNT":
                out += self._set_count(value, f"{key}={value}", at)
            elif value in (BROKEN, CLEAR):
                out += self._set_beam(key, value == BROKEN, at)
            else:
                out.append(Unrecognized(at, f"{key}={value}", "unknown sensor field"))
        return out

    def _unsolicited(self, event: Event, at: float) -> list[OccupancyEvent]:
        raw = " ".join(["!", event.name, *event.args])
        if event.name == "COUNT" and len(event.args) == 1:
            return self._set_count(event.args[0], raw, at)
        if event.name == "BEAM" and len(event.args) == 2 and event.args[1] in (BROKEN, CLEAR):
            return self._set_beam(event.args[0], event.args[1] == BROKEN, at)
        if event.name == "TAILGATE" and not event.args:
            return [TailgateDetected(at)]
        return [Unrecognized(at, raw, "unknown event")]

    def _set_count(self, value: str, raw: str, at: float) -> list[OccupancyEvent]:
        if not value.isdigit() or len(value) > 3:
            return [Unrecognized(at, raw, "a count is 0 to 999")]
        count = int(value)
        if count == self._count:
            return []
        self._count = count
        return [OccupancyChanged(at, count)]

    def _set_beam(self, beam: str, broken: bool, at: float) -> list[OccupancyEvent]:
        if self._beams.get(beam) is broken:
            return []
        self._beams[beam] = broken
        return [BeamChanged(at, beam, broken)]
