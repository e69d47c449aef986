"""Measured durations read from files: a CSV column, or the matching core's calibration.

A planner who has timed travellers at a gate gives the model those times
(``{kind: empirical, file: times.csv, column: seconds}``), and the matching
core's service time comes from the calibration file of ``egate biometrics
bench --out`` (``{kind: calibration, file: bench.json}``). The chip read
step can be measured too: ``load_chip_reads`` reads the JSON that ``egate
chip read --json`` prints, one read after another, or a CSV with a
``seconds`` column. Each becomes an
``Empirical`` distribution; a file that cannot be used is a ``ValueError``
with a one-line message naming the file, the line and what is wrong.
"""

from __future__ import annotations

import csv
import json
import math
import reprlib
from pathlib import Path

from simulation.distributions import Empirical

__all__ = ["CALIBRATION_FORMAT", "load_calibration", "load_chip_reads", "load_empirical_csv"]

# The ``format`` of the files written by ``egate biometrics bench --out``.
# (Spelled out rather than imported: the benchmark module pulls in the face
# recognition stack, which the capacity model does not need.)
CALIBRATION_FORMAT = "egate-matching-calibration/1"

# Larger than any float: a JSON integer beyond it cannot become a duration.
_LONGEST = 2**1024


def _one_line(text: str) -> str:
    """``text`` with line breaks and other control characters escaped."""
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in text)


def load_empirical_csv(path: Path, column: str) -> Empirical:
    """The durations (seconds) in one column of a CSV file whose first line names the columns.

    Raises ``ValueError`` with a one-line message naming the file, the line
    and what is wrong.
    """
    values: list[float] = []
    try:
        # utf-8-sig: spreadsheets often start CSV files with a byte order mark.
        with path.open(encoding="utf-8-sig", newline="") as stream:
            # strict: a stray quote is an error, not part of a number.
            reader = csv.reader(stream, strict=True)
            header = next(reader, None)
            if header is None:
                raise ValueError(f"{path}: empty, expected a header line naming {column!r}")
            names = [name.strip() for name in header]
            if column not in names:
                raise ValueError(
                    f"{path}:{reader.line_num}: no column {column!r} "
                    f"(columns: {', '.join(map(repr, names))})"
                )
            index = names.index(column)
            for row in reader:
                if not row:  # a blank line
                    continue
                values.append(_duration_cell(row, index, f"{path}:{reader.line_num}", column))
    except OSError as error:
        raise ValueError(_one_line(f"{path}: cannot read: {error.strerror or error}")) from None
    except UnicodeDecodeError as error:
        raise ValueError(_one_line(f"{path}: not UTF-8 text ({error.reason})")) from None
    except csv.Error as error:
        raise ValueError(_one_line(f"{path}:{reader.line_num}: not valid CSV: {error}")) from None
    except ValueError as error:
        raise ValueError(_one_line(str(error))) from None
    if not values:
        raise ValueError(_one_line(f"{path}: no values in column {column!r}"))
    return Empirical(values)


def _duration_cell(row: list[str], index: int, where: str, column: str) -> float:
    """The duration in ``row[index]``; ``where`` is ``file:line`` for the error."""
    text = row[index].strip() if index < len(row) else ""
    if not text:
        raise ValueError(f"{where}: column {column!r} is empty")
    try:
        value = float(text)
    except ValueError:
        shown = reprlib.repr(text)
        raise ValueError(f"{where}: column {column!r}: {shown} is not a number") from None
    if not math.isfinite(value):
        raise ValueError(f"{where}: column {column!r}: {text!r} is not a finite number")
    if value < 0:
        raise ValueError(f"{where}: column {column!r}: {text} is negative (durations are >= 0)")
    return value


