"""``egate devices probe | read | emulate``, in this process and as real processes.

The process tests run the emulator and the reader as two ``egate`` processes
talking over a real pseudo-terminal, as an engineer would on one machine.
Every wait has a generous hang guard; nothing asserts on how long anything took.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

import numpy as np
import pytest
import yaml

import egate.cli.devices as devices_cli
from egate.audit import read_audit
from egate.documents.layout import MrzFormat
from egate.documents.specimens import SPECIMENS
from egate.samples import SampleError, fetch_samples
from hardware.doorprotocol import Command, ErrorReply, Event, MessageReader, Reply, encode
from hardware.emulators.door import DoorEmulator
from hardware.emulators.pty import PseudoTerminal
from hardware.emulators.reader import ReaderEmulator
from hardware.framing import make_framing
from hardware.link import SerialLink, SerialSettings
from hardware.reader import SerialMrzReader
from station.people.travellers import SampleCase, SamplePhotos, sample_travellers

pytestmark = pytest.mark.hardware

REPO = Path(__file__).resolve().parents[2]
MOCK_GATE = REPO / "configs" / "gates" / "mock.yaml"
EXAMPLE_GATE = REPO / "configs" / "gates" / "example-hardware.yaml"
# Hang guards, never a measure.
PATIENCE_S = 20.0
RUN_PATIENCE_S = 180.0
PROBE_KEYS = ["device", "port", "healthy", "state", "response_seconds", "detail"]

TD1, TD2, TD3 = (SPECIMENS[kind] for kind in (MrzFormat.TD1, MrzFormat.TD2, MrzFormat.TD3))
# What `egate devices read --json` shows of each specimen.
EXPECTED = {
    "TD1": {"document_type": "I", "document_number": "D23145890", "birth_date": "1974-08-12"},
    "TD2": {"document_type": "I", "document_number": "D23145890", "birth_date": "1974-08-12"},
    "TD3": {"document_type": "P", "document_number": "L898902C", "birth_date": "1969-08-06"},
}

ENV = {key: value for key, value in os.environ.items() if key != "FORCE_COLOR"} | {"COLUMNS": "200"}
EGATE = [sys.executable, "-m", "egate"]


def stdin_of(*documents: tuple[str, ...] | str) -> bytes:
    """Documents as `egate devices emulate reader` reads them: a blank line between."""
    blocks = [doc if isinstance(doc, str) else "\n".join(doc) for doc in documents]
    return ("\n\n".join(blocks) + "\n").encode()


def write_gate(folder: Path, devices_yaml: str, name: str = "gate.yaml") -> Path:
    path = folder / name
    path.write_text("gate_id: lab-1\n" + textwrap.dedent(devices_yaml).lstrip("\n"))
    return path


def reader_gate(folder: Path, port: Path | str, framing: str = "lines", **serial: object) -> Path:
    """A gate with only a reader, on ``port``; ``serial`` adds serial settings."""
    lines = ["devices:", "  reader:", f"    framing: {framing}", "    serial:"]
    lines.append(f"      port: {port}")
    lines += [f"      {key}: {value}" for key, value in serial.items()]
    return write_gate(folder, "\n".join(lines) + "\n")


def probe_json(out: str) -> dict[str, dict[str, object]]:
    rows = [json.loads(line) for line in out.splitlines()]
    for row in rows:
        assert list(row) == PROBE_KEYS
    return {row["device"]: row for row in rows}


def one_error_line(err: str) -> str:
    assert err.endswith("\n") and err.count("\n") == 1, err
    assert "Traceback" not in err
    return err.rstrip("\n")


def run_egate(*argv: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    """``egate`` as a process, killed (and the test failed) if it hangs."""
    return subprocess.run(
        [*EGATE, *argv], input=stdin, capture_output=True, env=ENV, timeout=PATIENCE_S, check=False
    )


@contextlib.contextmanager
def emulator_process(
    kind: str,
    link: Path,
    *options: str,
    stdin: bytes | None = b"",
) -> Iterator[subprocess.Popen[bytes]]:
    """``egate devices emulate KIND --link LINK`` running until the block ends.

    ``stdin`` is written and closed; with None it stays open (a terminal
    nobody types in). Yields once the link exists; kills the process if the
    test left it running.
    """
    process = subprocess.Popen(
        [*EGATE, "devices", "emulate", kind, "--link", str(link), *options],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=ENV,
    )
    assert process.stdin is not None and process.stderr is not None
    try:
        if stdin is not None:
            process.stdin.write(stdin)
            process.stdin.close()
        give_up = time.monotonic() + PATIENCE_S
        while not link.exists():
            if process.poll() is not None:
                pytest.fail(f"the emulator ended early: {process.stderr.read()!r}")
            if time.monotonic() > give_up:
                pytest.fail("the emulator never made its link")
            time.sleep(0.02)
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        for stream in (process.stdin, process.stdout, process.stderr):
            if stream is not None:
                stream.close()


def stop(process: subprocess.Popen[bytes]) -> tuple[int, str, str]:
    """SIGTERM, then (exit status, stdout, stderr); the test fails if it does not end."""
    process.send_signal(signal.SIGTERM)
    try:
        status = process.wait(timeout=PATIENCE_S)
    except subprocess.TimeoutExpired:
        pytest.fail("the emulator did not end on SIGTERM")
    assert process.stdout is not None and process.stderr is not None
    return status, process.stdout.read().decode(), process.stderr.read().decode()


# --- probe --------------------------------------------------------------------


def test_probe_of_the_mock_gate_is_healthy_as_json(cli):
    # The emulated reader is handed a specimen; listening ends with its frame.
    ran = cli("devices", "probe", "--config", str(MOCK_GATE), "--json", "--listen", "10")
    assert (ran.status, ran.err) == (0, "")
    found = probe_json(ran.out)
    assert list(found) == ["reader", "doors", "occupancy", "camera", "chip"]
    for row in found.values():
        assert (row["healthy"], row["state"]) == (True, "connected"), row
        assert isinstance(row["response_seconds"], float) and row["response_seconds"] >= 0
    for name in ("reader", "doors", "occupancy"):
        assert str(found[name]["port"]).startswith("/dev/pts/")
    assert found["reader"]["detail"] == "desko framing, first frame: TD3 MRZ, valid"
    assert found["doors"]["detail"] == "ENTRY=CLOSED EXIT=CLOSED"
    assert found["occupancy"]["detail"] == "COUNT=0 ENTRY=CLEAR EXIT=CLEAR"
    assert (found["chip"]["port"], found["chip"]["detail"]) == ("mock", "mock chip reader")


def test_probe_of_the_mock_gate_as_a_table(cli):
    ran = cli("devices", "probe", "--config", str(MOCK_GATE), "--listen", "10")
    assert (ran.status, ran.err) == (0, "")
    assert "Devices of gate mock-1" in ran.out
    rows = {
        cells[0]: cells
        for line in ran.out.splitlines()
        if len(cells := [cell.strip() for cell in line.strip("│").split("│")]) == 5
    }
    for name in ("reader", "doors", "occupancy", "chip"):
        _, port, state, response, _ = rows[name]
        assert state == "connected"
        assert response.endswith(" ms") and float(response.removesuffix(" ms")) >= 0
        assert port == "mock" if name == "chip" else port.startswith("/dev/pts/")
    assert rows["reader"][4] == "desko framing, first frame: TD3 MRZ, valid"
    assert rows["doors"][4] == "ENTRY=CLOSED EXIT=CLOSED"


def test_probe_of_a_reader_port_that_does_not_exist(cli, tmp_path):
    missing = tmp_path / "ttyUSB99"
    gate = write_gate(
        tmp_path,
        f"""
        devices:
          reader: {{framing: rte, serial: {{port: {missing}}}}}
          chip: {{kind: mock}}
        """,
    )
    ran = cli("devices", "probe", "--config", str(gate), "--json")
    assert (ran.status, ran.err) == (1, "")
    found = probe_json(ran.out)
    assert found["reader"] == {
        "device": "reader",
        "port": str(missing),
        "healthy": False,
        "state": "disconnected",
        "response_seconds": None,
        "detail": f"serial port {missing}: cannot open: no such device",
    }
    assert found["chip"]["healthy"] is True
    # The table says the same.
    table = cli("devices", "probe", "--config", str(gate))
    assert table.status == 1
    assert "disconnected" in table.out and "no such device" in table.out


EXAMPLE_PORTS = {
    "reader": "/dev/serial/by-id/usb-FTDI_FT232R_USB_UART_A10READR-if00-port0",
    "doors": "/dev/serial/by-id/usb-FTDI_FT232R_USB_UART_A10DOORS-if00-port0",
    "occupancy": "/dev/serial/by-id/usb-FTDI_FT232R_USB_UART_A10OCCUP-if00-port0",
}


@pytest.mark.skipif(
    any(Path(port).exists() for port in EXAMPLE_PORTS.values()),
    reason="this machine has the example's serial ports",
)
def test_probe_of_the_hardware_example_without_its_hardware(egate_process):
    ran = egate_process("devices", "probe", "--config", str(EXAMPLE_GATE), "--json", via="module")
    assert ran.returncode == 1
    assert b"Traceback" not in ran.stderr
    found = probe_json(ran.stdout.decode())
    assert list(found) == ["reader", "doors", "occupancy", "camera", "chip"]
    for name, port in EXAMPLE_PORTS.items():
        row = found[name]
        assert (row["port"], row["healthy"], row["state"]) == (port, False, "disconnected")
        assert row["detail"] == f"serial port {port}: cannot open: no such device"
    if not Path("/dev/video0").exists():
        assert found["camera"]["healthy"] is False
        assert "/dev/video0" in str(found["camera"]["detail"])
    assert found["chip"]["healthy"] is True


def test_probe_of_a_port_another_program_holds(cli, tmp_path):
    link = tmp_path / "ttyBUSY"
    gate = write_gate(
        tmp_path,
        f"""
        devices:
          reader: {{serial: {{port: {link}}}}}
          doors: {{serial: {{port: {link}}}}}
        """,
    )
    with PseudoTerminal(link) as pty, DoorEmulator(pty):
        # A first driver has the port: SerialLink opens with an exclusive
        # flock(2), which Linux honours on pseudo-terminals as on USB adapters.
        with SerialLink(SerialSettings(port=str(link))):
            busy = cli("devices", "probe", "--config", str(gate), "--json", "--listen", "0.1")
        free = cli("devices", "probe", "--config", str(gate), "--json", "--listen", "0.1")
    assert busy.status == 1
    detail = f"serial port {link}: cannot open: port is busy (another program has it open)"
    found = probe_json(busy.out)
    assert {name: (row["healthy"], row["detail"]) for name, row in found.items()} == {
        "reader": (False, detail),
        "doors": (False, detail),
    }
    # Free again: the board answers; the reader's port opens, but a door board
    # sends no reader frame, so the reader is not proven.
    assert free.status == 1
    assert {name: (row["healthy"], row["state"]) for name, row in probe_json(free.out).items()} == {
        "reader": (False, "no_frame_yet"),
        "doors": (True, "connected"),
    }


def test_probe_of_a_silent_reader_says_port_open_no_frame_seen_yet(cli, tmp_path):
    link = tmp_path / "reader"
    gate = reader_gate(tmp_path, link, "rte")
    with PseudoTerminal(link, watch_flushes=True):
        ran = cli("devices", "probe", "--config", str(gate), "--json", "--listen", "0.2")
        table = cli("devices", "probe", "--config", str(gate), "--listen", "0.2")
    assert (ran.status, ran.err) == (1, "")
    assert probe_json(ran.out)["reader"] == {
        "device": "reader",
        "port": str(link),
        "healthy": False,
        "state": "no_frame_yet",
        "response_seconds": None,
        "detail": "port open, no frame seen yet (rte framing): lay a document on it",
    }
    assert table.status == 1
    assert "no_frame_yet" in table.out and "port open, no frame seen yet" in table.out


def test_probe_of_a_reader_becomes_healthy_with_its_first_frame(cli, tmp_path):
    link = tmp_path / "reader"
    gate = reader_gate(tmp_path, link, "lines")
    with PseudoTerminal(link, watch_flushes=True) as pty, ReaderEmulator("lines", pty) as emulator:
        emulator.send(TD1)
        ran = cli("devices", "probe", "--config", str(gate), "--json", "--listen", "10")
    assert (ran.status, ran.err) == (0, "")
    row = probe_json(ran.out)["reader"]
    assert (row["healthy"], row["state"]) == (True, "connected")
    assert row["detail"] == "lines framing, first frame: TD1 MRZ, valid"
    assert isinstance(row["response_seconds"], float) and row["response_seconds"] >= 0


def test_probe_of_a_gate_without_devices(cli, tmp_path):
    gate = write_gate(tmp_path, "devices: {}\n")
    ran = cli("devices", "probe", "--config", str(gate))
    assert ran.status == 2
    assert one_error_line(ran.err) == f"egate: error: {gate}: devices: no device configured"


# --- bad configuration ----------------------------------------------------------

GOOD_READER = """\
gate_id: lab-1
devices:
  reader:
    framing: lines
    serial:
      port: /dev/ttyUSB0
      baudrate: 9600
