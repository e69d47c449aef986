"""A gate's device wiring: configuration, emulation on pseudo-terminals, the probe.

Everything runs over real pseudo-terminals and the real drivers; the gate
configuration files are loaded the way ``egate`` loads them.
"""

from __future__ import annotations

import os
import stat
import textwrap
from datetime import date
from pathlib import Path

import pytest

from egate.config import load_config
from egate.documents.layout import MrzFormat
from egate.documents.specimens import SPECIMENS
from hardware.camera import CameraSettings
from hardware.deskoframing import DESKO_EOD, DESKO_SOD, DeskoBytes
from hardware.devices import EMULATED_PORT, DeviceSettings, HardwareGateConfig, ReaderDevice
from hardware.doorsession import CommandSettings
from hardware.emulators.devices import emulated, emulators
from hardware.emulators.door import DoorEmulator
from hardware.emulators.pty import PseudoTerminal
from hardware.emulators.reader import ReaderEmulator
from hardware.framing import FRAMING_NAMES, make_framing
from hardware.link import LinkState, SerialLink, SerialSettings
from hardware.probe import ProbeResult, probe
from hardware.reader import DocumentRead, ReaderEvent, ReadFailed, SerialMrzReader

pytestmark = pytest.mark.hardware

GATES = Path(__file__).resolve().parents[2] / "configs" / "gates"
TD1, TD2, TD3 = (SPECIMENS[kind] for kind in (MrzFormat.TD1, MrzFormat.TD2, MrzFormat.TD3))
ALL = [TD1, TD2, TD3]
PROBE_KEYS = ["device", "port", "healthy", "state", "response_seconds", "detail"]


def mock_gate() -> HardwareGateConfig:
    return load_config(GATES / "mock.yaml", HardwareGateConfig)


def devices_of(**devices: object) -> DeviceSettings:
    return DeviceSettings.model_validate(devices)


def by_device(results: list[ProbeResult]) -> dict[str, ProbeResult]:
    return {result.device: result for result in results}


def is_character_device(path: str) -> bool:
    return os.path.exists(path) and stat.S_ISCHR(os.stat(path).st_mode)


def documents(events: list[ReaderEvent]) -> list[DocumentRead]:
    return [event for event in events if isinstance(event, DocumentRead)]


# --- emulated() ---------------------------------------------------------------


def test_the_mock_gate_says_emulated_for_every_serial_port():
    devices = mock_gate().devices
    assert devices.emulated is True
    assert devices.reader is not None and devices.doors is not None
    assert devices.occupancy is not None
    ports = [devices.reader.serial.port, devices.doors.serial.port, devices.occupancy.serial.port]
    assert ports == [EMULATED_PORT] * 3


def test_emulated_ports_are_pseudo_terminals_while_open_and_gone_after():
    devices = mock_gate().devices
    with emulated(devices) as running:
        assert running.reader is not None and running.doors is not None
        assert running.occupancy is not None
        ports = [running.reader.serial.port, running.doors.serial.port]
        ports.append(running.occupancy.serial.port)
        assert all(port.startswith("/dev/pts/") for port in ports), ports
        assert len(set(ports)) == 3
        assert all(is_character_device(port) for port in ports)
    # The masters are closed: Linux removes the slaves' device nodes.
    assert [port for port in ports if os.path.exists(port)] == []


def test_emulated_replaces_only_the_ports():
    devices = mock_gate().devices
    with emulated(devices) as running:
        assert running.reader is not None and devices.reader is not None
        assert running.doors is not None and devices.doors is not None
        assert running.occupancy is not None and devices.occupancy is not None
        assert running.reader.framing == devices.reader.framing == "desko"
        assert running.reader.serial.model_copy(update={"port": EMULATED_PORT}) == (
            devices.reader.serial
        )
        assert running.doors.commands == devices.doors.commands
        assert running.doors.serial.baudrate == devices.doors.serial.baudrate
        assert running.occupancy.serial.model_copy(update={"port": EMULATED_PORT}) == (
            devices.occupancy.serial
        )
        assert running.chip == devices.chip
        assert running.emulated is True
    # The settings given are not changed (they are frozen; this checks the copy).
    assert devices.reader.serial.port == EMULATED_PORT


