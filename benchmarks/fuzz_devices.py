"""Fuzz every parser fed by device bytes: nothing a device sends may raise.

(One program past the ~400-line guideline: a harness per parser and the
mutations a damaged line makes, driven from one seed; the parsers themselves
are the gate's.)

Usage: ``python benchmarks/fuzz_devices.py [--chunks N] [--seed S] [--parser NAME ...]``

Each parser gets ``N`` chunks (1,000,000 by default), the way a serial port
hands them over: random bytes, and valid frames of the parser's protocol
mutated as a noisy line, a wrong device or a broken firmware would (bit
flips, byte insertions and deletions, truncation, splicing two frames,
oversize lines, high bytes, CR/LF storms, storms of the framing's control
bytes), each sometimes cut into several chunks. Time moves on between
chunks, now and then past the framings' idle timeout.

The parsers are the ones the gate runs on device bytes:

- ``door-protocol``: the door protocol's ``MessageReader`` (and ``decode``),
  which the door board and occupancy sensor drivers read through;
- ``reader-lines``, ``reader-desko``, ``reader-desko-1E1F``, ``reader-rte``:
  the MRZ reader driver's ``ReaderDecoder`` (framing, then ``parse_mrz``);
- ``door-driver``, ``occupancy-driver``: the door controller and occupancy
  sensor drivers, whole, over a scripted serial link that replies to the
  commands they send.

Per parser it prints the chunks and bytes fed, the messages recovered
(documents, protocol messages or device events), the garbled items reported,
the exceptions (which must be 0; the first failing input is printed in hex
with the chunks before it) and the chunks per second. Exit status 1 if any
parser raised. Not a test: it takes minutes; CI runs the hypothesis
properties in tests/hardware instead.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import random
import sys
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Protocol

from egate.documents.specimens import SPECIMENS
from hardware.deskoframing import DeskoBytes
from hardware.door import DoorController
from hardware.doorprotocol import (
    Command,
    ErrorReply,
    Event,
    Garbled,
    Message,
    MessageReader,
    ProtocolError,
    Reply,
    decode,
    encode,
)
from hardware.doorsession import (
    Acknowledged,
    CommandSettings,
    Connected,
    Disconnected,
    Refused,
    Unrecognized,
)
from hardware.frames import DEFAULT_IDLE_TIMEOUT_S
from hardware.framing import make_framing
from hardware.link import LinkState, SerialLink, SerialSettings
from hardware.occupancy import OccupancySensor
from hardware.reader import DocumentRead, ReaderDecoder, ReadFailed

TODAY = date(2026, 11, 26)
# How many of the chunks before a failing one are printed with it.
_HISTORY = 8


@dataclass
class Fed:
    """What one chunk gave: protocol messages or documents, and garbled items."""

    messages: int = 0
    garbled: int = 0


class Target(Protocol):
    """One parser under fuzz: fed chunks at a time, told when the line is idle."""

    def feed(self, data: bytes, now: float) -> Fed: ...

    def idle(self, now: float) -> Fed: ...

    def frames(self) -> Sequence[bytes]:
        """Valid frames of the protocol, to mutate (may change as the parser runs)."""
        ...

    def control_bytes(self) -> bytes:
        """Bytes with a meaning in the protocol, for storms of them."""
        ...


# --- the parsers --------------------------------------------------------------


def _door_lines() -> list[bytes]:
    """Lines a door board or an occupancy sensor sends, in every terminator."""
    messages: list[Message] = [
        Reply(1, (("ENTRY", "CLOSED"), ("EXIT", "CLOSED"))),
        Reply(2, (("ENTRY", "OPENING"),)),
        Reply(3, (("COUNT", "0"), ("ENTRY", "CLEAR"), ("EXIT", "CLEAR"))),
        Reply(4),
        ErrorReply(5, 21, "interlock ENTRY not closed"),
        ErrorReply(6, 20, "door fault JAMMED"),
        Event("OPENED", ("ENTRY",)),
        Event("CLOSED", ("EXIT",)),
        Event("FORCED", ("EXIT",)),
        Event("FAULT", ("ENTRY", "JAMMED")),
        Event("WATCHDOG"),
        Event("READY"),
        Event("COUNT", ("1",)),
        Event("BEAM", ("ENTRY", "BROKEN")),
        Event("TAILGATE"),
        Command(7, "STATUS"),
    ]
    lines = []
    for message in messages:
        for checksum in (True, False):
            line = encode(message, with_checksum=checksum)
            lines += [line, line[:-1], line[:-2] + b"\n"]
    return lines


class ProtocolTarget:
    """The door protocol's stream reader, as the drivers use it."""

    def __init__(self) -> None:
        self._reader = MessageReader()
        self._frames = _door_lines()

    def feed(self, data: bytes, now: float) -> Fed:
        items = self._reader.feed(data)
        garbled = sum(isinstance(item, Garbled) for item in items)
        # decode() is the reader's per-line parser: it may refuse a line, never crash on it.
        for line in data.splitlines():
            with contextlib.suppress(ProtocolError):
                decode(line)
        return Fed(len(items) - garbled, garbled)

    def idle(self, now: float) -> Fed:
        return Fed()

    def frames(self) -> Sequence[bytes]:
        return self._frames

    def control_bytes(self) -> bytes:
        return b"\r\n#!* =\x00\x7f\xff"


