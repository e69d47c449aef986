"""CSV flight schedules: columns, seats times load factor, design days, errors by line, column."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pytest

from egate.config import ConfigError
from simulation.aircraft import SEATS, seats_of
from simulation.arrivals import generate_arrivals
from simulation.config import HallConfig, load_hall
from simulation.sweep import apply_setting

HOUR = 3600.0
CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "airports"

SCHEDULE = """\
# a comment line, then the header
flight,date,on_block,aircraft,seats,load_factor,origin,share_resident,share_visitor
AA100,2026-07-13,06:40,B77W,,0.85,JFK,0.6,0.4
BB200,2026-07-13,07:05,,300,,FRA,,
CC300,2026-07-14,05:20,A359,,0.9,SIN,1,
DD400,2026-07-14,09:00,B789,,0,SYD,,
EE500,2026-07-14,10:00,,200,0.5,HKG,0.5,0.5
"""

HALL = """\
name: scheduled
arrivals:
  schedule: {file: flights.csv, load_factor: 0.8}
  classes:
    - {name: resident, share: 0.7, channel: gate}
    - {name: visitor, share: 0.3, channel: desk}
gates: {count: 4}
desks: {count: 2, service: {kind: exponential, mean: 60}}
"""


def hall(folder: Path, schedule: str = SCHEDULE, text: str = HALL) -> Path:
    (folder / "flights.csv").write_text(schedule, encoding="utf-8")
    path = folder / "hall.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def error_of(folder: Path, schedule: str = SCHEDULE, text: str = HALL) -> str:
    with pytest.raises(ConfigError) as caught:
        load_hall(hall(folder, schedule, text))
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_a_schedule_imports_with_seats_times_load_factor(tmp_path: Path):
    config = load_hall(hall(tmp_path))
    flights = {flight.flight: flight for flight in config.arrivals.timetable()}
    # Days begin at the start's time of day: CC300 at 05:20 on the 14th is day 0's.
    assert config.day0 == date(2026, 7, 13)
    assert flights["AA100"].passengers == round(360 * 0.85)  # a B77W's typical seats
    assert flights["BB200"].passengers == 240  # 300 seats, the file's load factor 0.8
    assert flights["CC300"].on_block == (24 + 5 + 1 / 3) * HOUR
    assert flights["EE500"].passengers == 100
    # A line's shares are its mix; empty shares take arrivals.classes.
    mix = flights["AA100"].classes
    assert mix is not None and [(c.name, c.share, c.channel) for c in mix] == [
        ("resident", 0.6, "gate"),
        ("visitor", 0.4, "desk"),
    ]
    assert flights["BB200"].classes is None
    assert flights["AA100"].origin == "JFK"
    # A flight bringing no one is left out, and said so.
    assert "DD400" not in flights
    assert config.warnings == (
        "arrivals.schedule: flights.csv: flights with no passengers left out: DD400 (line 6)",
    )


def test_scheduled_travellers_arrive_with_their_flights(tmp_path: Path):
    config = load_hall(hall(tmp_path))
    arrivals = generate_arrivals(config, np.random.default_rng(3), tmp_path)
    assert len(arrivals) == sum(flight.passengers or 0 for flight in config.arrivals.timetable())
    cc300 = [flight.flight for flight in config.arrivals.timetable()].index("CC300")
    assert np.all(arrivals.class_names[0] == "resident")
    assert np.all(arrivals.classes[arrivals.flights == cc300] == 0)  # all residents


def test_a_design_day_is_the_rank_th_busiest(tmp_path: Path):
    text = HALL.replace("load_factor: 0.8}", "load_factor: 0.8, design_day: {rank: 2}}")
    config = load_hall(hall(tmp_path, text=text))
    # Day 13 (AA100, BB200, CC300: 306 + 240 + 270) is busier than day 14 (EE500: 100).
    assert config.day0 == date(2026, 7, 14)
    assert [flight.flight for flight in config.arrivals.timetable()] == ["EE500"]
    assert config.arrivals.timetable()[0].on_block == 10 * HOUR
    by_date = text.replace("rank: 2", "date: 2026-07-13")
    config = load_hall(hall(tmp_path, text=by_date))
    assert [f.flight for f in config.arrivals.timetable()] == ["AA100", "BB200", "CC300"]


def test_a_design_day_beyond_the_schedule_says_how_many_days_it_holds(tmp_path: Path):
    text = HALL.replace("load_factor: 0.8}", "load_factor: 0.8, design_day: {rank: 30}}")
    message = error_of(tmp_path, text=text)
    assert (
        "arrivals.schedule: flights.csv: design_day: rank 30, but the schedule holds 2" in message
    )


def test_flights_outside_the_run_are_left_out_with_a_warning(tmp_path: Path):
    text = HALL.replace("name: scheduled", 'name: scheduled\nhorizon: "30:00"')
    config = load_hall(hall(tmp_path, text=text))
    assert [f.flight for f in config.arrivals.timetable()] == ["AA100", "BB200", "CC300"]
    assert "2 of 5 flights fall outside the run (lines 6, 7): left out" in config.warnings[0]


def test_a_sweep_reads_the_schedule_again_from_anywhere(tmp_path: Path):
    config = load_hall(hall(tmp_path))
    swept = apply_setting(config, "gates", 6)
    assert swept.arrivals.timetable() == config.arrivals.timetable()


@pytest.mark.parametrize(
    ("schedule", "expected"),
    [
        (
            SCHEDULE.replace("B77W", "B77X"),
            "flights.csv:3:4: aircraft: 'B77X' is not a type whose seats egate knows: give seats",
        ),
        (SCHEDULE.replace("0.85", "1.2"), "flights.csv:3:6: load_factor: '1.2' is outside 0 to 1"),
        (SCHEDULE.replace(",300,", ",many,"), "flights.csv:4:5: seats: 'many' is not a number"),
        (SCHEDULE.replace("2026-07-13,06:40", "2026-07-13,06:61"), "flights.csv:3:3: on_block"),
        (
            SCHEDULE.replace("2026-07-13,07:05", "13/07/2026,07:05"),
            "flights.csv:4:2: date: '13/07/2026' is not a date YYYY-MM-DD",
        ),
        (
            SCHEDULE.replace("0.6,0.4", "0.6,0.3"),
            "flights.csv:3:8: share_resident: the class shares add up to 0.9, not 1",
        ),
        (
            SCHEDULE.replace("share_visitor", "share_visiter"),
            "flights.csv:2:9: share_visiter: no class 'visiter' in arrivals.classes; "
            'did you mean "visitor"?',
        ),
        (
            SCHEDULE.replace("load_factor,", "load_facter,"),
            "flights.csv:2:6: unknown column 'load_facter'; did you mean \"load_factor\"?",
        ),
        (SCHEDULE.replace("on_block,", "landing,"), "flights.csv:2: no column 'on_block'"),
        (SCHEDULE.replace("AA100,", "AA100,x,"), "flights.csv:3: 10 fields, but the header"),
    ],
)
def test_a_bad_line_is_named_by_file_line_and_column(tmp_path: Path, schedule: str, expected: str):
    message = error_of(tmp_path, schedule)
    assert message.startswith(f"{tmp_path / 'hall.yaml'}:3: arrivals.schedule: "), message
    assert expected in message, message


def test_seats_without_a_load_factor_anywhere_is_an_error(tmp_path: Path):
    message = error_of(tmp_path, text=HALL.replace(", load_factor: 0.8", ""))
    assert "flights.csv:4:6: load_factor: flight BB200: no load factor" in message


def test_an_unknown_column_far_from_any_is_ignored_with_a_warning(tmp_path: Path):
    lines = SCHEDULE.splitlines()
    schedule = "\n".join([lines[0], lines[1] + ",terminal", *(line + ",T1" for line in lines[2:])])
    config = load_hall(hall(tmp_path, schedule + "\n"))
    assert "arrivals.schedule: flights.csv:2:10: column 'terminal' is not used" in config.warnings


def test_yaml_flights_take_seats_times_load_factor_too():
    config = HallConfig.model_validate(
        {
            "name": "seats",
            "arrivals": {
                "load_factor": 0.8,
                "flights": [
                    {"flight": "A1", "on_block": "06:30", "aircraft": "a388"},
                    {"flight": "B2", "on_block": "07:00", "seats": 180, "load_factor": 0.5},
                    {"flight": "C3", "on_block": "07:30", "passengers": 12, "seats": 180},
                ],
            },
            "gates": {"count": 2},
        }
    )
    assert [flight.passengers for flight in config.arrivals.timetable()] == [400, 90, 12]
    # The file's own flights are as written.
    assert config.arrivals.flights is not None and config.arrivals.flights[0].passengers is None


@pytest.mark.parametrize(
    ("flight", "field", "why"),
    [
        ({"aircraft": "ZZ99"}, "aircraft", "'ZZ99' is not a type whose seats egate knows"),
        ({}, "passengers", "give passengers, or seats (or aircraft) and a load_factor"),
        ({"seats": 100}, "load_factor", "seats but no load factor"),
    ],
)
def test_a_yaml_flight_without_a_count_names_itself(
    flight: dict[str, object], field: str, why: str
):
    with pytest.raises(ValueError, match=why.replace("(", r"\(").replace(")", r"\)")) as caught:
        HallConfig.model_validate(
            {
                "name": "seats",
                "arrivals": {"flights": [{"flight": "Q7", "on_block": "06:30", **flight}]},
                "gates": {"count": 2},
            }
        )
    assert caught.value.errors()[0]["loc"][-1] == field  # type: ignore[attr-defined]


def test_typical_seats_are_known_by_icao_and_iata_codes():
    assert seats_of("B77W") == seats_of("77w") == 360
    assert seats_of("A359") == seats_of("359") == 320
    assert seats_of("B747-8") is None
    assert all(50 <= seats <= 600 for seats in SEATS.values())


def test_the_shipped_week_imports():
    config = load_hall(CONFIGS / "pudong-week.yaml")
    flights = config.arrivals.timetable()
    assert config.day0 == date(2026, 7, 13) and config.warnings == ()
    assert len(flights) == 945 and sum(f.passengers or 0 for f in flights) == 222_675
    # A week: the last flights land after midnight on the seventh day.
    assert 6 * 24 * HOUR < flights[-1].on_block < 7 * 24 * HOUR + 6 * HOUR
    assert config.desks is not None and config.desks.roster is not None
    assert config.desks.roster[-1].end == 7 * 24 * HOUR + 6 * HOUR
