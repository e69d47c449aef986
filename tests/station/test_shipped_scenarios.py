"""The scenarios shipped in configs/scenarios: they load, and each drill holds what it should.

These tests read the files only; replaying them through the mock gates (and
checking that every expectation is met) is another test's job.  The files
name sample photos (``samples:NAME``), which the loader checks exist: the
tests skip when the photos cannot be fetched.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest

from egate.cli.replay import DEFAULT_SCENARIO, SCENARIO_FOLDER
from egate.documents.forgery import CHIP_FORGERIES
from egate.documents.mrz import parse_mrz
from egate.samples import SAMPLES_PREFIX, SampleError, fetch_samples
from station.training.scenario import (
    Defect,
    Expected,
    FaultDevice,
    PassengerKind,
    PassengerSpec,
    Scenario,
    load_scenario,
)

SCENARIOS = Path(__file__).resolve().parents[2] / "configs" / "scenarios"
SHIPPED = {
    "pudong-morning.yaml",
    "document-fraud.yaml",
    "fraud-workshop.yaml",
    "impostor-drill.yaml",
    "tailgating-and-faults.yaml",
    "presentation-attacks.yaml",
}
# The three photos of one person: a genuine traveller's chip and live face
# are two different ones of them, or one photo with a variation.
SAME_PERSON = {
    name: "obama"
    for name in ("obama", "obama2", "obama3", "obama_partial_face", "obama_partial_face2")
}


def scenario_files() -> list[Path]:
    return sorted(SCENARIOS.glob("*.yaml"))


@pytest.fixture(scope="session")
def samples_fetched() -> None:
    try:
        fetch_samples()
    except SampleError as error:
        pytest.skip(f"sample photos not available: {error}")


@pytest.fixture(scope="session")
def scenarios(samples_fetched: None) -> dict[str, Scenario]:
    return {path.name: load_scenario(path) for path in scenario_files()}


# -- every file -----------------------------------------------------------------------


def test_the_shipped_scenarios_are_there():
    assert {path.name for path in scenario_files()} >= SHIPPED


def test_the_default_scenario_of_egate_replay_is_the_morning_wave():
    assert SCENARIO_FOLDER.resolve() == SCENARIOS
    assert DEFAULT_SCENARIO == "pudong-morning.yaml"


@pytest.mark.parametrize("path", scenario_files(), ids=lambda path: path.name)
def test_the_file_loads(samples_fetched: None, path: Path):
    scenario = load_scenario(path)
    assert scenario.name
    assert scenario.description


def travellers(scenario: Scenario) -> list[PassengerSpec]:
    """The passengers who bring a document (every one but the tailgaters)."""
    return [p for p in scenario.passengers if not p.tailgater]


def person(photo: str) -> str:
    """Who a sample photo shows: ``samples:obama2`` and ``obama`` are the same person."""
    name = photo.removeprefix(SAMPLES_PREFIX)
    return SAME_PERSON.get(name, name)


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_only_sample_photos_are_used(scenarios: dict[str, Scenario], name: str):
    # A fresh machine has nothing else: `egate samples fetch` installs these.
    sample_files = set(fetch_samples().images())
    for passenger in travellers(scenarios[name]):
        assert passenger.chip is not None and passenger.face is not None
        if passenger.chip.photo is not None:
            assert passenger.chip.photo in sample_files, passenger.id
        for photo in passenger.face.photos:
            assert photo.startswith(SAMPLES_PREFIX), passenger.id
        assert set(passenger.face.resolved) <= sample_files, passenger.id


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_ids_and_document_numbers_are_unique(scenarios: dict[str, Scenario], name: str):
    scenario = scenarios[name]
    ids = [p.id for p in scenario.passengers]
    assert len(ids) == len(set(ids))
    today = scenario.today
    documents: Counter[tuple[str, str]] = Counter()
    for passenger in travellers(scenario):
        assert passenger.document is not None
        fields = parse_mrz(passenger.document.printed(), today).fields
        documents[(fields.issuing_state, fields.document_number)] += 1
    assert [key for key, count in documents.items() if count > 1] == []


def test_no_document_appears_in_two_scenarios(scenarios: dict[str, Scenario]):
    seen: dict[tuple[str, str], str] = {}
    for name in sorted(SHIPPED):
        scenario = scenarios[name]
        for passenger in travellers(scenario):
            assert passenger.document is not None
            fields = parse_mrz(passenger.document.printed(), scenario.today).fields
            key = (fields.issuing_state, fields.document_number)
            assert key not in seen, f"{name} {passenger.id}: the document of {seen.get(key)}"
            seen[key] = f"{name} {passenger.id}"


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_every_exception_says_what_to_learn(scenarios: dict[str, Scenario], name: str):
    for passenger in scenarios[name].passengers:
        exceptional = (
            passenger.kind is not PassengerKind.GENUINE
            or passenger.expected.outcome is not Expected.ACCEPTED
            or passenger.behaviour.slow
        )
        if exceptional:
            assert passenger.learn.strip(), f"{passenger.id}: no learn text"


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_the_documents_fit_the_story(scenarios: dict[str, Scenario], name: str):
    scenario = scenarios[name]
    today = scenario.today
    for passenger in travellers(scenario):
        document = passenger.document
        assert document is not None
        reasons = set(passenger.expected.reasons)
        if document.mrz is not None:
            continue  # verbatim lines: the specimen, checked in its drill
        assert document.birth_date is not None and document.expiry_date is not None
        assert document.birth_date < today
        expired = document.expiry_date < today
        # Only a passport meant to be expired is (an altered expiry hides a past one).
        altered = {Defect.ALTERED_EXPIRY, Defect.CHIP_DATA_ALTERED}
        meant = "EXPIRED" in reasons or bool(altered.intersection(document.defects))
        assert expired == meant, passenger.id


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_genuine_travellers_show_their_own_face(scenarios: dict[str, Scenario], name: str):
    scenario = scenarios[name]
    for passenger in travellers(scenario):
        chip, face = passenger.chip, passenger.face
        assert chip is not None and face is not None
        if chip.photo is None or not face.photos:
            continue
        same = {person(chip.photo.stem)} == {person(photo) for photo in face.photos}
        if passenger.kind is PassengerKind.IMPOSTOR:
            assert not same, f"{scenario.name}: impostor {passenger.id} shows the holder's face"
        else:
            assert same, f"{scenario.name}: {passenger.id} shows someone else's face"
            # One photo for chip and camera only with a variation on the live side
            # (moving as a live face is one).
            if face.photos == (f"{SAMPLES_PREFIX}{chip.photo.stem}",) and not face.live:
                assert face.variation != type(face.variation)(), passenger.id


# -- the morning wave ----------------------------------------------------------------


@pytest.fixture
def morning(scenarios: dict[str, Scenario]) -> Scenario:
    return scenarios["pudong-morning.yaml"]


def expected(passenger: PassengerSpec) -> tuple[str, frozenset[str]]:
    """A passenger's expected outcome and reasons, to compare with ``(outcome, {reasons})``."""
    return passenger.expected.outcome.value, frozenset(passenger.expected.reasons)


