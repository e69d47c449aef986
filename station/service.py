"""The on-gate service: the drivers report, the gate controller decides, the drivers act.

``GateService`` runs one gate in a single thread of control.  Each ``step``
polls the reader, the door board and the occupancy sensor (none of them
blocks), collects finished background work (chip reads in a thread, face
enrolment and verification in the matching core), fires the controller's
timer, and turns all of it into controller events.  The controller's
commands go back to the drivers, the indicator, the audit trail and the
metrics.  The controller itself is the pure state machine of ``egate.gate``.

What a traveller brings (the MRZ, the chip's data groups, the face images
and templates) lives in one ``_Transaction`` object and is dropped when the
transaction ends; audit records, logs and metrics get outcomes, reason
codes, durations and the salted document hash only.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import TypeVar

from egate.audit import AuditTrail
from egate.biometrics.decision import Decision
from egate.biometrics.image import ImageError, RgbImage, decode_chip_photo
from egate.biometrics.matching import MatchingCore, MatchingCoreBusy, WorkerDied
from egate.biometrics.verifier import Enrollment, Template, Verification
from egate.documents.mrz import MrzResult
from egate.documents.policy import DocumentPolicy
from egate.gate import commands as c
from egate.gate import events as e
from egate.gate.controller import GateController
from egate.gate.settings import State
from egate.gate.transaction import StepClock, TransactionRecord, iso_time
from egate.metrics import GateMetrics
from egate.ratelimit import LogLimiter
from hardware import chip as hwchip
from hardware.camera import Frame
from hardware.door import DoorEvent, DoorFault, DoorStateChanged, Refused, WatchdogTripped
from hardware.doorprotocol import DoorState
from hardware.occupancy import OccupancyChanged, OccupancyEvent, Passage, TailgateDetected
from hardware.reader import DocumentRead, ReadFailed
from station.doororders import DoorOrders, board_door, ordered_door
from station.gatedevices import GateDevices
from station.orders import OfficerOrder
from station.owntime import OwnTime

Clock = Callable[[], float]
Polled = TypeVar("Polled")

_DEVICE_COMMANDS = (
    c.OpenEntryDoor,
    c.CloseEntryDoor,
    c.OpenExitDoor,
    c.CloseExitDoor,
    c.ShowSignal,
)
_SIGNAL_TEXT = {
    c.Signal.READY: "place your passport on the reader",
    c.Signal.WAIT: "please wait",
    c.Signal.LOOK: "look at the camera",
    c.Signal.PASS: "please walk through",
    c.Signal.OFFICER: "please see an officer",
    c.Signal.CLOSED: "gate closed",
}


@dataclass(frozen=True, slots=True)
class ServiceTiming:
    """How long the service waits for things of its own."""

    # Background work must start within this long (matching core deadline).
    match_deadline_s: float = 5.0
    # At a stop, the transaction in progress may finish on its own this long.
    stop_grace_s: float = 10.0
    # At a stop, door orders get this long to be carried out (a door's travel and more).
    door_flush_s: float = 5.0
    # A door in fault is ordered again this often, until it answers.
    door_retry_s: float = 5.0
    # A driver that raised is polled again after this long.
    driver_retry_s: float = 5.0
    # Reader misreads are logged at most once in this long (they are all counted).
    misread_log_s: float = 10.0


@dataclass(slots=True)
class _Transaction:
    """The personal and biometric data of the transaction in progress: memory only."""

    id: str
    mrz: MrzResult
    document_key: str | None
    # The chip read and its photo, decoded in the chip thread (or why it would not decode).
    chip: Future[tuple[hwchip.ChipRead, RgbImage | str | None]] | None = None
    enrollment: Future[Enrollment] | None = None
    template: Template | None = None
    reference_failure: str | None = None
    capture_wanted: bool = False
    # The controller's capture request being served, and the one the verification answers.
    request: str = ""
    verifying: str = ""
    frame: RgbImage | None = None
    verification: Future[Verification] | None = None
    result: Verification | None = None

    def __repr__(self) -> str:
        return f"_Transaction({self.id}, <personal data redacted>)"


@dataclass(slots=True)
class RunSummary:
    """What a run of the service did."""

    transactions: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    own_seconds: list[float] = field(default_factory=list)


class GateService:
    """Runs one gate: see the module docstring.  Not thread-safe: one thread steps it.

    The service on a mock gate (emulated reader, doors and occupancy sensor
    on pseudo-terminals, the real drivers on them), wired as ``egate run``
    wires it.  The emulated reader reads the ICAO specimen passport, which
    expired in 1994 and whose chip is not on the (mock) chip reader::

        >>> import time
        >>> from contextlib import ExitStack
        >>> from datetime import date
        >>> from pathlib import Path
        >>> from prometheus_client import CollectorRegistry
        >>> from egate.biometrics.matching import MatchingCore
        >>> from egate.documents.policy import DocumentPolicy, DocumentPolicySettings
        >>> from egate.gate.controller import GateController
        >>> from egate.metrics import GateMetrics
        >>> from egate.privacy import Pseudonymizer
        >>> from hardware.devices import EmulationSettings
        >>> from hardware.indicator import RecordingIndicator
        >>> from station.mockgate import MockGate, mock_devices
        >>> stack = ExitStack()
        >>> indicator = RecordingIndicator()
        >>> gate = stack.enter_context(MockGate(mock_devices(), EmulationSettings(), indicator,
        ...                                     today=date.today, base_dir=Path("."), stream=False))
        >>> core = stack.enter_context(MatchingCore(workers=1, kind="thread"))
        >>> records = []
        >>> service = GateService(
        ...     GateController("gate-1"), gate.devices, core,
        ...     DocumentPolicy(DocumentPolicySettings(), Pseudonymizer.ephemeral()),
        ...     audit=None, metrics=GateMetrics("gate-1", CollectorRegistry()),
        ...     on_record=records.append)
        >>> service.start()
        >>> service.wait_for_devices(grace_s=5.0, sleep=time.sleep)  # the missing ones
        []
        >>> gate.emulators.reader.send(["P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<",
        ...                             "L898902C<3UTO6908061F9406236ZE184226B<<<<<14"])
        >>> give_up = time.monotonic() + 10.0
        >>> while not records and time.monotonic() < give_up:
        ...     service.step()
        ...     time.sleep(0.002)
        >>> records[0].transaction, records[0].outcome.value, records[0].reasons
        ('gate-1-000001', 'rejected', ('EXPIRED', 'CHIP_ABSENT'))
        >>> indicator.current.signal.value, indicator.current.text
        ('officer', 'please see an officer')
        >>> service.stop(sleep=time.sleep)
        >>> service.close()
        >>> stack.close()
    """

    def __init__(
        self,
        controller: GateController,
        devices: GateDevices,
        matching: MatchingCore,
        policy: DocumentPolicy,
        *,
        audit: AuditTrail | None,
        metrics: GateMetrics,
        clock: Clock = time.monotonic,
        wall_clock: Clock = time.time,
        timing: ServiceTiming | None = None,
        log: logging.Logger | None = None,
        on_record: Callable[[TransactionRecord], None] | None = None,
        observer: Callable[[float, e.Event | c.Command], None] | None = None,
        zone: tzinfo | None = None,
    ) -> None:
        """``observer`` sees every event the controller gets and every command it gives
        (a training replay's transcript); ``zone``: the time zone documents are judged
        in (default: the machine's)."""
        self.controller = controller
        self.devices = devices
        self.matching = matching
        self.policy = policy
        self.audit = audit
        self.metrics = metrics
        self.timing = timing or ServiceTiming()
        self._clock = clock
        self._wall = wall_clock
        self._log = log or logging.getLogger("egate.service")
        self._on_record = on_record
        self._observer = observer
        self._zone = zone
        self._steps = StepClock(controller.gate_id)
        # The health last reported to the controller (None: not reported yet).
        self._reported: dict[str, bool | None] = dict.fromkeys(devices.names())
        self._occupancy = 0
        self._chip_pool = ThreadPoolExecutor(1, thread_name_prefix="egate-chip")
        self._door_orders = DoorOrders(devices.doors)
        # Drivers that raised: why, and when to poll them again.
        self._broken: dict[str, tuple[str, float]] = {}
        self._misreads = LogLimiter(self.timing.misread_log_s)
        self._first_step = True
        self._stale_seen = controller.stale_results
        self._events: deque[e.Event] = deque()
        self._tx: _Transaction | None = None
        self._presented: _Transaction | None = None
        self._timer: tuple[str, float] | None = None
        self._own_time = OwnTime()
        self._door_retry_at = 0.0
        self._feeding = False
        # The transaction of the event being handled (an alarm may end it).
        self._handling: str | None = None
        self._accepting = True
        # Officers' orders from the console's thread (deque: thread-safe append/popleft).
        self._officer: deque[OfficerOrder] = deque()
        self.summary = RunSummary()
        metrics.state(controller.state)

    # -- the loop ------------------------------------------------------------

    def start(self) -> None:
        """Write the service's start record to the audit trail."""
        self._audit({"kind": "service", "event": "start", "detail": self.devices.describe()})
        self._log.info("gate %s: service started", self.controller.gate_id)

    def wait_for_devices(self, grace_s: float, sleep: Callable[[float], None]) -> list[str]:
        """Poll until every device answers or ``grace_s`` passes; the missing ones are faults.

        Returns the devices that were missing; the gate is then degraded
        until they answer.
        """
        give_up = self._clock() + grace_s
        while True:
            now = self._clock()
            self._poll_devices(now, feed=False)
            health = self._health()
            if all(problem is None for problem in health.values()) or now >= give_up:
                break
            sleep(0.01)
        missing = [device for device, problem in health.items() if problem is not None]
        for device, problem in health.items():
            if problem is None:
                self._reported[device] = True
                self.metrics.device(device, True)
            else:
                self._device_changed(device, up=False, reason=f"not found at start: {problem}",
                                     now=self._clock())  # fmt: skip
        return missing

    def step(self) -> None:
        """One round: poll the drivers, collect background work, fire the timer."""
        now = self._clock()
        if self._first_step:
            # The door positions heard before: the controller opens no door without them.
            self._first_step = False
            for report in self._door_orders.positions():
                self._feed(report, now)
        self._poll_devices(now, feed=True)
        for device, problem in self._health().items():
            up = problem is None
            if self._reported[device] is not None and self._reported[device] != up:
                self._device_changed(device, up=up, reason=problem or "", now=now)
        while self._officer:
            order = self._officer.popleft()
            action = order.action
            if not order.claim():
                # The console has answered "not taken": doing it now would make that a lie.
                self._log.warning("gate %s: officer %s dropped: not taken in time",
                                  self.controller.gate_id, action.value)  # fmt: skip
                continue
            try:
                refused = self.controller.refusal(action)
                if refused is not None:
                    self._audit({"kind": "officer", "action": action.value, "refused": refused,
                                 "transaction": self.controller.transaction})  # fmt: skip
                    self._log.info("gate %s: officer %s refused: %s",
                                   self.controller.gate_id, action.value, refused)  # fmt: skip
                    self.metrics.officer_refused(action.value)
                    order.refuse(refused)
                    continue
                self._audit({"kind": "officer", "action": action.value,
                             "transaction": self.controller.transaction})  # fmt: skip
                self.metrics.officer(action.value)
                if action is e.OfficerAction.RESET:
                    self._door_retry_at = 0.0  # a reset orders a faulted door again at once
                self._feed(e.OfficerCommand(action), now)
            except BaseException:
                order.fail("the service failed while carrying it out")
                raise
            order.taken()
        self._collect(now)
        self._repeat_to_faulted_doors(now)
        if self._timer is not None and now >= self._timer[1]:
            token, self._timer = self._timer[0], None
            self._feed(e.Timeout(token), now)

    def _repeat_to_faulted_doors(self, now: float) -> None:
        """Order a door in fault again now and then: a board clears a fault on a new order.

        The exit is always ordered shut; the entry as the controller wants it
        (open while someone may need to walk back).
        """
        doors = self.devices.doors
        if now < self._door_retry_at or not doors.connected or doors.busy:
            return
        self._door_retry_at = now + self.timing.door_retry_s
        for door in (e.Door.EXIT, e.Door.ENTRY):
            side = board_door(door)
            if doors.state(side) is not DoorState.FAULT:
                continue
            if door is e.Door.ENTRY and self.controller.commanded_open(door):
                doors.open(side)
            else:
                doors.close(side)

    def officer(self, order: OfficerOrder | e.OfficerAction) -> None:
        """An officer's order (any thread): claimed, then carried out or refused, at the next step.

        A bare action is an order nobody waits for an answer to.
        """
        self._officer.append(order if isinstance(order, OfficerOrder) else OfficerOrder(order))

    def stop(self, sleep: Callable[[float], None]) -> None:
        """Stop taking travellers, let the one inside finish briefly, then abort and close."""
        self._accepting = False
        give_up = self._clock() + self.timing.stop_grace_s
        while self.controller.transaction is not None and self._clock() < give_up:
            self.step()
            sleep(0.005)
        self._feed(e.ServiceStopping(), self._clock())
        # The board settles the closing orders, and a way back that waits for the exit
        # to be reported closed is opened (no document is taken any more).
        flush_until = self._clock() + self.timing.door_flush_s
        while self._clock() < flush_until and (
            self.devices.doors.busy or self.controller.waiting_door() is not None
        ):
            self._poll_devices(self._clock(), feed=True)
            sleep(0.005)
        self._audit({"kind": "service", "event": "stop", "detail": ""})
        self._log.info("gate %s: service stopped", self.controller.gate_id)

    def close(self) -> None:
        """Release the chip thread; drivers and the matching core belong to the caller."""
        self._chip_pool.shutdown(wait=True, cancel_futures=True)
        self._tx = None

    # -- devices to events -----------------------------------------------------

    def _poll_devices(self, now: float, *, feed: bool) -> None:
        devices = self.devices
        for read in self._guarded("reader", devices.reader.poll, now):
            if feed:
                self._on_reader(read, now)
        for door_event in self._guarded("doors", devices.doors.poll, now):
            if feed:
                self._on_door_event(door_event, now)
        if devices.occupancy is not None:
            for sensor_event in self._guarded("occupancy", devices.occupancy.poll, now):
                if feed:
                    self._on_occupancy_event(sensor_event, now)

    def _guarded(
        self, device: str, poll: Callable[[float], list[Polled]], now: float
    ) -> list[Polled]:
        """``poll(now)``, or nothing while the driver is out after raising.

        A driver is this program's code, but no bug of it in answer to what a
        device sent may end the service: the device is marked down (the gate
        degrades, the audit trail says why) and polled again after a pause.
        """
        broken = self._broken.get(device)
        if broken is not None and now < broken[1]:
            return []
        try:
            events = poll(now)
        except Exception as error:  # any driver failure degrades the gate, never kills it
            self._driver_failed(device, error, now)
            return []
        if broken is not None:
            del self._broken[device]
            self._log.info("gate %s: %s driver polls again", self.controller.gate_id, device)
        return events

    def _driver_failed(self, device: str, error: Exception, now: float) -> None:
        reason = f"driver error: {type(error).__name__}"
        self._broken[device] = (reason, now + self.timing.driver_retry_s)
        self._log.error("gate %s: %s %s: %s", self.controller.gate_id, device, reason,
                        str(error)[:200],
                        exc_info=self._log.isEnabledFor(logging.DEBUG))  # fmt: skip
        self._alarm("DRIVER_ERROR", detail=f"{device}: {type(error).__name__}")

    def _health(self) -> dict[str, str | None]:
        """Each device and why it is down: the drivers' view, and drivers out after raising."""
        health = self.devices.health()
        for device, (reason, _) in self._broken.items():
            if device in health:
                health[device] = reason
        return health

    def _on_reader(self, read: DocumentRead | ReadFailed, now: float) -> None:
        if isinstance(read, ReadFailed):
            self.metrics.misread()
            # A noisy line sends misreads by the thousand: a line now and then says how many.
            suppressed = self._misreads.allow(now)
            if suppressed is not None:
                more = f" (+{suppressed} more since the last line)" if suppressed else ""
                self._log.info("reader: misread (%s)%s", read.reason, more)
            return
        if not self._accepting or self.controller.state is not State.IDLE:
            self._log.info("reader: document ignored, gate %s", self.controller.state.value)
            return
        moment = self._moment()
        with self._own_time.own():
            decision = self.policy.evaluate(read.result, moment)
        # The controller opens the transaction and asks for the chip in one go:
        # the transaction's data must be in place before its commands run.
        self._presented = _Transaction("", read.result, decision.document_key)
        self._feed(e.DocumentPresented(), now)
        self._presented = None
        if self._tx is None:
            return
        fields = read.result.fields
        self._steps.note_document(
            fields.document_type or None, fields.issuing_state or None, decision.document_key
        )
        self._feed(e.DocumentRead(read.result.valid, e.DocumentCheck.from_decision(decision)), now)

    def _on_door_event(self, event: DoorEvent, now: float) -> None:
        for reported in self._door_orders.events(event):
            self._feed(reported, now)
        match event:
            case DoorStateChanged(door=door, state=state):
                # A door in fault may stand anywhere; count it open only when it says so.
                is_open = state in (DoorState.OPEN, DoorState.OPENING, DoorState.CLOSING)
                self.metrics.door(door.value.lower(), is_open)
            case DoorFault(door=door, code=code):
                self._alarm(f"DOOR_FAULT_{door.value}", detail=code)
            case WatchdogTripped():
                self._alarm("DOOR_WATCHDOG")
            case Refused(command=command, code=code, text=text):
                self._log.warning("doors: %s %s refused: %s %s", command.verb,
                                  " ".join(command.args), code, text)  # fmt: skip

    def _on_occupancy_event(self, event: OccupancyEvent, now: float) -> None:
        match event:
            case OccupancyChanged(count=count):
                self._occupancy = count
                self._feed(e.OccupancyChanged(count), now)
            case Passage(direction=direction, beam=beam):
                # The sensor says which way and, with beams, through which door; a
                # count-only sensor's passage went through the door we ordered open.
                door = e.Door(beam.lower()) if beam in ("ENTRY", "EXIT") else None
                if door is None:
                    door = next(
                        (way for way in e.Door if self.controller.commanded_open(way)), None
                    )
                if direction == "in" and door is e.Door.ENTRY:
                    self._feed(e.EntryPassed(), now)
                elif direction == "out" and door is e.Door.EXIT:
                    self._feed(e.ExitPassed(), now)
            case TailgateDetected():
                # The sensor saw two people pass as one: at least two are inside.
                self._feed(e.OccupancyChanged(max(2, self._occupancy)), now)

    def _device_changed(self, device: str, *, up: bool, reason: str, now: float) -> None:
        self._reported[device] = up
        kind = "device_recovered" if up else "device_fault"
        self._audit({"kind": kind, "device": device, "reason": reason})
        self.metrics.device(device, up)
        log = self._log.info if up else self._log.warning
        log("gate %s: %s %s%s", self.controller.gate_id, device,
            "back" if up else "down", f" ({reason})" if reason else "")  # fmt: skip
        self._feed(e.DeviceRecovered(device) if up else e.DeviceFault(device, reason), now)

    # -- background work -------------------------------------------------------

    def _collect(self, now: float) -> None:
        tx = self._tx
        if tx is None:
            return
        if tx.chip is not None and tx.chip.done():
            self._on_chip(tx, tx.chip, now)
        if tx.enrollment is not None and tx.enrollment.done():
            self._on_enrolled(tx, tx.enrollment)
        if tx.capture_wanted and (tx.template is not None or tx.reference_failure):
            self._capture(tx, now)
        if tx.verification is not None and tx.verification.done():
            self._on_verified(tx, tx.verification, now)

    def _on_chip(
        self,
        tx: _Transaction,
        future: Future[tuple[hwchip.ChipRead, RgbImage | str | None]],
        now: float,
    ) -> None:
        tx.chip = None
        try:
            read, photo = future.result()
        except Exception as error:  # a driver bug must not take the gate down
            self._log.warning("chip reader failed: %s", type(error).__name__)
            read, photo = hwchip.ChipRead(e.ChipStatus.UNREADABLE), None
        status = read.status
        matches = read.dg1_mrz is None or _same_mrz(read.dg1_mrz, tx.mrz.lines)
        if status is e.ChipStatus.OK:
            with self._own_time.own():  # handing the chip photo over is the service's own work
                self._enrol(tx, photo, now)
        self._feed(e.ChipRead(status, matches), now)

    def _enrol(self, tx: _Transaction, photo: RgbImage | str | None, now: float) -> None:
        if photo is None or isinstance(photo, str):
            tx.reference_failure = photo or "REFERENCE_ABSENT"
            return
        reference = photo
        try:
            tx.enrollment = self.matching.submit_enroll(
                reference, now + self.timing.match_deadline_s
            )
        except MatchingCoreBusy:
            tx.reference_failure = "REFERENCE_NOT_ENROLLED"
            self._alarm("MATCHING_CORE_BUSY")

    def _on_enrolled(self, tx: _Transaction, future: Future[Enrollment]) -> None:
        tx.enrollment = None
        try:
            enrollment = future.result()
        except Exception as error:  # deadline passed, worker died, core closed
            self._log.warning("enrolment failed: %s", type(error).__name__)
            tx.reference_failure = "REFERENCE_NOT_ENROLLED"
            return
        if enrollment.template is None:
            tx.reference_failure = enrollment.reason or "REFERENCE_FACE_NOT_FOUND"
        else:
            tx.template = enrollment.template

    def _capture(self, tx: _Transaction, now: float) -> None:
        if tx.reference_failure is not None:
            tx.capture_wanted = False
            failure = e.FaceVerified(
                Decision.FAILURE_TO_ACQUIRE, tx.reference_failure, request=tx.request
            )
            self._feed(failure, now)
            return
        if tx.frame is None:
            with self._own_time.device():  # camera time is device time, not the service's own
                frame = self._guarded_grab(now)
            if frame is None:
                return  # the camera's health decides; the capture timer guards the wait
            tx.frame = frame.image
        assert tx.template is not None
        try:
            tx.verification = self.matching.submit_verify(
                tx.template, tx.frame, now + self.timing.match_deadline_s
            )
        except MatchingCoreBusy:
            return  # try again next step; the capture timer bounds the wait
        tx.capture_wanted = False
        tx.verifying = tx.request

    def _guarded_grab(self, now: float) -> Frame | None:
        """A frame from the camera, or None (also when its driver raises: the camera is down)."""
        if "camera" in self._broken and now < self._broken["camera"][1]:
            return None
        try:
            frame = self.devices.camera.grab()
        except Exception as error:  # a driver bug degrades the gate, never kills it
            self._driver_failed("camera", error, now)
            return None
        self._broken.pop("camera", None)
        return frame

    def _on_verified(self, tx: _Transaction, future: Future[Verification], now: float) -> None:
        tx.verification = None
        try:
            result = future.result()
        except WorkerDied:
            tx.capture_wanted = True  # the same frame once more, on a fresh worker
            return
        except Exception as error:  # deadline passed: the controller's timer refers
            self._log.warning("verification failed: %s", type(error).__name__)
            return
        tx.frame = None
        tx.result = result
        self._steps.note_match(result.distance)
        timings = result.timings
        self._steps.note_matching(timings.get("descriptor", 0.0) + timings.get("compare", 0.0))
        self._feed(e.FaceCaptured(result.faces, tx.verifying), now)

    # -- the controller and its commands -------------------------------------

    def _feed(self, event: e.Event, now: float) -> None:
        """Hand ``event`` (and whatever the commands cause) to the controller.

        Events raised while commands are carried out join the queue rather
        than recurse, so every event's commands are carried out whole and in
        order (a nested call let a stale step timer replace a newer one).
        """
        self._events.append(event)
        if self._feeding:
            return
        self._feeding = True
        finished: list[str] = []
        with self._own_time.own():
            try:
                while self._events:
                    self._handling = self.controller.transaction
                    event = self._events.popleft()
                    commands = self.controller.handle(event, now)
                    self._observe(event, now)
                    for command in commands:
                        self._observe(command, now)
                        outcome = self._carry_out(command, now)
                        if outcome is not None:
                            finished.append(outcome)
                    self._steps.observe(self.controller.state, now)
            finally:
                self._feeding = False
            self.metrics.state(self.controller.state)
            stale = self.controller.stale_results
            self.metrics.stale_results(stale - self._stale_seen)
            self._stale_seen = stale
        if finished:
            own = self._own_time.take()
            self.metrics.own_time(own)
            self.summary.own_seconds.append(own)

    def _carry_out(self, command: c.Command, now: float) -> str | None:
        """Do what ``command`` asks; the outcome's name when it finished a transaction."""
        if isinstance(command, _DEVICE_COMMANDS):
            with self._own_time.device():  # door boards and indicators: not the service's time
                self._to_device(command)
            return None
        match command:
            case c.ReadChip():
                self._read_chip(now)
            case c.CaptureFace(request=request):
                self._steps.note_capture()
                if self._tx is not None:
                    self._tx.capture_wanted = True
                    self._tx.request = request
                    self._tx.result = None
                    self._collect(now)
            case c.VerifyFace(request=request):
                tx = self._tx
                if tx is not None and tx.result is not None and tx.verifying == request:
                    result = tx.result
                    event = e.FaceVerified(
                        result.decision, result.reason, result.distance, request=request
                    )
                    self._events.append(event)
            case c.StartTimer(token=token, seconds=seconds):
                self._timer = (token, now + seconds)
            case c.RecordPassage(document_key=key):
                if key is not None:
                    self.policy.record_passage(key, self._moment())
            case c.Alarm(reason=reason):
                self._alarm(reason)
            case c.Finish():
                return self._finish(command, now)
        return None

    def _moment(self) -> datetime:
        """The wall clock's time, zoned: the policy compares these (aware with aware)."""
        return datetime.fromtimestamp(self._wall(), tz=self._zone).astimezone(self._zone)

    def _observe(self, item: e.Event | c.Command, now: float) -> None:
        if self._observer is not None:
            with self._own_time.device():  # a transcript printed live is not the service's time
                self._observer(now, item)

    def _to_device(self, command: c.Command) -> None:
        device = "doors" if not isinstance(command, c.ShowSignal) else "indicator"
        try:
            if isinstance(command, c.ShowSignal):
                signal = command.signal
                self.devices.indicator.show(signal, _SIGNAL_TEXT[signal])
            else:
                self._door_orders.carry_out(command)
        except Exception as error:  # a driver bug degrades the gate, never kills it
            self._driver_failed(device, error, self._clock())
            door = ordered_door(command)
            if door is not None:
                # The order never left: the board will not answer it.
                self._events.append(e.DoorAnswered(door, None))

    def _read_chip(self, now: float) -> None:
        presented, transaction = self._presented, self.controller.transaction
        if presented is None or transaction is None:
            return  # only a document just presented opens a transaction
        presented.id = transaction
        self._tx = tx = presented
        reader = self.devices.chip
        try:
            key = hwchip.mrz_information(tx.mrz)
        except (ValueError, IndexError, KeyError):
            key = None
        if reader is None or key is None:
            # No chip reader, or an MRZ that yields no access key.
            status = e.ChipStatus.ABSENT if reader is None else e.ChipStatus.ACCESS_DENIED
            done: Future[tuple[hwchip.ChipRead, RgbImage | str | None]] = Future()
            done.set_result((hwchip.ChipRead(status), None))
            tx.chip = done
            return
        tx.chip = self._chip_pool.submit(_read_chip, reader, key)

    def _finish(self, finish: c.Finish, now: float) -> str:
        record = self._steps.finish(finish, now, self._wall())
        self._tx = None  # the traveller's data ends with the transaction
        self._timer = None
        self._audit_record(record.to_json())
        self.metrics.transaction(record)
        outcome = finish.outcome.value
        self.summary.transactions += 1
        self.summary.outcomes[outcome] = self.summary.outcomes.get(outcome, 0) + 1
        self._log.info("gate %s: %s %s %s", record.gate_id, record.transaction, outcome,
                       " ".join(record.reasons))  # fmt: skip
        if self._on_record is not None:
            with self._own_time.device():  # the caller's display of the record: not ours
                self._on_record(record)
        return outcome

    # -- records -----------------------------------------------------------------

    def _alarm(self, reason: str, detail: str = "") -> None:
        self.metrics.alarm(reason)
        transaction = self._handling if self._feeding else self.controller.transaction
        self._audit({"kind": "alarm", "reason": reason, "detail": detail,
                     "transaction": transaction})  # fmt: skip
        self._log.warning("gate %s: alarm %s %s", self.controller.gate_id, reason, detail)

    def _audit(self, fields: dict[str, object]) -> None:
        kind = fields.pop("kind")
        record = {"kind": kind, "time": iso_time(self._wall()),
                  "gate_id": self.controller.gate_id, **fields}  # fmt: skip
        self._audit_record(record)

    def _audit_record(self, record: dict[str, object]) -> None:
        if self.audit is not None:
            self.audit.write(record)


def _read_chip(
    reader: hwchip.ChipReader, key: str
) -> tuple[hwchip.ChipRead, RgbImage | str | None]:
    """Read the chip and decode its photo, in the chip thread: a chip photo built to cost
    seconds of decoding (or refused as too large) never holds up the service's loop.

    The photo is the decoded image, the reason it is unusable, or None without a chip.
    """
    read = reader.read(key)
    if read.status is not e.ChipStatus.OK:
        return read, None
    if read.dg2_image is None:
        return read, "REFERENCE_ABSENT"
    try:
        return read, decode_chip_photo(read.dg2_image, "chip DG2")
    except ImageError:
        return read, "REFERENCE_UNREADABLE"


def _same_mrz(dg1: tuple[str, ...], printed: tuple[str, ...]) -> bool:
    """Whether the chip's DG1 holds the printed MRZ (line breaks aside)."""
    return "".join(dg1).strip() == "".join(printed).strip()
