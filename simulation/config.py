"""What a capacity model of an arrivals hall is made of, as a planner writes it in YAML.

(One concept past the ~400-line guideline: the schema is one tree of
pydantic models, section by section as docs/simulation.md describes the
file, whose validators check across sections: every time of day against
``start`` and ``horizon``, the traveller channels against the desks. Its
sections and parts live beside it: the clock in ``simulation.clock``,
traveller classes in ``simulation.classes``, the ``arrivals`` section in
``simulation.demand``, flights and CSV schedules in ``simulation.schedule``,
the ``gates`` section in ``simulation.gates_config``, periods of the day in
``simulation.periods``, the unknown-key check in ``simulation.fields``.)

A *hall* is a day (or part of one) at a border crossing point. Travellers
arrive, either with their flights or at a rate that changes through the day;
each belongs to a *class* that uses either the e-gates or the officer desks.
Gate users wait in one serpentine queue (or, with ``queue: per_gate``, in a
line per gate) and pass a gate run by the real gate controller; every step of
the gate's transaction takes a time drawn from a distribution (see
``simulation.distributions``), and configured rates decide who is referred to
an officer. Desks serve the desk classes and the referrals, with a roster
that changes by time of day. Gates open and close in banks on a schedule and
fail now and then. When the face verification runs on a central matching
core, the core is a shared resource with a few workers.

Times are clock times since midnight of the model's day 0, ``"06:30"``,
``"30:15"`` (the next day) or ``"150:00"``, or dates and times
(``"2026-07-14 06:30"``) once the model has a date (``simulation.clock``);
the model's clock starts at ``start``. (A number is minutes since midnight:
YAML 1.1 reads an unquoted ``6:30`` as 390.) Durations are seconds
inside distributions, and say their unit in their name elsewhere
(``mtbf_h``, ``mttr_min``). docs/simulation.md has an example with every
section, and what each key means.

Load a file with ``load_hall(path)``: an error is one line naming the file,
the line and the dotted field, as everywhere in egate; what is odd but
usable (a flight bringing no one, desk travellers arriving while no desk is
staffed) is in ``HallConfig.warnings``, one line each, for the caller to show.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from egate.config import load_config
from egate.shipped import shipped_file
from simulation.classes import (
    ClassList,
    ConfigModel,
    TravellerClass,
    class_table,
    share_classes,
)
from simulation.clock import DATED, ClockTime, dated_parts, parse_clock, relative_clock
from simulation.clock import format_clock as clock
from simulation.demand import ArrivalsConfig, RatePeriod
from simulation.distribution_specs import DeterministicSpec, DistributionSpec
from simulation.fields import fail as _fail
from simulation.gates_config import (
    PA_REASONS,
    BiometricRates,
    ChipChecksConfig,
    FailuresConfig,
    GateRates,
    GatesConfig,
    OutcomeRates,
    StepsConfig,
)
from simulation.periods import BankPeriod, Period, RosterPeriod, check_periods, period_bounds
from simulation.schedule import Flight, ScheduleSpec, read_schedule
from simulation.variants import FIXED, depth_within, merged

__all__ = [
    "DEFAULT_HALL",
    "PA_REASONS",
    "ArrivalsConfig",
    "BankPeriod",
    "BiometricRates",
    "ChipChecksConfig",
    "ClassList",
    "DesksConfig",
    "FailuresConfig",
    "Flight",
    "GateRates",
    "GatesConfig",
    "HallConfig",
    "MatchingCoreConfig",
    "OutcomeRates",
    "Period",
    "RatePeriod",
    "RosterPeriod",
    "ScheduleSpec",
    "ServiceLevel",
    "StepsConfig",
    "TravellerClass",
    "clock",
    "default_hall",
    "dump",
    "load_hall",
    "parse_clock",
    "period_bounds",
]

# The shipped hall egate simulate runs without a file (configs/airports/).
DEFAULT_HALL = "pudong-day.yaml"

VariantName = Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_-]{0,31}$")]
_Model = ConfigModel


# --- desks, matching core, targets --------------------------------------------------------


class DesksConfig(_Model):
    """Officer desks: a fixed number or a roster, and how long a traveller takes there."""

    count: int | None = Field(default=None, ge=0, le=1000)
    roster: tuple[RosterPeriod, ...] | None = None
    service: DistributionSpec
    referral_service: DistributionSpec | None = Field(
        default=None, description="For travellers referred by a gate (default: service)."
    )
    referral_priority: bool = Field(
        default=False, description="Referred travellers go ahead of the desk queue."
    )

    @field_validator("roster")
    @classmethod
    def _roster_in_order(
        cls, roster: tuple[RosterPeriod, ...] | None
    ) -> tuple[RosterPeriod, ...] | None:
        if roster is not None:
            if not roster:
                raise ValueError("an empty roster: list at least one period")
            check_periods(roster)
        return roster

    @model_validator(mode="after")
    def _count_or_roster(self) -> DesksConfig:
        if self.count is None and self.roster is None:
            _fail(("count",), "give either count or roster", None)
        if self.count is not None and self.roster is not None:
            _fail(("roster",), "give either count or roster, not both", None)
        return self

    @property
    def most(self) -> int:
        """The largest number of desks ever staffed."""
        if self.roster is not None:
            return max(period.desks for period in self.roster)
        return self.count or 0


class MatchingCoreConfig(_Model):
    """A central matching core: face verifications queue for one of ``workers``."""

    workers: int = Field(ge=1, le=1000)
    service: DistributionSpec


class ServiceLevel(_Model):
    """The targets results are held against.

    The default is the Frontex example (95% of travellers wait under 5
    minutes) and ICAO Annex 9's 45 minutes to clear arrivals.
    """

    max_wait_min: float = Field(default=5.0, gt=0, le=24 * 60)
    share: float = Field(default=0.95, gt=0, le=1)
    clearance_min: float = Field(default=45.0, gt=0, le=48 * 60)


# --- the hall -----------------------------------------------------------------------------


class HallConfig(_Model):
    """A capacity model: arrivals, gates, desks, matching core, targets and run settings."""

    name: str = Field(min_length=1, max_length=200)
    date: dt.date | None = Field(
        default=None, description="The calendar date of day 0 (from a dated start, or given)."
    )
    start: ClockTime = Field(default=6 * 3600.0, description="Clock time of the model's time 0.")
    horizon: ClockTime | None = Field(
        default=None, description="Arrivals stop (required with a rate); the hall then empties."
    )
    drain_limit_h: float = Field(
        default=12.0, gt=0, le=48, description="The run stops at most this long after arrivals."
    )
    arrivals: ArrivalsConfig
    gates: GatesConfig
    desks: DesksConfig | None = None
    matching: MatchingCoreConfig | None = None
    service_level: ServiceLevel = Field(default_factory=ServiceLevel)
    interval_min: float = Field(default=15.0, gt=0, le=24 * 60)
    replications: int = Field(default=10, ge=1, le=100_000)
    seed: int = Field(default=0, ge=0)
    variants: dict[VariantName, dict[str, Any]] | None = Field(
        default=None,
        min_length=2,
        description="Named overrides of these settings, run side by side (simulation.variants).",
    )
    _variants: tuple[tuple[str, HallConfig], ...] = PrivateAttr(default=())
    _day0: dt.date | None = PrivateAttr(default=None)
    _warnings: tuple[str, ...] = PrivateAttr(default=())

    @model_validator(mode="before")
    @classmethod
    def _dated_times(cls, data: object) -> object:
        """Dates and times rewritten as clock times since midnight of day 0 (``date``).

        Day 0 is ``date``, or the date of a dated ``start``. Done on the raw
        data, before the fields are read, because a time deep in a section
        cannot see the start it is relative to.
        """
        if not isinstance(data, dict):
            return data
        data = dict(data)
        day0 = _as_date(data.get("date"))
        start = data.get("start")
        if isinstance(start, str) and DATED.fullmatch(start):
            try:
                parts = dated_parts(start)
            except ValueError as error:
                _fail(("start",), str(error), start)
                raise AssertionError from None  # (never reached: _fail raises)
            assert parts is not None
            if day0 is None:
                day0 = parts[0]
                data["date"] = day0.isoformat()
        if day0 is None:
            return data
        for key, value in data.items():
            if key not in ("name", "date", "variants"):
                data[key] = _relative(value, day0, (key,))
        return data

    @model_validator(mode="after")
    def _consistent(self, info: ValidationInfo) -> HallConfig:
        if self.arrivals.schedule is not None:
            self._read_schedule()
        self._check_times()
        self._check_channels()
        if self.matching is not None:
            verify = self.gates.steps.verify
            if not (isinstance(verify, DeterministicSpec) and verify.value == 0):
                _fail(
                    ("gates", "steps", "verify"),
                    "the matching core's service time is the verify step: leave this out",
                    verify.kind,
                )
        warnings = [*self.arrivals.warnings, *self._staffing_warnings()]
        if self.variants is not None:
            self._variants = tuple(
                (name, self._variant(name, override, info))
                for name, override in self.variants.items()
            )
            for name, variant in self._variants:
                warnings.extend(
                    f"variants.{name}: {text}" for text in variant.warnings if text not in warnings
                )
        self._warnings = tuple(warnings)
        return self

    def _variant(self, name: str, override: dict[str, Any], info: ValidationInfo) -> HallConfig:
        """This hall with the override of variant ``name`` merged in, validated."""
        for key in FIXED:
            if key in override:
                _fail(
                    ("variants", name, key),
                    "the same in every variant: set it above",
                    override[key],
                )
        base = self.model_dump(mode="json", by_alias=True, exclude_unset=True, exclude={"variants"})
        data = merged(base, override)
        if "name" not in override:
            data["name"] = f"{self.name} [{name}]"[:200]
        try:
            return HallConfig.model_validate(data, context=info.context)
        except ValidationError as error:
            first = error.errors()[0]
            location = tuple(first["loc"])
            message = str(first["msg"]).removeprefix("Value error, ")
            if depth_within(override, location):
                _fail(("variants", name, *location), message, first.get("input"))
            field = ".".join(str(step) for step in location) or "(top level)"
            _fail(("variants", name), f"{field}: {message}", None)
            raise  # (never reached: _fail raises)

    def _read_schedule(self) -> None:
        arrivals = self.arrivals
        schedule = arrivals.schedule
        assert schedule is not None
        if schedule.design_day is not None and self.date is not None:
            _fail(
                ("arrivals", "schedule", "design_day"),
                "a design day is the model's date: give start as a time of day, and no date",
                None,
            )
        declared = {
            info.name: info
            for info in class_table([arrivals.classes or share_classes(arrivals.egate_share)])
        }
        try:
            timetable = read_schedule(
                schedule, declared, day0=self.date, start=self.start, horizon=self.horizon
            )
        except ValueError as error:
            _fail(("arrivals", "schedule"), str(error), schedule.file.name)
            raise AssertionError from None  # (never reached: _fail raises)
        arrivals.attach_schedule(timetable)
        self._day0 = timetable.day0

    @property
    def day0(self) -> dt.date | None:
        """The calendar date of the model's day 0, when it has one (``date`` or the schedule's)."""
        return self.date if self.date is not None else self._day0

    @property
    def warnings(self) -> tuple[str, ...]:
        """What is odd but usable, one line each ("field: what"), for the caller to show."""
        return self._warnings

    def variant_configs(self) -> tuple[tuple[str, HallConfig], ...]:
        """(name, configuration) of each variant, in the file's order; empty without variants."""
        return self._variants

    def _check_times(self) -> None:
        start, horizon = self.start, self.horizon
        if horizon is not None and horizon <= start:
            _fail(
                ("horizon",),
                f"times out of order: not after the start {clock(start)}",
                clock(horizon),
            )
        arrivals = self.arrivals
        if arrivals.rate is not None:
            if horizon is None:
                _fail(("horizon",), "required with a rate: when do arrivals stop?", None)
            for index, period in enumerate(arrivals.rate):
                self._within(("arrivals", "rate", index, "from"), period.start)
        for index, flight in enumerate(arrivals.flights or ()):
            self._within(("arrivals", "flights", index, "on_block"), flight.on_block)
        for index, bank in enumerate(self.gates.banks or ()):
            self._within(("gates", "banks", index, "from"), bank.start, before_horizon=False)
        if self.desks is not None:
            for index, shift in enumerate(self.desks.roster or ()):
                self._within(("desks", "roster", index, "from"), shift.start, before_horizon=False)

    def _within(
        self, location: tuple[str | int, ...], at: float, before_horizon: bool = True
    ) -> None:
        if at < self.start:
            _fail(location, f"times out of order: before the start {clock(self.start)}", clock(at))
        if before_horizon and self.horizon is not None and at >= self.horizon:
            _fail(
                location,
                f"times out of order: not before the horizon {clock(self.horizon)}",
                clock(at),
            )

    def _check_channels(self) -> None:
        try:
            self.arrivals.class_table()
        except ValueError as error:
            _fail(("arrivals", "classes"), str(error), None)
        shares = _channel_shares(self.arrivals)
        if self.gates.count == 0 and shares["gate"] > 0:
            _fail(("gates", "count"), "travellers use the gates but there are none", 0)
        rates = self.gates.rates()
        to_desks = shares["desk"] > 0 or (shares["gate"] > 0 and rates.any_referral())
        why = "desk classes" if shares["desk"] > 0 else "gate referrals"
        if self.desks is None and to_desks:
            _fail(("desks",), f"required: travellers are sent to desks ({why})", None)
        if self.desks is not None and self.desks.most == 0 and to_desks:
            field = "count" if self.desks.count is not None else "roster"
            _fail(
                ("desks", field),
                f"no desk is ever staffed, but travellers are sent to desks ({why}): they "
                "would wait until the run is cut off",
                0,
            )

    def _staffing_warnings(self) -> list[str]:
        """Stretches while travellers arrive with no gate open or no desk staffed."""
        window = _arrival_window(self)
        if window is None:
            return []
        shares = _channel_shares(self.arrivals)
        warnings = []
        checks: list[tuple[str, Sequence[Period] | None, list[int], str]] = [
            ("gates.banks", self.gates.banks, [b.open for b in self.gates.banks or ()], "gate")
        ]
        if self.desks is not None and self.desks.roster is not None:
            counts = [shift.desks for shift in self.desks.roster]
            checks.append(("desks.roster", self.desks.roster, counts, "desk"))
        for field, periods, counts, channel in checks:
            if periods is None or shares[channel] == 0:
                continue
            for begin, end in _unstaffed(periods, counts, *window):
                what = "gate is open" if channel == "gate" else "desk is staffed"
                warnings.append(
                    f"{field}: no {what} from {clock(begin)} to {clock(end)}, while "
                    f"{channel} travellers arrive ({clock(window[0])} to {clock(window[1])}): "
                    "they wait"
                )
        return warnings


