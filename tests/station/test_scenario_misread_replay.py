"""A reader's misread and wrong check digits through a replay: what the real gate answers."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import cv2
import numpy as np
import pytest
from prometheus_client import CollectorRegistry

from egate.biometrics.matching import MatchingCore
from egate.documents.composer import DocumentData, compose_mrz
from egate.documents.layout import MrzFormat
from egate.samples import SampleError, fetch_samples, installed_samples
from station.training.replay import Replay
from station.training.scenario import Scenario
from station.training.scorecard import Scorecard
from station.training.transcript import ReplayRun


@pytest.fixture(scope="module")
def core() -> Iterator[tuple[MatchingCore, CollectorRegistry]]:
    try:
        fetch_samples()
    except SampleError as error:
        pytest.skip(f"sample faces unavailable (no network or registry?): {error}")
    registry = CollectorRegistry()
    with MatchingCore(workers=1, registry=registry) as started:
        started.wait_ready(timeout=120)
        yield started, registry


def fields(number: int) -> dict[str, object]:
    return {
        "issuing_state": "CHN",
        "surname": "ZHOU",
        "given_names": "LAN",
        "number": f"EB{number:07d}",
        "birth_date": "1988-05-06",  # line 2 reads 880506 from position 14
        "sex": "F",
        "expiry_date": "2032-01-31",
    }


def verbatim(number: int) -> tuple[str, ...]:
    return compose_mrz(
        DocumentData(
            format=MrzFormat.TD3,
            document_type="P",
            issuing_state="CHN",
            surname="ZHOU",
            given_names="LAN",
            document_number=f"EB{number:07d}",
            nationality="CHN",
            birth_date=date(1988, 5, 6),
            sex="F",
            expiry_date=date(2032, 1, 31),
        )
    )


def passenger(pid: str, document: dict[str, object], expected: object) -> dict[str, object]:
    return {
        "id": pid,
        "document": document,
        "chip": "samples:obama",
        "face": "samples:obama2",
        "expected": expected,
    }


B_FOR_8 = {"line": 2, "position": 14, "read_as": "B"}


@pytest.fixture(scope="module")
def two_faces(tmp_path_factory: pytest.TempPathFactory, core: object) -> Path:
    """Two sample faces side by side: a traveller with a companion in view."""
    samples = installed_samples()
    assert samples is not None
    left, right = (cv2.imread(str(samples.image(f"{name}.jpg"))) for name in ("obama", "biden"))
    height = min(left.shape[0], right.shape[0])
    left, right = (
        cv2.resize(image, (image.shape[1] * height // image.shape[0], height))
        for image in (left, right)
    )
    path = tmp_path_factory.mktemp("faces") / "two.jpg"
    cv2.imwrite(str(path), np.hstack([left, right]))
    return path


@pytest.fixture(scope="module")
def run(core: tuple[MatchingCore, CollectorRegistry], two_faces: Path) -> ReplayRun:
    built = Scenario.model_validate(
        {
            "name": "misreads",
            "start": "2026-03-14T07:30:00+08:00",
            "gates": {"count": 2, "door_travel_s": 1.0},
            "passengers": [
                {
                    **passenger("M1", {**fields(1), "ocr_misread": B_FOR_8}, "accepted"),
                    "gate": "G1",
                },
                passenger("M2", {"mrz": list(verbatim(2)), "ocr_misread": B_FOR_8}, "accepted"),
                passenger(  # a misread in the number: no repair, the reader's copy is invalid
                    "M5",
                    {**fields(5), "ocr_misread": {"line": 2, "position": 1, "read_as": "F"}},
                    {"outcome": "rejected", "reason": "MRZ_INVALID"},
                ),
                passenger(
                    "M3",
                    {**fields(3), "defects": ["bad_birth_date_check_digit"]},
                    {"outcome": "rejected", "reason": "MRZ_INVALID"},
                ),
                passenger(
                    "M4",
                    {**fields(4), "defects": ["bad_composite_check_digit"]},
                    {"outcome": "rejected", "reason": "MRZ_INVALID"},
                ),
                {  # M1's passport passed back over the barrier to someone else
                    **passenger(
                        "M6",
                        fields(1),
                        {"outcome": "rejected", "reason": "DUPLICATE_DOCUMENT"},
                    ),
                    "kind": "impostor",
                    "gate": "G1",
                    "face": "samples:biden",
                },
                {
                    **passenger(
                        "M7",
                        fields(7),
                        {"outcome": "referred", "reasons": ["TAILGATING", "MULTIPLE_FACES"]},
                    ),
                    "face": str(two_faces),
                },
            ],
        }
    )
    matching, registry = core
    return Replay(built, "test", core=matching, core_registry=registry, fast=True).run()


def test_a_misread_the_gate_repairs_ends_accepted(run: ReplayRun) -> None:
    outcomes = {result.id: (result.outcome, result.reasons) for result in run.results}
    # The chip holds the issuer's data: the repaired read opens it.
    assert outcomes["M1"] == ("accepted", ())
    assert outcomes["M2"] == ("accepted", ())
    # A misread no repair can undo reaches the gate as read.
    assert outcomes["M5"][0] == "rejected"
    assert "CHECK_DIGIT_DOCUMENT_NUMBER" in outcomes["M5"][1]


def test_a_repair_is_a_transcript_line_of_its_own(run: ReplayRun) -> None:
    repaired = [line for line in run.lines if line.text.startswith("MRZ repaired")]
    # The birth date's B read for an 8, on both misread passports; none on the others.
    assert sorted(line.passenger or "" for line in repaired) == ["M1", "M2"]
    for line in repaired:
        assert line.step == "document"
        assert "birth_date: line 2 column 14 'B' -> '8'" in line.text
        assert line.detail["repairs"] == [
            {"field": "birth_date", "line": 2, "column": 14, "found": "B", "replaced_by": "8"}
        ]
        # The repair comes before the verdict on the repaired MRZ.
        verdict = next(
            later
            for later in run.lines
            if later.passenger == line.passenger and later.text.startswith("MRZ valid")
        )
        assert run.lines.index(line) < run.lines.index(verdict)


def test_wrong_check_digits_are_rejected_as_invalid(run: ReplayRun) -> None:
    outcomes = {result.id: (result.outcome, result.reasons) for result in run.results}
    assert outcomes["M3"][0] == "rejected"
    assert outcomes["M3"][1][:1] == ("MRZ_INVALID",)
    assert "CHECK_DIGIT_BIRTH_DATE" in outcomes["M3"][1]
    assert outcomes["M4"][0] == "rejected"
    assert outcomes["M4"][1][:1] == ("MRZ_INVALID",)
    assert "CHECK_DIGIT_COMPOSITE" in outcomes["M4"][1]
    assert run.all_matched, [r.id for r in run.results if not r.matched]


def test_a_passed_back_passport_and_two_faces_in_view(run: ReplayRun) -> None:
    results = {result.id: result for result in run.results}
    assert (results["M6"].outcome, results["M6"].reasons) == ("rejected", ("DUPLICATE_DOCUMENT",))
    assert results["M6"].kind.value == "impostor"
    assert (results["M7"].outcome, results["M7"].reasons) == (
        "referred",
        ("TAILGATING", "MULTIPLE_FACES"),
    )
    card = Scorecard.of(run)
    impostors = next(count for count in card.counts if count.key == "impostors_caught")
    assert (impostors.n, impostors.of) == (1, 1)
