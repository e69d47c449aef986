"""Measured durations read from files: a CSV column, or the matching core's calibration.

A planner who has timed travellers at a gate gives the model those times
(``{kind: empirical, file: times.csv, column: seconds}``), and the matching
core's service time comes from the calibration file of ``egate biometrics
bench --out`` (``{kind: calibration, file: bench.json}``). Both become an
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

__all__ = ["CALIBRATION_FORMAT", "load_calibration", "load_empirical_csv"]

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
