"""Plots of simulation results, as PNG: the day (``day.png``) and a sweep (``sweep.png``).

Every figure is drawn as the mean over the replications with its 95%
confidence band shaded. Figures are made without pyplot: no global figure
registry, no GUI backend; ``Figure.savefig`` renders PNG with Agg.
matplotlib is imported when a plot is drawn, not with this module.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

from egate.clocktime import format_clock as clock
from simulation.config import HallConfig
from simulation.report import figure_of
from simulation.summary import Estimate, Summary
from simulation.sweep import SweepResult

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["day_png", "sweep_png"]


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


def day_png(summary: Summary, config: HallConfig) -> bytes:
    """Queue lengths and the p95 wait through the day, with 95% confidence bands."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter, MultipleLocator

    width_h = config.interval_min / 60.0
    start_h = config.start / 3600.0
    x = [start_h + (index + 0.5) * width_h for index in range(len(summary.intervals))]
    figure = Figure(figsize=(10, 6.5), dpi=100)
    queues, waits = figure.subplots(2, 1, sharex=True)
    for column, label in (("gate_queue_mean", "gate queue"), ("desk_queue_mean", "desk queue")):
        _band(queues, x, [row[column] for row in summary.intervals], 1.0, label=label)
    queues.set_ylabel("travellers waiting (mean)")
    queues.legend(loc="upper right")
    queues.set_title(f"{summary.name}: {len(summary.runs)} replications, 95% confidence bands")
    _band(waits, x, [row["wait_p95_s"] for row in summary.intervals], 60.0, label="p95 wait")
    level = config.service_level
    waits.axhline(
        level.max_wait_min, color="grey", linestyle="--", label=f"{level.max_wait_min:g} min target"
    )
    waits.set_ylabel("wait (minutes)")
    waits.set_xlabel(f"time of day ({config.interval_min:g}-minute intervals)")
    waits.legend(loc="upper right")
    span = len(x) * width_h
    step = next((hours for hours in (0.25, 0.5, 1, 2, 3, 4, 6) if span / hours <= 12), 12)
    waits.xaxis.set_major_locator(MultipleLocator(step))
    waits.xaxis.set_major_formatter(FuncFormatter(lambda hours, _: clock(hours * 3600.0)))
    for axes in (queues, waits):
        axes.grid(alpha=0.3)
        axes.set_ylim(bottom=0)
    return _png(figure)


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


def sweep_png(result: SweepResult) -> bytes:
    """The p95 wait and the share within the target against the swept setting."""
    from matplotlib.figure import Figure

    sweep = result.sweep
    level = result.configs[0].service_level
    x = list(sweep.values)
    figure = Figure(figsize=(8, 6.5), dpi=100)
    waits, shares = figure.subplots(2, 1, sharex=True)
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
    shares.set_xlabel(sweep.parameter)
    smallest = result.smallest
    if smallest is not None:
        for axes in (waits, shares):
            axes.axvline(
                smallest,
                color="green",
                alpha=0.5,
                label=f"{sweep.label(smallest)}: smallest to meet",
            )
    for axes in (waits, shares):
        axes.grid(alpha=0.3)
        axes.legend(loc="best")
    return _png(figure)
