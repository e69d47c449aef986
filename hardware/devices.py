"""A gate's devices: their configuration, emulation in mock mode, and a health probe.

A gate configuration file (``configs/gates/*.yaml``) names the gate, its
document policy and, under ``devices:``, how each device is reached:

* ``reader``: the MRZ reader, a serial port and its framing (lines, desko, rte);
* ``doors``: the door controller board (docs/door-protocol.md);
* ``occupancy``: the occupancy / tailgating sensor (same protocol family);
* ``camera``: an OpenCV source (USB index, /dev/videoN, a video file, a folder);
* ``chip``: the chip reader (only the mock exists so far; with ``documents``
  it holds the test documents of a folder, for commissioning).

With ``emulated: true`` (a mock gate) every serial device is replaced by its
emulator on a new pseudo-terminal, and the drivers talk to it through the
very code that runs on a real gate.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from egate.biometrics.image import find_images
from egate.config import ConfigError, GateConfig
from egate.samples import grace_hopper, installed_samples
from hardware.camera import CameraError, CameraSettings, OpenCvCamera
from hardware.chipdocuments import ChipDocumentError, DocumentFolderChipReader, load_chip_documents
from hardware.door import DoorController
from hardware.doorsession import (
    IDENTITY_PATTERN,
    Acknowledged,
    CommandFailed,
    CommandSettings,
    Disconnected,
    Identified,
    Refused,
)
from hardware.emulators.camera import MockCamera, Variation
from hardware.emulators.door import DoorBoardSettings, DoorEmulator
from hardware.emulators.occupancy import OccupancyEmulator, OccupancySensorSettings, PassageOrder
from hardware.emulators.pty import PseudoTerminal
from hardware.emulators.reader import ReaderEmulator
from hardware.framing import MAX_FRAME_BYTES, DeskoBytes, make_framing
from hardware.framing import Framing as FrameDecoder
from hardware.link import LinkError, LinkState, SerialSettings
from hardware.occupancy import PASSAGE_WINDOW_S, OccupancySensor, SensorKind
from hardware.reader import (
    DEFAULT_NO_FRAME_LIMIT,
    DocumentRead,
    ReaderCondition,
    ReaderEvent,
    SerialMrzReader,
)

Framing = Literal["lines", "desko", "rte"]
# Placeholder port of emulated devices: replaced by a pseudo-terminal at start.
EMULATED_PORT = "emulated"
SAMPLE_IMAGES = "samples"


class ReaderDevice(BaseModel):
    """The MRZ reader: a serial port, the framing it speaks, and how it is recognised."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    serial: SerialSettings
    framing: Framing = Field(default="lines", description="lines, desko or rte.")
    desko: DeskoBytes | None = Field(
        default=None,
        description=(
            'With framing desko: the reader\'s start and end of data bytes, e.g. {start: "1E", '
            'end: "1F"} (default 1C and 1D).'
        ),
    )
    no_frame_limit_bytes: int = Field(
        default=DEFAULT_NO_FRAME_LIMIT,
        ge=MAX_FRAME_BYTES,
        le=1 << 20,
        description=(
            "Bytes without one valid frame after which the reader is reported down: "
            "a wrong framing or another device on the port."
        ),
    )

    @field_validator("desko")
    @classmethod
    def _desko_bytes_need_desko(
        cls, desko: DeskoBytes | None, info: ValidationInfo
    ) -> DeskoBytes | None:
        framing = info.data.get("framing")
        if desko is not None and framing != "desko":
            raise ValueError(f"start and end bytes are for framing desko, not {framing}")
        return desko

    def make_framing(self) -> FrameDecoder:
        """A decoder of this reader's framing, with its DESKO bytes when it has some."""
        return make_framing(self.framing, desko=self.desko)

    def driver(
        self,
        today: Callable[[], date],
        clock: Callable[[], float] = time.monotonic,
        *,
        on_state: Callable[[LinkState], None] | None = None,
    ) -> SerialMrzReader:
        """The driver for this reader, as configured (not opened yet)."""
        return SerialMrzReader(
            self.serial,
            self.make_framing(),
            today,
            clock,
            no_frame_limit=self.no_frame_limit_bytes,
            on_state=on_state,
        )


