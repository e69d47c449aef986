"""The gate controller: one transaction at a time, events in, commands out.

(One concept past the ~400-line guideline: the transaction's state machine.
Its safety rules cut across every state, so the handlers read best side by
side; its words, time limits and door bookkeeping are modules of their own:
egate.gate.events, commands, settings and doors.)

A transaction runs READING (MRZ, policy and chip) -> ENTERING (two-step: the
entry opens once the document is accepted) -> CAPTURING -> VERIFYING ->
EXITING, and ends with exactly one ``Finish``.  Its safety rules hold whatever
order events come in: the exit opens only after a match for the capture it
asked for (or an officer's override), and a device fault closes the exit and
lets the traveller retreat through the entry.

Doors are judged on what the board reports, not on what was ordered.  In a
two-step gate a door is opened only once the board has reported the other
one CLOSED, after answering every order the controller gave that door (a
report sent before the board took an order is stale).  Until then the open
waits, bounded by ``interlock_timeout_s``; a board's interlock refusal puts
it back to waiting.
"""

from __future__ import annotations

from egate.biometrics.decision import Decision
from egate.documents.policy import Verdict
from egate.gate import commands as c
from egate.gate import events as e
from egate.gate.commands import Command, Outcome, Signal
from egate.gate.doors import Doors
from egate.gate.events import ChipStatus, Door, DoorPosition, Event, OfficerAction
from egate.gate.settings import ControllerSettings, State, Topology

__all__ = ["ControllerSettings", "GateController", "State", "Topology"]


# The steps of a transaction, with the outcome their timeout leads to: before
# the traveller is inside nothing has happened yet (aborted); once inside, an
# officer has to deal with them (referred).
_TIMEOUT_OUTCOME = {
    State.READING: Outcome.ABORTED,
    State.ENTERING: Outcome.ABORTED,
    State.CAPTURING: Outcome.REFERRED,
    State.VERIFYING: Outcome.REFERRED,
    State.EXITING: Outcome.REFERRED,
}
_STEP_NAME = {
    State.READING: "DOCUMENT",
    State.ENTERING: "ENTRY",
    State.CAPTURING: "CAPTURE",
    State.VERIFYING: "VERIFY",
    State.EXITING: "EXIT",
    State.RETREAT: "RETREAT",
}
_IN_TRANSACTION = frozenset(_TIMEOUT_OUTCOME)
_INTERLOCK = "INTERLOCK"
# Verification reasons that concern the chip photo, not the live capture.
REFERENCE_PREFIX = "REFERENCE_"
# The liveness check found a print or a screen, not a live face.
PRESENTATION_ATTACK = "PRESENTATION_ATTACK"
_CHIP_REFERRAL = {
    ChipStatus.UNREADABLE: "CHIP_UNREADABLE",
    ChipStatus.ACCESS_DENIED: "CHIP_ACCESS_DENIED",
    ChipStatus.ABSENT: "CHIP_ABSENT",
}