def test_real_settings_pass_through_unchanged(tmp_path):
    devices = devices_of(
        emulated=False,
        reader={"framing": "rte", "serial": {"port": str(tmp_path / "ttyUSB0")}},
        doors={"serial": {"port": "/dev/ttyUSB1", "baudrate": 19200}},
        camera={"source": "/dev/video0"},
    )
    with emulated(devices) as running:
        assert running is devices
    # Nothing was created at the configured ports.
    assert not (tmp_path / "ttyUSB0").exists()


def test_an_emulated_gate_with_only_some_devices_emulates_only_those():
    devices = devices_of(emulated=True, doors={"serial": {"port": EMULATED_PORT}})
    with emulated(devices) as running:
        assert running.reader is None and running.occupancy is None
        assert running.doors is not None
        assert is_character_device(running.doors.serial.port)


# --- probe() ------------------------------------------------------------------


def test_probe_of_the_mock_gate_finds_every_device_healthy():
    with emulators(mock_gate().devices) as running:
        assert running.reader is not None
        # As an engineer lays a specimen card on the reader.
        running.reader.send(TD3)
        # The listening ends with the first frame: a long window is only a hang guard.
        results = probe(running.devices, date.today, reader_listen_s=10.0)
    devices = ["reader", "doors", "occupancy", "camera", "chip"]
    assert [result.device for result in results] == devices
    found = by_device(results)
    for result in results:
        assert result.healthy, result
        assert result.state == "connected"
        assert result.response_seconds is not None and result.response_seconds >= 0
    assert found["reader"].detail == "desko framing, first frame: TD3 MRZ, valid"
    # The boards' own answers to STATUS.
    assert found["doors"].detail == "ENTRY=CLOSED EXIT=CLOSED"
    assert found["occupancy"].detail == "COUNT=0 ENTRY=CLEAR EXIT=CLEAR"
    assert (found["chip"].port, found["chip"].detail) == ("mock", "mock chip reader")
    # The mock camera shows a sample photo (matplotlib's portrait at least).
    assert found["camera"].port == "mock"
    assert found["camera"].detail.startswith("mock, ") and found["camera"].detail.endswith(" frame")
    assert list(found["reader"].to_json()) == PROBE_KEYS


def test_probe_of_missing_ports_names_each_port(tmp_path):
    ports = {
        name: str(tmp_path / f"ttyUSB9{index}")
        for index, name in enumerate(("reader", "doors", "occupancy"))
    }
    devices = devices_of(
        reader={"serial": {"port": ports["reader"]}},
        doors={"serial": {"port": ports["doors"]}},
        occupancy={"serial": {"port": ports["occupancy"]}},
    )
    results = by_device(probe(devices, date.today))
    assert sorted(results) == ["doors", "occupancy", "reader"]
    for name, result in results.items():
        assert result.port == ports[name]
        assert not result.healthy
        assert result.state == "disconnected"
        assert result.response_seconds is None
        # One line naming the port and the cause, for every kind of device
        # (the door and occupancy drivers used to wait out every STATUS
        # retry and then say only "no answer to STATUS").
        assert result.detail == f"serial port {ports[name]}: cannot open: no such device"


def test_probe_of_a_file_that_is_no_serial_port(tmp_path):
    plain = tmp_path / "not-a-tty"
    plain.write_bytes(b"")
    devices = devices_of(
        reader={"serial": {"port": str(plain)}}, doors={"serial": {"port": str(plain)}}
    )
    results = probe(devices, date.today)
    assert [(result.healthy, result.detail) for result in results] == [
        (False, f"serial port {plain}: cannot open: not a serial port")
    ] * 2


def test_probe_of_a_silent_board_names_its_port():
    # A pseudo-terminal with nobody behind it: the port opens, nothing answers.
    with PseudoTerminal() as pty:
        devices = devices_of(
            doors={"serial": {"port": pty.path}, "commands": {"timeout_s": 0.05, "retries": 1}}
        )
        [result] = probe(devices, date.today)
        port = pty.path
    assert (result.port, result.healthy, result.state) == (port, False, "disconnected")
    assert result.response_seconds is None
    assert result.detail == f"serial port {port}: no answer to STATUS: no reply after 2 attempts"


