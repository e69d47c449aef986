"""What a run of the hall model measured.

(A little past the ~400-line guideline: one run's figures, waits, queue
lengths, utilisation, Little's check and the interval table, all made from
the same records and the same level curves.)

SimPy keeps no statistics; this module makes them from the raw records of a
replication (``simulation.records``, filled by ``simulation.hall``):

* **Waiting** is time spent queuing: in the gate queue, plus in the desk
  queue for those who end up at a desk (desk travellers and referrals).
  Time in service (at a gate, a desk, or waiting for the matching core
  inside a gate) is not waiting. A traveller still queuing when the run was
  cut off counts with the wait so far.
* **Percentiles** use numpy's default rule ("linear"): the p-th percentile
  of n sorted values is interpolated at position ``p/100 * (n - 1)``.
* **Time-weighted** means weigh each value by how long it held: the mean
  queue length is the area under the queue-length curve divided by the
  time.
* **Utilisation** is busy time over available time: a gate is available
  while open and not failed, a desk while on duty (each including the time
  spent finishing a traveller after closing); the matching core over the
  whole run.
* **Little's law**, L = lambda W, links three measurements taken
  independently: L from the queue-length curve kept during the run, lambda
  from the number of travellers, W from their own waits. Over a run that
  starts and ends empty it holds exactly, so ``RunResult.little`` is a
  check that the books balance.
* The **interval table** cuts the run into ``interval_min`` slices: arrivals
  and departures in each, the mean and p95 total wait of travellers whose
  last wait ended in it, time-weighted queue lengths, servers available and
  utilisation.

Several replications together: ``simulation.summary``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, is_dataclass
from typing import Any

import numpy as np

from egate.clocktime import format_clock as clock
from simulation.records import FloatArray, HallRecords, IntArray

__all__ = [
    "Interval",
    "LittleCheck",
    "QueueLengths",
    "RunResult",
    "ServiceLevelResult",
    "Utilisation",
    "WaitStats",
    "plain",
    "summarise_run",
]

PERCENTILES = (50, 90, 95, 99)


@dataclass(frozen=True, slots=True)
class WaitStats:
    """A distribution of durations (seconds): how many, mean, percentiles and maximum."""

    count: int
    mean_s: float
    p50_s: float
    p90_s: float
    p95_s: float
    p99_s: float
    max_s: float

    @classmethod
    def of(cls, values: FloatArray) -> WaitStats:
        """The statistics of ``values`` (all NaN when there are none)."""
        if not values.size:
            nan = math.nan
            return cls(0, nan, nan, nan, nan, nan, nan)
        p50, p90, p95, p99 = (float(value) for value in np.percentile(values, PERCENTILES))
        return cls(int(values.size), float(values.mean()), p50, p90, p95, p99, float(values.max()))


@dataclass(frozen=True, slots=True)
class ServiceLevelResult:
    """The share of travellers meeting the waiting target, and the clearance target."""

    max_wait_s: float
    target_share: float
    share: float
    met: bool
    clearance_s: float
    clearance_share: float


@dataclass(frozen=True, slots=True)
class QueueLengths:
    """Time-weighted mean and maximum number of travellers waiting."""

    gate_mean: float
    gate_max: int
    desk_mean: float
    desk_max: int


@dataclass(frozen=True, slots=True)
class Utilisation:
    """Busy time over available time (NaN where nothing was available)."""

    gates: float
    desks: float
    matching: float


@dataclass(frozen=True, slots=True)
class LittleCheck:
    """L (time-average number) against lambda (arrival rate) times W (mean time)."""

    number_mean: float
    arrival_rate_per_s: float
    time_mean_s: float
    relative_error: float


@dataclass(frozen=True, slots=True)
class Interval:
    """One row of the interval table."""

    start_s: float
    clock: str
    arrivals: int
    departures: int
    wait_mean_s: float
    wait_p95_s: float
    gate_queue_mean: float
    desk_queue_mean: float
    gates_open_mean: float
    desks_on_duty_mean: float
    gate_utilisation: float
    desk_utilisation: float


@dataclass(frozen=True, slots=True)
class RunResult:
    """Everything one replication measured; ``to_json()`` gives it as plain data."""

    name: str
    seed: tuple[int, ...]  # the replication's spawn key
    duration_s: float
    arrivals: int
    arrivals_by_class: dict[str, int]
    departures: int
    unfinished: int
    throughput_per_hour: float
    peak_throughput_per_hour: float
    gate_transactions: int
    gate_throughput_per_hour: dict[str, float]  # per gate, per hour it was available
    waits: WaitStats
    waits_by_class: dict[str, WaitStats]
    gate_waits: WaitStats
    desk_waits: WaitStats
    time_in_hall: WaitStats
    matching_wait_mean_s: float
    service_level: ServiceLevelResult
    queue: QueueLengths
    utilisation: Utilisation
    outcomes: dict[str, int]  # gate transactions by outcome
    referral_reasons: dict[str, int]  # by the first reason the controller gave
    referrals: int  # travellers the gates sent to the desks
    false_accepts: int  # impostors the gates let through
    intervals: tuple[Interval, ...]
    little: dict[str, LittleCheck]

    def to_json(self) -> dict[str, Any]:
        """Plain data (dicts, lists, numbers, strings); NaN becomes None."""
        result = plain(self)
        assert isinstance(result, dict)
        return result


def plain(value: object) -> object:
    """A result as JSON-ready data: dataclasses and mappings as dicts, tuples as lists."""
    if is_dataclass(value) and not isinstance(value, type):
        return {item.name: plain(getattr(value, item.name)) for item in fields(value)}
    if isinstance(value, Mapping):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, tuple | list):
        return [plain(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _ratio(top: float, bottom: float) -> float:
    return top / bottom if bottom > 0 else math.nan


def _level_integrals(times: FloatArray, changes: FloatArray, edges: FloatArray) -> FloatArray:
    """The integral over each [edges[k], edges[k+1]) of the level that ``changes`` build.

    The level starts at 0 and changes by ``changes[j]`` at ``times[j]``.
    """
    if not times.size:
        return np.zeros(edges.size - 1)
    order = np.argsort(times, kind="stable")
    at = times[order]
    level = np.cumsum(changes[order])
    # Area up to each change point, then up to each edge.
    area_at = np.concatenate(([0.0], np.cumsum(level[:-1] * np.diff(at))))
    last = np.searchsorted(at, edges, side="right") - 1
    inside = last >= 0
    safe = np.maximum(last, 0)
    area = np.where(inside, area_at[safe] + level[safe] * (edges - at[safe]), 0.0)
    result: FloatArray = np.diff(area)
    return result


def _spans(starts: FloatArray, ends: FloatArray, edges: FloatArray) -> FloatArray:
    """Per interval, the total time covered by the spans [start, end) (NaN starts skipped)."""
    keep = ~np.isnan(starts)
    starts, ends = starts[keep], ends[keep]
    times = np.concatenate((starts, ends))
    changes = np.concatenate((np.ones(starts.size), -np.ones(ends.size)))
    return _level_integrals(times, changes, edges)


def _availability(log: Sequence[tuple[float, int]], edges: FloatArray) -> FloatArray:
    if not log:
        return np.zeros(edges.size - 1)
    times = np.array([at for at, _ in log], dtype=np.float64)
    changes = np.array([change for _, change in log], dtype=np.float64)
    return _level_integrals(times, changes, edges)


def summarise_run(records: HallRecords) -> RunResult:
    """The results of one replication from its raw records."""
    config = records.config
    end = records.end
    arrivals = records.arrivals
    count = len(arrivals)
    arrived, left = records.arrived, records.left
    uses_gate = arrivals.uses_gate()
    at_desk = ~np.isnan(records.desk_join)

    # Waits, with those cut off by the end of the run counted up to it.
    gate_started = np.where(np.isnan(records.gate_start), end, records.gate_start)
    gate_wait = np.where(uses_gate, gate_started - arrived, 0.0)
    desk_started = np.where(np.isnan(records.desk_start), end, records.desk_start)
    desk_wait = np.where(at_desk, desk_started - records.desk_join, 0.0)
    wait = gate_wait + desk_wait
    in_hall = np.where(np.isnan(left), end, left) - arrived
    finished = ~np.isnan(left)

    level = config.service_level
    max_wait_s, clearance_s = level.max_wait_min * 60.0, level.clearance_min * 60.0
    share = float(np.mean(wait <= max_wait_s)) if count else math.nan
    cleared = float(np.mean(finished & (in_hall <= clearance_s))) if count else math.nan

    edges = _edges(end, config.interval_min * 60.0)
    intervals = _intervals(records, edges, wait)
    window = max(1, round(60.0 / config.interval_min)) if 60 % config.interval_min == 0 else 1
    departures = np.array([row.departures for row in intervals], dtype=np.float64)
    if departures.size >= window:
        rolling = np.convolve(departures, np.ones(window), mode="valid")
        peak = float(rolling.max()) * 60.0 / (window * config.interval_min)
    else:
        peak = float(departures.sum()) * 3600.0 / end if end > 0 else math.nan

    decisions = records.decisions
    served_at_gate = records.decision_of >= 0
    outcomes: dict[str, int] = {}
    reasons: dict[str, int] = {}
    false_accepts = 0
    codes, tallies = np.unique(records.decision_of[served_at_gate], return_counts=True)
    for code, tally in zip(codes.tolist(), tallies.tolist(), strict=True):
        decision = decisions[code]
        outcomes[decision.outcome] = outcomes.get(decision.outcome, 0) + tally
        if decision.outcome != "accepted":
            reason = decision.reasons[0] if decision.reasons else decision.outcome.upper()
            reasons[reason] = reasons.get(reason, 0) + tally
        elif decision.impostor:
            false_accepts += tally

    names = [f"G{index + 1:02d}" for index in range(len(records.gate_served))]
    hours = end / 3600.0
    by_class = {}
    class_counts = {}
    for index, name in enumerate(arrivals.class_names):
        mine = arrivals.classes == index
        class_counts[name] = int(mine.sum())
        by_class[name] = WaitStats.of(wait[mine])

    core_capacity = records.core_workers * end
    return RunResult(
        name=config.name,
        seed=records.spawn_key,
        duration_s=end,
        arrivals=count,
        arrivals_by_class=class_counts,
        departures=int(finished.sum()),
        unfinished=int(count - finished.sum()),
        throughput_per_hour=_ratio(float(finished.sum()), hours),
        peak_throughput_per_hour=peak,
        gate_transactions=int(served_at_gate.sum()),
        gate_throughput_per_hour={
            name: _ratio(served, available / 3600.0)
            for name, served, available in zip(
                names, records.gate_served, records.gate_available_s, strict=True
            )
        },
        waits=WaitStats.of(wait),
        waits_by_class=by_class,
        gate_waits=WaitStats.of(gate_wait[uses_gate]),
        desk_waits=WaitStats.of(desk_wait[at_desk]),
        time_in_hall=WaitStats.of(in_hall),
        matching_wait_mean_s=_ratio(records.core_wait_s, records.core_requests),
        service_level=ServiceLevelResult(
            max_wait_s=max_wait_s,
            target_share=level.share,
            share=share,
            met=bool(share >= level.share) if count else True,
            clearance_s=clearance_s,
            clearance_share=cleared,
        ),
        queue=QueueLengths(
            gate_mean=_ratio(records.gate_queue_area, end),
            gate_max=records.gate_queue_max,
            desk_mean=_ratio(records.desk_queue_area, end),
            desk_max=records.desk_queue_max,
        ),
        utilisation=Utilisation(
            gates=_ratio(sum(records.gate_busy_s), sum(records.gate_available_s)),
            desks=_ratio(sum(records.desk_busy_s), sum(records.desk_available_s)),
            matching=_ratio(records.core_busy_s, core_capacity),
        ),
        outcomes=dict(sorted(outcomes.items())),
        referral_reasons=dict(sorted(reasons.items())),
        referrals=int(records.referred.sum()),
        false_accepts=false_accepts,
        intervals=intervals,
        little={
            "gate_queue": _little(records.gate_queue_area, end, gate_wait[uses_gate]),
            "desk_queue": _little(records.desk_queue_area, end, desk_wait[at_desk]),
            "hall": _little(records.hall_area, end, in_hall),
        },
    )


def _little(area: float, end: float, times: FloatArray) -> LittleCheck:
    number = _ratio(area, end)
    rate = _ratio(float(times.size), end)
    mean = float(times.mean()) if times.size else 0.0
    predicted = rate * mean
    if number == 0 and predicted == 0:
        error = 0.0
    else:
        error = abs(number - predicted) / max(abs(number), abs(predicted))
    return LittleCheck(number, rate, mean, error)


def _edges(end: float, width: float) -> FloatArray:
    count = max(1, math.ceil(end / width - 1e-9))
    return np.arange(count + 1, dtype=np.float64) * width


def _intervals(records: HallRecords, edges: FloatArray, wait: FloatArray) -> tuple[Interval, ...]:
    end = records.end
    width = edges[1] - edges[0]
    bins = edges.size - 1
    arrived = records.arrived
    uses_gate = records.arrivals.uses_gate()

    def histogram(times: FloatArray) -> IntArray:
        found = times[~np.isnan(times)]
        index = np.minimum((found // width).astype(np.int64), bins - 1)
        result: IntArray = np.bincount(index, minlength=bins)
        return result

    arrivals = histogram(arrived)
    departures = histogram(records.left)
    # A traveller's wait belongs to the interval in which their last wait ended.
    last_start = np.where(np.isnan(records.desk_join), records.gate_start, records.desk_start)
    started = ~np.isnan(last_start)
    slot = np.minimum((last_start[started] // width).astype(np.int64), bins - 1)
    order = np.argsort(slot, kind="stable")
    grouped = np.split(wait[started][order], np.searchsorted(slot[order], np.arange(1, bins)))

    def cut(times: FloatArray) -> FloatArray:
        return np.where(np.isnan(times), end, times)

    # Integrals stop at the end of the run, where the last interval may stop short.
    edges = np.minimum(edges, end)

    gate_queue = _spans(arrived[uses_gate], cut(records.gate_start)[uses_gate], edges)
    desk_queue = _spans(records.desk_join, cut(records.desk_start), edges)
    gate_busy = _spans(records.gate_start, cut(records.gate_end), edges)
    desk_busy = _spans(records.desk_start, cut(records.desk_end), edges)
    gates_open = _availability(records.gate_availability, edges)
    desks_on = _availability(records.desk_availability, edges)
    lengths = np.diff(edges).tolist()
    base = records.config.start
    starts = (np.arange(bins) * width).tolist()
    rows = []
    for index in range(bins):
        waits = grouped[index]
        span: float = lengths[index]
        rows.append(
            Interval(
                start_s=starts[index],
                clock=clock(base + starts[index]),
                arrivals=int(arrivals[index]),
                departures=int(departures[index]),
                wait_mean_s=float(waits.mean()) if waits.size else math.nan,
                wait_p95_s=float(np.percentile(waits, 95)) if waits.size else math.nan,
                gate_queue_mean=_ratio(float(gate_queue[index]), span),
                desk_queue_mean=_ratio(float(desk_queue[index]), span),
                gates_open_mean=_ratio(float(gates_open[index]), span),
                desks_on_duty_mean=_ratio(float(desks_on[index]), span),
                gate_utilisation=_ratio(float(gate_busy[index]), float(gates_open[index])),
                desk_utilisation=_ratio(float(desk_busy[index]), float(desks_on[index])),
            )
        )
    return tuple(rows)
