"""The emulated line-protocol board: a device's behaviour, run on a pseudo-terminal.

Two layers.  A *board* (:class:`Board`) is a device's behaviour and nothing
else: it answers commands and reports events, told the time by its caller,
and de-duplicates retransmissions as docs/door-protocol.md requires.  A
:class:`LineDeviceEmulator` runs a board in a thread on a
:class:`~hardware.emulators.pty.PseudoTerminal` (or any file descriptor), so
the driver under test opens a real tty; it also injects the faults of a real
serial line: garbage bytes, lines written in pieces, a slow device, dropped
or delayed replies, silence, a power cycle.  The door board and the
occupancy sensor (``door.py``, ``occupancy.py`` here) are boards.
"""

from __future__ import annotations

import contextlib
import errno
import heapq
import itertools
import os
import select
import threading
import time
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, Self

from hardware.doorprotocol import (
    Command,
    ErrorCode,
    ErrorReply,
    Event,
    Garbled,
    Message,
    MessageReader,
    Reply,
    encode,
)

Clock = Callable[[], float]
Answer = Reply | ErrorReply


class Wire(Protocol):
    """The device's end of a line, like :class:`~hardware.emulators.pty.PseudoTerminal`.

    ``read`` and ``write`` raise OSError while the line is unplugged.
    """

    def read(self, max_bytes: int = ..., timeout_s: float = ...) -> bytes: ...

    def write(self, data: bytes, timeout_s: float = ...) -> None: ...

    def peer_open(self) -> bool: ...


class DescriptorWire:
    """A Wire over any open file descriptor (a socket, a pipe, a master tty)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def read(self, max_bytes: int = 4096, timeout_s: float = 0.0) -> bytes:
        """What has arrived within ``timeout_s``, else b""."""
        readable, _, _ = select.select([self.fd], [], [], timeout_s)
        return os.read(self.fd, max_bytes) if readable else b""

    def write(self, data: bytes, timeout_s: float = 1.0) -> None:
        """Write all of ``data``; OSError when it cannot go within ``timeout_s``."""
        view = memoryview(data)
        while view:
            _, writable, _ = select.select([], [self.fd], [], timeout_s)
            if not writable:
                raise OSError(errno.ETIMEDOUT, "nobody reads the line")
            view = view[os.write(self.fd, view) :]

    def peer_open(self) -> bool:
        """A plain descriptor cannot tell; assume someone listens."""
        return True


# --- boards -----------------------------------------------------------------


class Board(ABC):
    """A device of the door protocol: answers commands and reports events, no I/O.

    Every method is told the time; a board never reads a clock.  The base
    class de-duplicates retransmissions of the commands in ``STATE_CHANGING``
    (docs/door-protocol.md, "Duplicates"), remembers when it last heard a
    valid command, for a watchdog, and answers ``HELLO`` with its ``KIND``
    and ``identity`` (a board without an identity does not know HELLO, as
    boards made before it was defined).
    """

    STATE_CHANGING: frozenset[str] = frozenset()
    KIND: str = "DEVICE"

    def __init__(self, now: float, dedupe_window_s: float, identity: str | None = None) -> None:
        self.now = now
        self.dedupe_window_s = dedupe_window_s
        self.identity = identity
        self.last_heard = now
        self.executed: deque[Command] = deque(maxlen=1000)
        self._last: tuple[Command, Answer, float] | None = None

    def answer(self, command: Command, now: float) -> tuple[Answer, list[Event]]:
        """The reply to ``command``, and the events that happened up to and by it."""
        events = self.advance(now)
        self.last_heard = now
        if command.verb in self.STATE_CHANGING and self._last is not None:
            previous, reply, at = self._last
            if previous == command and now - at <= self.dedupe_window_s:
                return self.repeat(reply), events
        self.executed.append(command)
        reply = self.hello(command) if command.verb == "HELLO" else self.execute(command)
        if command.verb in self.STATE_CHANGING:
            self._last = (command, reply, now)
        return reply, events

    def repeat(self, reply: Answer) -> Answer:
        """The answer to a retransmission of the command first answered with ``reply``."""
        return reply

    def hello(self, command: Command) -> Answer:
        """``#n HELLO`` answered ``#n OK KIND=kind ID=identity``."""
        if self.identity is None:
            return unknown(command)
        if command.args:
            return bad_argument(command, "nothing")
        return Reply(command.seq, (("KIND", self.KIND), ("ID", self.identity)))

    @abstractmethod
    def execute(self, command: Command) -> Answer:
        """Carry out a command that is not a retransmission, at ``self.now``."""

    def advance(self, now: float) -> list[Event]:
        """Move time on to ``now``; the events that happened meanwhile."""
        self.now = max(self.now, now)
        return []

    def power_on(self, now: float) -> list[Event]:
        """Forget everything, as after power-on; the events a device sends then."""
        self.now = now
        self.last_heard = now
        self._last = None
        return [Event("READY")]


def unknown(command: Command) -> ErrorReply:
    """The reply to a verb the device does not know."""
    # The verb is cut so that the reply fits in a line whatever the command was.
    text = f"unknown command {command.verb[:16]}"
    return ErrorReply(command.seq, ErrorCode.UNKNOWN_COMMAND, text)


def bad_argument(command: Command, expected: str) -> ErrorReply:
    """The reply to a known verb with the wrong arguments."""
    return ErrorReply(command.seq, ErrorCode.BAD_ARGUMENT, f"expected {expected}")


# --- running a board on a file descriptor --------------------------------------