"""


@pytest.mark.parametrize("command", ["probe", "read"])
@pytest.mark.parametrize(
    ("change", "line", "field", "message"),
    [
        (
            ("framing: lines", "framing: morse"),
            4,
            "devices.reader.framing",
            "Input should be 'lines', 'desko' or 'rte' (got 'morse')",
        ),
        (
            ("baudrate: 9600", "baudrate: fast"),
            7,
            "devices.reader.serial.baudrate",
            "Input should be a valid integer, unable to parse string as an integer (got 'fast')",
        ),
        (
            ("baudrate: 9600", "baudrate: 9601"),
            7,
            "devices.reader.serial.baudrate",
            "not a standard baud rate (expected e.g. 9600, 19200, 38400, 57600 or 115200)"
            " (got 9601)",
        ),
        (
            ("baudrate: 9600\n", "baudrate: 9600\n  printer: {port: /dev/lp0}\n"),
            8,
            "devices.printer",
            "unknown field (expected one of: emulated, reader, doors, occupancy, camera, "
            "mock_camera, chip, emulation)",
        ),
        (
            ("      port: /dev/ttyUSB0\n", ""),
            6,
            "devices.reader.serial.port",
            "required field is missing",
        ),
        (
            ("baudrate: 9600\n", "baudrate: 9600\n  doors:\n    serial: {baudrate: 19200}\n"),
            9,
            "devices.doors.serial.port",
            "required field is missing",
        ),
        (
            ("framing: lines", 'framing: desko\n    desko: {start: "03"}'),
            5,
            "devices.reader.desko.start",
            "03 is ETX, which the framing itself uses (got '03')",
        ),
        (
            ("framing: lines", "framing: desko\n    desko: {start: 30}"),
            5,
            "devices.reader.desko.start",
            'expected a byte as two hexadecimal digits in quotes, e.g. "1E" (got 30)',
        ),
        (
            ("framing: lines", 'framing: lines\n    desko: {end: "1F"}'),
            5,
            "devices.reader.desko",
            "start and end bytes are for framing desko, not lines (got {'end': '1F'})",
        ),
    ],
    ids=[
        "framing",
        "baud-not-a-number",
        "baud-not-standard",
        "unknown-device",
        "no-port",
        "no-door-port",
        "desko-byte-reserved",
        "desko-byte-unquoted",
        "desko-bytes-without-desko",
    ],
)
def test_bad_configuration_is_one_line_naming_file_line_and_field(
    cli, tmp_path, command, change, line, field, message
):
    gate = tmp_path / "gate.yaml"
    old, new = change
    assert old in GOOD_READER
    gate.write_text(GOOD_READER.replace(old, new))
    ran = cli("devices", command, "--config", str(gate))
    assert (ran.status, ran.out) == (2, "")
    assert one_error_line(ran.err) == f"egate: error: {gate}:{line}: {field}: {message}"


# --- read: what it refuses -------------------------------------------------------


def test_read_needs_a_reader(cli, tmp_path):
    gate = write_gate(tmp_path, "devices:\n  chip: {kind: mock}\n")
    ran = cli("devices", "read", "--config", str(gate))
    assert (ran.status, ran.out) == (2, "")
    assert one_error_line(ran.err) == (
        f"egate: error: {gate}: devices.reader: no MRZ reader configured"
    )


def test_read_refuses_an_emulated_gate(cli):
    ran = cli("devices", "read", "--config", str(MOCK_GATE), "--count", "1")
    assert (ran.status, ran.out) == (2, "")
    line = one_error_line(ran.err)
    assert line.startswith(f"egate: error: {MOCK_GATE}: devices.emulated is true: ")
    assert "egate devices emulate reader" in line


def test_read_on_a_port_that_does_not_exist(cli, tmp_path):
    missing = tmp_path / "ttyUSB99"
    gate = reader_gate(tmp_path, missing)
    ran = cli("devices", "read", "--config", str(gate), "--count", "1")
    assert (ran.status, ran.out) == (2, "")
    assert one_error_line(ran.err) == (
        f"egate: error: {gate}: devices.reader.serial.port: "
        f"serial port {missing}: cannot open: no such device"
    )


# --- read: through an unplug, in this process ----------------------------------


@pytest.fixture
def guarded_read(monkeypatch):
    """Stop `egate devices read` (as SIGTERM would) if it is still running after a while."""
    original = devices_cli.stop_on_signals

    @contextlib.contextmanager
    def with_hang_guard() -> Iterator[threading.Event]:
        with original() as stop_event:
            timer = threading.Timer(PATIENCE_S, stop_event.set)
            timer.start()
            try:
                yield stop_event
            finally:
                timer.cancel()

    monkeypatch.setattr(devices_cli, "stop_on_signals", with_hang_guard)


def test_read_rides_through_an_unplug_without_spinning(cli, tmp_path, monkeypatch, guarded_read):
    link = tmp_path / "ttyREADER"
    gate = reader_gate(
        tmp_path,
        link,
        "desko",
        read_timeout_s=0.01,
        reconnect_initial_s=0.02,
        reconnect_max_s=0.05,
    )
    away: list[int] = []
    real_poll = SerialMrzReader.poll

    def counting_poll(self: SerialMrzReader, now: float | None = None) -> object:
        if not self.link.is_open:
            away.append(1)
        return real_poll(self, now)

    monkeypatch.setattr(SerialMrzReader, "poll", counting_poll)
    with PseudoTerminal(link, watch_flushes=True) as pty, ReaderEmulator("desko", pty) as emulator:
        emulator.send(TD3)
        emulator.unplug()
        emulator.pause(0.3)
        emulator.plug_back()
        emulator.send(TD1)
        emulator.send(TD2)
        ran = cli("devices", "read", "--config", str(gate), "--count", "3", "--json")
    assert ran.status == 0
    assert [json.loads(line)["format"] for line in ran.out.splitlines()] == ["TD3", "TD1", "TD2"]
    states = ran.err.splitlines()
    assert states[0] == "reader disconnected"
    assert states[-1] == "reader connected"
    assert set(states) <= {"reader disconnected", "reader connecting", "reader connected"}
    # While the reader is away, poll returns at once: the command waits for
    # the link's next attempt instead (a handful of polls in the 0.3 s pause;
    # a loop that spins makes hundreds of thousands).
    assert 0 < len(away) < 300


def test_read_prints_a_misread_with_its_bytes(cli, tmp_path, guarded_read):
    link = tmp_path / "ttyREADER"
    gate = reader_gate(tmp_path, link, "lines")
    with PseudoTerminal(link, watch_flushes=True) as pty, ReaderEmulator("lines", pty) as emulator:
        emulator.send_raw(b"NOT AN MRZ\r\n\r\n")
        emulator.send(TD2)
        ran = cli("devices", "read", "--config", str(gate), "--count", "1", "--json")
    assert ran.status == 0
    failure, document = (json.loads(line) for line in ran.out.splitlines())
    assert bytes.fromhex(failure["raw"]).startswith(b"NOT AN MRZ")
    assert "MRZ" in failure["error"]  # the framing's reason, e.g. a line too short for one
    assert (document["format"], document["valid"]) == ("TD2", True)


# --- emulate and read, as processes ----------------------------------------------


@pytest.mark.parametrize("framing", ["lines", "desko", "rte"])
def test_emulate_and_read_work_together(framing, tmp_path):
    link = tmp_path / "reader"
    gate = reader_gate(tmp_path, link, framing)
    with emulator_process(
        "reader", link, "--protocol", framing, stdin=stdin_of(TD1, TD2, TD3)
    ) as emulator:
        assert os.readlink(link).startswith("/dev/pts/")
        read = run_egate("devices", "read", "--config", str(gate), "--count", "3", "--json")
        status, out, err = stop(emulator)
    assert read.returncode == 0, read.stderr
    reads = [json.loads(line) for line in read.stdout.decode().splitlines()]
    assert [entry["format"] for entry in reads] == ["TD1", "TD2", "TD3"]
    assert all(entry["valid"] is True for entry in reads)
    for entry in reads:
        fields = entry["fields"]
        assert {key: fields[key] for key in EXPECTED[entry["format"]]} == EXPECTED[entry["format"]]
        assert (fields["issuing_state"], fields["surname"], fields["given_names"]) == (
            "UTO",
            "ERIKSSON",
            "ANNA MARIA",
        )
        assert "checks" in entry and "raw" not in entry
    # The emulator printed its link, ended cleanly on SIGTERM and removed the link.
    assert (status, out, err) == (0, f"{link}\n", "")
    assert not link.exists() and not link.is_symlink()


def test_emulate_and_read_desko_with_the_readers_own_bytes(tmp_path):
    link = tmp_path / "reader"
    gate = write_gate(
        tmp_path,
        f"""
        devices:
          reader:
            framing: desko
            desko: {{start: "1E", end: "1F"}}
            serial: {{port: {link}}}
        """,
    )
    options = ("--protocol", "desko", "--desko-start", "1E", "--desko-end", "1F")
    with emulator_process("reader", link, *options, stdin=stdin_of(TD1, TD2, TD3)) as emulator:
        read = run_egate("devices", "read", "--config", str(gate), "--count", "3", "--json")
        status, _, err = stop(emulator)
    assert read.returncode == 0, read.stderr
    reads = [json.loads(line) for line in read.stdout.decode().splitlines()]
    assert [(entry["format"], entry["valid"]) for entry in reads] == [
        ("TD1", True),
        ("TD2", True),
        ("TD3", True),
    ]
    assert (status, err) == (0, "")


def test_read_says_once_that_the_port_carries_another_device(cli, tmp_path, guarded_read):
    link = tmp_path / "reader"
    gate = reader_gate(tmp_path, link, "desko")
    board = b"#1 OK ENTRY=CLOSED EXIT=CLOSED *5A\r\n"
    with PseudoTerminal(link, watch_flushes=True) as pty, ReaderEmulator("lines", pty) as emulator:
        emulator.send_raw(board * 300)
        emulator.send_raw(make_framing("desko").encode(TD2))
        ran = cli("devices", "read", "--config", str(gate), "--count", "1", "--json")
    assert ran.status == 0
    assert json.loads(ran.out.splitlines()[-1])["format"] == "TD2"
    no_frame = "no valid desko frame in 4096 bytes: wrong framing or another device on this port"
    assert ran.err.splitlines() == [f"reader: {no_frame}", "reader: a valid frame again"]


def test_emulate_skips_what_is_no_mrz_and_says_so(tmp_path):
    link = tmp_path / "reader"
    gate = reader_gate(tmp_path, link, "lines")
    # A line far too long for an MRZ, and a last document without a final newline.
    documents = stdin_of(TD3, "HELLO WORLD", "X" * 100_000, TD2).rstrip(b"\n")
    with emulator_process("reader", link, "--protocol", "lines", stdin=documents) as emulator:
        read = run_egate("devices", "read", "--config", str(gate), "--count", "2", "--json")
        status, _, err = stop(emulator)
    assert read.returncode == 0
    # Exactly the two documents: what is no MRZ never went out (in the lines
    # framing it would have come through as a misread, printed too).
    assert [json.loads(line)["format"] for line in read.stdout.decode().splitlines()] == [
        "TD3",
        "TD2",
    ]
    assert status == 0
    complaints = err.splitlines()
    assert [line.split(": not an MRZ: ")[0] for line in complaints] == [
        "egate devices emulate: document 2",
        "egate devices emulate: document 3",
    ]


def test_emulate_ends_on_sigterm_while_stdin_is_still_open(tmp_path):
    # A terminal nobody types in: the emulator must not wait for end of input.
    link = tmp_path / "reader"
    with emulator_process("reader", link, "--protocol", "desko", stdin=None) as emulator:
        status, out, err = stop(emulator)
    assert (status, out, err) == (0, f"{link}\n", "")
    assert not link.is_symlink()


def test_emulated_door_and_sensor_probe_healthy(cli, tmp_path):
    doors, sensor, reader = tmp_path / "doors", tmp_path / "occupancy", tmp_path / "reader"
    gate = write_gate(
        tmp_path,
        f"""
        devices:
          reader: {{framing: desko, serial: {{port: {reader}}}}}
          doors: {{serial: {{port: {doors}, baudrate: 19200}}}}
          occupancy: {{serial: {{port: {sensor}}}}}
        """,
    )
    with (
        emulator_process("door", doors) as door_process,
        emulator_process("occupancy", sensor, "--protocol", "egate-door") as sensor_process,
        emulator_process(
            "reader", reader, "--protocol", "desko", stdin=stdin_of(TD3)
        ) as reader_process,
    ):
        # The reader sends the document it was given: its first frame proves it.
        ran = cli("devices", "probe", "--config", str(gate), "--json", "--listen", "10")
        ended = [stop(process) for process in (door_process, sensor_process, reader_process)]
    assert (ran.status, ran.err) == (0, "")
    found = probe_json(ran.out)
    assert {name: (row["port"], row["healthy"]) for name, row in found.items()} == {
        "reader": (str(reader), True),
        "doors": (str(doors), True),
        "occupancy": (str(sensor), True),
    }
    assert found["doors"]["detail"] == "ENTRY=CLOSED EXIT=CLOSED"
    assert found["occupancy"]["detail"] == "COUNT=0 ENTRY=CLEAR EXIT=CLEAR"
    assert [status for status, _, _ in ended] == [0, 0, 0]
    assert [out for _, out, _ in ended] == [f"{doors}\n", f"{sensor}\n", f"{reader}\n"]
    assert not any(path.is_symlink() for path in (doors, sensor, reader))


class EgateSide:
    """egate's end of an emulated door board's or sensor's port: commands out, messages in."""

    def __init__(self, link: Path) -> None:
        self._link = SerialLink(SerialSettings(port=str(link)))
        self._link.open()
        self._reader = MessageReader()
        self._seq = 0
        self._events: deque[str] = deque()
        self._replies: dict[int, str] = {}

    def close(self) -> None:
        self._link.close()

    def _hear(self, enough: Callable[[], bool]) -> None:
        give_up = time.monotonic() + PATIENCE_S
        while not enough():
            if time.monotonic() > give_up:
                pytest.fail(f"the emulator fell silent (events so far: {list(self._events)})")
            for message in self._reader.feed(self._link.read()):
                # What the device said, as on the line, without sequence number or checksum.
                if isinstance(message, Event):
                    # The power-on READY comes only if the port was open by then.
                    if message.name != "READY":
                        self._events.append(" ".join((message.name, *message.args)))
                elif isinstance(message, Reply | ErrorReply):
                    said = encode(message, with_checksum=False).decode("ascii")
                    self._replies[message.seq] = said.split(" ", 1)[1].rstrip("\r\n")
                else:
                    pytest.fail(f"the emulator sent {message!r}")

    def ask(self, verb: str, *args: str) -> str:
        """The device's reply to ``verb args``: ``OK ...`` or ``ERR code text``."""
        self._seq += 1
        seq = self._seq
        self._link.write(encode(Command(seq, verb, args)))
        self._hear(lambda: seq in self._replies)
        return self._replies.pop(seq)

    def events(self, count: int) -> list[str]:
        """The next ``count`` events the device sends (``BEAM ENTRY BROKEN``, ``COUNT 1``)."""
        self._hear(lambda: len(self._events) >= count)
        return [self._events.popleft() for _ in range(count)]

    def wait_for(self, event: str) -> None:
        """Hear events until ``event``."""
        while self.events(1) != [event]:
            pass


