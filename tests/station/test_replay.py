"""Training replays: scenario passengers through mock gates run by the real service.

The gates are real: emulators on pseudo-terminals, the real drivers, the
gate controller and a matching core with real face verification on the
sample photos.  The replays run with ``fast`` (people and doors 20x).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry
from pydantic import ValidationError

from egate.biometrics.matching import MatchingCore
from egate.config import ConfigError
from egate.privacy import Pseudonymizer
from egate.samples import SampleError, fetch_samples
from station.training.replay import Replay
from station.training.scenario import Scenario, Variation
from station.training.scenario_travellers import prepare, stop_list, vary
from station.training.transcript import ReplayRun, Step


@pytest.fixture(scope="module")
def samples() -> None:
    try:
        fetch_samples()
    except SampleError as error:
        pytest.skip(f"sample faces unavailable (no network or registry?): {error}")


@pytest.fixture(scope="module")
def core(samples: None) -> Iterator[tuple[MatchingCore, CollectorRegistry]]:
    registry = CollectorRegistry()
    with MatchingCore(workers=2, registry=registry) as started:
        started.wait_ready(timeout=120)
        yield started, registry


def document(number: int, **extra: object) -> dict[str, object]:
    return {
        "issuing_state": "CHN",
        "surname": "ZHOU",
        "given_names": "LAN",
        "number": f"EB{number:07d}",
        "birth_date": "1988-05-06",
        "sex": "F",
        "expiry_date": "2032-01-31",
        **extra,
    }


def traveller(
    pid: str, number: int, expected: object, *, chip: object = "samples:obama",
    face: object = "samples:obama2", **extra: object
) -> dict[str, object]:  # fmt: skip
    return {
        "id": pid,
        "document": document(number, **extra.pop("document", {})),  # type: ignore[dict-item]
        "chip": chip,
        "face": face,
        "expected": expected,
        **extra,
    }


def scenario(passengers: list[dict[str, object]], **extra: object) -> Scenario:
    return Scenario.model_validate(
        {
            "name": "test drill",
            "start": "2026-03-14T07:30:00+08:00",
            "gates": {"count": 2, "door_travel_s": 1.0},
            "passengers": passengers,
            **extra,
        }
    )


def replay(core: tuple[MatchingCore, CollectorRegistry], built: Scenario) -> ReplayRun:
    matching, registry = core
    return Replay(built, "test", core=matching, core_registry=registry, fast=True).run()


@pytest.fixture(scope="module")
def mixed(core: tuple[MatchingCore, CollectorRegistry]) -> ReplayRun:
    """One replay of every kind of passenger the engine handles."""
    built = scenario(
        [
            traveller("P01", 1, "accepted"),
            traveller(
                "P02",
                2,
                {"outcome": "referred", "reason": "BIOMETRIC_MISMATCH"},
                face="samples:biden",
                kind="impostor",
            ),
            traveller(
                "P03",
                3,
                {"outcome": "rejected", "reason": "MRZ_INVALID"},
                document={"defects": ["bad_check_digit"]},
                kind="document_fraud",
            ),
            traveller(
                "P04",
                4,
                {"outcome": "referred", "reason": "CHIP_ACCESS_DENIED"},
                document={"defects": ["altered_expiry"]},
                kind="document_fraud",
            ),
            traveller(
                "P05",
                5,
                {"outcome": "rejected", "reason": "CHIP_MRZ_MISMATCH"},
                document={"defects": ["chip_mismatch"]},
                kind="document_fraud",
            ),
            traveller("P06", 6, {"outcome": "referred", "reason": "TAILGATING"}),
            {
                "id": "T06",
                "kind": "tailgater",
                "behaviour": {"tailgates": "P06"},
                "expected": {"outcome": "referred", "reason": "TAILGATING"},
            },
            traveller(
                "P07", 7, {"outcome": "aborted", "reason": "TIMEOUT_ENTRY"}, behaviour="retreats"
            ),
            traveller("P08", 8, {"outcome": "referred", "reason": "FACE_NOT_FOUND"}, face="none"),
            traveller(
                "P09", 9, {"outcome": "rejected", "reason": "STOP_LIST_HIT"}, kind="stop_list"
            ),
            traveller(
                "P10",
                10,
                "accepted",
                chip={"photo": "samples:biden", "format": "jpeg2000"},
                face={"photo": "samples:biden", "variation": {"mirror": True}},
            ),
        ],
        stop_list=["P09"],
    )
    return replay(core, built)


def by_id(run: ReplayRun) -> dict[str, tuple[str | None, tuple[str, ...]]]:
    return {result.id: (result.outcome, result.reasons) for result in run.results}


def test_every_passenger_gets_the_outcome_the_scenario_expects(mixed: ReplayRun) -> None:
    outcomes = by_id(mixed)
    assert outcomes["P01"] == ("accepted", ())
    assert outcomes["P02"] == ("referred", ("BIOMETRIC_MISMATCH",))
    assert outcomes["P03"][0] == "rejected" and "MRZ_INVALID" in outcomes["P03"][1]
    assert outcomes["P04"] == ("referred", ("CHIP_ACCESS_DENIED",))
    assert outcomes["P05"] == ("rejected", ("CHIP_MRZ_MISMATCH",))
    # The tailgater shares the transaction of the passenger they followed.
    assert outcomes["P06"] == outcomes["T06"] == ("referred", ("TAILGATING", "OCCUPANCY"))
    assert outcomes["P07"] == ("aborted", ("TIMEOUT_ENTRY",))
    assert outcomes["P08"] == ("referred", ("FACE_NOT_FOUND",))
    assert outcomes["P09"][0] == "rejected" and "STOP_LIST_HIT" in outcomes["P09"][1]
    assert outcomes["P10"] == ("accepted", ())
    assert mixed.all_matched, [r.id for r in mixed.results if not r.matched]


def test_results_carry_the_transaction_its_gate_times_and_steps(mixed: ReplayRun) -> None:
    results = {result.id: result for result in mixed.results}
    transactions = [r.transaction for r in mixed.results if r.follows is None]
    assert len(set(transactions)) == len(transactions) == 10
    accepted = results["P01"]
    assert accepted.gate in ("G1", "G2")
    assert accepted.transaction is not None and accepted.transaction.startswith(accepted.gate)
    assert accepted.arrived_at is not None and accepted.started_at is not None
    assert accepted.ended_at is not None
    assert accepted.arrived_at <= accepted.started_at < accepted.ended_at <= mixed.duration
    assert set(accepted.steps) == {"document", "entry", "capture", "verify", "exit"}
    assert accepted.match_distance is not None and accepted.match_distance < 0.6
    assert results["P02"].match_distance is not None and results["P02"].match_distance > 0.6
    assert results["P08"].capture_attempts == 3
    assert results["T06"].follows == "P06" and results["T06"].gate == results["P06"].gate
    assert mixed.timing["replay"] > 0 and mixed.timing["matching"] > 0
    assert mixed.timing["total"] >= mixed.timing["setup"] + mixed.timing["replay"]


def test_the_transcript_tells_each_passengers_story_in_order(mixed: ReplayRun) -> None:
    story = [(line.step, line.text) for line in mixed.lines if line.passenger == "P01"]
    steps = [step for step, _ in story]
    order = [Step.ARRIVAL, Step.PASSENGER, Step.DOCUMENT, Step.CHIP, Step.CAPTURE, Step.VERIFY,
             Step.DECISION]  # fmt: skip
    positions = [steps.index(step) for step in order]
    assert positions == sorted(positions), story
    assert ("passenger", "leaves through the exit") in story
    verify = next(text for step, text in story if step == Step.VERIFY)
    assert verify.startswith("match, distance 0.")
    decision = next(line for line in mixed.lines if line.step == Step.DECISION
                    and line.passenger == "P02")  # fmt: skip
    assert decision.detail["outcome"] == "referred" and decision.detail["matched"] is True
    assert any(line.text == "ALARM TAILGATING" for line in mixed.lines)
    assert any(line.passenger == "T06" and line.text == "follows P06 in" for line in mixed.lines)
    assert [line.at for line in mixed.lines] == sorted(line.at for line in mixed.lines)


def test_no_name_or_document_number_reaches_the_transcript(mixed: ReplayRun) -> None:
    text = " ".join(f"{line.text} {line.detail}" for line in mixed.lines)
    assert "ZHOU" not in text and "EB00000" not in text


def test_a_wrong_expectation_is_a_mismatch(core: tuple[MatchingCore, CollectorRegistry]) -> None:
    built = scenario([traveller("P1", 1, {"outcome": "referred", "reason": "BIOMETRIC_MISMATCH"})])
    run = replay(core, built)
    (result,) = run.results
    assert (result.outcome, result.matched, run.all_matched) == ("accepted", False, False)
    decision = next(line for line in run.lines if line.step == Step.DECISION)
    assert "NOT as expected" in decision.text and decision.detail["matched"] is False


def test_a_camera_fault_aborts_the_passenger_inside_and_the_gate_recovers(
    core: tuple[MatchingCore, CollectorRegistry],
) -> None:
    built = scenario(
        [
            traveller("P1", 1, {"outcome": "aborted", "reason": "DEVICE_FAULT"}, gate="G1"),
            traveller("P2", 2, "accepted", gate="G1"),
        ],
        faults=[{"device": "camera", "gate": "G1", "during": "P1", "lasts_s": 10}],
    )
    run = replay(core, built)
    assert by_id(run) == {"P1": ("aborted", ("DEVICE_FAULT",)), "P2": ("accepted", ())}
    texts = [line.text for line in run.lines]
    down = texts.index("scenario fault: camera unplugged for 10 s")
    back = texts.index("camera plugged back")
    failed = next(i for i, text in enumerate(texts) if text.startswith("camera down"))
    assert down < failed < back < texts.index("camera back")
    # P2 stepped up only once the gate was serving again.
    p2 = next(r for r in run.results if r.id == "P2")
    recovered = next(line.at for line in run.lines if line.text == "camera back")
    assert p2.arrived_at is not None and p2.arrived_at >= recovered


def test_a_photo_that_is_no_image_is_reported_before_anything_runs(tmp_path: Path) -> None:
    fake = tmp_path / "face.jpg"
    fake.write_text("not a photo")
    built = Scenario.model_validate(
        {
            "name": "x",
            "start": "2026-03-14T07:30:00",
            "passengers": [traveller("P7", 7, "accepted", chip="none", face="face.jpg")],
        },
        context={"base_dir": tmp_path},
    )
    with pytest.raises(ConfigError, match=r"^drill.yaml: passenger P7: face.photos.0: "):
        prepare(built, "drill.yaml", 1.0)


def test_the_stop_list_holds_the_listed_passengers_and_documents(samples: None) -> None:
    built = scenario(
        [traveller("P1", 1, "accepted"), traveller("P2", 2, "accepted")],
        stop_list=["P2", {"issuing_state": "UTO", "number": "X00000001"}],
    )
    pseudonymizer = Pseudonymizer.ephemeral()
    listed = stop_list(built, "test", pseudonymizer, built.start)
    assert listed is not None
    assert listed.lists("CHN", "EB0000002") and listed.lists("UTO", "X00000001")
    assert not listed.lists("CHN", "EB0000001")


def test_speed_scales_people_and_doors_not_the_machine(samples: None) -> None:
    built = scenario([traveller("P1", 1, "accepted", behaviour="slow")])
    (prepared,) = prepare(built, "test", 4.0)
    assert prepared.traveller is not None
    behaviour = prepared.traveller.behaviour
    assert (behaviour.present_s, behaviour.walk_s) == (8.0 / 4, 6.0 / 4)


@settings(max_examples=40, deadline=None)
@given(
    st.floats(0.2, 2.0),
    st.floats(-30, 30),
    st.floats(0, 3),
    st.floats(0.3, 2.0),
    st.booleans(),
)
def test_a_variation_keeps_an_rgb_image_of_the_scaled_size(
    scale: float, rotate: float, blur: float, brightness: float, mirror: bool
) -> None:
    image = np.random.default_rng(7).integers(0, 256, (60, 40, 3), dtype=np.uint8)
    varied = vary(image, Variation(scale=scale, rotate=rotate, blur=blur, brightness=brightness,
                                   mirror=mirror))  # fmt: skip
    assert varied.dtype == np.uint8 and varied.shape[2] == 3
    assert varied.shape[:2] == (max(1, round(60 * scale)), max(1, round(40 * scale)))


def test_mirroring_twice_gives_the_photo_back() -> None:
    image = np.random.default_rng(3).integers(0, 256, (20, 30, 3), dtype=np.uint8)
    once = vary(image, Variation(mirror=True))
    assert not np.array_equal(once, image)
    assert np.array_equal(vary(once, Variation(mirror=True)), image)


def test_a_passenger_at_a_gate_that_closes_goes_to_another(
    core: tuple[MatchingCore, CollectorRegistry],
) -> None:
    # The reader's cable is pulled a second after P1 stepped up to G1, before
    # the passport is down: G1 closes, P1 queues again and G2 serves them.
    built = scenario(
        [traveller("P1", 1, "accepted"), traveller("P2", 2, "accepted", arrives=30)],
        faults=[{"device": "reader", "gate": "G1", "at": 1, "lasts_s": 20}],
    )
    run = replay(core, built)
    results = {result.id: result for result in run.results}
    assert (results["P1"].outcome, results["P1"].gate) == ("accepted", "G2")
    assert results["P2"].outcome == "accepted"
    texts = [(line.gate, line.passenger, line.text) for line in run.lines]
    assert ("G1", "P1", "sees the gate close and queues again") in texts
    assert ("G1", None, "reader back") in texts


def test_fast_jumps_over_idle_time_to_the_next_fault(
    core: tuple[MatchingCore, CollectorRegistry],
) -> None:
    built = scenario(
        [traveller("P1", 1, "accepted")],
        faults=[{"device": "camera", "gate": "G2", "at": 600, "lasts_s": 30}],
    )
    run = replay(core, built)
    assert run.results[0].outcome == "accepted"
    lines = {line.text: line.at for line in run.lines}
    assert lines["scenario fault: camera unplugged for 30 s"] >= 600
    assert lines["camera plugged back"] >= 630
    # The scenario clock ran further than the machine's at 20x: idle time was skipped.
    assert run.timing["replay"] * run.speed < run.duration


def test_a_scenario_names_the_pki_that_signs_its_chips(core, tmp_path):
    from datetime import UTC, datetime, timedelta

    from egate.documents.pki.testpki import init_test_pki

    made = init_test_pki(tmp_path / "pki", now=datetime.now(UTC) - timedelta(days=30))
    built = Scenario.model_validate(
        {
            "name": "test drill",
            "start": "2026-03-14T07:30:00+08:00",
            "gates": {"count": 1, "door_travel_s": 1.0},
            "pki": "pki",
            "passengers": [traveller("P01", 1, "accepted")],
        },
        context={"base_dir": tmp_path},
    )
    assert built.pki == tmp_path / "pki"
    matching, registry = core
    run = Replay(built, "test", core=matching, core_registry=registry, fast=True)
    assert run.pki.ds_certificate == made.ds_certificate
    # The genuine chip, signed by the scenario's DS, passes the gate's chip checks.
    assert by_id(run.run())["P01"] == ("accepted", ())


def test_a_scenario_pki_folder_that_does_not_load_is_refused(tmp_path):
    with pytest.raises(ValidationError, match=r"pki\n.*csca\.pem: No such file"):
        Scenario.model_validate(
            {
                "name": "test drill",
                "start": "2026-03-14T07:30:00+08:00",
                "pki": "nowhere",
                "passengers": [traveller("P01", 1, "accepted")],
            },
            context={"base_dir": tmp_path},
        )
