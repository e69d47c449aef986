"""Example paths through the gate controller, asserting the exact commands."""

from __future__ import annotations

import dataclasses
from unittest.mock import ANY

import pytest

from egate.biometrics.decision import Decision
from egate.documents.policy import PolicyDecision, Verdict
from egate.gate import (
    ChipStatus,
    ControllerSettings,
    DocumentCheck,
    Door,
    GateController,
    OfficerAction,
    Outcome,
    Signal,
    State,
    Topology,
)
from egate.gate import commands as c
from egate.gate import events as e
from egate.gate.board import InstantBoard

TX = "G1-000001"
ACCEPT = e.DocumentRead(True, DocumentCheck(Verdict.ACCEPT, (), "key-1"))
CHIP_OK = e.ChipRead(ChipStatus.OK, dg1_matches_mrz=True)
MATCH = e.FaceVerified(Decision.MATCH, None, 0.31)


class AnsweredGate(GateController):
    """A controller whose door orders an instant board answers, and whose capture
    answers are stamped with the request in progress, as the gate service does.

    ``handle`` returns the controller's commands followed by those its board's
    answers led to.
    """

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.board = InstantBoard()
        for report in self.board.report():
            super().handle(report, 0.0)

    def handle(self, event: e.Event, now: float) -> list[c.Command]:
        if isinstance(event, e.FaceCaptured | e.FaceVerified) and event.request == "":
            event = dataclasses.replace(event, request=self.current_request or "none")
        return self.board.drive(super().handle, event, now)


def gate(topology: Topology = Topology.TWO_STEP, **settings: float) -> GateController:
    return AnsweredGate("G1", topology, ControllerSettings(**settings))  # type: ignore[arg-type]


def feed(controller: GateController, *events: e.Event) -> list[c.Command]:
    """All commands answering ``events``, one second apart."""
    out: list[c.Command] = []
    for i, event in enumerate(events):
        out += controller.handle(event, float(i))
    return out


def inside(controller: GateController) -> None:
    """Bring a two-step gate to its first face capture."""
    feed(controller, e.DocumentPresented(), ACCEPT, CHIP_OK, e.EntryPassed())
    assert controller.state is State.CAPTURING


def finishes(out: list[c.Command]) -> list[c.Finish]:
    return [command for command in out if isinstance(command, c.Finish)]


def test_two_step_accepted_path() -> None:
    g = gate()
    assert g.handle(e.DocumentPresented(), 0.0) == [
        c.ReadChip(),
        c.ShowSignal(Signal.WAIT),
        c.StartTimer("DOCUMENT-1", 20.0),
    ]
    assert g.transaction == TX
    assert g.handle(ACCEPT, 1.0) == []
    assert g.handle(CHIP_OK, 2.0) == [
        c.OpenEntryDoor(),
        c.ShowSignal(Signal.PASS),
        c.StartTimer("ENTRY-2", 15.0),
    ]
    assert g.handle(e.EntryPassed(), 3.0) == [
        c.CloseEntryDoor(),
        c.ShowSignal(Signal.LOOK),
        c.CaptureFace(ANY),
        c.StartTimer("CAPTURE-3", 10.0),
    ]
    assert g.handle(e.FaceCaptured(1), 4.0) == [c.VerifyFace(ANY), c.StartTimer("VERIFY-4", 10.0)]
    assert g.handle(MATCH, 5.0) == [
        c.OpenExitDoor(),
        c.ShowSignal(Signal.PASS),
        c.StartTimer("EXIT-5", 15.0),
    ]
    assert g.handle(e.ExitPassed(), 6.0) == [
        c.CloseExitDoor(),
        c.RecordPassage("key-1"),
        c.Finish(TX, Outcome.ACCEPTED, ()),
        c.ShowSignal(Signal.READY),
    ]
    assert g.state is State.IDLE
    assert g.transaction is None


