"""Telling systemd how the service is doing: the ``sd_notify`` protocol, spoken directly.

Under ``Type=notify`` systemd hands the service the path of a Unix datagram
socket in ``$NOTIFY_SOCKET``; the service sends it newline-separated
``KEY=value`` lines.  ``egate run`` uses four of them:

* ``READY=1`` once it serves (systemd holds dependent units and counts the
  start as done only then);
* ``WATCHDOG=1`` from the service loop, at least every quarter of the
  interval systemd asks for in ``$WATCHDOG_USEC``: a loop that hangs stops
  the pings and systemd kills and restarts the service;
* ``STOPPING=1`` when it begins a clean stop, ``RELOADING=1`` around a reload;
* ``STATUS=...``: one line that ``systemctl status`` shows.

The protocol is one ``sendto`` per message, so no library is needed.  Without
``$NOTIFY_SOCKET`` (not started by systemd) every call does nothing.  A
message that cannot be sent is dropped and logged once: telling systemd must
never stop or slow the gate, so sends do not block.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable, Mapping
from types import TracebackType

# Pings per watchdog interval: systemd advises at least two; four leave room
# for a slow round of the loop.
PINGS_PER_INTERVAL = 4

_log = logging.getLogger("egate.notify")


def _address(value: str) -> str | None:
    """The socket address ``$NOTIFY_SOCKET`` names: a path, or ``@name`` in the abstract space."""
    if value.startswith("@") and len(value) > 1:
        return "\0" + value[1:]
    if value.startswith("/"):
        return value
    return None  # sd_notify ignores anything else too


def _one_line(text: str) -> str:
    """``text`` as a single STATUS line: a newline would start another field."""
    return " ".join(text.split())


class Notifier:
    """Sends notifications to the service manager named by ``$NOTIFY_SOCKET``, if any."""

    def __init__(
        self,
        environ: Mapping[str, str] | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        pid: int | None = None,
    ) -> None:
        env = os.environ if environ is None else environ
        self._clock = clock
        self._address = _address(env.get("NOTIFY_SOCKET", ""))
        self._socket: socket.socket | None = None
        self._failed = False
        self._status: str | None = None
        self._last_ping: float | None = None
        self.watchdog_interval_s = _watchdog_interval(env, os.getpid() if pid is None else pid)
        if self._address is not None:
            self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)

    @property
    def enabled(self) -> bool:
        """Whether a service manager listens (``$NOTIFY_SOCKET`` was set)."""
        return self._socket is not None

    def notify(self, **fields: str) -> bool:
        """Send ``KEY=value`` lines in one message; whether it went (False without a manager)."""
        sock, address = self._socket, self._address
        if sock is None or address is None:
            return False
        message = "\n".join(f"{key}={value}" for key, value in fields.items()).encode("utf-8")
        try:
            sock.sendto(message, socket.MSG_DONTWAIT, address)
        except OSError as error:
            if not self._failed:
                self._failed = True
                _log.warning(
                    "cannot notify the service manager at $NOTIFY_SOCKET: %s",
                    error.strerror or error,
                )
            return False
        return True

    def ready(self, status: str) -> None:
        """The service is up and serving."""
        self._status = _one_line(status)
        self.notify(READY="1", STATUS=self._status)

    def reloading(self, status: str) -> None:
        """A reload has begun; ``ready`` says when it is over."""
        self._status = _one_line(status)
        monotonic_usec = str(time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000)
        self.notify(RELOADING="1", MONOTONIC_USEC=monotonic_usec, STATUS=self._status)

    def stopping(self, status: str) -> None:
        """The service has begun to stop."""
        self._status = _one_line(status)
        self.notify(STOPPING="1", STATUS=self._status)

    def status(self, text: str) -> None:
        """One line for ``systemctl status``; sent only when it changes."""
        line = _one_line(text)
        if line != self._status:
            self._status = line
            self.notify(STATUS=line)

    def watchdog(self) -> None:
        """The loop is alive: ping the watchdog if it is on and a ping is due."""
        interval = self.watchdog_interval_s
        if interval is None or self._socket is None:
            return
        now = self._clock()
        if self._last_ping is not None and now - self._last_ping < interval / PINGS_PER_INTERVAL:
            return
        if self.notify(WATCHDOG="1"):
            self._last_ping = now

    def close(self) -> None:
        """Close the socket; later calls do nothing."""
        sock, self._socket = self._socket, None
        if sock is not None:
            sock.close()

    def __enter__(self) -> Notifier:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def _watchdog_interval(environ: Mapping[str, str], pid: int) -> float | None:
    """Seconds between the watchdog's deadlines, if systemd set one for this process."""
    watchdog_pid = environ.get("WATCHDOG_PID", "")
    if watchdog_pid and watchdog_pid != str(pid):
        return None  # meant for another process (our parent, say)
    try:
        usec = int(environ.get("WATCHDOG_USEC", ""))
    except ValueError:
        return None
    return usec / 1_000_000 if usec > 0 else None
