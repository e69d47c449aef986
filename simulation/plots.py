"""Plots of simulation results, as PNG: the day (``day.png``), a sweep (``sweep.png``), a grid's
heat map (``grid.png``) and a comparison's differences (``compare.png``).

Every figure is drawn as the mean over the replications with its 95%
confidence band shaded; axes of counts (gates, desks, workers, travellers)
have whole-number ticks. Figures are made without pyplot: no global figure
registry, no GUI backend; ``Figure.savefig`` renders PNG with Agg.
matplotlib is imported when a plot is drawn, not with this module.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

from egate.clocktime import format_clock as clock
from simulation.compare import DIFFERENCES, CompareResult
from simulation.config import HallConfig
from simulation.grid import GridResult
from simulation.report import figure_of, let_through
from simulation.summary import Estimate, Summary
from simulation.sweep import PARAMETERS, SweepResult

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.axis import Axis
    from matplotlib.figure import Figure

__all__ = [
    "compare_figure",
    "compare_png",
    "day_figure",
    "day_png",
    "grid_figure",
    "grid_png",
    "sweep_figure",
    "sweep_png",
]


def _band(
    axes: Axes,
    x: Sequence[float],
    values: Sequence[Estimate],
    scale: float,
    label: str,
    marker: str | None = None,
) -> None:
    """A line of means with its confidence band shaded."""
    means = [value.mean / scale for value in values]
    lows = [(value.low if math.isfinite(value.low) else value.mean) / scale for value in values]
    highs = [(value.high if math.isfinite(value.high) else value.mean) / scale for value in values]
    (line,) = axes.plot(x, means, marker=marker, label=label)
    axes.fill_between(x, lows, highs, color=line.get_color(), alpha=0.2, linewidth=0)


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def _whole_ticks(axis: Axis) -> None:
    """Ticks on whole numbers only, for an axis of counts (gates, desks, workers, travellers)."""
    from matplotlib.ticker import MaxNLocator

    axis.set_major_locator(MaxNLocator(integer=True))


# Tick spacings of the time axis, in hours: at most 12 ticks over the horizon.
_TICK_HOURS = (0.25, 0.5, 1, 2, 3, 4, 6, 12, 24, 48, 72)


def time_label(hours: float, days: bool) -> str:
    """A time axis tick: ``HH:MM`` within two days, else ``day N`` and the time of day
    (day 1 is the horizon's first day; its hours count from its midnight)."""
    if not days:
        return clock(hours * 3600.0)
    day, rest = divmod(hours, 24.0)
    label = f"day {int(day) + 1}"
    return label if rest == 0 else f"{label} {clock(rest * 3600.0)}"


def day_figure(summary: Summary, config: HallConfig) -> Figure:
    """The day, interval by interval, in four panels sharing the time axis.

    Demand (travellers joining the gate and the desk queues), capacity (gates
    open, desks on duty), the queues (time-weighted mean number waiting) and
    the p95 wait of each queue apart, against the waiting target: gate
    travellers and desk travellers wait in different queues, and one p95 of
    both would hide either. Means over the replications with 95% bands.
    """
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter, MultipleLocator

    rows = summary.intervals
    width_h = config.interval_min / 60.0
    start_h = config.start / 3600.0
    x = [start_h + (index + 0.5) * width_h for index in range(len(rows))]
    core = config.matching is not None
    figure = Figure(figsize=(10, 12), dpi=100)
    demand, capacity, queues, waits = figure.subplots(4, 1, sharex=True)
    demand.set_title(f"{summary.name}: {len(summary.runs)} replications, 95% confidence bands")
    for column, label in (
        ("gate_joins", "joining the gate queue"),
        ("desk_joins", "joining the desk queue (incl. referrals)"),
    ):
        _band(demand, x, [row[column] for row in rows], 1.0, label=label)
    demand.set_ylabel(f"travellers per {config.interval_min:g} min")
    _whole_ticks(demand.yaxis)
    for column, label in (
        ("gates_open_mean", "gates open"),
        ("desks_on_duty_mean", "desks on duty"),
    ):
        _band(capacity, x, [row[column] for row in rows], 1.0, label=label)
    capacity.set_ylabel("open or on duty")
    _whole_ticks(capacity.yaxis)
    queue_columns = [("gate_queue_mean", "gate queue")]
    wait_columns = [("gate_wait_p95_s", "gate queue")]
    if core:
        queue_columns.append(("core_queue_mean", "matching core"))
        wait_columns.append(("core_wait_p95_s", "matching core"))
    queue_columns.append(("desk_queue_mean", "desk queue"))
    wait_columns.append(("desk_wait_p95_s", "desk queue"))
    for column, label in queue_columns:
        _band(queues, x, [row[column] for row in rows], 1.0, label=label)
    queues.set_ylabel("travellers waiting (mean)")
    for column, label in wait_columns:
        _band(waits, x, [row[column] for row in rows], 60.0, label=f"{label}, p95")
    level = config.service_level
    waits.axhline(
        level.max_wait_min, color="grey", linestyle="--", label=f"{level.max_wait_min:g} min target"
    )
    waits.set_ylabel("wait (minutes)")
    span = len(x) * width_h
    days = start_h + span > 48  # past the next day's clock, hours alone mislead
    waits.set_xlabel(
        f"{'day and time' if days else 'time of day'} ({config.interval_min:g}-minute intervals)"
    )
    step = next((hours for hours in _TICK_HOURS if span / hours <= 12), 168)
    waits.xaxis.set_major_locator(MultipleLocator(step))
    waits.xaxis.set_major_formatter(FuncFormatter(lambda hours, _: time_label(hours, days)))
    for axes in (demand, capacity, queues, waits):
        axes.grid(alpha=0.3)
        axes.set_ylim(bottom=0)
        axes.legend(loc="upper right")
    return figure


def day_png(summary: Summary, config: HallConfig) -> bytes:
    """``day_figure`` as PNG."""
    return _png(day_figure(summary, config))


_TICKS = (0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000)


def _wait_scale(axes: Axes, minutes: Sequence[float]) -> None:
    """A linear scale, or a log-like one when the waits span orders of magnitude."""
    from matplotlib.ticker import FixedLocator, FuncFormatter

    top = max((value for value in minutes if math.isfinite(value)), default=1.0)
    if top <= 30:
        axes.set_ylim(bottom=0)
        return
    axes.set_yscale("symlog", linthresh=1.0)
    axes.yaxis.set_major_locator(FixedLocator([tick for tick in _TICKS if tick <= top * 1.5]))
    axes.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    axes.set_ylim(0, top * 1.3)


def sweep_figure(result: SweepResult) -> Figure:
    """The p95 wait and the share within the target against the swept setting.

    A sweep of the threshold adds a panel of the false match rate: the
    rate the gates run with at each threshold and the share of impostors
    let through in the runs (pooled, Wilson's interval; where none was, a
    triangle marks the interval's upper end).
    """
    from matplotlib.figure import Figure

    sweep = result.sweep
    level = result.configs[0].service_level
    threshold = sweep.parameter == "threshold"
    x = list(sweep.values)
    figure = Figure(figsize=(8, 9.5 if threshold else 6.5), dpi=100)
    panels = figure.subplots(3 if threshold else 2, 1, sharex=True)
    waits, shares = panels[0], panels[1]
    p95 = [figure_of(summary, "waits.p95_s") for summary in result.summaries]
    _band(waits, x, p95, 60.0, marker="o", label="p95 wait")
    waits.axhline(level.max_wait_min, color="grey", linestyle="--", label="target")
    waits.set_ylabel("p95 wait (minutes)")
    _wait_scale(waits, [value.high / 60.0 for value in p95] + [level.max_wait_min])
    waits.set_title(
        f"{result.configs[0].name}\nsweep of {sweep.parameter}, "
        f"{len(result.summaries[0].runs)} replications, 95% confidence bands"
    )
    within = [figure_of(summary, "service_level.share") for summary in result.summaries]
    _band(shares, x, within, 0.01, marker="o", label=f"waiting ≤ {level.max_wait_min:g} min")
    shares.axhline(level.share * 100, color="grey", linestyle="--", label="target")
    shares.set_ylabel("travellers within target (%)")
    low, high = shares.get_ylim()
    shares.set_ylim(low, min(high, 100.5))  # no room above 100% to suggest there is any
    if threshold:
        _fmr_panel(panels[2], result)
    panels[-1].set_xlabel(sweep.parameter)
    if PARAMETERS[sweep.parameter].whole:
        _whole_ticks(panels[-1].xaxis)
    smallest = result.smallest
    if smallest is not None:
        for axes in panels:
            axes.axvline(
                smallest,
                color="green",
                alpha=0.5,
                label=f"{sweep.label(smallest)}: smallest to meet (95% confidence)",
            )
    for axes in panels:
        axes.grid(alpha=0.3)
        axes.legend(loc="best")
    return figure


def _fmr_panel(axes: Axes, result: SweepResult) -> None:
    """The false match rate at each threshold, and the share of impostors let through."""
    x = list(result.sweep.values)
    rates = [config.gates.rates().fmr * 100 for config in result.configs]
    axes.plot(x, rates, marker="o", label="FMR at the threshold")
    seen = [let_through(summary) for summary in result.summaries]
    hits = [(at, value) for at, value in zip(x, seen, strict=True) if value.mean > 0]
    if hits:
        axes.errorbar(
            [at for at, _ in hits],
            [value.mean * 100 for _, value in hits],
            yerr=[
                [(value.mean - value.low) * 100 for _, value in hits],
                [(value.high - value.mean) * 100 for _, value in hits],
            ],
            fmt="s",
            capsize=3,
            label="impostors let through (95% CI)",
        )
    none = [(at, value) for at, value in zip(x, seen, strict=True) if value.mean == 0]
    if none:
        axes.plot(
            [at for at, _ in none],
            [value.high * 100 for _, value in none],
            "v",
            label="none let through: upper 95% bound",
        )
    axes.set_ylabel("false match rate (%)")
    if min(rates, default=0) > 0 and all(
        value.high > 0 for value in seen if math.isfinite(value.high)
    ):
        axes.set_yscale("log")


def sweep_png(result: SweepResult) -> bytes:
    """``sweep_figure`` as PNG."""
    return _png(sweep_figure(result))


def _short_wait(seconds: float) -> str:
    """A wait for a heat-map cell: ``42 s``, ``8.2 min``, ``-`` when undefined."""
    if not math.isfinite(seconds):
        return "-"
    return f"{seconds:.0f} s" if seconds < 600 else f"{seconds / 60:.1f} min"


def grid_figure(result: GridResult) -> Figure:
    """Heat maps of a grid of two settings: the p95 wait and the share within the target.

    The first setting runs across, the second up, a cell per combination
    with its mean written in it. Cells that meet the service level with 95%
    confidence are ticked and outlined; the cheapest of them
    (``simulation.grid``) is outlined thicker. ``ValueError`` for a grid of more than two settings.
    """
    from matplotlib.colors import Normalize, SymLogNorm
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch, Rectangle

    grid = result.grid
    if len(grid.axes) != 2:
        raise ValueError(f"a heat map shows two settings, not {len(grid.axes)}")
    across, up = grid.axes
    level = result.configs[0].service_level
    cells = dict(zip(grid.points, zip(result.summaries, result.met, strict=True), strict=True))

    def table(key: str, scale: float) -> list[list[float]]:
        return [
            [figure_of(cells[(x, y)][0], key).mean / scale for x in across.values]
            for y in up.values
        ]

    waits = table("waits.p95_s", 60.0)
    shares = table("service_level.share", 0.01)
    width = max(7.0, 1.2 + 0.75 * len(across.values))
    figure = Figure(figsize=(2 * width, max(4.5, 1.8 + 0.55 * len(up.values))), dpi=100)
    panels = figure.subplots(1, 2)
    finite = [value for row in waits for value in row if math.isfinite(value)]
    top = max([*finite, level.max_wait_min, 1.0])
    wait_norm: Normalize = (
        SymLogNorm(linthresh=1.0, vmin=0.0, vmax=top) if top > 30 else Normalize(0.0, top)
    )
    floor = min([value for row in shares for value in row if math.isfinite(value)] + [100.0])
    maps = (
        (panels[0], waits, "magma_r", wait_norm, "p95 wait (minutes)", "waits.p95_s"),
        (
            panels[1],
            shares,
            "RdYlGn",
            Normalize(min(floor, level.share * 100 - 5), 100.0),
            f"travellers waiting ≤ {level.max_wait_min:g} min (%)",
            "service_level.share",
        ),
    )
    cheapest = result.cheapest
    for axes, values, colours, norm, label, key in maps:
        image = axes.imshow(values, origin="lower", cmap=colours, norm=norm, aspect="auto")
        figure.colorbar(image, ax=axes, label=label)
        mapper = image.cmap
        for row, y in enumerate(up.values):
            for column, x in enumerate(across.values):
                summary, met = cells[(x, y)]
                value = values[row][column]
                estimate = figure_of(summary, key)
                text = (
                    _short_wait(estimate.mean)
                    if key == "waits.p95_s"
                    else ("-" if not math.isfinite(value) else f"{value:.1f}%")
                ) + ("\n✓" if met else "")
                shade = mapper(norm(value)) if math.isfinite(value) else (1, 1, 1, 1)
                light = 0.299 * shade[0] + 0.587 * shade[1] + 0.114 * shade[2] > 0.5
                axes.text(
                    column,
                    row,
                    text,
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="black" if light else "white",
                )
                if met:
                    thick = (x, y) == cheapest
                    axes.add_patch(
                        Rectangle(
                            (column - 0.5, row - 0.5),
                            1,
                            1,
                            fill=False,
                            edgecolor="blue" if thick else "black",
                            linewidth=3.5 if thick else 1.5,
                        )
                    )
        axes.set_xticks(range(len(across.values)), [across.label(x) for x in across.values])
        axes.set_yticks(range(len(up.values)), [up.label(y) for y in up.values])
        axes.set_xlabel(across.parameter)
        axes.set_ylabel(up.parameter)
    marks = [Patch(fill=False, edgecolor="black", linewidth=1.5, label="✓ meets (95% confidence)")]
    if cheapest is not None:
        marks.append(
            Patch(
                fill=False,
                edgecolor="blue",
                linewidth=3.5,
                label=f"cheapest: {grid.describe(cheapest)}",
            )
        )
    figure.legend(handles=marks, loc="lower center", ncols=2, frameon=False)
    figure.suptitle(
        f"{result.configs[0].name}\ngrid of {across.parameter} x {up.parameter}, "
        f"{len(result.summaries[0].runs)} replications: means; target {level.share:.0%} "
        f"waiting at most {level.max_wait_min:g} min"
    )
    figure.tight_layout(rect=(0, 0.06, 1, 1))
    return figure


def grid_png(result: GridResult) -> bytes:
    """``grid_figure`` as PNG."""
    buffer = io.BytesIO()
    grid_figure(result).savefig(buffer, format="png")
    return buffer.getvalue()


_DIFFERENCE_AXES = {
    "waits.p95_s": ("p95 wait", 1.0, "s"),
    "waits.mean_s": ("mean wait", 1.0, "s"),
    "gate_waits.p95_s": ("p95 wait in the gate queue", 1.0, "s"),
    "service_level.share": ("share within the target", 0.01, "percentage points"),
}


def compare_figure(result: CompareResult) -> Figure:
    """Each variant's (or file's) difference from the first, with its 95% interval.

    One panel per compared figure (``simulation.compare.DIFFERENCES``), a
    row per variant after the baseline: the mean of the paired differences
    as a dot and their confidence interval as a bar, a line at no
    difference. An interval clear of the line is a difference the runs
    show with confidence.
    """
    from matplotlib.figure import Figure

    names = list(result.names[1:])
    rows = list(range(len(names)))
    figure = Figure(figsize=(11, 3.2 + 0.9 * len(names)), dpi=100)
    panels = figure.subplots(2, 2, sharey=True).flatten()
    for axes, key in zip(panels, DIFFERENCES, strict=True):
        title, scale, unit = _DIFFERENCE_AXES[key]
        found = [result.difference(index, key) for index in range(1, len(result.names))]
        means = [value.mean / scale for value in found]
        below = [
            (value.mean - value.low) / scale if math.isfinite(value.low) else 0.0 for value in found
        ]
        above = [
            (value.high - value.mean) / scale if math.isfinite(value.high) else 0.0
            for value in found
        ]
        axes.errorbar(means, rows, xerr=[below, above], fmt="o", capsize=4)
        axes.axvline(0.0, color="grey", linestyle="--")
        axes.set_title(title)
        axes.set_xlabel(f"difference from {result.names[0]} ({unit})")
        axes.set_yticks(rows, names)
        axes.set_ylim(len(names) - 0.4, -0.6)  # the first variant on top
        axes.grid(alpha=0.3, axis="x")
    figure.suptitle(
        f"Differences from {result.names[0]}: {len(result.summaries[0].runs)} paired "
        "replications (the same random numbers), 95% confidence intervals"
    )
    return figure


def compare_png(result: CompareResult) -> bytes:
    """``compare_figure`` as PNG."""
    return _png(compare_figure(result))