class ReaderTarget:
    """The MRZ reader driver's decoder: a framing, then parse_mrz on each frame."""

    def __init__(self, framing: str, desko: DeskoBytes | None = None) -> None:
        decoder = make_framing(framing, desko=desko)
        self._decoder = ReaderDecoder(decoder, lambda: TODAY)
        self._frames = [decoder.encode(lines) for lines in SPECIMENS.values()]
        self._control = bytes(sorted(decoder.control_bytes | {0x0D, 0x0A}))

    def feed(self, data: bytes, now: float) -> Fed:
        return self._count(self._decoder.feed(data, now))

    def idle(self, now: float) -> Fed:
        return self._count(self._decoder.flush(now))

    def frames(self) -> Sequence[bytes]:
        return self._frames

    def control_bytes(self) -> bytes:
        return self._control

    @staticmethod
    def _count(events: Sequence[DocumentRead | ReadFailed]) -> Fed:
        documents = sum(isinstance(event, DocumentRead) for event in events)
        return Fed(documents, len(events) - documents)


class ScriptedLink(SerialLink):
    """A serial link whose device is this benchmark: reads give the queued chunks."""

    def __init__(self) -> None:
        super().__init__(SerialSettings(port="fuzz://", read_timeout_s=0))
        self.incoming: deque[bytes] = deque()
        self.last_seq = 1

    @property
    def is_open(self) -> bool:
        return True

    @property
    def state(self) -> LinkState:
        return LinkState.CONNECTED

    def open(self) -> None:
        pass

    def close(self) -> None:
        self.incoming.clear()

    def try_reconnect(self, now: float | None = None) -> bool:
        return True

    def read(self, max_bytes: int = 4096) -> bytes:
        return self.incoming.popleft() if self.incoming else b""

    def write(self, data: bytes) -> None:
        # The sequence number of the command sent, so that some replies match it.
        try:
            message = decode(data)
        except ProtocolError:
            return
        if isinstance(message, Command):
            self.last_seq = message.seq


_SESSION_EVENTS = (Acknowledged, Refused, Connected, Disconnected, Unrecognized)


class DriverTarget:
    """A door controller or occupancy sensor driver, whole, on a scripted link."""

    def __init__(self, make: Callable[..., DoorController | OccupancySensor]) -> None:
        self._time = 0.0
        self._link = ScriptedLink()
        self._driver = make(self._link, CommandSettings(timeout_s=0.5, retries=2), clock=self._now)
        self._lines = _door_lines()

    def _now(self) -> float:
        return self._time

    def feed(self, data: bytes, now: float) -> Fed:
        self._time = now
        self._link.incoming.append(data)
        return self._count(self._driver.poll(now))

    def idle(self, now: float) -> Fed:
        self._time = now
        return self._count(self._driver.poll(now))

    def frames(self) -> Sequence[bytes]:
        seq = self._link.last_seq
        # Replies to the outstanding command, so that some are matched.
        answers = [
            encode(Reply(seq, (("ENTRY", "OPEN"), ("EXIT", "CLOSED")))),
            encode(Reply(seq, (("COUNT", "2"), ("ENTRY", "BROKEN"), ("EXIT", "CLEAR")))),
            encode(ErrorReply(seq, 21, "interlock")),
        ]
        return [*self._lines, *answers]

    def control_bytes(self) -> bytes:
        return b"\r\n#!* =\x00\x7f\xff"

    @staticmethod
    def _count(events: Sequence[object]) -> Fed:
        garbled = sum(isinstance(event, Unrecognized) for event in events)
        device = sum(not isinstance(event, _SESSION_EVENTS) for event in events)
        return Fed(device, garbled)


