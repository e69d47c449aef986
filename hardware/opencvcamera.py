"""The real camera driver, on OpenCV's ``VideoCapture``.

The same class serves a USB camera (index ``0`` or ``/dev/video0``), a video
file and a folder of images (``hardware.camerasource``), so mock mode and
training replays go through the driver that runs on the gate.  A camera that
disappears (USB reset, cable pulled, file deleted) makes ``grab()`` return
``None`` and the state ``disconnected``; later ``grab()`` calls reopen it
with backoff and the frames resume by themselves.  ``grab()`` never raises:
a camera must not take the gate down.
"""

from __future__ import annotations

import contextlib
import logging
import time
from pathlib import Path
from types import TracebackType
from typing import Self

from hardware.camera import (
    DEFAULT_RECONNECT_INITIAL_S,
    DEFAULT_RECONNECT_MAX_S,
    CameraSettings,
    CameraState,
    Clock,
    Frame,
)
from hardware.camerasource import CameraSource, SourceReader, open_reader

logger = logging.getLogger(__name__)


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
        self._reader: SourceReader | None = self._open()

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

    def _open(self) -> SourceReader:
        return open_reader(self._source, self._width, self._height, self._fps, self._loop)

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

    def _reconnect(self) -> SourceReader | None:
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

    def _lose(self, reader: SourceReader, error: Exception) -> None:
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
