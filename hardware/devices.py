"""A gate's devices as its gate file describes them, and the few opened straight from that.

(A little past the ~400-line guideline: the gate file's device settings are
one schema, each device's model beside the others it is checked with.)

A gate configuration file (``configs/gates/*.yaml``) names the gate, its
document policy and, under ``devices:``, how each device is reached:

* ``reader``: the MRZ reader, a serial port and its framing (lines, desko, rte);
* ``doors``: the door controller board (docs/door-protocol.md);
* ``occupancy``: the occupancy / tailgating sensor (same protocol family);
* ``camera``: an OpenCV source (USB index, /dev/videoN, a video file, a folder);
* ``chip``: the chip reader: ``pcsc`` (a contactless reader through pcscd,
  the eMRTD stack of ``hardware.emrtd``), ``virtual`` (a folder of virtual
  chips read through the same stack, for commissioning and drills) or
  ``mock`` (with ``documents``, the test documents of a folder).

With ``emulated: true`` (a mock gate) every serial device is replaced by its
emulator on a new pseudo-terminal (``hardware.emulators.devices``), and the
drivers talk to it through the very code that runs on a real gate.  The
health probe of ``egate devices probe`` is ``hardware.probe``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
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
from hardware.camera import CameraError, CameraSettings
from hardware.chipdocuments import ChipDocumentError, DocumentFolderChipReader, load_chip_documents
from hardware.deskoframing import DeskoBytes
from hardware.doorsession import IDENTITY_PATTERN, CommandSettings
from hardware.emulators.camera import MockCamera, Variation
from hardware.emulators.door import DoorBoardSettings
from hardware.emulators.occupancy import OccupancySensorSettings, PassageOrder
from hardware.frames import MAX_FRAME_BYTES
from hardware.frames import Framing as FrameDecoder
from hardware.framing import make_framing
from hardware.link import LinkState, SerialSettings
from hardware.occupancy import PASSAGE_WINDOW_S, SensorKind
from hardware.reader import DEFAULT_NO_FRAME_LIMIT, SerialMrzReader

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


def _relative(folder: Path, info: ValidationInfo) -> Path:
    """A path of the gate file, taken relative to the gate file's folder."""
    base = (info.context or {}).get("base_dir")
    return Path(base) / folder if base is not None and not folder.is_absolute() else folder


def _chip_documents(folder: Path, info: ValidationInfo) -> Path:
    """The test documents' folder, relative to the gate file; every document in it must load."""
    folder = _relative(folder, info)
    load_chip_documents(folder)  # ChipDocumentError is a ValueError: reported on this field
    return folder


def _existing(path: Path, info: ValidationInfo) -> Path:
    path = _relative(path, info)
    if not path.exists():
        raise ValueError(f"{path} does not exist")
    return path


def _trust_store(path: Path, info: ValidationInfo) -> Path:
    """A trust store that loads: every certificate, CRL and master list in it is checked."""
    # The PKI code (asn1crypto, the path validator) loads only for a gate with a trust store.
    from egate.documents.pki.errors import PkiError
    from egate.documents.pki.truststore import TrustStore

    path = _existing(path, info)
    try:
        TrustStore.load(path)
    except PkiError as error:
        raise ValueError(str(error)) from None
    return path


# The settings each kind of chip reader takes.
_CHIP_FIELDS = {"mock": {"documents"}, "pcsc": {"reader", "trust"}, "virtual": {"chips", "trust"}}


class ChipDevice(BaseModel):
    """The chip reader: a PC/SC contactless reader, virtual chips, or the mock reader."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["mock", "pcsc", "virtual"] = "mock"
    documents: Annotated[Path, AfterValidator(_chip_documents)] | None = Field(
        default=None,
        description=(
            "mock: a folder of test documents (NAME.mrz with NAME.jpg or NAME.jp2), relative to "
            "the gate file: the mock reader presents the chip of the document just read."
        ),
    )
    reader: str | int | None = Field(
        default=None,
        description="pcsc: the reader's name (or a part of it) or index; default the first.",
    )
    chips: Annotated[Path, AfterValidator(_existing)] | None = Field(
        default=None,
        description=(
            "virtual: a folder of virtual chip folders (egate chip issue), relative to the gate "
            "file: the chip of the document just read is presented."
        ),
    )
    trust: Annotated[Path, AfterValidator(_trust_store)] | None = Field(
        default=None,
        description=(
            "pcsc and virtual: the CSCA trust store of passive authentication, a folder of "
            "certificates and CRLs or an ICAO master list; without it no document signer "
            "is trusted."
        ),
    )
    read_chunk: int = Field(
        default=0xDF,
        ge=1,
        le=65536,
        description=(
            "pcsc and virtual: the most bytes one READ BINARY asks for; 223 fits every reader, "
            "larger needs extended length in reader and chip."
        ),
    )

    @model_validator(mode="after")
    def _fields_of_kind(self) -> ChipDevice:
        given = {
            name
            for name in ("documents", "reader", "chips", "trust")
            if getattr(self, name) is not None
        }
        allowed = {
            "mock": {"documents"},
            "pcsc": {"reader", "trust"},
            "virtual": {"chips", "trust"},
        }
        extra = sorted(given - allowed[self.kind])
        if extra:
            raise ValueError(f"kind {self.kind} takes no {', '.join(extra)}")
        if self.kind == "virtual" and self.chips is None:
            raise ValueError("kind virtual needs chips: a folder of virtual chip folders")
        return self


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
