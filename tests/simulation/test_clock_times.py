"""The model's clock: runs of many days, dates and times, and errors that say what is wrong."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from egate.config import ConfigError
from simulation.clock import MAX_HOURS, parse_clock, relative_clock
from simulation.config import HallConfig, dump, load_hall

HOUR = 3600.0
MONDAY = date(2026, 7, 13)

RATE_HALL = """\
name: days
start: "06:00"
horizon: "{horizon}"
arrivals:
  rate: [{{from: "06:00", per_hour: 60}}]
gates: {{count: 2}}
"""


def test_hours_run_on_for_days():
    assert parse_clock("100:00") == 100 * HOUR
    assert parse_clock("167:59:59.5") == 167 * HOUR + 59 * 60 + 59.5
    assert parse_clock(f"{MAX_HOURS}:00") == MAX_HOURS * HOUR


def test_a_date_and_time_counts_from_midnight_of_day_0():
    assert parse_clock("2026-07-13 06:30", MONDAY) == 6.5 * HOUR
    assert parse_clock("2026-07-19T23:00", MONDAY) == (6 * 24 + 23) * HOUR
    assert relative_clock("2026-07-14 06:30:15.5", MONDAY) == "30:30:15.500000"


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("06:60", 'minutes "60" must be 00 to 59'),
        ("06:30:75", 'seconds "75" must be 00 to 59'),
        ("6h30", 'no ":" between hours and minutes'),
        ("1:2:3:4", "has 4 parts"),
        ("ab:30", 'hours "ab" must be digits'),
        ("9000:00", f"past the longest run, {MAX_HOURS} h"),
        ("2026-02-30 06:00", '"2026-02-30" is not a date'),
        ("2026-07-14 25:00", "past 23:59"),
        ("2026-07-12 23:00", "before the model's first day, 2026-07-13"),
    ],
)
def test_a_bad_time_says_what_is_wrong(text: str, why: str):
    with pytest.raises(ValueError, match=why):
        parse_clock(text, MONDAY)


def test_a_date_needs_the_models_date():
    with pytest.raises(ValueError, match="the model has no date: give start as a date"):
        parse_clock("2026-07-14 06:00")


def test_a_horizon_of_a_hundred_hours_runs(tmp_path: Path):
    path = tmp_path / "hall.yaml"
    path.write_text(RATE_HALL.format(horizon="100:00"), encoding="utf-8")
    config = load_hall(path)
    assert config.horizon == 100 * HOUR


def test_a_bad_horizon_is_one_line_naming_field_and_fault(tmp_path: Path):
    path = tmp_path / "hall.yaml"
    path.write_text(RATE_HALL.format(horizon="100:75"), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_hall(path)
    assert str(caught.value) == (
        f'{path}:3: horizon: minutes "75" must be 00 to 59 in "100:75" (got \'100:75\')'
    )


def test_a_dated_start_dates_every_other_time():
    config = HallConfig.model_validate(
        {
            "name": "dated",
            "start": "2026-07-13 06:00",
            "horizon": "2026-07-15 06:00",
            "arrivals": {"rate": [{"from": "2026-07-14 00:00", "per_hour": 10}]},
            "gates": {"count": 1, "banks": [{"from": "2026-07-13 06:00", "open": 1}]},
        }
    )
    assert config.date == MONDAY and config.day0 == MONDAY
    assert config.start == 6 * HOUR and config.horizon == 54 * HOUR
    assert config.arrivals.rate is not None and config.arrivals.rate[0].start == 24 * HOUR
    # The dump writes hours since day 0 and its date, and reads back the same.
    data = dump(config)
    assert data["date"] == "2026-07-13" and data["horizon"] == "54:00"
    assert HallConfig.model_validate(data) == config


def test_a_dated_time_before_day_0_names_its_field():
    with pytest.raises(ValueError, match="before the model's first day") as caught:
        HallConfig.model_validate(
            {
                "name": "dated",
                "start": "2026-07-13 06:00",
                "horizon": "2026-07-12 06:00",
                "arrivals": {"rate": [{"from": "06:00", "per_hour": 10}]},
                "gates": {"count": 1},
            }
        )
    assert caught.value.errors()[0]["loc"] == ("horizon",)  # type: ignore[attr-defined]
