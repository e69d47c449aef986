"""A serial link to one device: pyserial underneath, state and reconnection on top.

``SerialLink`` opens a port named by a device path (``/dev/ttyUSB0``, a
pseudo-terminal) or a pyserial URL (``loop://``, ``socket://host:port``),
reads what has arrived, writes, and reports its state: ``connected``,
``disconnected`` or ``connecting``. When the device vanishes (unplugged, USB
reset, the far end of a pseudo-terminal closed), ``read`` and ``write`` raise
``LinkDown`` and the link closes itself; the owner then reconnects, either
blocking (``reconnect``, for a thread of its own) or one attempt at a time on
its own schedule (``try_reconnect``, for a poll loop). Both back off
exponentially between ``reconnect_initial_s`` and ``reconnect_max_s``.

The link has no threads and reads no clock but the one it is given.
"""

from __future__ import annotations

import contextlib
import errno
import os
import time
from collections.abc import Callable
from enum import StrEnum
from typing import Literal

import serial
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# The rates a POSIX serial driver knows (pyserial's list).
STANDARD_BAUDRATES: tuple[int, ...] = tuple(serial.SerialBase.BAUDRATES)
_COMMON_BAUDRATES = "9600, 19200, 38400, 57600 or 115200"


class SerialSettings(BaseModel):
    """Where a serial device is and how to talk to it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    port: str = Field(
        description=(
            "A device path (/dev/ttyUSB0, /dev/serial/by-id/...) or a pyserial URL "
            "(loop://, socket://host:port, rfc2217://host:port)."
        )
    )
    baudrate: int = Field(default=9600, description="Bits per second, a standard rate.")
    bytesize: Literal[5, 6, 7, 8] = 8
    parity: Literal["N", "E", "O", "M", "S"] = Field(
        default="N", description="None, even, odd, mark or space."
    )
    stopbits: float = Field(default=1, description="1, 1.5 or 2.")
    read_timeout_s: float = Field(
        default=0.05,
        ge=0,
        le=10,
        description="How long a read waits for a first byte; 0 never waits.",
    )
    write_timeout_s: float = Field(
        default=1.0, gt=0, le=60, description="A write that takes longer means the device is gone."
    )
    reconnect_initial_s: float = Field(
        default=0.2, gt=0, le=60, description="Wait after the first failed reconnection attempt."
    )
    reconnect_max_s: float = Field(
        default=5.0, gt=0, le=3600, description="Longest wait between reconnection attempts."
    )

    @field_validator("port")
    @classmethod
    def _a_port_name(cls, port: str) -> str:
        if not port or port != port.strip() or not port.isprintable():
            raise ValueError("expected a device path or a pyserial URL")
        return port

    @field_validator("baudrate")
    @classmethod
    def _a_standard_rate(cls, baudrate: int) -> int:
        if baudrate not in STANDARD_BAUDRATES:
            raise ValueError(f"not a standard baud rate (expected e.g. {_COMMON_BAUDRATES})")
        return baudrate

    @field_validator("stopbits")
    @classmethod
    def _a_stop_bit_count(cls, stopbits: float) -> float:
        if stopbits not in (1, 1.5, 2):
            raise ValueError("expected 1, 1.5 or 2")
        return stopbits

    @model_validator(mode="after")
    def _backoff_grows(self) -> SerialSettings:
        if self.reconnect_max_s < self.reconnect_initial_s:
            raise ValueError("reconnect_max_s must be at least reconnect_initial_s")
        return self


class LinkState(StrEnum):
    """Whether a link can carry bytes now."""

    CONNECTED = "connected"
    DISCONNECTED = "disconnected"
    # Reconnection attempts are under way.
    CONNECTING = "connecting"


class LinkError(Exception):
    """A port that cannot be opened; the message is one line naming the port and the cause."""


class LinkDown(Exception):
    """The device went away during a read or write; the link is closed."""


def _never() -> bool:
    return False


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _open_failure(error: BaseException) -> str:
    """Why ``open`` failed, in a few words an operator can act on."""
    code = getattr(error, "errno", None)
    text = str(error)
    if code == errno.ENOENT:
        return "no such device"
    if code in (errno.EACCES, errno.EPERM):
        return "permission denied (is the user in the port's group, often dialout?)"
    if code in (errno.EBUSY, errno.EAGAIN) or "exclusively lock" in text:
        return "port is busy (another program has it open)"
    if code == errno.ENOTTY or "Inappropriate ioctl" in text:
        return "not a serial port"
    if code == errno.ENXIO:
        return "device not configured (unplugged?)"
    if isinstance(error, ValueError):
        return _one_line(text)
    strerror = getattr(error, "strerror", None)
    return _one_line(strerror or text) or type(error).__name__


class SerialLink:
    """One serial port that knows its state and how to come back after the device vanishes.

    ``sleep`` and ``clock`` drive the blocking ``reconnect`` (pass an event's
    ``wait`` as ``sleep`` and its ``is_set`` as ``should_stop`` to make it
    interruptible); ``on_state`` hears every change of state.
    """

    def __init__(
        self,
        settings: SerialSettings,
        *,
        sleep: Callable[[float], object] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        should_stop: Callable[[], bool] = _never,
        on_state: Callable[[LinkState], None] | None = None,
    ) -> None:
        self._settings = settings
        self._sleep = sleep
        self._clock = clock
        self._should_stop = should_stop
        self._on_state = on_state
        # What serial_for_url returns: a native port or a URL handler's class.
        self._port: serial.Serial | None = None
        self._state = LinkState.DISCONNECTED
        self._delay = settings.reconnect_initial_s
        self._next_attempt: float | None = None
        self.last_error: str | None = None

    def __enter__(self) -> SerialLink:
        self.open()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def settings(self) -> SerialSettings:
        return self._settings

    @property
    def state(self) -> LinkState:
        return self._state

    @property
    def is_open(self) -> bool:
        return self._port is not None

    @property
    def retry_at(self) -> float | None:
        """When ``try_reconnect`` will next attempt to open (None: at once)."""
        return self._next_attempt

    def _set_state(self, state: LinkState) -> None:
        if state is not self._state:
            self._state = state
            if self._on_state is not None:
                self._on_state(state)

    def open(self) -> None:
        """Open the port (a no-op when open); ``LinkError`` when it cannot be."""
        if self._port is not None:
            return
        name = self._settings.port
        try:
            port = serial.serial_for_url(name, do_not_open=True)
            port.baudrate = self._settings.baudrate
            port.bytesize = self._settings.bytesize
            port.parity = self._settings.parity
            port.stopbits = self._settings.stopbits
            port.timeout = self._settings.read_timeout_s
            port.write_timeout = self._settings.write_timeout_s
            if os.name == "posix" and isinstance(port, serial.Serial):
                # An advisory lock: a second egate (or anything that locks
                # the same way) gets "busy" instead of stealing half the bytes.
                port.exclusive = True
            port.open()
        except (serial.SerialException, OSError, ValueError) as error:
            self.last_error = f"serial port {name}: cannot open: {_open_failure(error)}"
            raise LinkError(self.last_error) from None
        self._port = port
        self._delay = self._settings.reconnect_initial_s
        self._next_attempt = None
        self.last_error = None
        self._set_state(LinkState.CONNECTED)

    def close(self) -> None:
        """Close the port (a no-op when closed)."""
        port, self._port = self._port, None
        if port is not None:
            # A vanished device may not close cleanly; it is closed all the same.
            with contextlib.suppress(serial.SerialException, OSError):
                port.close()
        self._next_attempt = None
        self._delay = self._settings.reconnect_initial_s
        self._set_state(LinkState.DISCONNECTED)

    def _lost(self, error: BaseException) -> LinkDown:
        cause = _one_line(str(error)) or type(error).__name__
        self.last_error = f"serial port {self._settings.port}: lost: {cause}"
        self.close()
        return LinkDown(self.last_error)

    def _require_port(self) -> serial.Serial:
        if self._port is None:
            raise LinkDown(f"serial port {self._settings.port}: not open")
        return self._port

    def read(self, max_bytes: int = 4096) -> bytes:
        """What has arrived, at most ``max_bytes``; waits up to ``read_timeout_s`` for a
        first byte and returns b"" when none came. ``LinkDown`` when the device is gone."""
        port = self._require_port()
        try:
            waiting = port.in_waiting
            if waiting:
                return bytes(port.read(min(waiting, max_bytes)))
            # Block for the first byte only; then take whatever came with it.
            data = bytes(port.read(1))
            if data and max_bytes > 1:
                more = port.in_waiting
                if more:
                    data += port.read(min(more, max_bytes - 1))
            return data
        except (serial.SerialException, OSError) as error:
            raise self._lost(error) from None

    def write(self, data: bytes) -> None:
        """Send ``data`` whole; ``LinkDown`` when the device is gone or stops taking bytes."""
        port = self._require_port()
        try:
            # No flush(): tcdrain() has no timeout, and a pseudo-terminal nobody
            # reads would hang it; write() already hands every byte to the kernel.
            port.write(data)
        except (serial.SerialException, OSError) as error:
            raise self._lost(error) from None

    def try_reconnect(self, now: float | None = None) -> bool:
        """One reconnection attempt if one is due at ``now``; whether the link is open.

        Never sleeps: after a failed attempt the next is due ``reconnect_initial_s``
        later, then twice as long each time up to ``reconnect_max_s``.
        """
        if self._port is not None:
            return True
        now = self._clock() if now is None else now
        if self._next_attempt is not None and now < self._next_attempt:
            return False
        self._set_state(LinkState.CONNECTING)
        delay = self._delay
        try:
            self.open()
        except LinkError:
            self._next_attempt = now + delay
            self._delay = min(delay * 2, self._settings.reconnect_max_s)
            return False
        return True

    def reconnect(self) -> bool:
        """Attempt to open until it works (True) or ``should_stop()`` says to give up (False)."""
        while not self._should_stop():
            if self.try_reconnect(self._clock()):
                return True
            due = self._next_attempt
            wait = 0.0 if due is None else due - self._clock()
            if wait > 0 and not self._should_stop():
                self._sleep(wait)
        if self._port is None:
            self._set_state(LinkState.DISCONNECTED)
        return self._port is not None
