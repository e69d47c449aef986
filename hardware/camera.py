"""Cameras: where the frames of the traveller's face come from.

A ``Camera`` hands out ``Frame`` objects (8-bit RGB pixels and the time they
were taken by the camera's injected clock) one ``grab()`` at a time, reports
whether its device is ``connected`` and is ``close()``-d when done.

``OpenCvCamera`` is the real driver, on OpenCV's ``VideoCapture``.  The same
class serves a USB camera (index ``0`` or ``/dev/video0``), a video file and a
folder of images, so mock mode and training replays go through the driver
that runs on the gate.  A camera that disappears (USB reset, cable pulled,
file deleted) makes ``grab()`` return ``None`` and the state ``disconnected``;
later ``grab()`` calls reopen it with backoff and the frames resume by
themselves.  ``grab()`` never raises: a camera must not take the gate down.
"""

from __future__ import annotations

import contextlib
import logging
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from types import TracebackType
from typing import Protocol, Self, runtime_checkable

import cv2
import numpy as np
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

from egate.biometrics.image import IMAGE_SUFFIXES, ImageError, RgbImage, read_image_file

Clock = Callable[[], float]

logger = logging.getLogger(__name__)

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


class SourceKind(StrEnum):
    """What an ``OpenCvCamera`` reads from."""

    DEVICE = "device"
    VIDEO = "video"
    IMAGES = "images"


@dataclass(frozen=True, slots=True)
class CameraSource:
    """A camera source as understood: its kind and where it is."""

    kind: SourceKind
    # The USB index or device path of a device, the file or folder otherwise.
    location: int | Path
    # The source as it was written, for messages.
    label: str

    @classmethod
    def parse(cls, source: int | str | Path) -> CameraSource:
        """Classify ``source``; ``CameraError`` when it names nothing usable."""
        label = str(source)
        if isinstance(source, bool):
            raise CameraError(f"camera {label}: not a camera index, device, file or folder")
        if isinstance(source, int):
            if source < 0:
                raise CameraError(f"camera {label}: a camera index is 0 or more")
            return cls(SourceKind.DEVICE, source, label)
        if isinstance(source, str):
            if not source.strip():
                raise CameraError("camera '': the source is empty")
            if source.strip().isdigit():
                return cls(SourceKind.DEVICE, int(source.strip()), label)
        path = Path(source).expanduser()
        if path.parts[:2] == ("/", "dev"):
            if not path.exists():
                raise CameraError(f"camera {label}: no such device")
            return cls(SourceKind.DEVICE, path, label)
        if path.is_dir():
            return cls(SourceKind.IMAGES, path, label)
        if path.is_file():
            is_image = path.suffix.lower() in IMAGE_SUFFIXES
            return cls(SourceKind.IMAGES if is_image else SourceKind.VIDEO, path, label)
        if path.exists():
            raise CameraError(f"camera {label}: not a file, folder or device")
        raise CameraError(f"camera {label}: no such file or folder")


class _SourceLost(Exception):
    """The source stopped delivering: the reason, in a few words."""


@contextlib.contextmanager
def _quiet_opencv() -> Iterator[None]:
    """Silence OpenCV's warnings while a capture opens.

    OpenCV prints one warning per backend that fails to open a source; a lost
    camera retried every few seconds would fill the log with them.  The level
    is process-wide in OpenCV, so it is restored at once.
    """
    previous = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
    try:
        yield
    finally:
        cv2.utils.logging.setLogLevel(previous)


