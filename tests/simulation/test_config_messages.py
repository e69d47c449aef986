"""The hall file's messages: misspelt keys named, empty flights and idle desks said, warnings."""

from __future__ import annotations

from pathlib import Path

import pytest

from egate.config import ConfigError
from simulation.config import HallConfig, load_hall

HALL = """\
name: messages
start: "06:00"
horizon: "12:00"
arrivals:
  egate_share: 0.7
  flights:
    - {flight: MU588, on_block: "06:40", passengers: 290}
    - {flight: LH728, on_block: "07:05", passengers: 320}
gates:
  count: 4
  steps:
    document: {kind: lognormal, mean: 6, sd: 3}
desks:
  count: 3
  service: {kind: exponential, mean: 60}
"""


def error_of(folder: Path, text: str) -> str:
    path = folder / "hall.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_hall(path)
    return str(caught.value).removeprefix(f"{path}:")


@pytest.mark.parametrize(
    ("wrong", "right", "expected"),
    [
        # A required key misspelt: named, not hidden behind "required field is missing"
        # (the line is its value's: the mapping below it).
        ("arrivals:", "arivals:", '5: arivals: unknown field; did you mean "arrivals"?'),
        (
            "  count: 4",
            "  cuont: 4",
            '10: gates.cuont: unknown field; did you mean "count"? (got 4)',
        ),
        ("mean: 6, sd: 3", "mean: 6, sdd: 3", "12: gates.steps.document.lognormal.sdd: unknown"),
        ("horizon:", "horizn:", '3: horizn: unknown field; did you mean "horizon"?'),
        (
            "passengers: 290",
            "pasengers: 290",
            "7: arrivals.flights.0.pasengers: unknown field; did",
        ),
    ],
)
def test_a_misspelt_key_is_named_with_the_likely_one(
    tmp_path: Path, wrong: str, right: str, expected: str
):
    message = error_of(tmp_path, HALL.replace(wrong, right, 1))
    assert message.startswith(expected), message
    assert "and 1 more" not in message and "required field is missing" not in message


def test_a_key_like_none_lists_the_keys():
    with pytest.raises(ValueError, match=r"unknown field \(expected one of: count, topology"):
        HallConfig.model_validate(
            {"name": "x", "arrivals": {"rate": []}, "gates": {"count": 1, "lanes_xyz": 3}}
        )


def test_desk_travellers_without_a_desk_are_an_error(tmp_path: Path):
    message = error_of(tmp_path, HALL.replace("count: 3", "count: 0"))
    assert message.startswith(
        "14: desks.count: no desk is ever staffed, but travellers are sent to desks "
        "(desk classes): they would wait until the run is cut off"
    )
    roster = HALL.replace("count: 3", 'roster: [{from: "06:00", desks: 0}]')
    assert error_of(tmp_path, roster).startswith("14: desks.roster: no desk is ever staffed")


def test_a_roster_gap_while_travellers_arrive_is_a_warning(tmp_path: Path):
    path = tmp_path / "hall.yaml"
    path.write_text(
        HALL.replace("count: 3", 'roster: [{from: "07:00", desks: 3}]'), encoding="utf-8"
    )
    assert load_hall(path).warnings == (
        "desks.roster: no desk is staffed from 06:40 to 07:00, while desk travellers arrive "
        "(06:40 to 07:05): they wait",
    )


def test_closed_gates_while_travellers_arrive_are_a_warning():
    config = HallConfig.model_validate(
        {
            "name": "banks",
            "horizon": "10:00",
            "arrivals": {"rate": [{"from": "06:00", "per_hour": 100}]},
            "gates": {"count": 2, "banks": [{"from": "06:00", "to": "07:00", "open": 2}]},
        }
    )
    assert config.warnings == (
        "gates.banks: no gate is open from 07:00 to 10:00, while gate travellers arrive "
        "(06:00 to 10:00): they wait",
    )


def test_a_flight_with_no_passengers_is_named_in_a_warning(tmp_path: Path):
    path = tmp_path / "hall.yaml"
    path.write_text(HALL.replace("passengers: 320", "passengers: 0"), encoding="utf-8")
    assert load_hall(path).warnings == ("arrivals.flights.1: flight LH728 brings no one",)


def test_a_variants_warnings_are_named_by_the_variant(tmp_path: Path):
    text = HALL + (
        "variants:\n  today: {}\n"
        '  late_desks: {desks: {count: null, roster: [{from: "07:00", desks: 3}]}}\n'
    )
    path = tmp_path / "hall.yaml"
    path.write_text(text, encoding="utf-8")
    (warning,) = load_hall(path).warnings
    assert warning.startswith("variants.late_desks: desks.roster: no desk is staffed from 06:40")


def test_a_sound_file_has_no_warnings(tmp_path: Path):
    path = tmp_path / "hall.yaml"
    path.write_text(HALL, encoding="utf-8")
    assert load_hall(path).warnings == ()