def test_one_step_opens_entry_at_start_and_traveller_may_enter_while_reading() -> None:
    g = gate(Topology.ONE_STEP)
    assert g.handle(e.DocumentPresented(), 0.0) == [
        c.OpenEntryDoor(),
        c.ReadChip(),
        c.ShowSignal(Signal.WAIT),
        c.StartTimer("DOCUMENT-1", 20.0),
    ]
    assert g.handle(e.EntryPassed(), 1.0) == [c.CloseEntryDoor()]
    assert g.handle(ACCEPT, 2.0) == []
    assert g.handle(CHIP_OK, 3.0) == [
        c.ShowSignal(Signal.LOOK),
        c.CaptureFace(ANY),
        c.StartTimer("CAPTURE-2", 10.0),
    ]
    out = feed(g, e.FaceCaptured(1), MATCH, e.ExitPassed())
    assert c.OpenExitDoor() in out
    assert finishes(out) == [c.Finish(TX, Outcome.ACCEPTED, ())]


def test_one_step_waits_for_entry_after_acceptance() -> None:
    g = gate(Topology.ONE_STEP)
    feed(g, e.DocumentPresented(), ACCEPT)
    assert g.handle(CHIP_OK, 2.0) == [c.StartTimer("ENTRY-2", 15.0)]
    assert g.handle(e.EntryPassed(), 3.0)[:2] == [c.CloseEntryDoor(), c.ShowSignal(Signal.LOOK)]
    assert g.state is State.CAPTURING


REJECTED_END = [c.ShowSignal(Signal.OFFICER)]


@pytest.mark.parametrize(
    ("document", "chip", "outcome", "reasons"),
    [
        (
            e.DocumentRead(False, DocumentCheck(Verdict.REJECT, ("CHECK_DIGIT",), None)),
            CHIP_OK,
            Outcome.REJECTED,
            ("MRZ_INVALID", "CHECK_DIGIT"),
        ),
        (
            e.DocumentRead(True, DocumentCheck(Verdict.REJECT, ("STOP_LIST_HIT",), "k")),
            CHIP_OK,
            Outcome.REJECTED,
            ("STOP_LIST_HIT",),
        ),
        (
            e.DocumentRead(True, DocumentCheck(Verdict.REJECT, ("DUPLICATE_DOCUMENT",), "k")),
            CHIP_OK,
            Outcome.REJECTED,
            ("DUPLICATE_DOCUMENT",),
        ),
        (
            e.DocumentRead(True, DocumentCheck(Verdict.REJECT, ("EXPIRED",), "k")),
            CHIP_OK,
            Outcome.REJECTED,
            ("EXPIRED",),
        ),
        (ACCEPT, e.ChipRead(ChipStatus.OK, False), Outcome.REJECTED, ("CHIP_MRZ_MISMATCH",)),
        (ACCEPT, e.ChipRead(ChipStatus.UNREADABLE), Outcome.REFERRED, ("CHIP_UNREADABLE",)),
        (ACCEPT, e.ChipRead(ChipStatus.ACCESS_DENIED), Outcome.REFERRED, ("CHIP_ACCESS_DENIED",)),
        (ACCEPT, e.ChipRead(ChipStatus.ABSENT), Outcome.REFERRED, ("CHIP_ABSENT",)),
        (
            e.DocumentRead(True, DocumentCheck(Verdict.REFER, ("MINOR",), "k")),
            CHIP_OK,
            Outcome.REFERRED,
            ("MINOR",),
        ),
        (
            e.DocumentRead(True, DocumentCheck(Verdict.REFER, ("MINOR",), "k")),
            e.ChipRead(ChipStatus.OK, False),
            Outcome.REJECTED,
            ("CHIP_MRZ_MISMATCH", "MINOR"),
        ),
    ],
)
def test_document_outcomes(
    document: e.DocumentRead, chip: e.ChipRead, outcome: Outcome, reasons: tuple[str, ...]
) -> None:
    g = gate()
    feed(g, e.DocumentPresented())
    # The decision waits for both reads, whichever comes first.
    assert g.handle(chip, 1.0) == []
    assert g.handle(document, 2.0) == [c.Finish(TX, outcome, reasons), c.ShowSignal(Signal.OFFICER)]
    assert g.state is State.IDLE
    assert g.transaction is None