PARSERS: dict[str, Callable[[], Target]] = {
    "door-protocol": ProtocolTarget,
    "reader-lines": lambda: ReaderTarget("lines"),
    "reader-desko": lambda: ReaderTarget("desko"),
    "reader-desko-1E1F": lambda: ReaderTarget(
        "desko", DeskoBytes.model_validate({"start": "1E", "end": "1F"})
    ),
    "reader-rte": lambda: ReaderTarget("rte"),
    "door-driver": lambda: DriverTarget(DoorController),
    "occupancy-driver": lambda: DriverTarget(OccupancySensor),
}


# --- what is fed ----------------------------------------------------------------


class Mutator:
    """Random and mutated input for one target, from a seeded generator."""

    def __init__(self, rng: random.Random, target: Target) -> None:
        self._rng = rng
        self._target = target
        self._kinds: list[tuple[Callable[[], bytes], int]] = [
            (self._random_bytes, 3),
            (self._valid, 2),
            (self._bit_flips, 3),
            (self._insertions, 2),
            (self._deletions, 2),
            (self._truncated, 2),
            (self._spliced, 2),
            (self._oversize, 1),
            (self._high_bytes, 1),
            (self._line_end_storm, 1),
            (self._control_storm, 1),
        ]
        self._makers = [maker for maker, _ in self._kinds]
        self._weights = [weight for _, weight in self._kinds]

    def piece(self) -> bytes:
        """One piece of input: random, a valid frame, or a mutated one."""
        maker = self._rng.choices(self._makers, self._weights)[0]
        return maker()

    def _frame(self) -> bytes:
        return self._rng.choice(self._target.frames())

    def _random_bytes(self) -> bytes:
        return self._rng.randbytes(self._rng.randint(0, 200))

    def _valid(self) -> bytes:
        return self._frame()

    def _bit_flips(self) -> bytes:
        data = bytearray(self._frame())
        for _ in range(self._rng.randint(1, 4)):
            data[self._rng.randrange(len(data))] ^= 1 << self._rng.randrange(8)
        return bytes(data)

    def _insertions(self) -> bytes:
        data = bytearray(self._frame())
        pool = self._target.control_bytes()
        for _ in range(self._rng.randint(1, 6)):
            byte = self._rng.choice(pool) if self._rng.random() < 0.5 else self._rng.randrange(256)
            data.insert(self._rng.randint(0, len(data)), byte)
        return bytes(data)

    def _deletions(self) -> bytes:
        data = bytearray(self._frame())
        for _ in range(self._rng.randint(1, min(6, len(data)))):
            del data[self._rng.randrange(len(data))]
        return bytes(data)

    def _truncated(self) -> bytes:
        data = self._frame()
        cut = self._rng.randint(0, len(data))
        return data[:cut] if self._rng.random() < 0.7 else data[cut:]

    def _spliced(self) -> bytes:
        first, second = self._frame(), self._frame()
        head = first[: self._rng.randint(0, len(first))]
        return head + second[self._rng.randint(0, len(second)) :]

    def _oversize(self) -> bytes:
        # A line or frame far beyond any limit: printable, so nothing else ends it.
        data = self._frame()
        size = self._rng.choice([65, 70, 100, 1023, 1024, 1025, 3000])
        fill = bytes([self._rng.randrange(0x20, 0x7F)]) * size
        at = self._rng.randint(0, len(data))
        return data[:at] + fill + data[at:]

    def _high_bytes(self) -> bytes:
        data = bytearray(self._frame())
        for _ in range(self._rng.randint(1, 8)):
            data[self._rng.randrange(len(data))] = self._rng.randrange(0x80, 0x100)
        return bytes(data)

    def _line_end_storm(self) -> bytes:
        storm = bytes(self._rng.choice(b"\r\n") for _ in range(self._rng.randint(1, 300)))
        if self._rng.random() < 0.5:
            return storm
        data = self._frame()
        at = self._rng.randint(0, len(data))
        return data[:at] + storm + data[at:]

    def _control_storm(self) -> bytes:
        pool = self._target.control_bytes()
        return bytes(self._rng.choice(pool) for _ in range(self._rng.randint(1, 300)))


