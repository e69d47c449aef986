"""Clock times as egate's files write them: ``"07:30"``, ``"07:30:15"``, ``"07:30:15.5"``.

One grammar for every file, training scenarios and hall models alike:

* the hour, one or two digits, then ``:`` and the minutes, two digits (00-59);
* optionally ``:`` and the seconds, two digits (00-59), optionally with a
  decimal fraction of one to six digits (down to the microsecond);
* ASCII digits only; spaces around the text are ignored.

How far the hours go is the caller's: a time of day ends at 23:59:59.999999
(``max_hour=23``, the default); a capacity model's day may run past midnight,
written as hours from 24 on (``max_hour=47``). egate's YAML loader reads an
unquoted ``07:30`` as text (not as YAML 1.1's base-60 number), so these
strings are what the models see::

    >>> parse_clock("07:30")
    27000.0
    >>> parse_clock("25:00:30", max_hour=47)
    90030.0
    >>> parse_time_of_day("7:31:20.5")
    datetime.time(7, 31, 20, 500000)
    >>> format_clock(90030.0)
    '25:00:30'
"""

from __future__ import annotations

import re
from datetime import time

__all__ = ["ClockTimeError", "format_clock", "parse_clock", "parse_time_of_day"]

_CLOCK = re.compile(r"([0-9]{1,2}):([0-5][0-9])(?::([0-5][0-9])(?:\.([0-9]{1,6}))?)?")
_FORMS = '"HH:MM", "HH:MM:SS" or "HH:MM:SS.ffffff"'


class ClockTimeError(ValueError):
    """Text that is not a clock time of the grammar above; the message is one line."""


def _microseconds(text: str, max_hour: int) -> int:
    """Microseconds since midnight of the clock time ``text``."""
    match = _CLOCK.fullmatch(text.strip())
    if match is None:
        raise ClockTimeError(f"expected a clock time {_FORMS}")
    hours, minutes, seconds = (int(part or 0) for part in match.groups()[:3])
    if hours > max_hour:
        beyond = f" (a day may run past midnight into 24:00-{max_hour}:59)" if max_hour > 23 else ""
        raise ClockTimeError(f"hour {hours} is past {max_hour}{beyond}")
    fraction = int((match[4] or "").ljust(6, "0"))
    return ((hours * 60 + minutes) * 60 + seconds) * 1_000_000 + fraction


def parse_clock(text: str, *, max_hour: int = 23) -> float:
    """Seconds since midnight of the clock time ``text``, hours up to ``max_hour``."""
    return _microseconds(text, max_hour) / 1e6


def parse_time_of_day(text: str) -> time:
    """The time of day ``text`` (hours up to 23)."""
    seconds, micro = divmod(_microseconds(text, 23), 1_000_000)
    minutes, second = divmod(seconds, 60)
    hour, minute = divmod(minutes, 60)
    return time(hour, minute, second, micro)


def format_clock(seconds: float) -> str:
    """Seconds since midnight as ``"HH:MM"``, or ``"HH:MM:SS"`` when the seconds are not 0.

    Rounded to the second; hours go on past 23 for a day that runs past midnight.
    """
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours:02d}:{minutes:02d}" + (f":{secs:02d}" if secs else "")
