"""Reports of simulation results: terminal tables, JSON and CSV (the plots: ``simulation.plots``).

Every figure is an ``Estimate``: its mean over the replications and a 95%
confidence interval. In tables a figure reads ``mean ± half-width``, or
``mean (low to high)`` where the interval was cut at the edge of the
figure's range (0, or 100% for a share) and is no longer symmetric; in
JSON it is ``{"mean", "low", "high", "replications"}`` (``null`` where not
defined, such as an interval of one replication); in CSV the same four
columns. The JSON of one configuration (``report_json``) is described in
``docs/simulation.md``; sweeps and grids are rendered by ``simulation.sweepreport``
with these figures and formats. Tables are as
wide as their content: ``report_console`` prints them uncut into a pipe.
"""

from __future__ import annotations

import csv
import io
import math
import os
import statistics
from collections.abc import Iterable, Sequence
from typing import IO, Any

from rich import box
from rich.console import Console
from rich.table import Table

from simulation.config import HallConfig
from simulation.summary import Estimate, Summary
from simulation.sweep import Verdict, meets_service_level, service_level_verdict

__all__ = [
    "REPORT_FORMAT",
    "class_table",
    "estimate_json",
    "figure_of",
    "headline",
    "intervals_csv",
    "let_through",
    "per_gate_throughput",
    "report_console",
    "report_json",
    "summary_csv",
    "summary_table",
    "traveller_classes",
    "verdict",
]

REPORT_FORMAT = "egate-simulation/1"
WAIT_FIELDS = ("mean_s", "p50_s", "p90_s", "p95_s", "p99_s", "max_s")
_NAN = Estimate(math.nan, math.nan, math.nan, 0)
# Columns of a console that writes into a pipe or a file: wide enough that no
# table is cut (rich would otherwise assume 80 and squeeze the columns to "…").
PIPED_WIDTH = 320


def report_console(file: IO[str] | None = None) -> Console:
    """A console for the report's tables: a terminal's width, or room for every column when piped.

    ``COLUMNS`` in the environment is obeyed, as rich does.
    """
    console = Console(file=file, highlight=False)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console.width = PIPED_WIDTH
    return console


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
    return Estimate.of(values, 0.0)


def let_through(summary: Summary) -> Estimate:
    """The share of impostors at the gates that were let through, pooled (Wilson's interval).

    Each impostor's match is an independent draw at the configured FMR, so
    the impostors of all replications pool into one sample.
    """
    return summary.pooled("false_accepts", "impostors")


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
            "verdict": service_level_verdict(summary, config).value,
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
            "matching_core": _waits(summary, "core_waits"),
            "desk_queue": _waits(summary, "desk_waits"),
        },
        "queue": {
            name: estimate_json(figure_of(summary, f"queue.{name}"))
            for name in ("gate_mean", "gate_max", "core_mean", "core_max", "desk_mean", "desk_max")
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
            "impostors": estimate_json(figure_of(summary, "impostors")),
            "let_through_share": estimate_json(let_through(summary)),
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

    The half-width is left out when it is unknown (one replication) or zero;
    an interval cut at the edge of the figure's range reads ``mean (low to
    high)``.
    """
    mean = estimate.mean
    if not math.isfinite(mean):
        return "-"
    half = _half(estimate)
    spread = math.isfinite(half) and half > 0
    if kind == "share":
        if spread and not estimate.symmetric:
            return f"{mean:.1%} ({estimate.low * 100:.1f} to {estimate.high * 100:.1f})"
        text = f"{mean:.1%}"
        return f"{text} ± {half * 100:.1f}" if spread else text
    if kind == "s":
        unit, scale = ("min", 60.0) if abs(mean) >= 600 else ("s", 1.0)
        text = f"{mean / scale:.1f} {unit}"
        if spread and not estimate.symmetric:
            return f"{text} ({estimate.low / scale:.1f} to {estimate.high / scale:.1f})"
        return f"{text} ± {half / scale:.1f}" if spread else text
    whole = kind == "count" and mean == round(mean)
    digits = 0 if whole or abs(mean) >= 100 else 1
    text = f"{mean:,.{digits}f}"
    if spread and not estimate.symmetric:
        places = max(digits, 1 if estimate.high < 10 else 0)
        return f"{text} ({estimate.low:,.{places}f} to {estimate.high:,.{places}f})"
    return f"{text} ± {half:,.{max(digits, 1 if half < 10 else 0)}f}" if spread else text


_CAPTION = (
    "mean ± half-width of the 95% confidence interval, or mean (low to high) where it "
    "stops at 0 or 100%"
)


def summary_table(summary: Summary, config: HallConfig, seed: int) -> Table:
    """The headline figures of one configuration as a table."""
    level = config.service_level
    table = Table(
        title=summary.name,
        caption=f"{len(summary.runs)} replications (seed {seed}): {_CAPTION}; a wait is the "
        "gate queue + the matching core + the desk queue",
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
    core = config.matching is not None
    rows += [
        ("  in the gate queue, p95", figure_of(summary, "gate_waits.p95_s"), "s"),
        *(
            [
                ("  at the matching core, p95", figure_of(summary, "core_waits.p95_s"), "s"),
                ("  at the matching core, mean", figure_of(summary, "core_waits.mean_s"), "s"),
            ]
            if core
            else []
        ),
        ("  in the desk queue, p95", figure_of(summary, "desk_waits.p95_s"), "s"),
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
        *(
            [
                (
                    "matching core queue, time-weighted mean",
                    figure_of(summary, "queue.core_mean"),
                    "rate",
                ),
                ("  longest", figure_of(summary, "queue.core_max"), "count"),
            ]
            if core
            else []
        ),
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
    rows += [
        ("impostors let through", figure_of(summary, "false_accepts"), "count"),
        ("  of impostors at the gates", figure_of(summary, "impostors"), "count"),
    ]
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


# The meets column of the sweep and compare tables.
_VERDICT_CELLS = {
    Verdict.MET: "[green]yes[/]",
    Verdict.MEAN_ONLY: "[yellow]mean only[/]",
    Verdict.MISSED: "[red]no[/]",
}


def _point(estimate: Estimate) -> Estimate:
    """The mean alone (for a compact cell)."""
    return Estimate(estimate.mean, math.nan, math.nan, 1)


def verdict(summary: Summary, config: HallConfig) -> str:
    """The answer line: met with confidence, on the mean only, or missed (rich markup)."""
    level = config.service_level
    estimate = figure_of(summary, "service_level.share")
    share = _fmt(estimate, "share")
    target = f"{level.share:.0%} waiting at most {level.max_wait_min:g} min"
    found = service_level_verdict(summary, config)
    if found is Verdict.MET:
        return f"service level ({target}): [green]met with 95% confidence[/] ({share})"
    if found is Verdict.MEAN_ONLY:
        why = (
            f"the lower end of the 95% confidence interval is below {level.share:.0%}"
            if estimate.replications > 1
            else "one replication gives no confidence interval"
        )
        return (
            f"service level ({target}): [yellow]met on the mean only[/] ({share}): {why}; "
            "more replications may settle it"
        )
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
