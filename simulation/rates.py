"""The rate table of ``egate biometrics eval --out``: FMR and FNMR by threshold.

A hall model can take its biometric error rates from the ``rates.csv`` that
``egate biometrics eval`` writes (``gates.biometrics.rates_file``), at the
threshold it gives; ``read_rates`` reads the table and ``interpolate`` reads
it at a threshold between two rows.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

__all__ = ["interpolate", "read_rates"]


def read_rates(path: Path) -> list[tuple[float, float, float]]:
    """(threshold, fmr, fnmr) rows of a rates.csv, sorted by threshold."""
    rows: list[tuple[float, float, float]] = []
    try:
        with path.open(encoding="utf-8-sig", newline="") as stream:
            reader = csv.DictReader(stream)
            missing = {"threshold", "fmr", "fnmr"} - set(reader.fieldnames or ())
            if missing:
                raise ValueError(f"{path.name}: no column {', '.join(sorted(missing))}")
            for row in reader:
                try:
                    values = tuple(float(row[name]) for name in ("threshold", "fmr", "fnmr"))
                except (TypeError, ValueError):
                    raise ValueError(
                        f"{path.name}:{reader.line_num}: threshold, fmr and fnmr must be numbers"
                    ) from None
                if not all(math.isfinite(value) for value in values) or not (
                    0 <= values[1] <= 1 and 0 <= values[2] <= 1
                ):
                    raise ValueError(f"{path.name}:{reader.line_num}: rates must be in [0, 1]")
                rows.append((values[0], values[1], values[2]))
    except OSError as error:
        raise ValueError(f"cannot read {path}: {error.strerror or error}") from None
    except (UnicodeDecodeError, csv.Error) as error:
        raise ValueError(f"{path.name}: not a CSV rate table ({error})") from None
    if not rows:
        raise ValueError(f"{path.name}: no rows")
    return sorted(rows)


def interpolate(rows: list[tuple[float, float, float]], threshold: float) -> tuple[float, float]:
    """(fmr, fnmr) at ``threshold``, linear between the neighbouring rows."""
    for index, (at, fmr, fnmr) in enumerate(rows):
        if abs(at - threshold) <= 1e-9:
            return fmr, fnmr
        if at > threshold:
            before = rows[index - 1]
            weight = (threshold - before[0]) / (at - before[0])
            return (
                before[1] + weight * (fmr - before[1]),
                before[2] + weight * (fnmr - before[2]),
            )
    return rows[-1][1], rows[-1][2]
