"""The ``arrivals`` section of a hall file: flights, a CSV schedule or a rate, and the class mix.

Travellers come from exactly one of

* ``flights``: a list written in the file (``simulation.schedule.Flight``);
* ``schedule``: a CSV file of flights, for days or a season
  (``simulation.schedule``), read when the whole hall is validated, since
  it needs the run's date, start and horizon (``attach_schedule``);
* ``rate``: Poisson arrivals at a rate that changes by period.

``timetable()`` gives the flights either way, each with its passengers
counted (seats times load factor where the file gives no passengers).
"""

from __future__ import annotations

from pydantic import Field, PrivateAttr, field_validator, model_validator

from simulation.classes import (
    ClassInfo,
    ClassList,
    ConfigModel,
    Probability,
    TravellerClass,
    class_table,
    share_classes,
)
from simulation.clock import ClockTime, format_clock
from simulation.distribution_specs import DeterministicSpec, DistributionSpec
from simulation.fields import fail
from simulation.schedule import Flight, ScheduleSpec, Timetable, passengers_of

__all__ = ["ArrivalsConfig", "RatePeriod"]


def _zero() -> DistributionSpec:
    return DeterministicSpec(value=0)


class RatePeriod(ConfigModel):
    """Travellers arrive at random at ``per_hour`` from ``from`` until the next period."""

    start: ClockTime = Field(alias="from")
    per_hour: float = Field(ge=0, le=1_000_000)


class ArrivalsConfig(ConfigModel):
    """Where travellers come from: flights, a CSV schedule, or a rate by interval."""

    flights: tuple[Flight, ...] | None = None
    schedule: ScheduleSpec | None = None
    rate: tuple[RatePeriod, ...] | None = None
    egate_share: Probability = Field(
        default=1.0, description="Share of e-gate-eligible travellers (default for flights)."
    )
    classes: ClassList | None = None
    load_factor: Probability | None = Field(
        default=None, description="For flights giving seats (or aircraft) but no load factor."
    )
    deplane: DistributionSpec = Field(
        default_factory=_zero, description="From on-block to leaving the aircraft (seconds)."
    )
    walk: DistributionSpec = Field(
        default_factory=_zero, description="From the aircraft to the hall (seconds)."
    )
    _timetable: tuple[Flight, ...] = PrivateAttr(default=())
    _warnings: tuple[str, ...] = PrivateAttr(default=())

    @field_validator("flights")
    @classmethod
    def _some_flights(cls, flights: tuple[Flight, ...] | None) -> tuple[Flight, ...] | None:
        if flights is not None and not flights:
            raise ValueError("a schedule with no flights: list at least one")
        return flights

    @field_validator("rate")
    @classmethod
    def _rate_in_order(cls, rate: tuple[RatePeriod, ...] | None) -> tuple[RatePeriod, ...] | None:
        if rate is not None:
            if not rate:
                raise ValueError("no rate periods: list at least one")
            for index in range(1, len(rate)):
                if rate[index].start <= rate[index - 1].start:
                    fail(
                        (index, "from"),
                        f"times out of order: {format_clock(rate[index].start)} does not come "
                        f"after {format_clock(rate[index - 1].start)}",
                        format_clock(rate[index].start),
                    )
        return rate

    @model_validator(mode="after")
    def _one_source(self) -> ArrivalsConfig:
        sources = [
            name for name in ("flights", "schedule", "rate") if getattr(self, name) is not None
        ]
        if not sources:
            fail((), "give flights, schedule or rate", None)
        if len(sources) > 1:
            fail((sources[1],), f"give either {sources[0]} or {sources[1]}, not both", None)
        if self.classes is not None and "egate_share" in self.model_fields_set:
            fail(("egate_share",), "give either egate_share or classes, not both", None)
        if self.flights is not None:
            self._timetable = self._counted(self.flights)
        return self

    def _counted(self, flights: tuple[Flight, ...]) -> tuple[Flight, ...]:
        """The flights with their passengers counted; a flight bringing none is warned of."""
        counted = []
        warnings = []
        for index, flight in enumerate(flights):
            load_factor = flight.load_factor if flight.load_factor is not None else self.load_factor
            count = passengers_of(flight.passengers, flight.seat_count(), load_factor)
            if count is None:
                fail(
                    ("flights", index, "load_factor"),
                    f"flight {flight.flight}: seats but no load factor (give load_factor "
                    "here or in arrivals, or passengers)",
                    None,
                )
                raise AssertionError  # (never reached: fail raises)
            if count == 0:
                warnings.append(f"arrivals.flights.{index}: flight {flight.flight} brings no one")
            if count != flight.passengers:
                flight = flight.model_copy(update={"passengers": count})
            counted.append(flight)
        self._warnings = tuple(warnings)
        return tuple(counted)

    def attach_schedule(self, timetable: Timetable) -> None:
        """Take the flights read from ``schedule`` (once, while the hall is validated)."""
        self._timetable = timetable.flights
        self._warnings = tuple(f"arrivals.schedule: {text}" for text in timetable.warnings)

    def timetable(self) -> tuple[Flight, ...]:
        """Every flight, from ``flights`` or the schedule, with its passengers counted."""
        return self._timetable

    @property
    def warnings(self) -> tuple[str, ...]:
        """What is odd but usable in the flights (one line each)."""
        return self._warnings

    def class_infos(self) -> tuple[ClassInfo, ...]:
        """Every class, defaults first, in a fixed order; ValueError on a contradiction."""
        mixes = [self.classes or share_classes(self.egate_share)]
        mixes.extend(self.flight_classes(flight) for flight in self.timetable())
        return class_table(mixes)

    def class_table(self) -> tuple[tuple[str, str], ...]:
        """Every traveller class as (name, channel), defaults first, in a fixed order."""
        return tuple((info.name, info.channel) for info in self.class_infos())

    def flight_classes(self, flight: Flight | None = None) -> tuple[TravellerClass, ...]:
        """The classes of ``flight`` (or of rate arrivals when None)."""
        if flight is not None and flight.classes is not None:
            return flight.classes
        if flight is not None and flight.egate_share is not None:
            return share_classes(flight.egate_share)
        return self.classes or share_classes(self.egate_share)
