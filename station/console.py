"""The officer console: a local socket through which officers order the gate.

(At the ~400-line guideline: one socket server, its selector loop, per-order
deadlines and one-line answers; orders reach the service through
station.orders.)

An officer's desk (or ``egate officer ACTION --console PATH``) connects to a
Unix socket and sends one action per line: ``open_exit``, ``close``,
``refer`` or ``reset``.  Only processes that may open the socket file (mode
0660: the service's user and group) can give orders; nothing is listened
for on the network.

Each line is answered on one line, and the answer is the truth:

* ``ok ACTION`` once the service has carried the order out;
* ``error refused: WHY`` when the gate would not do it (``open_exit`` with
  nobody inside, ``refer`` with no traveller);
* ``error not taken: ...`` when the service did not take the order before the
  deadline; it is then dropped, never carried out later (``station.orders``);
* ``error ...`` for a line that is not an action, too long, or too slow.

No client can hold the others up.  One thread serves every connection
through a selector: a connection costs a buffer of at most ``MAX_LINE + 1``
bytes and no thread of its own, and nothing it does blocks (neither a
trickle of bytes nor a client that never reads).  Each order has a whole
deadline, counted from the connection (or the previous answer) to its
answer, which no trickle of bytes extends.  At most ``MAX_CONNECTIONS`` are
open at once; one more is answered ``error busy`` and closed.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import socket
import stat
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from egate.gate.events import OfficerAction
from station.orders import OfficerOrder, OrderState

# Bytes of one line, its newline not counted.  The console never holds more
# than one byte over this for a connection before it finds the newline.
MAX_LINE = 64
# From the connection (or the previous answer) to the answer of an order.
ORDER_DEADLINE_S = 3.0
# Connections served at once; officers' desks are few.
MAX_CONNECTIONS = 8
SOCKET_MODE = 0o660
# The client waits longer than the console's deadline, so that it hears the
# console's own "not taken" rather than guessing.
CLIENT_TIMEOUT_S = ORDER_DEADLINE_S + 2.0
# The longest answer line a client reads.
MAX_ANSWER = 512

Clock = Callable[[], float]


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


@dataclass(slots=True, eq=False)
class _Connection:
    """One client: what it sent that is not handled yet, and what it is owed."""

    sock: socket.socket
    deadline: float
    inbox: bytearray = field(default_factory=bytearray)
    outbox: bytearray = field(default_factory=bytearray)
    order: OfficerOrder | None = None
    eof: bool = False  # the client sends nothing more
    closing: bool = False  # closed once the outbox is sent (or at the deadline)
    closed: bool = False
    events: int = 0  # what the selector watches for


class OfficerConsole:
    """Listens on ``path`` and hands each order to ``order`` (from the console's thread).

    ``order`` must return at once (the service queues the order, and claims
    and settles it at its next step).
    """

    def __init__(
        self,
        path: Path,
        order: Callable[[OfficerOrder], None],
        *,
        deadline_s: float = ORDER_DEADLINE_S,
        max_connections: int = MAX_CONNECTIONS,
        clock: Clock = time.monotonic,
    ) -> None:
        self.path = path
        self._order = order
        self._deadline_s = deadline_s
        self._max_connections = max_connections
        self._clock = clock
        # The most bytes of an unfinished line held for one connection.
        self.buffered_peak = 0
        self._connections: list[_Connection] = []
        self._stop = threading.Event()
        if path.exists() or path.is_symlink():
            if not stat.S_ISSOCK(path.lstat().st_mode):
                raise ConsoleError(f"officer console {path}: exists and is not a socket")
            path.unlink()  # left by a service that was killed
        self._server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self._server.bind(str(path))
            os.chmod(path, SOCKET_MODE)
            self._server.listen(max_connections)
        except OSError as error:
            self._server.close()
            raise ConsoleError(f"officer console {path}: {error.strerror or error}") from None
        self._server.setblocking(False)
        # The service settles orders from its own thread; a byte here wakes the selector.
        self._wake_in, self._wake_out = socket.socketpair()
        self._wake_in.setblocking(False)
        self._wake_out.setblocking(False)
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._server, selectors.EVENT_READ)
        self._selector.register(self._wake_in, selectors.EVENT_READ)
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

    def close(self) -> None:
        """Stop listening, answer what is pending ``not taken``, remove the socket file."""
        self._stop.set()
        self._wake()
        self._thread.join(timeout=5.0)
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    # -- the loop --------------------------------------------------------------

    def _wake(self) -> None:
        # A full wake-up buffer already holds a wake-up.
        with contextlib.suppress(OSError):
            self._wake_out.send(b"\0")

    def _serve(self) -> None:
        try:
            while not self._stop.is_set():
                for key, events in self._selector.select(self._timeout()):
                    if key.fileobj is self._server:
                        self._accept()
                    elif key.fileobj is self._wake_in:
                        with contextlib.suppress(OSError):
                            self._wake_in.recv(4096)
                    else:
                        connection: _Connection = key.data
                        if events & selectors.EVENT_READ:
                            self._receive(connection)
                        if events & selectors.EVENT_WRITE:
                            self._send(connection)
                now = self._clock()
                for connection in list(self._connections):
                    self._advance(connection, now)
        finally:
            self._shut_down()

    def _timeout(self) -> float | None:
        """Until the next deadline; None (wait for a wake-up) when nothing has one."""
        deadlines = [
            connection.deadline
            for connection in self._connections
            # A claimed order is settled by the service, which wakes us up.
            if connection.order is None or connection.order.state is not OrderState.CLAIMED
        ]
        if not deadlines:
            return None
        return max(0.0, min(deadlines) - self._clock())

    def _accept(self) -> None:
        try:
            sock, _ = self._server.accept()
        except OSError:
            return  # the client left before we got to it
        sock.setblocking(False)
        if len(self._connections) >= self._max_connections:
            with contextlib.suppress(OSError):
                sock.send(f"error busy: {self._max_connections} connections open\n".encode())
            sock.close()
            return
        connection = _Connection(sock, self._clock() + self._deadline_s)
        self._connections.append(connection)
        self._watch(connection)

    def _receive(self, connection: _Connection) -> None:
        # Never more than one byte past the longest line: a flood costs nothing.
        room = MAX_LINE + 1 - len(connection.inbox)
        try:
            data = connection.sock.recv(room)
        except BlockingIOError:
            return
        except OSError:
            self._drop(connection)
            return
        if not data:
            connection.eof = True
        connection.inbox += data
        self.buffered_peak = max(self.buffered_peak, len(connection.inbox))

    def _send(self, connection: _Connection) -> None:
        try:
            sent = connection.sock.send(connection.outbox)
        except BlockingIOError:
            return
        except OSError:
            self._drop(connection)
            return
        del connection.outbox[:sent]

    def _advance(self, connection: _Connection, now: float) -> None:
        """Answer what can be answered, enforce the deadline, and watch for what comes next."""
        order = connection.order
        if order is not None:
            if order.settled:
                connection.order = None
                self._answer(connection, _answer(order, self._deadline_s), now)
            elif now >= connection.deadline and order.abandon():
                connection.order = None
                self._answer(connection, _answer(order, self._deadline_s), now, last=True)
        self._next_lines(connection, now)
        if connection.closed:
            return
        if now >= connection.deadline and connection.order is None:
            if connection.closing:
                self._drop(connection)  # it would not take its last answer
                return
            text = f"error deadline: no complete line within {self._deadline_s:g} s"
            self._answer(connection, text, now, last=True)
        if connection.closing and not connection.outbox:
            self._drop(connection)
            return
        self._watch(connection)

    def _next_lines(self, connection: _Connection, now: float) -> None:
        """Handle the complete lines received, one order at a time."""
        # An answer the client has not taken yet holds the next line back, so
        # a client that never reads costs no more than one answer.
        while connection.order is None and not connection.outbox:
            if connection.closing or connection.closed:
                return
            inbox = connection.inbox
            end = inbox.find(b"\n")
            if end < 0:
                if len(inbox) > MAX_LINE:
                    self._answer(connection, "error line too long", now, last=True)
                elif connection.eof:
                    if inbox:  # a last line without its newline still counts
                        self._take(connection, bytes(inbox), now)
                        inbox.clear()
                    else:
                        connection.closing = True
                return
            line = bytes(inbox[:end])
            del inbox[: end + 1]
            self._take(connection, line, now)

    def _take(self, connection: _Connection, line: bytes, now: float) -> None:
        try:
            action = parse_action(line.decode("ascii", errors="replace"))
        except ValueError as error:
            self._answer(connection, f"error {error}", now)
            return
        order = OfficerOrder(action, on_settled=self._wake)
        try:
            self._order(order)
        except Exception as error:
            # The console outlives a broken hand-over; the order was never queued.
            order.abandon()
            self._answer(connection, f"error failed: the service did not queue it ({error})", now)
            return
        connection.order = order

    def _answer(
        self, connection: _Connection, text: str, now: float, *, last: bool = False
    ) -> None:
        """Send ``text`` as one line; the next order's deadline starts now."""
        line = " ".join(text.split())
        connection.outbox += f"{line}\n".encode("utf-8", errors="replace")
        connection.deadline = now + self._deadline_s
        if last:
            connection.closing = True
        self._send(connection)

    def _watch(self, connection: _Connection) -> None:
        events = 0
        if not (connection.closing or connection.eof) and len(connection.inbox) <= MAX_LINE:
            events |= selectors.EVENT_READ
        if connection.outbox:
            events |= selectors.EVENT_WRITE
        if events == connection.events:
            return
        if connection.events == 0:
            self._selector.register(connection.sock, events, connection)
        elif events == 0:
            self._selector.unregister(connection.sock)
        else:
            self._selector.modify(connection.sock, events, connection)
        connection.events = events

    def _drop(self, connection: _Connection) -> None:
        if connection.closed:
            return
        connection.closed = True
        # A client that went away cannot be told what became of its order.
        if connection.order is not None:
            connection.order.abandon()
        if connection.events:
            self._selector.unregister(connection.sock)
            connection.events = 0
        connection.sock.close()
        self._connections.remove(connection)

    def _shut_down(self) -> None:
        for connection in list(self._connections):
            order = connection.order
            if order is not None and order.abandon():
                connection.order = None
                connection.outbox += b"error not taken: the console is closing\n"
            if connection.outbox:
                self._send(connection)
            self._drop(connection)
        self._selector.close()
        self._server.close()
        self._wake_in.close()
        self._wake_out.close()


def _answer(order: OfficerOrder, deadline_s: float) -> str:
    """The answer line for a settled ``order``."""
    match order.state:
        case OrderState.TAKEN:
            return f"ok {order.action.value}"
        case OrderState.REFUSED:
            return f"error refused: {order.reason}"
        case OrderState.FAILED:
            return f"error failed: {order.reason}"
        case _:
            return f"error not taken: the gate did not take the order within {deadline_s:g} s"


def send_order(path: Path, action: OfficerAction, timeout_s: float = CLIENT_TIMEOUT_S) -> str:
    """Send one action to the console at ``path``; its answer line.

    ``ConsoleError`` when no console answers there within ``timeout_s`` (a
    whole deadline) or the answer is not the console's.
    """
    give_up = time.monotonic() + timeout_s
    answer = bytearray()
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
        try:
            client.settimeout(timeout_s)
            client.connect(str(path))
            client.sendall(f"{action.value}\n".encode())
            while b"\n" not in answer and len(answer) <= MAX_ANSWER:
                left = give_up - time.monotonic()
                if left <= 0:
                    raise TimeoutError
                client.settimeout(left)
                chunk = client.recv(MAX_ANSWER + 1 - len(answer))
                if not chunk:
                    break
                answer += chunk
        except TimeoutError:
            raise ConsoleError(
                f"officer console {path}: no answer within {timeout_s:g} s"
            ) from None
        except OSError as error:
            raise ConsoleError(f"officer console {path}: {error.strerror or error}") from None
    line = answer.split(b"\n", 1)[0].decode("ascii", errors="replace").strip()
    if not line:
        raise ConsoleError(f"officer console {path}: no answer")
    if not line.startswith(("ok ", "error ")):
        raise ConsoleError(f"officer console {path}: not a console's answer: {line[:60]!r}")
    return line