@contextlib.contextmanager
def egate_side(link: Path) -> Iterator[EgateSide]:
    side = EgateSide(link)
    try:
        yield side
    finally:
        side.close()


def people(process: subprocess.Popen[bytes], *lines: str) -> None:
    """What people do, typed on the emulated sensor's standard input."""
    assert process.stdin is not None
    process.stdin.write("".join(f"{line}\n" for line in lines).encode())
    process.stdin.flush()


@pytest.mark.parametrize("interlock", [True, False], ids=["interlock", "no-interlock"])
def test_emulated_door_board_with_and_without_interlock(tmp_path, interlock):
    link = tmp_path / "doors"
    options = ["--identity", "LAB-07-DOORS"] + (["--interlock"] if interlock else [])
    with emulator_process("door", link, *options) as emulator, egate_side(link) as egate:
        assert egate.ask("HELLO") == "OK KIND=DOORS ID=LAB-07-DOORS"
        assert egate.ask("OPEN", "ENTRY") == "OK ENTRY=OPENING"
        exit_while_entry_opening = egate.ask("OPEN", "EXIT")
        assert egate.ask("CLOSE", "ENTRY") == "OK ENTRY=CLOSING"
        egate.wait_for("CLOSED ENTRY")
        if interlock:
            # Once the entry is reported CLOSED, the exit may open.
            assert egate.ask("STATUS") == "OK ENTRY=CLOSED EXIT=CLOSED"
            assert egate.ask("OPEN", "EXIT") == "OK EXIT=OPENING"
        status, out, err = stop(emulator)
    if interlock:
        assert exit_while_entry_opening == "ERR 21 other door not closed"
    else:
        assert exit_while_entry_opening == "OK EXIT=OPENING"
    assert (status, out, err) == (0, f"{link}\n", "")


