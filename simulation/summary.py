"""What several replications of one configuration say together: each figure with its interval.

Every figure of a run (``simulation.statistics.RunResult``) is averaged over
the replications, with its 95% confidence interval (``Estimate``);
``Summary`` holds them all, and the interval table's columns the same way.

The interval is Student's t over the replications' values, cut to the
figure's range: [0, 1] for a share, [0, inf) for everything else a run
measures (waits, counts, queue lengths, rates). The replication is the
independent unit: travellers of one run share its queues, so their
outcomes are not independent draws, and an interval that counted them as
such (a binomial or Wilson interval on all travellers pooled) would be far
too narrow. A bootstrap over the replications stays in range too, but with
three replications it can only say the values' own spread, too narrow
again. Cutting the t interval at the edge of the range keeps its coverage
(the true value lies inside the range anyway) and makes it one-sided there,
so ``low`` and ``high`` need not be equally far from the mean.

Figures that are genuinely independent trials, such as impostors let
through among impostors (each one's match is an independent draw), get a
Wilson score interval on the counts pooled over the replications
(``Estimate.pooled``): it stays within [0, 1] and is not empty when
nobody was let through.
"""

from __future__ import annotations

import functools
import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any

from simulation.queueing import mean_confidence_interval, student_t_quantile
from simulation.statistics import INTERVAL_SHARES, SHARES, Interval, RunResult, plain

__all__ = ["Estimate", "Summary", "figure_range", "wilson_interval"]


@dataclass(frozen=True, slots=True)
class Estimate:
    """A figure's mean over replications with its 95% confidence interval (NaN with one)."""

    mean: float
    low: float
    high: float
    replications: int

    @classmethod
    def of(
        cls, values: Sequence[float], floor: float = -math.inf, ceiling: float = math.inf
    ) -> Estimate:
        """The estimate from the replications' values (non-finite ones left out).

        The interval is Student's t, cut to [``floor``, ``ceiling``], the
        range the figure cannot leave (a share's [0, 1], a wait's [0, inf));
        a paired difference has no range. The same interval as
        ``queueing.mean_confidence_interval``, with the t quantile computed
        once per number of replications: a summary holds hundreds of
        figures, and the quantile is the costly part.
        """
        finite = [value for value in values if math.isfinite(value)]
        if not finite:
            return cls(math.nan, math.nan, math.nan, 0)
        if len(finite) == 1:
            mean, low, high = mean_confidence_interval(finite)
            return cls(mean, low, high, 1)
        # In range, should rounding put the mean of values in range a hair outside it
        # (a utilisation of 1 + 2e-16).
        mean = min(max(statistics.fmean(finite), floor), ceiling)
        half = _t_95(len(finite) - 1) * statistics.stdev(finite) / math.sqrt(len(finite))
        low = float(min(mean, max(mean - half, floor)))
        high = float(max(mean, min(mean + half, ceiling)))
        return cls(mean, low, high, len(finite))

    @classmethod
    def pooled(cls, successes: Sequence[float], trials: Sequence[float]) -> Estimate:
        """A share of independent trials, pooled over the replications, with Wilson's interval.

        ``successes[r]`` of ``trials[r]`` in replication ``r``; NaN when
        there were no trials at all.
        """
        hits, total = float(sum(successes)), float(sum(trials))
        if total <= 0:
            return cls(math.nan, math.nan, math.nan, 0)
        low, high = wilson_interval(hits, total)
        return cls(hits / total, low, high, len(trials))

    @property
    def symmetric(self) -> bool:
        """Whether the interval is ``mean ± half-width`` (not cut at the edge of a range)."""
        below, above = self.mean - self.low, self.high - self.mean
        return abs(below - above) <= 1e-9 * max(1.0, abs(self.mean), below, above)


def wilson_interval(successes: float, trials: float) -> tuple[float, float]:
    """Wilson's 95% score interval for a share of ``successes`` in ``trials`` independent trials.

    It inverts the normal test of the share rather than centring on the
    observed one, so it stays within [0, 1] and has width even at 0 or all.
    """
    if trials <= 0 or not 0 <= successes <= trials:
        raise ValueError(f"need 0 <= successes <= trials and trials > 0 (got {successes}/{trials})")
    z = _t_95(0)
    share = successes / trials
    z2n = z * z / trials
    centre = (share + z2n / 2) / (1 + z2n)
    half = z * math.sqrt(share * (1 - share) / trials + z2n / (4 * trials)) / (1 + z2n)
    # The exact ends, where rounding would leave them a hair inside.
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == trials else min(1.0, centre + half)
    return low, high


def figure_range(key: str) -> tuple[float, float]:
    """The range figure ``key`` of a run (a dotted metric or an interval column) cannot leave."""
    if key in SHARES or key in INTERVAL_SHARES:
        return 0.0, 1.0
    return 0.0, math.inf


@functools.lru_cache(maxsize=128)
def _t_95(df: int) -> float:
    """The quantile of a two-sided 95% interval: Student's t, or the normal's for ``df`` 0."""
    return student_t_quantile(0.975, df if df > 0 else math.inf)


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
            values = [flat.get(key, missing) for flat in flats]
            metrics[key] = Estimate.of(values, *figure_range(key))
        longest = max(runs, key=lambda run: len(run.intervals))
        clocks = tuple(row.clock for row in longest.intervals)
        return cls(runs[0].name, tuple(runs), metrics, clocks, _interval_estimates(runs))

    def __getitem__(self, key: str) -> Estimate:
        return self.metrics[key]

    def values(self, key: str) -> list[float]:
        """The figure ``key`` of each run, in the runs' order (NaN where a run has none)."""
        missing = 0.0 if key.startswith(_COUNTERS) else math.nan
        return [_flatten(run.to_json()).get(key, missing) for run in self.runs]

    def pooled(self, successes: str, trials: str) -> Estimate:
        """The share ``successes / trials`` of two count figures over all runs (Wilson's interval).

        For trials that are independent of one another, such as impostors
        at the gates and those let through.
        """
        return Estimate.pooled(self.values(successes), self.values(trials))

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


_INTERVAL_COUNTS = ("arrivals", "gate_joins", "desk_joins", "departures")


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
            row[column] = Estimate.of(values, *figure_range(column))
        table.append(row)
    return tuple(table)
