"""Where an ``OpenCvCamera``'s pixels come from: a device, a video file or a folder of images.

``CameraSource.parse`` tells which a configured source is; ``open_reader``
opens it as a ``SourceReader``, which hands out 8-bit RGB pixels one
``read()`` at a time and raises when the source is lost (the camera then
reconnects, ``hardware.opencvcamera``).  A device is asked for the size and
rate configured; files and folders are scaled to it.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from egate.biometrics.image import IMAGE_SUFFIXES, ImageError, RgbImage, read_image_file
from hardware.camera import CameraError

logger = logging.getLogger(__name__)


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


class SourceReader(Protocol):
    """An open source: the next pixels (None at the end of a file), or an exception when lost."""

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


def open_reader(
    source: CameraSource, width: int | None, height: int | None, fps: float | None, loop: bool
) -> SourceReader:
    """``source`` opened; ``CameraError`` when it cannot be used at all."""
    if source.kind is SourceKind.DEVICE:
        return _DeviceReader(source, width, height, fps)
    if source.kind is SourceKind.VIDEO:
        return _VideoReader(source, width, height, loop)
    return _ImageReader(source, width, height, loop)
