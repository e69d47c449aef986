"""``egate devices``: probe a gate's devices, read documents, run device emulators.

(A little past the ~400-line guideline: the three subcommands of egate
devices, probe, read and emulate, share the gate file and the signal
handling; what an emulator reads on standard input is
egate.cli.emulatorinput's.)
"""

from __future__ import annotations

import contextlib
import json
import signal
import sys
import threading
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from types import FrameType

import click
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from egate.cli.emulatorinput import feed_documents, feed_people
from egate.cli.errors import EXIT_FAILURE, EXIT_OK, InputError
from egate.config import load_config
from egate.documents.layout import MrzFormat
from egate.documents.specimens import SPECIMENS
from hardware.deskoframing import DeskoBytes
from hardware.devices import DeviceSettings, HardwareGateConfig
from hardware.emulators.devices import emulators
from hardware.emulators.door import DoorBoardSettings, DoorEmulator
from hardware.emulators.occupancy import OccupancyEmulator, OccupancySensorSettings, PassageOrder
from hardware.emulators.pty import PseudoTerminal
from hardware.emulators.reader import ReaderEmulator
from hardware.framing import make_framing
from hardware.link import LinkError
from hardware.probe import DEFAULT_READER_LISTEN_S, ProbeResult, probe
from hardware.reader import DocumentRead, ReadFailed, SerialMrzReader

# Bounds of the wait between polls of a reader that is away (the link's
# backoff decides within them).
_MIN_IDLE_S = 0.005
_MAX_IDLE_S = 0.1

CONFIG = click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    required=True,
    help="Gate configuration file (configs/gates/*.yaml).",
)


def load_gate(path: Path) -> HardwareGateConfig:
    """A gate configuration with its devices; ``ConfigError`` (exit 2) when it is bad."""
    return load_config(path, HardwareGateConfig)


@contextlib.contextmanager
def stop_on_signals() -> Iterator[threading.Event]:
    """An event set by SIGINT or SIGTERM, so loops end cleanly; handlers restored after."""
    stop = threading.Event()

    def handle(signum: int, frame: FrameType | None) -> None:
        # Set from another thread: a handler runs between two bytecodes of the
        # main thread, which may hold the event's lock (in wait() or in set()
        # for an earlier signal); taking it here would deadlock.
        threading.Thread(target=stop.set, name="egate-stop", daemon=True).start()

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@click.group(no_args_is_help=True)
def devices() -> None:
    """Probe and read the devices of a gate (readers, cameras, doors, sensors), or emulate them.

    A gate's devices are described in its configuration file; with
    `emulated: true` every serial device runs as an emulator on a
    pseudo-terminal and the real drivers talk to it.
    """


@devices.command(name="probe")
@CONFIG
@click.option("--json", "as_json", is_flag=True, help="One JSON object per device per line.")
@click.option(
    "--listen",
    "listen_s",
    type=click.FloatRange(min=0, max=600),
    default=DEFAULT_READER_LISTEN_S,
    show_default=True,
    help="Seconds to listen to the MRZ reader for a first frame (lay a document on it).",
)
def probe_command(config_path: Path, as_json: bool, listen_s: float) -> int:
    """Open every device of the gate and report its state and response time.

    An MRZ reader sends nothing until a document is laid on it: it shows
    `no_frame_yet` (port open, no frame seen yet) until a valid frame comes
    within --listen seconds, then `connected`; `no_valid_frame` when bytes
    came but never a frame of its framing (wrong framing, or another device).
    On a mock gate the emulated reader is handed the ICAO TD3 specimen.

    Exit status 0 when every device is healthy, 1 otherwise, 2 for a bad configuration.
    """
    gate = load_gate(config_path)
    with _probed(gate.devices) as devices_settings:
        results = probe(
            devices_settings, date.today, base_dir=config_path.parent, reader_listen_s=listen_s
        )
    if not results:
        raise InputError(f"{config_path}: devices: no device configured")
    if as_json:
        for result in results:
            click.echo(json.dumps(result.to_json()))
    else:
        show_probe(gate.gate_id, results)
    return EXIT_OK if all(result.healthy for result in results) else EXIT_FAILURE


@contextlib.contextmanager
def _probed(devices: DeviceSettings) -> Iterator[DeviceSettings]:
    """The devices to probe: as configured, or their emulators on a mock gate."""
    if not devices.emulated:
        yield devices
        return
    with emulators(devices) as started:
        if started.reader is not None:
            # As an engineer lays a specimen card on a real reader: the probe
            # then sees the emulated reader's first frame through the driver.
            started.reader.send(SPECIMENS[MrzFormat.TD3])
        yield started.devices


# A reader whose port is open but that has sent no frame yet: not proven, not failed.
_UNPROVEN = "no_frame_yet"


def show_probe(gate_id: str, results: list[ProbeResult]) -> None:
    """The probe as a table."""
    table = Table(title=f"Devices of gate {gate_id}")
    for column in ("device", "port", "state", "response", "detail"):
        table.add_column(column, overflow="fold")
    for result in results:
        colour = "green" if result.healthy else "yellow" if result.state == _UNPROVEN else "red"
        response = (
            "-" if result.response_seconds is None else f"{result.response_seconds * 1000:.1f} ms"
        )
        table.add_row(
            result.device, result.port, f"[{colour}]{result.state}[/]", response, result.detail
        )
    Console(highlight=False).print(table)