def test_probe_of_a_port_held_by_another_link_says_busy_and_names_it(tmp_path):
    link = tmp_path / "ttyBUSY"
    devices = devices_of(
        reader={"serial": {"port": str(link)}}, doors={"serial": {"port": str(link)}}
    )
    with PseudoTerminal(link) as pty, DoorEmulator(pty):
        # SerialLink opens with pyserial's exclusive=True, an flock(2) on the
        # descriptor; Linux honours it on pseudo-terminals as on USB adapters.
        with SerialLink(SerialSettings(port=str(link))) as first:
            assert first.state is LinkState.CONNECTED
            busy = probe(devices, date.today, reader_listen_s=0.1)
        free = probe(devices, date.today, reader_listen_s=0.1)
    busy_detail = f"serial port {link}: cannot open: port is busy (another program has it open)"
    assert [(r.device, r.healthy, r.state, r.detail) for r in busy] == [
        ("reader", False, "disconnected", busy_detail),
        ("doors", False, "disconnected", busy_detail),
    ]
    # Once the first link lets go, the board answers; the reader's port opens
    # but nothing on it has sent a reader's frame.
    assert [(r.device, r.healthy, r.state) for r in free] == [
        ("reader", False, "no_frame_yet"),
        ("doors", True, "connected"),
    ]


def test_probe_of_a_silent_reader_says_port_open_no_frame_seen_yet():
    with emulators(mock_gate().devices) as running:
        assert running.devices.reader is not None
        reader_only = DeviceSettings(reader=running.devices.reader)
        [result] = probe(reader_only, date.today, reader_listen_s=0.2)
    assert (result.healthy, result.state, result.response_seconds) == (False, "no_frame_yet", None)
    assert result.detail == "port open, no frame seen yet (desko framing): lay a document on it"
    assert result.to_json()["state"] == "no_frame_yet"


def test_probe_of_a_reader_port_with_a_door_board_on_it(tmp_path):
    # A door board's lines where the reader should be: bytes, never a DESKO frame.
    lines = b"#1 OK ENTRY=CLOSED EXIT=CLOSED *5A\r\n! OPENED ENTRY *60\r\n"
    devices = devices_of(reader={"framing": "desko", "serial": {"port": str(tmp_path / "tty")}})
    with PseudoTerminal(tmp_path / "tty", watch_flushes=True) as pty:
        with ReaderEmulator("lines", pty) as board:
            board.send_raw(lines * 100)
            [many] = probe(devices, date.today, reader_listen_s=5.0)
        with ReaderEmulator("lines", pty) as board:
            board.send_raw(lines * 2)
            [few] = probe(devices, date.today, reader_listen_s=1.0)
    assert (many.healthy, many.state) == (False, "no_valid_frame")
    assert many.detail == (
        "no valid desko frame in 4096 bytes: wrong framing or another device on this port"
    )
    assert (few.healthy, few.state) == (False, "no_frame_yet")
    assert few.detail == (
        f"port open, no frame seen yet: {2 * len(lines)} bytes, no valid desko frame "
        "(wrong framing or baud rate, or another device on this port?)"
    )


def test_probe_of_a_missing_camera_is_unhealthy_without_raising(tmp_path):
    missing = tmp_path / "video99"
    [result] = probe(DeviceSettings(camera=CameraSettings(source=str(missing))), date.today)
    assert not result.healthy
    assert result.port == str(missing)
    assert result.response_seconds is None
    assert str(missing) in result.detail


def test_probe_of_nothing_is_nothing():
    assert probe(DeviceSettings(), date.today) == []