def test_check_from_policy_decision_keeps_no_personal_data() -> None:
    decision = PolicyDecision(Verdict.REFER, ("MINOR",), "abc")
    assert DocumentCheck.from_decision(decision) == DocumentCheck(Verdict.REFER, ("MINOR",), "abc")


def test_one_step_rejection_with_traveller_inside_opens_retreat() -> None:
    g = gate(Topology.ONE_STEP)
    feed(g, e.DocumentPresented(), e.EntryPassed(), e.ChipRead(ChipStatus.OK, False))
    out = g.handle(ACCEPT, 3.0)
    assert out == [
        c.OpenEntryDoor(),
        c.Finish(TX, Outcome.REJECTED, ("CHIP_MRZ_MISMATCH",)),
        c.ShowSignal(Signal.OFFICER),
        c.StartTimer("RETREAT-2", 30.0),
    ]
    assert g.handle(e.OccupancyChanged(0), 4.0) == [c.CloseEntryDoor(), c.ShowSignal(Signal.READY)]
    assert g.state is State.IDLE


def test_capture_retries_then_success() -> None:
    g = gate()
    inside(g)
    assert g.handle(e.FaceCaptured(0), 4.0) == [c.CaptureFace(ANY), c.StartTimer("CAPTURE-4", 10.0)]
    fta = e.FaceVerified(Decision.FAILURE_TO_ACQUIRE, "PROBE_FACE_NOT_FOUND", None)
    feed(g, e.FaceCaptured(1))
    assert g.handle(fta, 6.0) == [c.CaptureFace(ANY), c.StartTimer("CAPTURE-6", 10.0)]
    out = feed(g, e.FaceCaptured(1), MATCH, e.ExitPassed())
    assert finishes(out) == [c.Finish(TX, Outcome.ACCEPTED, ())]


def test_capture_retries_exhausted_refers_and_opens_retreat() -> None:
    g = gate(capture_attempts=2)
    inside(g)
    feed(g, e.FaceCaptured(0))
    assert g.handle(e.FaceCaptured(0), 5.0) == [
        c.OpenEntryDoor(),
        c.Finish(TX, Outcome.REFERRED, ("FACE_NOT_FOUND",)),
        c.ShowSignal(Signal.OFFICER),
        c.StartTimer("RETREAT-5", 30.0),
    ]
    assert g.state is State.RETREAT
    assert g.handle(e.Timeout("RETREAT-5"), 40.0) == [
        c.CloseEntryDoor(),
        c.ShowSignal(Signal.READY),
    ]


def test_biometric_mismatch_keeps_exit_closed_and_opens_entry() -> None:
    g = gate()
    inside(g)
    feed(g, e.FaceCaptured(1))
    out = g.handle(e.FaceVerified(Decision.NO_MATCH, "DISTANCE", 0.8), 5.0)
    assert out == [
        c.OpenEntryDoor(),
        c.Finish(TX, Outcome.REFERRED, ("BIOMETRIC_MISMATCH",)),
        c.ShowSignal(Signal.OFFICER),
        c.StartTimer("RETREAT-5", 30.0),
    ]
    assert c.OpenExitDoor() not in out


TAILGATED = [
    c.Alarm("TAILGATING"),
    c.OpenEntryDoor(),
]


def test_tailgating_by_occupancy() -> None:
    g = gate()
    inside(g)
    out = g.handle(e.OccupancyChanged(2), 4.0)
    assert out == [
        *TAILGATED,
        c.Finish(TX, Outcome.REFERRED, ("TAILGATING", "OCCUPANCY")),
        c.ShowSignal(Signal.OFFICER),
        c.StartTimer("RETREAT-4", 30.0),
    ]


def test_tailgating_by_two_faces_in_the_capture() -> None:
    g = gate()
    inside(g)
    out = g.handle(e.FaceCaptured(2), 4.0)
    assert out[:2] == TAILGATED
    assert finishes(out) == [c.Finish(TX, Outcome.REFERRED, ("TAILGATING", "MULTIPLE_FACES"))]