@pytest.mark.parametrize(
    ("order", "walk_in", "walk_out"),
    [
        (
            [],  # the default
            ["BEAM ENTRY BROKEN", "BEAM ENTRY CLEAR", "COUNT 1"],
            ["BEAM EXIT BROKEN", "BEAM EXIT CLEAR", "COUNT 0"],
        ),
        (
            ["--order", "broken-clear-count"],
            ["BEAM ENTRY BROKEN", "BEAM ENTRY CLEAR", "COUNT 1"],
            ["BEAM EXIT BROKEN", "BEAM EXIT CLEAR", "COUNT 0"],
        ),
        (
            ["--order", "broken-count-clear"],
            ["BEAM ENTRY BROKEN", "COUNT 1", "BEAM ENTRY CLEAR"],
            ["BEAM EXIT BROKEN", "COUNT 0", "BEAM EXIT CLEAR"],
        ),
        (
            ["--order", "count-broken-clear"],
            ["COUNT 1", "BEAM ENTRY BROKEN", "BEAM ENTRY CLEAR"],
            ["COUNT 0", "BEAM EXIT BROKEN", "BEAM EXIT CLEAR"],
        ),
    ],
    ids=["default", "broken-clear-count", "broken-count-clear", "count-broken-clear"],
)
def test_emulated_sensor_reports_a_passage_in_its_order(tmp_path, order, walk_in, walk_out):
    link = tmp_path / "occupancy"
    options = ["--identity", "LAB-07-OCC", *order]
    with (
        emulator_process("occupancy", link, *options, stdin=None) as emulator,
        egate_side(link) as egate,
    ):
        assert egate.ask("HELLO") == "OK KIND=OCCUPANCY ID=LAB-07-OCC"
        people(emulator, "in")
        assert egate.events(3) == walk_in
        assert egate.ask("STATUS") == "OK COUNT=1 ENTRY=CLEAR EXIT=CLEAR"
        people(emulator, "out")
        assert egate.events(3) == walk_out
        # Named beams, a count set outright, and a tailgate.
        people(emulator, "in EXIT", "count 3", "tailgate")
        assert egate.events(5)[3:] == ["COUNT 3", "TAILGATE"]
        assert egate.ask("COUNT") == "OK COUNT=3"
        status, out, err = stop(emulator)
    assert (status, out, err) == (0, f"{link}\n", "")


