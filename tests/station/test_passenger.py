"""A mock passenger against the real emulators: they react to doors and signals as a person would.

The doors move through the real door driver (``DoorController``) talking to
the door emulator over a pseudo-terminal; the test plays the gate (opening
doors, showing signals) and checks what the passenger does on the emulators:
the reader's frames, the chip on the reader, the occupancy count.  Waits poll
with a generous limit and never measure time.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from egate.documents.layout import MrzFormat
from egate.documents.mrz import parse_mrz
from egate.documents.specimens import SPECIMENS
from egate.gate.commands import Signal
from egate.gate.events import ChipStatus
from hardware.chip import MockChip, MockChipReader, mrz_information
from hardware.door import CommandSettings, DoorController
from hardware.doorprotocol import Door, DoorState
from hardware.emulators.camera import MockCamera
from hardware.emulators.door import DoorBoardSettings, DoorEmulator
from hardware.emulators.occupancy import OccupancyEmulator
from hardware.emulators.pty import PseudoTerminal
from hardware.emulators.reader import ReaderEmulator
from hardware.indicator import RecordingIndicator
from hardware.link import SerialSettings
from hardware.reader import DocumentRead, SerialMrzReader
from station.people.passenger import Behaviour, MockPassenger, PassengerPhase
from station.people.traveller import MockDocument, MockDocumentFeed

pytestmark = pytest.mark.hardware

PATIENCE_S = 10.0  # a safety net against a hung test, never a measure
ENTRY, EXIT = Door.ENTRY, Door.EXIT
TD3 = SPECIMENS[MrzFormat.TD3]
FACE = np.full((60, 40, 3), (180, 120, 90), dtype=np.uint8)
QUICK = Behaviour(present_s=0.01, walk_s=0.02, patience_s=60.0)


@dataclass(frozen=True)
class Walker:
    """Whoever walks through: a label, a document, a behaviour (``Traveller``)."""

    label: str
    document: MockDocument
    behaviour: Behaviour


def traveller(behaviour: Behaviour = QUICK) -> Walker:
    document = MockDocument(TD3, MockChip.of(TD3, b"\xff\xd8 a chip photo"), (FACE,))
    return Walker("P0001", document, behaviour)


@dataclass
class Gate:
    """The emulated devices, the drivers the test plays the gate with, and one passenger."""

    today: date
    reader: ReaderEmulator
    reader_driver: SerialMrzReader
    chips: MockChipReader
    camera: MockCamera
    doors: DoorEmulator
    door_driver: DoorController
    occupancy: OccupancyEmulator
    indicator: RecordingIndicator
    read: list[DocumentRead] = field(default_factory=list)
    passenger: MockPassenger | None = None

    def board(self, behaviour: Behaviour = QUICK) -> MockPassenger:
        """A passenger steps up to the gate."""
        feed = MockDocumentFeed(self.reader, self.chips, self.camera)
        self.passenger = MockPassenger(
            traveller(), feed, self.doors, self.occupancy, self.indicator, behaviour
        )
        return self.passenger

    def tick(self) -> None:
        now = time.monotonic()
        if self.passenger is not None:
            self.passenger.step(now)
        self.door_driver.poll(now)
        self.read += [e for e in self.reader_driver.poll(now) if isinstance(e, DocumentRead)]
        time.sleep(0.002)

    def run_until(self, condition: Callable[[], bool], what: str = "condition") -> None:
        give_up = time.monotonic() + PATIENCE_S
        while not condition():
            if time.monotonic() > give_up:
                phase = None if self.passenger is None else self.passenger.phase
                pytest.fail(f"gave up waiting for {what}; passenger {phase}")
            self.tick()

    def run_for(self, seconds: float) -> None:
        """Keep the world going a while (to show that something does *not* happen)."""
        until = time.monotonic() + seconds
        while time.monotonic() < until:
            self.tick()

    def move(self, door: Door, state: DoorState) -> None:
        """Open or close ``door`` through the driver, as the gate does, and wait till it is."""
        if state is DoorState.OPEN:
            self.door_driver.open(door)
        else:
            self.door_driver.close(door)
        self.run_until(lambda: self.doors.state(door) is state, f"{door} {state}")

    def chip_on_reader(self) -> bool:
        key = mrz_information(parse_mrz(TD3, self.today))
        return self.chips.read(key).status is ChipStatus.OK

    def phase_is(self, phase: PassengerPhase) -> Callable[[], bool]:
        assert self.passenger is not None
        passenger = self.passenger
        return lambda: passenger.phase is phase


@pytest.fixture
def gate(tmp_path: Path, fast_settings, today) -> Iterator[Gate]:
    with (
        PseudoTerminal(link=tmp_path / "reader", watch_flushes=True) as reader_tty,
        PseudoTerminal(link=tmp_path / "doors") as door_tty,
        PseudoTerminal(link=tmp_path / "occupancy") as occupancy_tty,
        ReaderEmulator("desko", reader_tty) as reader,
        DoorEmulator(door_tty, DoorBoardSettings(travel_s=0.05, watchdog_s=60.0)) as doors,
        OccupancyEmulator(occupancy_tty) as occupancy,
    ):
        reader_driver = SerialMrzReader(fast_settings(reader_tty.port), "desko", lambda: today)
        door_driver = DoorController(
            SerialSettings(port=door_tty.port, reconnect_initial_s=0.02, reconnect_max_s=0.1),
            CommandSettings(timeout_s=0.1, retries=2, heartbeat_s=0.1),
        )
        camera = MockCamera([None], rng=np.random.default_rng(0))
        world = Gate(
            today,
            reader,
            reader_driver,
            MockChipReader(),
            camera,
            doors,
            door_driver,
            occupancy,
            RecordingIndicator(),
        )
        world.run_until(
            lambda: door_driver.connected and door_driver.state(ENTRY) is not None,
            "the door driver",
        )
        world.indicator.show(Signal.READY)
        yield world
        door_driver.shutdown()
        reader_driver.close()


def test_presents_walks_in_and_out_through_the_exit(gate):
    passenger = gate.board()
    assert passenger.phase is PassengerPhase.WAITING
    gate.run_until(lambda: len(gate.read) == 1, "the document to be read")
    assert passenger.phase is PassengerPhase.PRESENTED
    assert gate.read[0].lines == TD3 and gate.reader.sent[-1].lines == TD3
    assert gate.chip_on_reader()
    frame = gate.camera.grab()
    assert frame is not None and np.array_equal(frame.image, FACE)

    # The gate accepts the document: PASS, entry opens.
    gate.indicator.show(Signal.WAIT)
    gate.indicator.show(Signal.PASS)
    gate.move(ENTRY, DoorState.OPEN)
    gate.run_until(gate.phase_is(PassengerPhase.INSIDE), "walking in")
    assert gate.occupancy.count == 1
    gate.move(ENTRY, DoorState.CLOSED)
    gate.indicator.show(Signal.LOOK)
    gate.run_for(0.1)
    assert passenger.phase is PassengerPhase.INSIDE  # nothing open: they wait
    assert gate.chip_on_reader()  # the document stays until they go

    gate.indicator.show(Signal.PASS)
    gate.move(EXIT, DoorState.OPEN)
    gate.run_until(lambda: passenger.done, "leaving")
    assert passenger.phase is PassengerPhase.LEFT_THROUGH_EXIT
    assert passenger.finished_at is not None
    assert gate.occupancy.count == 0
    assert not gate.chip_on_reader()
    frame = gate.camera.grab()
    assert frame is not None and not np.array_equal(frame.image, FACE)  # nobody in view
    assert not passenger.gave_up


def test_waits_for_the_gate_to_answer_before_walking_in(gate):
    # The last traveller was referred: OFFICER is still lit and the entry
    # still open when the next one lays the document down.
    gate.indicator.show(Signal.OFFICER)
    gate.move(ENTRY, DoorState.OPEN)
    passenger = gate.board()
    gate.run_until(lambda: len(gate.read) == 1, "the document to be read")
    gate.run_for(0.2)
    # Neither turned away by the old OFFICER nor walking in on it.
    assert passenger.phase is PassengerPhase.PRESENTED
    assert gate.occupancy.count == 0
    gate.indicator.show(Signal.WAIT)
    gate.indicator.show(Signal.PASS)
    gate.run_until(gate.phase_is(PassengerPhase.INSIDE), "walking in")
    assert gate.occupancy.count == 1


def test_does_not_walk_in_while_the_entry_is_shut(gate):
    passenger = gate.board()
    gate.run_until(lambda: len(gate.read) == 1, "the document to be read")
    gate.indicator.show(Signal.PASS)
    gate.run_for(0.2)
    assert passenger.phase is PassengerPhase.PRESENTED
    assert gate.occupancy.count == 0


def test_sent_back_through_the_entry(gate):
    passenger = gate.board()
    gate.run_until(lambda: len(gate.read) == 1, "the document to be read")
    gate.indicator.show(Signal.PASS)
    gate.move(ENTRY, DoorState.OPEN)
    gate.run_until(gate.phase_is(PassengerPhase.INSIDE), "walking in")
    gate.move(ENTRY, DoorState.CLOSED)
    gate.indicator.show(Signal.LOOK)
    # The face does not match: referred, the entry opens to let them out.
    gate.indicator.show(Signal.OFFICER)
    gate.move(ENTRY, DoorState.OPEN)
    gate.run_until(lambda: passenger.done, "walking back out")
    assert passenger.phase is PassengerPhase.TURNED_BACK
    assert gate.occupancy.count == 0
    assert not gate.chip_on_reader()
    assert gate.doors.state(EXIT) is DoorState.CLOSED


@pytest.mark.parametrize("answer", [Signal.OFFICER, Signal.READY])
def test_turned_away_at_the_reader(gate, answer):
    passenger = gate.board()
    gate.run_until(lambda: len(gate.read) == 1, "the document to be read")
    assert gate.chip_on_reader()
    gate.indicator.show(Signal.WAIT)
    gate.indicator.show(answer)  # rejected or referred (OFFICER), aborted (READY)
    gate.run_until(lambda: passenger.done, "taking the document away")
    assert passenger.phase is PassengerPhase.TURNED_AWAY
    assert not gate.chip_on_reader()
    assert gate.occupancy.count == 0


def test_a_tailgater_follows_in_and_back_out(gate):
    passenger = gate.board(Behaviour(present_s=0.01, walk_s=0.02, tailgater=True))
    gate.run_until(lambda: len(gate.read) == 1, "the document to be read")
    gate.indicator.show(Signal.PASS)
    gate.move(ENTRY, DoorState.OPEN)
    gate.run_until(lambda: gate.occupancy.count == 2, "two people inside")
    assert passenger.phase is PassengerPhase.INSIDE
    # The gate counts two: referred, entry open for both to go back out.
    gate.move(ENTRY, DoorState.CLOSED)
    gate.indicator.show(Signal.OFFICER)
    gate.move(ENTRY, DoorState.OPEN)
    gate.run_until(lambda: passenger.done, "both walking back out")
    assert passenger.phase is PassengerPhase.TURNED_BACK
    assert gate.occupancy.count == 0


def test_a_tailgater_also_slips_out_through_the_exit(gate):
    passenger = gate.board(Behaviour(present_s=0.01, walk_s=0.02, tailgater=True))
    gate.run_until(lambda: len(gate.read) == 1, "the document to be read")
    gate.indicator.show(Signal.PASS)
    gate.move(ENTRY, DoorState.OPEN)
    gate.run_until(lambda: gate.occupancy.count == 2, "two people inside")
    gate.move(ENTRY, DoorState.CLOSED)
    gate.move(EXIT, DoorState.OPEN)  # a gate that missed the second person
    gate.run_until(lambda: passenger.done, "both leaving")
    assert passenger.phase is PassengerPhase.LEFT_THROUGH_EXIT
    assert gate.occupancy.count == 0


def test_patience_outside_takes_the_document_and_goes(gate):
    passenger = gate.board(Behaviour(present_s=0.01, walk_s=0.02, patience_s=0.2))
    gate.run_until(lambda: len(gate.read) == 1, "the document to be read")
    # The gate never answers.
    gate.run_until(lambda: passenger.done, "giving up")
    assert (passenger.phase, passenger.gave_up) == (PassengerPhase.TURNED_AWAY, True)
    assert not gate.chip_on_reader()


def test_patience_inside_leaves_through_an_entry_left_open(gate):
    passenger = gate.board(Behaviour(present_s=0.01, walk_s=0.02, patience_s=0.2))
    gate.run_until(lambda: len(gate.read) == 1, "the document to be read")
    gate.indicator.show(Signal.PASS)
    gate.move(ENTRY, DoorState.OPEN)
    gate.run_until(gate.phase_is(PassengerPhase.INSIDE), "walking in")
    # The gate never noticed them: the entry stays open, nothing happens.
    gate.run_until(lambda: passenger.done, "giving up")
    assert (passenger.phase, passenger.gave_up) == (PassengerPhase.TURNED_BACK, True)
    assert gate.occupancy.count == 0


def test_stuck_inside_waits_for_an_officer(gate):
    passenger = gate.board(Behaviour(present_s=0.01, walk_s=0.02, patience_s=0.2))
    gate.run_until(lambda: len(gate.read) == 1, "the document to be read")
    gate.indicator.show(Signal.PASS)
    gate.move(ENTRY, DoorState.OPEN)
    gate.run_until(gate.phase_is(PassengerPhase.INSIDE), "walking in")
    gate.move(ENTRY, DoorState.CLOSED)
    gate.run_until(lambda: passenger.gave_up, "giving up")
    gate.run_for(0.1)
    assert (passenger.phase, passenger.done) == (PassengerPhase.INSIDE, False)
    assert gate.occupancy.count == 1
    # An officer lets them out through the entry.
    gate.move(ENTRY, DoorState.OPEN)
    gate.run_until(lambda: passenger.done, "walking out")
    assert passenger.phase is PassengerPhase.TURNED_BACK
    assert gate.occupancy.count == 0


def test_behaviour_is_checked():
    with pytest.raises(ValueError, match="present_s"):
        Behaviour(present_s=-1)
    with pytest.raises(ValueError, match="patience_s"):
        Behaviour(patience_s=0)
