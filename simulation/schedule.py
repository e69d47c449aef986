"""Flight schedules: flights written in the hall file, or a CSV schedule of days or a season.

A flight brings ``passengers``, or ``seats`` (or an ``aircraft`` type, whose
typical seats ``simulation.aircraft`` knows) times a ``load_factor``. In
YAML a flight is a mapping (``Flight``); a longer schedule is a CSV file
named by ``arrivals.schedule`` (``ScheduleSpec``), one flight a line, with
the columns of ``COLUMNS`` (docs/simulation.md has the table)::

    flight,date,on_block,aircraft,seats,load_factor,origin,share_chinese,share_foreign
    MU588,2026-07-13,06:40,B77W,,0.86,FRA,0.62,0.38

Lines beginning with ``#`` are comments. A schedule may hold more than the
run: flights outside ``start``..``horizon`` are left out (with a warning),
and ``design_day`` picks one day of a season by its rank among the busiest.
A day, here, is the *operational* day that begins at ``start``'s time of
day (06:00 to 06:00 by default), so that a night's late arrivals belong
to the day before.

Every error names the file, the line and the column (its number, counted
from 1 as spreadsheets do, and its name): ``week.csv:17:4: aircraft: ...``.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from pydantic import Field, ValidationInfo, field_validator, model_validator

from egate.paths import existing_file
from simulation.aircraft import seats_of
from simulation.classes import ClassInfo, ClassList, ConfigModel, Probability, TravellerClass
from simulation.clock import ClockTime, dated_parts, parse_clock
from simulation.distribution_specs import DistributionSpec
from simulation.fields import fail, suggestion

__all__ = [
    "COLUMNS",
    "DesignDay",
    "Flight",
    "ScheduleSpec",
    "Timetable",
    "passengers_of",
    "read_schedule",
]

# Large enough for a season of a large hub (some 60,000 flights); a bigger file is a mistake.
MAX_SCHEDULE_BYTES = 32 * 1024 * 1024
# The columns a schedule may have, besides share_<class> (one per traveller class).
COLUMNS = ("flight", "date", "on_block", "aircraft", "seats", "load_factor", "passengers", "origin")
_SHARE = "share_"


def passengers_of(
    passengers: int | None, seats: int | None, load_factor: float | None
) -> int | None:
    """Passengers given, else seats times load factor rounded to the nearest; None: unknown."""
    if passengers is not None:
        return passengers
    if seats is None or load_factor is None:
        return None
    return math.floor(seats * load_factor + 0.5)


class Flight(ConfigModel):
    """One arriving flight; what it leaves unsaid comes from ``arrivals``."""

    flight: str = Field(min_length=1, max_length=16)
    on_block: ClockTime
    passengers: int | None = Field(default=None, ge=0, le=10_000)
    seats: int | None = Field(default=None, ge=1, le=1000)
    aircraft: str | None = Field(default=None, min_length=2, max_length=8)
    load_factor: Probability | None = None
    origin: str | None = Field(default=None, max_length=32)
    egate_share: Probability | None = None
    classes: ClassList | None = None
    deplane: DistributionSpec | None = None
    walk: DistributionSpec | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Flight:
        if self.classes is not None and self.egate_share is not None:
            fail(("egate_share",), "give either egate_share or classes, not both", None)
        if self.passengers is None and self.seats is None and self.aircraft is None:
            fail(
                ("passengers",),
                f"flight {self.flight}: give passengers, or seats (or aircraft) and a load_factor",
                None,
            )
        if self.seats is None and self.aircraft is not None and seats_of(self.aircraft) is None:
            fail(
                ("aircraft",),
                f"flight {self.flight}: {self.aircraft!r} is not a type whose seats egate "
                "knows: give seats",
                self.aircraft,
            )
        return self

    def seat_count(self) -> int | None:
        """Its seats, given or typical of its aircraft."""
        if self.seats is not None:
            return self.seats
        return None if self.aircraft is None else seats_of(self.aircraft)


class DesignDay(ConfigModel):
    """One day of a season's schedule: the ``rank``-th busiest, or a ``date``."""

    rank: int | None = Field(default=None, ge=1, le=366)
    date: dt.date | None = None

    @model_validator(mode="after")
    def _one(self) -> DesignDay:
        if (self.rank is None) == (self.date is None):
            fail(("rank",), "give either rank (30: the 30th busiest day) or date", None)
        return self


