"""What several replications of one configuration say together: each figure with its interval.

Every figure of a run (``simulation.statistics.RunResult``) is averaged over
the replications, with its 95% confidence interval: Student's t over the
replications' values (``Estimate``); ``Summary`` holds them all, and the
interval table's columns the same way.
"""

from __future__ import annotations

import functools
import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any

from simulation.queueing import mean_confidence_interval, student_t_quantile
from simulation.statistics import Interval, RunResult, plain

__all__ = ["Estimate", "Summary"]


@dataclass(frozen=True, slots=True)
class Estimate:
    """A figure's mean over replications with its 95% confidence interval (NaN with one)."""

    mean: float
    low: float
    high: float
    replications: int

    @classmethod
    def of(cls, values: Sequence[float]) -> Estimate:
        """The estimate from the replications' values (non-finite ones left out).

        The same interval as ``queueing.mean_confidence_interval``, with the t
        quantile computed once per number of replications: a summary holds
        hundreds of figures, and the quantile is the costly part.
        """
        finite = [value for value in values if math.isfinite(value)]
        if not finite:
            return cls(math.nan, math.nan, math.nan, 0)
        if len(finite) == 1:
            mean, low, high = mean_confidence_interval(finite)
            return cls(mean, low, high, 1)
        mean = statistics.fmean(finite)
        half = _t_95(len(finite) - 1) * statistics.stdev(finite) / math.sqrt(len(finite))
        return cls(mean, mean - half, mean + half, len(finite))


@functools.lru_cache(maxsize=128)
def _t_95(df: int) -> float:
    """The t quantile of a two-sided 95% interval with ``df`` degrees of freedom."""
    return student_t_quantile(0.975, df)


def _flatten(data: Mapping[str, object], prefix: str = "") -> dict[str, float]:
    """Numeric leaves of nested dicts as ``{"waits.mean_s": 12.3, ...}`` (lists left out)."""
    flat: dict[str, float] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(_flatten(value, f"{name}."))
        elif isinstance(value, int | float):  # bool included: a share of replications
            flat[name] = float(value)
        elif value is None:
            flat[name] = math.nan
    return flat


# Counters that a replication leaves out when they are zero (a reason nobody had).
_COUNTERS = ("outcomes.", "referral_reasons.", "arrivals_by_class.")


@dataclass(frozen=True, slots=True)
class Summary:
    """Replications of one configuration: every figure as an ``Estimate``, and the runs.

    ``metrics`` is keyed by the dotted path of the figure in
    ``RunResult.to_json()`` (``"waits.p95_s"``, ``"utilisation.gates"``,
    ``"waits_by_class.egate.mean_s"``, ...). ``intervals`` holds the interval
    table's columns per row, over as many rows as the longest run had
    (``interval_clocks`` names their start times); a run that was over by
    then counts as having had no arrivals, departures or queue there.
    """

    name: str
    runs: tuple[RunResult, ...]
    metrics: dict[str, Estimate]
    interval_clocks: tuple[str, ...]
    intervals: tuple[dict[str, Estimate], ...]

    @classmethod
    def of(cls, runs: Sequence[RunResult]) -> Summary:
        """The summary of ``runs`` (at least one)."""
        if not runs:
            raise ValueError("a summary needs at least one run")
        flats = [_flatten(run.to_json()) for run in runs]
        keys = sorted({key for flat in flats for key in flat} - {"seed"})
        metrics = {}
        for key in keys:
            missing = 0.0 if key.startswith(_COUNTERS) else math.nan
            metrics[key] = Estimate.of([flat.get(key, missing) for flat in flats])
        longest = max(runs, key=lambda run: len(run.intervals))
        clocks = tuple(row.clock for row in longest.intervals)
        return cls(runs[0].name, tuple(runs), metrics, clocks, _interval_estimates(runs))

    def __getitem__(self, key: str) -> Estimate:
        return self.metrics[key]

    def values(self, key: str) -> list[float]:
        """The figure ``key`` of each run, in the runs' order (NaN where a run has none)."""
        missing = 0.0 if key.startswith(_COUNTERS) else math.nan
        return [_flatten(run.to_json()).get(key, missing) for run in self.runs]

    def to_json(self, include_runs: bool = False) -> dict[str, Any]:
        """Plain data: metrics and interval table as ``{mean, low, high, replications}``."""
        data: dict[str, Any] = {
            "name": self.name,
            "replications": len(self.runs),
            "metrics": {key: plain(asdict(value)) for key, value in self.metrics.items()},
            "intervals": [
                {"clock": at} | {key: plain(asdict(value)) for key, value in row.items()}
                for at, row in zip(self.interval_clocks, self.intervals, strict=True)
            ],
        }
        if include_runs:
            data["runs"] = [run.to_json() for run in self.runs]
        return data


_INTERVAL_COUNTS = ("arrivals", "departures")


def _interval_estimates(runs: Sequence[RunResult]) -> tuple[dict[str, Estimate], ...]:
    rows = max(len(run.intervals) for run in runs)
    columns = [item.name for item in fields(Interval) if item.name not in ("start_s", "clock")]
    table = []
    for index in range(rows):
        row: dict[str, Estimate] = {}
        for column in columns:
            values = []
            for run in runs:
                if index < len(run.intervals):
                    values.append(float(getattr(run.intervals[index], column)))
                elif column in _INTERVAL_COUNTS or column.endswith("queue_mean"):
                    values.append(0.0)  # the run was over: nobody came, nobody waited
            row[column] = Estimate.of(values)
        table.append(row)
    return tuple(table)