@dataclass
class Outcome:
    """The figures of one parser's run."""

    name: str
    chunks: int = 0
    size: int = 0
    messages: int = 0
    garbled: int = 0
    exceptions: int = 0
    seconds: float = 0.0
    first_failure: str | None = None
    history: list[bytes] = field(default_factory=list)


def _hex(data: bytes, limit: int = 0) -> str:
    """``data`` in hex; with ``limit``, only its last ``limit`` bytes."""
    if not data:
        return "(empty)"
    if limit and len(data) > limit:
        return f"({len(data)} bytes, the last {limit}) ... {data[-limit:].hex(' ')}"
    return data.hex(" ")


def _describe(
    error: BaseException, chunk: bytes, history: Sequence[bytes], index: int, seed: int
) -> str:
    # The seed and chunk number replay the run exactly; the bytes before the
    # failing chunk say what state the parser was likely in.
    before = "\n".join(f"    {_hex(item, 128)}" for item in history)
    return (
        f"  chunk {index} (seed {seed}): {type(error).__name__}: {error}\n"
        f"  failing chunk ({len(chunk)} bytes): {_hex(chunk)}\n"
        f"  the {len(history)} chunks before it, oldest first:\n{before}"
    )


def fuzz(name: str, chunks: int, seed: int) -> Outcome:
    """Feed ``chunks`` chunks to a fresh parser ``name``; a parser that raises is replaced."""
    rng = random.Random(f"{seed}:{name}")
    target = PARSERS[name]()
    mutator = Mutator(rng, target)
    outcome = Outcome(name)
    history: deque[bytes] = deque(maxlen=_HISTORY)
    now = 0.0
    started = time.perf_counter()
    while outcome.chunks < chunks:
        piece = mutator.piece()
        # Most pieces arrive whole; some in several chunks, as a port delivers them.
        count = min(rng.randint(0, 3), max(len(piece) - 1, 0))
        cuts = sorted(rng.sample(range(1, len(piece)), count))
        pieces = [piece[a:b] for a, b in zip([0, *cuts], [*cuts, len(piece)], strict=True)]
        for chunk in pieces:
            if outcome.chunks >= chunks:
                break
            now += rng.choice((0.0, 0.0005, 0.002, 0.01))
            idle = rng.random() < 0.02
            try:
                fed = target.feed(chunk, now)
                if idle:
                    now += DEFAULT_IDLE_TIMEOUT_S + rng.random()
                    extra = target.idle(now)
                    fed.messages += extra.messages
                    fed.garbled += extra.garbled
            except Exception as error:
                outcome.exceptions += 1
                if outcome.first_failure is None:
                    outcome.first_failure = _describe(
                        error, chunk, list(history), outcome.chunks, seed
                    )
                # The parser's state may be broken: start a fresh one.
                target = PARSERS[name]()
                mutator = Mutator(rng, target)
            else:
                outcome.messages += fed.messages
                outcome.garbled += fed.garbled
            outcome.chunks += 1
            outcome.size += len(chunk)
            history.append(chunk)
    outcome.seconds = time.perf_counter() - started
    return outcome


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--chunks", type=int, default=1_000_000, help="chunks fed to each parser (1,000,000)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the random input (0)")
    parser.add_argument(
        "--parser", choices=list(PARSERS), action="append", help="only this parser (repeatable)"
    )
    args = parser.parse_args(argv)
    if args.chunks < 1:
        parser.error("--chunks must be at least 1")
    names = args.parser or list(PARSERS)
    # The drivers log what they notice (a port of noise, say); here that is the point.
    logging.disable(logging.CRITICAL)
    print(f"{args.chunks:,} chunks per parser, seed {args.seed}")
    print(
        f"{'parser':<18} {'chunks':>11} {'bytes':>13} {'messages':>10} "
        f"{'garbled':>10} {'exceptions':>10} {'chunks/s':>10}"
    )
    failed = False
    for name in names:
        run = fuzz(name, args.chunks, args.seed)
        rate = run.chunks / run.seconds if run.seconds else float("inf")
        print(
            f"{run.name:<18} {run.chunks:>11,} {run.size:>13,} {run.messages:>10,} "
            f"{run.garbled:>10,} {run.exceptions:>10,} {rate:>10,.0f}",
            flush=True,
        )
        if run.first_failure is not None:
            failed = True
            print(run.first_failure, flush=True)
    print("exceptions: none" if not failed else "exceptions: SOME PARSER RAISED", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
