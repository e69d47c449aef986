"""An emulated serial MRZ reader: documents in, framed bytes out on a pseudo-terminal.

``ReaderEmulator`` plays a passport reader of any framing on the master side
of a ``PseudoTerminal``. ``send(lines)`` queues a document as if one had been
put on the reader; a thread writes the queue out in order, at the pace of a
real device when asked, so that whatever the driver does meanwhile, bytes
arrive as they would from hardware.

Faults come from a ``FaultPlan``, drawn from a seeded generator when a
document is queued (so a plan replays exactly): garbage bytes before a
document, a frame split into pieces with pauses, a bad BCC (``rte``), a slow
device (bytes paced at a baud rate, or slower), and a frame cut short by an
unplug followed by a replug. ``unplug``, ``plug_back``, ``pause`` and
``send_raw`` queue the same things by hand. ``sent`` records what went out
and when its last byte was handed over, for tests and latency figures.

Like a USB serial adapter, the emulator holds its bytes while no driver has
the port open. It starts talking once the driver has flushed its input (as
pyserial does when it opens a port), which it learns from a pseudo-terminal
made with ``watch_flushes=True``; otherwise ``settle_s`` after the port opens.
Before an unplug it lets the driver read what was already sent, as the slow
pace of a real device would.
"""

from __future__ import annotations

import queue
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from hardware.emulators.pty import PseudoTerminal
from hardware.frames import SOH, Framing
from hardware.framing import make_framing

SentKind = Literal["document", "garbage", "raw"]
# How often the emulator looks at the driver's side of the pseudo-terminal,
# and how many looks in a row must find nothing unread before an unplug.
_CHECK_S = 0.002
_DRAIN_QUIET_CHECKS = 5


class FaultPlan(BaseModel):
    """Which faults the emulated reader injects, how often, and how hard."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    garbage: float = Field(
        default=0.0, ge=0, le=1, description="Chance of garbage before a document."
    )
    # Under 26 bytes, garbage can never pass for an MRZ line in the lines framing.
    garbage_max_bytes: int = Field(default=12, ge=1, le=25)
    split: float = Field(default=0.0, ge=0, le=1, description="Chance a frame is sent in pieces.")
    split_pause_s: float = Field(
        default=0.02,
        ge=0,
        le=1,
        description="Pause between pieces; keep it under the idle timeout.",
    )
    bad_bcc: float = Field(default=0.0, ge=0, le=1, description="Chance of a wrong BCC (rte only).")
    disconnect: float = Field(
        default=0.0,
        ge=0,
        le=1,
        description="Chance a frame is cut short by an unplug, then a replug.",
    )
    disconnect_for_s: float = Field(default=0.05, ge=0, le=60)
    baudrate: int | None = Field(
        default=None,
        gt=0,
        description="Pace bytes as a device at this rate; None sends them at once.",
    )
    bits_per_byte: int = Field(
        default=10, ge=7, le=12, description="Start, data, parity and stop bits."
    )
    slowdown: float = Field(
        default=1.0, ge=1, le=1000, description="How much slower than the baud rate."
    )
    seed: int = 0


@dataclass(frozen=True, slots=True, repr=False)
class Sent:
    """Bytes the emulator wrote: a document's frame, garbage, or raw bytes sent by hand."""

    kind: SentKind
    data: bytes
    lines: tuple[str, ...] | None
    faults: tuple[str, ...]
    # When sending began, and the clock read just before the last byte was
    # handed to the pseudo-terminal (never after the driver could have it).
    started_at: float
    finished_at: float

    def __repr__(self) -> str:
        return f"Sent({self.kind}, <{len(self.data)} bytes>, faults={self.faults})"


@dataclass(frozen=True, slots=True)
class _Write:
    kind: SentKind
    pieces: tuple[bytes, ...]
    lines: tuple[str, ...] | None
    faults: tuple[str, ...]
    pause_s: float


@dataclass(frozen=True, slots=True)
class _Unplug:
    pass


@dataclass(frozen=True, slots=True)
class _PlugBack:
    pass


@dataclass(frozen=True, slots=True)
class _Pause:
    seconds: float


_Item = _Write | _Unplug | _PlugBack | _Pause


def _cut(data: bytes, offsets: Sequence[int]) -> tuple[bytes, ...]:
    """``data`` in pieces, cut at ``offsets`` (those inside it)."""
    points = sorted({offset for offset in offsets if 0 < offset < len(data)})
    return tuple(data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True))


