"""The occupancy sensor driver: how many people are inside the gate, and its light beams.

:class:`OccupancySensor` speaks the door protocol (docs/door-protocol.md,
"Occupancy sensor") over a serial line: it asks ``COUNT`` and ``STATUS`` and
reports, from ``poll(now)``, the count changing, beams broken and cleared,
and tailgating (two or more people at once), besides the connection events
every driver of the protocol reports.  Like the door driver it never raises on
what the device sends and forgets what it knew when the connection drops.

It also recognises passages (:mod:`hardware.passage`): every change of the
count becomes a :class:`~hardware.passage.Passage`, ``in`` or ``out``, with
the beam crossed (whatever the order in which the sensor reports beam and
count), or with no beam for a count-only sensor (a 3D camera).  ``kind``
says which sensor it is: ``beams``, ``count_only``, or ``auto`` (count-only
when its STATUS reply names no beam).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Literal

from hardware.doorprotocol import Command, ErrorReply, Event, Reply
from hardware.doorsession import (
    Clock,
    CommandSettings,
    SessionEvent,
    Unrecognized,
)
from hardware.link import SerialLink, SerialSettings
from hardware.passage import Direction, Passage, PassageRecognizer
from hardware.sessiondriver import SessionDriver, fields_text

__all__ = [
    "BeamChanged",
    "Direction",
    "OccupancyChanged",
    "OccupancyEvent",
    "OccupancySensor",
    "Passage",
    "SensorKind",
    "TailgateDetected",
]

BROKEN, CLEAR = "BROKEN", "CLEAR"
# beams: light beams and a count; count_only: a count alone (a 3D camera);
# auto: count-only when the sensor's STATUS reply names no beam.
SensorKind = Literal["auto", "beams", "count_only"]
# How far apart a beam crossing and the count change it explains may be.
PASSAGE_WINDOW_S = 1.5


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


OccupancyEvent = SessionEvent | OccupancyChanged | BeamChanged | TailgateDetected | Passage


class OccupancySensor(SessionDriver[OccupancyEvent]):
    """Drives an occupancy sensor over one serial link; call :meth:`poll` often.

    ``port``, ``settings``, ``clock``, ``first_seq`` and ``identity`` are as
    for :class:`~hardware.door.DoorController`.  ``kind`` and
    ``passage_window_s`` tell how passages are recognised (module docstring).
    """

    KIND = "OCCUPANCY"

    def __init__(
        self,
        port: SerialLink | SerialSettings,
        settings: CommandSettings | None = None,
        *,
        clock: Clock = time.monotonic,
        first_seq: int = 1,
        identity: str | None = None,
        kind: SensorKind = "auto",
        passage_window_s: float = PASSAGE_WINDOW_S,
    ) -> None:
        super().__init__(port, settings, clock=clock, first_seq=first_seq, identity=identity)
        self._kind: SensorKind = kind
        self._passages = PassageRecognizer(passage_window_s, count_only=kind == "count_only")
        self._count: int | None = None
        self._beams: dict[str, bool] = {}

    @property
    def count(self) -> int | None:
        """People inside, as last reported since the sensor (re)connected; else None."""
        return self._count

    def beam(self, name: str) -> bool | None:
        """Whether beam ``name`` is broken, as last reported; None when not known."""
        return self._beams.get(name)

    @property
    def count_only(self) -> bool:
        """Passages carry no beam: configured so, or a sensor whose STATUS names no beam."""
        return self._passages.count_only

    def request_count(self) -> Command:
        """Ask the sensor how many people are inside."""
        return self._session.submit("COUNT")

    def _check_probe(self, reply: Reply | ErrorReply) -> str | None:
        if isinstance(reply, ErrorReply):
            refusal = f"{reply.code} {reply.text}".strip()
            return f"wrong device: STATUS refused ({refusal}), not an occupancy sensor"
        if reply.get("COUNT") is None:
            return f"wrong device: STATUS answered {fields_text(reply)}, not an occupancy sensor"
        return None

    def _forget(self, at: float) -> list[OccupancyEvent]:
        self._count = None
        self._beams = {}
        return list(self._passages.reset())

    def _tick(self, now: float) -> list[OccupancyEvent]:
        return list(self._passages.tick(now))

    def _fields(self, command: Command, reply: Reply, at: float) -> list[OccupancyEvent]:
        out: list[OccupancyEvent] = []
        if command.verb == "STATUS" and self._kind == "auto":
            # The full report names every beam the sensor has: none means count-only.
            has_beams = any(key != "COUNT" for key, _ in reply.fields)
            out += self._passages.set_count_only(not has_beams)
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
            out: list[OccupancyEvent] = []
            if self._kind == "auto" and self._passages.count_only:
                out += self._passages.set_count_only(False)  # it has beams after all
            return out + self._set_beam(event.args[0], event.args[1] == BROKEN, at)
        if event.name == "TAILGATE" and not event.args:
            return [TailgateDetected(at)]
        return [Unrecognized(at, raw, "unknown event")]

    def _set_count(self, value: str, raw: str, at: float) -> list[OccupancyEvent]:
        if not value.isdigit() or len(value) > 3:
            return [Unrecognized(at, raw, "a count is 0 to 999")]
        count = int(value)
        before = self._count
        if count == before:
            return []
        self._count = count
        out: list[OccupancyEvent] = [OccupancyChanged(at, count)]
        if before is not None:
            # From an unknown count (just connected) it is news, not a passage.
            out += self._passages.count(before, count, at)
        return out

    def _set_beam(self, beam: str, broken: bool, at: float) -> list[OccupancyEvent]:
        before = self._beams.get(beam)
        if before is broken:
            return []
        self._beams[beam] = broken
        out: list[OccupancyEvent] = [BeamChanged(at, beam, broken)]
        if before is not None or broken:
            # A beam first heard of as clear (just connected) is no crossing.
            out += self._passages.beam(beam, broken, at)
        return out