def test_the_morning_wave_is_a_long_haul_arrival(morning: Scenario):
    assert len(morning.passengers) >= 40
    assert len(morning.gates.names) >= 4
    assert morning.gates.controller.topology.value == "two_step"
    arrivals = morning.arrivals().values()
    spread = max(arrivals) - min(arrivals)
    assert timedelta(minutes=3) <= timedelta(seconds=spread) <= timedelta(minutes=4)
    states = Counter(p.document.issuing_state for p in travellers(morning) if p.document)
    assert states.most_common(1)[0][0] == "CHN"
    assert len(states) > 1


def test_the_morning_wave_counts(morning: Scenario):
    kinds = Counter(p.kind for p in morning.passengers)
    assert kinds[PassengerKind.IMPOSTOR] == 2
    assert kinds[PassengerKind.DOCUMENT_FRAUD] == 3
    assert kinds[PassengerKind.STOP_LIST] == 1
    assert kinds[PassengerKind.INELIGIBLE] == 3
    assert kinds[PassengerKind.TAILGATER] == 1
    accepted = [p for p in morning.passengers if p.expected.outcome is Expected.ACCEPTED]
    assert all(p.kind is PassengerKind.GENUINE for p in accepted)
    assert 28 <= len(accepted) <= 32


def test_the_morning_wave_has_every_exception(morning: Scenario):
    outcomes = [expected(p) for p in morning.passengers]
    defects = Counter(d for p in travellers(morning) if p.document for d in p.document.defects)
    assert defects == {
        Defect.ALTERED_EXPIRY: 1,
        Defect.BAD_CHECK_DIGIT: 1,
        Defect.CHIP_MISMATCH: 1,
    }
    assert outcomes.count(("referred", {"BIOMETRIC_MISMATCH"})) == 2
    for wanted in [
        ("rejected", {"STOP_LIST_HIT"}),
        ("rejected", {"EXPIRED"}),
        ("referred", {"MINOR"}),
        ("referred", {"CHIP_ABSENT"}),
        ("referred", {"CHIP_ACCESS_DENIED"}),
        ("rejected", {"MRZ_INVALID"}),
        ("rejected", {"CHIP_MRZ_MISMATCH"}),
        ("aborted", {"TIMEOUT_ENTRY"}),
        ("referred", {"FACE_NOT_FOUND"}),
    ]:
        assert wanted in outcomes, wanted
    # The tailgater and the traveller they follow are both referred.
    assert outcomes.count(("referred", {"TAILGATING"})) == 2
    slow = [p for p in morning.passengers if p.behaviour.slow]
    assert [p.expected.outcome for p in slow] == [Expected.ACCEPTED]
    retreats = [p for p in morning.passengers if p.behaviour.retreats]
    assert [expected(p) for p in retreats] == [("aborted", {"TIMEOUT_ENTRY"})]
    no_face = [p for p in travellers(morning) if p.face is not None and not p.face.photos]
    assert [expected(p) for p in no_face] == [("referred", {"FACE_NOT_FOUND"})]
    listed = {entry.passenger for entry in morning.stop_list}
    assert listed == {p.id for p in morning.passengers if p.kind is PassengerKind.STOP_LIST}
    # A misread the gate repairs: the traveller still goes through.
    misread = [p for p in travellers(morning) if p.document and p.document.ocr_misread]
    assert [expected(p) for p in misread] == [("accepted", frozenset())]