@devices.command()
@CONFIG
@click.option("--count", type=click.IntRange(min=1), help="Stop after this many documents.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per read, per line.")
def read(config_path: Path, count: int | None, as_json: bool) -> int:
    """Print each document read by the gate's MRZ reader, until --count or Ctrl-C.

    Each read prints as `egate mrz parse --json` does, plus `raw` (hex) when
    the reader's frame could not be read. Exit status 0, or 2 when the
    reader cannot be opened.
    """
    gate = load_gate(config_path)
    if gate.devices.reader is None:
        raise InputError(f"{config_path}: devices.reader: no MRZ reader configured")
    if gate.devices.emulated:
        raise InputError(
            f"{config_path}: devices.emulated is true: start `egate devices emulate reader` "
            "and point devices.reader.serial.port at it to read from an emulator"
        )
    reader = gate.devices.reader.driver(date.today)
    try:
        reader.open()
    except LinkError as error:
        raise InputError(f"{config_path}: devices.reader.serial.port: {error}") from None
    console = Console(highlight=False)
    documents = 0
    with stop_on_signals() as stop, contextlib.closing(reader):
        state = reader.state
        problem: str | None = None
        while not stop.is_set() and (count is None or documents < count):
            for event in reader.poll():
                if isinstance(event, DocumentRead):
                    documents += 1
                    data = event.result.to_json()
                    if as_json:
                        click.echo(json.dumps(data, separators=(",", ":")))
                    else:
                        status = "valid" if event.result.valid else "INVALID"
                        fields = data["fields"]
                        console.print(
                            f"document {documents}: {data['format']} {status} "
                            f"{fields['issuing_state']} {fields['document_type']} "
                            f"{', '.join(event.result.failures) or ''}"
                        )
                elif isinstance(event, ReadFailed):
                    failure = {"error": event.reason, "raw": event.raw.hex()}
                    if as_json:
                        click.echo(json.dumps(failure))
                    else:
                        console.print(f"[red]misread[/] {event.reason}: {event.raw.hex()}")
                if count is not None and documents >= count:
                    break
            if reader.state is not state:
                state = reader.state
                click.echo(f"reader {state.value}", err=True)
            if reader.decoder.problem != problem:
                # Said once when it starts (a wrong framing or device), once when it ends.
                problem = reader.decoder.problem
                click.echo(f"reader: {problem or 'a valid frame again'}", err=True)
            if not reader.link.is_open:
                # While the device is away poll returns at once: wait for the
                # next reconnection attempt rather than spin.
                stop.wait(_reconnect_wait(reader))
    return EXIT_OK


def _reconnect_wait(reader: SerialMrzReader) -> float:
    """How long to wait before polling a disconnected reader again."""
    due = reader.link.retry_at
    if due is None:
        return _MIN_IDLE_S
    return min(max(due - time.monotonic(), _MIN_IDLE_S), _MAX_IDLE_S)


# The sensor's orders of events on the command line: broken-count-clear for broken,count,clear.
_ORDERS = {order.value.replace(",", "-"): order for order in PassageOrder}


