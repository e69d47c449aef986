"""Reports of a sweep or a grid: table, answer, JSON and CSV (the plots: ``simulation.plots``).

A sweep's figures are those of one configuration's report
(``simulation.report``), one row per value of the swept setting, in the
same formats: ``mean ± half-width`` in tables, ``{"mean", "low", "high",
"replications"}`` in JSON, three columns in CSV. A grid (``simulation.grid``)
has the same columns with one per setting, a row per combination. The JSON
(``sweep_json``, ``grid_json``) is described in ``docs/simulation.md``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from rich import box
from rich.table import Table

from simulation.config import HallConfig
from simulation.grid import COST_ORDER, Grid, GridResult, Point
from simulation.report import (
    _CAPTION,
    _VERDICT_CELLS,
    _cell,
    _csv,
    _fmt,
    _point,
    figure_of,
    headline,
    let_through,
)
from simulation.summary import Summary
from simulation.sweep import PARAMETERS, Sweep, SweepResult, Verdict, describe

__all__ = [
    "GRID_FORMAT",
    "SWEEP_FORMAT",
    "cost_rule",
    "grid_answer",
    "grid_csv",
    "grid_json",
    "grid_table",
    "sweep_answer",
    "sweep_csv",
    "sweep_json",
    "sweep_table",
]

SWEEP_FORMAT = "egate-sweep/1"
GRID_FORMAT = "egate-grid/1"


def sweep_json(result: SweepResult, source: str, seed: int) -> dict[str, Any]:
    """A sweep as plain data: per value, its headline figures; and the smallest that meets."""
    sweep = result.sweep
    first = result.configs[0]
    smallest, on_mean = result.smallest, result.smallest_on_mean
    return {
        "format": SWEEP_FORMAT,
        "name": first.name,
        "config": source,
        "seed": seed,
        "replications": len(result.summaries[0].runs),
        "parameter": sweep.parameter,
        "values": [_number(sweep, value) for value in sweep.values],
        "smallest_meeting": None if smallest is None else _number(sweep, smallest),
        "smallest_meeting_on_mean": None if on_mean is None else _number(sweep, on_mean),
        "configurations": [
            {
                "value": _number(sweep, value),
                "biometric_rates": _biometric_rates(config),
                **headline(summary, config),
            }
            for value, config, summary in zip(
                sweep.values, result.configs, result.summaries, strict=True
            )
        ],
    }


def _biometric_rates(config: HallConfig) -> dict[str, float]:
    """The FMR and FNMR the gates run with (read from the rate table at a threshold)."""
    rates = config.gates.rates()
    return {"fmr": rates.fmr, "fnmr": rates.fnmr}


def _number(sweep: Sweep, value: float) -> float | int:
    return int(value) if PARAMETERS[sweep.parameter].whole else value


def _rate(value: float) -> str:
    """A small probability, as a percentage with the digits it needs (0.05%, 0.0010%)."""
    if value == 0:
        return "0"
    digits = max(1, min(6, 1 - math.floor(math.log10(value * 100))))
    return f"{value * 100:.{digits}f}%"


def _table(
    title: str, settings: Sequence[str], configs: Sequence[HallConfig], threshold: bool
) -> tuple[Table, bool]:
    """A sweep's or grid's table with its columns, no rows yet; and whether it has a core."""
    level = configs[0].service_level
    core = configs[0].matching is not None
    notes = [
        f"≤ {level.max_wait_min:g} min: share waiting at most that long (gate queue + "
        f"matching core + desk queue); ≤ {level.clearance_min:g} min: through the hall "
        "within that time",
        *(["core p95: p95 wait for a matching core worker"] if core else []),
        f"{'gates, desks, core' if core else 'gates, desks'}: utilisation",
        *(
            ["FMR: false match rate at the threshold; let through: impostors per run"]
            if threshold
            else []
        ),
        f"meets: yes when the share's lower 95% bound reaches {level.share:.0%}, "
        "mean only when only its mean does",
    ]
    table = Table(
        title=title,
        caption="; ".join(notes) + f". {_CAPTION[0].upper()}{_CAPTION[1:]}.",
        box=box.SIMPLE_HEAD,
        padding=(0, 1, 0, 0),
    )
    columns = [
        *settings,
        "p95 wait",
        *(["core p95"] if core else []),
        f"≤ {level.max_wait_min:g} min",
        f"≤ {level.clearance_min:g} min",
        "gates",
        "desks",
        *(["core"] if core else []),
        *(["referred", "FMR", "let through"] if threshold else []),
        "meets",
    ]
    for column in columns:
        table.add_column(column, justify="right", no_wrap=True)
    return table, core


def _row(
    config: HallConfig, summary: Summary, verdict: Verdict, core: bool, threshold: bool
) -> list[str]:
    """The cells of a configuration's row after its settings (``_table``'s columns)."""
    busy = [
        _fmt(_point(figure_of(summary, f"utilisation.{name}")), "share")
        for name in ("gates", "desks", "matching")[: 3 if core else 2]
    ]
    fmr = [
        _fmt(_point(figure_of(summary, "referrals")), "count"),
        _rate(config.gates.rates().fmr),
        _fmt(figure_of(summary, "false_accepts"), "count"),
    ]
    return [
        _fmt(figure_of(summary, "waits.p95_s"), "s"),
        *([_fmt(_point(figure_of(summary, "core_waits.p95_s")), "s")] if core else []),
        _fmt(figure_of(summary, "service_level.share"), "share"),
        _fmt(_point(figure_of(summary, "service_level.clearance_share")), "share"),
        *busy,
        *(fmr if threshold else []),
        _VERDICT_CELLS[verdict],
    ]


def sweep_table(result: SweepResult) -> Table:
    """One row per configuration of a sweep.

    The matching core's utilisation and its p95 wait show only if there is
    one; referrals, FMR and impostors let through only in a sweep of the
    threshold (nothing else changes them).
    """
    sweep = result.sweep
    threshold = sweep.parameter == "threshold"  # the only setting that changes referrals
    table, core = _table(
        f"Sweep of {sweep.parameter}: {len(result.summaries[0].runs)} replications each",
        [sweep.parameter],
        result.configs,
        threshold,
    )
    for value, config, summary, verdict in zip(
        sweep.values, result.configs, result.summaries, result.verdicts, strict=True
    ):
        table.add_row(sweep.label(value), *_row(config, summary, verdict, core, threshold))
    return table


def sweep_answer(result: SweepResult) -> str:
    """The answer line of a sweep: decided on the lower confidence bound (rich markup)."""
    sweep = result.sweep
    level = result.configs[0].service_level
    target = f"{level.share:.0%} waiting at most {level.max_wait_min:g} min"
    smallest, on_mean = result.smallest, result.smallest_on_mean
    word = "strictest" if sweep.parameter == "threshold" else "smallest"
    hint = ""
    if on_mean is not None and (smallest is None or on_mean < smallest):
        hint = (
            f"; {sweep.label(on_mean)} meets it on the mean only (more replications may settle it)"
        )
    if smallest is None:
        span = f"{sweep.label(sweep.values[0])}..{sweep.label(sweep.values[-1])}"
        return (
            f"no {sweep.parameter} in {span} meets the service level ({target}) "
            f"with 95% confidence{hint}"
        )
    return (
        f"{word} {sweep.parameter} meeting the service level ({target}) with 95% confidence: "
        f"{sweep.label(smallest)}{hint}"
    )


# The figures of a row of sweep.csv and grid.csv, each as mean, _low and _high.
_CSV_KEYS = (
    "waits.mean_s",
    "waits.p95_s",
    "gate_waits.p95_s",
    "core_waits.p95_s",
    "desk_waits.p95_s",
    "service_level.share",
    "service_level.clearance_share",
    "queue.gate_mean",
    "queue.core_mean",
    "queue.desk_mean",
    "utilisation.gates",
    "utilisation.desks",
    "utilisation.matching",
    "referrals",
    "false_accepts",
)


def _csv_header(settings: Sequence[str]) -> list[str]:
    header = [*settings, "fmr", "fnmr"]
    for key in (*_CSV_KEYS, "let_through_share"):
        header += [key, f"{key}_low", f"{key}_high"]
    return [*header, "meets_service_level", "verdict"]


def _csv_cells(config: HallConfig, summary: Summary, verdict: Verdict) -> list[object]:
    """A row of sweep.csv or grid.csv after the settings' values."""
    rates = config.gates.rates()
    cells: list[object] = [repr(rates.fmr), repr(rates.fnmr)]
    for estimate in [figure_of(summary, key) for key in _CSV_KEYS] + [let_through(summary)]:
        cells += [_cell(estimate.mean), _cell(estimate.low), _cell(estimate.high)]
    return [*cells, "yes" if verdict is Verdict.MET else "no", verdict.value]


