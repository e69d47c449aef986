"""Officers' shifts: covering a desk requirement per slot with whole shifts.

The staffing optimiser (``simulation.optimiser``) first finds how many desks
each slot of the day needs; officers, though, work shifts. A shift is
``length_min`` long and starts on the slot grid (slots are ``step_min``
wide); with a break it is off the desk for ``break_min`` once, starting
somewhere in the middle third of the shift. ``cover`` chooses shifts so that
every slot has at least its requirement (and ``min_staff``) on duty, with as
few shifts as it can: officer-hours are shifts times their length.

The method is a left-to-right greedy: at the first slot short of officers,
start as many shifts there as it lacks, each with its break where the most
officers are to spare; then drop any shift the others make redundant. A
shift may run past the last slot: it is paid whole either way, and one that
started earlier to end in time would only put officers where none are
needed. Without breaks a shift covers consecutive slots, the covering
problem is an interval matrix, and this greedy is exact (starting any
earlier only wastes cover on slots already covered). With breaks it is a
heuristic, and ``lower_bound`` (the exact count without breaks) says how
far from the optimum it can at most be.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["Shift", "ShiftRules", "cover", "coverage", "lower_bound"]


@dataclass(frozen=True, slots=True)
class ShiftRules:
    """How officers' shifts may be cut, in minutes; ``step_min`` is the slot width."""

    length_min: int = 480
    break_min: int = 30
    step_min: int = 30
    min_staff: int = 1

    def __post_init__(self) -> None:
        if self.step_min < 1:
            raise ValueError(f"shift start step: at least 1 minute (got {self.step_min})")
        for name, value in (("shift length", self.length_min), ("break", self.break_min)):
            if value < 0 or value % self.step_min:
                raise ValueError(
                    f"{name}: a whole number of {self.step_min}-minute steps (got {value} min)"
                )
        if self.length_min < self.step_min:
            raise ValueError(f"shift length: at least one step (got {self.length_min} min)")
        if self.break_slots and self.break_slots >= self.length_slots // 3:
            raise ValueError(
                f"break: {self.break_min} min does not fit in the middle third of a "
                f"{self.length_min}-minute shift"
            )
        if self.min_staff < 0:
            raise ValueError(f"minimum staff: at least 0 (got {self.min_staff})")

    @property
    def length_slots(self) -> int:
        """A shift's length in slots."""
        return self.length_min // self.step_min

    @property
    def break_slots(self) -> int:
        """A break's length in slots."""
        return self.break_min // self.step_min

    def break_starts(self) -> range:
        """Where a break may start, in slots from the shift's start: in its middle third."""
        if not self.break_slots:
            return range(0)
        first = math.ceil(self.length_slots / 3)
        last = max(first, (2 * self.length_slots) // 3 - self.break_slots)
        return range(first, last + 1)


@dataclass(frozen=True, slots=True, order=True)
class Shift:
    """One officer's shift: its first slot and its break's first slot (None: no break)."""

    start: int
    break_start: int | None = None

    def on_duty(self, rules: ShiftRules) -> list[int]:
        """The slots this officer is at a desk."""
        off = (
            range(0)
            if self.break_start is None
            else range(self.break_start, self.break_start + rules.break_slots)
        )
        return [
            slot for slot in range(self.start, self.start + rules.length_slots) if slot not in off
        ]


def coverage(shifts: Sequence[Shift], slots: int, rules: ShiftRules) -> list[int]:
    """Officers at a desk in each of ``slots`` slots."""
    count = [0] * slots
    for shift in shifts:
        for slot in shift.on_duty(rules):
            if 0 <= slot < slots:
                count[slot] += 1
    return count


def lower_bound(need: Sequence[int], rules: ShiftRules) -> int:
    """Fewer shifts than this cannot cover ``need`` (with the minimum staff).

    Without breaks it is the greedy cover's own count, which is exact. With
    them, a cover with breaks is also one without (a shift without its
    break covers more), so the exact count without breaks bounds it; so
    does each shift's ``length - break`` officer-slots against the sum.
    """
    wanted = [max(value, rules.min_staff) for value in need]
    if not wanted:
        return 0
    unbroken = ShiftRules(rules.length_min, 0, rules.step_min, rules.min_staff)
    exact = len(cover(wanted, unbroken))
    if not rules.break_slots:
        return exact
    per_shift = rules.length_slots - rules.break_slots
    return max(exact, math.ceil(sum(wanted) / per_shift))


def cover(need: Sequence[int], rules: ShiftRules) -> tuple[Shift, ...]:
    """Shifts putting at least ``max(need[slot], min_staff)`` officers at a desk in every slot.

    Shifts start within the slots and may run past the last one.
    """
    wanted = [max(value, rules.min_staff) for value in need]
    slots = len(wanted)
    have = [0] * slots
    shifts: list[Shift] = []
    for slot in range(slots):
        while have[slot] < wanted[slot]:
            shift = _shift_covering(slot, wanted, have, rules)
            shifts.append(shift)
            for covered in shift.on_duty(rules):
                if covered < slots:
                    have[covered] += 1
    # Later shifts may have made an earlier one redundant: the last added go first,
    # as they were placed with the least knowledge of what came after.
    for shift in sorted(shifts, reverse=True):
        duty = [slot for slot in shift.on_duty(rules) if slot < slots]
        if all(have[slot] - 1 >= wanted[slot] for slot in duty):
            shifts.remove(shift)
            for slot in duty:
                have[slot] -= 1
    return tuple(sorted(shifts))


def _shift_covering(slot: int, wanted: list[int], have: list[int], rules: ShiftRules) -> Shift:
    """The shift the greedy adds for ``slot``: starting there, its break where most can go."""
    if not rules.break_slots:
        return Shift(slot)
    slots = len(wanted)

    def spare(at: int) -> int:
        # Officers to spare over the break (or, negative, missing); past the end, plenty.
        span = range(at, min(at + rules.break_slots, slots))
        return sum(have[index] - wanted[index] for index in span) if span else 1 << 30

    options = [slot + offset for offset in rules.break_starts()]
    # Ties to the latest: the slots further on have the fewest shifts placed yet.
    return Shift(slot, max(options, key=lambda at: (spare(at), at)))