class GateController:
    """Decides what one gate does next; see the module docstring.

    A traveller at a two-step gate, events in and commands out (``handle``
    returns a list; each command is printed on a line of its own here).  The
    entry opens only once the board has reported the exit CLOSED; an answer
    to a capture request that is not the current one is dropped; a mismatch
    refers the traveller and opens the way back::

        >>> from egate.biometrics.decision import Decision
        >>> from egate.documents.policy import Verdict
        >>> from egate.gate import events as e
        >>> gate = GateController("gate-1")
        >>> def handle(event, now):
        ...     for command in gate.handle(event, now):
        ...         print(command)
        >>> handle(e.DocumentPresented(), now=0.0)
        ReadChip()
        ShowSignal(signal=<Signal.WAIT: 'wait'>)
        StartTimer(token='DOCUMENT-1', seconds=20.0)
        >>> handle(e.DocumentRead(True, e.DocumentCheck(Verdict.ACCEPT)), now=0.4)
        >>> handle(e.ChipRead(e.ChipStatus.OK), now=1.1)  # where is the exit door?
        StartTimer(token='INTERLOCK-2', seconds=10.0)
        >>> handle(e.DoorReported(e.Door.EXIT, e.DoorPosition.CLOSED), now=1.2)
        OpenEntryDoor()
        ShowSignal(signal=<Signal.PASS: 'pass'>)
        StartTimer(token='ENTRY-3', seconds=15.0)
        >>> handle(e.EntryPassed(), now=3.0)
        CloseEntryDoor()
        ShowSignal(signal=<Signal.LOOK: 'look'>)
        CaptureFace(request='gate-1-000001/1')
        StartTimer(token='CAPTURE-4', seconds=10.0)
        >>> handle(e.FaceVerified(Decision.MATCH, request="gate-1-000000/7"), now=3.1)
        >>> gate.stale_results  # it answered another request
        1
        >>> handle(e.FaceCaptured(1, request="gate-1-000001/1"), now=3.5)
        VerifyFace(request='gate-1-000001/1')
        StartTimer(token='VERIFY-5', seconds=10.0)
        >>> commands = gate.handle(
        ...     e.FaceVerified(Decision.NO_MATCH, distance=0.71, request="gate-1-000001/1"), 3.8)
        >>> [type(command).__name__ for command in commands]
        ['OpenEntryDoor', 'Finish', 'ShowSignal', 'StartTimer']
        >>> commands[1].outcome.value, commands[1].reasons
        ('referred', ('BIOMETRIC_MISMATCH',))
        >>> gate.state.value
        'retreat'
    """

    def __init__(
        self,
        gate_id: str,
        topology: Topology = Topology.TWO_STEP,
        settings: ControllerSettings | None = None,
        *,
        numbered_from: int = 0,
    ) -> None:
        """``numbered_from``: the number of the last transaction before this one (a restart)."""
        self.gate_id = gate_id
        self.topology = topology
        self.settings = settings or ControllerSettings()
        self._state = State.IDLE
        self._transaction: str | None = None
        self._count = numbered_from
        self._timers = 0
        self._timer: str | None = None
        self._doors = Doors(mantrap=topology is Topology.TWO_STEP)
        self._requests = 0
        self._request: str | None = None
        # Capture and verification answers to no current request, dropped.
        self.stale_results = 0
        self._faults: set[str] = set()
        # An officer closed the gate: it stays closed until an officer resets it,
        # even when a device fails and recovers in between.
        self._held_closed = False
        self._occupancy = 0
        self._inside = False
        self._reset_transaction()

    @property
    def state(self) -> State:
        """The current state."""
        return self._state

    @property
    def transaction(self) -> str | None:
        """The id of the transaction in progress, if any."""
        return self._transaction

    def commanded_open(self, door: Door) -> bool:
        """Whether the controller last ordered ``door`` open."""
        return self._doors.ordered_open(door)

    @property
    def current_request(self) -> str | None:
        """The capture request whose answers count now, if any."""
        return self._request

    def waiting_door(self) -> Door | None:
        """The door to open once the other is reported closed, if any."""
        return self._doors.waiting

    def refusal(self, action: OfficerAction) -> str | None:
        """Why an officer's ``action`` would be refused now (one line), or None if it is taken.

        The controller ignores a refused order itself; the console tells the
        officer why, rather than claiming an order that changes nothing.
        """
        nobody = self._transaction is None and not self._inside and self._occupancy == 0
        if action is OfficerAction.OPEN_EXIT:
            if self._faults:
                return "a device is down: the exit stays closed until it recovers"
            if nobody:
                return "nobody is in the gate: there is no one to let out"
        elif action is OfficerAction.REFER and self._transaction is None:
            return "no transaction in progress: there is no traveller to refer"
        return None

    def _reset_transaction(self) -> None:
        self._document: e.DocumentRead | None = None
        self._chip: e.ChipRead | None = None
        self._attempts = 0
        self._override = False
        self._request = None

    # -- entry point -----------------------------------------------------

    def handle(self, event: Event, now: float) -> list[Command]:
        """The commands that answer ``event`` at time ``now`` (seconds)."""
        # ``now`` is part of the contract so drivers and the simulation pass it
        # alike; decisions here depend only on the order of events.
        del now
        out: list[Command] = []
        match event:
            case e.DeviceFault(device=device):
                self._on_fault(device, out)
            case e.DeviceRecovered(device=device):
                self._on_recovered(device, out)
            case e.OfficerCommand(action=action):
                self._on_officer(action, out)
            case e.ServiceStopping():
                self._on_stopping(out)
            case e.DoorForced(door=Door.EXIT):
                self._on_exit_forced(out)
            case e.DoorForced(door=Door.ENTRY):
                out.append(c.Alarm("ENTRY_FORCED"))
            case e.DoorReported(door=door, position=position):
                self._on_door_reported(door, position, out)
            case e.DoorAnswered(door=door, position=position, refused=refused):
                self._on_door_answered(door, position, refused, out)
            case e.OccupancyChanged(count=count):
                self._on_occupancy(count, out)
            case e.Timeout(token=token):
                if token == self._timer:
                    self._timer = None
                    if token.startswith(_INTERLOCK):
                        self._on_interlock_timeout(out)
                    else:
                        self._on_timeout(out)
            case _:
                self._on_step(event, out)
        return out

    # -- the transaction's own steps ---------------------------------------

    def _on_step(self, event: Event, out: list[Command]) -> None:
        state = self._state
        match event:
            case e.DocumentPresented() if state is State.IDLE:
                self._count += 1
                self._transaction = f"{self.gate_id}-{self._count:06d}"
                self._reset_transaction()
                self._inside = False
                if self.topology is Topology.ONE_STEP:
                    self._doors.open(Door.ENTRY, out)
                out += [c.ReadChip(), c.ShowSignal(Signal.WAIT)]
                self._enter(State.READING, out)
            case e.DocumentRead() if state is State.READING and self._document is None:
                self._document = event
                self._judge_document(out)
            case e.ChipRead() if state is State.READING and self._chip is None:
                self._chip = event
                self._judge_document(out)
            case e.EntryPassed():
                self._on_entry_passed(out)
            case e.FaceCaptured() | e.FaceVerified() if not self._answers(event):
                self.stale_results += 1  # an earlier attempt's or transaction's answer
            case e.CaptureGuided(guidance=guidance) if state is State.CAPTURING and self._answers(
                event
            ):
                # Guidance changes nothing in the transaction: the capture timer still runs.
                out.append(c.GuideTraveller(guidance))
            case e.FaceCaptured(faces=faces) if state is State.CAPTURING:
                if faces > 1:
                    self._tailgating("MULTIPLE_FACES", out)
                elif faces == 1:
                    out.append(c.VerifyFace(event.request))
                    self._enter(State.VERIFYING, out)
                else:
                    self._retry_capture("FACE_NOT_FOUND", out)
            case e.FaceVerified() if state is State.VERIFYING:
                self._on_verified(event, out)
            case e.FaceVerified(reason=reason) if state is State.CAPTURING and (
                reason or ""
            ).startswith(REFERENCE_PREFIX):
                # The chip photo gave no template: known before any capture.
                self._refer((reason or "",), out)
            case e.ExitPassed():
                self._on_exit_passed(out)
            case _:
                pass  # a late or repeated report changes nothing

    def _judge_document(self, out: list[Command]) -> None:
        document, chip = self._document, self._chip
        if document is None or chip is None:
            return  # both reads are needed before deciding
        check = document.check
        rejected: list[str] = []
        referred: list[str] = []
        if not document.mrz_valid:
            rejected.append("MRZ_INVALID")
        (rejected if check.verdict is Verdict.REJECT else referred).extend(
            check.reasons if check.verdict is not Verdict.ACCEPT else ()
        )
        if chip.status is ChipStatus.OK and not chip.dg1_matches_mrz:
            rejected.append("CHIP_MRZ_MISMATCH")
        elif chip.status in _CHIP_REFERRAL:
            referred.append(_CHIP_REFERRAL[chip.status])
        if chip.status is ChipStatus.OK and chip.check.verdict is not Verdict.ACCEPT:
            # A chip that failed a required check: its data, or the chip itself, is not genuine.
            (rejected if chip.check.verdict is Verdict.REJECT else referred).extend(
                chip.check.reasons
            )
        if check.verdict is Verdict.REJECT and not check.reasons:
            rejected.append("DOCUMENT_REJECTED")
        if check.verdict is Verdict.REFER and not check.reasons:
            referred.append("DOCUMENT_REFERRED")
        if rejected:
            # The policy names MRZ_INVALID too: each reason once, in order.
            self._end(Outcome.REJECTED, tuple(dict.fromkeys((*rejected, *referred))), out)
        elif referred:
            self._refer(tuple(referred), out)
        elif self.topology is Topology.TWO_STEP:
            self._doors.open(Door.ENTRY, out)
            if self._doors.ordered_open(Door.ENTRY):
                out.append(c.ShowSignal(Signal.PASS))  # else once it opens (_opened)
            self._enter(State.ENTERING, out)
        elif self._inside:
            self._start_capture(out)
        else:
            self._enter(State.ENTERING, out)

    def _on_entry_passed(self, out: list[Command]) -> None:
        if self._state is State.RETREAT:
            return  # someone stepping back out; the door closes on leaving
        if self._state not in (State.READING, State.ENTERING) or self._inside:
            return
        if self.topology is Topology.TWO_STEP and not self._doors.ordered_open(Door.ENTRY):
            # The entry was not opened (yet) for this traveller: someone got in.
            out.append(c.Alarm("UNEXPECTED_ENTRY"))
            return
        self._inside = True
        self._doors.close(Door.ENTRY, out)
        if self._state is State.ENTERING:
            self._start_capture(out)

    def _start_capture(self, out: list[Command]) -> None:
        self._attempts = 1
        out.append(c.ShowSignal(Signal.LOOK))
        self._capture(out)

    def _retry_capture(self, reason: str, out: list[Command]) -> None:
        if self._attempts >= self.settings.capture_attempts:
            self._refer((reason,), out)
            return
        self._attempts += 1
        self._capture(out)

    def _capture(self, out: list[Command]) -> None:
        """Ask for a capture under a new request: answers to older ones no longer count."""
        self._requests += 1
        self._request = f"{self._transaction}/{self._requests}"
        out.append(c.CaptureFace(self._request))
        self._enter(State.CAPTURING, out)

    def _answers(self, event: e.FaceCaptured | e.FaceVerified | e.CaptureGuided) -> bool:
        """Whether ``event`` answers the capture request in progress."""
        return self._request is not None and event.request == self._request

    def _on_verified(self, event: e.FaceVerified, out: list[Command]) -> None:
        reason = event.reason or ""
        if reason.startswith(REFERENCE_PREFIX):
            # Another capture cannot mend an unusable chip photo.
            self._refer((reason,), out)
        elif reason == PRESENTATION_ATTACK:  # whatever the decision says
            # A print or a screen held up to the camera: an officer must see who it is.
            out.append(c.Alarm(PRESENTATION_ATTACK))
            self._refer((PRESENTATION_ATTACK,), out)
        elif event.decision is Decision.MATCH:
            self._doors.open(Door.EXIT, out)
            # "Walk through" only at an open door; until then, wait.
            opened = self._doors.ordered_open(Door.EXIT)
            out.append(c.ShowSignal(Signal.PASS if opened else Signal.WAIT))
            self._enter(State.EXITING, out)
        elif reason.endswith("MULTIPLE_FACES"):
            self._tailgating("MULTIPLE_FACES", out)
        elif event.decision is Decision.NO_MATCH:
            self._refer(("BIOMETRIC_MISMATCH",), out)
        else:
            self._retry_capture(reason or "FAILURE_TO_ACQUIRE", out)

    def _on_exit_passed(self, out: list[Command]) -> None:
        if self._state is not State.EXITING or not self._doors.ordered_open(Door.EXIT):
            # Not let out (in EXITING: the exit still waits for the entry to close).
            if not self._doors.ordered_open(Door.EXIT):
                out.append(c.Alarm("UNEXPECTED_EXIT"))
            return
        self._inside = False
        self._doors.close(Door.EXIT, out)
        key = self._document.check.document_key if self._document else None
        if key is not None:
            out.append(c.RecordPassage(key))
        reasons = ("OFFICER_OVERRIDE",) if self._override else ()
        self._finish(Outcome.ACCEPTED, reasons, out)
        self._idle(out)

    # -- exceptions --------------------------------------------------------

    def _on_timeout(self, out: list[Command]) -> None:
        state = self._state
        if state is State.RETREAT:
            self._doors.close(Door.ENTRY, out)
            self._idle(out)
        elif state in _IN_TRANSACTION:
            self._end(_TIMEOUT_OUTCOME[state], (f"TIMEOUT_{_STEP_NAME[state]}",), out)

    def _on_interlock_timeout(self, out: list[Command]) -> None:
        """The waiting door's other door was never reported closed in time."""
        out.append(c.Alarm("INTERLOCK_TIMEOUT"))
        if self._state in _IN_TRANSACTION:
            self._end(_TIMEOUT_OUTCOME[self._state], ("TIMEOUT_INTERLOCK",), out)
        # Outside a transaction (a retreat) the door keeps waiting for the
        # report; the alarm calls an officer.

    def _on_occupancy(self, count: int, out: list[Command]) -> None:
        self._occupancy = max(count, 0)
        if count > 1 and self._state in _IN_TRANSACTION:
            # Before a two-step entry opens, the mantrap counts nobody of ours.
            if not (self._state is State.READING and self.topology is Topology.TWO_STEP):
                self._tailgating("OCCUPANCY", out)
        elif count == 0 and self._state is State.RETREAT:
            self._doors.close(Door.ENTRY, out)
            self._idle(out)
        elif count == 0 and self._state is State.CLOSED:
            self._doors.close(Door.ENTRY, out)  # the last one out of a closed gate

    def _tailgating(self, sensed_by: str, out: list[Command]) -> None:
        out.append(c.Alarm("TAILGATING"))
        self._inside = True  # at least someone is in there
        self._refer(("TAILGATING", sensed_by), out)

    def _on_exit_forced(self, out: list[Command]) -> None:
        out.append(c.Alarm("EXIT_FORCED"))
        self._doors.close(Door.EXIT, out)
        if self._transaction is not None:
            self._finish(Outcome.ABORTED, ("EXIT_FORCED",), out)
        if self._state is not State.DEGRADED:
            # A breach needs an officer before the gate serves anyone again.
            out.append(c.ShowSignal(Signal.CLOSED))
            self._state = State.CLOSED

    def _on_door_reported(
        self, door: Door, position: DoorPosition | None, out: list[Command]
    ) -> None:
        self._opened(self._doors.reported(door, position, out), out)

    def _on_door_answered(
        self, door: Door, position: DoorPosition | None, refused: bool, out: list[Command]
    ) -> None:
        interlocked, opened = self._doors.answered(door, position, refused, out)
        if interlocked:
            out.append(c.Alarm("INTERLOCK_REFUSED"))
        self._opened(opened, out)

    def _opened(self, door: Door | None, out: list[Command]) -> None:
        """A waiting door was ordered open: walk through it, and time the step from now."""
        if door is None:
            return
        step = State.ENTERING if door is Door.ENTRY else State.EXITING
        if self._state is step:
            out.append(c.ShowSignal(Signal.PASS))
        if self._timer is not None and self._timer.startswith(_INTERLOCK):
            if self._state in _STEP_NAME:
                self._arm(out)
            else:
                self._timer = None  # closed or degraded meanwhile: nothing to time

    def _on_fault(self, device: str, out: list[Command]) -> None:
        self._faults.add(device)
        # Fail safe: exit closed whatever we believe, entry open for retreat.
        self._make_safe(out, whatever_we_believe=True)
        if self._transaction is not None:
            self._finish(Outcome.ABORTED, ("DEVICE_FAULT",), out)
        out.append(c.ShowSignal(Signal.CLOSED))
        self._timer = None
        self._state = State.DEGRADED

    def _on_recovered(self, device: str, out: list[Command]) -> None:
        self._faults.discard(device)
        if self._faults or self._state is not State.DEGRADED:
            return
        entry_wanted = self._doors.wanted_open(Door.ENTRY)
        if entry_wanted and self._occupancy > 0:
            self._retreat(out)
        else:
            self._doors.close(Door.ENTRY, out)
            self._idle(out)

    def _on_officer(self, action: OfficerAction, out: list[Command]) -> None:
        if action is OfficerAction.OPEN_EXIT:
            if self._faults:
                out.append(c.Alarm("OVERRIDE_REFUSED_DEGRADED"))
                return
            if self.refusal(action) is not None:
                return  # nobody to let out: an exit opened for no one is a breach
            if self._transaction is None:
                # An override outside a transaction is a transaction of its own,
                # so the passage is audited with its reason.
                self._count += 1
                self._transaction = f"{self.gate_id}-{self._count:06d}"
                self._reset_transaction()
            self._override = True
            self._doors.open(Door.EXIT, out)
            self._enter(State.EXITING, out)
        elif action is OfficerAction.REFER:
            if self._transaction is not None:
                self._refer(("OFFICER_REFER",), out)
        elif action is OfficerAction.CLOSE:
            self._out_of_service("OFFICER_CLOSE", out)
        else:  # RESET
            self._held_closed = False
            if self._transaction is not None:
                self._finish(Outcome.ABORTED, ("OFFICER_RESET",), out)
            self._doors.close(Door.EXIT, out)
            self._doors.close(Door.ENTRY, out)
            if self._state is State.DEGRADED:
                out.append(c.ShowSignal(Signal.CLOSED))  # a reset cannot mend a device
            else:
                self._idle(out)

    def _on_stopping(self, out: list[Command]) -> None:
        self._out_of_service("SERVICE_STOP", out)
        self._timer = None

    # -- endings and helpers -------------------------------------------------

    def _refer(self, reasons: tuple[str, ...], out: list[Command]) -> None:
        self._end(Outcome.REFERRED, reasons, out)

    def _make_safe(self, out: list[Command], *, whatever_we_believe: bool = False) -> bool:
        """The safe-close rule: exit shut, and the way back open for anyone inside (once
        the exit is reported closed), else the entry shut too.  Whether anyone is inside.

        ``whatever_we_believe``: order the exit shut even if it was never ordered open
        (after a fault nothing the controller believes about the doors is trusted).
        """
        if whatever_we_believe:
            self._doors.shut_whatever_we_believe(Door.EXIT, out)
        else:
            self._doors.close(Door.EXIT, out)
        inside = self._inside or self._occupancy > 0
        if inside:
            self._doors.open(Door.ENTRY, out)
        elif not whatever_we_believe:
            self._doors.close(Door.ENTRY, out)
        return inside

    def _out_of_service(self, reason: str, out: list[Command]) -> None:
        """An officer's close or a stop: abort, make safe, and hold the gate closed."""
        if self._transaction is not None:
            self._finish(Outcome.ABORTED, (reason,), out)
        self._make_safe(out)
        out.append(c.ShowSignal(Signal.CLOSED))
        self._held_closed = True
        if self._state is not State.DEGRADED:
            self._state = State.CLOSED

    def _end(self, outcome: Outcome, reasons: tuple[str, ...], out: list[Command]) -> None:
        """Finish the transaction: the safe-close rule, then the traveller's signal."""
        inside = self._make_safe(out)
        self._finish(outcome, reasons, out)
        # Referred and rejected travellers are sent to an officer; the signal
        # stays until the next traveller presents a document.
        signal = Signal.READY if outcome is Outcome.ABORTED else Signal.OFFICER
        if self._held_closed and outcome is Outcome.ABORTED:
            signal = Signal.CLOSED
        out.append(c.ShowSignal(signal))
        if inside:
            self._retreat(out)
        else:
            self._inside = False
            self._state = State.CLOSED if self._held_closed else State.IDLE

    def _finish(self, outcome: Outcome, reasons: tuple[str, ...], out: list[Command]) -> None:
        if self._transaction is None:
            return
        out.append(c.Finish(self._transaction, outcome, reasons))
        self._transaction = None
        self._timer = None

    def _retreat(self, out: list[Command]) -> None:
        self._inside = False
        self._enter(State.RETREAT, out)

    def _idle(self, out: list[Command]) -> None:
        """Ready for the next traveller, unless an officer or a stop holds the gate closed."""
        self._inside = False
        self._timer = None
        if self._held_closed:
            self._state = State.CLOSED
            out.append(c.ShowSignal(Signal.CLOSED))
        else:
            self._state = State.IDLE
            out.append(c.ShowSignal(Signal.READY))

    def _enter(self, state: State, out: list[Command]) -> None:
        """Move to ``state`` and arm its timer; older timers no longer count."""
        self._state = state
        self._arm(out)

    def _arm(self, out: list[Command]) -> None:
        """Arm the current step's timer, or the interlock's while a door waits."""
        self._timers += 1
        if self._doors.waiting is not None:
            self._timer = f"{_INTERLOCK}-{self._timers}"
            seconds = self.settings.interlock_timeout_s
        else:
            self._timer = f"{_STEP_NAME[self._state]}-{self._timers}"
            seconds = self.settings.timeout_for(self._state)
        out.append(c.StartTimer(self._timer, seconds))