def test_tailgating_reported_by_the_verifier() -> None:
    g = gate()
    inside(g)
    feed(g, e.FaceCaptured(1))
    out = g.handle(e.FaceVerified(Decision.FAILURE_TO_ACQUIRE, "PROBE_MULTIPLE_FACES"), 5.0)
    assert finishes(out) == [c.Finish(TX, Outcome.REFERRED, ("TAILGATING", "MULTIPLE_FACES"))]


def test_tailgating_while_exit_open_closes_it() -> None:
    g = gate()
    inside(g)
    feed(g, e.FaceCaptured(1), MATCH)
    out = g.handle(e.OccupancyChanged(2), 6.0)
    assert out[:2] == [c.Alarm("TAILGATING"), c.CloseExitDoor()]
    # The way back opens once the exit is reported closed.
    assert out.index(c.OpenEntryDoor()) > out.index(c.CloseExitDoor())


@pytest.mark.parametrize(
    ("before", "token", "outcome", "reason", "retreat"),
    [
        ((e.DocumentPresented(),), "DOCUMENT-1", Outcome.ABORTED, "TIMEOUT_DOCUMENT", False),
        (
            (e.DocumentPresented(), ACCEPT, CHIP_OK),
            "ENTRY-2",
            Outcome.ABORTED,
            "TIMEOUT_ENTRY",
            False,
        ),
        (
            (e.DocumentPresented(), ACCEPT, CHIP_OK, e.EntryPassed()),
            "CAPTURE-3",
            Outcome.REFERRED,
            "TIMEOUT_CAPTURE",
            True,
        ),
        (
            (e.DocumentPresented(), ACCEPT, CHIP_OK, e.EntryPassed(), e.FaceCaptured(1)),
            "VERIFY-4",
            Outcome.REFERRED,
            "TIMEOUT_VERIFY",
            True,
        ),
        (
            (e.DocumentPresented(), ACCEPT, CHIP_OK, e.EntryPassed(), e.FaceCaptured(1), MATCH),
            "EXIT-5",
            Outcome.REFERRED,
            "TIMEOUT_EXIT",
            True,
        ),
    ],
)
def test_timeouts_at_each_step(
    before: tuple[e.Event, ...], token: str, outcome: Outcome, reason: str, retreat: bool
) -> None:
    g = gate()
    feed(g, *before)
    assert g.handle(e.Timeout("stale"), 50.0) == []
    out = g.handle(e.Timeout(token), 60.0)
    assert finishes(out) == [c.Finish(TX, outcome, (reason,))]
    assert c.OpenExitDoor() not in out
    assert (c.OpenEntryDoor() in out) is retreat
    assert g.state is (State.RETREAT if retreat else State.IDLE)
    # The token is spent: a repeat changes nothing.
    assert g.handle(e.Timeout(token), 61.0) == []


def test_timeout_from_an_earlier_step_is_ignored() -> None:
    g = gate()
    inside(g)
    assert g.handle(e.Timeout("DOCUMENT-1"), 30.0) == []
    assert g.state is State.CAPTURING


def test_forced_exit_aborts_and_closes_the_gate() -> None:
    g = gate()
    inside(g)
    out = g.handle(e.DoorForced(Door.EXIT), 4.0)
    assert out == [
        c.Alarm("EXIT_FORCED"),
        c.Finish(TX, Outcome.ABORTED, ("EXIT_FORCED",)),
        c.ShowSignal(Signal.CLOSED),
    ]
    assert g.state is State.CLOSED
    assert g.handle(e.DocumentPresented(), 5.0) == []
    assert g.handle(e.OfficerCommand(OfficerAction.RESET), 6.0) == [c.ShowSignal(Signal.READY)]
    assert g.state is State.IDLE


def test_entry_forced_raises_an_alarm() -> None:
    g = gate()
    assert g.handle(e.DoorForced(Door.ENTRY), 0.0) == [c.Alarm("ENTRY_FORCED")]
    assert g.state is State.IDLE