class CommandDevice(BaseModel):
    """A door controller or occupancy sensor: a serial port, command timing, its identity."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    serial: SerialSettings
    commands: CommandSettings = Field(default_factory=CommandSettings)
    identity: str | None = Field(
        default=None,
        pattern=f"^{IDENTITY_PATTERN}$",
        description=(
            "The ID the device must answer HELLO with after every connection; another "
            "device on the port is never commanded. None: HELLO is not asked."
        ),
    )


class OccupancyDevice(CommandDevice):
    """The occupancy sensor: a command device, and how its passages are recognised."""

    kind: SensorKind = Field(
        default="auto",
        description=(
            "beams: light beams and a count; count_only: a count alone (a 3D camera); "
            "auto: count-only when the sensor's STATUS reply names no beam."
        ),
    )
    passage_window_s: float = Field(
        default=PASSAGE_WINDOW_S,
        gt=0,
        le=10,
        description="How far apart a beam crossing and the count change it explains may be.",
    )


def _as_occupancy(value: object) -> object:
    """A door-style device given for the sensor takes the sensor's defaults."""
    if isinstance(value, CommandDevice) and not isinstance(value, OccupancyDevice):
        return OccupancyDevice.model_validate(value.model_dump())
    return value


def occupancy_device(device: CommandDevice) -> OccupancyDevice:
    """``devices.occupancy`` as the sensor's settings (they always are, once validated)."""
    converted = _as_occupancy(device)
    assert isinstance(converted, OccupancyDevice)
    return converted


# The sensor's settings are an OccupancyDevice. A plain CommandDevice given
# at run time (from older Python callers) is turned into one with the
# sensor's defaults; type checkers see OccupancyDevice alone.
SensorDevice = Annotated[OccupancyDevice, BeforeValidator(_as_occupancy)]


def _chip_documents(folder: Path, info: ValidationInfo) -> Path:
    """The test documents' folder, relative to the gate file; every document in it must load."""
    base = (info.context or {}).get("base_dir")
    if base is not None and not folder.is_absolute():
        folder = Path(base) / folder
    load_chip_documents(folder)  # ChipDocumentError is a ValueError: reported on this field
    return folder


class ChipDevice(BaseModel):
    """The chip reader. Only the mock exists so far; a PC/SC driver comes later."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["mock"] = "mock"
    documents: Annotated[Path, AfterValidator(_chip_documents)] | None = Field(
        default=None,
        description=(
            "A folder of test documents (NAME.mrz with NAME.jpg or NAME.jp2), relative to the "
            "gate file: the mock reader presents the chip of the document just read."
        ),
    )


class MockCameraDevice(BaseModel):
    """A mock camera showing face photos, optionally varied (hardware.emulators.camera)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    images: str = Field(
        default=SAMPLE_IMAGES,
        description=(
            "'samples': the fetched sample photos (egate samples fetch), else matplotlib's "
            "portrait; or a folder of photos, relative to the configuration file."
        ),
    )
    variation: Variation | None = None
    seed: int = Field(default=0, description="Seed of the variations' random draws.")