def load_calibration(path: Path) -> Empirical:
    """The matching core's measured service times from ``egate biometrics bench --out``.

    Raises ``ValueError`` with a one-line message naming the file and what is wrong.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ValueError(_one_line(f"{path}: cannot read: {error.strerror or error}")) from None
    except UnicodeDecodeError as error:
        raise ValueError(_one_line(f"{path}: not UTF-8 text ({error.reason})")) from None
    except json.JSONDecodeError as error:
        raise ValueError(_one_line(f"{path}:{error.lineno}: not valid JSON: {error.msg}")) from None
    try:
        return Empirical(_calibration_samples(data, path))
    except ValueError as error:
        raise ValueError(_one_line(str(error))) from None


def _calibration_samples(data: object, path: Path) -> list[float]:
    if not isinstance(data, dict):
        raise ValueError(f"{path}: not a calibration file (expected a JSON object)")
    found = data.get("format")
    if found != CALIBRATION_FORMAT:
        raise ValueError(
            f"{path}: not a calibration file "
            f"(format {reprlib.repr(found)}, expected {CALIBRATION_FORMAT!r})"
        )
    service = data.get("service_time_seconds")
    samples = service.get("samples") if isinstance(service, dict) else None
    if not isinstance(samples, list) or not samples:
        raise ValueError(f"{path}: service_time_seconds.samples: expected a list of durations")
    durations = []
    for index, value in enumerate(samples):
        # bool is an int to Python, but true is no duration.
        if isinstance(value, bool) or not isinstance(value, int | float):
            problem = f"{reprlib.repr(value)} is not a number"
        # A huge JSON integer overflows float(); compare it as it is.
        elif value < 0 or value > _LONGEST or not math.isfinite(value):
            problem = f"{reprlib.repr(value)} is not a duration (a finite number >= 0)"
        else:
            durations.append(float(value))
            continue
        raise ValueError(f"{path}: service_time_seconds.samples[{index}]: {problem}")
    return durations


# --- chip reads -------------------------------------------------------------------------------

# The column of a CSV of chip read times.
CHIP_READS_COLUMN = "seconds"
# Rounded to the microsecond each, the timings of a read add up to its seconds within this.
_TIMINGS_SLACK_S = 1e-3


def load_chip_reads(path: Path) -> Empirical:
    """Chip read times measured with ``egate chip read``: JSON reads or a CSV of seconds.

    JSON: what ``egate chip read --json`` prints, once per read, the objects
    one after another in the file (``egate chip read ... --json >> reads.json``
    after each read), or a JSON array of them. Each read's ``seconds`` is its
    duration; its ``timings`` (when there) must add up to it, and a read whose
    ``status`` is not ``OK`` is refused (a chip that was not read times
    nothing). CSV: a header line naming a ``seconds`` column, then one read per
    line. A file that begins with ``{`` or ``[`` is JSON, anything else CSV.

    Raises ``ValueError`` with a one-line message naming the file, the line
    and the field.
    """
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as error:
        raise ValueError(_one_line(f"{path}: cannot read: {error.strerror or error}")) from None
    except UnicodeDecodeError as error:
        raise ValueError(_one_line(f"{path}: not UTF-8 text ({error.reason})")) from None
    if not text.lstrip().startswith(("{", "[")):
        return load_empirical_csv(path, CHIP_READS_COLUMN)
    try:
        return Empirical(_chip_read_seconds(text, path))
    except ValueError as error:
        raise ValueError(_one_line(str(error))) from None


def _line_at(text: str, index: int) -> int:
    return text.count("\n", 0, index) + 1


def _chip_read_seconds(text: str, path: Path) -> list[float]:
    """The seconds of every read in ``text``: JSON values one after another."""
    decoder = json.JSONDecoder()
    durations: list[float] = []
    index = 0
    while True:
        while index < len(text) and text[index].isspace():
            index += 1
        if index == len(text):
            break
        try:
            value, end = decoder.raw_decode(text, index)
        except json.JSONDecodeError as error:
            raise ValueError(f"{path}:{error.lineno}: not valid JSON: {error.msg}") from None
        if isinstance(value, list):
            starts = _item_starts(text, index, end)
            for item, start in zip(value, starts, strict=True):
                durations.append(_one_read(item, text, start, path, len(durations) + 1))
        else:
            durations.append(_one_read(value, text, index, path, len(durations) + 1))
        index = end
    if not durations:
        raise ValueError(f"{path}: no chip reads (expected the JSON of `egate chip read --json`)")
    return durations


def _one_read(value: object, text: str, start: int, path: Path, number: int) -> float:
    """The duration of one read (``number``, counted from 1), the JSON value at ``start``."""
    where = f"{path}:{_line_at(text, start)}: read {number}"
    if not isinstance(value, dict):
        raise ValueError(f"{where}: expected the JSON object of `egate chip read --json`")
    keys = _key_lines(text, start)

    def at(key: str) -> str:
        return f"{path}:{keys.get(key, _line_at(text, start))}: read {number}: {key}"

    status = value.get("status", "OK")
    if status != "OK":
        raise ValueError(
            f"{at('status')}: {reprlib.repr(status)}: only a chip that was read times a read"
        )
    seconds = value.get("seconds")
    timings = value.get("timings")
    total = None
    if timings is not None:
        total = _timings_total(timings, at("timings"))
    if seconds is None:
        if total is None:
            raise ValueError(f"{where}: no seconds and no timings: not a chip read")
        return total
    problem = _not_a_duration(seconds)
    if problem:
        raise ValueError(f"{at('seconds')}: {problem}")
    if total is not None and abs(total - float(seconds)) > _TIMINGS_SLACK_S:
        raise ValueError(
            f"{at('seconds')}: {float(seconds):g} s, but its timings add up to {total:g} s"
        )
    return float(seconds)


def _timings_total(timings: object, where: str) -> float:
    if not isinstance(timings, list):
        raise ValueError(f"{where}: expected a list of steps")
    total = 0.0
    for index, step in enumerate(timings):
        seconds = step.get("seconds") if isinstance(step, dict) else None
        problem = _not_a_duration(seconds)
        if problem:
            raise ValueError(f"{where}[{index}].seconds: {problem}")
        total += float(seconds)  # type: ignore[arg-type]  # (checked above)
    return total


def _not_a_duration(value: object) -> str:
    """Why ``value`` is no duration in seconds; empty when it is one."""
    # bool is an int to Python, but true is no duration.
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"{reprlib.repr(value)} is not a number"
    if value < 0 or value > _LONGEST or not math.isfinite(value):
        return f"{reprlib.repr(value)} is not a duration (a finite number >= 0)"
    return ""


def _key_lines(text: str, start: int) -> dict[str, int]:
    """The lines of the keys of the JSON object that begins at ``start`` (its own, not nested)."""
    lines: dict[str, int] = {}
    depth = 0
    index = start
    while index < len(text):
        char = text[index]
        if char == '"':
            end = _string_end(text, index)
            if depth == 1 and text[end:].lstrip().startswith(":"):
                lines.setdefault(json.loads(text[index:end]), _line_at(text, index))
            index = end
            continue
        if char in "{[":
            depth += 1
        elif char in "}]":
            depth -= 1
            if depth == 0:
                break
        index += 1
    return lines


def _item_starts(text: str, start: int, end: int) -> list[int]:
    """Where each item of the JSON array spanning ``start``..``end`` begins."""
    starts: list[int] = []
    depth = 0
    index = start
    expecting = False
    while index < end:
        char = text[index]
        if char.isspace():
            index += 1
            continue
        if depth == 1 and expecting and char != "]":
            starts.append(index)
            expecting = False
        if char == '"':
            index = _string_end(text, index)
            continue
        if char in "{[":
            depth += 1
            if depth == 1:
                expecting = True
        elif char in "}]":
            depth -= 1
        elif char == "," and depth == 1:
            expecting = True
        index += 1
    return starts


def _string_end(text: str, start: int) -> int:
    """The index just past the JSON string that begins at ``start``."""
    index = start + 1
    while index < len(text):
        if text[index] == "\\":
            index += 2
        elif text[index] == '"':
            return index + 1
        else:
            index += 1
    return index