def test_device_fault_mid_transaction_fails_safe() -> None:
    g = gate()
    inside(g)
    feed(g, e.FaceCaptured(1), MATCH)  # exit is open
    out = g.handle(e.DeviceFault("camera", "usb reset"), 6.0)
    # The entry opens for the retreat only once the board reports the exit closed.
    assert out == [
        c.CloseExitDoor(),
        c.Finish(TX, Outcome.ABORTED, ("DEVICE_FAULT",)),
        c.ShowSignal(Signal.CLOSED),
        c.OpenEntryDoor(),
    ]
    assert g.state is State.DEGRADED
    assert g.handle(e.DocumentPresented(), 7.0) == []
    assert g.handle(e.OfficerCommand(OfficerAction.OPEN_EXIT), 8.0) == [
        c.Alarm("OVERRIDE_REFUSED_DEGRADED")
    ]
    assert g.handle(e.DeviceRecovered("camera"), 9.0) == [
        c.CloseEntryDoor(),
        c.ShowSignal(Signal.READY),
    ]
    assert g.state is State.IDLE


def test_gate_stays_degraded_until_every_device_recovers() -> None:
    g = gate()
    feed(g, e.DeviceFault("camera"), e.DeviceFault("reader"))
    assert g.handle(e.DeviceRecovered("camera"), 2.0) == []
    assert g.state is State.DEGRADED
    assert g.handle(e.DeviceRecovered("reader"), 3.0) == [c.ShowSignal(Signal.READY)]


def test_officer_open_exit_is_recorded_as_override() -> None:
    g = gate()
    inside(g)
    assert g.handle(e.OfficerCommand(OfficerAction.OPEN_EXIT), 4.0) == [
        c.OpenExitDoor(),
        c.StartTimer("EXIT-4", 15.0),
    ]
    out = g.handle(e.ExitPassed(), 5.0)
    assert finishes(out) == [c.Finish(TX, Outcome.ACCEPTED, ("OFFICER_OVERRIDE",))]
    assert c.RecordPassage("key-1") in out


def test_officer_open_exit_closes_the_entry_first_in_a_mantrap() -> None:
    g = gate()
    feed(g, e.DocumentPresented(), ACCEPT, CHIP_OK)  # entry open, nobody in yet
    out = g.handle(e.OfficerCommand(OfficerAction.OPEN_EXIT), 3.0)
    assert out[0] == c.CloseEntryDoor()
    assert out.index(c.OpenExitDoor()) > 0


def test_officer_refer() -> None:
    g = gate()
    inside(g)
    out = g.handle(e.OfficerCommand(OfficerAction.REFER), 4.0)
    assert finishes(out) == [c.Finish(TX, Outcome.REFERRED, ("OFFICER_REFER",))]
    assert g.state is State.RETREAT
    assert g.handle(e.OfficerCommand(OfficerAction.REFER), 5.0) == []


def test_officer_close_and_reset() -> None:
    g = gate()
    inside(g)
    assert g.handle(e.OfficerCommand(OfficerAction.CLOSE), 4.0) == [
        c.Finish(TX, Outcome.ABORTED, ("OFFICER_CLOSE",)),
        c.OpenEntryDoor(),
        c.ShowSignal(Signal.CLOSED),
    ]
    assert g.state is State.CLOSED
    assert g.handle(e.OfficerCommand(OfficerAction.RESET), 5.0) == [
        c.CloseEntryDoor(),
        c.ShowSignal(Signal.READY),
    ]
    assert g.state is State.IDLE


def test_officer_reset_aborts_a_transaction() -> None:
    g = gate()
    feed(g, e.DocumentPresented())
    assert g.handle(e.OfficerCommand(OfficerAction.RESET), 1.0) == [
        c.Finish(TX, Outcome.ABORTED, ("OFFICER_RESET",)),
        c.ShowSignal(Signal.READY),
    ]


def test_unexpected_events_are_ignored_or_alarmed() -> None:
    g = gate()
    assert feed(g, MATCH, e.FaceCaptured(1), CHIP_OK, e.Timeout("x")) == []
    assert g.handle(e.ExitPassed(), 5.0) == [c.Alarm("UNEXPECTED_EXIT")]
    feed(g, e.DocumentPresented())
    assert g.handle(e.EntryPassed(), 7.0) == [c.Alarm("UNEXPECTED_ENTRY")]


