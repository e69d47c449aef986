"""The model's clock as a planner writes it: hours since midnight of day 0, or a date and time.

A hall model's times are seconds since midnight of its *day 0*. In a file
they are written either as a clock time that may run on for days, ``"06:30"``,
``"30:15"`` (06:15 the next day), ``"150:00"``, with seconds optionally
(``"06:30:15"``, ``"06:30:15.5"``), or as a date and time,
``"2026-07-14 06:30"`` (or ``2026-07-14T06:30``), which needs day 0's
calendar date (``date``, or a dated ``start``). A run may last up to
``MAX_HOURS`` (a year): a week, or a season's design day, fits.

Every error says what is wrong with the text, not only what was expected::

    >>> parse_clock("100:00")
    360000.0
    >>> parse_clock("2026-07-14 06:30", day0=date(2026, 7, 13))
    109800.0
    >>> parse_clock("06:60")
    Traceback (most recent call last):
    ...
    ValueError: minutes "60" must be 00 to 59 in "06:60"
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated

from pydantic import BeforeValidator, PlainSerializer

from egate.clocktime import format_clock

__all__ = [
    "DATED",
    "MAX_HOURS",
    "ClockTime",
    "dated_parts",
    "format_clock",
    "parse_clock",
    "relative_clock",
]

# The longest run: a year of hours (a season's schedule is about seven months).
MAX_HOURS = 366 * 24
_UNDATED = re.compile(r"([0-9]+):([0-9]{2})(?::([0-9]{2})(?:\.([0-9]{1,6}))?)?")
DATED = re.compile(r"\s*([0-9]{4}-[0-9]{2}-[0-9]{2})[ T]([0-9]{1,2}:[0-9]{2}(?::[0-9.]+)?)\s*")
_EXAMPLES = '"06:30", "30:15" (the next day) or a date and time "2026-07-14 06:30"'


def _part(name: str, text: str, whole: str) -> int:
    """The minutes or seconds of a clock time, 00 to 59."""
    if not (len(text) == 2 and text.isdigit()) or int(text) > 59:
        raise ValueError(f'{name} "{text}" must be 00 to 59 in "{whole}"')
    return int(text)


def _diagnose(text: str) -> str:
    """Why ``text`` is not a clock time, in a few words."""
    parts = text.split(":")
    if len(parts) == 1:
        return f'"{text}" has no ":" between hours and minutes: write {_EXAMPLES}'
    if len(parts) > 3:
        return f'"{text}" has {len(parts)} parts: write hours:minutes[:seconds]'
    if not parts[0].isdigit():
        return f'hours "{parts[0]}" must be digits in "{text}"'
    _part("minutes", parts[1], text)
    if len(parts) == 3:
        seconds, _, fraction = parts[2].partition(".")
        _part("seconds", seconds, text)
        if not (fraction.isdigit() and len(fraction) <= 6):
            return f'the fraction of a second ".{fraction}" must be 1 to 6 digits in "{text}"'
    return f'expected {_EXAMPLES}, got "{text}"'


def _undated(text: str) -> float:
    """Seconds of an undated clock time (hours may run past 23)."""
    match = _UNDATED.fullmatch(text)
    if match is None:
        raise ValueError(_diagnose(text))
    hours = int(match[1])
    minutes = _part("minutes", match[2], text)
    seconds = 0 if match[3] is None else _part("seconds", match[3], text)
    if hours > MAX_HOURS:
        raise ValueError(
            f"hour {hours} is past the longest run, {MAX_HOURS} h ({MAX_HOURS // 24} days), "
            f'in "{text}"'
        )
    fraction = int((match[4] or "").ljust(6, "0"))
    return ((hours * 60 + minutes) * 60 + seconds) + fraction / 1e6


def dated_parts(text: str) -> tuple[date, float] | None:
    """(date, seconds since its midnight) of ``"2026-07-14 06:30"``; None when not dated."""
    match = DATED.fullmatch(text)
    if match is None:
        return None
    try:
        day = date.fromisoformat(match[1])
    except ValueError as error:
        raise ValueError(f'"{match[1]}" is not a date ({error})') from None
    seconds = _undated(match[2])
    if seconds >= 24 * 3600:
        raise ValueError(f'"{match[2]}" is past 23:59 in "{text.strip()}": write the next date')
    return day, seconds


def parse_clock(value: object, day0: date | None = None) -> float:
    """Seconds since midnight of day 0 of a clock time, or of a date and time (given ``day0``).

    An integer is minutes since midnight: YAML 1.1 reads an unquoted ``6:30``
    as the sexagesimal number 390, which is just that.
    """
    if isinstance(value, bool) or not isinstance(value, int | str | datetime):
        raise ValueError(f"expected a clock time such as {_EXAMPLES}")
    if isinstance(value, int):
        if not 0 <= value <= MAX_HOURS * 60:
            # e.g. an unquoted 6:30:00, which YAML 1.1 reads as seconds
            raise ValueError(f"expected a clock time such as {_EXAMPLES} (write it in quotes)")
        return float(value * 60)
    if isinstance(value, datetime):
        value = value.isoformat(sep=" ")
    text = value.strip()
    dated = dated_parts(text)
    if dated is None:
        return _undated(text)
    if day0 is None:
        raise ValueError(
            f'"{text}" is a date and time, but the model has no date: give start as a date '
            'and time ("2026-07-13 06:00") or date'
        )
    day, seconds = dated
    if day < day0:
        raise ValueError(f'"{text}" is before the model\'s first day, {day0.isoformat()}')
    return (day - day0).days * 86400.0 + seconds


def relative_clock(value: str, day0: date) -> str:
    """A dated time rewritten as a clock time since midnight of ``day0`` (``"30:15"``)."""
    seconds = parse_clock(value, day0)
    whole, fraction = divmod(round(seconds * 1e6), 1_000_000)
    minutes, second = divmod(whole, 60)
    hours, minute = divmod(minutes, 60)
    text = f"{hours:02d}:{minute:02d}:{second:02d}"
    return text + (f".{fraction:06d}" if fraction else "")


def _parse(value: object) -> float:
    return parse_clock(value)


# A field holding a clock time: seconds since midnight of day 0, written back as "HH:MM".
ClockTime = Annotated[
    float, BeforeValidator(_parse), PlainSerializer(format_clock, return_type=str)
]