def test_command_settings_from_the_file_reach_the_probe(tmp_path):
    # A board that never answers, probed with the file's timeout and retries:
    # the attempts counted in the detail are the file's.
    with PseudoTerminal() as pty:
        gate = write_gate(
            tmp_path,
            f"""
            devices:
              doors:
                serial: {{port: {pty.path}}}
                commands: {{timeout_s: 0.02, retries: 3}}
            """,
        )
        devices = load_config(gate, HardwareGateConfig).devices
        assert devices.doors is not None
        assert devices.doors.commands == CommandSettings(timeout_s=0.02, retries=3)
        [result] = probe(devices, date.today)
    assert result.detail.endswith("no reply after 4 attempts")


# --- unplug and replug, configured from a gate file ---------------------------


def write_gate(folder: Path, devices_yaml: str) -> Path:
    path = folder / "gate.yaml"
    path.write_text("gate_id: lab-1\n" + textwrap.dedent(devices_yaml).lstrip("\n"))
    return path


@pytest.mark.parametrize("framing", FRAMING_NAMES)
def test_unplug_and_replug_mid_stream_loses_no_later_document(framing, tmp_path, today, poll_until):
    link = tmp_path / "ttyREADER"
    gate = write_gate(
        tmp_path,
        f"""
        devices:
          reader:
            framing: {framing}
            serial:
              port: {link}
              baudrate: 9600
              read_timeout_s: 0.01
              reconnect_initial_s: 0.01
              reconnect_max_s: 0.05
        """,
    )
    config = load_config(gate, HardwareGateConfig).devices.reader
    assert config is not None
    assert config.serial.port == str(link)
    states: list[LinkState] = []
    reader = SerialMrzReader(config.serial, config.framing, lambda: today, on_state=states.append)
    before, after = [TD3, TD1], [TD2, TD3, TD1]
    with PseudoTerminal(link, watch_flushes=True) as pty, ReaderEmulator(framing, pty) as emulator:
        try:
            for lines in before:
                emulator.send(lines)
            first = poll_until(reader, lambda events: len(documents(events)) == len(before))
            emulator.unplug()
            emulator.pause(0.05)
            emulator.plug_back()
            for lines in after:
                emulator.send(lines)
            later = poll_until(reader, lambda events: len(documents(events)) == len(after))
            assert emulator.wait_until_sent(5.0)
            # The configured path leads to the new pseudo-terminal.
            assert os.readlink(link) == pty.path
        finally:
            reader.close()
    assert [event.lines for event in first] == before
    # Every document sent after the replug, in order; nothing misread.
    assert [event.lines for event in later] == after
    assert [event for event in first + later if isinstance(event, ReadFailed)] == []
    assert all(event.result.valid for event in documents(first + later))
    assert emulator.errors == []
    # Connected, lost, looked for (failing while unplugged), back; closed at the end.
    assert states == [
        LinkState.CONNECTING,
        LinkState.CONNECTED,
        LinkState.DISCONNECTED,
        LinkState.CONNECTING,
        LinkState.CONNECTED,
        LinkState.DISCONNECTED,
    ]


# --- DESKO start and end bytes from the gate file ----------------------------------


def test_desko_bytes_default_to_1c_1d_and_can_be_set_in_the_gate_file(tmp_path):
    plain = ReaderDevice.model_validate({"framing": "desko", "serial": {"port": "loop://"}})
    assert plain.desko is None
    assert plain.make_framing().encode(TD3)[:: len(make_framing("desko").encode(TD3)) - 1] == (
        bytes([DESKO_SOD, DESKO_EOD])
    )
    gate = write_gate(
        tmp_path,
        """
        devices:
          reader:
            framing: desko
            desko: {start: "1E", end: "1F"}
            serial: {port: /dev/ttyUSB0}
        """,
    )
    reader = load_config(gate, HardwareGateConfig).devices.reader
    assert reader is not None and reader.desko == DeskoBytes.model_validate(
        {"start": "1E", "end": "1F"}
    )
    frame = reader.make_framing().encode(TD3)
    assert (frame[0], frame[-1]) == (0x1E, 0x1F)


@pytest.mark.parametrize(
    ("reader", "complaint"),
    [
        ({"framing": "lines", "desko": {"start": "1E"}}, "are for framing desko, not lines"),
        ({"framing": "desko", "desko": {"start": "03"}}, "03 is ETX"),
        ({"framing": "desko", "desko": {"stop": "1F"}}, "stop"),
        ({"framing": "desko", "no_frame_limit_bytes": 10}, "greater than or equal to 1024"),
    ],
)
def test_reader_settings_that_cannot_work_are_refused(reader, complaint):
    with pytest.raises(ValueError, match=complaint):
        ReaderDevice.model_validate({**reader, "serial": {"port": "loop://"}})


