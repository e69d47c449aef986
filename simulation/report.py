"""Reports of simulation results: terminal tables, JSON and CSV (the plots: ``simulation.plots``).

(A little past the ~400-line guideline: the report of one configuration and
that of a sweep are one concept, sharing their figures, formats and CSV.)

Every figure is an ``Estimate``: its mean over the replications and a 95%
confidence interval. In tables a figure reads ``mean ± half-width``; in
JSON it is ``{"mean", "low", "high", "replications"}`` (``null`` where not
defined, such as an interval of one replication); in CSV the same four
columns. The JSON of one configuration (``report_json``) and of a sweep
(``sweep_json``) are described in ``docs/simulation.md``.
"""

from __future__ import annotations

import csv
import io
import math
import statistics
from collections.abc import Iterable, Sequence
from typing import Any

from rich import box
from rich.table import Table

from simulation.config import HallConfig
from simulation.summary import Estimate, Summary
from simulation.sweep import PARAMETERS, Sweep, SweepResult, meets_service_level

__all__ = [
    "REPORT_FORMAT",
    "SWEEP_FORMAT",
    "class_table",
    "estimate_json",
    "figure_of",
    "headline",
    "intervals_csv",
    "per_gate_throughput",
    "report_json",
    "summary_csv",
    "summary_table",
    "sweep_answer",
    "sweep_csv",
    "sweep_json",
    "sweep_table",
    "traveller_classes",
    "verdict",
]

REPORT_FORMAT = "egate-simulation/1"
SWEEP_FORMAT = "egate-sweep/1"
WAIT_FIELDS = ("mean_s", "p50_s", "p90_s", "p95_s", "p99_s", "max_s")
_NAN = Estimate(math.nan, math.nan, math.nan, 0)


# --- figures ---------------------------------------------------------------------------------


def _json_number(value: float) -> float | None:
    return value if math.isfinite(value) else None


def estimate_json(estimate: Estimate) -> dict[str, Any]:
    """An estimate as plain data, NaN as None."""
    return {
        "mean": _json_number(estimate.mean),
        "low": _json_number(estimate.low),
        "high": _json_number(estimate.high),
        "replications": estimate.replications,
    }


def figure_of(summary: Summary, key: str) -> Estimate:
    """The figure ``key`` of ``summary`` (NaN when it has none)."""
    return summary.metrics.get(key, _NAN)


def per_gate_throughput(summary: Summary) -> Estimate:
    """Travellers per gate per hour the gate was open, averaged over the gates of each run."""
    values = []
    for run in summary.runs:
        rates = [rate for rate in run.gate_throughput_per_hour.values() if math.isfinite(rate)]
        values.append(statistics.fmean(rates) if rates else math.nan)
    return Estimate.of(values)


def traveller_classes(summary: Summary, config: HallConfig) -> list[tuple[str, str]]:
    """(name, channel) of the classes that had travellers, in the configuration's order."""
    return [
        (name, channel)
        for name, channel in config.arrivals.class_table()
        if figure_of(summary, f"arrivals_by_class.{name}").mean > 0
    ]


def _keyed(summary: Summary, prefix: str) -> dict[str, Estimate]:
    return {
        key.removeprefix(prefix): estimate
        for key, estimate in summary.metrics.items()
        if key.startswith(prefix)
    }


def _waits(summary: Summary, prefix: str) -> dict[str, Any]:
    return {name: estimate_json(figure_of(summary, f"{prefix}.{name}")) for name in WAIT_FIELDS}


