"""The opened devices of one gate, and whether each of them works right now.

``open_gate_devices`` turns a gate file's ``devices:`` section into drivers
for the service.  A device that is configured but absent does not stop the
gate from starting: its driver keeps trying to reach it, and ``health``
reports it down, which puts the gate in its closed, degraded state until it
is back.  A device that is not configured at all, where the service needs
one, is a configuration error, and so is a chip reader's folder (test documents,
virtual chips, the trust store) with a file that cannot be used.  The chip
reader's trust store is kept as ``GateDevices.chip_trust``, which ``egate
run`` reads again on SIGHUP.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from egate.config import ConfigError
from hardware.camera import Camera, CameraError, CameraState, Frame
from hardware.chip import ChipReader, MockChipReader
from hardware.devices import (
    ChipDevice,
    DeviceSettings,
    occupancy_device,
    open_chip_documents,
    open_mock_camera,
)
from hardware.door import DoorController
from hardware.doorprotocol import Door, DoorState
from hardware.indicator import Indicator
from hardware.link import LinkState
from hardware.occupancy import OccupancySensor
from hardware.opencvcamera import OpenCvCamera
from hardware.reader import SerialMrzReader

if TYPE_CHECKING:
    from egate.documents.pki.truststore import TrustStore
    from hardware.emrtd.chipreader import InspectingChipReader
    from hardware.emulators.emrtd.chipreader import FolderChipReader


def open_chip_reader(device: ChipDevice) -> ChipReader:
    """The chip reader of the gate file's ``chip:`` (ConfigError when it cannot be opened).

    A PC/SC reader is connected afresh for every document, so one unplugged at
    start only makes reads ``unreadable`` until it is back.
    """
    if device.kind == "mock":
        documents = open_chip_documents(device)
        return documents if documents is not None else MockChipReader()
    return _open_stack_reader(device)


@dataclass(frozen=True)
class ChipTrust:
    """The chip reader's trust store file, which SIGHUP reads again (``egate run``)."""

    path: Path
    reader: InspectingChipReader | FolderChipReader

    def load(self) -> TrustStore:
        """Read the trust store again (PkiError, one line naming the file, when it cannot)."""
        from egate.documents.pki.truststore import TrustStore

        return TrustStore.load(self.path)

    @property
    def store(self) -> TrustStore | None:
        """The store the reader judges by now."""
        return self.reader.trust

    def use(self, store: TrustStore) -> None:
        """Judge the next chip read by ``store``: safe while the chip thread reads."""
        self.reader.trust = store


def _open_chip(device: ChipDevice) -> tuple[ChipReader, ChipTrust | None]:
    """The chip reader, and its trust store to reload when the gate file names one."""
    if device.kind == "mock" or device.trust is None:
        return open_chip_reader(device), None
    reader = _open_stack_reader(device)
    return reader, ChipTrust(device.trust, reader)


def _open_stack_reader(device: ChipDevice) -> InspectingChipReader | FolderChipReader:
    """A ``pcsc`` or ``virtual`` reader on the chip stack, with its trust store loaded."""
    # The chip stack (cryptography, the PKI) is loaded only for a gate that reads chips.
    from egate.documents.pki.errors import PkiError
    from egate.documents.pki.truststore import TrustStore
    from hardware.emrtd.chipreader import InspectingChipReader
    from hardware.emrtd.pcsc import PcscTransport
    from hardware.emulators.emrtd.chipreader import FolderChipReader
    from hardware.emulators.emrtd.folder import ChipFolderError

    try:
        trust = None if device.trust is None else TrustStore.load(device.trust)
    except PkiError as error:
        raise ConfigError(f"devices.chip.trust: {error}") from None
    now = partial(datetime.now, UTC)
    if device.kind == "pcsc":
        reader = device.reader
        return InspectingChipReader(
            lambda: PcscTransport(reader), trust=trust, now=now, chunk=device.read_chunk
        )
    assert device.chips is not None
    try:
        return FolderChipReader(device.chips, trust=trust, now=now, chunk=device.read_chunk)
    except ChipFolderError as error:
        raise ConfigError(f"devices.chip.chips: {error}") from None


# How often a camera missing at start is looked for again.
CAMERA_RETRY_S = 5.0


class _CameraAtStart:
    """A camera that could not be opened at start: down, and opened again when it can be."""

    def __init__(
        self, open_camera: Callable[[], Camera], problem: str, clock: Callable[[], float]
    ) -> None:
        self._open_camera = open_camera
        self._clock = clock
        self._camera: Camera | None = None
        self._problem = problem
        self._next_attempt = clock() + CAMERA_RETRY_S

    def _attempt(self) -> Camera | None:
        if self._camera is None and self._clock() >= self._next_attempt:
            self._next_attempt = self._clock() + CAMERA_RETRY_S
            try:
                self._camera = self._open_camera()
            except CameraError as error:
                self._problem = str(error)
        return self._camera

    @property
    def problem(self) -> str | None:
        camera = self._attempt()
        return self._problem if camera is None else getattr(camera, "problem", None)

    @property
    def state(self) -> CameraState:
        camera = self._attempt()
        return CameraState.DISCONNECTED if camera is None else camera.state

    def grab(self) -> Frame | None:
        camera = self._attempt()
        return None if camera is None else camera.grab()

    def close(self) -> None:
        if self._camera is not None:
            self._camera.close()


