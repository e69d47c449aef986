"""The scenario format's gaps of issue 16: bounded arrivals, past birth dates, check digits."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import cv2
import numpy as np
import pytest

from egate.config import ConfigError
from egate.documents.mrz import parse_mrz
from egate.documents.policy import DocumentPolicy, DocumentPolicySettings, Verdict
from egate.privacy import Pseudonymizer
from station.training.scenario import Defect, DocumentSpec, load_scenario

BASE = """\
name: drill
start: 2026-03-14T07:30:00+08:00
passengers:
  - id: P1
    arrives: 5
    document: {issuing_state: CHN, surname: ZHANG, given_names: WEI, number: EA1234567,
               birth_date: 1985-04-12, sex: M, expiry_date: 2031-06-30}
    chip: face.jpg
    face: face.jpg
    expected: accepted
"""


@pytest.fixture
def drill(tmp_path: Path) -> Path:
    cv2.imwrite(str(tmp_path / "face.jpg"), np.full((40, 30, 3), 128, np.uint8))
    return tmp_path / "drill.yaml"


def error_of(drill: Path, old: str, new: str) -> str:
    assert old in BASE, old
    drill.write_text(BASE.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_scenario(drill)
    message = str(caught.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize(
    ("value", "says"),
    [
        (".nan", "nan is not a time: give seconds after the start (0 to 86400)"),
        (".inf", "inf is not a time: give seconds after the start (0 to 86400)"),
        ("-.inf", "-inf is not a time"),
        ("1e29", "1e+29 s is not within a day of the start: give 0 to 86400 seconds"),
        ("1.0e29", "1e+29 s is not within a day"),
        ("86401", "86401 s is not within a day of the start"),
        ("-3", "-3 s is not within a day of the start"),
    ],
)
def test_arrival_seconds_are_finite_and_within_a_day(drill: Path, value: str, says: str) -> None:
    message = error_of(drill, "arrives: 5", f"arrives: {value}")
    assert message.startswith(f"{drill}:5: passenger P1: arrives: "), message
    assert says in message, message


def test_a_fault_time_is_bounded_too(drill: Path) -> None:
    drill.write_text(BASE + "faults: [{device: camera, at: .inf}]\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"drill.yaml:11: faults.0.at: .*inf is not a time"):
        load_scenario(drill)


def test_a_day_of_seconds_is_allowed(drill: Path) -> None:
    drill.write_text(BASE.replace("arrives: 5", "arrives: 86400"), encoding="utf-8")
    assert load_scenario(drill).arrivals() == {"P1": 86400.0}


# -- birth dates ---------------------------------------------------------------------------


def test_a_birth_date_after_the_start_is_refused(drill: Path) -> None:
    message = error_of(drill, "birth_date: 1985-04-12", "birth_date: 2026-03-15")
    assert message == (
        f"{drill}:7: passenger P1: document.birth_date: "
        "2026-03-15 is after the scenario's start (2026-03-14)"
    )


def test_a_birth_on_the_day_of_the_start_is_allowed(drill: Path) -> None:
    drill.write_text(BASE.replace("1985-04-12", "2026-03-14"), encoding="utf-8")
    passenger = load_scenario(drill).passengers[0]
    assert passenger.document is not None
    assert str(passenger.document.birth_date) == "2026-03-14"


# -- check-digit defects -------------------------------------------------------------------

TODAY = date(2026, 3, 14)


def composed(fmt: str, *defects: Defect) -> DocumentSpec:
    return DocumentSpec(
        format=fmt,  # type: ignore[arg-type]
        type="P" if fmt == "TD3" else "I",
        issuing_state="CHN",
        surname="ZHANG",
        given_names="WEI",
        number="EA1234567",
        birth_date=date(1985, 4, 12),
        sex="M",
        expiry_date=date(2031, 6, 30),
        defects=defects,
    )


@pytest.mark.parametrize("fmt", ["TD1", "TD2", "TD3"])
@pytest.mark.parametrize(
    ("defect", "fails"),
    [
        (Defect.BAD_BIRTH_DATE_CHECK_DIGIT, ["CHECK_DIGIT_BIRTH_DATE", "CHECK_DIGIT_COMPOSITE"]),
        (Defect.BAD_EXPIRY_CHECK_DIGIT, ["CHECK_DIGIT_EXPIRY_DATE", "CHECK_DIGIT_COMPOSITE"]),
        (Defect.BAD_COMPOSITE_CHECK_DIGIT, ["CHECK_DIGIT_COMPOSITE"]),
    ],
)
def test_each_check_digit_defect_breaks_its_digit_and_the_gate_rejects(
    fmt: str, defect: Defect, fails: list[str]
) -> None:
    document = composed(fmt, defect)
    sound = composed(fmt)
    printed, true = document.printed(), sound.printed()
    # Exactly the one digit differs from the true page; the chip holds the true data.
    assert sum(a != b for a, b in zip("".join(printed), "".join(true), strict=True)) == 1
    assert document.chip_mrz() == true
    result = parse_mrz(printed, TODAY)  # the gate's read, repair on
    assert not result.valid
    assert sorted(result.failures) == sorted(fails)
    assert result.repairs == ()
    policy = DocumentPolicy(DocumentPolicySettings(), Pseudonymizer(bytes(32)))
    decision = policy.evaluate(result, datetime(2026, 3, 14, 8, 0))
    assert decision.verdict is Verdict.REJECT
    assert decision.reasons[0] == "MRZ_INVALID"


def test_the_check_digit_defects_are_scenario_words(drill: Path) -> None:
    drill.write_text(
        BASE.replace(
            "expiry_date: 2031-06-30}",
            "expiry_date: 2031-06-30,\n               defects: [bad_composite_check_digit]}",
        ),
        encoding="utf-8",
    )
    document = load_scenario(drill).passengers[0].document
    assert document is not None and document.defects == (Defect.BAD_COMPOSITE_CHECK_DIGIT,)


# -- OCR misreads --------------------------------------------------------------------------

MISREAD = "ocr_misread: {line: 2, position: 14, read_as: B}"  # the 8 of 85 (1985) read as B


def with_misread(drill: Path, misread: str) -> str:
    return error_of(drill, "expiry_date: 2031-06-30}", f"expiry_date: 2031-06-30, {misread}}}")


def test_a_misread_changes_only_the_readers_copy(drill: Path) -> None:
    drill.write_text(
        BASE.replace("expiry_date: 2031-06-30}", f"expiry_date: 2031-06-30, {MISREAD}}}"),
        encoding="utf-8",
    )
    document = load_scenario(drill).passengers[0].document
    assert document is not None
    page, read = document.printed(), document.read()
    assert page == document.chip_mrz() == composed("TD3").printed()
    assert read[0] == page[0]
    assert read[1][13] == "B" and page[1][13] == "8"
    assert read[1][:13] + read[1][14:] == page[1][:13] + page[1][14:]
    # The gate's repair turns the B back into the 8 of the birth date, and the page is valid.
    result = parse_mrz(read, TODAY)
    assert result.valid, result.failures
    assert [(r.field, r.found, r.replaced_by) for r in result.repairs] == [("birth_date", "B", "8")]
    assert "CHECK_DIGIT_BIRTH_DATE" in parse_mrz(read, TODAY, repair=False).failures


def test_a_misread_of_verbatim_lines_leaves_the_chip_the_lines(drill: Path) -> None:
    lines = composed("TD3").printed()
    text = BASE.replace(
        "document: {issuing_state: CHN, surname: ZHANG, given_names: WEI, number: EA1234567,\n"
        "               birth_date: 1985-04-12, sex: M, expiry_date: 2031-06-30}",
        f"document: {{mrz: ['{lines[0]}', '{lines[1]}'],\n               {MISREAD}}}",
    )
    drill.write_text(text, encoding="utf-8")
    document = load_scenario(drill).passengers[0].document
    assert document is not None
    assert document.chip_mrz() == document.printed() == lines
    assert document.read()[1][13] == "B"


@pytest.mark.parametrize(
    ("misread", "says"),
    [
        (
            "ocr_misread: {line: 3, position: 1, read_as: B}",
            ":7: passenger P1: document.ocr_misread.line: line 3, but the MRZ has 2 lines",
        ),
        (
            "ocr_misread: {line: 2, position: 45, read_as: B}",
            ":7: passenger P1: document.ocr_misread.position: Input should be less than or "
            "equal to 44",
        ),
        (
            "ocr_misread: {line: 2, position: 0, read_as: B}",
            ":7: passenger P1: document.ocr_misread.position: Input should be greater than or "
            "equal to 1",
        ),
        (
            "ocr_misread: {line: 2, position: 14, read_as: b}",
            ":7: passenger P1: document.ocr_misread.read_as: String should match pattern "
            "'^[A-Z0-9<]$'",
        ),
        (
            "ocr_misread: {line: 2, position: 14, read_as: BB}",
            ":7: passenger P1: document.ocr_misread.read_as: String should match pattern",
        ),
        (
            "ocr_misread: {line: 2, position: 14, read_as: '8'}",
            ":7: passenger P1: document.ocr_misread.read_as: '8' is what is printed there: "
            "a misread reads another character",
        ),
        (
            "ocr_misread: {line: 2, position: 14}",
            ":7: passenger P1: document.ocr_misread.read_as: required field is missing",
        ),
    ],
)
def test_a_misread_lies_within_the_mrz_and_reads_one_mrz_character(
    drill: Path, misread: str, says: str
) -> None:
    message = with_misread(drill, misread)
    assert message.startswith(f"{drill}{says}"), message


# -- the photo root ------------------------------------------------------------------------


def library(tmp_path: Path, name: str) -> Path:
    """A shared photo library folder holding face.jpg, away from the scenario."""
    folder = tmp_path / name
    folder.mkdir()
    cv2.imwrite(str(folder / "face.jpg"), np.full((40, 30, 3), 90, np.uint8))
    return folder


def nested(tmp_path: Path, text: str) -> Path:
    """The drill two folders down, with no photo beside it."""
    folder = tmp_path / "drills" / "week1"
    folder.mkdir(parents=True)
    path = folder / "drill.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_photos_resolve_against_the_scenarios_photos_root(tmp_path: Path) -> None:
    shared = library(tmp_path, "library")
    path = nested(tmp_path, "photos: ../../library\n" + BASE)
    scenario = load_scenario(path)
    assert scenario.photos == path.parent / "../../library"
    passenger = scenario.passengers[0]
    assert passenger.chip is not None and passenger.face is not None
    assert passenger.chip.photo == path.parent / "../../library" / "face.jpg"
    assert [p.resolve() for p in passenger.face.resolved] == [(shared / "face.jpg").resolve()]


def test_without_a_root_photos_resolve_beside_the_scenario(tmp_path: Path) -> None:
    library(tmp_path, "library")
    path = nested(tmp_path, BASE)
    with pytest.raises(ConfigError) as caught:
        load_scenario(path)
    assert str(caught.value).startswith(
        f"{path}:8: passenger P1: chip.photo: no such image file: {path.parent}/face.jpg"
    ), caught.value


def test_the_photos_option_wins_over_the_key(tmp_path: Path) -> None:
    library(tmp_path, "library")
    other = library(tmp_path, "other")
    path = nested(tmp_path, "photos: ../../library\n" + BASE)
    passenger = load_scenario(path, photos=other).passengers[0]
    assert passenger.chip is not None and passenger.chip.photo == other / "face.jpg"
    # Without the key too: the option alone is the root.
    plain = nested(tmp_path / "again", BASE)
    passenger = load_scenario(plain, photos=other).passengers[0]
    assert passenger.chip is not None and passenger.chip.photo == other / "face.jpg"


def test_a_photo_root_that_is_no_folder_is_refused(tmp_path: Path) -> None:
    path = nested(tmp_path, "photos: ../nowhere\n" + BASE)
    with pytest.raises(ConfigError) as caught:
        load_scenario(path)
    assert str(caught.value) == f"{path}:1: photos: no such folder: {path.parent}/../nowhere"
    with pytest.raises(ConfigError) as caught:
        load_scenario(path, photos=tmp_path / "missing")
    assert str(caught.value) == f"--photos {tmp_path}/missing: no such folder: {tmp_path}/missing"
