"""Reports of a sweep: its table, answer line, JSON and CSV (the plot: ``simulation.plots``).

A sweep's figures are those of one configuration's report
(``simulation.report``), one row per value of the swept setting, in the
same formats: ``mean ± half-width`` in tables, ``{"mean", "low", "high",
"replications"}`` in JSON, three columns in CSV. The JSON (``sweep_json``)
is described in ``docs/simulation.md``.
"""

from __future__ import annotations

import math
from typing import Any

from rich import box
from rich.table import Table

from simulation.config import HallConfig
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
from simulation.sweep import PARAMETERS, Sweep, SweepResult, Verdict

__all__ = ["SWEEP_FORMAT", "sweep_answer", "sweep_csv", "sweep_json", "sweep_table"]

SWEEP_FORMAT = "egate-sweep/1"


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


def sweep_table(result: SweepResult) -> Table:
    """One row per configuration of a sweep.

    The matching core's utilisation and its p95 wait show only if there is
    one; referrals, FMR and impostors let through only in a sweep of the
    threshold (nothing else changes them).
    """
    sweep = result.sweep
    level = result.configs[0].service_level
    core = result.configs[0].matching is not None
    threshold = sweep.parameter == "threshold"  # the only setting that changes referrals
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
        title=f"Sweep of {sweep.parameter}: {len(result.summaries[0].runs)} replications each",
        caption="; ".join(notes) + f". {_CAPTION[0].upper()}{_CAPTION[1:]}.",
        box=box.SIMPLE_HEAD,
        padding=(0, 1, 0, 0),
    )
    columns = [
        sweep.parameter,
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
    for value, config, summary, verdict in zip(
        sweep.values, result.configs, result.summaries, result.verdicts, strict=True
    ):
        busy = [
            _fmt(_point(figure_of(summary, f"utilisation.{name}")), "share")
            for name in ("gates", "desks", "matching")[: 3 if core else 2]
        ]
        fmr = [
            _fmt(_point(figure_of(summary, "referrals")), "count"),
            _rate(config.gates.rates().fmr),
            _fmt(figure_of(summary, "false_accepts"), "count"),
        ]
        table.add_row(
            sweep.label(value),
            _fmt(figure_of(summary, "waits.p95_s"), "s"),
            *([_fmt(_point(figure_of(summary, "core_waits.p95_s")), "s")] if core else []),
            _fmt(figure_of(summary, "service_level.share"), "share"),
            _fmt(_point(figure_of(summary, "service_level.clearance_share")), "share"),
            *busy,
            *(fmr if threshold else []),
            _VERDICT_CELLS[verdict],
        )
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


def sweep_csv(result: SweepResult) -> bytes:
    """One row per configuration: the value, headline estimates and whether it meets."""
    sweep = result.sweep
    keys = (
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
    header = [sweep.parameter, "fmr", "fnmr"]
    for key in (*keys, "let_through_share"):
        header += [key, f"{key}_low", f"{key}_high"]
    header += ["meets_service_level", "verdict"]
    rows = []
    for value, config, summary, verdict in zip(
        sweep.values, result.configs, result.summaries, result.verdicts, strict=True
    ):
        rates = config.gates.rates()
        cells: list[object] = [sweep.label(value), repr(rates.fmr), repr(rates.fnmr)]
        for estimate in [figure_of(summary, key) for key in keys] + [let_through(summary)]:
            cells += [_cell(estimate.mean), _cell(estimate.low), _cell(estimate.high)]
        cells += ["yes" if verdict is Verdict.MET else "no", verdict.value]
        rows.append(cells)
    return _csv(header, rows)
