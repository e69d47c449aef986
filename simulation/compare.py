"""Variants compared: each one's figures, and how far each differs from the first.

A hall file with ``variants:`` (``simulation.variants``) runs every variant
with the same seed and replications: replication ``r`` of each variant sees
the same travellers and the same random draws (common random numbers). So
the difference between two variants is measured replication by replication,
and its 95% confidence interval is Student's t over those paired
differences, much narrower than the two variants' own intervals would
suggest: the noise they share cancels out.

The same holds for separate hall files run with one seed and number of
replications (``egate simulate --compare A.yaml B.yaml``): replication
``r`` of each draws from the same random streams, so travellers configured
alike arrive alike and the paired difference is as tight as between
variants. ``CompareResult`` holds the variants' (or files') summaries;
``difference`` the paired estimate of a figure against the first (the
baseline). The table, the answer lines, JSON and CSV follow the report of
one configuration (``simulation.report``); the plot is
``simulation.plots.compare_figure``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
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
    estimate_json,
    figure_of,
    headline,
)
from simulation.summary import Estimate, Summary
from simulation.sweep import Verdict, service_level_verdict

__all__ = [
    "COMPARE_FORMAT",
    "DIFFERENCES",
    "CompareResult",
    "compare_answer",
    "compare_csv",
    "compare_json",
    "compare_table",
    "step_mean",
]

COMPARE_FORMAT = "egate-compare/1"
# The figures whose difference from the baseline is reported.
DIFFERENCES = ("waits.p95_s", "waits.mean_s", "gate_waits.p95_s", "service_level.share")


def step_mean(config: HallConfig, base_dir: Path, step: str) -> float:
    """The mean duration of a gate step of ``config`` (0 for a step that takes no time)."""
    return float(getattr(config.gates.steps, step).build(base_dir).mean)


@dataclass(frozen=True, slots=True)
class CompareResult:
    """The variants of a hall (or separate hall files) run side by side; the first is the
    baseline."""

    names: tuple[str, ...]
    configs: tuple[HallConfig, ...]
    summaries: tuple[Summary, ...]
    # The mean of each variant's chip read step, seconds (0 without one).
    chip_read_s: tuple[float, ...]
    # What is compared, as the table and CSV name it: "variant" of one file, or "config" files.
    kind: str = "variant"

    def __post_init__(self) -> None:
        seeds = {tuple(run.seed for run in summary.runs) for summary in self.summaries}
        if len(seeds) != 1:
            raise ValueError("the variants were not run with the same replications")

    @property
    def verdicts(self) -> tuple[Verdict, ...]:
        """Per variant, how it stands against the service level."""
        return tuple(
            service_level_verdict(summary, config)
            for summary, config in zip(self.summaries, self.configs, strict=True)
        )

    @property
    def met(self) -> tuple[bool, ...]:
        """Per variant, whether it meets the service level with 95% confidence."""
        return tuple(verdict is Verdict.MET for verdict in self.verdicts)

    def difference(self, index: int, key: str) -> Estimate:
        """Figure ``key`` of variant ``index`` minus the baseline's, paired run by run."""
        mine, base = self.summaries[index].values(key), self.summaries[0].values(key)
        return Estimate.of([a - b for a, b in zip(mine, base, strict=True)])


def compare_json(result: CompareResult, source: str | list[str], seed: int) -> dict[str, Any]:
    """The comparison as plain data: per variant its headline figures and differences.

    ``source`` is the file of the variants, or the list of files compared.
    """
    return {
        "format": COMPARE_FORMAT,
        "config": source,
        "seed": seed,
        "replications": len(result.summaries[0].runs),
        "baseline": result.names[0],
        "variants": [
            {
                "variant": name,
                "name": summary.name,
                "chip_read_mean_s": chip,
                **headline(summary, config),
                "difference": {
                    key: estimate_json(result.difference(index, key)) for key in DIFFERENCES
                },
            }
            for index, (name, config, summary, chip) in enumerate(
                zip(result.names, result.configs, result.summaries, result.chip_read_s, strict=True)
            )
        ],
    }


