"""MRZ dates: the century rule for two-digit years, partly unknown birth dates."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from egate.documents.checkdigit import check_digit
from egate.documents.composer import DocumentData, compose_mrz
from egate.documents.dates import MrzDate, parse_birth_date, parse_expiry_date
from egate.documents.layout import MrzFormat
from egate.documents.mrz import parse_mrz

TODAY = date(2026, 11, 26)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("690806", MrzDate(1969, 8, 6)),
        ("740812", MrzDate(1974, 8, 12)),
        ("000101", MrzDate(2000, 1, 1)),
        ("250101", MrzDate(2025, 1, 1)),
        # Never in the future: 2027 would be, so it is 1927.
        ("270101", MrzDate(1927, 1, 1)),
        # Today itself is a possible birth date, tomorrow is not.
        ("261126", MrzDate(2026, 11, 26)),
        ("261127", MrzDate(1926, 11, 27)),
        ("991231", MrzDate(1999, 12, 31)),
        # 29 February: 2024 is a leap year, and so is 1928 (2028 lies ahead).
        ("240229", MrzDate(2024, 2, 29)),
        ("280229", MrzDate(1928, 2, 29)),
    ],
)
def test_birth_date_century(text, expected):
    assert parse_birth_date(text, TODAY) == (expected, None)


@pytest.mark.parametrize(
    ("text", "expected", "iso"),
    [
        ("74<<<<", MrzDate(1974), "1974"),
        ("7408<<", MrzDate(1974, 8), "1974-08"),
        ("<<<<<<", None, None),
        ("26<<<<", MrzDate(2026), "2026"),
        ("27<<<<", MrzDate(1927), "1927"),
        # November 2026 has begun, December has not.
        ("2611<<", MrzDate(2026, 11), "2026-11"),
        ("2612<<", MrzDate(1926, 12), "1926-12"),
    ],
)
def test_partly_unknown_birth_dates(text, expected, iso):
    parsed, error = parse_birth_date(text, TODAY)
    assert error is None
    assert parsed == expected
    assert (None if parsed is None else parsed.isoformat()) == iso


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("741301", "is not a calendar date"),
        ("740230", "is not a calendar date"),
        ("740000", "is not a calendar date"),
        ("230229", "is not a calendar date"),
        ("7413<<", "month 13 does not exist"),
        ("7400<<", "month 00 does not exist"),
        ("74<<12", "has a day but no month"),
        ("<<0812", "year '<<' is not two digits"),
        ("7A0812", "year '7A' is not two digits"),
        ("74O812", "is not YYMMDD"),
        ("7408<1", "is not YYMMDD"),
        ("74080<", "is not YYMMDD"),
        ("٧٤٠٨١٢", "is not two digits"),
    ],
)
def test_invalid_birth_dates(text, fragment):
    parsed, error = parse_birth_date(text, TODAY)
    assert parsed is None
    assert error is not None
    assert fragment in error


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("940623", date(1994, 6, 23)),
        ("120415", date(2012, 4, 15)),
        ("311126", date(2031, 11, 26)),
        # Fifty years ahead is still this century, fifty-one is the last one.
        ("760101", date(2076, 1, 1)),
        ("770101", date(1977, 1, 1)),
        ("000229", date(2000, 2, 29)),
    ],
)
def test_expiry_date_century(text, expected):
    assert parse_expiry_date(text, TODAY) == (expected, None)


def test_expiry_window_counts_whole_years():
    # Debatable, documented: the 50-year window compares years only, so the
    # last day of 2076 is still read as 2076 although it lies more than
    # 50 years after 2026-11-26.
    assert parse_expiry_date("761231", TODAY) == (date(2076, 12, 31), None)


@pytest.mark.parametrize("text", ["941323", "940631", "230229", "9406<<", "<<<<<<", "94O623"])
def test_invalid_expiry_dates(text):
    parsed, error = parse_expiry_date(text, TODAY)
    assert parsed is None
    assert error is not None
    assert repr(text) in error


@pytest.mark.parametrize(
    ("value", "iso", "earliest", "latest", "mrz"),
    [
        (MrzDate(1974, 8, 12), "1974-08-12", date(1974, 8, 12), date(1974, 8, 12), "740812"),
        (MrzDate(1974, 8), "1974-08", date(1974, 8, 1), date(1974, 8, 31), "7408<<"),
        (MrzDate(1974, 12), "1974-12", date(1974, 12, 1), date(1974, 12, 31), "7412<<"),
        (MrzDate(2024, 2), "2024-02", date(2024, 2, 1), date(2024, 2, 29), "2402<<"),
        (MrzDate(1974), "1974", date(1974, 1, 1), date(1974, 12, 31), "74<<<<"),
        (MrzDate(2005, 1, 9), "2005-01-09", date(2005, 1, 9), date(2005, 1, 9), "050109"),
    ],
)
def test_mrz_date_views(value, iso, earliest, latest, mrz):
    assert value.isoformat() == iso
    assert value.earliest() == earliest
    assert value.latest() == latest
    assert value.to_mrz() == mrz
    assert value.complete is (value.day is not None)


def test_mrz_date_of_a_calendar_date():
    assert MrzDate.of(date(1969, 8, 6)) == MrzDate(1969, 8, 6)
    assert MrzDate.of(date(1969, 8, 6)).complete


@pytest.mark.parametrize(
    ("birth", "field", "digit", "iso"),
    [
        # The check digit counts < as 0: 7*7 + 3*4 = 61; 7*7 + 3*4 + 1*0 + 7*8 = 117.
        (MrzDate(1974), "74<<<<", "1", "1974"),
        (MrzDate(1974, 8), "7408<<", "7", "1974-08"),
        (None, "<<<<<<", "0", None),
    ],
)
def test_partly_unknown_birth_dates_in_an_mrz(birth, field, digit, iso):
    data = DocumentData(
        MrzFormat.TD3,
        "P",
        "UTO",
        "ERIKSSON",
        "ANNA",
        "L898902C",
        "UTO",
        birth,
        "F",
        date(2030, 1, 1),
    )
    lines = compose_mrz(data)
    assert lines[1][13:19] == field
    assert lines[1][19] == digit == check_digit(field)
    result = parse_mrz(lines, TODAY, repair=False)
    assert result.valid, result.failures
    assert result.fields.birth_date == birth
    assert result.to_json()["fields"]["birth_date"] == iso


def test_unknown_birth_date_with_filler_check_digit_is_valid():
    # Readers meet '<' in place of the check digit 0 of a wholly unknown date.
    data = DocumentData(
        MrzFormat.TD3,
        "P",
        "UTO",
        "ERIKSSON",
        "ANNA",
        "L898902C",
        "UTO",
        None,
        "F",
        date(2030, 1, 1),
    )
    line1, line2 = compose_mrz(data)
    assert line2[19] == "0"
    result = parse_mrz([line1, line2[:19] + "<" + line2[20:]], TODAY, repair=False)
    assert result.valid, result.failures


@st.composite
def today_and_birth(draw):
    today = draw(st.dates(min_value=date(2000, 1, 1), max_value=date(2098, 12, 31)))
    # Up to 36520 days back stays within the hundred years that end today
    # (a century has at least 36524 days); the boundary has its own examples.
    birth = today - timedelta(days=draw(st.integers(0, 36520)))
    return today, birth


@given(today_and_birth())
def test_birth_dates_round_trip_in_their_window(pair):
    today, birth = pair
    parsed, error = parse_birth_date(MrzDate.of(birth).to_mrz(), today)
    assert error is None
    assert parsed == MrzDate.of(birth)
    assert parsed is not None
    assert parsed.earliest() <= today


@given(st.dates(min_value=date(2000, 1, 1), max_value=date(2098, 12, 31)), st.data())
def test_expiry_dates_round_trip_in_their_window(today, data):
    # 20YY up to fifty years ahead, 19YY for the rest of the hundred years.
    low = max(date(1900, 1, 1), date(today.year - 49, 1, 1))
    high = min(date(2099, 12, 31), date(today.year + 50, 12, 31))
    expiry = data.draw(st.dates(min_value=low, max_value=high))
    assert parse_expiry_date(MrzDate.of(expiry).to_mrz(), today) == (expiry, None)


@given(st.dates(min_value=date(2000, 1, 1), max_value=date(2098, 12, 31)))
def test_birth_date_never_in_the_future(today):
    for yy in range(100):
        parsed, error = parse_birth_date(f"{yy:02d}0101", today)
        assert error is None
        assert parsed is not None
        assert parsed.earliest() <= today
        assert parsed.year % 100 == yy
        # and it is the latest such year: a hundred years later would be ahead.
        assert date(parsed.year + 100, 1, 1) > today
