"""What a run of the hall model measured.

(A little past the ~400-line guideline: one run's figures, waits, queue
lengths, utilisation, Little's check and the interval table, all made from
the same records and the same level curves.)

SimPy keeps no statistics; this module makes them from the raw records of a
replication (``simulation.records``, filled by ``simulation.hall``):

* **Waiting** is time spent queuing, in up to three queues: for a gate
  (from arrival to the gate taking the traveller), for a worker of the
  central matching core (inside the gate, from asking for a verification to
  a worker taking it up), and for a desk (desk travellers and referrals,
  from reaching the desk queue to an officer). A traveller's wait is the sum
  of the three; the service level and the percentiles of ``waits`` are of
  that sum, and ``gate_waits``, ``core_waits`` and ``desk_waits`` show each
  queue apart, over the travellers who joined it. Time in service (at a
  gate's steps, the verification itself, a desk) is not waiting. A traveller
  still queuing when the run was cut off counts with the wait so far.
* **Percentiles** use numpy's default rule ("linear"): the p-th percentile
  of n sorted values is interpolated at position ``p/100 * (n - 1)``.
* **Time-weighted** means weigh each value by how long it held: the mean
  queue length is the area under the queue-length curve divided by the
  time.
* **Utilisation** is busy time over available time: a gate is available
  while open and not failed, a desk while on duty (each including the time
  spent finishing a traveller after closing); the matching core over the
  whole run. A gate whose traveller waits for the core is busy.
* **Little's law**, L = lambda W, links three measurements taken
  independently: L from the queue-length curve kept during the run, lambda
  from the number of travellers, W from their own waits. Over a run that
  starts and ends empty it holds exactly, so ``RunResult.little`` is a
  check that the books balance.
* The **interval table** cuts the run into ``interval_min`` slices: demand
  (arrivals, and who joined the gate and the desk queues), departures, the
  mean and p95 total wait of travellers whose last wait ended in it, each
  queue's own wait by the slice it ended in, time-weighted queue lengths,
  capacity (gates open, desks on duty) and utilisation.

Every figure of a run is a count, a duration, a length, a rate or a share:
none is negative, and shares (``SHARES``) lie within [0, 1]. Several
replications together: ``simulation.summary``.
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
    "INTERVAL_SHARES",
    "SHARES",
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

# The figures of ``RunResult.to_json()`` (dotted) and the interval table's columns
# that are shares, within [0, 1]; every other figure is at least 0.
SHARES = frozenset(
    {
        "service_level.share",
        "service_level.clearance_share",
        "service_level.target_share",
        "service_level.met",
        "utilisation.gates",
        "utilisation.desks",
        "utilisation.matching",
    }
)
INTERVAL_SHARES = frozenset({"gate_utilisation", "desk_utilisation"})


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
    """Time-weighted mean and maximum number of travellers waiting, per queue.

    The core's queue is of travellers standing in a gate for a matching worker
    (0 without a central core).
    """

    gate_mean: float
    gate_max: int
    core_mean: float
    core_max: int
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
    gate_joins: int  # joined the gate queue (demand on the gates)
    desk_joins: int  # joined the desk queue: desk travellers and referrals
    departures: int
    wait_mean_s: float  # total waits, by the slice the traveller's last wait ended in
    wait_p95_s: float
    gate_wait_mean_s: float  # each queue's waits, by the slice they ended in
    gate_wait_p95_s: float
    core_wait_mean_s: float
    core_wait_p95_s: float
    desk_wait_mean_s: float
    desk_wait_p95_s: float
    gate_queue_mean: float
    core_queue_mean: float
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
    waits: WaitStats  # each traveller's total: gate queue + matching core + desk queue
    waits_by_class: dict[str, WaitStats]
    gate_waits: WaitStats  # the queue for a gate, of those who joined it
    core_waits: WaitStats  # for a matching core worker, of those who asked one
    desk_waits: WaitStats  # the desk queue, of those who joined it
    time_in_hall: WaitStats
    service_level: ServiceLevelResult
    queue: QueueLengths
    utilisation: Utilisation
    outcomes: dict[str, int]  # gate transactions by outcome
    referral_reasons: dict[str, int]  # by the first reason the controller gave
    referrals: int  # travellers the gates sent to the desks
    impostors: int  # gate transactions of impostors
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
    at_core = ~np.isnan(records.core_asked)
    core_started = np.where(np.isnan(records.core_start), end, records.core_start)
    core_wait = np.where(at_core, core_started - records.core_asked, 0.0)
    desk_started = np.where(np.isnan(records.desk_start), end, records.desk_start)
    desk_wait = np.where(at_desk, desk_started - records.desk_join, 0.0)
    wait = gate_wait + core_wait + desk_wait
    in_hall = np.where(np.isnan(left), end, left) - arrived
    finished = ~np.isnan(left)

    level = config.service_level
    max_wait_s, clearance_s = level.max_wait_min * 60.0, level.clearance_min * 60.0
    share = float(np.mean(wait <= max_wait_s)) if count else math.nan
    cleared = float(np.mean(finished & (in_hall <= clearance_s))) if count else math.nan

    edges = _edges(end, config.interval_min * 60.0)
    intervals = _intervals(records, edges, wait, gate_wait, core_wait, desk_wait)
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
    false_accepts = impostors = 0
    codes, tallies = np.unique(records.decision_of[served_at_gate], return_counts=True)
    for code, tally in zip(codes.tolist(), tallies.tolist(), strict=True):
        decision = decisions[code]
        if decision.impostor:
            impostors += tally
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
        core_waits=WaitStats.of(core_wait[at_core]),
        desk_waits=WaitStats.of(desk_wait[at_desk]),
        time_in_hall=WaitStats.of(in_hall),
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
            core_mean=_ratio(records.core_queue_area, end),
            core_max=records.core_queue_max,
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
        impostors=impostors,
        false_accepts=false_accepts,
        intervals=intervals,
        little={
            "gate_queue": _little(records.gate_queue_area, end, gate_wait[uses_gate]),
            "core_queue": _little(records.core_queue_area, end, core_wait[at_core]),
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


def _by_slice(
    times: FloatArray, values: FloatArray, width: float, bins: int
) -> tuple[FloatArray, FloatArray]:
    """Mean and p95 of ``values`` per slice of ``width`` their ``times`` fall in (NaN: none).

    Vectorised (one sort for all slices, numpy's linear percentile rule),
    since a day has a hundred slices and four columns of waits.
    """
    known = ~np.isnan(times)
    slot = np.minimum((times[known] // width).astype(np.int64), bins - 1)
    found = values[known]
    order = np.lexsort((found, slot))
    slot, found = slot[order], found[order]
    counts = np.bincount(slot, minlength=bins)
    sums = np.bincount(slot, weights=found, minlength=bins)
    some = counts > 0
    means: FloatArray = np.full(bins, np.nan)
    means[some] = sums[some] / counts[some]
    first = (np.cumsum(counts) - counts)[some]
    position = 0.95 * (counts[some] - 1)
    below = np.floor(position).astype(np.int64)
    fraction = position - below
    low = found[first + below]
    high = found[first + np.minimum(below + 1, counts[some] - 1)]
    # numpy's interpolation, from whichever neighbour is nearer.
    step = high - low
    p95s: FloatArray = np.full(bins, np.nan)
    p95s[some] = np.where(fraction >= 0.5, high - step * (1 - fraction), low + step * fraction)
    return means, p95s


def _intervals(
    records: HallRecords,
    edges: FloatArray,
    wait: FloatArray,
    gate_wait: FloatArray,
    core_wait: FloatArray,
    desk_wait: FloatArray,
) -> tuple[Interval, ...]:
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
    gate_joins = histogram(arrived[uses_gate])
    desk_joins = histogram(records.desk_join)
    departures = histogram(records.left)
    # A traveller's total wait belongs to the interval in which their last wait
    # ended: at a desk, else at the core, else at a gate; each queue's own wait to
    # the interval in which it ended. Waits cut off by the end of the run have
    # no end and stay out of the table.
    last_start = np.where(
        np.isnan(records.desk_join),
        np.where(np.isnan(records.core_asked), records.gate_start, records.core_start),
        records.desk_start,
    )
    gate_mean, gate_p95 = _by_slice(records.gate_start, gate_wait, width, bins)
    if np.isnan(records.core_asked).all() and np.isnan(records.desk_join).all():
        # Gates alone: every wait is a gate queue's, ended where it started service.
        wait_mean, wait_p95 = gate_mean, gate_p95
    else:
        wait_mean, wait_p95 = _by_slice(last_start, wait, width, bins)
    core_mean, core_p95 = _by_slice(records.core_start, core_wait, width, bins)
    desk_mean, desk_p95 = _by_slice(records.desk_start, desk_wait, width, bins)

    def cut(times: FloatArray) -> FloatArray:
        return np.where(np.isnan(times), end, times)

    # Integrals stop at the end of the run, where the last interval may stop short.
    edges = np.minimum(edges, end)

    gate_queue = _spans(arrived[uses_gate], cut(records.gate_start)[uses_gate], edges)
    core_queue = _spans(records.core_asked, cut(records.core_start), edges)
    desk_queue = _spans(records.desk_join, cut(records.desk_start), edges)
    gate_busy = _spans(records.gate_start, cut(records.gate_end), edges)
    desk_busy = _spans(records.desk_start, cut(records.desk_end), edges)
    gates_open = _availability(records.gate_availability, edges)
    desks_on = _availability(records.desk_availability, edges)
    lengths = np.diff(edges).tolist()
    wait_mean, wait_p95 = wait_mean.tolist(), wait_p95.tolist()
    gate_mean, gate_p95 = gate_mean.tolist(), gate_p95.tolist()
    core_mean, core_p95 = core_mean.tolist(), core_p95.tolist()
    desk_mean, desk_p95 = desk_mean.tolist(), desk_p95.tolist()
    base = records.config.start
    starts = (np.arange(bins) * width).tolist()
    rows = []
    for index in range(bins):
        span: float = lengths[index]
        rows.append(
            Interval(
                start_s=starts[index],
                clock=clock(base + starts[index]),
                arrivals=int(arrivals[index]),
                gate_joins=int(gate_joins[index]),
                desk_joins=int(desk_joins[index]),
                departures=int(departures[index]),
                wait_mean_s=wait_mean[index],
                wait_p95_s=wait_p95[index],
                gate_wait_mean_s=gate_mean[index],
                gate_wait_p95_s=gate_p95[index],
                core_wait_mean_s=core_mean[index],
                core_wait_p95_s=core_p95[index],
                desk_wait_mean_s=desk_mean[index],
                desk_wait_p95_s=desk_p95[index],
                gate_queue_mean=_ratio(float(gate_queue[index]), span),
                core_queue_mean=_ratio(float(core_queue[index]), span),
                desk_queue_mean=_ratio(float(desk_queue[index]), span),
                gates_open_mean=_ratio(float(gates_open[index]), span),
                desks_on_duty_mean=_ratio(float(desks_on[index]), span),
                gate_utilisation=_ratio(float(gate_busy[index]), float(gates_open[index])),
                desk_utilisation=_ratio(float(desk_busy[index]), float(desks_on[index])),
            )
        )
    return tuple(rows)