def headline(summary: Summary, config: HallConfig) -> dict[str, Any]:
    """The figures a planner reads first, as plain data (see ``docs/simulation.md``)."""
    level = config.service_level
    classes = traveller_classes(summary, config)
    return {
        "service_level": {
            "max_wait_min": level.max_wait_min,
            "target_share": level.share,
            "clearance_min": level.clearance_min,
            "met": meets_service_level(summary, config),
            "share": estimate_json(figure_of(summary, "service_level.share")),
            "clearance_share": estimate_json(figure_of(summary, "service_level.clearance_share")),
        },
        "travellers": {
            "arrivals": estimate_json(figure_of(summary, "arrivals")),
            "departures": estimate_json(figure_of(summary, "departures")),
            "unfinished": estimate_json(figure_of(summary, "unfinished")),
            "by_class": {
                name: estimate_json(figure_of(summary, f"arrivals_by_class.{name}"))
                for name, _ in classes
            },
        },
        "throughput_per_hour": {
            "overall": estimate_json(figure_of(summary, "throughput_per_hour")),
            "peak": estimate_json(figure_of(summary, "peak_throughput_per_hour")),
            "per_gate": estimate_json(per_gate_throughput(summary)),
        },
        "waits": {
            "all": _waits(summary, "waits"),
            "by_class": {name: _waits(summary, f"waits_by_class.{name}") for name, _ in classes},
            "gate_queue": _waits(summary, "gate_waits"),
            "desk_queue": _waits(summary, "desk_waits"),
        },
        "queue": {
            name: estimate_json(figure_of(summary, f"queue.{name}"))
            for name in ("gate_mean", "gate_max", "desk_mean", "desk_max")
        },
        "utilisation": {
            name: estimate_json(figure_of(summary, f"utilisation.{name}"))
            for name in ("gates", "desks", "matching")
        },
        "referrals": {
            "total": estimate_json(figure_of(summary, "referrals")),
            "by_reason": {
                reason: estimate_json(estimate)
                for reason, estimate in _keyed(summary, "referral_reasons.").items()
            },
            "false_accepts": estimate_json(figure_of(summary, "false_accepts")),
        },
    }


def report_json(summary: Summary, config: HallConfig, source: str, seed: int) -> dict[str, Any]:
    """The whole report of one configuration: headline, every metric, the interval table."""
    everything = summary.to_json()
    return {
        "format": REPORT_FORMAT,
        "name": summary.name,
        "config": source,
        "seed": seed,
        "replications": len(summary.runs),
        **headline(summary, config),
        "metrics": everything["metrics"],
        "intervals": everything["intervals"],
    }


# --- tables ------------------------------------------------------------------------------------


def _half(estimate: Estimate) -> float:
    return (estimate.high - estimate.low) / 2


def _fmt(estimate: Estimate, kind: str) -> str:
    """``mean ± half-width`` in the unit of ``kind``: s (seconds), share, count or rate.

    The half-width is left out when it is unknown (one replication) or zero.
    """
    mean = estimate.mean
    if not math.isfinite(mean):
        return "-"
    half = _half(estimate)
    spread = math.isfinite(half) and half > 0
    if kind == "share":
        text = f"{mean:.1%}"
        return f"{text} ± {half * 100:.1f}" if spread else text
    if kind == "s":
        unit, scale = ("min", 60.0) if abs(mean) >= 600 else ("s", 1.0)
        text = f"{mean / scale:.1f} {unit}"
        return f"{text} ± {half / scale:.1f}" if spread else text
    whole = kind == "count" and mean == round(mean)
    digits = 0 if whole or abs(mean) >= 100 else 1
    text = f"{mean:,.{digits}f}"
    return f"{text} ± {half:,.{max(digits, 1 if half < 10 else 0)}f}" if spread else text


def summary_table(summary: Summary, config: HallConfig, seed: int) -> Table:
    """The headline figures of one configuration as a table."""
    level = config.service_level
    table = Table(
        title=summary.name,
        caption=f"{len(summary.runs)} replications (seed {seed}): mean ± half-width of the 95% "
        "confidence interval",
    )
    table.add_column("measure", style="bold")
    table.add_column("value", justify="right")
    rows: list[tuple[str, Estimate, str] | None] = [
        ("travellers", figure_of(summary, "arrivals"), "count"),
        ("  unfinished at the end", figure_of(summary, "unfinished"), "count"),
        ("throughput per hour", figure_of(summary, "throughput_per_hour"), "rate"),
        ("  busiest hour", figure_of(summary, "peak_throughput_per_hour"), "rate"),
        ("  per gate (per hour open)", per_gate_throughput(summary), "rate"),
        None,
    ]
    for name, label in zip(WAIT_FIELDS, ("mean", "p50", "p90", "p95", "p99", "max"), strict=True):
        rows.append((f"wait {label}", figure_of(summary, f"waits.{name}"), "s"))
    rows += [
        ("  at the gates, p95", figure_of(summary, "gate_waits.p95_s"), "s"),
        ("  at the desks, p95", figure_of(summary, "desk_waits.p95_s"), "s"),
        None,
        (
            f"waiting at most {level.max_wait_min:g} min",
            figure_of(summary, "service_level.share"),
            "share",
        ),
        (
            f"cleared within {level.clearance_min:g} min",
            figure_of(summary, "service_level.clearance_share"),
            "share",
        ),
        None,
        ("gate queue, time-weighted mean", figure_of(summary, "queue.gate_mean"), "rate"),
        ("  longest", figure_of(summary, "queue.gate_max"), "count"),
        ("desk queue, time-weighted mean", figure_of(summary, "queue.desk_mean"), "rate"),
        ("  longest", figure_of(summary, "queue.desk_max"), "count"),
        None,
        ("utilisation of gates", figure_of(summary, "utilisation.gates"), "share"),
        ("  desks", figure_of(summary, "utilisation.desks"), "share"),
        ("  matching core", figure_of(summary, "utilisation.matching"), "share"),
        None,
        ("referred to a desk", figure_of(summary, "referrals"), "count"),
    ]
    reasons = sorted(_keyed(summary, "referral_reasons.").items(), key=lambda item: -item[1].mean)
    rows += [(f"  {reason}", estimate, "count") for reason, estimate in reasons]
    rows.append(("impostors let through", figure_of(summary, "false_accepts"), "count"))
    for row in rows:
        if row is None:
            table.add_section()
        else:
            label, estimate, kind = row
            table.add_row(label, _fmt(estimate, kind))
    return table