def test_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="capture_attempts"):
        ControllerSettings(capture_attempts=0)
    with pytest.raises(ValueError, match="exit_timeout_s"):
        ControllerSettings(exit_timeout_s=0)


@pytest.mark.parametrize("state", [State.CAPTURING, State.VERIFYING])
def test_unusable_chip_photo_refers_at_once(state: State) -> None:
    g = gate(capture_attempts=3)
    inside(g)
    if state is State.VERIFYING:
        feed(g, e.FaceCaptured(1))
    out = g.handle(e.FaceVerified(Decision.FAILURE_TO_ACQUIRE, "REFERENCE_FACE_NOT_FOUND"), 9.0)
    assert finishes(out) == [c.Finish(TX, Outcome.REFERRED, ("REFERENCE_FACE_NOT_FOUND",))]
    assert c.CaptureFace(ANY) not in out  # no retry: another capture cannot mend the chip photo
    assert c.OpenEntryDoor() in out and g.state is State.RETREAT


def test_officer_close_holds_through_a_fault_and_recovery() -> None:
    g = gate()
    feed(g, e.OfficerCommand(OfficerAction.CLOSE), e.DeviceFault("camera"))
    assert g.state is State.DEGRADED
    out = g.handle(e.DeviceRecovered("camera"), 5.0)
    assert g.state is State.CLOSED
    assert c.ShowSignal(Signal.CLOSED) in out and c.ShowSignal(Signal.READY) not in out
    assert g.handle(e.DocumentPresented(), 6.0) == []  # nobody is served until a reset
    g.handle(e.OfficerCommand(OfficerAction.RESET), 7.0)
    assert g.state is State.IDLE


def test_service_stopping_aborts_and_lets_the_traveller_back_out() -> None:
    g = gate()
    inside(g)
    feed(g, e.OccupancyChanged(1))
    out = g.handle(e.ServiceStopping(), 9.0)
    assert finishes(out) == [c.Finish(TX, Outcome.ABORTED, ("SERVICE_STOP",))]
    assert c.OpenEntryDoor() in out and c.OpenExitDoor() not in out
    assert g.state is State.CLOSED and g.transaction is None
    # The last one out of a closed gate: the entry closes behind them.
    assert g.handle(e.OccupancyChanged(0), 10.0) == [c.CloseEntryDoor()]


def test_service_stopping_on_an_idle_gate_closes_it() -> None:
    g = gate()
    out = g.handle(e.ServiceStopping(), 0.0)
    assert finishes(out) == [] and c.ShowSignal(Signal.CLOSED) in out
    assert g.state is State.CLOSED


def test_no_override_opens_the_exit_while_a_device_is_down_even_after_a_stop() -> None:
    # Found by the safety test: a stop turned a degraded gate into a closed one,
    # where an officer's open_exit was taken.
    g = gate()
    feed(g, e.DeviceFault("camera"), e.ServiceStopping())
    assert g.state is State.DEGRADED
    out = g.handle(e.OfficerCommand(OfficerAction.OPEN_EXIT), 5.0)
    assert out == [c.Alarm("OVERRIDE_REFUSED_DEGRADED")]


def test_step_clock_moves_reported_matching_time_from_capture_to_verify() -> None:
    from egate.gate.transaction import StepClock

    clock = StepClock("G1")
    clock.observe(State.READING, 0.0)
    clock.observe(State.CAPTURING, 2.0)
    clock.note_matching(0.25)
    clock.observe(State.VERIFYING, 3.0)
    clock.observe(State.EXITING, 3.0)
    record = clock.finish(c.Finish(TX, Outcome.ACCEPTED), 5.0, 1.0e9)
    assert record.steps == {"document": 2.0, "capture": 0.75, "verify": 0.25, "exit": 2.0}
    assert record.duration_s == 5.0


# --- the mantrap on reported door states (no instant board here) -------------

ENTRY_CLOSED = e.DoorReported(Door.ENTRY, e.DoorPosition.CLOSED)
EXIT_CLOSED = e.DoorReported(Door.EXIT, e.DoorPosition.CLOSED)


