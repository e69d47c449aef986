"""Passages through a gate, recognised from an occupancy sensor's count and beams.

A person walking into the gate makes the sensor's count rise, one walking
out makes it fall.  Which door they used is told by the light beam they
crossed, but sensors do not agree on the order of their events: one sends
``BEAM ENTRY BROKEN``, ``BEAM ENTRY CLEAR``, ``COUNT 1``; another
``BROKEN``, ``COUNT``, ``CLEAR``; a third counts first.  docs/door-protocol.md
leaves the order open, so :class:`PassageRecognizer` reads them all alike:

- every count change is one :class:`Passage` (``in`` when the count rose,
  ``out`` when it fell), in the order of the changes;
- its beam is the beam crossed most recently within ``window_s`` before or
  after the change: a beam still broken, or one broken or cleared at most
  ``window_s`` before, counts at once; failing that, the first beam broken
  or cleared within ``window_s`` after it;
- a crossing of a beam (broken, then clear) explains one passage only, so
  the CLEAR of a crossing already used is not taken for the next person;
- a change no beam explains within the window is a passage all the same,
  with beam None; so is every change of a count-only sensor (a 3D camera),
  which reports at once.

The recognizer is told the time with every call and reads no clock.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Literal

Direction = Literal["in", "out"]


@dataclass(frozen=True, slots=True)
class Passage:
    """Someone went ``in`` or ``out`` of the gate at ``at``, crossing ``beam`` (None: unknown).

    ``at`` is when the count changed, ``count`` the count after the change.
    """

    at: float
    direction: Direction
    beam: str | None
    count: int


@dataclass(slots=True)
class _Crossing:
    """The latest crossing of one beam: broken (``open``) and perhaps clear again."""

    beam: str
    last_at: float
    order: int
    open: bool
    used: bool = False


@dataclass(frozen=True, slots=True)
class _Waiting:
    """A count change that waits for a beam to explain it."""

    at: float
    direction: Direction
    count: int


class PassageRecognizer:
    """Turns count changes and beam changes, in any order, into :class:`Passage` records."""

    def __init__(self, window_s: float, *, count_only: bool = False) -> None:
        if window_s <= 0:
            raise ValueError("window_s must be more than 0")
        self.window_s = window_s
        self._count_only = count_only
        self._crossings: dict[str, _Crossing] = {}
        self._waiting: list[_Waiting] = []
        self._order = itertools.count()

    @property
    def count_only(self) -> bool:
        """Passages are reported at once, without a beam (a sensor without beams)."""
        return self._count_only

    def set_count_only(self, count_only: bool) -> list[Passage]:
        """Change the mode; passages that waited for a beam are settled without one."""
        self._count_only = count_only
        return self.reset() if count_only else []

    def count(self, before: int, after: int, at: float) -> list[Passage]:
        """The count went from ``before`` to ``after`` at ``at``; the passages now settled."""
        settled = self._expire(at)
        if after == before:
            return settled
        direction: Direction = "in" if after > before else "out"
        if self._count_only:
            return [*settled, Passage(at, direction, None, after)]
        if not self._waiting:
            # Waiting changes would have taken any fresh crossing already.
            crossing = self._latest_unused(at)
            if crossing is not None:
                crossing.used = True
                return [*settled, Passage(at, direction, crossing.beam, after)]
        self._waiting.append(_Waiting(at, direction, after))
        return settled

    def beam(self, name: str, broken: bool, at: float) -> list[Passage]:
        """Beam ``name`` was broken (or is clear again) at ``at``; the passages now settled."""
        settled = self._expire(at)
        crossing = self._crossings.get(name)
        if broken or crossing is None or not crossing.open:
            # A clear without a break seen (after a reconnection, say) is a crossing too.
            crossing = _Crossing(name, at, next(self._order), open=broken)
            self._crossings[name] = crossing
        else:
            crossing.open = False
            crossing.last_at = at
            crossing.order = next(self._order)
        if self._waiting and not crossing.used:
            crossing.used = True
            waiting = self._waiting.pop(0)
            settled.append(Passage(waiting.at, waiting.direction, name, waiting.count))
        return settled

    def tick(self, now: float) -> list[Passage]:
        """Changes that waited longer than the window for a beam, settled without one."""
        return self._expire(now)

    def reset(self) -> list[Passage]:
        """Forget every beam (the sensor reconnected); waiting changes are settled without one."""
        settled = [Passage(w.at, w.direction, None, w.count) for w in self._waiting]
        self._waiting = []
        self._crossings = {}
        return settled

    def _latest_unused(self, at: float) -> _Crossing | None:
        fresh = [
            crossing
            for crossing in self._crossings.values()
            if not crossing.used and (crossing.open or crossing.last_at >= at - self.window_s)
        ]
        return max(fresh, key=lambda crossing: crossing.order, default=None)

    def _expire(self, now: float) -> list[Passage]:
        settled: list[Passage] = []
        while self._waiting and now > self._waiting[0].at + self.window_s:
            waiting = self._waiting.pop(0)
            settled.append(Passage(waiting.at, waiting.direction, None, waiting.count))
        return settled