class ScheduleSpec(ConfigModel):
    """A CSV schedule named in the hall file, relative to it: ``schedule: week.csv``."""

    file: Path
    load_factor: Probability | None = Field(
        default=None, description="For lines that give neither passengers nor load_factor."
    )
    design_day: DesignDay | None = None

    @model_validator(mode="before")
    @classmethod
    def _short_form(cls, data: object) -> object:
        return {"file": data} if isinstance(data, str) else data

    @field_validator("file")
    @classmethod
    def _resolve(cls, path: Path, info: ValidationInfo) -> Path:
        if (info.context or {}).get("base_dir") is None and not path.is_absolute():
            return path
        # Absolute, so that a configuration dumped and validated again finds it.
        return existing_file(path, info).absolute()


@dataclass(frozen=True, slots=True)
class Timetable:
    """The flights of a schedule that fall within the run, and what was left out."""

    flights: tuple[Flight, ...]
    day0: date
    warnings: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _Row:
    line: int
    flight: str
    day: date
    seconds: float  # since that day's midnight
    passengers: int
    seats: int | None
    aircraft: str | None
    load_factor: float | None
    origin: str | None
    shares: tuple[float, ...] | None


class _Reader:
    """Reads one schedule file; errors are ``ValueError``s naming file, line and column."""

    def __init__(self, spec: ScheduleSpec, classes: Mapping[str, ClassInfo]) -> None:
        self.spec = spec
        self.name = spec.file.name
        self.classes = classes
        self.warnings: list[str] = []
        self.columns: dict[str, int] = {}
        self.header: list[str] = []
        self.share_classes: list[tuple[int, str]] = []
        self.line = 0

    def error(self, column: str | None, message: str) -> ValueError:
        if column is None:
            return ValueError(f"{self.name}:{self.line}: {message}")
        index = self.columns.get(column)
        where = "" if index is None else f":{index + 1}"
        return ValueError(f"{self.name}:{self.line}{where}: {column}: {message}")

    def lines(self) -> Iterator[str]:
        try:
            with self.spec.file.open("rb") as stream:
                raw = stream.read(MAX_SCHEDULE_BYTES + 1)
        except OSError as error:
            raise ValueError(f"{self.name}: cannot read: {error.strerror or error}") from None
        if len(raw) > MAX_SCHEDULE_BYTES:
            raise ValueError(f"{self.name}: more than {MAX_SCHEDULE_BYTES} bytes")
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            bad = raw[: error.start].count(b"\n") + 1
            raise ValueError(f"{self.name}:{bad}: not UTF-8 text") from None
        for line in text.splitlines(keepends=True):
            # A comment stays a (blank) line, so that csv counts lines as an editor does.
            yield "\n" if line.lstrip().startswith("#") else line

    def read(self) -> list[_Row]:
        reader = csv.reader(self.lines())
        rows: list[_Row] = []
        try:
            for cells in reader:
                self.line = reader.line_num
                if not any(cell.strip() for cell in cells):
                    continue
                if not self.header:
                    self._read_header(cells)
                else:
                    rows.append(self._read_row(cells))
        except csv.Error as error:
            raise ValueError(f"{self.name}:{reader.line_num}: not CSV ({error})") from None
        if not self.header:
            raise ValueError(f"{self.name}: no header line naming the columns")
        if not rows:
            raise ValueError(f"{self.name}: no flights")
        return rows

    def _read_header(self, cells: list[str]) -> None:
        self.header = [cell.strip().lower() for cell in cells]
        for index, name in enumerate(self.header):
            if name in self.columns:
                raise ValueError(f"{self.name}:{self.line}:{index + 1}: column {name!r} twice")
            if name in COLUMNS:
                self.columns[name] = index
            elif name.startswith(_SHARE):
                self.columns[name] = index
                wanted = name.removeprefix(_SHARE)
                info = self.classes.get(wanted)
                if info is None:
                    known = list(self.classes)
                    raise ValueError(
                        f"{self.name}:{self.line}:{index + 1}: {name}: no class {wanted!r} in "
                        f"arrivals.classes{suggestion(wanted, known)}"
                    )
                self.share_classes.append((index, wanted))
            else:
                close = suggestion(name, [*COLUMNS, *(_SHARE + key for key in self.classes)])
                if close.startswith(";"):  # a near miss is a misspelling, not another column
                    raise ValueError(
                        f"{self.name}:{self.line}:{index + 1}: unknown column {name!r}{close}"
                    )
                self.warnings.append(
                    f"{self.name}:{self.line}:{index + 1}: column {name!r} is not used"
                )
        for required in ("flight", "on_block"):
            if required not in self.columns:
                raise ValueError(f"{self.name}:{self.line}: no column {required!r}")
        if not {"seats", "aircraft", "passengers"} & set(self.columns):
            raise ValueError(
                f"{self.name}:{self.line}: no column passengers, seats or aircraft: "
                "how many travel?"
            )

    def _cell(self, cells: list[str], column: str) -> str:
        index = self.columns.get(column)
        return "" if index is None else cells[index].strip()

    def _number(self, cells: list[str], column: str, low: float, high: float) -> float | None:
        text = self._cell(cells, column)
        if not text:
            return None
        percent = text.endswith("%")
        try:
            value = float(text.removesuffix("%")) / (100 if percent else 1)
        except ValueError:
            raise self.error(column, f"{text!r} is not a number") from None
        if not (math.isfinite(value) and low <= value <= high):
            raise self.error(column, f"{text!r} is outside {low:g} to {high:g}")
        return value

    def _integer(self, cells: list[str], column: str, low: int, high: int) -> int | None:
        value = self._number(cells, column, low, high)
        if value is not None and value != int(value):
            raise self.error(column, f"{self._cell(cells, column)!r} is not a whole number")
        return None if value is None else int(value)

    def _when(self, cells: list[str]) -> tuple[date, float]:
        text = self._cell(cells, "on_block")
        if not text:
            raise self.error("on_block", "empty: when does the flight arrive?")
        try:
            if "date" in self.columns:
                day_text = self._cell(cells, "date")
                try:
                    day = date.fromisoformat(day_text)
                except ValueError:
                    raise self.error("date", f"{day_text!r} is not a date YYYY-MM-DD") from None
                seconds = parse_clock(text)
                if seconds >= 48 * 3600:
                    raise ValueError(f'"{text}" is past 47:59: write the date it lands on')
                return day, seconds
            dated = dated_parts(text)
        except ValueError as error:
            if str(error).startswith(self.name):
                raise
            raise self.error("on_block", str(error)) from None
        if dated is None:
            raise self.error(
                "on_block", f'"{text}": without a date column, write "2026-07-13 06:40"'
            )
        return dated

    def _read_row(self, cells: list[str]) -> _Row:
        if len(cells) != len(self.header):
            raise self.error(
                None, f"{len(cells)} fields, but the header names {len(self.header)} columns"
            )
        flight = self._cell(cells, "flight")
        if not 1 <= len(flight) <= 16:
            raise self.error("flight", f"{flight!r}: a flight needs a name of 1 to 16 characters")
        day, seconds = self._when(cells)
        seats = self._integer(cells, "seats", 1, 1000)
        aircraft = self._cell(cells, "aircraft") or None
        if seats is None and aircraft is not None:
            seats = seats_of(aircraft)
            if seats is None:
                raise self.error(
                    "aircraft", f"{aircraft!r} is not a type whose seats egate knows: give seats"
                )
        load_factor = self._number(cells, "load_factor", 0, 1)
        if load_factor is None:
            load_factor = self.spec.load_factor
        passengers = self._integer(cells, "passengers", 0, 10_000)
        count = passengers_of(passengers, seats, load_factor)
        if count is None:
            column = "load_factor" if seats is not None else "seats"
            what = (
                "no load factor (give the column, or schedule.load_factor in the hall file)"
                if seats is not None
                else "no passengers, seats or known aircraft"
            )
            raise self.error(column, f"flight {flight}: {what}")
        return _Row(
            self.line,
            flight,
            day,
            seconds,
            count,
            seats,
            aircraft,
            load_factor,
            self._cell(cells, "origin")[:32] or None,
            self._shares(cells),
        )

    def _shares(self, cells: list[str]) -> tuple[float, ...] | None:
        values = [self._number(cells, self.header[index], 0, 1) for index, _ in self.share_classes]
        if all(value is None for value in values):
            return None  # the default mix
        shares = tuple(0.0 if value is None else value for value in values)
        total = math.fsum(shares)
        if abs(total - 1) > 1e-6:
            first = self.header[self.share_classes[0][0]]
            raise self.error(first, f"the class shares add up to {total:.6g}, not 1")
        return shares