# -- the drills ----------------------------------------------------------------------


def test_the_fraud_drill_has_every_defect(scenarios: dict[str, Scenario]):
    drill = scenarios["document-fraud.yaml"]
    assert 10 <= len(drill.passengers) <= 15
    documents = [p.document for p in travellers(drill) if p.document is not None]
    defects = {defect for document in documents for defect in document.defects}
    # One wrong check digit (the document number's) stands for the other digits' defects.
    other_digits = {
        Defect.BAD_BIRTH_DATE_CHECK_DIGIT,
        Defect.BAD_EXPIRY_CHECK_DIGIT,
        Defect.BAD_COMPOSITE_CHECK_DIGIT,
    }
    assert defects == set(Defect) - CHIP_FORGERIES - other_digits
    verbatim = [p for p in travellers(drill) if p.document and p.document.mrz is not None]
    assert len(verbatim) == 1
    assert verbatim[0].expected.outcome is Expected.REJECTED
    chips = [p.chip for p in travellers(drill) if p.chip is not None]
    assert any(chip.format == "jpeg2000" for chip in chips)
    outcomes = [expected(p) for p in drill.passengers]
    assert ("rejected", {"STOP_LIST_HIT"}) in outcomes
    assert ("rejected", {"EXPIRED"}) in outcomes
    genuine = [p for p in drill.passengers if p.kind is PassengerKind.GENUINE]
    assert len(genuine) >= 4
    assert all(p.expected.outcome is Expected.ACCEPTED for p in genuine)
    # Genuine travellers come in between, not all at one end.
    order = [p.kind is PassengerKind.GENUINE for p in drill.passengers]
    assert order[0] and not all(order[: len(genuine)])


# What a correct gate makes of each chip forgery (default policy).
FORGERY_ANSWERS = {
    Defect.CHIP_PHOTO_SUBSTITUTED: ("rejected", {"CHIP_HASH_MISMATCH"}),
    Defect.CHIP_DATA_ALTERED: ("rejected", {"CHIP_HASH_MISMATCH"}),
    Defect.CHIP_RESIGNED_UNKNOWN_CSCA: ("referred", {"CHIP_DS_UNTRUSTED"}),
    Defect.CHIP_DS_EXPIRED: ("referred", {"CHIP_DS_EXPIRED"}),
    Defect.CHIP_DS_REVOKED: ("rejected", {"CHIP_DS_REVOKED"}),
    Defect.CHIP_CLONED: ("rejected", {"CHIP_CLONE_SUSPECTED"}),
    Defect.CHIP_NO_SOD: ("referred", {"CHIP_SOD_MISSING"}),
}


