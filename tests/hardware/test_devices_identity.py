"""The door board's and the sensor's settings in a gate file, and the drivers made from them.

Identity, sensor kind and passage window are read from the gate file,
handed to the emulators of a mock gate and to the drivers of a real one,
and shown by the probe; a device of the wrong kind is reported as such.
"""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path

import pytest
from pydantic import ValidationError

from egate.documents.layout import MrzFormat
from egate.documents.specimens import SPECIMENS
from hardware.devices import CommandDevice, DeviceSettings, OccupancyDevice, occupancy_device
from hardware.doorsession import Connected
from hardware.emulators.devices import emulators
from hardware.emulators.door import DoorBoardSettings
from hardware.emulators.occupancy import OccupancySensorSettings, PassageOrder
from hardware.indicator import RecordingIndicator
from hardware.link import SerialSettings
from hardware.passage import Passage
from hardware.probe import probe
from hardware.reader import DocumentRead
from station.gatedevices import open_gate_devices

PATIENCE_S = 10.0
QUICK = {"timeout_s": 0.05, "retries": 1, "heartbeat_s": 0.05}


def devices_of(**devices: object) -> DeviceSettings:
    return DeviceSettings.model_validate(devices)


class TestSettings:
    def test_identity_kind_and_window(self):
        devices = devices_of(
            doors={"serial": {"port": "/dev/egate-doors"}, "identity": "T2-07-DOORS"},
            occupancy={
                "serial": {"port": "/dev/egate-occupancy"},
                "identity": "T2-07-OCC",
                "kind": "count_only",
                "passage_window_s": 2.5,
            },
        )
        assert devices.doors is not None and devices.doors.identity == "T2-07-DOORS"
        sensor = devices.occupancy
        assert isinstance(sensor, OccupancyDevice)
        assert (sensor.identity, sensor.kind, sensor.passage_window_s) == (
            "T2-07-OCC",
            "count_only",
            2.5,
        )
        assert sensor.commands.reopen_after == 3

    def test_defaults(self):
        sensor = devices_of(occupancy={"serial": {"port": "x"}}).occupancy
        assert isinstance(sensor, OccupancyDevice)
        assert (sensor.identity, sensor.kind, sensor.passage_window_s) == (None, "auto", 1.5)

    @pytest.mark.parametrize(
        "device",
        [
            {"doors": {"serial": {"port": "x"}, "identity": "two words"}},
            {"doors": {"serial": {"port": "x"}, "identity": "x" * 25}},
            {"doors": {"serial": {"port": "x"}, "kind": "count_only"}},
            {"occupancy": {"serial": {"port": "x"}, "kind": "camera"}},
            {"occupancy": {"serial": {"port": "x"}, "passage_window_s": 0}},
            {"occupancy": {"serial": {"port": "x"}, "commands": {"reopen_after": 0}}},
        ],
    )
    def test_refused(self, device):
        with pytest.raises(ValidationError):
            devices_of(**device)

    def test_a_plain_command_device_serves_as_the_sensor(self):
        plain = CommandDevice(serial=SerialSettings(port="x"), identity="OCC")
        settings = DeviceSettings(occupancy=plain)
        assert isinstance(settings.occupancy, OccupancyDevice)
        assert settings.occupancy.identity == "OCC"
        assert occupancy_device(plain) == settings.occupancy


@pytest.mark.hardware
def test_the_emulators_answer_with_the_configured_identities():
    devices = devices_of(
        emulated=True,
        doors={"serial": {"port": "emulated"}, "identity": "T2-07-DOORS", "commands": QUICK},
        occupancy={"serial": {"port": "emulated"}, "identity": "T2-07-OCC", "commands": QUICK},
    )
    with emulators(devices, DoorBoardSettings(interlock=True)) as started:
        assert started.doors is not None and started.occupancy is not None
        assert started.doors.board.settings.interlock
        assert started.doors.board.identity == "T2-07-DOORS"
        assert started.occupancy.board.identity == "T2-07-OCC"
        found = {result.device: result for result in probe(started.devices, date.today)}
    assert found["doors"].healthy and found["occupancy"].healthy
    assert found["doors"].detail == "ID=T2-07-DOORS ENTRY=CLOSED EXIT=CLOSED"
    assert found["occupancy"].detail == "ID=T2-07-OCC COUNT=0 ENTRY=CLEAR EXIT=CLEAR"