def sweep_csv(result: SweepResult) -> bytes:
    """One row per configuration: the value, headline estimates and whether it meets."""
    sweep = result.sweep
    rows = [
        [sweep.label(value), *_csv_cells(config, summary, verdict)]
        for value, config, summary, verdict in zip(
            sweep.values, result.configs, result.summaries, result.verdicts, strict=True
        )
    ]
    return _csv(_csv_header([sweep.parameter]), rows)


# --- grids ------------------------------------------------------------------------------------


def _settings_json(grid: Grid, point: Point | None) -> dict[str, float | int] | None:
    if point is None:
        return None
    return {
        axis.parameter: _number(axis, value) for axis, value in zip(grid.axes, point, strict=True)
    }


def grid_json(result: GridResult, source: str, seed: int) -> dict[str, Any]:
    """A grid as plain data: per combination its headline figures; and the cheapest that meets."""
    grid = result.grid
    return {
        "format": GRID_FORMAT,
        "name": result.configs[0].name,
        "config": source,
        "seed": seed,
        "replications": len(result.summaries[0].runs),
        "parameters": list(grid.parameters),
        "values": {
            axis.parameter: [_number(axis, value) for value in axis.values] for axis in grid.axes
        },
        "cost_order": [name for name in COST_ORDER if name in grid.parameters],
        "cheapest_meeting": _settings_json(grid, result.cheapest),
        "cheapest_meeting_on_mean": _settings_json(grid, result.cheapest_on_mean),
        "cheapest_by": {
            "parameter": result.dearest,
            "cheapest": [
                {"value": value, "meeting": _settings_json(grid, point)}
                for value, point in result.cheapest_by().items()
            ],
        },
        "configurations": [
            {
                "settings": _settings_json(grid, point),
                "biometric_rates": _biometric_rates(config),
                **headline(summary, config),
            }
            for point, config, summary in zip(
                grid.points, result.configs, result.summaries, strict=True
            )
        ],
    }


