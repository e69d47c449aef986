"""Training replays: a scenario's passengers through mock gates driven by the real service.

(One concept past the ~400-line guideline: the replay loop. The queue of
passengers, the scenario's faults and the transcript lines all move on one
scenario clock across the same gates; the scenario, its travellers,
narration, transcript and scoring are modules of their own.)

Each gate of the scenario is a ``MockGate`` (reader, door board and occupancy
emulators on pseudo-terminals, a mock chip reader and camera) opened with the
real drivers and run by a ``GateService`` with the real gate controller; the
gates share one matching core, as at an airport.  Passengers queue in order
of arrival and step up to the first free gate (or their own); each is a
``MockPassenger`` who reacts only to the doors and the indicator.  Every
event the controller gets and every command it gives becomes a transcript
line, and every transaction is scored against the passenger's expectation.

Speed: people and doors move ``speed`` times faster than the scenario says
(arrival times, presenting, walking, door travel, chip reads), and so do the
gate's time limits that wait for people (entry, exit, retreat).  The gate's
own work (reading, matching) runs at the machine's pace; its time limits for
that work stay as configured.  ``fast`` also stops waiting for arrival times
(each passenger steps up as soon as a gate is free) and, while every gate
stands idle, jumps the scenario clock to the next fault.
"""

from __future__ import annotations

import contextlib
import functools
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from prometheus_client import CollectorRegistry

from egate.biometrics.matching import MatchingCore
from egate.config import ConfigError
from egate.documents.mrz import MrzResult
from egate.documents.pki.testpki import generate_test_pki, load_test_pki
from egate.documents.policy import DocumentPolicy
from egate.gate import commands as c
from egate.gate import events as e
from egate.gate.controller import GateController
from egate.gate.settings import ControllerSettings, State
from egate.gate.transaction import TransactionRecord
from egate.metrics import GateMetrics
from egate.privacy import Pseudonymizer
from hardware.devices import EmulationSettings
from hardware.doorprotocol import Door
from hardware.emulators.emrtd.chipreader import PKI_BACKDATE
from hardware.indicator import RecordingIndicator
from station.mockgate import MockGate, mock_devices
from station.people.passenger import PassengerPhase
from station.service import GateService, ServiceTiming
from station.training.control import AddPassenger, InjectFault, ReplayControl
from station.training.desk import desk_case
from station.training.facedecisions import face_of
from station.training.live import LaneState, LiveView
from station.training.narration import describe
from station.training.scenario import (
    FaultDevice,
    FaultSpec,
    PassengerKind,
    Scenario,
)
from station.training.scenario_travellers import (
    PreparedPassenger,
    face_pictures,
    prepare,
    prepare_passenger,
    stop_list,
)
from station.training.scorecard import Scorecard
from station.training.transcript import Line, PassengerResult, ReplayRun, Step

# People and doors move this many times faster with --fast.
FAST_SPEED = 20.0
# Between two rounds of polling every gate.
_POLL_S = 0.002
# A replay gives up when nothing has happened for this long (scenario seconds,
# or longer than the longest fault): a gate closed for good, say.
_STALLED_AFTER_S = 600.0
# How often a console's view of the lanes is brought up to date (machine seconds).
_LIVE_EVERY_S = 0.05
# While a console holds the replay paused, how long to wait before looking again.
_HOLD_S = 0.05
# Outcomes that send a traveller to the officer's desk.
_TO_THE_DESK = frozenset({"referred", "rejected"})

_PHASE_TEXT = {
    PassengerPhase.PRESENTED: "lays the passport on the reader",
    PassengerPhase.INSIDE: "walks into the gate",
    PassengerPhase.LEFT_THROUGH_EXIT: "leaves through the exit",
    PassengerPhase.TURNED_BACK: "walks back out through the entry",
    PassengerPhase.TURNED_AWAY: "takes the passport back and walks away",
}


def _people_limits(settings: ControllerSettings, speed: float) -> ControllerSettings:
    """The controller's limits with those that wait for people scaled to their speed."""
    return ControllerSettings(
        capture_attempts=settings.capture_attempts,
        document_timeout_s=settings.document_timeout_s,
        entry_timeout_s=settings.entry_timeout_s / speed,
        capture_timeout_s=settings.capture_timeout_s,
        verify_timeout_s=settings.verify_timeout_s,
        exit_timeout_s=settings.exit_timeout_s / speed,
        retreat_timeout_s=settings.retreat_timeout_s / speed,
    )