def class_table(summary: Summary, config: HallConfig) -> Table:
    """Waits per traveller class, in seconds (means over the replications)."""
    table = Table(
        title="Waiting per traveller class, seconds (means over the replications)",
        box=box.SIMPLE_HEAD,
    )
    table.add_column("class (channel)")
    for column in ("travellers", "mean", "p50", "p90", "p95", "p99", "max"):
        table.add_column(column, justify="right", no_wrap=True)
    for name, channel in traveller_classes(summary, config):
        prefix = f"waits_by_class.{name}"
        waits = [figure_of(summary, f"{prefix}.{field}").mean for field in WAIT_FIELDS]
        travellers = _fmt(_point(figure_of(summary, f"arrivals_by_class.{name}")), "count")
        table.add_row(
            f"{name} [dim]({channel})[/]",
            travellers,
            *("-" if not math.isfinite(wait) else f"{wait:.1f}" for wait in waits),
        )
    return table


def _point(estimate: Estimate) -> Estimate:
    """The mean alone (for a compact cell)."""
    return Estimate(estimate.mean, math.nan, math.nan, 1)


def verdict(summary: Summary, config: HallConfig) -> str:
    """The answer line: met or missed, with the share and the target (rich markup)."""
    level = config.service_level
    share = _fmt(figure_of(summary, "service_level.share"), "share")
    target = f"{level.share:.0%} waiting at most {level.max_wait_min:g} min"
    if meets_service_level(summary, config):
        return f"service level ({target}): [green]met[/] ({share})"
    return f"service level ({target}): [red]missed[/] ({share})"


# --- CSV -------------------------------------------------------------------------------------


def _cell(value: float) -> str:
    return repr(value) if math.isfinite(value) else ""


def _csv(header: Sequence[str], rows: Iterable[Sequence[object]]) -> bytes:
    stream = io.StringIO()
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return stream.getvalue().encode("utf-8")


def summary_csv(summary: Summary) -> bytes:
    """Every metric: ``metric,mean,low,high,replications``."""
    metrics = {**summary.metrics, "gate_throughput_per_hour.per_gate": per_gate_throughput(summary)}
    return _csv(
        ("metric", "mean", "low", "high", "replications"),
        (
            (key, _cell(value.mean), _cell(value.low), _cell(value.high), value.replications)
            for key, value in sorted(metrics.items())
        ),
    )


def intervals_csv(summary: Summary) -> bytes:
    """The interval table: ``clock`` then, per column, its mean, ``_low`` and ``_high``."""
    columns = list(summary.intervals[0]) if summary.intervals else []
    header = ["clock"] + [f"{name}{suffix}" for name in columns for suffix in ("", "_low", "_high")]
    rows = []
    for at, row in zip(summary.interval_clocks, summary.intervals, strict=True):
        cells: list[str] = [at]
        for name in columns:
            value = row[name]
            cells += [_cell(value.mean), _cell(value.low), _cell(value.high)]
        rows.append(cells)
    return _csv(header, rows)


# --- sweeps ----------------------------------------------------------------------------------


