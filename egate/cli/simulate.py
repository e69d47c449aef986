"""``egate simulate``: run the capacity model of an arrivals hall, or sweep one of its settings."""

from __future__ import annotations

import json
import time
from pathlib import Path

import click
from rich.console import Console

from egate.cli.errors import EXIT_FAILURE, EXIT_OK, InputError
from egate.cli.progress import progress_bar
from egate.outputs import atomic_write
from simulation.compare import (
    CompareResult,
    compare_answer,
    compare_csv,
    compare_json,
    compare_table,
    step_mean,
)
from simulation.config import DEFAULT_HALL, HallConfig, default_hall, load_hall
from simulation.plots import day_png, sweep_png
from simulation.replications import run_configurations
from simulation.report import (
    class_table,
    intervals_csv,
    report_json,
    summary_csv,
    summary_table,
    sweep_answer,
    sweep_csv,
    sweep_json,
    sweep_table,
    verdict,
)
from simulation.summary import Summary
from simulation.sweep import Sweep, SweepResult, apply_setting, parse_sweep, sweep_configs


def _parse_sweep(ctx: click.Context, param: click.Parameter, value: str | None) -> Sweep | None:
    """The ``--sweep`` option's value, or a usage error naming what is wrong."""
    if value is None:
        return None
    try:
        return parse_sweep(value)
    except ValueError as error:
        raise click.BadParameter(str(error), ctx, param) from None


def _load(path: Path | None) -> tuple[HallConfig, Path, str]:
    """(configuration, folder its relative paths are read from, how to name it)."""
    if path is None:
        return default_hall(), Path(), f"built-in {DEFAULT_HALL}"
    return load_hall(path), path.parent, str(path)


def _run(
    configs: list[HallConfig], base_dir: Path, replications: int, seed: int, processes: int | None
) -> list[Summary]:
    total = len(configs) * replications
    what = configs[0].name if len(configs) == 1 else f"{len(configs)} configurations"
    with progress_bar(total, f"{what}: {replications} replications") as advance:
        return run_configurations(
            configs,
            base_dir,
            replications=replications,
            seed=seed,
            processes=processes,
            progress=lambda done, total: advance(),
        )


def _write(out_dir: Path, files: dict[str, bytes]) -> None:
    """Each file whole or not at all; a folder that cannot be written is an input error."""
    for name, data in files.items():
        try:
            atomic_write(out_dir / name, data)
        except OSError as error:
            raise InputError(f"{out_dir / name}: cannot write: {error.strerror or error}") from None


def _json_bytes(data: object) -> bytes:
    return (json.dumps(data, indent=2) + "\n").encode()