def _to_rgb(frame: cv2.typing.MatLike) -> RgbImage:
    """OpenCV's BGR (or grey, or BGRA, or 16-bit) frame as 8-bit RGB."""
    pixels = np.asarray(frame)
    if pixels.dtype == np.uint16:
        pixels = (pixels // 257).astype(np.uint8)
    elif pixels.dtype != np.uint8:
        pixels = np.clip(pixels, 0, 255).astype(np.uint8)
    if pixels.ndim == 2 or (pixels.ndim == 3 and pixels.shape[2] == 1):
        converted = cv2.cvtColor(pixels, cv2.COLOR_GRAY2RGB)
    elif pixels.ndim == 3 and pixels.shape[2] == 4:
        converted = cv2.cvtColor(pixels, cv2.COLOR_BGRA2RGB)
    elif pixels.ndim == 3 and pixels.shape[2] == 3:
        converted = cv2.cvtColor(pixels, cv2.COLOR_BGR2RGB)
    else:
        raise _SourceLost(f"frames of shape {pixels.shape} are not pictures")
    return np.ascontiguousarray(converted, dtype=np.uint8)


def _fit(image: RgbImage, width: int | None, height: int | None) -> RgbImage:
    """``image`` scaled to ``width`` x ``height``; with one of them, keeping its proportions."""
    if width is None and height is None:
        return image
    rows, columns = image.shape[:2]
    if width is None:
        assert height is not None
        width = max(1, round(columns * height / rows))
    elif height is None:
        height = max(1, round(rows * width / columns))
    if (width, height) == (columns, rows):
        return image
    shrinking = width * height < columns * rows
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    return np.asarray(cv2.resize(image, (width, height), interpolation=interpolation))


def _natural_key(path: Path) -> list[tuple[int, int | str]]:
    """Sort key putting ``frame2.png`` before ``frame10.png``."""
    parts = re.split(r"(\d+)", path.name)
    return [(0, int(part)) if part.isdigit() else (1, part) for part in parts]


class _Reader(Protocol):
    def read(self) -> RgbImage | None: ...

    def release(self) -> None: ...


class _DeviceReader:
    """A camera device: asked for the size and rate configured, frames as it sends them."""

    def __init__(
        self, source: CameraSource, width: int | None, height: int | None, fps: float | None
    ) -> None:
        location = source.location
        with _quiet_opencv():
            if isinstance(location, int):
                capture = cv2.VideoCapture(location, cv2.CAP_ANY)
            else:
                capture = cv2.VideoCapture(str(location), cv2.CAP_V4L2)
        if not capture.isOpened():
            capture.release()
            raise CameraError(f"camera {source.label}: cannot open the device (absent or busy)")
        # A device takes the nearest mode it has, or ignores the request: the
        # frames say what it chose.
        if width is not None:
            capture.set(cv2.CAP_PROP_FRAME_WIDTH, width)
        if height is not None:
            capture.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
        if fps is not None:
            capture.set(cv2.CAP_PROP_FPS, fps)
        self._capture = capture

    def read(self) -> RgbImage | None:
        ok, frame = self._capture.read()
        if not ok or frame is None:
            raise _SourceLost("the device stopped sending frames")
        return _to_rgb(frame)

    def release(self) -> None:
        self._capture.release()


class _VideoReader:
    """A video file, scaled to the configured size, from the start again when looping."""

    def __init__(
        self, source: CameraSource, width: int | None, height: int | None, loop: bool
    ) -> None:
        assert isinstance(source.location, Path)
        self._source = source
        self._path = source.location
        self._size = (width, height)
        self._loop = loop
        self._capture, first = self._open()
        # Read to tell a video from any other file; the frame is the first grab's.
        self._pending: RgbImage | None = first

    def _open(self) -> tuple[cv2.VideoCapture, RgbImage]:
        with _quiet_opencv():
            capture = cv2.VideoCapture(str(self._path), cv2.CAP_ANY)
        ok, frame = capture.read() if capture.isOpened() else (False, None)
        if not ok or frame is None:
            capture.release()
            raise CameraError(f"camera {self._source.label}: not a video OpenCV can play")
        return capture, _fit(_to_rgb(frame), *self._size)

    def read(self) -> RgbImage | None:
        # An open file stays readable after it is deleted: look for it instead.
        if not self._path.is_file():
            raise _SourceLost("the video file is gone")
        if self._pending is not None:
            image, self._pending = self._pending, None
            return image
        ok, frame = self._capture.read()
        if ok and frame is not None:
            return _fit(_to_rgb(frame), *self._size)
        if not self._loop:
            return None
        # Reopening is more dependable than seeking to frame 0 in every container.
        self._capture.release()
        self._capture, first = self._open()
        return first

    def release(self) -> None:
        self._capture.release()


class _ImageReader:
    """A folder of images (or one image file) in natural name order, decoded by Pillow.

    The folder is listed again at each pass, so images added or removed take
    effect at the next loop; a file that cannot be decoded is skipped.
    """

    def __init__(
        self, source: CameraSource, width: int | None, height: int | None, loop: bool
    ) -> None:
        assert isinstance(source.location, Path)
        self._path = source.location
        self._what = "folder" if self._path.is_dir() else "image"
        self._size = (width, height)
        self._loop = loop
        self._files = self._list()
        if not self._files:
            suffixes = ", ".join(sorted(IMAGE_SUFFIXES))
            raise CameraError(f"camera {source.label}: no images ({suffixes}) in the folder")
        self._next = 0

    def _list(self) -> list[Path]:
        if not self._path.is_dir():
            return [self._path] if self._path.is_file() else []
        try:
            found = [
                path
                for path in self._path.iterdir()
                if path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith(".")
            ]
        except OSError:
            return []
        return sorted(found, key=_natural_key)

    def read(self) -> RgbImage | None:
        # Each file at most once per call, so a folder of broken files ends the call.
        for _ in range(len(self._files) + 1):
            if not self._path.exists():
                raise _SourceLost(f"the {self._what} is gone")
            if self._next >= len(self._files):
                if not self._loop:
                    return None
                self._files, self._next = self._list(), 0
                if not self._files:
                    return None
            path = self._files[self._next]
            self._next += 1
            try:
                return _fit(read_image_file(path), *self._size)
            except ImageError as error:
                logger.debug("camera skips an image: %s", error)
        return None

    def release(self) -> None:
        self._files = []


class OpenCvCamera:
    """A camera on OpenCV: a USB device, a video file or a folder of images.

    ``source`` is a USB index (``0`` or ``"0"``), a device path
    (``/dev/video0``), a video file or a folder of images (or a single image).
    ``width``, ``height`` and ``fps`` are asked of a device, which may pick
    the nearest mode it has; frames of files and folders are scaled to
    ``width`` x ``height`` (one of them alone keeps the proportions), and
    their ``fps`` is not applied: each grab reads the next frame.  ``loop``
    plays a file or folder again after its end; without it, grabs return
    None from then on.

    Opening raises ``CameraError`` when the source cannot be used at all.
    Once open, a lost source is retried ``reconnect_initial_s`` later, then at
    doubling intervals up to ``reconnect_max_s``, on later ``grab()`` calls:
    nothing blocks and nothing runs in the background.
    """

    def __init__(
        self,
        source: int | str | Path,
        *,
        width: int | None = None,
        height: int | None = None,
        fps: float | None = None,
        loop: bool = False,
        reconnect_initial_s: float = DEFAULT_RECONNECT_INITIAL_S,
        reconnect_max_s: float = DEFAULT_RECONNECT_MAX_S,
        clock: Clock = time.monotonic,
    ) -> None:
        if not 0 < reconnect_initial_s <= reconnect_max_s:
            raise ValueError("reconnection delays must satisfy 0 < initial <= max")
        self._source = CameraSource.parse(source)
        self._width = width
        self._height = height
        self._fps = fps
        self._loop = loop
        self._initial_delay = reconnect_initial_s
        self._max_delay = reconnect_max_s
        self._clock = clock
        self._delay = reconnect_initial_s
        self._next_attempt = 0.0
        self._problem: str | None = None
        self._closed = False
        self._reader: _Reader | None = self._open()

    @classmethod
    def from_settings(cls, settings: CameraSettings, *, clock: Clock = time.monotonic) -> Self:
        """The camera a configuration describes."""
        return cls(
            settings.source,
            width=settings.width,
            height=settings.height,
            fps=settings.fps,
            loop=settings.loop,
            reconnect_initial_s=settings.reconnect_initial_s,
            reconnect_max_s=settings.reconnect_max_s,
            clock=clock,
        )

    @property
    def source(self) -> CameraSource:
        """What this camera reads from."""
        return self._source

    @property
    def state(self) -> CameraState:
        """``connected`` while the source is open."""
        return CameraState.DISCONNECTED if self._reader is None else CameraState.CONNECTED

    @property
    def problem(self) -> str | None:
        """Why the camera is disconnected (one line), None while connected."""
        return self._problem

    def _open(self) -> _Reader:
        source = self._source
        if source.kind is SourceKind.DEVICE:
            return _DeviceReader(source, self._width, self._height, self._fps)
        if source.kind is SourceKind.VIDEO:
            return _VideoReader(source, self._width, self._height, self._loop)
        return _ImageReader(source, self._width, self._height, self._loop)

    def grab(self) -> Frame | None:
        """The next frame; None while disconnected, at the end of a file, or once closed."""
        if self._closed:
            return None
        reader = self._reader if self._reader is not None else self._reconnect()
        if reader is None:
            return None
        try:
            image = reader.read()
        except Exception as error:  # whatever the cause, the gate keeps running
            self._lose(reader, error)
            return None
        return None if image is None else Frame(image, self._clock())

    def _reconnect(self) -> _Reader | None:
        now = self._clock()
        if now < self._next_attempt:
            return None
        try:
            reader = self._open()
        except Exception as error:  # a failed attempt is only retried later
            self._delay = min(self._delay * 2, self._max_delay)
            self._next_attempt = now + self._delay
            self._problem = _one_line(error)
            return None
        self._reader = reader
        self._delay = self._initial_delay
        self._problem = None
        logger.info("camera %s reconnected", self._source.label)
        return reader

    def _lose(self, reader: _Reader, error: Exception) -> None:
        with contextlib.suppress(Exception):
            reader.release()
        self._reader = None
        self._problem = f"camera {self._source.label}: {_one_line(error)}"
        self._delay = self._initial_delay
        self._next_attempt = self._clock() + self._delay
        logger.warning("%s; retrying in %.1f s", self._problem, self._delay)

    def close(self) -> None:
        """Release the device; grabs return None and no reconnection is tried."""
        self._closed = True
        if self._reader is not None:
            with contextlib.suppress(Exception):
                self._reader.release()
            self._reader = None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"OpenCvCamera({self._source.label!r}, {self.state.value})"


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return text or type(error).__name__
