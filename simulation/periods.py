"""Stretches of the day: gates open in banks, desks staffed by a roster.

A period runs from ``from`` to ``to``; without ``to`` it lasts until the next
period starts or the run ends. Periods are listed in order and do not
overlap (``check_periods``).
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import Field

from simulation.classes import ConfigModel
from simulation.clock import ClockTime
from simulation.clock import format_clock as clock
from simulation.fields import fail as _fail

__all__ = ["BankPeriod", "Period", "RosterPeriod", "check_periods", "period_bounds"]

_Model = ConfigModel


class Period(_Model):
    """A stretch of the day; without ``to`` it lasts until the next one or the end of the run."""

    start: ClockTime = Field(alias="from")
    end: ClockTime | None = Field(default=None, alias="to")


class BankPeriod(Period):
    """How many gates are open from ``from`` to ``to``."""

    open: int = Field(ge=0)


class RosterPeriod(Period):
    """How many desks are staffed from ``from`` to ``to``."""

    desks: int = Field(ge=0, le=1000)


def check_periods(periods: Sequence[Period]) -> None:
    """Periods in order, each ending after it starts and before the next starts."""
    for index, period in enumerate(periods):
        if period.end is not None and period.end <= period.start:
            _fail(
                (index, "to"),
                f"times out of order: {clock(period.end)} is not after {clock(period.start)}",
                clock(period.end),
            )
        if index:
            before = periods[index - 1]
            ends = before.start if before.end is None else before.end
            if period.start < ends or period.start <= before.start:
                _fail(
                    (index, "from"),
                    f"times out of order: {clock(period.start)} overlaps or precedes the "
                    f"period before it",
                    clock(period.start),
                )


def period_bounds(periods: Sequence[Period], end_of_run: float) -> list[tuple[float, float]]:
    """(start, end) of each period, clock seconds; an open end runs to the next or the end."""
    bounds = []
    for index, period in enumerate(periods):
        following = periods[index + 1].start if index + 1 < len(periods) else end_of_run
        bounds.append((period.start, following if period.end is None else period.end))
    return bounds
