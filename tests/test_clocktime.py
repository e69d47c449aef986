"""The one clock-time grammar of egate's files (``egate.clocktime``), as properties."""

from __future__ import annotations

from datetime import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from egate.clocktime import ClockTimeError, format_clock, parse_clock, parse_time_of_day

HOURS_PAST_MIDNIGHT = 47


@st.composite
def written(draw: st.DrawFn, max_hour: int = 23) -> tuple[str, int]:
    """(a clock time as a person may write it, its microseconds since midnight)."""
    hour = draw(st.integers(0, max_hour))
    minute = draw(st.integers(0, 59))
    second = draw(st.integers(0, 59))
    digits = draw(st.integers(0, 6))
    fraction = draw(st.integers(0, 10**digits - 1)) if digits else 0
    form = draw(st.sampled_from(["HH:MM", "HH:MM:SS", "HH:MM:SS.f"]))
    text = f"{hour:0{draw(st.sampled_from([1, 2]))}d}:{minute:02d}"
    micro = 0
    if form != "HH:MM":
        text += f":{second:02d}"
        micro = second * 1_000_000
        if form == "HH:MM:SS.f" and digits:
            text += f".{fraction:0{digits}d}"
            micro += fraction * 10 ** (6 - digits)
    spaces = draw(st.sampled_from(["", " ", "\t"]))
    return spaces + text + spaces, (hour * 3600 + minute * 60) * 1_000_000 + micro


@given(written(max_hour=HOURS_PAST_MIDNIGHT))
def test_a_written_clock_time_is_read_to_the_microsecond(case: tuple[str, int]) -> None:
    text, micro = case
    assert parse_clock(text, max_hour=HOURS_PAST_MIDNIGHT) == micro / 1e6


@given(written())
def test_a_time_of_day_reads_as_the_time_it_says(case: tuple[str, int]) -> None:
    text, micro = case
    seconds, microsecond = divmod(micro, 1_000_000)
    expected = time(seconds // 3600, seconds // 60 % 60, seconds % 60, microsecond)
    assert parse_time_of_day(text) == expected
    assert parse_clock(text) == micro / 1e6


@given(st.integers(0, (HOURS_PAST_MIDNIGHT + 1) * 3600 - 1))
def test_formatting_then_parsing_gives_the_same_second(seconds: int) -> None:
    text = format_clock(seconds)
    assert parse_clock(text, max_hour=HOURS_PAST_MIDNIGHT) == seconds
    assert format_clock(parse_clock(text, max_hour=HOURS_PAST_MIDNIGHT)) == text


@given(st.times())
def test_a_time_written_in_iso_format_parses_back(moment: time) -> None:
    assert parse_time_of_day(moment.isoformat()) == moment


@pytest.mark.parametrize(
    "text",
    [
        "",
        "7",
        "7:5",
        "07:60",
        "07:30:60",
        "07:30:",
        "07:30.5",
        "07:30:15.",
        "07:30:15.1234567",  # finer than a microsecond
        "107:30",
        "-1:30",
        "07h30",
        "07:30 Z",
        "\u0660\u0667:\u0663\u0660",  # Arabic-Indic digits: digits, but not ASCII ones
    ],
)
def test_anything_else_is_refused(text: str) -> None:
    with pytest.raises(ClockTimeError, match=r"expected a clock time"):
        parse_clock(text, max_hour=HOURS_PAST_MIDNIGHT)


def test_the_hours_go_as_far_as_the_caller_says() -> None:
    assert parse_clock("23:59:59.999999") == 86399.999999
    with pytest.raises(ClockTimeError, match=r"^hour 24 is past 23$"):
        parse_time_of_day("24:00")
    assert parse_clock("47:59", max_hour=47) == 47 * 3600 + 59 * 60
    with pytest.raises(ClockTimeError, match=r"hour 48 is past 47 \(a day may run past midnight"):
        parse_clock("48:00", max_hour=47)


def test_formatting_shows_seconds_only_when_there_are_some() -> None:
    assert format_clock(6.5 * 3600) == "06:30"
    assert format_clock(25 * 3600 + 30) == "25:00:30"
    assert format_clock(59.6) == "00:01"