class EmulationSettings(BaseModel):
    """How the mock gate's doors and travellers behave (``devices.emulation``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    door_travel_s: float = Field(
        default=2.0, gt=0, le=30, description="Time a door takes to open or close fully."
    )
    pace: float = Field(
        default=1.0,
        gt=0,
        le=10,
        description="Scales how long travellers take to present and walk (below 1: quicker).",
    )
    gap_s: float = Field(
        default=1.0, ge=0, le=600, description="Time between one traveller leaving and the next."
    )
    seed: int = Field(default=0, description="Seed of the traveller stream.")
    interlock: bool = Field(
        default=False,
        description=(
            "The emulated door board refuses OPEN of a door while the other is not CLOSED "
            "(ERR 21), as a board with a hardware interlock does."
        ),
    )
    occupancy_order: Literal["broken_clear_count", "broken_count_clear", "count_broken_clear"] = (
        Field(
            default="broken_clear_count",
            description=(
                "The order of the emulated sensor's events when someone crosses a beam: "
                "the beam BROKEN, the beam CLEAR and the COUNT (docs/door-protocol.md)."
            ),
        )
    )

    def door_board(self) -> DoorBoardSettings:
        """How the emulated door board behaves (its identity is the gate file's, if any)."""
        return DoorBoardSettings(travel_s=self.door_travel_s, interlock=self.interlock)

    def occupancy_sensor(self) -> OccupancySensorSettings:
        """How the emulated occupancy sensor behaves (its identity is the gate file's, if any)."""
        return OccupancySensorSettings(order=PassageOrder(self.occupancy_order.replace("_", ",")))


class DeviceSettings(BaseModel):
    """Every device of one gate."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    emulated: bool = Field(
        default=False,
        description="Run every serial device as an emulator on a pseudo-terminal (mock gate).",
    )
    reader: ReaderDevice | None = None
    doors: CommandDevice | None = None
    occupancy: SensorDevice | None = None
    camera: CameraSettings | None = None
    mock_camera: MockCameraDevice | None = Field(
        default=None, description="Instead of camera: a mock camera showing face photos."
    )
    chip: ChipDevice | None = None
    emulation: EmulationSettings = Field(
        default_factory=EmulationSettings,
        description="With emulated: true, how the doors and the sample travellers behave.",
    )

    @model_validator(mode="after")
    def _one_camera(self) -> DeviceSettings:
        if self.camera is not None and self.mock_camera is not None:
            raise ValueError("camera and mock_camera: configure one of them, not both")
        return self


class HardwareGateConfig(GateConfig):
    """A gate configuration with its devices (the core's GateConfig knows none)."""

    devices: DeviceSettings = Field(default_factory=DeviceSettings)


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """How one device answered the probe."""

    device: str
    port: str
    healthy: bool
    state: str
    response_seconds: float | None
    detail: str

    def to_json(self) -> dict[str, object]:
        """The result as a JSON object."""
        return {
            "device": self.device,
            "port": self.port,
            "healthy": self.healthy,
            "state": self.state,
            "response_seconds": self.response_seconds,
            "detail": self.detail,
        }


def _on_pty(serial: SerialSettings, pty: PseudoTerminal) -> SerialSettings:
    return serial.model_copy(update={"port": pty.path})


@dataclass(frozen=True, slots=True)
class Emulators:
    """The emulators of a mock gate, and device settings that point at them."""

    devices: DeviceSettings
    reader: ReaderEmulator | None
    doors: DoorEmulator | None
    occupancy: OccupancyEmulator | None


@contextlib.contextmanager
def emulators(
    devices: DeviceSettings,
    door_board: DoorBoardSettings | None = None,
    occupancy_sensor: OccupancySensorSettings | None = None,
) -> Iterator[Emulators]:
    """Start an emulator for each serial device on a pseudo-terminal of its own.

    ``door_board`` and ``occupancy_sensor`` say how the emulated devices
    behave; a configured ``identity`` is the one they answer HELLO with.
    """
    with contextlib.ExitStack() as stack:
        update: dict[str, object] = {}
        reader = doors = occupancy = None
        if devices.reader is not None:
            pty = stack.enter_context(PseudoTerminal(watch_flushes=True))
            reader = stack.enter_context(ReaderEmulator(devices.reader.make_framing(), pty))
            update["reader"] = devices.reader.model_copy(
                update={"serial": _on_pty(devices.reader.serial, pty)}
            )
        if devices.doors is not None:
            pty = stack.enter_context(PseudoTerminal())
            board = door_board or DoorBoardSettings()
            if devices.doors.identity is not None:
                board = board.model_copy(update={"identity": devices.doors.identity})
            doors = stack.enter_context(DoorEmulator(pty, board))
            update["doors"] = devices.doors.model_copy(
                update={"serial": _on_pty(devices.doors.serial, pty)}
            )
        if devices.occupancy is not None:
            pty = stack.enter_context(PseudoTerminal())
            sensor = occupancy_sensor or OccupancySensorSettings()
            if devices.occupancy.identity is not None:
                sensor = sensor.model_copy(update={"identity": devices.occupancy.identity})
            occupancy = stack.enter_context(OccupancyEmulator(pty, sensor))
            update["occupancy"] = devices.occupancy.model_copy(
                update={"serial": _on_pty(devices.occupancy.serial, pty)}
            )
        yield Emulators(devices.model_copy(update=update), reader, doors, occupancy)


@contextlib.contextmanager
def emulated(devices: DeviceSettings) -> Iterator[DeviceSettings]:
    """Start an emulator for each serial device; yield settings that point at them.

    Real (not emulated) settings pass through unchanged.
    """
    if not devices.emulated:
        yield devices
        return
    with emulators(devices) as started:
        yield started.devices


# How long the probe listens to a reader for its first frame, by default.
DEFAULT_READER_LISTEN_S = 1.0
# Poll again this soon when a poll brought nothing (the port's own read
# timeout may be 0, and the probe must not spin).
_READER_PROBE_PAUSE_S = 0.002


def _reader_probe(
    device: ReaderDevice, today: Callable[[], date], clock: Callable[[], float], listen_s: float
) -> ProbeResult:
    """Open the reader and listen for a first valid frame.

    The port opening proves only that something is plugged in: the state is
    ``no_frame_yet`` until a frame of the configured framing arrives (lay a
    document on the reader), ``no_valid_frame`` when plenty of bytes came
    and none made a frame, ``connected`` (healthy) once one did.
    """
    port = device.serial.port
    framing = device.framing
    reader = device.driver(today, clock)
    started = clock()
    try:
        reader.open()
    except LinkError as error:
        return ProbeResult("reader", port, False, "disconnected", None, str(error))
    try:
        give_up = started + listen_s
        while True:
            events = reader.poll(clock())
            condition = reader.condition
            if condition is ReaderCondition.CONNECTED:
                detail = f"{framing} framing, first frame: {_first_frame(events)}"
                return ProbeResult("reader", port, True, condition.value, clock() - started,
                                   detail)  # fmt: skip
            if condition in (ReaderCondition.DISCONNECTED, ReaderCondition.CONNECTING):
                detail = reader.last_error or f"serial port {port}: lost"
                return ProbeResult("reader", port, False, "disconnected", None, detail)
            # Plenty of bytes and no frame is a verdict already; silence may yet end.
            if condition is ReaderCondition.NO_VALID_FRAME or clock() >= give_up:
                break
            if not events:
                time.sleep(_READER_PROBE_PAUSE_S)
        decoder = reader.decoder
        if condition is ReaderCondition.NO_VALID_FRAME:
            detail = decoder.problem or "no valid frame"
        elif decoder.bytes_total:
            detail = (
                f"port open, no frame seen yet: {decoder.bytes_total} bytes, no valid {framing} "
                "frame (wrong framing or baud rate, or another device on this port?)"
            )
        else:
            detail = f"port open, no frame seen yet ({framing} framing): lay a document on it"
        return ProbeResult("reader", port, False, condition.value, None, detail)
    finally:
        reader.close()


def _first_frame(events: list[ReaderEvent]) -> str:
    """What the first frame held, without personal data: the MRZ's format and validity."""
    for event in events:
        if isinstance(event, DocumentRead):
            validity = "valid" if event.result.valid else "invalid"
            return f"{event.result.format.value} MRZ, {validity}"
    return "no MRZ in it"


def _command_probe(
    name: str,
    device: CommandDevice,
    make: Callable[..., DoorController | OccupancySensor],
    clock: Callable[[], float],
) -> ProbeResult:
    """Open a command device, identify it, and wait for its answer to STATUS (or a failure)."""
    port = device.serial.port
    try:
        driver = make(device.serial, device.commands, clock=clock, identity=device.identity)
    except LinkError as error:
        return ProbeResult(name, port, False, "disconnected", None, str(error))
    settings = device.commands
    # Long enough for every retry of the driver's own HELLO and first STATUS.
    give_up = clock() + 2 * settings.timeout_s * (settings.retries + 1) + 1.0
    started = clock()
    identified = ""
    try:
        # The driver opens its port on the first poll and asks STATUS itself
        # once connected; its answer (or its failure) is the probe's.
        while clock() < give_up:
            for event in driver.poll(clock()):
                if isinstance(event, Disconnected):
                    # The port would not open (missing, busy, not a tty) or was
                    # lost: the probe opens once and does not wait for a retry.
                    # The link's reason names the port; a silent device's does not.
                    named = port in event.reason
                    detail = event.reason if named else f"serial port {port}: {event.reason}"
                    wrong = event.reason.startswith("wrong device")
                    state = "wrong_device" if wrong else "disconnected"
                    return ProbeResult(name, port, False, state, None, detail)
                if isinstance(event, Identified):
                    identified = f"ID={event.identity} "
                if not (isinstance(event, Acknowledged | Refused | CommandFailed)):
                    continue
                if event.command.verb != "STATUS":
                    continue
                elapsed = clock() - started
                if isinstance(event, Acknowledged):
                    fields = " ".join(f"{key}={value}" for key, value in event.reply.fields)
                    detail = identified + (fields or "OK")
                    return ProbeResult(name, port, True, "connected", elapsed, detail)
                if isinstance(event, Refused):
                    detail = f"refused STATUS: {event.code} {event.text}"
                    return ProbeResult(name, port, False, "connected", elapsed, detail)
                detail = f"serial port {port}: no answer to STATUS: {event.reason}"
                return ProbeResult(name, port, False, "disconnected", None, detail)
            time.sleep(0.005)
        detail = f"serial port {port}: no answer to STATUS"
        return ProbeResult(name, port, False, "disconnected", None, detail)
    finally:
        driver.shutdown()


def probe(
    devices: DeviceSettings,
    today: Callable[[], date],
    clock: Callable[[], float] = time.monotonic,
    base_dir: Path = Path("."),
    *,
    reader_listen_s: float = DEFAULT_READER_LISTEN_S,
) -> list[ProbeResult]:
    """Open every configured device once and report whether it answers, and how fast.

    ``base_dir`` is the configuration file's folder, for relative photo folders.
    A reader answers nothing: it is listened to for ``reader_listen_s`` (less
    once a frame has come), and is healthy only once a valid frame came.
    """
    results: list[ProbeResult] = []
    if devices.reader is not None:
        results.append(_reader_probe(devices.reader, today, clock, reader_listen_s))
    if devices.doors is not None:
        results.append(_command_probe("doors", devices.doors, DoorController, clock))
    if devices.occupancy is not None:
        results.append(_command_probe("occupancy", devices.occupancy, OccupancySensor, clock))
    if devices.camera is not None:
        results.append(_camera_probe(devices.camera, clock))
    if devices.mock_camera is not None:
        results.append(_mock_camera_probe(devices.mock_camera, base_dir, clock))
    if devices.chip is not None:
        results.append(_chip_probe(devices.chip))
    return results


def open_chip_documents(device: ChipDevice) -> DocumentFolderChipReader | None:
    """The test documents' chip reader of ``device`` (None without ``documents``).

    ``ConfigError`` (exit 2) when a file in the folder cannot be used.
    """
    if device.documents is None:
        return None
    try:
        return DocumentFolderChipReader(load_chip_documents(device.documents))
    except ChipDocumentError as error:
        raise ConfigError(f"devices.chip.documents: {error}") from None


def _chip_probe(device: ChipDevice) -> ProbeResult:
    try:
        documents = open_chip_documents(device)
    except ConfigError as error:
        return ProbeResult("chip", "mock", False, "disconnected", None, str(error))
    if documents is None:
        return ProbeResult("chip", "mock", True, "connected", 0.0, "mock chip reader")
    detail = f"mock chip reader, {len(documents)} test documents in {device.documents}"
    return ProbeResult("chip", "mock", True, "connected", 0.0, detail)


def mock_camera_images(settings: MockCameraDevice, base_dir: Path) -> list[Path]:
    """The photos a mock camera shows; ``CameraError`` when there are none."""
    if settings.images == SAMPLE_IMAGES:
        samples = installed_samples()
        portrait = grace_hopper()
        images = samples.images() if samples is not None else [portrait] if portrait else []
        if not images:
            raise CameraError("mock camera: no sample photos (run `egate samples fetch`)")
        return images
    folder = Path(settings.images)
    folder = folder if folder.is_absolute() else base_dir / folder
    images = find_images(folder) if folder.is_dir() else []
    if not images:
        raise CameraError(f"mock camera: no photos in {folder}")
    return images


def open_mock_camera(
    settings: MockCameraDevice, base_dir: Path, clock: Callable[[], float] = time.monotonic
) -> MockCamera:
    """The mock camera a gate file describes."""
    return MockCamera(
        mock_camera_images(settings, base_dir),
        settings.variation,
        rng=np.random.default_rng(settings.seed),
        clock=clock,
    )


def _mock_camera_probe(
    settings: MockCameraDevice, base_dir: Path, clock: Callable[[], float]
) -> ProbeResult:
    started = clock()
    try:
        camera = open_mock_camera(settings, base_dir, clock)
    except CameraError as error:
        return ProbeResult("camera", "mock", False, "disconnected", None, str(error))
    try:
        frame = camera.grab()
        if frame is None:
            return ProbeResult("camera", "mock", False, camera.state.value, None, "no frame")
        return ProbeResult("camera", "mock", True, "connected", clock() - started,
                           f"mock, {frame.width}x{frame.height} frame")  # fmt: skip
    finally:
        camera.close()


def _camera_probe(settings: CameraSettings, clock: Callable[[], float]) -> ProbeResult:
    started = clock()
    try:
        camera = OpenCvCamera.from_settings(settings, clock=clock)
    except CameraError as error:
        return ProbeResult("camera", settings.source, False, "disconnected", None, str(error))
    try:
        frame = camera.grab()
        if frame is None:
            return ProbeResult("camera", settings.source, False, camera.state.value, None,
                               camera.problem or "no frame")  # fmt: skip
        return ProbeResult("camera", settings.source, True, "connected", clock() - started,
                           f"{frame.width}x{frame.height} frame")  # fmt: skip
    finally:
        camera.close()
