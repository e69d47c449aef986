"""What the serial MRZ reader driver adds to the time a document spends on the wire.

Usage: ``python benchmarks/reader_latency.py [--documents N] [--baudrate B] [--framing F]``

For each framing, an emulated reader sends the ICAO specimens in turn over a
pseudo-terminal, each byte paced as a real device sends it at the baud rate
(10 bits a byte: 8N1). The driver that runs on the gate (``SerialMrzReader``)
polls in a loop. A document's added latency runs from the clock reading
taken just before its last byte was written to the moment ``poll`` returns
its ``DocumentRead``; its wire time, measured in the same run for scale, from
its first byte to its last. The target is an added latency under 5 ms, against
a wire time of about 100 ms at 9600 baud. The added latency includes the
operating system waking the driver up, so a loaded machine shows a tail of a
scheduler time slice (a few ms); ``CPU/doc`` is the driver's own work alone
(decoding the frame and parsing the MRZ, no I/O).
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from egate.documents.mrz import parse_mrz
from egate.documents.specimens import SPECIMENS
from hardware.emulators.pty import PseudoTerminal
from hardware.emulators.reader import FaultPlan, ReaderEmulator
from hardware.frames import Frame
from hardware.framing import FRAMING_NAMES, make_framing
from hardware.link import SerialSettings
from hardware.reader import DocumentRead, ReadFailed, SerialMrzReader

TODAY = date(2026, 11, 26)
TARGET_MS = 5.0


@dataclass(frozen=True)
class Run:
    """The figures of one framing: per-document wire time and added latency, in ms."""

    framing: str
    wire_ms: list[float]
    added_ms: list[float]
    failures: int


def percentile(values: Sequence[float], fraction: float) -> float:
    """The ``fraction`` quantile of ``values`` (nearest rank)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def measure(framing: str, documents: int, baudrate: int, folder: Path) -> Run:
    specimens = list(SPECIMENS.values())
    settings = SerialSettings(port=str(folder / f"tty-{framing}"), baudrate=baudrate)
    read_at: list[float] = []
    failures = 0
    with (
        PseudoTerminal(link=folder / f"tty-{framing}", watch_flushes=True) as pty,
        ReaderEmulator(framing, pty, FaultPlan(baudrate=baudrate)) as emulator,
    ):
        reader = SerialMrzReader(settings, framing, lambda: TODAY)
        reader.open()
        for index in range(documents):
            emulator.send(specimens[index % len(specimens)])
        give_up = time.monotonic() + documents * 2.0 + 10.0
        while len(read_at) < documents and time.monotonic() < give_up:
            events = reader.poll()
            now = time.monotonic()
            read_at += [now for event in events if isinstance(event, DocumentRead)]
            failures += sum(isinstance(event, ReadFailed) for event in events)
        emulator.wait_until_sent(5.0)
        sent = emulator.sent
        reader.close()
    if len(read_at) < documents:
        raise RuntimeError(f"{framing}: {len(read_at)} of {documents} documents read")
    return Run(
        framing,
        wire_ms=[(item.finished_at - item.started_at) * 1000 for item in sent],
        added_ms=[(at - item.finished_at) * 1000 for at, item in zip(read_at, sent, strict=True)],
        failures=failures,
    )


def decoding_cost_us(framing: str, rounds: int = 2000) -> float:
    """Microseconds of CPU per document for the driver's own work: framing and parsing."""
    frames = [make_framing(framing).encode(lines) for lines in SPECIMENS.values()]
    decoder = make_framing(framing)
    started = time.perf_counter()
    for index in range(rounds):
        for frame in decoder.feed(frames[index % len(frames)], 0.0):
            if isinstance(frame, Frame):
                parse_mrz(frame.lines, TODAY)
    return (time.perf_counter() - started) / rounds * 1e6


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--documents", type=int, default=30, help="documents per framing")
    parser.add_argument("--baudrate", type=int, default=9600)
    parser.add_argument("--framing", choices=FRAMING_NAMES, action="append")
    args = parser.parse_args(argv)
    if args.documents < 1:
        parser.error("--documents must be at least 1")
    framings = args.framing or list(FRAMING_NAMES)
    print(f"{args.documents} documents per framing at {args.baudrate} baud (8N1)")
    print(
        f"{'framing':<8} {'wire median':>12} {'added median':>13} "
        f"{'added p95':>10} {'added max':>10} {'misreads':>9} {'CPU/doc':>9}"
    )
    worst = 0.0
    with tempfile.TemporaryDirectory(prefix="egate-latency-") as folder:
        for framing in framings:
            run = measure(framing, args.documents, args.baudrate, Path(folder))
            p95 = percentile(run.added_ms, 0.95)
            worst = max(worst, p95)
            print(
                f"{run.framing:<8} {statistics.median(run.wire_ms):>9.1f} ms "
                f"{statistics.median(run.added_ms):>10.3f} ms {p95:>7.3f} ms "
                f"{max(run.added_ms):>7.3f} ms {run.failures:>9} "
                f"{decoding_cost_us(framing):>6.0f} us"
            )
    verdict = "within" if worst < TARGET_MS else "OVER"
    print(f"added latency p95 {worst:.3f} ms: {verdict} the {TARGET_MS:g} ms target")
    return 0


if __name__ == "__main__":
    sys.exit(main())