@dataclass
class _Faults:
    drop_replies: int = 0
    drop_verb: str | None = None
    reply_delay_s: float = 0.0
    chunk_bytes: int = 0
    chunk_pause_s: float = 0.0
    mute: bool = False


class LineDeviceEmulator:
    """Runs a board on a pseudo-terminal (or any file descriptor), in a thread.

    ``port`` is a PseudoTerminal, which may be unplugged and plugged back
    while the emulator runs (the board keeps its state, as a board whose USB
    adapter was pulled out), or an open file descriptor.  Use as a context
    manager, or call ``start`` and ``stop``.  Every fault-injection method is
    safe to call from another thread.  Bytes sent while no driver has the
    port open are lost, as on a cable with nothing at its end.
    """

    def __init__(
        self,
        board: Board,
        port: Wire | int,
        *,
        with_checksum: bool = True,
        clock: Clock = time.monotonic,
    ) -> None:
        self.board = board
        self._wire: Wire = DescriptorWire(port) if isinstance(port, int) else port
        self._with_checksum = with_checksum
        self._clock = clock
        self._lock = threading.RLock()
        self._faults = _Faults()
        self._outbox: list[tuple[float, int, bytes]] = []
        self._order = itertools.count()
        self._wire_free_at = 0.0
        self._reader = MessageReader()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._received: deque[Message | Garbled] = deque(maxlen=1000)

    @property
    def received(self) -> list[Message | Garbled]:
        """What the device heard lately (the last thousand lines), oldest first."""
        with self._lock:
            return list(self._received)

    # lifecycle

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> None:
        """Power the device on and start answering in a background thread."""
        with self._lock:
            self._send(self.board.power_on(self._clock()))
        self._thread = threading.Thread(target=self._run, name=type(self).__name__, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread (the descriptor stays open: it belongs to the caller)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    # fault injection

    def power_cycle(self) -> None:
        """Switch the device off and on: state lost, doors closed, ``! READY`` sent."""
        with self._lock:
            self._outbox.clear()
            self._send(self.board.power_on(self._clock()))

    def send_raw(self, data: bytes) -> None:
        """Put ``data`` on the wire as it is (garbage, half a line, a forged reply)."""
        with self._lock:
            self._queue(data, self._clock())

    def drop_replies(self, count: int = 1, verb: str | None = None) -> None:
        """Execute the next ``count`` commands (with ``verb``, or any) but send no reply."""
        with self._lock:
            self._faults.drop_replies = count
            self._faults.drop_verb = verb

    def delay_replies(self, seconds: float) -> None:
        """Send every reply ``seconds`` late (0 for on time)."""
        with self._lock:
            self._faults.reply_delay_s = seconds

    def fragment(self, chunk_bytes: int, pause_s: float) -> None:
        """Write everything in pieces of ``chunk_bytes`` with pauses (0 for whole lines)."""
        with self._lock:
            self._faults.chunk_bytes = chunk_bytes
            self._faults.chunk_pause_s = pause_s

    def mute(self, muted: bool = True) -> None:
        """Hear nothing and say nothing, as a hung device (the board still runs)."""
        with self._lock:
            self._faults.mute = muted

    def inject(self, happen: Callable[[float], list[Event]]) -> None:
        """Let something happen to the board at the current time and report its events."""
        with self._lock:
            self._send(happen(self._clock()))

    # the thread

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data = self._wire.read(1024, self._wait_s())
            except OSError:
                data = b""  # unplugged: the board lives on, deaf
                self._stop.wait(0.01)
            if data:
                self._heard(data)
            with self._lock:
                self._send(self.board.advance(self._clock()))
                due = self._due()
            for chunk in due:
                # Unplugged, or nobody reads: lost on the line.
                with contextlib.suppress(OSError):
                    self._wire.write(chunk, 0.1)

    def _wait_s(self) -> float:
        with self._lock:
            if not self._outbox:
                return 0.01
            return min(0.01, max(0.0, self._outbox[0][0] - self._clock()))

    def _heard(self, data: bytes) -> None:
        with self._lock:
            if self._faults.mute:
                return
            now = self._clock()
            for item in self._reader.feed(data):
                self._received.append(item)
                # Only commands are answered: replies and events (an echo, say) are ignored.
                if isinstance(item, Command):
                    reply, events = self.board.answer(item, now)
                    self._send(events)
                    faults = self._faults
                    if faults.drop_replies > 0 and faults.drop_verb in (None, item.verb):
                        faults.drop_replies -= 1
                    else:
                        self._queue(self._encode(reply), now + self._faults.reply_delay_s)

    def _send(self, events: Sequence[Event]) -> None:
        now = self._clock()
        for event in events:
            self._queue(self._encode(event), now)

    def _encode(self, message: Message) -> bytes:
        return encode(message, with_checksum=self._with_checksum)

    def _queue(self, data: bytes, due: float) -> None:
        # The wire is first in, first out: nothing overtakes what is queued before it.
        size = self._faults.chunk_bytes or len(data) or 1
        for start in range(0, len(data), size):
            due = max(due, self._wire_free_at)
            heapq.heappush(self._outbox, (due, next(self._order), data[start : start + size]))
            self._wire_free_at = due
            due += self._faults.chunk_pause_s if self._faults.chunk_bytes else 0.0

    def _due(self) -> list[bytes]:
        now = self._clock()
        due: list[bytes] = []
        while self._outbox and self._outbox[0][0] <= now:
            due.append(heapq.heappop(self._outbox)[2])
        if self._faults.mute or not self._wire.peer_open():
            return []
        return due