def test_a_desko_reader_sending_1e_1f_gives_10_of_10_documents(tmp_path, today, poll_until):
    # Issue 12: with the start and end bytes fixed at 1C/1D, 0 of 10.
    link = tmp_path / "ttyDESKO"
    gate = write_gate(
        tmp_path,
        f"""
        devices:
          reader:
            framing: desko
            desko: {{start: "1E", end: "1F"}}
            serial: {{port: {link}, read_timeout_s: 0.01}}
        """,
    )
    config = load_config(gate, HardwareGateConfig).devices.reader
    assert config is not None
    reader = config.driver(lambda: today)
    sent = [ALL[index % len(ALL)] for index in range(10)]
    framing = make_framing("desko", desko=DeskoBytes.model_validate({"start": "1E", "end": "1F"}))
    with PseudoTerminal(link, watch_flushes=True) as pty, ReaderEmulator(framing, pty) as emulator:
        try:
            for lines in sent:
                emulator.send(lines)
            events = poll_until(reader, lambda events: len(documents(events)) == len(sent))
        finally:
            reader.close()
    assert all(item.data[0] == 0x1E and item.data[-1] == 0x1F for item in emulator.sent)
    assert [event.lines for event in events] == sent
    assert all(event.result.valid for event in documents(events))


def test_a_mock_gate_emulates_its_readers_desko_bytes(today, poll_until):
    settings = mock_gate().devices.model_copy(
        update={
            "reader": ReaderDevice.model_validate(
                {
                    "framing": "desko",
                    "desko": {"start": "1E", "end": "1F"},
                    "serial": {"port": EMULATED_PORT, "read_timeout_s": 0.01},
                }
            ),
            "doors": None,
            "occupancy": None,
        }
    )
    with emulators(settings) as running:
        assert running.reader is not None and running.devices.reader is not None
        reader = running.devices.reader.driver(lambda: today)
        try:
            running.reader.send(TD1)
            [event] = poll_until(reader, documents)
        finally:
            reader.close()
    assert isinstance(event, DocumentRead)
    assert (event.raw[0], event.raw[-1], event.lines) == (0x1E, 0x1F, TD1)


# --- the mock camera ----------------------------------------------------------


def test_a_mock_camera_shows_photos_from_a_folder_relative_to_the_gate_file(tmp_path):
    from PIL import Image

    from hardware.devices import MockCameraDevice, open_mock_camera

    folder = tmp_path / "faces"
    folder.mkdir()
    Image.new("RGB", (40, 30), (200, 10, 10)).save(folder / "a.png")
    Image.new("RGB", (20, 10), (10, 200, 10)).save(folder / "b.png")
    camera = open_mock_camera(MockCameraDevice(images="faces"), tmp_path, clock=lambda: 5.0)
    first, second = camera.grab(), camera.grab()
    assert first is not None and second is not None
    assert (first.width, first.height, second.width, second.height) == (40, 30, 20, 10)
    assert tuple(first.image[0, 0]) == (200, 10, 10)
    assert first.timestamp == 5.0


def test_a_mock_camera_without_photos_is_unhealthy_with_the_reason(tmp_path):
    from hardware.devices import MockCameraDevice

    settings = DeviceSettings(mock_camera=MockCameraDevice(images="empty"))
    (tmp_path / "empty").mkdir()
    (result,) = probe(settings, date.today, base_dir=tmp_path)
    assert (result.device, result.healthy) == ("camera", False)
    assert result.detail == f"mock camera: no photos in {tmp_path / 'empty'}"


def test_camera_and_mock_camera_exclude_each_other():
    with pytest.raises(ValueError, match="configure one of them, not both"):
        DeviceSettings.model_validate(
            {"camera": {"source": "0"}, "mock_camera": {"images": "samples"}}
        )
