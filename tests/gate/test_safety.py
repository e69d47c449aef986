"""Safety properties of the gate controller over random event sequences.

A hypothesis state machine feeds the controller any event in any state,
including faults, officer orders and timeouts (current or stale) at any
moment, and checks after every step, from the commands alone:

1. the exit opens only in answer to a match for a verification the current
   transaction asked for, or to an officer's ``open_exit``;
2. a two-step gate never has both doors open;
3. a device fault or a stopping service closes the exit (and opens the
   entry if anyone is inside); no exit opens while a device is down;
4. every transaction ends in exactly one ``Finish``;
5. ``handle`` never raises.

A ``cooperate`` rule sends the event the current step waits for, so random
runs also reach the deep states (exit open, retreat) often.
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from egate.biometrics.verifier import Decision
from egate.documents.policy import Verdict
from egate.gate import (
    ChipStatus,
    ControllerSettings,
    DocumentCheck,
    Door,
    GateController,
    OfficerAction,
    State,
    Topology,
)
from egate.gate import commands as c
from egate.gate import events as e

# 10,000 sequences of up to 40 events each: about 3 minutes on two cores.
SEQUENCES = 10_000
STEPS = 40

checks = st.builds(
    DocumentCheck,
    st.sampled_from(Verdict),
    st.lists(st.sampled_from(["STOP_LIST_HIT", "EXPIRED", "DUPLICATE_DOCUMENT"]), max_size=2).map(
        tuple
    ),
    st.sampled_from([None, "k1", "k2"]),
)
events = st.one_of(
    st.just(e.DocumentPresented()),
    st.builds(e.DocumentRead, st.booleans(), checks),
    st.builds(e.ChipRead, st.sampled_from(ChipStatus), st.booleans()),
    st.just(e.EntryPassed()),
    st.builds(e.DoorStateChanged, st.sampled_from(Door), st.booleans()),
    st.builds(e.FaceCaptured, st.integers(0, 3)),
    st.builds(
        e.FaceVerified,
        st.sampled_from(Decision),
        st.sampled_from(
            [None, "PROBE_MULTIPLE_FACES", "PROBE_FACE_NOT_FOUND", "REFERENCE_FACE_NOT_FOUND"]
        ),
        st.none() | st.floats(0, 1),
    ),
    st.builds(e.OccupancyChanged, st.integers(0, 3)),
    st.just(e.ExitPassed()),
    st.just(e.ExitForced()),
    st.builds(e.DeviceFault, st.sampled_from(["camera", "reader", "door"])),
    st.builds(e.DeviceRecovered, st.sampled_from(["camera", "reader", "door"])),
    st.builds(e.OfficerCommand, st.sampled_from(OfficerAction)),
    st.just(e.ServiceStopping()),
)


def expected(state: State, draw: st.DataObject) -> e.Event:
    """An event the controller's current step is waiting for."""
    match state:
        case State.IDLE:
            return e.DocumentPresented()
        case State.READING:
            return draw.draw(
                st.sampled_from(
                    [
                        e.DocumentRead(True, DocumentCheck(Verdict.ACCEPT, (), "k1")),
                        e.ChipRead(ChipStatus.OK, True),
                        e.EntryPassed(),
                    ]
                )
            )
        case State.ENTERING:
            return e.EntryPassed()
        case State.CAPTURING:
            return e.FaceCaptured(draw.draw(st.sampled_from([1, 1, 0, 2])))
        case State.VERIFYING:
            return e.FaceVerified(draw.draw(st.sampled_from(Decision)), None, 0.4)
        case State.EXITING:
            return e.ExitPassed()
        case _:
            return e.OccupancyChanged(0)