def _signed(estimate: Estimate, kind: str) -> str:
    text = _fmt(estimate, kind)
    return text if text.startswith("-") else f"+{text}"


def compare_table(result: CompareResult) -> Table:
    """One row per variant, with the difference from the baseline."""
    level = result.configs[0].service_level
    base = result.names[0]
    what = (
        "Variants: {} replications each, the same travellers"
        if result.kind == "variant"
        else "Configurations: {} replications each, the same random numbers"
    )
    table = Table(
        title=what.format(len(result.summaries[0].runs)),
        caption=f"chip read: the chip read step's mean; Δ p95: difference from {base}, paired "
        f"replication by replication; ≤ {level.max_wait_min:g} min: share waiting at most "
        "that long; gates: utilisation; meets: yes when the share's lower 95% bound reaches "
        f"{level.share:.0%}, mean only when only its mean does. {_CAPTION[0].upper()}"
        f"{_CAPTION[1:]}.",
        box=box.SIMPLE_HEAD,
        padding=(0, 1, 0, 0),
    )
    columns = (
        result.kind,
        "chip read",
        "p95 wait",
        "Δ p95",
        f"≤ {level.max_wait_min:g} min",
        "gates",
        "meets",
    )
    for column in columns:
        table.add_column(column, justify="left" if column == result.kind else "right", no_wrap=True)
    for index, (name, summary, chip, verdict) in enumerate(
        zip(result.names, result.summaries, result.chip_read_s, result.verdicts, strict=True)
    ):
        table.add_row(
            name,
            f"{chip:.2f} s" if chip > 0 else "-",
            _fmt(figure_of(summary, "waits.p95_s"), "s"),
            "" if index == 0 else _signed(result.difference(index, "waits.p95_s"), "s"),
            _fmt(figure_of(summary, "service_level.share"), "share"),
            _fmt(_point(figure_of(summary, "utilisation.gates")), "share"),
            _VERDICT_CELLS[verdict],
        )
    return table


def _seconds(value: float, sign: str = "+") -> str:
    return f"{value:{sign}.1f}" if math.isfinite(value) else "-"


def compare_answer(result: CompareResult) -> str:
    """One line per variant after the first: its p95 wait's difference, with the interval."""
    lines = []
    for index, name in enumerate(result.names[1:], start=1):
        delta = result.difference(index, "waits.p95_s")
        interval = (
            f"95% CI {_seconds(delta.low)} to {_seconds(delta.high)} s"
            if math.isfinite(delta.low)
            else "no interval from one replication"
        )
        lines.append(
            f"{name} vs {result.names[0]}: p95 wait {_seconds(delta.mean)} s, {interval} "
            f"({delta.replications} paired runs)"
        )
    return "\n".join(lines)


def compare_csv(result: CompareResult) -> bytes:
    """One row per variant: headline estimates, the differences, whether it meets."""
    keys = (
        "waits.mean_s",
        "waits.p95_s",
        "gate_waits.p95_s",
        "core_waits.p95_s",
        "service_level.share",
        "utilisation.gates",
        "utilisation.desks",
        "referrals",
    )
    header = [result.kind, "chip_read_mean_s"]
    for key in keys:
        header += [key, f"{key}_low", f"{key}_high"]
    for key in DIFFERENCES:
        header += [f"difference.{key}", f"difference.{key}_low", f"difference.{key}_high"]
    header += ["meets_service_level", "verdict"]
    rows = []
    for index, (name, summary, chip, verdict) in enumerate(
        zip(result.names, result.summaries, result.chip_read_s, result.verdicts, strict=True)
    ):
        cells: list[object] = [name, _cell(chip)]
        for key in keys:
            estimate = figure_of(summary, key)
            cells += [_cell(estimate.mean), _cell(estimate.low), _cell(estimate.high)]
        for key in DIFFERENCES:
            estimate = result.difference(index, key)
            cells += [_cell(estimate.mean), _cell(estimate.low), _cell(estimate.high)]
        cells += ["yes" if verdict is Verdict.MET else "no", verdict.value]
        rows.append(cells)
    return _csv(header, rows)
