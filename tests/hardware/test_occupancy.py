"""The occupancy sensor: the emulated sensor's rules, and the driver against it over a real tty."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from hardware.doorprotocol import Command, ErrorCode, ErrorReply, Event, Reply
from hardware.doorsession import (
    Acknowledged,
    CommandSettings,
    Connected,
    DeviceRestarted,
    Disconnected,
    Unrecognized,
)
from hardware.emulators.occupancy import OccupancyBoard, OccupancyEmulator
from hardware.emulators.pty import PseudoTerminal
from hardware.link import SerialSettings
from hardware.occupancy import (
    BeamChanged,
    OccupancyChanged,
    OccupancySensor,
    TailgateDetected,
)

# --- the sensor -----------------------------------------------------------------


class TestBoard:
    def test_power_on(self):
        board = OccupancyBoard(0.0)
        assert board.power_on(0.0) == [Event("READY")]
        assert board.answer(Command(1, "STATUS"), 0.0)[0] == Reply(
            1, (("COUNT", "0"), ("ENTRY", "CLEAR"), ("EXIT", "CLEAR"))
        )

    def test_count_and_tailgate(self):
        board = OccupancyBoard(0.0)
        assert board.set_count(1) == [Event("COUNT", ("1",))]
        assert board.set_count(1) == []
        assert board.set_count(2) == [Event("COUNT", ("2",)), Event("TAILGATE")]
        assert board.set_count(3) == [Event("COUNT", ("3",))]
        assert board.answer(Command(4, "COUNT"), 0.0)[0] == Reply(4, (("COUNT", "3"),))

    def test_beams(self):
        board = OccupancyBoard(0.0, beams=("ENTRY", "MIDDLE", "EXIT"))
        assert board.beam("MIDDLE", True) == [Event("BEAM", ("MIDDLE", "BROKEN"))]
        assert board.beam("MIDDLE", True) == []
        reply, _ = board.answer(Command(2, "STATUS"), 0.0)
        assert isinstance(reply, Reply)
        assert reply.get("MIDDLE") == "BROKEN"

    @pytest.mark.parametrize(
        ("command", "code"),
        [
            (Command(1, "OPEN", ("EXIT",)), ErrorCode.UNKNOWN_COMMAND),
            (Command(1, "COUNT", ("ALL",)), ErrorCode.BAD_ARGUMENT),
        ],
    )
    def test_errors(self, command, code):
        reply, _ = OccupancyBoard(0.0).answer(command, 0.0)
        assert isinstance(reply, ErrorReply)
        assert reply.code == code

    def test_questions_are_never_taken_for_retransmissions(self):
        board = OccupancyBoard(0.0)
        board.answer(Command(1, "COUNT"), 0.0)
        board.set_count(1)
        assert board.answer(Command(1, "COUNT"), 0.1)[0] == Reply(1, (("COUNT", "1"),))


# --- the driver on a pseudo-terminal ----------------------------------------------

FAST = CommandSettings(timeout_s=0.1, retries=2, heartbeat_s=0.1)
PATIENCE_S = 10.0


class Pump:
    """Polls a driver and keeps every event, until the one a test waits for arrives."""

    def __init__(self, driver: Any) -> None:
        self.driver = driver
        self.events: list[Any] = []
        self._seen = 0

    def wait(self, kind: type, **fields: Any) -> Any:
        """The first event of ``kind`` with these field values after the last one waited for."""
        return self.until(
            lambda e: isinstance(e, kind) and all(getattr(e, k) == v for k, v in fields.items())
        )

    def until(self, wanted: Callable[[Any], bool]) -> Any:
        deadline = time.monotonic() + PATIENCE_S
        while True:
            while self._seen < len(self.events):
                event = self.events[self._seen]
                self._seen += 1
                if wanted(event):
                    return event
            if time.monotonic() > deadline:
                raise AssertionError(f"no such event; last: {self.events[-12:]}")
            self.events += self.driver.poll(time.monotonic())
            time.sleep(0.002)


@pytest.fixture
def tty(tmp_path: Path) -> Iterator[PseudoTerminal]:
    with PseudoTerminal(link=tmp_path / "occupancy") as pty:
        yield pty


@pytest.fixture
def sensor_device(tty: PseudoTerminal) -> Iterator[OccupancyEmulator]:
    with OccupancyEmulator(tty) as emulator:
        yield emulator


@pytest.fixture
def sensor(tty: PseudoTerminal, sensor_device: OccupancyEmulator) -> Iterator[OccupancySensor]:
    serial = SerialSettings(port=tty.port, reconnect_initial_s=0.02, reconnect_max_s=0.1)
    driver = OccupancySensor(serial, FAST)
    yield driver
    driver.shutdown()


@pytest.fixture
def pump(sensor: OccupancySensor) -> Pump:
    """A pump on a driver that has connected and learnt the count."""
    pump = Pump(sensor)
    pump.wait(Connected)
    pump.until(lambda e: sensor.count is not None)
    return pump


@pytest.mark.hardware
class TestDriver:
    def test_connects_and_learns_count_and_beams(self, pump, sensor):
        assert sensor.connected
        assert sensor.count == 0
        assert (sensor.beam("ENTRY"), sensor.beam("EXIT"), sensor.beam("NONE")) == (
            False,
            False,
            None,
        )

    def test_someone_walks_in_and_out(self, pump, sensor, sensor_device):
        sensor_device.walk_in()
        pump.wait(BeamChanged, beam="ENTRY", broken=True)
        pump.wait(BeamChanged, beam="ENTRY", broken=False)
        pump.wait(OccupancyChanged, count=1)
        sensor_device.walk_out()
        pump.wait(BeamChanged, beam="EXIT", broken=True)
        pump.wait(OccupancyChanged, count=0)
        assert sensor.count == 0

    def test_tailgating(self, pump, sensor_device):
        sensor_device.walk_in()
        sensor_device.walk_in()
        pump.wait(OccupancyChanged, count=2)
        pump.wait(TailgateDetected)
        sensor_device.tailgate()
        pump.wait(TailgateDetected)

    def test_asking_for_the_count(self, pump, sensor, sensor_device):
        sensor_device.set_count(1)
        command = sensor.request_count()
        ack = pump.wait(Acknowledged, command=command)
        assert ack.reply.get("COUNT") == "1"
        assert sensor.count == 1
        status = sensor.status()
        assert pump.wait(Acknowledged, command=status).reply.get("EXIT") == "CLEAR"

    def test_garbage_is_reported_and_survived(self, pump, sensor, sensor_device):
        for data, raw in [
            (b"! COUNT many\r\n", "! COUNT many"),
            (b"! COUNT 1000\r\n", "! COUNT 1000"),
            (b"! BEAM ENTRY DIRTY\r\n", "! BEAM ENTRY DIRTY"),
            (b"! TAILGATE 2\r\n", "! TAILGATE 2"),
            (b"\x07\x1b[2J\r\n", "\\x07\\x1b"),
        ]:
            sensor_device.send_raw(data)
            pump.wait(Unrecognized, raw=raw)
        sensor_device.fragment(2, 0.002)
        sensor_device.walk_in()
        pump.wait(OccupancyChanged, count=1)

    def test_unplug_and_replug(self, pump, sensor, sensor_device, tty):
        sensor_device.set_count(1)
        pump.wait(OccupancyChanged, count=1)
        tty.hang_up()
        pump.wait(Disconnected)
        assert sensor.count is None
        sensor_device.set_count(0)  # while unplugged: the event is lost
        tty.plug_back()
        pump.wait(Connected)
        status = pump.wait(Acknowledged)
        assert status.command.verb == "STATUS"
        assert sensor.count == 0

    def test_a_sensor_restart(self, pump, sensor, sensor_device):
        sensor_device.set_count(2)
        pump.wait(OccupancyChanged, count=2)
        sensor_device.power_cycle()
        pump.wait(DeviceRestarted)
        pump.wait(OccupancyChanged, count=0)
