"""Scenario files: what they compose, and one-line errors naming file, line, passenger and field."""

from __future__ import annotations

from datetime import date, time
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from egate.config import ConfigError
from egate.documents.mrz import parse_mrz
from station.training.scenario import (
    Defect,
    DocumentSpec,
    Expectation,
    Expected,
    PassengerKind,
    Scenario,
    load_scenario,
)

TODAY = date(2026, 3, 14)


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    """A small JPEG to stand for a face photo (loading only checks that it exists)."""
    path = tmp_path / "face.jpg"
    cv2.imwrite(str(path), np.full((40, 30, 3), 128, np.uint8))
    return path


BASE = """\
name: drill
start: 2026-03-14T07:30:00+08:00
gates: {count: 2}
passengers:
  - id: P1
    arrives: 07:30:05
    document: {issuing_state: CHN, surname: ZHANG, given_names: WEI, number: EA1234567,
               birth_date: 1985-04-12, sex: M, expiry_date: 2031-06-30}
    chip: face.jpg
    face: face.jpg
    expected: accepted
  - id: T1
    kind: tailgater
    behaviour: {tailgates: P1}
    expected: {outcome: referred, reason: TAILGATING}
  - id: P2
    arrives: 20
    document: {issuing_state: CHN, surname: LI, number: EA1234568, birth_date: 1990-01-02,
               expiry_date: 2031-06-30}
    chip: none
    face: none
    expected: {outcome: referred, reasons: [CHIP_ABSENT]}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "drill.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def error_of(tmp_path: Path, old: str, new: str) -> str:
    assert old in BASE, old
    with pytest.raises(ConfigError) as caught:
        load_scenario(write(tmp_path, BASE.replace(old, new, 1)))
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_a_scenario_loads_with_what_it_says(tmp_path: Path, photo: Path) -> None:
    scenario = load_scenario(write(tmp_path, BASE))
    assert scenario.gates.names == ("G1", "G2")
    assert scenario.today == TODAY
    assert [p.id for p in scenario.passengers] == ["P1", "T1", "P2"]
    # An unquoted 07:30:05 is a time of day, not the base-60 number 27005.
    assert scenario.passengers[0].arrives == time(7, 30, 5)
    assert scenario.arrivals() == {"P1": 5.0, "P2": 20.0}
    first, tailgater, second = scenario.passengers
    assert first.chip is not None and first.chip.photo == photo
    assert first.face is not None and first.face.resolved == (photo,)
    assert tailgater.tailgater and tailgater.kind is PassengerKind.TAILGATER
    assert second.chip is not None and second.chip.state == "absent"
    assert second.face is not None and second.face.resolved == ()
    assert second.expected == Expectation(outcome=Expected.REFERRED, reasons=("CHIP_ABSENT",))


@pytest.mark.parametrize(
    ("old", "new", "where", "says"),
    [
        (
            "chip: face.jpg",
            "chip: missing.jpg",
            ":9: passenger P1: chip.photo",
            "no such image file",
        ),
        (
            "face: face.jpg",
            "face: [face.jpg, gone.jpg]",
            ":10: passenger P1: face.photos.1",
            "no such image file",
        ),
        (
            "birth_date: 1985-04-12",
            "birth_date: 1985-02-30",
            ":8: passenger P1: document.birth_date",
            "date",
        ),
        (
            "tailgates: P1",
            "tailgates: P9",
            ":14: passenger T1: behaviour.tailgates",
            "no passenger 'P9'",
        ),
        ("id: P2", "id: P1", ":16: passenger P1: id", "used twice"),
        ("arrives: 20", "arrives: 2", ":17: passenger P2: arrives", "order of arrival"),
        (
            "expected: accepted",
            "expected: {outcome: accepted, reason: MINOR}",
            ":11: passenger P1: expected.reasons",
            "no reasons",
        ),
        (
            "expected: accepted",
            "expected: admitted",
            ":11: passenger P1: expected.outcome",
            "accepted",
        ),
        ("number: EA1234567", "number: ea-1", ":7: passenger P1: document.number", "pattern"),
        (
            "issuing_state: CHN, surname: ZHANG",
            "issuing_state: QQQ, surname: ZHANG",
            ":7: passenger P1: document.issuing_state",
            "ICAO",
        ),
        ("    face: none\n", "", ":16: passenger P2: face", "required"),
        (
            "behaviour: {tailgates: P1}",
            "behaviour: {tailgates: P1, slow: true}",
            ":14: passenger T1: behaviour",
            "only follows",
        ),
        (
            "gates: {count: 2}",
            "gates: {count: 2, colour: red}",
            ":3: gates.colour",
            "unknown field",
        ),
        ("arrives: 07:30:05", "arrives: 25:00", ":6: passenger P1: arrives", "past 23"),
    ],
)
def test_bad_input_is_one_line_naming_file_line_passenger_and_field(
    tmp_path: Path, photo: Path, old: str, new: str, where: str, says: str
) -> None:
    message = error_of(tmp_path, old, new)
    assert message.startswith(f"{tmp_path / 'drill.yaml'}{where}:"), message
    assert says in message, message


def test_a_tailgater_cannot_follow_a_tailgater(tmp_path: Path, photo: Path) -> None:
    text = BASE + (
        "  - id: T2\n    kind: tailgater\n    behaviour: {tailgates: T1}\n"
        "    expected: {outcome: referred, reason: TAILGATING}\n"
    )
    with pytest.raises(ConfigError, match=r"passenger T2: behaviour.tailgates: T1 is a tailgater"):
        load_scenario(write(tmp_path, text))


def test_faults_and_stop_list_refer_to_known_passengers_and_gates(
    tmp_path: Path, photo: Path
) -> None:
    with pytest.raises(ConfigError, match=r"faults.0.during: no passenger 'P7'"):
        load_scenario(write(tmp_path, BASE + "faults: [{device: camera, during: P7}]\n"))
    with pytest.raises(ConfigError, match=r"faults.0.gate: no gate 'G9'"):
        load_scenario(write(tmp_path, BASE + "faults: [{device: camera, gate: G9, at: 3}]\n"))
    with pytest.raises(ConfigError, match=r"stop_list.0.passenger: no passenger 'T1' with a doc"):
        load_scenario(write(tmp_path, BASE + "stop_list: [T1]\n"))
    loaded = load_scenario(
        write(tmp_path, BASE + "stop_list: [P2, {issuing_state: UTO, number: X00000001}]\n")
    )
    assert [entry.passenger for entry in loaded.stop_list] == ["P2", None]


# -- composed documents ------------------------------------------------------------------

names = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=2, max_size=12)
numbers = st.text(alphabet="ABCDEFGHJKLMNPRSTUVWXYZ0123456789", min_size=6, max_size=9)
births = st.dates(min_value=date(1940, 1, 1), max_value=date(2008, 12, 31))
expiries = st.dates(min_value=date(2027, 1, 1), max_value=date(2035, 12, 31))


def spec(surname: str, number: str, birth: date, expiry: date, *defects: Defect) -> DocumentSpec:
    return DocumentSpec(
        issuing_state="CHN",
        surname=surname,
        given_names="WEI",
        number=number,
        birth_date=birth,
        sex="F",
        expiry_date=expiry,
        defects=defects,
    )


@settings(max_examples=60, deadline=None)
@given(names, numbers, births, expiries)
def test_a_document_without_defects_is_sound_and_its_chip_agrees(
    surname: str, number: str, birth: date, expiry: date
) -> None:
    document = spec(surname, number, birth, expiry)
    result = parse_mrz(document.printed(), TODAY, repair=False)
    assert result.valid, result.failures
    assert result.fields.document_number.rstrip("<") == number
    assert document.chip_mrz() == document.printed()


@settings(max_examples=60, deadline=None)
@given(names, numbers, births, expiries)
def test_each_defect_changes_what_it_says_and_nothing_else(
    surname: str, number: str, birth: date, expiry: date
) -> None:
    sound = parse_mrz(spec(surname, number, birth, expiry).printed(), TODAY, repair=False)

    bad_digit = spec(surname, number, birth, expiry, Defect.BAD_CHECK_DIGIT)
    result = parse_mrz(bad_digit.printed(), TODAY, repair=False)
    assert not result.valid and "CHECK_DIGIT_DOCUMENT_NUMBER" in result.failures
    assert bad_digit.chip_mrz() == spec(surname, number, birth, expiry).printed()

    altered = spec(surname, number, birth, expiry, Defect.ALTERED_EXPIRY)
    result = parse_mrz(altered.printed(), TODAY, repair=False)
    # The forger fixed the check digits: the page reads as valid, with a later expiry.
    assert result.valid
    assert result.fields.expiry_date != sound.fields.expiry_date
    assert altered.chip_mrz() == spec(surname, number, birth, expiry).printed()

    older = spec(surname, number, birth, expiry, Defect.ALTERED_BIRTH_DATE)
    result = parse_mrz(older.printed(), TODAY, repair=False)
    assert result.valid and result.fields.birth_date != sound.fields.birth_date

    swapped = spec(surname, number, birth, expiry, Defect.CHIP_MISMATCH)
    chip = parse_mrz(swapped.chip_mrz(), TODAY, repair=False)
    # A substituted data page: another name, the same document number and dates.
    assert swapped.printed() == spec(surname, number, birth, expiry).printed()
    assert chip.valid and chip.fields.surname != sound.fields.surname
    assert (chip.fields.document_number, chip.fields.birth_date, chip.fields.expiry_date) == (
        sound.fields.document_number,
        sound.fields.birth_date,
        sound.fields.expiry_date,
    )


def test_verbatim_mrz_lines_and_composed_fields_do_not_mix() -> None:
    lines = (
        "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<",
        "L898902C36UTO7408122F1204159ZE184226B<<<<<10",
    )
    assert DocumentSpec(mrz=lines).printed() == lines
    with pytest.raises(ValueError, match="either mrz lines or the fields"):
        DocumentSpec(mrz=lines, surname="OTHER")


@pytest.mark.parametrize(
    ("expected", "outcome", "reasons", "met"),
    [
        ("accepted", "accepted", (), True),
        ("accepted", "referred", (), False),
        (
            {"outcome": "referred", "reason": "TAILGATING"},
            "referred",
            ("TAILGATING", "OCCUPANCY"),
            True,
        ),
        ({"outcome": "referred", "reason": "TAILGATING"}, "referred", ("OCCUPANCY",), False),
        ({"outcome": "rejected", "reasons": ["EXPIRED", "MINOR"]}, "rejected", ("EXPIRED",), False),
        ("none", None, (), True),
        ("none", "aborted", (), False),
    ],
)
def test_an_outcome_meets_the_expectation_with_every_expected_reason(
    expected: object, outcome: str | None, reasons: tuple[str, ...], met: bool
) -> None:
    assert Expectation.model_validate(expected).met_by(outcome, reasons) is met


def test_a_scenario_built_in_python_needs_no_file() -> None:
    scenario = Scenario.model_validate(
        {
            "name": "empty gate",
            "start": "2026-03-14T07:30:00",
            "passengers": [
                {
                    "id": "P1",
                    "document": {
                        "mrz": [
                            "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<",
                            "L898902C36UTO7408122F1204159ZE184226B<<<<<10",
                        ]
                    },
                    "chip": "none",
                    "face": "none",
                    "expected": {"outcome": "rejected", "reason": "EXPIRED"},
                }
            ],
        }
    )
    assert scenario.gates.names == ("G1",)
    assert scenario.arrivals() == {"P1": 0.0}
