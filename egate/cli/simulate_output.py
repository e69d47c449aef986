"""What ``egate simulate`` prints and writes: the tables and answers of a run, a sweep, a grid
and a comparison, and their files in ``--out`` (each whole or not at all)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from rich.console import Console, RenderableType

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
    _emit(
        "compare",
        compare_json(result, source, seed),
        lambda: compare_csv(result),
        lambda: compare_png(result),
        lambda: (compare_table(result), compare_answer(result)),
        as_json,
        out_dir,
        seconds,
    )


def sweep_output(
    result: SweepResult,
    source: str,
    seed: int,
    as_json: bool,
    out_dir: Path | None,
    seconds: float,
) -> None:
    """A one-setting sweep: JSON, or table and answer; its files."""
    _emit(
        "sweep",
        sweep_json(result, source, seed),
        lambda: sweep_csv(result),
        lambda: sweep_png(result),
        lambda: (sweep_table(result), sweep_answer(result)),
        as_json,
        out_dir,
        seconds,
    )


def _emit(
    stem: str,
    data: dict[str, Any],
    csv_file: Callable[[], bytes],
    png_file: Callable[[], bytes],
    shown: Callable[[], tuple[RenderableType, ...]],
    as_json: bool,
    out_dir: Path | None,
    seconds: float,
) -> None:
    """A result as JSON or as its tables; with ``out_dir``, STEM.csv, STEM.json and STEM.png."""
    names = (f"{stem}.csv", f"{stem}.json", f"{stem}.png")
    if out_dir is not None:
        # The files are made only when they are written: a plot takes a while.
        made = (csv_file(), json_bytes(data), png_file())
        write_files(out_dir, dict(zip(names, made, strict=True)))
    if as_json:
        click.echo(json.dumps(data))
        return
    console = report_console()
    for renderable in shown():
        console.print(renderable)
    _footer(console, out_dir, names, seconds)


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