@dataclass(slots=True)
class _Gate:
    """One gate of the replay: its mock devices, service, and who is at it."""

    name: str
    mock: MockGate
    service: GateService
    # The passenger whose document opened the transaction in progress (or the last one).
    presenter: PreparedPassenger | None = None
    started_at: float | None = None
    # When the controller finished the transaction (scenario seconds).
    finished_at: float | None = None
    phase: PassengerPhase | None = None


@dataclass(slots=True)
class _Fault:
    spec: FaultSpec
    gate: _Gate
    starts_at: float | None  # scenario seconds; None: when the passenger walks in
    ends_at: float | None = None
    restored: bool = False
    by_instructor: bool = False


@dataclass(slots=True)
class _Waiting:
    passenger: PreparedPassenger
    since: float = 0.0


class Replay:
    """Runs one scenario; see the module docstring.

    The shipped impostor drill on its two mock gates, fast, with one thread
    worker of the matching core.  ``run`` is skipped here because its
    passengers' faces are the sample photos (``egate samples fetch``, a
    download) and the replay takes several seconds::

        >>> from egate.biometrics.matching import MatchingCore
        >>> from egate.shipped import shipped_file
        >>> from station.training.scenario import load_scenario
        >>> from station.training.scorecard import Scorecard
        >>> with shipped_file("scenarios", "impostor-drill.yaml") as path:
        ...     drill = load_scenario(path)
        >>> drill.name, drill.gates.names, len(drill.passengers)
        ('Impostor drill', ('G1', 'G2'), 13)
        >>> core = MatchingCore(drill.matching.verifier, workers=1, kind="thread")
        >>> replay = Replay(drill, "impostor-drill.yaml", core=core, fast=True)
        >>> replay.speed  # people and doors 20 times faster
        20.0
        >>> run = replay.run()  # doctest: +SKIP
        >>> Scorecard.of(run).all_matched  # doctest: +SKIP
        True
        >>> core.close()
    """

    def __init__(
        self,
        scenario: Scenario,
        source: str,
        *,
        core: MatchingCore,
        core_registry: CollectorRegistry | None = None,
        speed: float = 1.0,
        fast: bool = False,
        on_line: Callable[[Line], None] | None = None,
        base_dir: Path | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        control: ReplayControl | None = None,
        live: LiveView | None = None,
    ) -> None:
        """``control``: a console's remote control (its clock becomes the replay's);
        ``live``: the console's view, fed as the replay goes."""
        if not speed > 0:
            raise ValueError("speed must be positive")
        self.scenario = scenario
        self.source = source
        self.speed = FAST_SPEED if fast else speed
        self.fast = fast
        self._core = core
        self._core_registry = core_registry
        self._followers: dict[str, list[PassengerResult]] = {}
        self._recording = True
        self._on_line = on_line
        self._base_dir = base_dir or Path.cwd()
        # The PKI signing every gate's chips: the scenario's, else one made for the run.
        self.pki = (
            load_test_pki(scenario.pki)
            if scenario.pki is not None
            else generate_test_pki(now=datetime.now(UTC) - PKI_BACKDATE)
        )
        self._control = control
        self._live = live
        self._clock = clock if control is None else control.clock
        self._sleep = sleep
        self._live_at = -_LIVE_EVERY_S
        self._passengers: list[PreparedPassenger] = []
        self._faults_now: list[_Fault] = []
        self._zone = scenario.start.tzinfo
        self._epoch = scenario.start.timestamp()
        self._t0 = self._clock()
        self.run_record = ReplayRun(scenario, source, self.speed, fast)

    # -- time ------------------------------------------------------------------

    def _at(self, now: float) -> float:
        """Scenario seconds after the start at monotonic time ``now``."""
        return (now - self._t0) * self.speed

    def _wall(self) -> float:
        return self._epoch + self._at(self._clock())

    # -- the run -----------------------------------------------------------------

    def run(self, stop: threading.Event | None = None) -> ReplayRun:
        """Replay every passenger (or until ``stop`` is set); the finished run."""
        started = self._clock()
        passengers = self._passengers = prepare(self.scenario, self.source, self.speed)
        for passenger in passengers:
            if passenger.result.follows is not None:
                self._followers.setdefault(passenger.result.follows, []).append(passenger.result)
            if self._live is not None:
                self._live.passenger(
                    passenger.spec.id,
                    passenger.chip_photo,
                    passenger.capture,
                    face_of(passenger.spec.kind, passenger.spec.expected),
                )
        pseudonymizer = Pseudonymizer.ephemeral()
        policy = DocumentPolicy(
            self.scenario.policy,
            pseudonymizer,
            stop_list(self.scenario, self.source, pseudonymizer, self.scenario.start),
        )
        self._core.wait_ready(timeout=120.0)
        with contextlib.ExitStack() as stack:
            gates = [self._open_gate(name, policy, stack) for name in self.scenario.gates.names]
            setup = self._clock() - started
            self._t0 = loop_started = self._clock()
            matching_before = self._matching_seconds()
            self._loop(gates, passengers, stop or threading.Event())
            replay = self._clock() - loop_started
            # Closing the gates after the last passenger is not part of the story.
            self._recording = False
            for gate in gates:
                gate.service.stop(functools.partial(self._pause, gate))
        if self._control is not None:
            self._control.finish()
        run = self.run_record
        run.results = [passenger.result for passenger in self._passengers]
        if self._live is not None:
            run.desk = self._live.desk.score()
        run.timing = {
            "total": self._clock() - started,
            "setup": setup,
            "replay": replay,
            "matching": self._matching_seconds() - matching_before,
        }
        if self._live is not None:
            self._live.finished(Scorecard.of(run).to_json())
        return run

    def _pause(self, gate: _Gate, seconds: float) -> None:
        gate.mock.step(self._clock())
        self._sleep(seconds)

    def _open_gate(self, name: str, policy: DocumentPolicy, stack: contextlib.ExitStack) -> _Gate:
        scenario = self.scenario
        indicator = RecordingIndicator(self._clock)
        mock = MockGate(
            # One loop polls every gate: a port that waited for bytes would hold up the others.
            mock_devices(read_timeout_s=0.0),
            EmulationSettings(door_travel_s=scenario.gates.door_travel_s / self.speed),
            indicator,
            today=lambda: scenario.today,
            base_dir=self._base_dir,
            clock=self._clock,
            stream=False,
            pki=self.pki,
        )
        stack.enter_context(mock)
        assert mock.devices is not None
        controller_config = scenario.gates.controller
        controller = GateController(
            name,
            controller_config.topology,
            _people_limits(controller_config.settings(), self.speed),
        )
        gate_ref: list[_Gate] = []
        service = GateService(
            controller,
            mock.devices,
            self._core,
            policy,
            audit=None,
            metrics=GateMetrics(name, CollectorRegistry()),
            clock=self._clock,
            wall_clock=self._wall,
            # A jammed door is ordered again as often, in scenario time, at any speed.
            timing=ServiceTiming(
                match_deadline_s=scenario.matching.deadline_s,
                door_retry_s=ServiceTiming().door_retry_s / self.speed,
            ),
            on_record=lambda record: self._on_record(gate_ref[0], record),
            observer=lambda now, item: self._observe(gate_ref[0], now, item),
            on_mrz=lambda now, result: self._on_mrz(gate_ref[0], now, result),
            zone=self._zone,
        )
        stack.callback(service.close)
        gate = _Gate(name, mock, service)
        gate_ref.append(gate)
        service.start()
        missing = service.wait_for_devices(10.0, self._sleep)
        if missing:
            raise ConfigError(f"gate {name}: emulated devices did not answer: {', '.join(missing)}")
        return gate

    def _loop(
        self, gates: list[_Gate], passengers: list[PreparedPassenger], stop: threading.Event
    ) -> None:
        queue: deque[PreparedPassenger] = deque(p for p in passengers if p.traveller is not None)
        waiting: list[_Waiting] = []
        faults = self._faults_now = [self._fault(spec, gates) for spec in self.scenario.faults]
        stalled_after = max([_STALLED_AFTER_S, *(f.lasts_s + 60 for f in self.scenario.faults)])
        control = self._control
        while not stop.is_set():
            if control is not None:
                if control.stopped:
                    break
                self._take_actions(control, gates, faults, waiting)
                if control.hold(_HOLD_S):
                    continue  # paused: nothing moves, the gates included
            now = self._clock()
            at = self._at(now)
            while queue and (self.fast or queue[0].arrival <= at):
                passenger = queue.popleft()
                waiting.append(_Waiting(passenger, at))
            self._admit(gates, waiting, at, now)
            for gate in gates:
                gate.mock.step(now)
                self._watch_passenger(gate, at)
                self._send_elsewhere(gate, waiting, at, now)
                gate.service.step()
            self._faults(faults, at)
            self._publish(gates, waiting, at, now)
            if not queue and not waiting and self._all_done(gates, faults):
                break
            if self.fast and not queue and not waiting:
                self._skip_idle_time(gates, faults, at)
            quiet_since = self.run_record.lines[-1].at if self.run_record.lines else 0.0
            if at - quiet_since > stalled_after and not queue:
                self._line(
                    gates[0], None, Step.DEVICE,
                    f"replay gives up: nothing happened for {stalled_after:g} s",
                )  # fmt: skip
                break
            self._sleep(_POLL_S)
        self.run_record.duration = self._at(self._clock())
        self._live_at = -_LIVE_EVERY_S  # the last view of the lanes, whenever it falls
        self._publish(gates, waiting, self.run_record.duration, self._clock())

    # -- a console ---------------------------------------------------------------

    def _take_actions(
        self,
        control: ReplayControl,
        gates: list[_Gate],
        faults: list[_Fault],
        waiting: list[_Waiting],
    ) -> None:
        """Carry out what the instructor asked for since the last round."""
        at = self._at(self._clock())
        for action in control.take_actions():
            match action:
                case InjectFault(gate=name, device=device, lasts_s=lasts):
                    gate = next(g for g in gates if g.name == name)
                    # Built as validated by the control; a scenario's own faults name a time.
                    spec = FaultSpec.model_construct(
                        device=device, gate=name, during=None, at=None, lasts_s=lasts
                    )
                    faults.append(_Fault(spec, gate, at, by_instructor=True))
                case AddPassenger(template=template, id=new_id):
                    self._add_passenger(template, new_id, at, waiting, gates[0])

    def _add_passenger(
        self, template: str, new_id: str, at: float, waiting: list[_Waiting], gate: _Gate
    ) -> None:
        """A copy of passenger ``template`` joins the queue now, as ``new_id``."""
        spec = next(p.spec for p in self._passengers if p.spec.id == template)
        copy = spec.model_copy(update={"id": new_id})
        document = copy.document
        # Another traveller of the same kind: a passport of their own (the same
        # number would be a passed-back passport), except a listed one.
        if document is not None and document.number and spec.kind is not PassengerKind.STOP_LIST:
            number = self._new_number(document.number, new_id.rsplit("+", 1)[-1])
            copy = copy.model_copy(
                update={"document": document.model_copy(update={"number": number})}
            )
        try:
            passenger = prepare_passenger(
                copy,
                self.source,
                self.speed,
                arrival=at,
                pictures=face_pictures(self.scenario),
                seed=self.scenario.seed,
            )
        except ConfigError as error:
            self._line(
                gate, None, Step.DEVICE, f"instructor's passenger {new_id} cannot come: {error}"
            )
            return
        self._passengers.append(passenger)
        if self._live is not None:
            self._live.passenger(
                new_id, passenger.chip_photo, passenger.capture, face_of(spec.kind, spec.expected)
            )
        waiting.append(_Waiting(passenger, at))
        self._line(
            gate, new_id, Step.ARRIVAL, f"joins the queue (sent by the instructor, like {template})"
        )

    def _new_number(self, number: str, copy: str) -> str:
        """A document number like ``number`` that no passenger of the replay holds."""
        taken = {
            p.spec.document.number
            for p in self._passengers
            if p.spec.document is not None and p.spec.document.number
        }
        for letter in "XYZW":
            tail = f"{letter}{copy}"[-8:]
            candidate = number[: 9 - len(tail)] + tail
            if candidate not in taken:
                return candidate
        return number  # no other number left: the gate will see a passport used twice

    def _publish(self, gates: list[_Gate], waiting: list[_Waiting], at: float, now: float) -> None:
        """Bring a console's view of the lanes and the queue up to date (a few times a second)."""
        live = self._live
        if live is None or now - self._live_at < _LIVE_EVERY_S:
            return
        self._live_at = now
        lanes = []
        for gate in gates:
            emulators = gate.mock.emulators
            doors = {}
            if emulators is not None and emulators.doors is not None:
                doors = {
                    door.value.lower(): emulators.doors.state(door).value.lower()
                    for door in (Door.ENTRY, Door.EXIT)
                }
            state = gate.service.controller.state.value
            lanes.append(LaneState(gate.name, state, self._current(gate), doors))
        at_gate = {who: gate.name for gate in gates if (who := self._current(gate)) is not None}
        queued = {entry.passenger.spec.id for entry in waiting}
        decided = {case.passenger for case in live.desk.score().cases if case.verdict.decided}
        statuses: dict[str, tuple[str, str | None, str | None]] = {}
        for passenger in self._passengers:
            result = passenger.result
            who = result.id
            if who in at_gate:
                status = "at_gate"
            elif who in queued:
                status = "waiting"
            elif result.outcome in _TO_THE_DESK and who not in decided:
                status = "at_desk"
            elif result.outcome is not None or result.arrived_at is not None:
                status = "done"
            else:
                status = "not_arrived"
            statuses[who] = (status, result.gate, result.outcome)
        live.lanes(
            at,
            lanes,
            [(entry.passenger.spec.id, entry.since) for entry in waiting],
            statuses,
        )

    def _skip_idle_time(self, gates: list[_Gate], faults: list[_Fault], at: float) -> None:
        """With --fast, nobody waits: while the gates stand idle, jump to the next fault time."""
        idle = all(
            gate.mock.vacant
            and gate.service.controller.transaction is None
            and gate.service.controller.state is State.IDLE
            for gate in gates
        )
        due = [
            moment
            for fault in faults
            # An instructor's fault is there to be watched: no skipping through it.
            if not fault.restored and not fault.by_instructor
            for moment in (fault.starts_at if fault.ends_at is None else fault.ends_at,)
            if moment is not None and moment > at
        ]
        if idle and due:
            # Moving the start back moves the scenario clock on; the gates'
            # own timers run on the machine's clock and are not affected.
            self._t0 -= (min(due) - at) / self.speed

    def _admit(self, gates: list[_Gate], waiting: list[_Waiting], at: float, now: float) -> None:
        for entry in list(waiting):
            passenger = entry.passenger
            wanted = passenger.spec.gate
            free = [
                gate
                for gate in gates
                if (wanted is None or gate.name == wanted)
                and gate.mock.vacant
                and gate.service.controller.state is State.IDLE
            ]
            if not free:
                continue
            gate = free[0]
            waiting.remove(entry)
            assert passenger.traveller is not None
            passenger.result.gate = gate.name
            passenger.result.arrived_at = at
            gate.presenter = passenger
            gate.phase = PassengerPhase.WAITING
            follower = passenger.traveller.behaviour.tailgater
            text = "steps up to the gate" + (" (someone close behind)" if follower else "")
            self._line(
                gate,
                passenger.spec.id,
                Step.ARRIVAL,
                text,
                {"waited_s": round(at - entry.since, 1)},
            )
            gate.mock.admit(passenger.traveller, now)

    def _send_elsewhere(self, gate: _Gate, waiting: list[_Waiting], at: float, now: float) -> None:
        """A passenger not yet inside a gate that closed goes back to the queue for another."""
        passenger, presenter = gate.mock.passenger, gate.presenter
        closed = gate.service.controller.state in (State.DEGRADED, State.CLOSED)
        if not closed or passenger is None or presenter is None or passenger.done:
            return
        if gate.service.controller.transaction is not None or not passenger.go_elsewhere(now):
            return
        gate.phase = passenger.phase
        presenter.result.gate = presenter.result.arrived_at = None
        self._line(gate, presenter.spec.id, Step.PASSENGER, "sees the gate close and queues again")
        waiting.insert(0, _Waiting(presenter, at))

    def _watch_passenger(self, gate: _Gate, at: float) -> None:
        """Transcript lines for what the passenger at ``gate`` did since the last look."""
        mock_passenger = gate.mock.passenger
        presenter = gate.presenter
        if mock_passenger is None or presenter is None or gate.phase is None:
            return
        phase = mock_passenger.phase
        if phase is gate.phase:
            return
        gate.phase = phase
        text = _PHASE_TEXT.get(phase)
        if text is None:
            return
        self._line(gate, presenter.spec.id, Step.PASSENGER, text)
        if phase is not PassengerPhase.INSIDE:
            return
        for follower in self._followers.get(presenter.spec.id, ()):
            follower.gate, follower.arrived_at = gate.name, at
            self._line(gate, follower.id, Step.PASSENGER, f"follows {presenter.spec.id} in")

    def _all_done(self, gates: list[_Gate], faults: list[_Fault]) -> bool:
        if any(not fault.restored and fault.starts_at is not None for fault in faults):
            return False
        return all(
            gate.mock.vacant
            and gate.service.controller.transaction is None
            and gate.service.controller.state in (State.IDLE, State.CLOSED)
            for gate in gates
        )

    # -- faults ----------------------------------------------------------------

    def _fault(self, spec: FaultSpec, gates: list[_Gate]) -> _Fault:
        gate = next((g for g in gates if g.name == spec.gate), gates[0])
        starts = None if spec.at is None else self.scenario.offset(spec.at)
        return _Fault(spec, gate, starts)

    def _faults(self, faults: list[_Fault], at: float) -> None:
        for fault in faults:
            if fault.restored:
                continue
            if fault.ends_at is None:
                if fault.starts_at is None:
                    presenter = fault.gate.presenter
                    inside = (
                        presenter is not None
                        and presenter.spec.id == fault.spec.during
                        and fault.gate.phase is PassengerPhase.INSIDE
                    )
                    if not inside:
                        continue
                    fault.starts_at = at
                if at < fault.starts_at:
                    continue
                fault.ends_at = at + fault.spec.lasts_s
                self._inject(fault, failing=True)
                if self._live is not None:
                    self._live.fault(fault.gate.name, fault.spec.device.value, at, fault.ends_at)
            elif at >= fault.ends_at:
                fault.restored = True
                self._inject(fault, failing=False)

    def _inject(self, fault: _Fault, *, failing: bool) -> None:
        mock, device = fault.gate.mock, fault.spec.device
        assert mock.emulators is not None and mock.camera is not None
        doors = mock.emulators.doors
        reader = mock.emulators.reader
        assert doors is not None and reader is not None
        match device, failing:
            case FaultDevice.CAMERA, True:
                mock.camera.unplug()
            case FaultDevice.CAMERA, False:
                mock.camera.plug_back()
            case FaultDevice.READER, True:
                reader.unplug()
            case FaultDevice.READER, False:
                reader.plug_back()
            case FaultDevice.ENTRY_DOOR | FaultDevice.EXIT_DOOR, _:
                door = Door.ENTRY if device is FaultDevice.ENTRY_DOOR else Door.EXIT
                if failing:
                    doors.jam(door, "JAMMED")
                else:
                    doors.unjam(door)
            case FaultDevice.BOARD, True:
                doors.mute()  # switched off: it hears and says nothing
            case FaultDevice.BOARD, False:
                doors.mute(False)
                doors.power_cycle()  # on again: state lost, doors closed, READY
        what = {
            FaultDevice.CAMERA: ("camera unplugged", "camera plugged back"),
            FaultDevice.READER: ("reader cable pulled", "reader cable back"),
            FaultDevice.ENTRY_DOOR: ("entry door jams", "entry door jam cleared"),
            FaultDevice.EXIT_DOOR: ("exit door jams", "exit door jam cleared"),
            FaultDevice.BOARD: ("door board switched off", "door board switched on again"),
        }[device]
        who = "instructor" if fault.by_instructor else "scenario"
        text = f"{who} fault: {what[0]} for {fault.spec.lasts_s:g} s" if failing else what[1]
        detail: dict[str, object] = {
            "device": device.value,
            "up": not failing,
            "scenario": True,
            "by": who,
        }
        self._line(fault.gate, self._current(fault.gate), Step.DEVICE, text, detail)

    # -- what the service reports --------------------------------------------------

    def _current(self, gate: _Gate) -> str | None:
        presenter = gate.presenter
        if presenter is None:
            return None
        busy = not gate.mock.vacant or gate.service.controller.transaction is not None
        return presenter.spec.id if busy else None

    def _observe(self, gate: _Gate, now: float, item: e.Event | c.Command) -> None:
        if isinstance(item, e.DocumentPresented) and gate.service.controller.transaction:
            gate.started_at = self._at(now)
        if isinstance(item, c.Finish):
            gate.finished_at = self._at(now)
        if isinstance(item, c.GuideTraveller) and gate.presenter is not None:
            gate.presenter.result.guidance.append(item.guidance.value)
        if self._live is not None and self._recording:
            self._live.gate_item(gate.name, self._at(now), self._current(gate), item)
        described = describe(item)
        if described is not None:
            step, text, detail = described
            self._line(gate, self._current(gate), step, text, detail, at=self._at(now))

    def _on_mrz(self, gate: _Gate, now: float, result: MrzResult) -> None:
        """The MRZ the gate read: a repair becomes a transcript line of its own."""
        if self._live is not None:
            self._live.document(gate.name, result)
        if result.repairs:
            changes = "; ".join(repair.describe() for repair in result.repairs)
            self._line(
                gate,
                self._current(gate),
                Step.DOCUMENT,
                f"MRZ repaired: {changes}",
                {"repairs": [repair.to_json() for repair in result.repairs]},
                at=self._at(now),
            )

    def _to_desk(
        self, gate: _Gate, passenger: PreparedPassenger, record: TransactionRecord, at: float
    ) -> None:
        """A traveller the gate did not let through goes to the officer's desk (and anyone
        who followed them in)."""
        live = self._live
        if live is None or record.outcome.value not in _TO_THE_DESK:
            return
        followers = [p.spec for p in self._passengers if p.result.follows == passenger.spec.id]
        for spec in (passenger.spec, *followers):
            live.desk.refer(
                desk_case(
                    spec,
                    gate=gate.name,
                    at_s=at,
                    outcome=record.outcome.value,
                    reasons=record.reasons,
                    today=self.scenario.today,
                )
            )

    def _on_record(self, gate: _Gate, record: TransactionRecord) -> None:
        passenger = gate.presenter
        at = self._at(self._clock()) if gate.finished_at is None else gate.finished_at
        reasons = " ".join(record.reasons)
        text = f"{record.transaction} {record.outcome.value}" + (f": {reasons}" if reasons else "")
        detail: dict[str, object] = {
            "transaction": record.transaction,
            "outcome": record.outcome.value,
            "reasons": list(record.reasons),
        }
        if passenger is not None:
            result = passenger.result
            if result.transaction is None:
                result.transaction = record.transaction
                result.outcome = record.outcome.value
                result.reasons = record.reasons
                result.steps = dict(record.steps)
                result.duration_s = record.duration_s
                result.match_distance = record.match_distance
                result.capture_attempts = record.capture_attempts
                result.started_at = gate.started_at
                result.ended_at = at
                for other in self._followers.get(passenger.spec.id, ()):
                    other.transaction, other.outcome = record.transaction, record.outcome.value
                    other.reasons = record.reasons
                    other.started_at, other.ended_at = gate.started_at, at
                expected = result.expected
                mark = "as expected" if result.matched else "NOT as expected"
                wanted = " ".join((expected.outcome.value, *expected.reasons))
                text += f"  ({mark}: {wanted})"
                detail["expected"] = {
                    "outcome": expected.outcome.value,
                    "reasons": list(expected.reasons),
                }
                detail["matched"] = result.matched
                self._to_desk(gate, passenger, record, at)
        self._line(
            gate, passenger.spec.id if passenger else None, Step.DECISION, text, detail, at=at
        )

    def _line(
        self,
        gate: _Gate,
        passenger: str | None,
        step: str,
        text: str,
        detail: dict[str, object] | None = None,
        *,
        at: float | None = None,
    ) -> None:
        if not self._recording:
            return
        line = Line(
            self._at(self._clock()) if at is None else at,
            gate.name,
            passenger,
            step,
            text,
            detail or {},
        )
        self.run_record.lines.append(line)
        if self._on_line is not None:
            self._on_line(line)
        if self._live is not None:
            self._live.line(line)
        if self._control is not None:
            self._control.noted(step)

    def _matching_seconds(self) -> float:
        """The matching core's workers' busy seconds so far (0 without its registry)."""
        registry = self._core_registry
        if registry is None:
            return 0.0
        total = 0.0
        for kind in ("enroll", "verify", "capture"):
            value = registry.get_sample_value("egate_matching_service_seconds_sum", {"kind": kind})
            total += value or 0.0
        return total


__all__ = ["FAST_SPEED", "Replay"]