@click.command()
@click.argument("config", required=False, type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--gates",
    type=click.IntRange(1, 500),
    help="Gates installed (a bank schedule keeps its shape). Default: the file's.",
)
@click.option(
    "--replications",
    "-r",
    type=click.IntRange(1, 10_000),
    help="Independent runs to average over. Default: the file's.",
)
@click.option("--seed", type=click.IntRange(min=0), help="Seed of the runs. Default: the file's.")
@click.option(
    "--sweep",
    metavar="NAME=RANGE",
    callback=_parse_sweep,
    help="Run once per value and find the smallest that meets the service level: "
    "gates=4..16, desks=20..40:4, workers=1..8 or threshold=0.5..0.65:0.05.",
)
@click.option(
    "--processes",
    type=click.IntRange(1, 1024),
    help="Worker processes. Default: one per core.",
)
@click.option(
    "--check-sla",
    is_flag=True,
    help="Exit 1 when the service level is missed (with --sweep: when no value meets it).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object.")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="Write CSV, JSON and PNG files here.",
)
def simulate(
    config: Path | None,
    gates: int | None,
    replications: int | None,
    seed: int | None,
    sweep: Sweep | None,
    processes: int | None,
    check_sla: bool,
    as_json: bool,
    out_dir: Path | None,
) -> int:
    """Simulate an arrivals hall: e-gates, officer desks and the matching core.

    CONFIG is a hall model in YAML (see configs/airports/ and
    docs/simulation.md); without it, the shipped Pudong-style day of about
    49,000 passengers (configs/airports/pudong-day.yaml, installed with
    egate). Prints throughput, waits (mean and percentiles, overall and per
    traveller class), the share within the service level, queue lengths,
    utilisation and referrals, each with its 95% confidence interval over
    the replications. The service level is the file's
    (default: 95% of travellers wait at most 5 minutes, the Frontex example;
    ICAO's 45 minutes to clear the hall is reported beside it).

    --out DIR writes summary.csv, intervals.csv (per interval of the day),
    summary.json and day.png (queues and p95 wait through the day); with
    --sweep, sweep.csv, sweep.json and sweep.png.

    A file with variants (a mapping of names to overrides of its settings)
    runs each variant with the same travellers and reports each one's
    figures and its difference from the first, with confidence intervals
    over the paired replications (--out: compare.csv, compare.json;
    --check-sla: exit 1 when any variant misses).

    Exit status: 0 done; 1 the service level is missed and --check-sla was
    given; 2 bad options or a bad configuration file.
    """
    hall, base_dir, source = _load(config)
    if gates is not None:
        if sweep is not None and sweep.parameter == "gates":
            raise click.UsageError("give either --gates or --sweep gates=..., not both")
        hall = _applied(hall, "gates", gates)
    count = hall.replications if replications is None else replications
    chosen_seed = hall.seed if seed is None else seed
    started = time.perf_counter()
    variants = hall.variant_configs()
    if variants:
        if sweep is not None:
            raise click.UsageError(
                f"{source} has variants, which it compares: --sweep needs a file without them"
            )
        names = tuple(name for name, _ in variants)
        chosen = tuple(
            variant if gates is None else _applied(variant, "gates", gates)
            for _, variant in variants
        )
        compared = CompareResult(
            names,
            chosen,
            tuple(_run(list(chosen), base_dir, count, chosen_seed, processes)),
            tuple(step_mean(variant, base_dir, "chip") for variant in chosen),
        )
        _compare_output(
            compared, source, chosen_seed, as_json, out_dir, time.perf_counter() - started
        )
        failed = not all(compared.met)
    elif sweep is not None:
        try:
            configs = sweep_configs(hall, sweep)
        except ValueError as error:
            raise click.BadParameter(str(error), param_hint="'--sweep'") from None
        summaries = _run(list(configs), base_dir, count, chosen_seed, processes)
        result = SweepResult(sweep, configs, tuple(summaries))
        _sweep_output(result, source, chosen_seed, as_json, out_dir, time.perf_counter() - started)
        failed = result.smallest is None
    else:
        summary = _run([hall], base_dir, count, chosen_seed, processes)[0]
        data = report_json(summary, hall, source, chosen_seed)
        if out_dir is not None:
            _write(
                out_dir,
                {
                    "summary.csv": summary_csv(summary),
                    "intervals.csv": intervals_csv(summary),
                    "summary.json": _json_bytes(data),
                    "day.png": day_png(summary, hall),
                },
            )
        if as_json:
            click.echo(json.dumps(data))
        else:
            _show(summary, hall, chosen_seed, out_dir, time.perf_counter() - started)
        failed = not data["service_level"]["met"]
    return EXIT_FAILURE if check_sla and failed else EXIT_OK


def _applied(hall: HallConfig, parameter: str, value: float) -> HallConfig:
    try:
        return apply_setting(hall, parameter, value)
    except ValueError as error:
        raise InputError(str(error)) from None


def _show(
    summary: Summary, hall: HallConfig, seed: int, out_dir: Path | None, seconds: float
) -> None:
    console = Console(highlight=False)
    console.print(summary_table(summary, hall, seed))
    console.print(class_table(summary, hall))
    console.print(verdict(summary, hall))
    _footer(console, out_dir, ("summary.csv", "intervals.csv", "summary.json", "day.png"), seconds)


def _footer(console: Console, out_dir: Path | None, names: tuple[str, ...], seconds: float) -> None:
    if out_dir is not None:
        console.print(f"wrote {', '.join(names)} to {out_dir}")
    console.print(f"[dim]simulated in {seconds:.1f} s[/]")


def _compare_output(
    result: CompareResult,
    source: str,
    seed: int,
    as_json: bool,
    out_dir: Path | None,
    seconds: float,
) -> None:
    data = compare_json(result, source, seed)
    if out_dir is not None:
        _write(out_dir, {"compare.csv": compare_csv(result), "compare.json": _json_bytes(data)})
    if as_json:
        click.echo(json.dumps(data))
        return
    console = Console(highlight=False)
    console.print(compare_table(result))
    console.print(compare_answer(result))
    _footer(console, out_dir, ("compare.csv", "compare.json"), seconds)


def _sweep_output(
    result: SweepResult,
    source: str,
    seed: int,
    as_json: bool,
    out_dir: Path | None,
    seconds: float,
) -> None:
    data = sweep_json(result, source, seed)
    if out_dir is not None:
        _write(
            out_dir,
            {
                "sweep.csv": sweep_csv(result),
                "sweep.json": _json_bytes(data),
                "sweep.png": sweep_png(result),
            },
        )
    if as_json:
        click.echo(json.dumps(data))
        return
    console = Console(highlight=False)
    console.print(sweep_table(result))
    console.print(sweep_answer(result))
    _footer(console, out_dir, ("sweep.csv", "sweep.json", "sweep.png"), seconds)
