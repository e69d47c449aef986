"""Cameras: what the gate needs of one, real or mock, and how a gate file describes one.

A ``Camera`` hands out ``Frame`` objects (8-bit RGB pixels and the time they
were taken by the camera's injected clock) one ``grab()`` at a time, reports
whether its device is ``connected`` and is ``close()``-d when done.
``grab()`` never raises: a camera must not take the gate down.

``OpenCvCamera`` (``hardware.opencvcamera``) is the real driver, reading the
sources of ``hardware.camerasource``; ``MockCamera``
(``hardware.emulators.camera``) shows photos in mock mode and replays.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Protocol, runtime_checkable

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    ValidationInfo,
    field_validator,
    model_validator,
)

from egate.biometrics.image import RgbImage

Clock = Callable[[], float]

DEFAULT_RECONNECT_INITIAL_S = 0.5
DEFAULT_RECONNECT_MAX_S = 10.0


class CameraError(RuntimeError):
    """A camera that cannot be opened; the message is one line naming the source."""


class CameraState(StrEnum):
    """Whether a camera currently delivers frames."""

    CONNECTED = "connected"
    DISCONNECTED = "disconnected"


@dataclass(frozen=True, slots=True, eq=False)
class Frame:
    """One picture from a camera: ``H x W x 3`` RGB pixels and the capture time."""

    image: RgbImage
    # Seconds on the camera's clock (monotonic by default) when the frame arrived.
    timestamp: float

    @property
    def width(self) -> int:
        """Width in pixels."""
        return int(self.image.shape[1])

    @property
    def height(self) -> int:
        """Height in pixels."""
        return int(self.image.shape[0])

    def __repr__(self) -> str:
        # A face is biometric data: the pixels stay out of logs and tracebacks.
        return f"Frame({self.width}x{self.height}, timestamp={self.timestamp:.3f})"


@runtime_checkable
class Camera(Protocol):
    """What the gate needs from any camera, real or mock."""

    @property
    def state(self) -> CameraState:
        """``connected`` while frames can come, ``disconnected`` while the device is gone."""
        ...

    def grab(self) -> Frame | None:
        """The next frame, or None when there is none (device gone, end of a file)."""
        ...

    def close(self) -> None:
        """Release the device; later grabs return None."""
        ...


class CameraSettings(BaseModel):
    """One camera in a gate's configuration file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    source: str = Field(
        min_length=1,
        description=(
            "USB camera index (0), device path (/dev/video0, /dev/v4l/by-id/...), video "
            "file or folder of images; relative paths are read from the configuration's folder."
        ),
    )
    width: StrictInt | None = Field(
        default=None, gt=0, le=16384, description="Frame width in pixels to ask for."
    )
    height: StrictInt | None = Field(
        default=None, gt=0, le=16384, description="Frame height in pixels to ask for."
    )
    fps: StrictFloat | None = Field(
        default=None, gt=0, le=1000, description="Frame rate to ask a device for."
    )
    loop: StrictBool = Field(
        default=False, description="Start a video file or folder again after its last frame."
    )
    reconnect_initial_s: StrictFloat = Field(
        default=DEFAULT_RECONNECT_INITIAL_S,
        gt=0,
        le=3600,
        description="Wait before the first attempt to reopen a lost camera; doubles after each.",
    )
    reconnect_max_s: StrictFloat = Field(
        default=DEFAULT_RECONNECT_MAX_S,
        gt=0,
        le=3600,
        description="Longest wait between attempts to reopen a lost camera.",
    )

    @field_validator("source", mode="before")
    @classmethod
    def _index_as_text(cls, value: object) -> object:
        # `source: 0` in YAML is a number; it means the same as "0".
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        return value

    @field_validator("source")
    @classmethod
    def _relative_to_config(cls, source: str, info: ValidationInfo) -> str:
        base = (info.context or {}).get("base_dir")
        if base is None or source.strip().isdigit() or Path(source).expanduser().is_absolute():
            return source
        return str(Path(base) / source)

    @model_validator(mode="after")
    def _backoff_in_order(self) -> CameraSettings:
        if self.reconnect_max_s < self.reconnect_initial_s:
            raise ValueError(
                f"reconnect_max_s ({self.reconnect_max_s}) is below "
                f"reconnect_initial_s ({self.reconnect_initial_s})"
            )
        return self