def test_emulated_count_only_sensor(tmp_path):
    link = tmp_path / "occupancy"
    with (
        emulator_process("occupancy", link, "--count-only", stdin=None) as emulator,
        egate_side(link) as egate,
    ):
        # No beams in its STATUS: egate's kind auto takes it for a count-only sensor.
        assert egate.ask("STATUS") == "OK COUNT=0"
        assert egate.ask("HELLO") == "OK KIND=OCCUPANCY ID=EMULATED-OCCUPANCY"
        people(emulator, "in", "in ENTRY", "walk in", "count 1000", "x" * 300, "in")
        assert egate.events(3) == ["COUNT 1", "COUNT 2", "TAILGATE"]
        people(emulator, "out")
        assert egate.events(1) == ["COUNT 1"]
        status, out, err = stop(emulator)
    assert (status, out) == (0, f"{link}\n")
    # Lines that say nothing a sensor can do are reported, and skipped.
    assert err.splitlines() == [
        "egate devices emulate: line 2: this sensor has no beam ENTRY: it counts only",
        "egate devices emulate: line 3: expected in [BEAM], out [BEAM], count N or tailgate",
        "egate devices emulate: line 4: expected in [BEAM], out [BEAM], count N or tailgate",
        "egate devices emulate: line 5: longer than 256 bytes",
    ]