def test_the_fraud_workshop_has_every_chip_forgery(scenarios: dict[str, Scenario]):
    drill = scenarios["fraud-workshop.yaml"]
    assert len(drill.passengers) >= 20
    forged = [p for p in travellers(drill) if p.document and p.document.chip_forgery()]
    seen = set()
    for passenger in forged:
        assert passenger.document is not None
        forgery = passenger.document.chip_forgery()
        assert forgery is not None
        seen.add(forgery)
        assert passenger.kind is PassengerKind.DOCUMENT_FRAUD
        assert expected(passenger) == FORGERY_ANSWERS[forgery], passenger.id
    assert seen == CHIP_FORGERIES
    page = {d for p in travellers(drill) if p.document for d in p.document.defects}
    assert page - CHIP_FORGERIES  # printed-page frauds too
    kinds = [p.kind for p in drill.passengers]
    assert kinds.count(PassengerKind.GENUINE) >= 5
    assert kinds.count(PassengerKind.IMPOSTOR) >= 2
    chips = [p.chip for p in travellers(drill) if p.chip is not None]
    assert {chip.protocol for chip in chips} >= {"bac", "pace"}
    assert any(chip.air_kbps for chip in chips)


def test_the_impostor_drill(scenarios: dict[str, Scenario]):
    drill = scenarios["impostor-drill.yaml"]
    assert 10 <= len(drill.passengers) <= 15
    impostors = [p for p in drill.passengers if p.kind is PassengerKind.IMPOSTOR]
    assert len(impostors) >= 3
    assert all(expected(p) == ("referred", {"BIOMETRIC_MISMATCH"}) for p in impostors)
    genuine = [p for p in drill.passengers if p.kind is PassengerKind.GENUINE]
    accepted = [p for p in genuine if p.expected.outcome is Expected.ACCEPTED]
    assert len(accepted) >= 5
    varied = [p for p in accepted if p.face is not None and p.face.variation.brightness != 1]
    assert varied
    partial = [p for p in genuine if p.face and any("partial" in f for f in p.face.photos)]
    assert partial
    unseen = [p for p in genuine if expected(p) == ("referred", {"FACE_NOT_FOUND"})]
    assert any(p.face is not None and not p.face.photos for p in unseen)
    # Only document-clean impostors: the face comparison alone decides.
    assert all(p.document and not p.document.defects for p in travellers(drill))
    assert drill.stop_list == ()


def test_the_tailgating_and_fault_drill(scenarios: dict[str, Scenario]):
    drill = scenarios["tailgating-and-faults.yaml"]
    assert 10 <= len(drill.passengers) <= 15
    assert drill.gates.names == ("G1", "G2")
    tailgaters = [p for p in drill.passengers if p.tailgater]
    assert len(tailgaters) >= 2
    by_id = {p.id: p for p in drill.passengers}
    for tailgater in tailgaters:
        leader = by_id[tailgater.behaviour.tailgates or ""]
        assert expected(leader) == expected(tailgater) == ("referred", {"TAILGATING"})
    devices = {fault.device for fault in drill.faults}
    assert {FaultDevice.CAMERA, FaultDevice.EXIT_DOOR, FaultDevice.READER} <= devices
    arrivals = drill.arrivals()
    order = [p.id for p in drill.passengers]
    for fault in drill.faults:
        gate = fault.gate or drill.gates.names[0]
        if fault.during is not None:
            # The traveller inside when it fails is aborted; the gate serves the next one.
            assert expected(by_id[fault.during]) == ("aborted", {"DEVICE_FAULT"})
            after = order[order.index(fault.during) + 1 :]
        else:
            assert fault.at is not None
            starts = drill.offset(fault.at)
            after = [pid for pid in order if pid in arrivals and arrivals[pid] > starts]
        served_again = [
            by_id[pid]
            for pid in after
            if by_id[pid].gate == gate and by_id[pid].expected.outcome is Expected.ACCEPTED
        ]
        assert served_again, f"nobody goes through {gate} after its {fault.device.value} fault"
