"""Serving the console: a socket bound up front, and uvicorn on a thread of its own.

The socket is bound before anything slow starts, so a port in use is one
line the command line shows (``ConsoleAddressError``), not a traceback from
inside uvicorn.  uvicorn then serves the ``ConsoleServer`` on that socket,
on a thread of its own (it installs no signal handlers there: the command
line owns Ctrl-C), with no access log, since URLs carry tokens and photos are
personal data, even made-up ones.
"""

from __future__ import annotations

import socket
import threading

import uvicorn

from station.classroom import protocol
from station.classroom.server import ConsoleServer, ConsoleUrls

# Frames above this are closed by the WebSocket layer itself; between
# protocol.MAX_MESSAGE_BYTES and this they get an error reply.
WS_MAX_FRAME = 16 * protocol.MAX_MESSAGE_BYTES
# How long open connections get to close when the console stops.
GRACEFUL_S = 2


class ConsoleAddressError(OSError):
    """The console cannot listen where it was asked to; the message is one line."""


def listen(host: str, port: int) -> socket.socket:
    """A socket listening on ``host``:``port`` (0: any free port); ``ConsoleAddressError``."""
    where = f"{host}:{port}"
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except (OSError, UnicodeError) as error:
        raise ConsoleAddressError(f"cannot listen on {where}: {_reason(error)}") from None
    sock = socket.socket(family, kind, proto)
    try:
        # As uvicorn does: a restart reuses the port at once (a live listener still refuses).
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError as error:
        sock.close()
        raise ConsoleAddressError(f"cannot listen on {where}: {_reason(error)}") from None
    sock.set_inheritable(True)
    return sock


def _reason(error: BaseException) -> str:
    return (error.strerror if isinstance(error, OSError) else None) or str(error) or "unknown"


class ConsoleRunner:
    """Serves a ``ConsoleServer`` with uvicorn on a thread of its own, on a bound socket."""

    def __init__(self, server: ConsoleServer, sock: socket.socket) -> None:
        self.server = server
        self._socket = sock
        config = uvicorn.Config(
            server.app,
            log_level="warning",
            access_log=False,  # URLs carry tokens
            lifespan="on",
            ws_max_size=WS_MAX_FRAME,
            timeout_graceful_shutdown=GRACEFUL_S,
        )
        self._uvicorn = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._uvicorn.run,
            kwargs={"sockets": [sock]},
            name="egate-console",
            daemon=True,
        )

    @property
    def host(self) -> str:
        """The address the console listens on."""
        return str(self._socket.getsockname()[0])

    @property
    def port(self) -> int:
        """The port the console listens on (the real one when 0 was asked for)."""
        return int(self._socket.getsockname()[1])

    def urls(self, host: str | None = None) -> ConsoleUrls:
        """The console's URLs, naming ``host`` (default: the address listened on)."""
        return ConsoleUrls.of(host or self.host, self.port, self.server.tokens)

    def start(self, timeout_s: float = 10.0) -> None:
        """Start serving; RuntimeError when uvicorn did not come up within ``timeout_s``."""
        self._thread.start()
        waited = 0.0
        while not self._uvicorn.started:
            if not self._thread.is_alive() or waited >= timeout_s:
                raise RuntimeError("the console's web server did not start")
            self._thread.join(0.02)
            waited += 0.02

    def stop(self, timeout_s: float = 5.0) -> None:
        """Close every connection and stop serving."""
        self._uvicorn.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout_s)
        if self._thread.is_alive():
            self._uvicorn.force_exit = True
            self._thread.join(timeout_s)
        self._socket.close()


__all__ = ["WS_MAX_FRAME", "ConsoleAddressError", "ConsoleRunner", "listen"]