def _as_date(value: object) -> dt.date | None:
    """``date`` as the file gives it; None when absent or not a date (the field then says so)."""
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value)) if isinstance(value, str) else None
    except ValueError:
        return None


def _relative(value: object, day0: dt.date, location: tuple[str | int, ...]) -> object:
    """``value`` with every date and time in it rewritten relative to ``day0``."""
    if isinstance(value, str) and DATED.fullmatch(value):
        try:
            return relative_clock(value, day0)
        except ValueError as error:
            _fail(location, str(error), value)
    if isinstance(value, dict):
        return {key: _relative(item, day0, (*location, key)) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_relative(item, day0, (*location, index)) for index, item in enumerate(value)]
    return value


def _arrival_window(config: HallConfig) -> tuple[float, float] | None:
    """(first, last) moment travellers reach the hall, roughly: on-blocks, or the rate's span."""
    arrivals = config.arrivals
    if arrivals.rate is not None:
        busy = [period.start for period in arrivals.rate if period.per_hour > 0]
        if not busy or config.horizon is None:
            return None
        return min(busy), config.horizon
    moments = [flight.on_block for flight in arrivals.timetable() if flight.passengers]
    return (min(moments), max(moments)) if moments else None


def _unstaffed(
    periods: Sequence[Period], counts: Sequence[int], low: float, high: float
) -> list[tuple[float, float]]:
    """The stretches of ``low``..``high`` that no period with a count above 0 covers."""
    covered = sorted(
        (begin, end)
        for (begin, end), count in zip(period_bounds(periods, math.inf), counts, strict=True)
        if count > 0
    )
    gaps = []
    at = low
    for begin, end in covered:
        if begin > at:
            gaps.append((at, min(begin, high)))
        at = max(at, end)
        if at >= high:
            break
    if at < high:
        gaps.append((at, high))
    return [(begin, end) for begin, end in gaps if end > begin]


def _channel_shares(arrivals: ArrivalsConfig) -> dict[str, float]:
    """The largest share of any flight (or of rate arrivals) per channel."""
    shares = {"gate": 0.0, "desk": 0.0}
    flights: Sequence[Flight | None] = arrivals.timetable() or (None,)
    for flight in flights:
        if flight is not None and flight.passengers == 0:
            continue
        for item in arrivals.flight_classes(flight):
            shares[item.channel] = max(shares[item.channel], item.share)
    return shares


def load_hall(path: Path) -> HallConfig:
    """Read a hall configuration; raises ``egate.config.ConfigError`` with a one-line message."""
    return load_config(path, HallConfig)


def default_hall() -> HallConfig:
    """The hall ``egate simulate`` runs when given no file: the shipped Pudong-style day.

    It is ``configs/airports/pudong-day.yaml``, read from the installed
    package data (``egate.shipped``), so an installed egate runs it too. It
    names no other files.
    """
    with shipped_file("airports", DEFAULT_HALL) as path:
        return load_hall(path)


def dump(config: HallConfig) -> dict[str, Any]:
    """The configuration as plain data (clock times as text), e.g. for a report's header."""
    return config.model_dump(mode="json", by_alias=True)