def bare(topology: Topology = Topology.TWO_STEP) -> GateController:
    """A controller fed door states by hand; both doors reported closed."""
    g = GateController("G1", topology, ControllerSettings())
    feed(g, ENTRY_CLOSED, EXIT_CLOSED)
    return g


def at_match(g: GateController) -> list[c.Command]:
    """Walk ``g`` to a match: the entry was ordered open, then closed, with the board
    answering each order; what the match itself commands."""
    feed(g, e.DocumentPresented(), ACCEPT, CHIP_OK)
    feed(g, e.DoorAnswered(Door.ENTRY, e.DoorPosition.OPENING))
    out = g.handle(e.EntryPassed(), 3.0)
    request = g.current_request
    assert request is not None and c.CaptureFace(request) in out
    feed(g, e.FaceCaptured(1, request))
    return g.handle(e.FaceVerified(Decision.MATCH, None, 0.3, request), 4.0)


def test_exit_waits_until_the_board_reports_the_entry_closed() -> None:
    g = bare()
    out = at_match(g)
    assert c.OpenExitDoor() not in out
    # Nobody is told to walk through a door that is still shut.
    assert c.ShowSignal(Signal.WAIT) in out and c.ShowSignal(Signal.PASS) not in out
    assert out[-1] == c.StartTimer("INTERLOCK-5", 10.0)
    assert g.waiting_door() is Door.EXIT
    # The board takes the close order: closing is not closed.
    assert g.handle(e.DoorAnswered(Door.ENTRY, e.DoorPosition.CLOSING), 5.0) == []
    assert g.handle(e.DoorReported(Door.ENTRY, e.DoorPosition.CLOSING), 5.1) == []
    # A passage "out" through the shut exit is no exit: an alarm, and nothing ends.
    assert g.handle(e.ExitPassed(), 5.5) == [c.Alarm("UNEXPECTED_EXIT")]
    assert g.state is State.EXITING and g.transaction == TX
    out = g.handle(ENTRY_CLOSED, 6.0)
    assert out == [c.OpenExitDoor(), c.ShowSignal(Signal.PASS), c.StartTimer("EXIT-6", 15.0)]
    assert g.waiting_door() is None


def test_a_closed_report_sent_before_the_board_took_the_order_is_stale() -> None:
    g = bare()
    at_match(g)
    # The entry was reported CLOSED before the board answered our CLOSE: stale.
    assert g.handle(ENTRY_CLOSED, 5.0) == []
    assert g.handle(e.DoorAnswered(Door.ENTRY, e.DoorPosition.CLOSING), 5.5) == []
    assert g.handle(ENTRY_CLOSED, 6.0)[0] == c.OpenExitDoor()


def test_an_interlock_refusal_is_retried_once_the_other_door_is_closed() -> None:
    g = bare()
    at_match(g)
    feed(g, e.DoorAnswered(Door.ENTRY, e.DoorPosition.CLOSED))
    assert g.commanded_open(Door.EXIT)
    out = g.handle(e.DoorAnswered(Door.EXIT, e.DoorPosition.CLOSED, refused=True), 6.0)
    assert out == [c.Alarm("INTERLOCK_REFUSED")]
    assert g.waiting_door() is Door.EXIT and not g.commanded_open(Door.EXIT)
    assert g.handle(ENTRY_CLOSED, 7.0)[0] == c.OpenExitDoor()
    assert g.state is State.EXITING


@pytest.mark.parametrize(
    ("walk", "outcome"),
    [("entering", Outcome.ABORTED), ("exiting", Outcome.REFERRED)],
)
def test_a_door_that_never_gets_its_way_times_out(walk: str, outcome: Outcome) -> None:
    g = GateController("G1", Topology.TWO_STEP, ControllerSettings())
    feed(g, EXIT_CLOSED, ENTRY_CLOSED)
    if walk == "entering":
        feed(g, e.DoorReported(Door.EXIT, e.DoorPosition.FAULT))
        out = feed(g, e.DocumentPresented(), ACCEPT, CHIP_OK)
    else:
        out = at_match(g)
    token = next(cmd.token for cmd in reversed(out) if isinstance(cmd, c.StartTimer))
    assert token.startswith("INTERLOCK")
    out = g.handle(e.Timeout(token), 20.0)
    assert c.Alarm("INTERLOCK_TIMEOUT") in out
    assert finishes(out) == [c.Finish(TX, outcome, ("TIMEOUT_INTERLOCK",))]
    assert c.OpenExitDoor() not in out


