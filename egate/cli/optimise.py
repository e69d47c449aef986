"""``egate simulate CONFIG --optimise desks``: the desk roster with the fewest officer-hours.

``simulate`` hands a loaded configuration to ``run_optimise`` with the
options ``optimise_options`` adds; the search is ``simulation.optimiser``'s
and the words and files ``simulation.rosterreport``'s.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.markup import escape

from egate.cli.errors import EXIT_FAILURE, EXIT_OK, InputError
from egate.cli.progress import progress_bar
from egate.outputs import atomic_write
from simulation.backend import cores
from simulation.config import HallConfig
from simulation.optimiser import OptimiserResult, OptimiserSettings, optimise
from simulation.rosterreport import (
    optimise_json,
    roster_png,
    roster_yaml,
    shifts_csv,
    slots_csv,
    statements,
)
from simulation.shifts import ShiftRules

__all__ = ["DEFAULTS", "optimise_options", "run_optimise"]

# The documented defaults (docs/simulation.md, Staffing optimiser).
DEFAULTS: dict[str, int] = {
    "shift_length": 480,
    "shift_break": 60,
    "min_staff": 1,
    "evaluations": 30,
    "replications": 5,
}

Command = TypeVar("Command", bound=Callable[..., Any])


def optimise_options(command: Command) -> Command:
    """The options of ``--optimise desks``, to stack on ``egate simulate``.

    They reach the command as ``optimise``, ``shift_length``,
    ``shift_break``, ``shift_step``, ``min_staff``, ``max_desks`` and
    ``evaluations`` (``--replications``, ``--seed``, ``--processes``,
    ``--check-sla``, ``--json`` and ``--out`` are simulate's own).
    """
    options = [
        click.option(
            "--optimise",
            type=click.Choice(["desks"]),
            help="Find the desk roster of whole shifts with the fewest officer-hours that "
            "meets the service level in every interval with 95% confidence.",
        ),
        click.option(
            "--shift-length",
            type=click.IntRange(1, 24 * 60),
            default=DEFAULTS["shift_length"],
            show_default=True,
            help="With --optimise: minutes in an officer's shift, break included.",
        ),
        click.option(
            "--shift-break",
            type=click.IntRange(0, 24 * 60),
            default=DEFAULTS["shift_break"],
            show_default=True,
            help="With --optimise: minutes of break, taken once in the middle third of a shift.",
        ),
        click.option(
            "--shift-step",
            type=click.IntRange(1, 24 * 60),
            help="With --optimise: shifts start every this many minutes, and each such "
            "interval must meet the service level. Default: the file's interval_min.",
        ),
        click.option(
            "--min-staff",
            type=click.IntRange(0, 1000),
            default=DEFAULTS["min_staff"],
            show_default=True,
            help="With --optimise: officers at a desk at any time, whatever the demand.",
        ),
        click.option(
            "--max-desks",
            type=click.IntRange(1, 1000),
            help="With --optimise: the most desks staffed at once. "
            "Default: twice the file's most, at least 10.",
        ),
        click.option(
            "--evaluations",
            type=click.IntRange(2, 10_000),
            default=DEFAULTS["evaluations"],
            show_default=True,
            help="With --optimise: rosters simulated at most (each on every replication).",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def run_optimise(
    config: HallConfig,
    folder: Path,
    name: str,
    *,
    shift_length: int = DEFAULTS["shift_length"],
    shift_break: int = DEFAULTS["shift_break"],
    shift_step: int | None = None,
    min_staff: int = DEFAULTS["min_staff"],
    max_desks: int | None = None,
    evaluations: int = DEFAULTS["evaluations"],
    replications: int | None = None,
    seed: int | None = None,
    processes: int | None = None,
    check_sla: bool = False,
    as_json: bool = False,
    out_dir: Path | None = None,
    console: Console | None = None,
) -> int:
    """Optimise ``config``'s desk roster, print the answer, write ``--out``'s files; exit status.

    ``folder`` is where the configuration's relative file names are read
    from and ``name`` how to name it. Replications default to 5 per
    evaluation (fewer than the file's usual 10: every evaluation runs them
    all). 0 when done; 1 when ``check_sla`` and the roster found misses an
    interval; bad settings raise ``InputError`` (exit 2).
    """
    if config.desks is None:
        raise InputError(f"{name}: desks: the configuration has no desks to staff")
    if config.variant_configs():
        raise InputError(f"{name}: --optimise takes a file without variants")
    step = shift_step if shift_step is not None else round(config.interval_min)
    try:
        rules = ShiftRules(shift_length, shift_break, step, min_staff)
        settings = OptimiserSettings(
            rules=rules,
            max_desks=max_desks,
            replications=DEFAULTS["replications"] if replications is None else replications,
            budget=evaluations,
            processes=cores() if processes is None else processes,
            seed=seed,
        )
    except ValueError as error:
        raise InputError(f"--optimise: {error}") from None
    started = time.perf_counter()
    with progress_bar(evaluations, "optimising the roster") as advance:
        result = optimise(config, folder, settings, progress=lambda _: advance())
    elapsed = time.perf_counter() - started
    if as_json:
        data = optimise_json(result)
        data["config"] = name
        data["seconds"] = round(elapsed, 1)
        click.echo(json.dumps(data, indent=2))
    else:
        _show(result, name, elapsed, console or Console())
    if out_dir is not None:
        _write_files(result, name, out_dir)
        if not as_json:
            (console or Console()).print(
                f"wrote roster.yaml, roster.csv, shifts.csv, optimise.json, roster.png to {out_dir}"
            )
    return EXIT_FAILURE if check_sla and not result.met else EXIT_OK


def _show(result: OptimiserResult, name: str, seconds: float, console: Console) -> None:
    console.print(f"[bold]Desk roster for {escape(result.config.name)}[/] ({escape(name)})")
    console.print("paste into the hall file in place of its desks' count or roster:")
    console.print(escape(roster_yaml(result)), end="", highlight=False, soft_wrap=True)
    for line in statements(result):
        console.print(escape(line), highlight=False)
    console.print(f"[dim]optimised in {seconds:.1f} s[/]")


def _write_files(result: OptimiserResult, name: str, out_dir: Path) -> None:
    data = optimise_json(result)
    data["config"] = name
    files = {
        "roster.yaml": roster_yaml(result).encode(),
        "roster.csv": slots_csv(result),
        "shifts.csv": shifts_csv(result),
        "optimise.json": (json.dumps(data, indent=2) + "\n").encode(),
        "roster.png": roster_png(result),
    }
    for file, content in files.items():
        try:
            atomic_write(out_dir / file, content)
        except OSError as error:
            raise InputError(f"{out_dir / file}: cannot write: {error.strerror or error}") from None