class GateSafety(RuleBasedStateMachine):
    """Random traffic through one gate, watched by a model of its doors."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = GateController("G", Topology.TWO_STEP, ControllerSettings())
        self.now = 0.0
        self.doors = {Door.ENTRY: False, Door.EXIT: False}
        self.faults: set[str] = set()
        self.occupancy = 0
        self.verifying: str | None = None  # transaction that asked for VerifyFace
        self.timers: list[str] = []
        self.started: set[str] = set()
        self.finished: dict[str, int] = {}
        self.previous: str | None = None

    @initialize(topology=st.sampled_from(Topology), attempts=st.integers(1, 3))
    def choose_gate(self, topology: Topology, attempts: int) -> None:
        self.gate = GateController("G", topology, ControllerSettings(capture_attempts=attempts))

    def send(self, event: e.Event) -> None:
        self.now += 1.0
        transaction = self.gate.transaction
        out = self.gate.handle(event, self.now)  # property 5: never raises
        match event:
            case e.DeviceFault(device=device):
                self.faults.add(device)
                self.verifying = None
                assert c.CloseExitDoor() in out, out
            case e.DeviceRecovered(device=device):
                self.faults.discard(device)
            case e.OccupancyChanged(count=count):
                self.occupancy = count
        for command in out:
            self.apply(command, event, transaction)
        if isinstance(event, e.DeviceFault | e.ServiceStopping) and self.occupancy > 0:
            assert self.doors[Door.ENTRY], f"no way back for the traveller after {event}"
        if isinstance(event, e.ServiceStopping):
            assert not self.doors[Door.EXIT], "exit left open by a stopping service"
            assert self.gate.transaction is None, "a transaction outlived the service"

    def apply(self, command: c.Command, event: e.Event, transaction: str | None) -> None:
        match command:
            case c.OpenExitDoor():
                # Property 1 and 3.
                assert not self.faults, "exit opened while a device is down"
                by_officer = event == e.OfficerCommand(OfficerAction.OPEN_EXIT)
                by_match = (
                    isinstance(event, e.FaceVerified)
                    and event.decision is Decision.MATCH
                    and transaction is not None
                    and self.verifying == transaction
                )
                assert by_officer or by_match, f"exit opened on {event}"
                self.doors[Door.EXIT] = True
            case c.CloseExitDoor():
                self.doors[Door.EXIT] = False
            case c.OpenEntryDoor():
                self.doors[Door.ENTRY] = True
            case c.CloseEntryDoor():
                self.doors[Door.ENTRY] = False
            case c.VerifyFace():
                self.verifying = self.gate.transaction
            case c.StartTimer(token=token):
                self.timers.append(token)
            case c.Finish(transaction=finished):
                assert finished in self.started, f"finish of unknown {finished}"
                self.finished[finished] = self.finished.get(finished, 0) + 1
                self.verifying = None
        if self.gate.topology is Topology.TWO_STEP:
            # Property 2, checked after every single command.
            assert not (self.doors[Door.ENTRY] and self.doors[Door.EXIT]), "both doors open"

    @rule(event=events)
    def anything(self, event: e.Event) -> None:
        self.send(event)

    @rule(data=st.data())
    def cooperate(self, data: st.DataObject) -> None:
        self.send(expected(self.gate.state, data))

    @rule(data=st.data())
    def cooperate_again(self, data: st.DataObject) -> None:
        # A second copy doubles the odds of walking a transaction to its end.
        self.send(expected(self.gate.state, data))

    @rule(data=st.data())
    def timeout(self, data: st.DataObject) -> None:
        # Mostly the latest timer, sometimes a stale one.
        if self.timers:
            latest = data.draw(st.booleans())
            token = self.timers[-1] if latest else data.draw(st.sampled_from(self.timers))
        else:
            token = "none"
        self.send(e.Timeout(token))

    @invariant()
    def transactions_end_once(self) -> None:
        # Property 4.
        current = self.gate.transaction
        if current is not None:
            self.started.add(current)
            assert current not in self.finished, "finished transaction still running"
        if self.previous is not None and self.previous != current:
            assert self.finished.get(self.previous) == 1, f"{self.previous} ended without Finish"
        assert all(count == 1 for count in self.finished.values()), self.finished
        self.previous = current


GateSafety.TestCase.settings = settings(
    max_examples=SEQUENCES,
    stateful_step_count=STEPS,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestGateSafety = GateSafety.TestCase