@dataclass(slots=True)
class GateDevices:
    """The drivers of one gate, as the service uses them."""

    reader: SerialMrzReader
    doors: DoorController
    camera: Camera
    indicator: Indicator
    chip: ChipReader | None = None
    occupancy: OccupancySensor | None = None
    # The chip reader's trust store, when the gate file names one: SIGHUP reloads it.
    chip_trust: ChipTrust | None = None

    def names(self) -> list[str]:
        """The devices whose health counts, in a fixed order."""
        names = ["reader", "doors", "camera"]
        if self.occupancy is not None:
            names.append("occupancy")
        return names

    def health(self) -> dict[str, str | None]:
        """Each device and why it is down (None: it works)."""
        doors_down = None if self.doors.connected else self.doors.problem or "no answer"
        for door in Door:
            if self.doors.state(door) is DoorState.FAULT:
                doors_down = f"{door.value.lower()} door in fault"
        reader = self.reader
        health: dict[str, str | None] = {
            "reader": None
            if reader.state is LinkState.CONNECTED
            else reader.last_error or f"link {reader.state.value}",
            "doors": doors_down,
            "camera": None
            if self.camera.state is CameraState.CONNECTED
            else getattr(self.camera, "problem", None) or "no picture",
        }
        if self.occupancy is not None:
            sensor = self.occupancy
            health["occupancy"] = None if sensor.connected else sensor.problem or "no answer"
        return health

    def describe(self) -> str:
        """One line naming the devices and where they are (no personal data)."""
        parts = [
            f"reader {self.reader.framing_name} on {self.reader.link.settings.port}",
            f"doors on {self.doors.port}",
            f"camera {type(self.camera).__name__}",
        ]
        if self.occupancy is not None:
            parts.append(f"occupancy on {self.occupancy.port}")
        parts.append("chip " + ("none" if self.chip is None else type(self.chip).__name__))
        return ", ".join(parts)

    def close(self) -> None:
        """Close every driver (ports, camera)."""
        self.reader.close()
        self.doors.shutdown()
        if self.occupancy is not None:
            self.occupancy.shutdown()
        self.camera.close()


def open_gate_devices(
    settings: DeviceSettings,
    indicator: Indicator,
    *,
    today: Callable[[], date],
    base_dir: Path,
    clock: Callable[[], float] = time.monotonic,
    camera: Camera | None = None,
    chip: ChipReader | None = None,
) -> GateDevices:
    """The drivers for ``settings`` (emulators, if any, already started).

    ``camera`` and ``chip`` replace the configured ones (a mock gate feeds its
    own).  ``ConfigError`` when a device the service needs is not configured,
    or the chip's test documents cannot be loaded.
    """
    missing = [
        name
        for name, value in (
            ("reader", settings.reader),
            ("doors", settings.doors),
            ("camera or mock_camera", camera or settings.camera or settings.mock_camera),
        )
        if value is None
    ]
    if missing:
        raise ConfigError(f"devices: a gate needs {', '.join(missing)}")
    assert settings.reader is not None and settings.doors is not None
    if camera is None:
        camera = _open_camera(settings, base_dir, clock)
    chip_trust = None
    if chip is None and settings.chip is not None:
        chip, chip_trust = _open_chip(settings.chip)
    occupancy = None
    if settings.occupancy is not None:
        sensor = occupancy_device(settings.occupancy)
        occupancy = OccupancySensor(
            sensor.serial,
            sensor.commands,
            clock=clock,
            identity=sensor.identity,
            kind=sensor.kind,
            passage_window_s=sensor.passage_window_s,
        )
    doors = settings.doors
    return GateDevices(
        reader=settings.reader.driver(today, clock),
        doors=DoorController(doors.serial, doors.commands, clock=clock, identity=doors.identity),
        camera=camera,
        indicator=indicator,
        chip=chip,
        occupancy=occupancy,
        chip_trust=chip_trust,
    )


def _open_camera(settings: DeviceSettings, base_dir: Path, clock: Callable[[], float]) -> Camera:
    def open_camera() -> Camera:
        if settings.mock_camera is not None:
            return open_mock_camera(settings.mock_camera, base_dir, clock)
        assert settings.camera is not None
        return OpenCvCamera.from_settings(settings.camera, clock=clock)

    try:
        return open_camera()
    except CameraError as error:
        return _CameraAtStart(open_camera, str(error), clock)
