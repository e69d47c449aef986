"""What ``egate simulate`` prints and writes: the tables and answers of a run, a sweep, a grid
and a comparison, and their files in ``--out`` (each whole or not at all)."""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.console import Console

from egate.cli.errors import InputError
from egate.outputs import atomic_write
from simulation.compare import (
    CompareResult,
    compare_answer,
    compare_csv,
    compare_json,
    compare_table,
)
from simulation.config import HallConfig
from simulation.grid import GridResult
from simulation.plots import compare_png, grid_png, sweep_png
from simulation.report import class_table, report_console, summary_table, verdict
from simulation.summary import Summary
from simulation.sweep import SweepResult
from simulation.sweepreport import (
    grid_answer,
    grid_csv,
    grid_json,
    grid_table,
    sweep_answer,
    sweep_csv,
    sweep_json,
    sweep_table,
)

__all__ = [
    "compare_output",
    "grid_output",
    "json_bytes",
    "show_report",
    "sweep_output",
    "write_files",
]


def write_files(out_dir: Path, files: dict[str, bytes]) -> None:
    """Each file whole or not at all; a folder that cannot be written is an input error."""
    for name, data in files.items():
        try:
            atomic_write(out_dir / name, data)
        except OSError as error:
            raise InputError(f"{out_dir / name}: cannot write: {error.strerror or error}") from None


def json_bytes(data: object) -> bytes:
    """``data`` as indented JSON, a line at the end."""
    return (json.dumps(data, indent=2) + "\n").encode()


def show_report(
    summary: Summary, hall: HallConfig, seed: int, out_dir: Path | None, seconds: float
) -> None:
    """The tables and the verdict of one configuration."""
    console = report_console()
    console.print(summary_table(summary, hall, seed))
    console.print(class_table(summary, hall))
    console.print(verdict(summary, hall))
    _footer(console, out_dir, ("summary.csv", "intervals.csv", "summary.json", "day.png"), seconds)


def _footer(console: Console, out_dir: Path | None, names: tuple[str, ...], seconds: float) -> None:
    if out_dir is not None:
        console.print(f"wrote {', '.join(names)} to {out_dir}")
    console.print(f"[dim]simulated in {seconds:.1f} s[/]")


def compare_output(
    result: CompareResult,
    source: str | list[str],
    seed: int,
    as_json: bool,
    out_dir: Path | None,
    seconds: float,
) -> None:
    """A comparison of variants or files: JSON, or table and answer; its files."""
    data = compare_json(result, source, seed)
    if out_dir is not None:
        write_files(
            out_dir,
            {
                "compare.csv": compare_csv(result),
                "compare.json": json_bytes(data),
                "compare.png": compare_png(result),
            },
        )
    if as_json:
        click.echo(json.dumps(data))
        return
    console = report_console()
    console.print(compare_table(result))
    console.print(compare_answer(result))
    _footer(console, out_dir, ("compare.csv", "compare.json", "compare.png"), seconds)


def sweep_output(
    result: SweepResult,
    source: str,
    seed: int,
    as_json: bool,
    out_dir: Path | None,
    seconds: float,
) -> None:
    """A one-setting sweep: JSON, or table and answer; its files."""
    data = sweep_json(result, source, seed)
    if out_dir is not None:
        write_files(
            out_dir,
            {
                "sweep.csv": sweep_csv(result),
                "sweep.json": json_bytes(data),
                "sweep.png": sweep_png(result),
            },
        )
    if as_json:
        click.echo(json.dumps(data))
        return
    console = report_console()
    console.print(sweep_table(result))
    console.print(sweep_answer(result))
    _footer(console, out_dir, ("sweep.csv", "sweep.json", "sweep.png"), seconds)


def grid_output(
    result: GridResult,
    source: str,
    seed: int,
    as_json: bool,
    out_dir: Path | None,
    seconds: float,
) -> None:
    """A grid of several settings: JSON, or table and answer; its files (a heat map for two)."""
    data = grid_json(result, source, seed)
    files = {"grid.csv": grid_csv(result), "grid.json": json_bytes(data)}
    # A heat map has two axes; a grid of more settings is its table and files alone.
    if len(result.grid.axes) == 2:
        files["grid.png"] = grid_png(result)
    if out_dir is not None:
        write_files(out_dir, files)
    if as_json:
        click.echo(json.dumps(data))
        return
    console = report_console()
    console.print(grid_table(result))
    console.print(grid_answer(result))
    if out_dir is not None and "grid.png" not in files:
        console.print("no grid.png: a heat map shows two settings")
    _footer(console, out_dir, tuple(files), seconds)