@devices.command()
@click.argument("kind", type=click.Choice(["reader", "door", "occupancy"]))
@click.option(
    "--protocol",
    type=click.Choice(["lines", "desko", "rte", "egate-door"]),
    help="Reader framing (lines, desko, rte); doors and sensors speak egate-door.",
)
@click.option(
    "--link",
    "link_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Also make this path a symbolic link to the pseudo-terminal.",
)
@click.option(
    "--desko-start",
    metavar="HEX",
    help="With --protocol desko: the start of data byte, two hex digits (default 1C).",
)
@click.option(
    "--desko-end",
    metavar="HEX",
    help="With --protocol desko: the end of data byte, two hex digits (default 1D).",
)
@click.option(
    "--interlock",
    is_flag=True,
    help="Door: refuse OPEN of a door while the other is not CLOSED (ERR 21).",
)
@click.option(
    "--identity",
    metavar="ID",
    help=(
        "Door, occupancy: the ID answered to HELLO (default EMULATED-DOORS, EMULATED-OCCUPANCY)."
    ),
)
@click.option(
    "--order",
    type=click.Choice(list(_ORDERS)),
    help=(
        "Occupancy: the order of the beam's BROKEN and CLEAR and the COUNT when someone "
        "crosses a beam (default broken-clear-count)."
    ),
)
@click.option(
    "--count-only",
    is_flag=True,
    help="Occupancy: a sensor without beams that only counts (a 3D camera).",
)
def emulate(
    kind: str,
    protocol: str | None,
    link_path: Path | None,
    desko_start: str | None,
    desko_end: str | None,
    interlock: bool,
    identity: str | None,
    order: str | None,
    count_only: bool,
) -> int:
    """Run a device emulator on a new pseudo-terminal and print its path.

    A reader sends each MRZ document it reads on standard input (lines, a
    blank line between documents). An occupancy sensor reads what people do
    on standard input, one per line: `in [BEAM]` (someone walks in across
    BEAM, ENTRY by default), `out [BEAM]` (out, across EXIT by default),
    `count N` (N people inside now) and `tailgate`. Runs until Ctrl-C or
    SIGTERM. Point a gate configuration's serial port at the printed path
    (or --link) to test a driver configuration without hardware.
    """
    desko: DeskoBytes | None = None
    door_only = "--interlock" if interlock else None
    sensor_only = "--order" if order is not None else "--count-only" if count_only else None
    if kind == "reader":
        if protocol not in ("lines", "desko", "rte"):
            raise click.UsageError("a reader needs --protocol lines, desko or rte")
        desko = _desko_bytes(protocol, desko_start, desko_end)
        if identity is not None:
            raise click.UsageError("--identity is for a door or an occupancy sensor")
    elif desko_start is not None or desko_end is not None:
        raise click.UsageError(_DESKO_OPTIONS)
    elif protocol not in (None, "egate-door"):
        device = "a door" if kind == "door" else "an occupancy sensor"
        raise click.UsageError(f"{device} speaks egate-door (docs/door-protocol.md)")
    if door_only is not None and kind != "door":
        raise click.UsageError(f"{door_only} is for a door")
    if sensor_only is not None and kind != "occupancy":
        raise click.UsageError(f"{sensor_only} is for an occupancy sensor")
    if order is not None and count_only:
        raise click.UsageError("--order is for a sensor with beams, not with --count-only")
    board = _door_board(interlock, identity) if kind == "door" else None
    sensor = None
    if kind == "occupancy":
        sensor = _sensor(_ORDERS[order] if order else None, count_only, identity)
    # A reader waits for the driver's flush on opening before it sends (packet
    # mode); the line devices answer commands, so they need not.
    pty = PseudoTerminal(link_path, watch_flushes=kind == "reader")
    try:
        pty.open()
    except OSError as error:
        # Typically --link: a file that is no symbolic link, or a missing folder.
        pty.close()
        where = f"--link {link_path}" if link_path is not None else "pseudo-terminal"
        reason = error.strerror or str(error)
        raise InputError(f"{where}: cannot create: {reason}") from None
    with stop_on_signals() as stop, contextlib.closing(pty):
        click.echo(str(link_path or pty.path))
        sys.stdout.flush()
        if kind == "reader":
            assert protocol is not None
            with ReaderEmulator(make_framing(protocol, desko=desko), pty) as emulator:
                feed_documents(emulator, stop)
                while not stop.is_set():
                    stop.wait(0.2)
        elif board is not None:
            with DoorEmulator(pty, board):
                while not stop.is_set():
                    stop.wait(0.2)
        else:
            with OccupancyEmulator(pty, sensor) as occupancy:
                feed_people(occupancy, stop)
                while not stop.is_set():
                    stop.wait(0.2)
    return EXIT_OK


def _identity_problem(error: ValidationError) -> str:
    """What is wrong with --identity, as the usage error says it."""
    if any(problem["loc"] == ("identity",) for problem in error.errors()):
        return "--identity: expected 1 to 24 characters among A-Z a-z 0-9 . _ : -"
    raise error  # nothing else is given on the command line


def _door_board(interlock: bool, identity: str | None) -> DoorBoardSettings:
    """The emulated board's settings the options ask for; a usage error if bad."""
    given: dict[str, object] = {"interlock": interlock}
    if identity is not None:
        given["identity"] = identity
    try:
        return DoorBoardSettings.model_validate(given)
    except ValidationError as error:
        raise click.UsageError(_identity_problem(error)) from None


def _sensor(
    order: PassageOrder | None, count_only: bool, identity: str | None
) -> OccupancySensorSettings:
    """The emulated sensor's settings the options ask for; a usage error if bad."""
    given: dict[str, object] = {}
    if order is not None:
        given["order"] = order
    if count_only:
        given["beams"] = ()
    if identity is not None:
        given["identity"] = identity
    try:
        return OccupancySensorSettings.model_validate(given)
    except ValidationError as error:
        raise click.UsageError(_identity_problem(error)) from None


_DESKO_OPTIONS = "--desko-start and --desko-end are for a reader with --protocol desko"


def _desko_bytes(protocol: str, start: str | None, end: str | None) -> DeskoBytes | None:
    """The DESKO bytes the options ask for (None: the defaults); a usage error if bad."""
    if start is None and end is None:
        return None
    if protocol != "desko":
        raise click.UsageError(_DESKO_OPTIONS)
    given = {key: value for key, value in (("start", start), ("end", end)) if value is not None}
    try:
        return DeskoBytes.model_validate(given)
    except ValidationError as error:
        problem = error.errors()[0]
        where = "".join(f"--desko-{part}" for part in problem["loc"]) or "--desko-start/--desko-end"
        raise click.UsageError(f"{where}: {problem['msg'].removeprefix('Value error, ')}") from None