def _operational_day(row: _Row, start_of_day: float) -> date:
    """The day a flight belongs to: days begin at ``start``'s time of day."""
    return row.day + timedelta(days=math.floor((row.seconds - start_of_day) / 86400.0))


def _design_day(rows: Sequence[_Row], spec: DesignDay, start_of_day: float, name: str) -> date:
    load: Counter[date] = Counter()
    for row in rows:
        load[_operational_day(row, start_of_day)] += row.passengers
    if spec.date is not None:
        if spec.date not in load:
            raise ValueError(f"{name}: design_day: no flight on {spec.date.isoformat()}")
        return spec.date
    assert spec.rank is not None
    # Busiest first; among days as busy, the earlier.
    ranked = sorted(load, key=lambda day: (-load[day], day))
    if spec.rank > len(ranked):
        raise ValueError(
            f"{name}: design_day: rank {spec.rank}, but the schedule holds {len(ranked)} days"
        )
    return ranked[spec.rank - 1]


def read_schedule(
    spec: ScheduleSpec,
    classes: Mapping[str, ClassInfo],
    *,
    day0: date | None,
    start: float,
    horizon: float | None,
) -> Timetable:
    """The flights of ``spec``'s file within the run, on-block in seconds since day 0.

    ``classes`` are the hall's declared classes (a ``share_<class>`` column
    must name one); ``day0`` the model's date (None: the design day, or the
    schedule's first day); ``start`` and ``horizon`` the run's window in
    seconds since day 0's midnight.
    """
    reader = _Reader(spec, classes)
    rows = reader.read()
    start_of_day = start % 86400.0
    if spec.design_day is not None:
        chosen = _design_day(rows, spec.design_day, start_of_day, reader.name)
        rows = [row for row in rows if _operational_day(row, start_of_day) == chosen]
        day0 = chosen - timedelta(days=math.floor(start / 86400.0))
    elif day0 is None:
        first = min(_operational_day(row, start_of_day) for row in rows)
        day0 = first - timedelta(days=math.floor(start / 86400.0))
    flights: list[Flight] = []
    outside: list[_Row] = []
    empty: list[_Row] = []
    mixes: dict[tuple[float, ...], tuple[TravellerClass, ...]] = {}
    for row in rows:
        at = (row.day - day0).days * 86400.0 + row.seconds
        if at < start or (horizon is not None and at >= horizon):
            outside.append(row)
            continue
        if row.passengers == 0:
            empty.append(row)
            continue
        flights.append(_flight(row, at, reader.share_classes, classes, mixes))
    warnings = reader.warnings
    if outside:
        warnings.append(
            f"{reader.name}: {len(outside)} of {len(rows)} flights fall outside the run "
            f"(lines {_lines(outside)}): left out"
        )
    if empty:
        named = ", ".join(f"{row.flight} (line {row.line})" for row in empty[:3])
        more = f" and {len(empty) - 3} more" if len(empty) > 3 else ""
        warnings.append(f"{reader.name}: flights with no passengers left out: {named}{more}")
    if not flights:
        raise ValueError(
            f"{reader.name}: no flight with passengers falls within the run ({len(outside)} "
            f"outside it, {len(empty)} with no passengers)"
        )
    flights.sort(key=lambda flight: flight.on_block)
    return Timetable(tuple(flights), day0, tuple(warnings))


def _lines(rows: Sequence[_Row]) -> str:
    shown = ", ".join(str(row.line) for row in rows[:3])
    return shown + (", ..." if len(rows) > 3 else "")


def _flight(
    row: _Row,
    at: float,
    share_columns: Sequence[tuple[int, str]],
    classes: Mapping[str, ClassInfo],
    mixes: dict[tuple[float, ...], tuple[TravellerClass, ...]],
) -> Flight:
    """A schedule line as a flight (already checked: built without validating again)."""
    mix = None
    if row.shares is not None:
        mix = mixes.get(row.shares)
        if mix is None:
            mix = mixes[row.shares] = tuple(
                TravellerClass.model_construct(
                    name=name,
                    share=share,
                    channel=classes[name].channel,
                    desk_service=None,
                    kiosk=None,
                )
                for (_, name), share in zip(share_columns, row.shares, strict=True)
                if share > 0
            )
    return Flight.model_construct(
        flight=row.flight,
        on_block=at,
        passengers=row.passengers,
        seats=row.seats,
        aircraft=row.aircraft,
        load_factor=row.load_factor,
        origin=row.origin,
        egate_share=None,
        classes=mix,
        deplane=None,
        walk=None,
    )
