"""The on-gate service: the drivers report, the gate controller decides, the drivers act.

(A little past the ~400-line guideline with its usage example: the loop and
the controller's commands carried out. What could stand alone already does,
in the modules listed below.)

``GateService`` runs one gate in a single thread of control.  Each ``step``
polls the devices, collects finished background work, fires the
controller's timer, and turns all of it into controller events; the
controller's commands go back to the drivers, the indicator, the audit trail
and the metrics.  The controller itself is the pure state machine of
``egate.gate``.  The service's parts have modules of their own:

- ``station.devicewatch``: the devices polled (a driver that raises is out
  for a while, never the service), their health, their events in the
  controller's words, and its orders carried to them;
- ``station.transaction``: the traveller's personal data, in memory only
  until the transaction ends, and the chip read, enrolment and face
  verification done on it in the background;
- ``station.owntime``: the service's own time, less device and observer time.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, tzinfo

from egate.audit import AuditTrail
from egate.biometrics.matching import MatchingCore
from egate.documents.chippolicy import ChipPolicy
from egate.documents.mrz import MrzResult
from egate.documents.policy import DocumentPolicy
from egate.gate import commands as c
from egate.gate import events as e
from egate.gate.controller import GateController
from egate.gate.settings import State
from egate.gate.transaction import StepClock, TransactionRecord, iso_time
from egate.metrics import GateMetrics
from hardware.reader import DocumentRead
from station.devicewatch import DeviceWatch
from station.gatedevices import GateDevices
from station.orders import OfficerOrder
from station.owntime import OwnTime
from station.transaction import TransactionWork

Clock = Callable[[], float]


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
        on_mrz: Callable[[float, MrzResult], None] | None = None,
        zone: tzinfo | None = None,
    ) -> None:
        """``observer`` sees every event the controller gets and every command it gives
        (a training replay's transcript); ``on_mrz`` sees each MRZ read that opens a
        transaction, repairs included, before its verdict reaches the controller (a
        training console shows it; personal data: never for a log); ``zone``: the
        time zone documents are judged in (default: the machine's)."""
        self.controller = controller
        self.devices = devices
        self.policy = policy
        self.audit = audit
        self.metrics = metrics
        self.timing = timing = timing or ServiceTiming()
        self._clock = clock
        self._wall = wall_clock
        self._log = log = log or logging.getLogger("egate.service")
        self._on_record = on_record
        self._observer = observer
        self._on_mrz = on_mrz
        self._zone = zone
        self._steps = StepClock(controller.gate_id)
        self._own_time = OwnTime()
        self._watch = DeviceWatch(
            devices, controller, metrics, self._own_time, feed=self._feed, alarm=self._alarm,
            audit=self._audit, on_document=self._on_document, clock=clock, log=log,
            driver_retry_s=timing.driver_retry_s, door_retry_s=timing.door_retry_s,
            misread_log_s=timing.misread_log_s,
        )  # fmt: skip
        self._work = TransactionWork(
            devices, matching, self._steps, self._own_time, feed=self._feed, alarm=self._alarm,
            grab=self._watch.grab, deadline_s=timing.match_deadline_s, log=log,
            # The policy in force when the chip is judged (SIGHUP may replace it).
            chip_policy=lambda: ChipPolicy(self.policy.settings.chip),
            audit=self._audit, count_chip=metrics.chip_checks,
        )  # fmt: skip
        self._first_step = True
        self._stale_seen = controller.stale_results
        self._events: deque[e.Event] = deque()
        self._timer: tuple[str, float] | None = None
        self._feeding = False
        # The transaction of the event being handled (an alarm may end it).
        self._handling: str | None = None
        self._accepting = True
        # Officers' orders from the console's thread (deque: thread-safe append/popleft).
        self._officer: deque[OfficerOrder] = deque()
        self.summary = RunSummary()
        metrics.state(controller.state)

    @property
    def matching(self) -> MatchingCore:
        """The matching core that enrols chip photos and verifies faces."""
        return self._work.matching

    @matching.setter
    def matching(self, matching: MatchingCore) -> None:
        self._work.matching = matching

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
            self._watch.poll(now, feed=False)
            health = self._watch.health()
            if all(problem is None for problem in health.values()) or now >= give_up:
                break
            sleep(0.01)
        self._watch.report_at_start(health)
        return [device for device, problem in health.items() if problem is not None]

    def step(self) -> None:
        """One round: poll the drivers, collect background work, fire the timer."""
        now = self._clock()
        if self._first_step:
            self._first_step = False
            self._watch.door_positions(now)
        self._watch.poll(now, feed=True)
        self._watch.report_changes(now)
        while self._officer:
            self._take_order(self._officer.popleft(), now)
        self._work.collect(now)
        self._watch.repeat_to_faulted_doors(now)
        if self._timer is not None and now >= self._timer[1]:
            token, self._timer = self._timer[0], None
            self._feed(e.Timeout(token), now)

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
            self._watch.poll(self._clock(), feed=True)
            sleep(0.005)
        self._audit({"kind": "service", "event": "stop", "detail": ""})
        self._log.info("gate %s: service stopped", self.controller.gate_id)

    def close(self) -> None:
        """Release the chip thread; drivers and the matching core belong to the caller."""
        self._work.close()

    # -- what comes in -----------------------------------------------------------

    def _take_order(self, order: OfficerOrder, now: float) -> None:
        action = order.action
        if not order.claim():
            # The console has answered "not taken": doing it now would make that a lie.
            self._log.warning("gate %s: officer %s dropped: not taken in time",
                              self.controller.gate_id, action.value)  # fmt: skip
            return
        try:
            refused = self.controller.refusal(action)
            if refused is not None:
                self._audit({"kind": "officer", "action": action.value, "refused": refused,
                             "transaction": self.controller.transaction})  # fmt: skip
                self._log.info("gate %s: officer %s refused: %s",
                               self.controller.gate_id, action.value, refused)  # fmt: skip
                self.metrics.officer_refused(action.value)
                order.refuse(refused)
                return
            self._audit({"kind": "officer", "action": action.value,
                         "transaction": self.controller.transaction})  # fmt: skip
            self.metrics.officer(action.value)
            if action is e.OfficerAction.RESET:
                self._watch.retry_doors_now()  # a reset orders a faulted door again at once
            self._feed(e.OfficerCommand(action), now)
        except BaseException:
            order.fail("the service failed while carrying it out")
            raise
        order.taken()

    def _on_document(self, read: DocumentRead, now: float) -> None:
        if not self._accepting or self.controller.state is not State.IDLE:
            self._log.info("reader: document ignored, gate %s", self.controller.state.value)
            return
        moment = self._moment()
        with self._own_time.own():
            decision = self.policy.evaluate(read.result, moment)
        with self._work.presenting(read.result, decision.document_key):
            self._feed(e.DocumentPresented(), now)
        if self._work.current is None:
            return
        fields = read.result.fields
        self._steps.note_document(
            fields.document_type or None, fields.issuing_state or None, decision.document_key
        )
        if self._on_mrz is not None:
            with self._own_time.device():
                self._on_mrz(now, read.result)
        self._feed(e.DocumentRead(read.result.valid, e.DocumentCheck.from_decision(decision)), now)

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
        if isinstance(command, c.GuideTraveller):
            self._guided(command)
        if self._watch.carry_out(command):
            return None  # a door order, a signal or guidance
        match command:
            case c.ReadChip():
                self._work.read_chip(self.controller.transaction, now)
            case c.CaptureFace(request=request):
                self._steps.note_capture()
                self._work.capture(request, now)
            case c.VerifyFace(request=request):
                verdict = self._work.verdict(request)
                if verdict is not None:
                    self._events.append(verdict)
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

    def _finish(self, finish: c.Finish, now: float) -> str:
        record = self._steps.finish(finish, now, self._wall())
        self._work.end()  # the traveller's data ends with the transaction
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

    def _guided(self, command: c.GuideTraveller) -> None:
        """Guidance to the traveller: its code in the audit trail and the metrics."""
        code = command.guidance.value
        self.metrics.guidance(code)
        self._audit({"kind": "guidance", "code": code, "transaction": self._handling})

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
