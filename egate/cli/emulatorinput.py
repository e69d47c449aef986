"""What ``egate devices emulate`` reads on standard input, and what it does with it.

A reader emulator sends each MRZ document it reads (lines, a blank line
between documents: ``feed_documents``); an occupancy sensor emulator lets
people do what each line says (``in [BEAM]``, ``out [BEAM]``, ``count N``,
``tailgate``: ``feed_people``).  Lines that say nothing are reported on
stderr and skipped.  Standard input is read so that Ctrl-C or SIGTERM ends
the reading even while it stays open.
"""

from __future__ import annotations

import os
import select
import sys
import threading
from datetime import date
from typing import BinaryIO, cast

import click

from egate.cli.mrz import read_documents
from egate.documents.mrz import MrzFormatError, parse_mrz
from hardware.emulators.occupancy import OccupancyEmulator
from hardware.emulators.reader import ReaderEmulator

# The longest wait for input on stdin before looking at the stop event again.
_STDIN_WAIT_S = 0.2


class _StoppableLines:
    """Lines of a file descriptor that end (as at end of file) once ``stop`` is set.

    A plain blocking read of stdin would keep an emulator whose stdin stays
    open (a terminal, a pipe nobody closes) from ending on Ctrl-C or SIGTERM:
    the handler sets ``stop``, but the read resumes and waits on.
    """

    def __init__(self, descriptor: int, stop: threading.Event) -> None:
        self._descriptor = descriptor
        self._stop = stop
        self._buffer = bytearray()
        self._ended = False

    def readline(self, limit: int = -1) -> bytes:
        while True:
            end = self._buffer.find(b"\n") + 1
            if not end and (self._ended or 0 < limit <= len(self._buffer)):
                end = len(self._buffer)
            if end:
                end = min(end, limit) if limit > 0 else end
                line = bytes(self._buffer[:end])
                del self._buffer[:end]
                return line
            if self._ended or self._stop.is_set():
                return b""
            ready, _, _ = select.select([self._descriptor], [], [], _STDIN_WAIT_S)
            if ready:
                try:
                    chunk = os.read(self._descriptor, 1 << 16)
                except OSError:
                    chunk = b""  # e.g. EIO: the terminal went away
                self._buffer += chunk
                self._ended = not chunk


def _stdin_lines(stop: threading.Event) -> BinaryIO:
    """Standard input, read so that ``stop`` ends it (when it is a real descriptor)."""
    stream = sys.stdin.buffer
    try:
        descriptor = stream.fileno()
    except (OSError, ValueError):
        # Not backed by a descriptor (e.g. a test's in-memory stream): it cannot block.
        return stream
    return cast(BinaryIO, _StoppableLines(descriptor, stop))


# Longest line of an occupancy sensor's standard input; longer ones are skipped.
_PEOPLE_LINE_BYTES = 256
_PEOPLE_USAGE = "expected in [BEAM], out [BEAM], count N or tailgate"
# The most people a sensor counts (docs/door-protocol.md: ! COUNT n, 0 to 999).
_MAX_COUNT = 999


def feed_people(sensor: OccupancyEmulator, stop: threading.Event) -> None:
    """Let people do what stdin says (one action a line); report the lines that say nothing."""
    stream = _stdin_lines(stop)
    number = 0
    while not stop.is_set():
        line = stream.readline(_PEOPLE_LINE_BYTES + 1)
        if not line:
            return
        number += 1
        problem: str | None
        if len(line) > _PEOPLE_LINE_BYTES and not line.endswith(b"\n"):
            problem = f"longer than {_PEOPLE_LINE_BYTES} bytes"
            while line and not line.endswith(b"\n"):  # the rest of it
                line = stream.readline(_PEOPLE_LINE_BYTES + 1)
        else:
            problem = _act(sensor, line.decode("ascii", "replace").split())
        if problem is not None:
            click.echo(f"egate devices emulate: line {number}: {problem}", err=True)


def _act(sensor: OccupancyEmulator, words: list[str]) -> str | None:
    """Carry out one line of people's actions; what is wrong with it, or None."""
    if not words:
        return None
    verb, args = words[0].lower(), words[1:]
    if verb in ("in", "out") and len(args) <= 1:
        beam = args[0].upper() if args else "ENTRY" if verb == "in" else "EXIT"
        beams = sensor.settings.beams
        if args and beam not in beams:
            has = f"its beams are {', '.join(beams)}" if beams else "it counts only"
            return f"this sensor has no beam {beam[:24]}: {has}"
        (sensor.walk_in if verb == "in" else sensor.walk_out)(beam)
    elif verb == "count" and len(args) == 1 and args[0].isdigit() and int(args[0]) <= _MAX_COUNT:
        sensor.set_count(int(args[0]))
    elif verb == "tailgate" and not args:
        sensor.tailgate()
    else:
        return _PEOPLE_USAGE
    return None


def feed_documents(emulator: ReaderEmulator, stop: threading.Event) -> None:
    """Send each MRZ document on stdin; report the ones that are no MRZ at all."""
    for number, document in enumerate(read_documents(_stdin_lines(stop)), start=1):
        if stop.is_set():
            return
        try:
            if document.overlong is not None or document.extra_lines:
                raise MrzFormatError("too many lines, or a line too long")
            # Checked only to warn early: a reader sends what it reads.
            parse_mrz(document.lines, date.today())
        except MrzFormatError as error:
            click.echo(f"egate devices emulate: document {number}: not an MRZ: {error}", err=True)
            continue
        emulator.send(document.lines)