@pytest.mark.hardware
def test_the_probe_names_a_wrong_device():
    devices = devices_of(
        emulated=True,
        doors={"serial": {"port": "emulated"}, "commands": QUICK},
        occupancy={"serial": {"port": "emulated"}, "commands": QUICK},
    )
    with emulators(devices) as started:
        assert started.devices.occupancy is not None
        # The door board's name leads to the occupancy sensor.
        crossed = devices_of(
            doors={
                "serial": {"port": started.devices.occupancy.serial.port},
                "identity": "T2-07-DOORS",
                "commands": QUICK,
            }
        )
        [result] = probe(crossed, date.today)
    assert (result.healthy, result.state) == (False, "wrong_device")
    assert result.detail.endswith(
        "wrong device: KIND=OCCUPANCY ID=EMULATED-OCCUPANCY, expected KIND=DOORS"
    )


@pytest.mark.hardware
def test_the_gate_drivers_take_identity_kind_and_window(tmp_path: Path):
    devices = devices_of(
        emulated=True,
        reader={"serial": {"port": "emulated"}},
        doors={"serial": {"port": "emulated"}, "identity": "T2-07-DOORS", "commands": QUICK},
        occupancy={
            "serial": {"port": "emulated"},
            "identity": "T2-07-OCC",
            "kind": "beams",
            "passage_window_s": 0.5,
            "commands": QUICK,
        },
        mock_camera={},
        chip={},
    )
    sensor_settings = OccupancySensorSettings(order=PassageOrder.COUNT_BROKEN_CLEAR)
    with emulators(devices, occupancy_sensor=sensor_settings) as started:
        assert started.occupancy is not None
        gate = open_gate_devices(
            started.devices, RecordingIndicator(), today=date.today, base_dir=tmp_path
        )
        try:
            sensor = gate.occupancy
            assert sensor is not None
            give_up = time.monotonic() + PATIENCE_S
            while not (gate.doors.connected and sensor.connected):
                assert time.monotonic() < give_up, gate.health()
                gate.doors.poll(time.monotonic())
                sensor.poll(time.monotonic())
                time.sleep(0.002)
            assert not sensor.count_only  # kind: beams
            started.occupancy.walk_in()
            passages: list[Passage] = []
            while not passages:
                assert time.monotonic() < give_up, "no passage"
                passages += [e for e in sensor.poll(time.monotonic()) if isinstance(e, Passage)]
                time.sleep(0.002)
            assert [(p.direction, p.beam, p.count) for p in passages] == [("in", "ENTRY", 1)]
            assert gate.health()["doors"] is None and gate.health()["occupancy"] is None
        finally:
            gate.close()


@pytest.mark.hardware
def test_health_says_why_a_device_is_down(tmp_path: Path):
    missing = tmp_path / "ttyUSB7"
    devices = devices_of(
        reader={"serial": {"port": str(tmp_path / "ttyUSB6")}},
        doors={"serial": {"port": str(missing)}, "commands": QUICK},
        occupancy={"serial": {"port": str(missing)}, "commands": QUICK},
        mock_camera={},
    )
    gate = open_gate_devices(devices, RecordingIndicator(), today=date.today, base_dir=tmp_path)
    try:
        assert gate.occupancy is not None
        events = [*gate.doors.poll(time.monotonic()), *gate.occupancy.poll(time.monotonic())]
        assert not any(isinstance(event, Connected) for event in events)
        health = gate.health()
        reason = f"serial port {missing}: cannot open: no such device"
        assert (health["doors"], health["occupancy"]) == (reason, reason)
    finally:
        gate.close()


@pytest.mark.hardware
def test_the_gate_reader_speaks_the_configured_desko_bytes(tmp_path: Path):
    devices = devices_of(
        emulated=True,
        reader={
            "serial": {"port": "emulated"},
            "framing": "desko",
            "desko": {"start": "1E", "end": "1F"},
        },
        doors={"serial": {"port": "emulated"}, "commands": QUICK},
        mock_camera={},
    )
    with emulators(devices) as started:
        assert started.reader is not None
        gate = open_gate_devices(
            started.devices, RecordingIndicator(), today=date.today, base_dir=tmp_path
        )
        try:
            gate.reader.open()
            started.reader.send(SPECIMENS[MrzFormat.TD3])
            give_up = time.monotonic() + PATIENCE_S
            reads: list[DocumentRead] = []
            while not reads:
                assert time.monotonic() < give_up, "no document read"
                reads += [e for e in gate.reader.poll() if isinstance(e, DocumentRead)]
            assert reads[0].result.lines == SPECIMENS[MrzFormat.TD3]
        finally:
            gate.close()