def first_seed_of_genuine_travellers(count: int) -> int:
    """The first seed of the mock gate's travellers that starts with ``count`` genuine ones."""
    try:
        fetch_samples()
    except SampleError as error:
        pytest.skip(f"sample faces unavailable (no network or registry?): {error}")
    photos = SamplePhotos.installed()
    if photos is None:
        pytest.skip("sample photos are not installed (egate samples fetch)")
    for seed in range(1000):
        stream = sample_travellers(photos, date.today(), np.random.default_rng(seed), pace=0.05)
        if all(next(stream).case is SampleCase.GENUINE for _ in range(count)):
            return seed
    raise AssertionError(f"no seed below 1000 starts with {count} genuine travellers")


@pytest.mark.slow
def test_a_mock_gate_with_an_interlocked_board_and_a_broken_count_clear_sensor(tmp_path):
    # devices.emulation turns the interlock and the sensor's order of events on;
    # the genuine travellers must still be accepted through the mantrap.
    seed = first_seed_of_genuine_travellers(3)
    emulated = {"port": "emulated"}
    gate = {
        "gate_id": "emulation-1",
        "devices": {
            "emulated": True,
            "reader": {"framing": "desko", "serial": emulated},
            "doors": {"serial": emulated},
            "occupancy": {"serial": emulated},
            "chip": {"kind": "mock"},
            "mock_camera": {"images": "samples"},
            "emulation": {
                "door_travel_s": 0.2,
                "pace": 0.05,
                "gap_s": 0.1,
                "seed": seed,
                "interlock": True,
                "occupancy_order": "broken_count_clear",
            },
        },
        "service": {
            "audit": {"path": "audit.jsonl"},
            "metrics": {"port": 0},
            "matching": {"workers": 1},
            "stop_grace_s": 5,
        },
    }
    config = tmp_path / "gate.yaml"
    config.write_text(yaml.safe_dump(gate, sort_keys=False), "utf-8")
    env = {key: value for key, value in ENV.items() if key != "EGATE_SALT"}
    command = [*EGATE, "run", "--config", str(config), "--max-passengers", "3"]
    process = subprocess.Popen(
        command, cwd=tmp_path, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, start_new_session=True,
    )  # fmt: skip
    try:
        out, err = process.communicate(timeout=RUN_PATIENCE_S)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)  # the matching worker too
        process.wait()
    assert process.returncode == 0, err.decode()
    records = list(read_audit(tmp_path / "audit.jsonl"))
    done = [record for record in records if record["kind"] == "transaction"]
    assert [record["outcome"] for record in done] == ["accepted"] * 3, out.decode()
    # The controller waited for the board's CLOSED: the interlock never had to refuse.
    assert [record for record in records if record["kind"] == "alarm"] == []


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["reader"], "egate devices emulate: error: a reader needs --protocol lines, desko or rte"),
        (
            ["door", "--protocol", "desko"],
            "egate devices emulate: error: a door speaks egate-door (docs/door-protocol.md)",
        ),
        (
            ["occupancy", "--protocol", "rte"],
            "egate devices emulate: error: an occupancy sensor speaks egate-door"
            " (docs/door-protocol.md)",
        ),
        (["printer"], "egate devices emulate: error: Invalid value for '{reader|door|occupancy}'"),
        (
            ["reader", "--protocol", "rte", "--desko-start", "1E"],
            "egate devices emulate: error: --desko-start and --desko-end are for a reader "
            "with --protocol desko",
        ),
        (
            ["door", "--desko-end", "1F"],
            "egate devices emulate: error: --desko-start and --desko-end are for a reader "
            "with --protocol desko",
        ),
        (
            ["reader", "--protocol", "desko", "--desko-start", "02"],
            "egate devices emulate: error: --desko-start: 02 is STX, which the framing itself uses",
        ),
        (
            ["reader", "--protocol", "desko", "--desko-end", "x1"],
            "egate devices emulate: error: --desko-end: expected two hexadecimal digits",
        ),
        (
            ["reader", "--protocol", "desko", "--desko-start", "1D"],
            "egate devices emulate: error: --desko-start/--desko-end: start and end are both 1D",
        ),
        (
            ["reader", "--protocol", "lines", "--identity", "LAB-READER"],
            "egate devices emulate: error: --identity is for a door or an occupancy sensor",
        ),
        (["occupancy", "--interlock"], "egate devices emulate: error: --interlock is for a door"),
        (
            ["door", "--order", "broken-count-clear"],
            "egate devices emulate: error: --order is for an occupancy sensor",
        ),
        (
            ["reader", "--protocol", "rte", "--count-only"],
            "egate devices emulate: error: --count-only is for an occupancy sensor",
        ),
        (
            ["occupancy", "--count-only", "--order", "count-broken-clear"],
            "egate devices emulate: error: --order is for a sensor with beams, not with "
            "--count-only",
        ),
        (
            ["occupancy", "--order", "broken,count,clear"],
            "egate devices emulate: error: Invalid value for '--order'",
        ),
        (
            ["door", "--identity", "two words"],
            "egate devices emulate: error: --identity: expected 1 to 24 characters among "
            "A-Z a-z 0-9 . _ : -",
        ),
        (
            ["occupancy", "--identity", "X" * 25],
            "egate devices emulate: error: --identity: expected 1 to 24 characters among "
            "A-Z a-z 0-9 . _ : -",
        ),
    ],
)
def test_emulate_usage_errors(cli, argv, message):
    ran = cli("devices", "emulate", *argv)
    assert (ran.status, ran.out) == (2, "")
    assert one_error_line(ran.err).startswith(message)


def test_emulate_refuses_a_link_over_a_file(cli, tmp_path):
    taken = tmp_path / "notes.txt"
    taken.write_text("keep me\n")
    ran = cli("devices", "emulate", "door", "--link", str(taken))
    assert (ran.status, ran.out) == (2, "")
    assert one_error_line(ran.err) == (
        f"egate: error: --link {taken}: cannot create: {taken} exists and is not a symbolic link"
    )
    assert taken.read_text() == "keep me\n"


def test_emulate_refuses_a_link_in_a_missing_folder(cli, tmp_path):
    link = tmp_path / "no-such-folder" / "reader"
    ran = cli("devices", "emulate", "reader", "--protocol", "rte", "--link", str(link))
    assert (ran.status, ran.out) == (2, "")
    assert one_error_line(ran.err) == (
        f"egate: error: --link {link}: cannot create: No such file or directory"
    )