def sweep_json(result: SweepResult, source: str, seed: int) -> dict[str, Any]:
    """A sweep as plain data: per value, its headline figures; and the smallest that meets."""
    sweep = result.sweep
    first = result.configs[0]
    smallest = result.smallest
    return {
        "format": SWEEP_FORMAT,
        "name": first.name,
        "config": source,
        "seed": seed,
        "replications": len(result.summaries[0].runs),
        "parameter": sweep.parameter,
        "values": [_number(sweep, value) for value in sweep.values],
        "smallest_meeting": None if smallest is None else _number(sweep, smallest),
        "configurations": [
            {"value": _number(sweep, value), **headline(summary, config)}
            for value, config, summary in zip(
                sweep.values, result.configs, result.summaries, strict=True
            )
        ],
    }


def _number(sweep: Sweep, value: float) -> float | int:
    return int(value) if PARAMETERS[sweep.parameter].whole else value


def sweep_table(result: SweepResult) -> Table:
    """One row per configuration of a sweep.

    The matching core's utilisation shows only if there is one, referrals only
    in a sweep of the threshold (nothing else changes them).
    """
    sweep = result.sweep
    level = result.configs[0].service_level
    core = result.configs[0].matching is not None
    referrals = sweep.parameter == "threshold"  # the only setting that changes them
    table = Table(
        title=f"Sweep of {sweep.parameter}: {len(result.summaries[0].runs)} replications each",
        caption=f"≤ {level.max_wait_min:g} min: share waiting at most that long; "
        f"≤ {level.clearance_min:g} min: share through the hall within that time; "
        f"{'gates, desks, core' if core else 'gates, desks'}: utilisation. "
        "Mean ± half-width of the 95% confidence interval.",
        box=box.SIMPLE_HEAD,
        padding=(0, 1, 0, 0),
    )
    columns = [
        sweep.parameter,
        "p95 wait",
        f"≤ {level.max_wait_min:g} min",
        f"≤ {level.clearance_min:g} min",
        "gates",
        "desks",
        *(["core"] if core else []),
        *(["referred"] if referrals else []),
        "meets",
    ]
    for column in columns:
        table.add_column(column, justify="right", no_wrap=True)
    for value, summary, met in zip(sweep.values, result.summaries, result.met, strict=True):
        busy = [
            _fmt(_point(figure_of(summary, f"utilisation.{name}")), "share")
            for name in ("gates", "desks", "matching")[: 3 if core else 2]
        ]
        table.add_row(
            sweep.label(value),
            _fmt(figure_of(summary, "waits.p95_s"), "s"),
            _fmt(figure_of(summary, "service_level.share"), "share"),
            _fmt(_point(figure_of(summary, "service_level.clearance_share")), "share"),
            *busy,
            *([_fmt(_point(figure_of(summary, "referrals")), "count")] if referrals else []),
            "[green]yes[/]" if met else "[red]no[/]",
        )
    return table


def sweep_answer(result: SweepResult) -> str:
    """The answer line of a sweep (rich markup)."""
    sweep = result.sweep
    level = result.configs[0].service_level
    target = f"{level.share:.0%} waiting at most {level.max_wait_min:g} min"
    smallest = result.smallest
    word = "strictest" if sweep.parameter == "threshold" else "smallest"
    if smallest is None:
        span = f"{sweep.label(sweep.values[0])}..{sweep.label(sweep.values[-1])}"
        return f"no {sweep.parameter} in {span} meets the service level ({target})"
    return f"{word} {sweep.parameter} meeting the service level ({target}): {sweep.label(smallest)}"


def sweep_csv(result: SweepResult) -> bytes:
    """One row per configuration: the value, headline estimates and whether it meets."""
    sweep = result.sweep
    keys = (
        "waits.mean_s",
        "waits.p95_s",
        "service_level.share",
        "service_level.clearance_share",
        "queue.gate_mean",
        "queue.desk_mean",
        "utilisation.gates",
        "utilisation.desks",
        "utilisation.matching",
        "referrals",
    )
    header = [sweep.parameter]
    for key in keys:
        header += [key, f"{key}_low", f"{key}_high"]
    header.append("meets_service_level")
    rows = []
    for value, summary, met in zip(sweep.values, result.summaries, result.met, strict=True):
        cells: list[object] = [sweep.label(value)]
        for key in keys:
            estimate = figure_of(summary, key)
            cells += [_cell(estimate.mean), _cell(estimate.low), _cell(estimate.high)]
        cells.append("yes" if met else "no")
        rows.append(cells)
    return _csv(header, rows)