def grid_table(result: GridResult) -> Table:
    """One row per combination, the first setting varying slowest; the cheapest in bold."""
    grid = result.grid
    threshold = "threshold" in grid.parameters
    table, core = _table(
        f"Grid of {' x '.join(grid.parameters)}: {len(grid.points)} combinations, "
        f"{len(result.summaries[0].runs)} replications each",
        grid.parameters,
        result.configs,
        threshold,
    )
    cheapest = result.cheapest
    for point, config, summary, verdict in zip(
        grid.points, result.configs, result.summaries, result.verdicts, strict=True
    ):
        table.add_row(
            *grid.labels(point),
            *_row(config, summary, verdict, core, threshold),
            style="bold" if point == cheapest else None,
        )
    return table


def cost_rule(grid: Grid) -> str:
    """The order the cheapest combination is chosen in, as words."""
    order = [name for name in COST_ORDER if name in grid.parameters]
    words = {
        "desks": "fewest desks",
        "gates": "fewest gates",
        "workers": "fewest core workers",
        "threshold": "strictest threshold",
    }
    return f"{words[order[0]]} first, then " + ", then ".join(words[name] for name in order[1:])


def grid_answer(result: GridResult) -> str:
    """The answer of a grid: the cheapest combination meeting with confidence (rich markup),
    then the cheapest at each value of the dearest setting."""
    grid = result.grid
    level = result.configs[0].service_level
    target = f"{level.share:.0%} waiting at most {level.max_wait_min:g} min"
    cheapest, on_mean = result.cheapest, result.cheapest_on_mean
    hint = ""
    if on_mean is not None and (cheapest is None or result.cost(on_mean) < result.cost(cheapest)):
        hint = (
            f"; {grid.describe(on_mean)} meets it on the mean only "
            "(more replications may settle it)"
        )
    rule = cost_rule(grid)
    if cheapest is None:
        spans = " x ".join(describe(axis) for axis in grid.axes)
        return (
            f"no combination of {spans} meets the service level ({target}) "
            f"with 95% confidence{hint}"
        )
    lines = [
        f"cheapest combination meeting the service level ({target}) with 95% confidence: "
        f"{grid.describe(cheapest)} ({rule}){hint}"
    ]
    axis = grid.axes[grid.parameters.index(result.dearest)]
    each = [
        f"{axis.label(value)}: "
        f"{'none' if point is None else grid.describe(point, leave_out=result.dearest)}"
        for value, point in result.cheapest_by().items()
    ]
    lines.append(f"cheapest meeting it at each {result.dearest}: " + "; ".join(each))
    return "\n".join(lines)


def grid_csv(result: GridResult) -> bytes:
    """One row per combination: the settings, headline estimates and whether it meets."""
    grid = result.grid
    rows = [
        [*grid.labels(point), *_csv_cells(config, summary, verdict)]
        for point, config, summary, verdict in zip(
            grid.points, result.configs, result.summaries, result.verdicts, strict=True
        )
    ]
    return _csv(_csv_header(grid.parameters), rows)
