"""Silent and stolen ports: a mute device is reopened, another device is never commanded.

The first tests drive the session by hand (a link whose bytes the test
hands over, a clock it sets), so times and backoffs are exact.  The rest
run the real drivers on pseudo-terminals against the emulators: a device
that falls silent, and a port whose name now leads to another device.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from handlink import HandLink

from hardware.door import DoorController, DoorRefused
from hardware.doorprotocol import Door, ErrorCode
from hardware.doorsession import (
    CommandFailed,
    CommandSettings,
    Connected,
    Disconnected,
    Identified,
    Refused,
    WrongDevice,
)
from hardware.emulators.door import DoorBoardSettings, DoorEmulator
from hardware.emulators.occupancy import OccupancyEmulator, OccupancySensorSettings
from hardware.emulators.pty import PseudoTerminal
from hardware.link import LinkState, SerialLink, SerialSettings
from hardware.occupancy import OccupancySensor

# --- by hand --------------------------------------------------------------------

HAND_SETTINGS = SerialSettings(
    port="hand", read_timeout_s=0, reconnect_initial_s=0.2, reconnect_max_s=0.8
)

SETTINGS = CommandSettings(
    timeout_s=0.5, retries=0, heartbeat_s=1.0, checksum=False, reopen_after=2
)
DOORS_CLOSED = b"ENTRY=CLOSED EXIT=CLOSED"


def last_seq(link: HandLink) -> str:
    return link.sent[-1].split()[0].decode()


def answer(link: HandLink, fields: bytes = b"") -> None:
    """Answer the last command sent."""
    link.inbox += f"{last_seq(link)} OK".encode() + (b" " + fields if fields else b"") + b"\r\n"


def hand_doors(identity: str | None = None) -> tuple[HandLink, DoorController]:
    link = HandLink(reopens=True, settings=HAND_SETTINGS)
    door = DoorController(link, SETTINGS, clock=lambda: 0.0, identity=identity)  # type: ignore[arg-type]
    return link, door


class TestSilence:
    def test_a_mute_device_has_its_port_closed_and_reopened_with_backoff(self):
        link, door = hand_doors()
        door.poll(0.0)
        answer(link, DOORS_CLOSED)
        assert isinstance(door.poll(0.0)[0], Connected)
        events: list[Any] = []
        # PING at 1.0 unanswered (failure 1 at 1.5), PING at 2.5 unanswered (failure 2 at 3.0).
        for moment in (1.0, 1.5, 2.5, 3.0):
            events += door.poll(moment)
        assert link.sent[1:] == [b"#2 PING\r\n", b"#3 PING\r\n"]
        assert [e for e in events if isinstance(e, Disconnected | Connected)] == [
            Disconnected(1.5, "device silent: PING, no reply after 1 attempts")
        ]
        assert link.closes == 1 and not link.is_open
        assert door.problem == "device silent: 2 commands in a row unanswered, reopening the port"
        assert door.poll(3.19) == [] and not link.is_open  # the backoff: 0.2 s
        door.poll(3.2)
        assert link.opened_at == [3.2]
        assert link.sent[-1] == b"#4 STATUS\r\n"
        # Still mute: two more failures (the identification is asked again, not a ping).
        for moment in (3.7, 4.7, 5.2):
            door.poll(moment)
        assert link.sent[-1] == b"#5 STATUS\r\n"
        assert link.closes == 2
        door.poll(5.5)
        assert link.opened_at == [3.2]  # the backoff doubled: 0.4 s
        door.poll(5.61)
        assert link.opened_at == [3.2, 5.61]
        answer(link, DOORS_CLOSED)
        events = door.poll(5.7)
        assert isinstance(events[0], Connected)
        assert door.connected and door.problem is None

    def test_answers_in_between_keep_the_port_open(self):
        link, door = hand_doors()
        door.poll(0.0)
        answer(link, DOORS_CLOSED)
        door.poll(0.0)
        door.poll(1.0)
        door.poll(1.5)  # one PING unanswered
        door.poll(2.5)
        answer(link)  # the next one answered
        door.poll(2.6)
        assert link.sent[-1] == b"#4 STATUS\r\n"  # back after silence: the doors again
        answer(link, DOORS_CLOSED)
        door.poll(2.7)
        door.poll(3.6)
        assert link.sent[-1] == b"#5 PING\r\n"
        door.poll(4.1)  # one more unanswered: not two in a row
        assert link.closes == 0
        assert not door.connected

    def test_commands_before_identification_fail_at_once(self):
        link, door = hand_doors()
        door.poll(0.0)
        assert link.sent == [b"#1 STATUS\r\n"]
        command = door.open(Door.EXIT)
        [failed] = door.poll(0.1)
        assert failed == CommandFailed(0.0, command, "device not identified yet")
        assert link.sent == [b"#1 STATUS\r\n"]


class TestIdentity:
    def test_the_configured_identity_is_asked_first(self):
        link, door = hand_doors(identity="T2-07-DOORS")
        door.poll(0.0)
        assert link.sent == [b"#1 HELLO\r\n"]
        answer(link, b"KIND=DOORS ID=T2-07-DOORS")
        assert door.poll(0.1) == [Identified(0.1, "DOORS", "T2-07-DOORS")]
        assert link.sent[-1] == b"#2 STATUS\r\n"
        answer(link, DOORS_CLOSED)
        assert isinstance(door.poll(0.2)[0], Connected)
        assert door.state(Door.EXIT) is not None

    @pytest.mark.parametrize(
        ("reply", "reason"),
        [
            (
                b"OK KIND=DOORS ID=T2-08-DOORS",
                "wrong device: HELLO answered ID=T2-08-DOORS, expected ID=T2-07-DOORS",
            ),
            (
                b"OK KIND=OCCUPANCY ID=T2-07-OCC",
                "wrong device: KIND=OCCUPANCY ID=T2-07-OCC, expected KIND=DOORS",
            ),
            (b"OK", "wrong device: HELLO answered no ID, expected ID=T2-07-DOORS"),
            (
                b"ERR 10 unknown command HELLO",
                "wrong device: HELLO refused (10 unknown command HELLO), expected ID=T2-07-DOORS",
            ),
        ],
    )
    def test_another_identity_is_the_wrong_device(self, reply, reason):
        link, door = hand_doors(identity="T2-07-DOORS")
        door.poll(0.0)
        link.inbox += b"#1 " + reply + b"\r\n"
        assert door.poll(0.1) == [WrongDevice(0.1, reason), Disconnected(0.1, reason)]
        assert (door.connected, door.problem, link.is_open) == (False, reason, False)
        assert link.sent == [b"#1 HELLO\r\n"]

    def test_a_wrong_device_is_never_commanded_and_looked_at_again(self):
        link, door = hand_doors(identity="T2-07-DOORS")
        door.poll(0.0)
        answer(link, b"KIND=OCCUPANCY ID=T2-07-OCC")
        door.poll(0.1)
        command = door.open(Door.ENTRY)
        assert door.poll(0.2) == [CommandFailed(0.0, command, "not connected")]
        door.poll(0.31)
        assert link.sent[-1] == b"#4 HELLO\r\n"  # reopened 0.2 s later; #3 was the OPEN
        answer(link, b"KIND=OCCUPANCY ID=T2-07-OCC")
        # The same wrong device again: reported once, not at every look.
        assert door.poll(0.4) == []
        door.poll(0.79)
        door.poll(0.81)
        assert link.opened_at == [0.31, 0.81]  # then 0.4 s later
        answer(link, b"KIND=DOORS ID=T2-07-DOORS")
        door.poll(0.9)
        answer(link, DOORS_CLOSED)
        assert isinstance(door.poll(1.0)[0], Connected)
        assert not any(line.split()[1] == b"OPEN" for line in link.sent)

    @pytest.mark.parametrize(
        ("status", "reason"),
        [
            (
                b"#1 OK COUNT=0 ENTRY=CLEAR EXIT=CLEAR",
                "wrong device: STATUS answered COUNT=0 ENTRY=CLEAR EXIT=CLEAR, not a door board",
            ),
            (b"#1 OK", "wrong device: STATUS answered nothing, not a door board"),
            (
                b"#1 ERR 10 unknown command STATUS",
                "wrong device: STATUS refused (10 unknown command STATUS), not a door board",
            ),
        ],
    )
    def test_a_door_board_is_known_by_its_status(self, status, reason):
        link, door = hand_doors()
        door.poll(0.0)
        link.inbox += status + b"\r\n"
        assert door.poll(0.1)[0] == WrongDevice(0.1, reason)

    def test_an_occupancy_sensor_is_known_by_its_count(self):
        link = HandLink(reopens=True, settings=HAND_SETTINGS)
        sensor = OccupancySensor(link, SETTINGS, clock=lambda: 0.0)  # type: ignore[arg-type]
        sensor.poll(0.0)
        answer(link, DOORS_CLOSED)
        reason = "wrong device: STATUS answered ENTRY=CLOSED EXIT=CLOSED, not an occupancy sensor"
        assert sensor.poll(0.1)[0] == WrongDevice(0.1, reason)
        assert sensor.count is None

    def test_a_probe_answered_after_an_unanswered_hello_identifies_nothing(self):
        link, door = hand_doors(identity="T2-07-DOORS")
        door.poll(0.0)
        door.poll(0.5)  # the HELLO got no reply: the rest of the identification is dropped
        assert link.sent == [b"#1 HELLO\r\n"]
        door.poll(1.5)  # idle for a heartbeat: the identification starts over
        assert link.sent[-1] == b"#3 HELLO\r\n"
        link.inbox += b"#2 OK ENTRY=CLOSED EXIT=CLOSED\r\n"  # a late answer to nothing
        door.poll(1.6)
        assert not door.connected


class TestRefusals:
    def test_a_refused_door_command_names_the_door(self):
        link, door = hand_doors()
        door.poll(0.0)
        answer(link, b"ENTRY=OPEN EXIT=CLOSED")
        door.poll(0.0)
        command = door.open(Door.EXIT)
        link.inbox += b"#2 ERR 21 other door not closed\r\n"
        [refused] = door.poll(0.1)
        assert refused == DoorRefused(0.1, command, 21, "other door not closed", Door.EXIT)
        assert isinstance(refused, Refused)
        assert (refused.verb, refused.interlock) == ("OPEN", True)
        status = door.status()
        link.inbox += b"#3 ERR 50 busy\r\n"
        # Not about a door: a plain Refused.
        assert door.poll(0.2) == [Refused(0.2, status, ErrorCode.DEVICE_FAILURE, "busy")]


# --- on pseudo-terminals ------------------------------------------------------------

FAST = CommandSettings(timeout_s=0.05, retries=1, heartbeat_s=0.05, reopen_after=2)
BOARD = DoorBoardSettings(travel_s=0.1, watchdog_s=60.0, identity="T2-07-DOORS")
SENSOR = OccupancySensorSettings(identity="T2-07-OCC")
PATIENCE_S = 10.0


class Pump:
    """Polls a driver and keeps every event, until the one a test waits for arrives."""

    def __init__(self, driver: Any) -> None:
        self.driver = driver
        self.events: list[Any] = []
        self._seen = 0

    def until(self, wanted: Callable[[Any], bool]) -> Any:
        deadline = time.monotonic() + PATIENCE_S
        while True:
            while self._seen < len(self.events):
                event = self.events[self._seen]
                self._seen += 1
                if wanted(event):
                    return event
            assert time.monotonic() < deadline, f"no such event; last: {self.events[-12:]}"
            self.events += self.driver.poll(time.monotonic())
            time.sleep(0.002)

    def wait(self, kind: type) -> Any:
        return self.until(lambda event: isinstance(event, kind))

    def run_until(self, condition: Callable[[], bool]) -> None:
        """Keep polling until ``condition()`` holds, events or not."""
        deadline = time.monotonic() + PATIENCE_S
        while not condition():
            assert time.monotonic() < deadline, f"not reached; last: {self.events[-12:]}"
            self.events += self.driver.poll(time.monotonic())
            time.sleep(0.002)


@pytest.fixture
def door_tty() -> Iterator[PseudoTerminal]:
    with PseudoTerminal() as pty:
        yield pty


@pytest.fixture
def sensor_tty() -> Iterator[PseudoTerminal]:
    with PseudoTerminal() as pty:
        yield pty


def point(link: Path, target: str) -> None:
    """Make the device name ``link`` lead to ``target`` (as udev does after a replug)."""
    temporary = link.with_suffix(".new")
    os.symlink(target, temporary)
    os.replace(temporary, link)


def serial_at(port: Path | str) -> SerialSettings:
    return SerialSettings(
        port=str(port), read_timeout_s=0, reconnect_initial_s=0.02, reconnect_max_s=0.1
    )


@pytest.mark.hardware
def test_a_silent_board_is_closed_reopened_and_found_again(door_tty):
    states: list[LinkState] = []
    link = SerialLink(serial_at(door_tty.port), on_state=states.append)
    with DoorEmulator(door_tty, BOARD) as board:
        door = DoorController(link, FAST, identity="T2-07-DOORS")
        pump = Pump(door)
        try:
            pump.wait(Connected)
            board.mute()
            lost = pump.wait(Disconnected)
            assert lost.reason.startswith("device silent: ")
            # Closed on purpose and opened again: the link went down and up.
            pump.run_until(lambda: states.count(LinkState.CONNECTED) >= 2)
            assert LinkState.DISCONNECTED in states[1:]
            board.mute(False)
            pump.wait(Connected)
            assert door.connected and door.problem is None
            heard = [item.verb for item in board.received if hasattr(item, "verb")]
            # Every reopening starts with the identification.
            assert heard.count("HELLO") >= 2
        finally:
            door.shutdown()


@pytest.mark.hardware
def test_a_renumbered_port_leads_to_the_wrong_device_which_is_never_commanded(
    tmp_path, door_tty, sensor_tty
):
    name = tmp_path / "ttyUSB1"
    with DoorEmulator(door_tty, BOARD) as board, OccupancyEmulator(sensor_tty, SENSOR) as sensor:
        point(name, sensor_tty.path)  # ttyUSB1 is now the occupancy sensor
        door = DoorController(serial_at(name), FAST, identity="T2-07-DOORS")
        pump = Pump(door)
        try:
            wrong = pump.wait(WrongDevice)
            assert wrong.reason == "wrong device: KIND=OCCUPANCY ID=T2-07-OCC, expected KIND=DOORS"
            lost = pump.wait(Disconnected)
            assert lost.reason == wrong.reason
            assert door.problem == wrong.reason
            failed = door.open(Door.EXIT)
            assert pump.until(lambda e: isinstance(e, CommandFailed) and e.command == failed)
            # Looked at again (with backoff) but never commanded.
            pump.run_until(lambda: sum(c.verb == "HELLO" for c in commands(sensor)) >= 2)
            assert {c.verb for c in commands(sensor)} == {"HELLO"}
            point(name, door_tty.path)  # the board is back under its name
            pump.wait(Connected)
            assert door.state(Door.ENTRY) is not None
            opened = door.open(Door.ENTRY)
            pump.until(lambda e: getattr(e, "command", None) == opened)
            assert [c.verb for c in commands(board)][:2] == ["HELLO", "STATUS"]
            assert [c for c in board.executions("OPEN")] == [opened]
        finally:
            door.shutdown()


@pytest.mark.hardware
def test_without_an_identity_the_status_reply_tells_the_wrong_kind(sensor_tty):
    with OccupancyEmulator(sensor_tty, SENSOR) as sensor:
        door = DoorController(serial_at(sensor_tty.port), FAST)
        pump = Pump(door)
        try:
            wrong = pump.wait(WrongDevice)
            assert wrong.reason == (
                "wrong device: STATUS answered COUNT=0 ENTRY=CLEAR EXIT=CLEAR, not a door board"
            )
            assert {c.verb for c in commands(sensor)} == {"STATUS"}
        finally:
            door.shutdown()


def commands(emulator: DoorEmulator | OccupancyEmulator) -> list[Any]:
    """The commands an emulator heard (anything with a verb)."""
    return [item for item in emulator.received if hasattr(item, "verb")]