def test_a_door_left_open_is_closed_before_the_other_opens() -> None:
    g = GateController("G1", Topology.TWO_STEP, ControllerSettings())
    feed(g, ENTRY_CLOSED, e.DoorReported(Door.EXIT, e.DoorPosition.OPEN))
    out = feed(g, e.DocumentPresented(), ACCEPT, CHIP_OK)
    assert c.OpenEntryDoor() not in out and c.CloseExitDoor() in out
    feed(g, e.DoorAnswered(Door.EXIT, e.DoorPosition.CLOSING))
    assert g.handle(EXIT_CLOSED, 5.0)[0] == c.OpenEntryDoor()


def test_one_step_gates_do_not_wait_for_the_other_door() -> None:
    g = GateController("G1", Topology.ONE_STEP, ControllerSettings())
    assert c.OpenEntryDoor() in g.handle(e.DocumentPresented(), 0.0)


def test_an_answer_to_another_request_is_dropped_and_counted() -> None:
    g = bare()
    feed(g, e.DocumentPresented(), ACCEPT, CHIP_OK)
    feed(g, e.DoorAnswered(Door.ENTRY, e.DoorPosition.OPEN), e.EntryPassed())
    first = g.current_request
    assert feed(g, e.FaceCaptured(0, first or "")) != []  # a second capture is asked for
    second = g.current_request
    assert second != first
    # The first attempt's late answers change nothing, not even a match.
    assert g.handle(e.FaceCaptured(1, first or ""), 5.0) == []
    feed(g, e.FaceCaptured(1, second or ""))
    assert g.state is State.VERIFYING
    stale = e.FaceVerified(Decision.MATCH, None, 0.2, first or "")
    assert g.handle(stale, 6.0) == []
    assert g.handle(e.FaceVerified(Decision.MATCH, None, 0.2, "G1-000099/1"), 6.5) == []
    assert g.stale_results == 3
    assert g.state is State.VERIFYING and not g.commanded_open(Door.EXIT)


def test_answers_from_an_earlier_transaction_are_stale() -> None:
    g = bare()
    feed(g, e.DocumentPresented(), ACCEPT, CHIP_OK)
    feed(g, e.DoorAnswered(Door.ENTRY, e.DoorPosition.OPEN), e.EntryPassed())
    old = g.current_request or ""
    feed(g, e.OfficerCommand(OfficerAction.RESET))
    feed(g, e.DoorAnswered(Door.ENTRY, e.DoorPosition.CLOSED))
    feed(g, e.DocumentPresented(), ACCEPT, CHIP_OK)
    feed(g, e.DoorAnswered(Door.ENTRY, e.DoorPosition.OPEN), e.EntryPassed())
    feed(g, e.FaceCaptured(1, g.current_request or ""))
    assert g.handle(e.FaceVerified(Decision.MATCH, None, 0.2, old), 9.0) == []
    assert g.state is State.VERIFYING


def test_entry_passage_before_the_entry_opens_is_an_alarm() -> None:
    g = GateController("G1", Topology.TWO_STEP, ControllerSettings())
    feed(g, ENTRY_CLOSED)  # the exit's position is not known yet: the entry waits
    out = feed(g, e.DocumentPresented(), ACCEPT, CHIP_OK)
    assert c.OpenEntryDoor() not in out and c.ShowSignal(Signal.PASS) not in out
    assert g.state is State.ENTERING
    assert g.handle(e.EntryPassed(), 3.0) == [c.Alarm("UNEXPECTED_ENTRY")]
    assert g.state is State.ENTERING
    assert g.handle(EXIT_CLOSED, 4.0)[:2] == [c.OpenEntryDoor(), c.ShowSignal(Signal.PASS)]
