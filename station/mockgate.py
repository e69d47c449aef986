"""A whole gate of emulators with sample travellers walking through it (`egate run --mock`).

``MockGate`` starts the reader, door board and occupancy emulators on
pseudo-terminals, a reader of virtual chips and a mock camera, and opens the real
drivers on them: the service that runs on it is the one that runs on a gate.
Travellers come from ``sample_travellers`` one after another, or, for a
training replay, are admitted one by one by the caller; each is a
``MockPassenger`` who lays their document down, walks in when the entry
opens and out when the exit opens, or turns back when sent to an officer.
How the emulated devices behave (the doors' travel time, the board's
interlock, the order of the sensor's events) is ``devices.emulation``.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from types import TracebackType

import numpy as np

from egate.biometrics.capture import CaptureSettings
from egate.config import ConfigError
from egate.documents.pki.testpki import TestPki
from hardware.camera import CameraError
from hardware.devices import (
    ChipDevice,
    CommandDevice,
    DeviceSettings,
    EmulationSettings,
    MockCameraDevice,
    OccupancyDevice,
    ReaderDevice,
    open_mock_camera,
)
from hardware.emulators.camera import MockCamera
from hardware.emulators.devices import Emulators, emulators
from hardware.emulators.emrtd.chipreader import VirtualChipReader
from hardware.emulators.occupancy import OccupancySensorSettings
from hardware.indicator import Indicator
from hardware.link import SerialSettings
from station.gatedevices import GateDevices, open_gate_devices
from station.people.camerafeed import FacePictures
from station.people.passenger import MockPassenger, Traveller
from station.people.traveller import MockDocumentFeed
from station.people.travellers import SamplePhotos, SampleTraveller, sample_travellers


def mock_devices(read_timeout_s: float | None = None) -> DeviceSettings:
    """Every device of a mock gate: emulated reader, doors and sensor, mock chip and camera.

    ``read_timeout_s``: how long a poll of a serial device waits for bytes
    (the link's default when None; 0 when one loop polls several gates).
    """
    emulated = SerialSettings(port="emulated")
    if read_timeout_s is not None:
        emulated = emulated.model_copy(update={"read_timeout_s": read_timeout_s})
    return DeviceSettings(
        emulated=True,
        reader=ReaderDevice(serial=emulated, framing="desko"),
        doors=CommandDevice(serial=emulated),
        occupancy=OccupancyDevice(serial=emulated),
        chip=ChipDevice(),
        mock_camera=MockCameraDevice(),
    )


@dataclass(frozen=True, slots=True)
class Arrival:
    """A traveller who stepped up to the gate, for the run's transcript."""

    traveller: SampleTraveller
    at: float


class MockGate:
    """Emulated devices, their drivers and a stream of travellers; a context manager."""

    def __init__(
        self,
        devices: DeviceSettings,
        emulation: EmulationSettings,
        indicator: Indicator,
        *,
        today: Callable[[], date],
        base_dir: Path,
        clock: Callable[[], float] = time.monotonic,
        photos: SamplePhotos | None = None,
        stream: bool = True,
        chip_sleep: Callable[[float], None] = time.sleep,
        pki: TestPki | None = None,
        capture: CaptureSettings | None = None,
    ) -> None:
        """``stream``: send sample travellers; without it the caller admits each one.

        ``pki`` signs the travellers' virtual chips and is the trust store's
        CSCA (default: a test PKI made for this gate); ``capture``: the gate's
        capture window: with more than one frame, each sample traveller's face
        moves through the window as a live face does (a still photo would fail
        the liveness check)."""
        missing = [
            name for name in ("reader", "doors", "occupancy") if getattr(devices, name) is None
        ]
        if missing:
            raise ConfigError(f"devices: a mock gate needs {', '.join(missing)}")
        self._settings = devices
        self._emulation = emulation
        self._indicator = indicator
        self._today = today
        self._base_dir = base_dir
        self._clock = clock
        self._photos = photos
        self._stream = stream
        self._chip_sleep = chip_sleep
        self._pki = pki
        self._capture = capture
        self._stack = contextlib.ExitStack()
        self._passenger: MockPassenger | None = None
        self._next_at = 0.0
        self._travellers: Iterator[SampleTraveller] | None = None
        self.arrivals: list[Arrival] = []
        self.devices: GateDevices | None = None
        # The emulators, the chip reader and the camera, for fault injection.
        self.emulators: Emulators | None = None
        self.chips: VirtualChipReader | None = None
        self.camera: MockCamera | None = None

    def __enter__(self) -> MockGate:
        try:
            self._start()
        except BaseException:
            self._stack.close()
            raise
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def _start(self) -> None:
        photos = self._photos or SamplePhotos.installed() if self._stream else None
        if self._stream and photos is None:
            raise ConfigError("mock gate: no sample photos (run `egate samples fetch`)")
        # The board's interlock and the sensor's order of events come from
        # devices.emulation; the identities from the gate file's devices.
        # The sensor's settings are passed only when they are not the default ones.
        emulation = self._emulation
        sensor = emulation.occupancy_sensor()
        other = {} if sensor == OccupancySensorSettings() else {"occupancy_sensor": sensor}
        # The devices keep the gate's time: a replay's clock may be paused by a console.
        started = self._stack.enter_context(
            emulators(self._settings, emulation.door_board(), clock=self._clock, **other)
        )
        assert started.reader and started.doors and started.occupancy
        self.emulators = started
        chips = self.chips = VirtualChipReader(sleep=self._chip_sleep, pki=self._pki)
        camera = self.camera = self._camera()
        self._stack.callback(camera.close)
        feed = MockDocumentFeed(started.reader, chips, camera)
        devices = open_gate_devices(
            started.devices,
            self._indicator,
            today=self._today,
            base_dir=self._base_dir,
            clock=self._clock,
            camera=camera,
            chip=chips,
        )
        self._stack.callback(devices.close)
        self.devices = devices
        if photos is not None:
            rng = np.random.default_rng(self._emulation.seed)
            window = self._capture
            pictures = (
                FacePictures(window.frames, window.interval_s)
                if window is not None and window.frames > 1
                else None
            )
            self._travellers = sample_travellers(
                photos, self._today(), rng, pace=self._emulation.pace, pictures=pictures
            )
        doors, occupancy = started.doors, started.occupancy

        def make_passenger(traveller: Traveller) -> MockPassenger:
            return MockPassenger(traveller, feed, doors, occupancy, self._indicator)

        self._make_passenger: Callable[[Traveller], MockPassenger] = make_passenger

    def _camera(self) -> MockCamera:
        settings = self._settings.mock_camera or MockCameraDevice()
        try:
            return open_mock_camera(settings, self._base_dir, self._clock)
        except CameraError as error:
            raise ConfigError(str(error)) from None

    @property
    def passenger(self) -> MockPassenger | None:
        """The traveller at the gate (or the last one, once gone)."""
        return self._passenger

    @property
    def vacant(self) -> bool:
        """Whether nobody is at the gate: the last traveller has gone."""
        return self._passenger is None or self._passenger.done

    def admit(self, traveller: Traveller, now: float) -> MockPassenger:
        """Send ``traveller`` to the vacant gate (a replay's passengers come this way)."""
        if not self.vacant:
            raise RuntimeError("admit: a traveller is still at the gate")
        self._passenger = self._make_passenger(traveller)
        self._passenger.step(now)
        return self._passenger

    def step(self, now: float) -> None:
        """Let the traveller at the gate act; send the next one in when they have gone."""
        passenger = self._passenger
        if passenger is not None and not passenger.done:
            passenger.step(now)
            if passenger.done:
                self._next_at = now + self._emulation.gap_s
            return
        if self._travellers is None or now < self._next_at:
            return
        traveller = next(self._travellers)
        self.arrivals.append(Arrival(traveller, now))
        self._passenger = self._make_passenger(traveller)
        self._passenger.step(now)

    def close(self) -> None:
        """Stop the drivers and the emulators."""
        self._passenger = None
        self._stack.close()
