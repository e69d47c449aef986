"""The on-gate service in-process on a mock gate: outcomes, metrics, faults, stop, officers.

Each test wires a ``GateService`` the way ``egate run --mock`` does (emulators
on pseudo-terminals, the real drivers, a matching core, an audit trail and
metrics on a fresh registry) with quick doors and travellers, and steps the
mock gate and the service in one loop until what it waits for has happened.
The waiting limits are a safety net against a hung test, never a measure.

``MockGate`` keeps its emulators to itself and draws travellers from the
default mix only, so the fixtures reach both through the two names
``station.mockgate`` looks up when it starts: ``emulators`` and
``sample_travellers``.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from prometheus_client import CollectorRegistry

import station.mockgate as mockgate
from egate.audit import AuditTrail, read_audit
from egate.biometrics.matching import MatchingCore
from egate.cli.run import mock_gate_config
from egate.documents.mrz import parse_mrz
from egate.documents.policy import DocumentPolicy
from egate.gate.commands import Signal
from egate.gate.controller import GateController
from egate.gate.events import Door as GateDoor
from egate.gate.events import OfficerAction
from egate.gate.settings import ControllerSettings, State
from egate.gate.transaction import STEPS, TransactionRecord
from egate.metrics import GateMetrics
from egate.privacy import Pseudonymizer
from hardware.chip import MockChip
from hardware.devices import DeviceSettings, EmulationSettings
from hardware.doorprotocol import Command, Door, DoorState
from hardware.emulators.camera import MockCamera
from hardware.emulators.devices import Emulators, emulators
from hardware.emulators.door import DoorBoardSettings, DoorEmulator
from hardware.emulators.occupancy import OccupancyEmulator
from hardware.indicator import RecordingIndicator
from station.people.travellers import (
    SampleCase,
    SamplePhotos,
    SampleTraveller,
    sample_travellers,
)
from station.service import GateService, ServiceTiming

pytestmark = pytest.mark.hardware

GATE_ID = mock_gate_config().gate_id
# Quick doors and travellers: a passage takes about a second.
EMULATION = EmulationSettings(door_travel_s=0.2, pace=0.05, gap_s=0.1, seed=1)
# A safety net against a hung test, never a measure.
PATIENCE_S = 60.0
# Long enough for anything the service does on its own (heartbeats every 1 s,
# command retries within 1.5 s), shorter than the board's 3 s watchdog, which
# would otherwise close the exit door on egate's behalf.
SETTLE_S = 2.5
LOOP_SLEEP_S = 0.002
SALT = b"egate-test-salt-0123"


class GaveUp(AssertionError):
    """What a test waited for did not happen within its limit."""


@pytest.fixture(scope="module")
def photos() -> SamplePhotos:
    """The sample photos of ``egate samples fetch`` (or matplotlib's portrait)."""
    found = SamplePhotos.installed()
    if found is None:
        pytest.skip("sample photos are not installed (run `egate samples fetch`)")
    return found


@pytest.fixture(scope="module")
def matching() -> Iterator[MatchingCore]:
    """One thread worker for every test here: the models load once."""
    core = MatchingCore(workers=1, kind="thread", registry=CollectorRegistry())
    try:
        core.wait_ready(timeout=PATIENCE_S)
        yield core
    finally:
        core.close()


def _traveller_stream(
    first: Sequence[SampleCase],
    mix: Mapping[SampleCase, float] | None,
    chip_photo: bytes | None,
) -> Callable[..., Iterator[SampleTraveller]]:
    """A stand-in for ``sample_travellers``: one traveller of each of ``first``, then ``mix``.

    The first ones come from one stream of their kinds, so that their labels
    and document numbers stay unique.  ``chip_photo`` replaces every chip's DG2.
    """

    def stream(
        photos: SamplePhotos,
        today: date,
        rng: np.random.Generator,
        *,
        pace: float,
        pictures: object = None,
    ) -> Iterator[SampleTraveller]:
        # The gate here captures one frame: still photos, as without ``pictures``.
        assert pictures is None
        for traveller in drawn(photos, today, rng, pace):
            chip = traveller.document.chip
            if chip_photo is None or chip is None:
                yield traveller
                continue
            document = replace(traveller.document, chip=MockChip.of(chip.dg1_mrz, chip_photo))
            yield replace(traveller, document=document)

    def drawn(
        photos: SamplePhotos, today: date, rng: np.random.Generator, pace: float
    ) -> Iterator[SampleTraveller]:
        if first:
            wanted = {kind: 1.0 for kind in first}
            one_each: dict[SampleCase, SampleTraveller] = {}
            for traveller in sample_travellers(photos, today, rng, wanted, pace=pace):
                one_each.setdefault(traveller.case, traveller)
                if len(one_each) == len(wanted):
                    break
            yield from (one_each[kind] for kind in first)
        yield from sample_travellers(photos, today, rng, mix, pace=pace)

    return stream


@dataclass
class Gate:
    """A service on a mock gate, and what the test looks at."""

    mock: mockgate.MockGate
    service: GateService
    doors: DoorEmulator
    occupancy: OccupancyEmulator
    camera: MockCamera
    indicator: RecordingIndicator
    registry: CollectorRegistry
    audit_path: Path
    # Each finished transaction with the traveller at the gate when it ended.
    records: list[tuple[SampleTraveller | None, TransactionRecord]] = field(default_factory=list)

    @property
    def controller(self) -> GateController:
        return self.service.controller

    def run_until(
        self,
        done: Callable[[], bool],
        what: str,
        *,
        travellers: bool = True,
        limit_s: float = PATIENCE_S,
    ) -> None:
        """Step the travellers (unless told not to) and the service until ``done()``."""
        give_up = time.monotonic() + limit_s
        while not done():
            now = time.monotonic()
            if now > give_up:
                raise GaveUp(
                    f"gave up after {limit_s:g} s waiting for {what}: gate "
                    f"{self.controller.state.value}, transaction {self.controller.transaction}, "
                    f"outcomes so far {self.service.summary.outcomes}, "
                    f"indicator {self.indicator.current}"
                )
            if travellers:
                self.mock.step(now)
            self.service.step()
            time.sleep(LOOP_SLEEP_S)

    def audit(self) -> list[dict[str, Any]]:
        """The audit trail so far."""
        return list(read_audit(self.audit_path))

    def audited(self, kind: str) -> list[dict[str, Any]]:
        """The audit records of ``kind``."""
        return [record for record in self.audit() if record["kind"] == kind]

    def sample(self, name: str, **labels: str) -> float | None:
        """The value of the gate's metric sample ``name`` with ``labels``."""
        return self.registry.get_sample_value(name, {"gate": GATE_ID, **labels})

    def door(self, door: Door) -> DoorState:
        """Where the emulated board's ``door`` is now."""
        return self.doors.state(door)

    def wait_for_doors(self, entry: DoorState, exit_: DoorState, *, limit_s: float) -> None:
        """Let the board's doors finish moving (nothing else is stepped)."""
        give_up = time.monotonic() + limit_s
        while (self.door(Door.ENTRY), self.door(Door.EXIT)) != (entry, exit_):
            if time.monotonic() > give_up:
                raise GaveUp(
                    f"doors entry {self.door(Door.ENTRY).value}, exit "
                    f"{self.door(Door.EXIT).value}; wanted {entry.value}, {exit_.value}"
                )
            time.sleep(0.01)


OpenGate = Callable[..., Gate]


@contextlib.contextmanager
def _gate(
    where: Path,
    photos: SamplePhotos,
    matching: MatchingCore,
    *,
    first: Sequence[SampleCase] = (),
    mix: Mapping[SampleCase, float] | None = None,
    chip_photo: bytes | None = None,
    timing: ServiceTiming | None = None,
    controller: ControllerSettings | None = None,
) -> Iterator[Gate]:
    """A started service on a mock gate, wired as ``egate run --mock`` wires it."""
    started: list[Emulators] = []

    @contextlib.contextmanager
    def keeping(
        devices: DeviceSettings, board: DoorBoardSettings | None, **options: Any
    ) -> Iterator[Emulators]:
        with emulators(devices, board, **options) as found:
            started.append(found)
            yield found

    gate_config = mock_gate_config()
    indicator = RecordingIndicator()
    registry = CollectorRegistry()
    metrics = GateMetrics(GATE_ID, registry)
    policy = DocumentPolicy.from_settings(gate_config.policy, Pseudonymizer(SALT))
    audit_path = where / "audit" / "egate-audit.jsonl"
    with contextlib.ExitStack() as stack:
        patch = stack.enter_context(pytest.MonkeyPatch.context())
        patch.setattr(mockgate, "emulators", keeping)
        patch.setattr(mockgate, "sample_travellers", _traveller_stream(first, mix, chip_photo))
        audit = stack.enter_context(AuditTrail(audit_path))
        mock = mockgate.MockGate(
            gate_config.devices,
            EMULATION,
            indicator,
            today=date.today,
            base_dir=where,
            photos=photos,
        )
        stack.enter_context(mock)
        assert mock.devices is not None and started
        doors, occupancy = started[0].doors, started[0].occupancy
        assert doors is not None and occupancy is not None
        camera = mock.devices.camera
        assert isinstance(camera, MockCamera)
        records: list[tuple[SampleTraveller | None, TransactionRecord]] = []

        def keep(record: TransactionRecord) -> None:
            traveller = mock.arrivals[-1].traveller if mock.arrivals else None
            records.append((traveller, record))

        service = GateService(
            GateController(GATE_ID, gate_config.service.controller.topology, controller),
            mock.devices,
            matching,
            policy,
            audit=audit,
            metrics=metrics,
            timing=timing,
            on_record=keep,
        )
        stack.callback(service.close)
        service.start()
        assert service.wait_for_devices(PATIENCE_S, time.sleep) == []
        yield Gate(
            mock, service, doors, occupancy, camera, indicator, registry, audit_path, records
        )


@pytest.fixture
def open_gate(tmp_path: Path, photos: SamplePhotos, matching: MatchingCore) -> Iterator[OpenGate]:
    """``open_gate(first=, mix=, chip_photo=, timing=, controller=)``: closed after the test."""
    with contextlib.ExitStack() as stack:

        def make(**options: Any) -> Gate:
            return stack.enter_context(_gate(tmp_path, photos, matching, **options))

        yield make


def genuine_only() -> dict[SampleCase, float]:
    return {SampleCase.GENUINE: 1.0}


# --- one traveller of each kind, through one gate ------------------------------------


@dataclass(frozen=True)
class FinishedRun:
    """What a run of one traveller of each kind left behind, for several tests."""

    kinds: list[SampleCase]
    records: list[tuple[SampleTraveller | None, TransactionRecord]]
    travellers: list[SampleTraveller]
    audit: list[dict[str, Any]]
    registry: CollectorRegistry
    own_seconds: list[float]
    state: State

    def sample(self, name: str, **labels: str) -> float | None:
        return self.registry.get_sample_value(name, {"gate": GATE_ID, **labels})


@pytest.fixture(scope="module")
def finished_run(
    tmp_path_factory: pytest.TempPathFactory, photos: SamplePhotos, matching: MatchingCore
) -> FinishedRun:
    """One traveller of each kind (impostors need two people's photos), then a stop."""
    kinds = [
        kind
        for kind in SampleCase
        if kind is not SampleCase.IMPOSTOR or len(photos.identities) > 1
    ]
    # The genuine traveller last: the gate is idle the moment they leave.
    kinds.remove(SampleCase.GENUINE)
    kinds.append(SampleCase.GENUINE)
    where = tmp_path_factory.mktemp("finished-run")
    with _gate(where, photos, matching, first=kinds, mix=genuine_only()) as gate:
        gate.run_until(
            lambda: len(gate.records) >= len(kinds) and gate.controller.state is State.IDLE,
            f"{len(kinds)} transactions",
        )
        gate.service.stop(time.sleep)
        return FinishedRun(
            kinds=kinds,
            records=list(gate.records),
            travellers=[arrival.traveller for arrival in gate.mock.arrivals],
            audit=gate.audit(),
            registry=gate.registry,
            own_seconds=list(gate.service.summary.own_seconds),
            state=gate.controller.state,
        )


def test_each_kind_of_traveller_gets_the_outcome_and_reasons_it_deserves(
    finished_run: FinishedRun,
) -> None:
    reached = {
        traveller.case: (record.outcome.value, record.reasons)
        for traveller, record in finished_run.records
        if traveller is not None
    }
    expected = {
        kind: (kind.case.expected.outcome.value, kind.case.expected.reasons)
        for kind in finished_run.kinds
    }
    assert reached == expected
    # One transaction per traveller, in the order they came.
    assert [t.case for t, _ in finished_run.records if t] == finished_run.kinds
    assert len(finished_run.records) == len(finished_run.kinds)


def test_the_audit_records_every_transaction_between_start_and_stop(
    finished_run: FinishedRun,
) -> None:
    audit = finished_run.audit
    assert (audit[0]["kind"], audit[0]["event"]) == ("service", "start")
    assert (audit[-1]["kind"], audit[-1]["event"]) == ("service", "stop")
    transactions = [record for record in audit if record["kind"] == "transaction"]
    assert [(r["transaction"], r["outcome"], tuple(r["reasons"])) for r in transactions] == [
        (record.transaction, record.outcome.value, record.reasons)
        for _, record in finished_run.records
    ]
    assert {record["gate_id"] for record in audit} == {GATE_ID}
    # Every document was read: its type, state and salted hash are there, never its number.
    for record in transactions:
        assert record["document_type"] == "P"
        assert isinstance(record["document_hash"], str) and len(record["document_hash"]) >= 16
    assert not [record for record in audit if record["kind"] == "device_fault"]
    # Only the tailgater raises an alarm.
    alarms = [record["reason"] for record in audit if record["kind"] == "alarm"]
    assert alarms == ["TAILGATING"]
    # The stop found the gate idle: nobody to abort, and the gate stays closed.
    assert finished_run.state is State.CLOSED


def test_metrics_after_the_run_agree_with_the_audit(finished_run: FinishedRun) -> None:
    transactions = [record for record in finished_run.audit if record["kind"] == "transaction"]
    by_outcome = Counter(record["outcome"] for record in transactions)
    for outcome in ("accepted", "referred", "rejected", "aborted"):
        assert finished_run.sample(
            "egate_gate_transactions_total", outcome=outcome
        ) == by_outcome.get(outcome, 0), outcome
        assert finished_run.sample(
            "egate_gate_transaction_duration_seconds_count", outcome=outcome
        ) == by_outcome.get(outcome, 0), outcome
    # Rejected: the expired passport, the substituted chip photo and the cloned chip.
    assert by_outcome["accepted"] == 1 and by_outcome["rejected"] == 3
    reasons = Counter(
        (record["outcome"], reason) for record in transactions for reason in record["reasons"]
    )
    for (outcome, reason), count in reasons.items():
        assert (
            finished_run.sample(
                "egate_gate_transaction_reasons_total", outcome=outcome, reason=reason
            )
            == count
        )
    # Each step's histogram counts the transactions that reached it, and sums their times.
    for step in STEPS:
        times = [record["steps"][step] for record in transactions if step in record["steps"]]
        assert finished_run.sample("egate_gate_step_duration_seconds_count", step=step) == len(
            times
        ), step
        total = finished_run.sample("egate_gate_step_duration_seconds_sum", step=step)
        assert total == pytest.approx(sum(times), abs=1e-5 * (len(times) + 1)), step
    assert finished_run.sample("egate_gate_step_duration_seconds_count", step="document") == len(
        transactions
    )
    # The service's own time: one observation per transaction.
    assert finished_run.sample("egate_gate_own_time_seconds_count") == len(transactions)
    assert len(finished_run.own_seconds) == len(transactions)
    assert finished_run.sample("egate_gate_alarms_total", reason="TAILGATING") == 1
    for device in ("reader", "doors", "camera", "occupancy"):
        assert finished_run.sample("egate_gate_device_up", device=device) == 1, device
    assert finished_run.sample("egate_gate_degraded") == 0
    assert finished_run.sample("egate_gate_state", egate_gate_state="closed") == 1


def _personal_strings(travellers: Sequence[SampleTraveller]) -> set[str]:
    """Document numbers, MRZ lines (printed and on the chip) and MRZ name fields."""
    found: set[str] = set()
    for traveller in travellers:
        document = traveller.document
        printed = document.mrz
        chip_lines = document.chip.dg1_mrz if document.chip is not None else ()
        for lines in (printed, chip_lines):
            if not lines:
                continue
            found.update(lines)
            fields = parse_mrz(lines, date.today(), repair=False).fields
            found.add(fields.document_number)
            found.add(lines[0][5:].rstrip("<"))  # the holder's name as the MRZ spells it
    return found


def test_the_audit_holds_no_document_number_mrz_or_name(finished_run: FinishedRun) -> None:
    secrets = _personal_strings(finished_run.travellers)
    assert len(secrets) >= 3 * len(finished_run.travellers)
    text = "\n".join(str(record) for record in finished_run.audit)
    assert [secret for secret in secrets if secret in text] == []


def test_the_start_record_names_the_devices(finished_run: FinishedRun) -> None:
    detail = finished_run.audit[0]["detail"]
    assert "object at 0x" not in detail
    assert detail.startswith("reader desko on ")


def test_a_record_counts_every_capture_attempt(finished_run: FinishedRun) -> None:
    (no_face,) = [r for t, r in finished_run.records if t and t.case is SampleCase.NO_FACE]
    # The controller refers FACE_NOT_FOUND only once every attempt is spent.
    assert no_face.reasons == ("FACE_NOT_FOUND",)
    assert no_face.capture_attempts == ControllerSettings().capture_attempts


def test_the_tailgating_alarm_names_its_transaction(finished_run: FinishedRun) -> None:
    (tailgater,) = [r for t, r in finished_run.records if t and t.case is SampleCase.TAILGATED]
    (alarm,) = [record for record in finished_run.audit if record["kind"] == "alarm"]
    assert (alarm["reason"], alarm["transaction"]) == ("TAILGATING", tailgater.transaction)


# --- the same gate, checked while it runs ---------------------------------------------


def test_metrics_count_transactions_while_the_gate_runs(open_gate: OpenGate) -> None:
    gate = open_gate(mix=genuine_only())
    gate.run_until(lambda: len(gate.records) >= 2, "two transactions")
    assert gate.sample("egate_gate_transactions_total", outcome="accepted") == 2
    assert gate.sample("egate_gate_own_time_seconds_count") == 2
    assert gate.sample("egate_gate_step_duration_seconds_count", step="exit") == 2
    assert gate.sample("egate_gate_match_distance_count") == 2
    assert gate.sample("egate_gate_capture_attempts_total") == 2
    assert gate.sample("egate_gate_degraded") == 0
    for device in ("reader", "doors", "camera", "occupancy"):
        assert gate.sample("egate_gate_device_up", device=device) == 1, device
    assert [record["outcome"] for record in gate.audited("transaction")] == ["accepted"] * 2


class _LateEnrolment:
    """A matching core whose templates arrive ``delay_s`` late: the traveller is in by then."""

    def __init__(self, core: MatchingCore, delay_s: float) -> None:
        self._core = core
        self._delay_s = delay_s
        self.capture = core.capture  # the same capture window as the core's

    def submit_enroll(self, reference: Any, deadline: float) -> Future[Any]:
        inner = self._core.submit_enroll(reference, deadline)
        late: Future[Any] = Future()

        def hand_over() -> None:
            try:
                late.set_result(inner.result())
            except Exception as error:  # the service sees what the core reported
                late.set_exception(error)

        threading.Timer(self._delay_s, hand_over).start()
        return late

    def submit_verify(self, template: Any, live: Any, deadline: float) -> Future[Any]:
        return self._core.submit_verify(template, live, deadline)


def test_the_own_time_leaves_out_a_slow_camera_without_going_negative(
    open_gate: OpenGate, monkeypatch: pytest.MonkeyPatch
) -> None:
    gate = open_gate(mix=genuine_only())
    grab = gate.camera.grab

    def slow_grab() -> Any:
        time.sleep(0.2)  # a slow camera waiting for its next frame
        return grab()

    monkeypatch.setattr(gate.camera, "grab", slow_grab)
    monkeypatch.setattr(gate.service, "matching", _LateEnrolment(gate.service.matching, 2.0))
    gate.run_until(lambda: len(gate.records) >= 1, "a transaction")
    assert gate.records[0][1].outcome.value == "accepted"
    (own,) = gate.service.summary.own_seconds
    assert own > 0


# --- faults -----------------------------------------------------------------------------


def _degraded_by(gate: Gate, device: str) -> None:
    """The gate is degraded for ``device`` in every way it shows."""
    assert gate.controller.state is State.DEGRADED
    assert gate.sample("egate_gate_degraded") == 1
    assert gate.sample("egate_gate_device_up", device=device) == 0
    assert gate.sample("egate_gate_state", egate_gate_state="degraded") == 1
    assert gate.indicator.current is not None and gate.indicator.current.signal is Signal.CLOSED
    faults = gate.audited("device_fault")
    assert [record["device"] for record in faults] == [device]
    assert faults[0]["reason"]


def _recovered(gate: Gate, device: str) -> None:
    """The gate serves travellers again after ``device`` came back."""
    assert gate.controller.state is State.IDLE
    assert gate.sample("egate_gate_degraded") == 0
    assert gate.sample("egate_gate_device_up", device=device) == 1
    assert gate.indicator.current is not None and gate.indicator.current.signal is Signal.READY
    assert [record["device"] for record in gate.audited("device_recovered")] == [device]


def _board_answered(gate: Gate) -> None:
    """The door board has answered every command sent so far (the fail-safe close too)."""
    doors = gate.service.devices.doors
    gate.run_until(lambda: not doors.busy, "the door board to answer", travellers=False)


def test_a_jammed_exit_door_degrades_the_gate_until_the_board_moves_it_again(
    open_gate: OpenGate,
) -> None:
    gate = open_gate(mix=genuine_only())
    gate.doors.jam(Door.EXIT, "JAMMED")
    gate.run_until(
        lambda: gate.controller.state is State.DEGRADED, "the jam to degrade", travellers=False
    )
    _degraded_by(gate, "doors")
    assert "exit" in gate.audited("device_fault")[0]["reason"]
    assert [record["reason"] for record in gate.audited("alarm")] == ["DOOR_FAULT_EXIT"]
    assert gate.sample("egate_gate_alarms_total", reason="DOOR_FAULT_EXIT") == 1
    # The fail-safe close of the exit reached the board, which refused it while jammed.
    _board_answered(gate)
    closes = [
        message
        for message in gate.doors.received
        if isinstance(message, Command) and (message.verb, message.args) == ("CLOSE", ("EXIT",))
    ]
    assert closes
    assert gate.door(Door.EXIT) is DoorState.FAULT
    # The jam clears; the board's door leaves FAULT with the next command to it
    # (docs/door-protocol.md). A technician's close comes first here; the
    # service's own repeated order is the next test's subject.
    gate.doors.unjam(Door.EXIT)
    gate.service.devices.doors.close(Door.EXIT)
    gate.run_until(
        lambda: gate.controller.state is State.IDLE, "the gate to recover", travellers=False
    )
    _recovered(gate, "doors")
    gate.wait_for_doors(DoorState.CLOSED, DoorState.CLOSED, limit_s=SETTLE_S)
    # And it serves the next traveller.
    gate.run_until(lambda: len(gate.records) >= 1, "a transaction after the recovery")
    assert gate.records[0][1].outcome.value == "accepted"


def test_a_cleared_jam_and_an_officer_reset_bring_the_gate_back(open_gate: OpenGate) -> None:
    gate = open_gate()
    gate.doors.jam(Door.EXIT, "JAMMED")
    gate.run_until(
        lambda: gate.controller.state is State.DEGRADED, "the jam to degrade", travellers=False
    )
    _board_answered(gate)
    gate.doors.unjam(Door.EXIT)
    gate.service.officer(OfficerAction.RESET)
    gate.run_until(
        lambda: gate.controller.state is State.IDLE,
        "the gate to recover after the jam cleared",
        travellers=False,
        limit_s=SETTLE_S,
    )


def test_an_unplugged_camera_degrades_the_idle_gate_until_it_is_back(open_gate: OpenGate) -> None:
    gate = open_gate()
    gate.camera.unplug()
    gate.run_until(
        lambda: gate.controller.state is State.DEGRADED, "the camera fault", travellers=False
    )
    _degraded_by(gate, "camera")
    assert gate.door(Door.EXIT) is DoorState.CLOSED
    gate.camera.plug_back()
    gate.run_until(
        lambda: gate.controller.state is State.IDLE, "the camera to come back", travellers=False
    )
    _recovered(gate, "camera")
    kinds = [record["kind"] for record in gate.audit()]
    assert kinds == ["service", "device_fault", "device_recovered"]


@pytest.mark.parametrize("moment", [State.CAPTURING, State.EXITING], ids=lambda s: s.value)
def test_a_fault_with_a_traveller_inside_shuts_the_exit_and_opens_the_entry(
    open_gate: OpenGate, moment: State
) -> None:
    gate = open_gate(mix=genuine_only())

    def reached() -> bool:
        # In EXITING the exit is ordered open only once the entry is reported closed.
        ordered = moment is not State.EXITING or gate.controller.commanded_open(GateDoor.EXIT)
        return gate.controller.state is moment and ordered

    gate.run_until(reached, f"the traveller {moment.value}")
    transaction = gate.controller.transaction
    assert transaction is not None
    gate.camera.unplug()
    # The traveller stands still until the gate has acted (in EXITING they could
    # otherwise walk out through the opening exit).
    gate.run_until(lambda: bool(gate.records), "the transaction to end", travellers=False)
    _board_answered(gate)
    gate.run_until(
        lambda: (gate.door(Door.ENTRY), gate.door(Door.EXIT)) == (DoorState.OPEN, DoorState.CLOSED),
        "entry open and exit closed",
        travellers=False,
        limit_s=SETTLE_S,
    )
    exit_opened = [
        command for command in gate.doors.executions("OPEN") if command.args == ("EXIT",)
    ]
    assert len(exit_opened) == (1 if moment is State.EXITING else 0)
    assert gate.controller.state is State.DEGRADED
    record = gate.audited("transaction")[-1]
    assert (record["transaction"], record["outcome"], record["reasons"]) == (
        transaction,
        "aborted",
        ["DEVICE_FAULT"],
    )
    assert gate.sample("egate_gate_transactions_total", outcome="aborted") == 1
    assert gate.sample("egate_gate_transactions_total", outcome="accepted") == 0
    _degraded_by(gate, "camera")
    # The traveller walks back out through the entry; with the camera back the gate reopens.
    gate.run_until(lambda: gate.occupancy.count == 0, "the traveller to walk back out")
    gate.camera.plug_back()
    gate.run_until(lambda: gate.controller.state is State.IDLE, "the camera to come back")
    gate.run_until(
        lambda: gate.door(Door.ENTRY) is DoorState.CLOSED, "the entry to close", travellers=False
    )
    assert gate.door(Door.EXIT) is DoorState.CLOSED


@pytest.mark.parametrize("moment", [State.CAPTURING, State.EXITING], ids=lambda s: s.value)
def test_a_stop_with_a_traveller_inside_aborts_and_shuts_the_exit(
    open_gate: OpenGate, moment: State
) -> None:
    gate = open_gate(mix=genuine_only(), timing=ServiceTiming(stop_grace_s=0.3))
    gate.run_until(lambda: gate.controller.state is moment, f"the traveller {moment.value}")
    transaction = gate.controller.transaction
    assert transaction is not None
    # The traveller stands still from now on: the grace cannot let them finish.
    gate.service.stop(time.sleep)
    assert gate.controller.state is State.CLOSED
    gate.wait_for_doors(DoorState.OPEN, DoorState.CLOSED, limit_s=SETTLE_S)
    audit = gate.audit()
    assert (audit[-1]["kind"], audit[-1]["event"]) == ("service", "stop")
    aborted = audit[-2]
    assert (aborted["kind"], aborted["transaction"], aborted["outcome"], aborted["reasons"]) == (
        "transaction",
        transaction,
        "aborted",
        ["SERVICE_STOP"],
    )
    assert gate.sample("egate_gate_transactions_total", outcome="aborted") == 1
    assert gate.indicator.current is not None and gate.indicator.current.signal is Signal.CLOSED
    # If the exit was ever opened (a match may come within the grace), the last
    # order the board carried out for it was to close it.
    exit_orders = sorted(
        (
            command
            for verb in ("OPEN", "CLOSE")
            for command in gate.doors.executions(verb)
            if command.args == ("EXIT",)
        ),
        key=lambda command: command.seq,
    )
    opened = [command for command in exit_orders if command.verb == "OPEN"]
    assert len(opened) == 1 if moment is State.EXITING else len(opened) <= 1
    if opened:
        assert exit_orders[-1].verb == "CLOSE"


# --- retreat -----------------------------------------------------------------------------

RETREAT_TIMEOUT_S = 0.5


def _retreat_times_out(gate: Gate, reason: str) -> None:
    """The traveller is referred with ``reason`` and stays inside: the retreat timer ends it."""
    gate.run_until(lambda: bool(gate.records), "the referral")
    assert gate.records[0][1].reasons == (reason,)
    assert gate.controller.state is State.RETREAT
    # The traveller stands still inside from now on; only the retreat timer can free the gate.
    gate.run_until(
        lambda: gate.controller.state is State.IDLE,
        "the retreat timeout",
        travellers=False,
        limit_s=RETREAT_TIMEOUT_S + SETTLE_S,
    )
    assert gate.indicator.current is not None and gate.indicator.current.signal is Signal.READY


def test_a_retreat_that_never_ends_times_out(open_gate: OpenGate, photos: SamplePhotos) -> None:
    if len(photos.identities) < 2:
        pytest.skip("an impostor needs sample photos of two people (egate samples fetch)")
    gate = open_gate(
        mix={SampleCase.IMPOSTOR: 1.0},
        controller=ControllerSettings(retreat_timeout_s=RETREAT_TIMEOUT_S),
    )
    _retreat_times_out(gate, "BIOMETRIC_MISMATCH")


def test_a_retreat_after_an_unusable_chip_photo_times_out(open_gate: OpenGate) -> None:
    gate = open_gate(
        mix=genuine_only(),
        chip_photo=b"not a JPEG",
        controller=ControllerSettings(retreat_timeout_s=RETREAT_TIMEOUT_S),
    )
    _retreat_times_out(gate, "REFERENCE_UNREADABLE")


# --- officers ---------------------------------------------------------------------------


def test_an_officer_closes_the_gate_and_a_reset_opens_it_again(
    open_gate: OpenGate, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="egate.service")
    gate = open_gate(mix=genuine_only())
    gate.service.officer(OfficerAction.CLOSE)
    gate.run_until(
        lambda: gate.controller.state is State.CLOSED, "the officer's close", travellers=False
    )
    assert gate.indicator.current is not None and gate.indicator.current.signal is Signal.CLOSED
    assert gate.sample("egate_gate_officer_commands_total", action="close") == 1
    assert gate.sample("egate_gate_state", egate_gate_state="closed") == 1
    officer = gate.audited("officer")
    assert [(record["action"], record["transaction"]) for record in officer] == [("close", None)]
    # A traveller lays their document down: a closed gate starts no transaction.
    gate.run_until(lambda: "document ignored" in caplog.text, "the document to be ignored")
    assert gate.controller.transaction is None and gate.controller.state is State.CLOSED
    assert gate.door(Door.ENTRY) is DoorState.CLOSED
    gate.service.officer(OfficerAction.RESET)
    gate.run_until(lambda: gate.controller.state is not State.CLOSED, "the reset")
    assert gate.controller.state is State.IDLE
    assert gate.sample("egate_gate_officer_commands_total", action="reset") == 1
    assert [record["action"] for record in gate.audited("officer")] == ["close", "reset"]
    # Ready again: the next traveller goes through.
    gate.run_until(lambda: len(gate.records) >= 1, "a transaction after the reset")
    assert gate.records[0][1].outcome.value == "accepted"
    assert gate.audited("transaction")[0]["outcome"] == "accepted"


@pytest.mark.parametrize("device", ["reader", "doors", "occupancy"])
def test_a_driver_that_raises_degrades_the_gate_and_never_ends_the_service(
    open_gate: OpenGate, device: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    gate = open_gate(timing=ServiceTiming(driver_retry_s=0.2))
    devices = gate.service.devices
    driver = {"reader": devices.reader, "doors": devices.doors, "occupancy": devices.occupancy}[
        device
    ]
    real_poll = driver.poll
    broken = {"on": True}

    def poll(now: float) -> list[Any]:
        if broken["on"]:
            raise StopIteration("a parser bug the device's bytes found")
        return real_poll(now)

    monkeypatch.setattr(driver, "poll", poll)
    gate.run_until(
        lambda: gate.controller.state is State.DEGRADED, "the driver error", travellers=False
    )
    _degraded_by(gate, device)
    fault = gate.audited("device_fault")[0]
    assert fault["reason"] == "driver error: StopIteration"
    alarms = gate.audited("alarm")
    assert [(a["reason"], a["detail"]) for a in alarms] == [
        ("DRIVER_ERROR", f"{device}: StopIteration")
    ]
    broken["on"] = False  # the next poll after the pause works again
    gate.run_until(
        lambda: gate.controller.state is State.IDLE, "the driver to poll again", travellers=False
    )
    _recovered(gate, device)


def test_a_camera_driver_that_raises_takes_the_camera_down(
    open_gate: OpenGate, monkeypatch: pytest.MonkeyPatch
) -> None:
    gate = open_gate(mix=genuine_only(), timing=ServiceTiming(driver_retry_s=60.0))

    def grab() -> None:
        raise ValueError("a frame the driver could not handle")

    monkeypatch.setattr(gate.service.devices.camera, "grab", grab)
    gate.run_until(lambda: bool(gate.records), "the transaction to end")
    assert gate.controller.state is State.DEGRADED
    record = gate.audited("transaction")[-1]
    assert (record["outcome"], record["reasons"]) == ("aborted", ["DEVICE_FAULT"])
    assert gate.audited("device_fault")[0]["reason"] == "driver error: ValueError"
    assert gate.door(Door.EXIT) is DoorState.CLOSED
