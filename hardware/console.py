"""The officer console: a local socket through which officers order the gate.

An officer's desk (or `egate officer ACTION --console PATH`) connects to a
Unix socket and sends one action per line: ``open_exit``, ``close``,
``refer`` or ``reset``.  The console answers ``ok ACTION`` once the order is
queued for the service, or ``error ...`` on one line.  Only processes that
may open the socket file (mode 0660: the service's user and group) can give
orders; nothing is listened for on the network.
"""

from __future__ import annotations

import contextlib
import os
import socket
import stat
import threading
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from egate.gate.events import OfficerAction

MAX_LINE = 64
SOCKET_MODE = 0o660


class ConsoleError(OSError):
    """The console socket cannot be created or reached; the message is one line."""


def parse_action(line: str) -> OfficerAction:
    """The officer action named on ``line``; ``ValueError`` naming the choices otherwise."""
    word = line.strip().lower()
    try:
        return OfficerAction(word)
    except ValueError:
        choices = ", ".join(action.value for action in OfficerAction)
        raise ValueError(f"unknown action {word!r} (expected one of: {choices})") from None


class OfficerConsole:
    """Listens on ``path`` and hands each action to ``order`` (from its own thread)."""

    def __init__(self, path: Path, order: Callable[[OfficerAction], None]) -> None:
        self.path = path
        self._order = order
        self._stop = threading.Event()
        if path.exists() or path.is_symlink():
            if not stat.S_ISSOCK(path.lstat().st_mode):
                raise ConsoleError(f"officer console {path}: exists and is not a socket")
            path.unlink()  # left by a service that was killed
        self._server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self._server.bind(str(path))
            os.chmod(path, SOCKET_MODE)
            self._server.listen(4)
        except OSError as error:
            self._server.close()
            raise ConsoleError(f"officer console {path}: {error.strerror or error}") from None
        self._server.settimeout(0.2)
        self._thread = threading.Thread(target=self._serve, name="egate-console", daemon=True)
        self._thread.start()

    def __enter__(self) -> OfficerConsole:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self._server.accept()
            except TimeoutError:
                continue
            except OSError:
                return  # the socket was closed
            with connection:
                self._answer(connection)

    def _answer(self, connection: socket.socket) -> None:
        connection.settimeout(2.0)
        with contextlib.suppress(OSError), connection.makefile("rwb") as stream:
            for raw in stream:
                if len(raw) > MAX_LINE:
                    stream.write(b"error line too long\n")
                    stream.flush()
                    return
                try:
                    action = parse_action(raw.decode("ascii", errors="replace"))
                except ValueError as error:
                    stream.write(f"error {error}\n".encode())
                else:
                    self._order(action)
                    stream.write(f"ok {action.value}\n".encode())
                stream.flush()

    def close(self) -> None:
        """Stop listening and remove the socket file."""
        self._stop.set()
        self._server.close()
        self._thread.join(timeout=2.0)
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


def send_order(path: Path, action: OfficerAction, timeout_s: float = 5.0) -> str:
    """Send one action to the console at ``path``; its answer line (``ConsoleError`` if none)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
        client.settimeout(timeout_s)
        try:
            client.connect(str(path))
            client.sendall(f"{action.value}\n".encode())
            answer = client.makefile("rb").readline()
        except OSError as error:
            raise ConsoleError(f"officer console {path}: {error.strerror or error}") from None
    if not answer:
        raise ConsoleError(f"officer console {path}: no answer")
    return answer.decode("ascii", errors="replace").strip()
