"""The health probe of a gate's devices (``egate devices probe``).

``probe`` opens every device a gate file configures once and reports whether
it answers, and how fast: a reader is listened to for its first valid frame,
a door board or occupancy sensor is identified and asked for its STATUS, a
camera gives one frame, a chip reader's test documents must load.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from egate.config import ConfigError
from hardware.camera import CameraError, CameraSettings
from hardware.devices import (
    ChipDevice,
    CommandDevice,
    DeviceSettings,
    MockCameraDevice,
    ReaderDevice,
    open_chip_documents,
    open_mock_camera,
)
from hardware.door import DoorController
from hardware.doorsession import Acknowledged, CommandFailed, Disconnected, Identified, Refused
from hardware.link import LinkError
from hardware.occupancy import OccupancySensor
from hardware.opencvcamera import OpenCvCamera
from hardware.reader import DocumentRead, ReaderCondition, ReaderEvent


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
        results.append(_chip_probe(devices.chip, clock))
    return results


def _chip_probe(device: ChipDevice, clock: Callable[[], float]) -> ProbeResult:
    if device.kind == "pcsc":
        return _pcsc_probe(device, clock)
    if device.kind == "virtual":
        # The chip stack loads only for a gate that reads chips.
        from hardware.emulators.emrtd.chipreader import FolderChipReader
        from hardware.emulators.emrtd.folder import ChipFolderError

        assert device.chips is not None
        try:
            folder = FolderChipReader(device.chips, trust=None, now=_no_clock)
        except (ChipFolderError, OSError) as error:
            return ProbeResult("chip", "virtual", False, "disconnected", None, str(error))
        detail = f"virtual chips, {len(folder)} chip folders in {device.chips}"
        return ProbeResult("chip", "virtual", True, "connected", 0.0, detail)
    try:
        documents = open_chip_documents(device)
    except ConfigError as error:
        return ProbeResult("chip", "mock", False, "disconnected", None, str(error))
    if documents is None:
        return ProbeResult("chip", "mock", True, "connected", 0.0, "mock chip reader")
    detail = f"mock chip reader, {len(documents)} test documents in {device.documents}"
    return ProbeResult("chip", "mock", True, "connected", 0.0, detail)


def _no_clock() -> datetime:
    raise AssertionError("the probe reads no chip")


def _pcsc_probe(device: ChipDevice, clock: Callable[[], float]) -> ProbeResult:
    """The PC/SC reader is there when pcscd lists it; a card on it is not needed."""
    from hardware.emrtd.errors import ChipError
    from hardware.emrtd.pcsc import choose_reader, list_readers

    started = clock()
    try:
        name = choose_reader(list_readers(), device.reader)
    except ChipError as error:
        return ProbeResult("chip", "pcsc", False, "disconnected", None, str(error))
    return ProbeResult("chip", "pcsc", True, "connected", clock() - started, f"PC/SC {name}")


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