class _Stopped(Exception):
    """The emulator is closing: drop what is in progress."""


class ReaderEmulator:
    """A serial MRZ reader of one framing on a pseudo-terminal, with fault injection.

    Use as a context manager, or call ``start`` and ``close``. Every method is
    safe to call from another thread than the emulator's own.
    """

    def __init__(
        self,
        framing: str | Framing,
        pty: PseudoTerminal,
        faults: FaultPlan | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        settle_s: float = 0.25,
        wait_for_listener: bool = True,
    ) -> None:
        self._framing = make_framing(framing) if isinstance(framing, str) else framing
        self._faults = faults or FaultPlan()
        if self._faults.bad_bcc and self._framing.name != "rte":
            raise ValueError(f"bad_bcc needs the rte framing; {self._framing.name} has no BCC")
        self._pty = pty
        self._clock = clock
        self._settle_s = settle_s
        self._wait_for_listener = wait_for_listener
        self._random = random.Random(self._faults.seed)
        self._queue: queue.SimpleQueue[_Item | None] = queue.SimpleQueue()
        self._idle = threading.Condition()
        self._unfinished = 0
        self._sent: list[Sent] = []
        self._errors: list[str] = []
        self._stop = threading.Event()
        self._listening = False
        self._thread: threading.Thread | None = None
        faults = self._faults
        self._byte_s = (
            None
            if faults.baudrate is None
            else faults.bits_per_byte / faults.baudrate * faults.slowdown
        )

    def __enter__(self) -> ReaderEmulator:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def framing(self) -> Framing:
        return self._framing

    @property
    def sent(self) -> list[Sent]:
        """What went out so far, in order."""
        with self._idle:
            return list(self._sent)

    @property
    def errors(self) -> list[str]:
        """Writes that failed (e.g. the port was unplugged under them)."""
        with self._idle:
            return list(self._errors)

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("the emulator is already running")
        self._thread = threading.Thread(target=self._run, name="reader-emulator", daemon=True)
        self._thread.start()

    def close(self, timeout_s: float = 5.0) -> None:
        """Stop at once (what is queued is dropped) and wait for the thread."""
        self._stop.set()
        self._queue.put(None)
        if self._thread is not None:
            self._thread.join(timeout_s)

    # --- what to send -----------------------------------------------------

    def send(self, lines: str | Sequence[str]) -> None:
        """Queue a document (its lines, or one text with a line per row) with the plan's faults."""
        if isinstance(lines, str):
            lines = [line.strip() for line in lines.splitlines() if line.strip()]
        plan, draw = self._faults, self._random.random
        if plan.garbage and draw() < plan.garbage:
            self._put(_Write("garbage", (self._garbage(),), None, (), 0.0))
        frame = self._framing.encode(lines)
        faults: list[str] = []
        if plan.bad_bcc and draw() < plan.bad_bcc:
            faults.append("bad_bcc")
            frame = frame[:-1] + bytes([self._corrupt(frame[-1])])
        cut = None
        if plan.disconnect and draw() < plan.disconnect:
            faults.append("disconnect")
            cut = self._random.randrange(1, len(frame))
            frame = frame[:cut]
        pieces: tuple[bytes, ...] = (frame,)
        if plan.split and len(frame) > 1 and draw() < plan.split:
            faults.append("split")
            count = self._random.randint(1, min(3, len(frame) - 1))
            pieces = _cut(frame, self._random.sample(range(1, len(frame)), count))
        self._put(_Write("document", pieces, tuple(lines), tuple(faults), plan.split_pause_s))
        if cut is not None:
            self._put(_Unplug())
            self._put(_Pause(plan.disconnect_for_s))
            self._put(_PlugBack())

    def send_raw(self, data: bytes, *, pieces: Sequence[int] = (), pause_s: float = 0.0) -> None:
        """Queue bytes as they are, cut at the offsets in ``pieces`` with ``pause_s`` between."""
        self._put(_Write("raw", _cut(data, pieces), None, (), pause_s))

    def pause(self, seconds: float) -> None:
        """Queue a silence."""
        self._put(_Pause(seconds))

    def unplug(self) -> None:
        """Queue an unplug: the port vanishes once what is queued before has gone out."""
        self._put(_Unplug())

    def plug_back(self) -> None:
        """Queue a replug (a new pseudo-terminal, the link pointing at it)."""
        self._put(_PlugBack())

    def wait_until_sent(self, timeout_s: float = 5.0) -> bool:
        """Wait until everything queued has gone out; False on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: self._unfinished == 0, timeout_s)

    def _put(self, item: _Item) -> None:
        with self._idle:
            self._unfinished += 1
        self._queue.put(item)

    def _garbage(self) -> bytes:
        control = self._framing.control_bytes
        size = self._random.randint(1, self._faults.garbage_max_bytes)
        allowed = [byte for byte in range(256) if byte not in control]
        data = bytes(self._random.choice(allowed) for _ in range(size))
        # Line-based readers end everything with a line; elsewhere garbage
        # runs straight into the next frame's start byte.
        return data + b"\r" if self._framing.name == "lines" else data

    def _corrupt(self, bcc: int) -> int:
        # Never SOH: a frame ending in SOH reads as a frame cut short by the next.
        choices = [value for value in range(256) if value not in (bcc, SOH)]
        return self._random.choice(choices)

    # --- the thread ---------------------------------------------------------

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None or self._stop.is_set():
                return
            try:
                self._do(item)
            except _Stopped:
                return
            except Exception as error:
                # Kept, and the emulator goes on; typically an OSError (unplugged under a write).
                with self._idle:
                    self._errors.append(f"{type(item).__name__.strip('_')}: {error!r}")
            finally:
                with self._idle:
                    self._unfinished -= 1
                    self._idle.notify_all()

    def _do(self, item: _Item) -> None:
        if isinstance(item, _Unplug):
            self._drain()
            self._pty.hang_up()
            self._listening = False
        elif isinstance(item, _PlugBack):
            if not self._pty.plugged:
                self._pty.plug_back()
        elif isinstance(item, _Pause):
            self._wait(item.seconds)
        else:
            self._write(item)

    def _wait(self, seconds: float) -> None:
        if seconds > 0 and self._stop.wait(seconds):
            raise _Stopped

    def _drain(self, patience_s: float = 1.0) -> None:
        """Wait (a while) until the driver has read what was sent.

        Bytes sent all at once reach the driver in microseconds, but a hang-up
        in those microseconds would discard them; a real device talks so
        slowly that the driver has long read everything sent before the cable
        is pulled. Only the cut itself is what an unplug should cost.
        """
        give_up = self._clock() + patience_s
        quiet = 0
        # The kernel hands bytes over lazily: "nothing unread" must hold a while.
        while quiet < _DRAIN_QUIET_CHECKS and self._clock() < give_up:
            if not (self._pty.plugged and self._pty.peer_open()):
                return
            quiet = quiet + 1 if self._pty.unread() == 0 else 0
            self._wait(_CHECK_S)

    def _await_listener(self) -> None:
        """Return once a driver has the port open and has flushed its input.

        A pyserial driver flushes as it opens; the pseudo-terminal reports it
        when it watches flushes. A program that never flushes (or a
        pseudo-terminal that does not watch) is trusted after ``settle_s``.
        """
        opened_at: float | None = None
        while True:
            if self._stop.is_set():
                raise _Stopped
            if self._pty.plugged and self._pty.peer_open():
                if self._listening:
                    return
                now = self._clock()
                opened_at = now if opened_at is None else opened_at
                if self._pty.take_flush() or now - opened_at >= self._settle_s:
                    self._listening = True
                    return
            else:
                opened_at = None
                self._listening = False
            self._wait(_CHECK_S)

    def _write(self, item: _Write) -> None:
        if not self._pty.plugged:
            # The cable is out: what the reader read goes nowhere. Waiting for
            # a listener here would also hold up the replug queued behind.
            with self._idle:
                self._errors.append(f"{item.kind}: not sent, the reader is unplugged")
            return
        if self._wait_for_listener:
            self._await_listener()
        started = finished = self._clock()
        for index, piece in enumerate(item.pieces):
            if index:
                self._wait(item.pause_s)
            finished = self._write_paced(piece)
        record = Sent(item.kind, b"".join(item.pieces), item.lines, item.faults, started, finished)
        with self._idle:
            self._sent.append(record)

    def _write_paced(self, data: bytes) -> float:
        """Write ``data`` at the plan's pace; the clock just before the last byte went."""
        if self._byte_s is None:
            last = self._clock()
            self._pty.write(data)
            return last
        # Each byte is due when its last bit would have arrived, counted from
        # the start so that sleeping late never accumulates.
        start = last = self._clock()
        for index in range(len(data)):
            delay = start + (index + 1) * self._byte_s - self._clock()
            if delay > 0:
                self._wait(delay)
            last = self._clock()
            self._pty.write(data[index : index + 1])
        return last
