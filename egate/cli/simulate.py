"""``egate simulate``: run the capacity model of an arrivals hall, sweep its settings (one, or a
grid of several), or compare halls side by side."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import click
from click.core import ParameterSource

from egate.cli.errors import EXIT_FAILURE, EXIT_OK, InputError
from egate.cli.optimise import optimise_options, run_optimise
from egate.cli.progress import progress_bar
from egate.cli.simulate_output import (
    compare_output,
    grid_output,
    json_bytes,
    show_report,
    sweep_output,
    write_files,
)
from simulation.compare import (
    CompareResult,
    step_mean,
)
from simulation.config import DEFAULT_HALL, HallConfig, default_hall, load_hall
from simulation.grid import Grid, GridResult, grid_configs, parse_settings
from simulation.plots import day_png
from simulation.replications import plan_jobs, run_configurations
from simulation.report import (
    intervals_csv,
    report_json,
    summary_csv,
)
from simulation.runstore import RunStore
from simulation.summary import Summary
from simulation.sweep import Sweep, SweepResult, apply_setting, sweep_configs


def _positionals(arguments: tuple[str, ...]) -> tuple[list[Path], list[str]]:
    """(configuration files, further settings to sweep) among the positional arguments.

    ``--sweep gates=6..12 desks=20..40`` leaves ``desks=20..40`` among the
    arguments: a ``NAME=...`` whose name is a word and that is no file is a
    setting, anything else a file.
    """
    files: list[Path] = []
    settings: list[str] = []
    for argument in arguments:
        name, equals, _ = argument.partition("=")
        if equals and name.strip().isidentifier() and not Path(argument).exists():
            settings.append(argument)
        else:
            files.append(Path(argument))
    return files, settings


def _parse_settings(texts: list[str]) -> Sweep | Grid:
    """``--sweep``'s settings (with those that followed it), or a usage error naming one."""
    try:
        return parse_settings(texts)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="'--sweep'") from None


def _load(path: Path | None) -> tuple[HallConfig, Path, str]:
    """(configuration, folder its relative paths are read from, how to name it).

    What the model will do that the planner may not expect (a flight bringing
    nobody, travellers with no desk staffed) is said on standard error first,
    one line each, so piped results stay clean.
    """
    if path is None:
        loaded, folder, name = default_hall(), Path(), f"built-in {DEFAULT_HALL}"
    else:
        loaded, folder, name = load_hall(path), path.parent, str(path)
    for warning in loaded.warnings:
        click.echo(f"egate: warning: {name}: {warning}", err=True)
    return loaded, folder, name


def _parse_cluster(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """A Dask scheduler's address: ``tcp://HOST:PORT`` (a bare ``HOST:PORT`` means tcp)."""
    if value is None or not value.strip():
        return None
    address = value.strip()
    if "://" not in address:
        address = f"tcp://{address}"
    scheme, _, rest = address.partition("://")
    host, colon, port = rest.rpartition(":")
    if not host or not colon or not port.isdigit() or not 0 < int(port) < 65536:
        raise click.BadParameter(
            f"{value!r}: expected a Dask scheduler's address, tcp://HOST:PORT", ctx, param
        )
    if scheme not in ("tcp", "tls"):
        raise click.BadParameter(
            f"{value!r}: expected tcp:// or tls://, not {scheme}://", ctx, param
        )
    return address


def _store(out_dir: Path) -> RunStore | None:
    """The run store in ``out_dir``; None when its folder cannot be made (then writing the
    reports fails with the reason, as without a store)."""
    store = RunStore(out_dir)
    try:
        store.folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return store


class _Runner:
    """Where and how the runs of this command go: processes or a cluster, and the run store."""

    def __init__(
        self, processes: int | None, cluster: str | None, out_dir: Path | None, keep: bool
    ) -> None:
        self.processes = processes
        self.cluster = cluster
        self.store = None if out_dir is None else _store(out_dir)
        self.keep = keep  # the kept runs outlive the run

    def run(
        self,
        configs: list[HallConfig],
        base_dir: Path | list[Path],
        replications: int,
        seed: int,
    ) -> list[Summary]:
        """A summary per configuration; ``base_dir`` is one folder for all, or one each."""
        total = len(configs) * replications
        what = configs[0].name if len(configs) == 1 else f"{len(configs)} configurations"
        keys = [
            job.key for _, job in plan_jobs(configs, base_dir, replications=replications, seed=seed)
        ]
        if self.store is not None:
            kept = sum(self.store.path(key).is_file() for key in keys)
            if kept:
                click.echo(
                    f"resuming: {kept} of {total} runs already in {self.store.folder}", err=True
                )
        where = f" on {self.cluster}" if self.cluster else ""
        with progress_bar(total, f"{what}: {replications} replications{where}") as advance:
            summaries = self._summaries(configs, base_dir, replications, seed, advance)
        if self.store is not None and not self.keep:
            self._forget(keys)
        return summaries

    def _summaries(
        self,
        configs: list[HallConfig],
        base_dir: Path | list[Path],
        replications: int,
        seed: int,
        advance: Callable[[], None],
    ) -> list[Summary]:
        if self.cluster is not None:
            # Imported only for a cluster: distributed takes a while to import.
            from simulation.cluster import ClusterError

            try:
                return self._run_configurations(configs, base_dir, replications, seed, advance)
            except ClusterError as error:
                raise InputError(str(error)) from None
        return self._run_configurations(configs, base_dir, replications, seed, advance)

    def _run_configurations(
        self,
        configs: list[HallConfig],
        base_dir: Path | list[Path],
        replications: int,
        seed: int,
        advance: Callable[[], None],
    ) -> list[Summary]:
        try:
            return run_configurations(
                configs,
                base_dir,
                replications=replications,
                seed=seed,
                processes=self.processes,
                cluster=self.cluster,
                store=self.store,
                progress=lambda done, total: advance(),
            )
        except OSError as error:
            if self.store is None or error.filename is None:
                raise
            raise InputError(f"{error.filename}: cannot write: {error.strerror or error}") from None

    def _forget(self, keys: list[str]) -> None:
        """Remove this run's kept runs: the reports now hold what they were kept for."""
        assert self.store is not None
        for key in keys:
            self.store.path(key).unlink(missing_ok=True)
        # Left when not empty: runs of another configuration, kept for their own resume.
        with contextlib.suppress(OSError):
            self.store.folder.rmdir()


@click.command()
@click.argument("arguments", metavar="[CONFIG]...", nargs=-1)
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
    metavar="NAME=RANGE...",
    help="Run once per value and find the smallest that meets the service level: "
    "gates=4..16, desks=20..40:4, workers=1..8 or threshold=0.5..0.65:0.05. "
    "Several settings (--sweep gates=6..12 desks=20..40:5) run every combination "
    "and find the cheapest.",
)
@click.option(
    "--compare",
    is_flag=True,
    help="Compare two or more CONFIG files side by side, run with the first's seed "
    "(the same random numbers): differences from the first with their intervals.",
)
@click.option(
    "--processes",
    type=click.IntRange(1, 1024),
    help="Worker processes on this machine. Default: one per core.",
)
@click.option(
    "--cluster",
    metavar="tcp://HOST:PORT",
    envvar="EGATE_DASK_SCHEDULER",
    callback=_parse_cluster,
    help="Run on the Dask scheduler at this address and its workers, on any machines "
    "(egate installed on each, at this version). Default: $EGATE_DASK_SCHEDULER, "
    "else this machine.",
)
@click.option(
    "--keep-runs",
    is_flag=True,
    help="With --out: keep each replication's result in DIR/runs/ after the run "
    "(a rerun with more replications or sweep values then computes only the new ones).",
)
@click.option(
    "--check-sla",
    is_flag=True,
    help=(
        "Exit 1 when the service level is not met with 95% confidence"
        " (with --sweep: when no value meets it so)."
    ),
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object.")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="Write CSV, JSON and PNG files here.",
)
@optimise_options
def simulate(
    arguments: tuple[str, ...],
    gates: int | None,
    replications: int | None,
    seed: int | None,
    sweep: str | None,
    compare: bool,
    processes: int | None,
    cluster: str | None,
    keep_runs: bool,
    check_sla: bool,
    as_json: bool,
    out_dir: Path | None,
    optimise: str | None,
    shift_length: int,
    shift_break: int,
    shift_step: int | None,
    min_staff: int,
    max_desks: int | None,
    evaluations: int,
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

    --sweep with several settings (--sweep gates=6..12 desks=20..40:5, quoted
    or not) runs every combination and names the cheapest that meets the
    service level with 95% confidence: fewest desks first (officers), then
    gates, core workers, the strictest threshold (--out: grid.csv,
    grid.json, and for two settings grid.png, heat maps of the p95 wait and
    the service level).

    A file with variants (a mapping of names to overrides of its settings)
    runs each variant with the same travellers and reports each one's
    figures and its difference from the first, with confidence intervals
    over the paired replications (--out: compare.csv, compare.json,
    compare.png; --check-sla: exit 1 when any variant misses). --compare
    A.yaml B.yaml ... does the same for separate files, all run with the
    first's seed and replications.

    Runs go to the machine's cores, or with --cluster to a Dask scheduler
    and its workers on other machines; the results are the same bit for
    bit. With --out, each finished replication is kept in DIR/runs/ until
    the run is over: a run interrupted (Ctrl-C, a machine lost) and started
    again with the same --out computes only the replications it lacks.

    --optimise desks finds the desk roster of whole shifts (--shift-length,
    --shift-break, --shift-step, --min-staff, --max-desks) with the fewest
    officer-hours that meets the service level in every interval with 95%
    confidence, within --evaluations simulated rosters, and says what it
    proved and where it stopped; it prints the roster in the file's own
    desks: roster: form (--out: roster.yaml, roster.csv, shifts.csv,
    optimise.json, roster.png).

    Exit status: 0 done; 1 the service level is missed and --check-sla was
    given; 2 bad options, a bad configuration file or a cluster that cannot
    be reached.
    """
    if optimise is not None:
        if sweep is not None or compare:
            raise click.UsageError("give --optimise alone, without --sweep or --compare")
        # A scheduler named by $EGATE_DASK_SCHEDULER serves the other runs; only an
        # explicit --cluster asks the optimiser for something it does not do.
        given = click.get_current_context().get_parameter_source("cluster")
        if (cluster is not None and given is ParameterSource.COMMANDLINE) or keep_runs:
            raise click.UsageError(
                "--optimise runs on this machine: without --cluster or --keep-runs"
            )
        search = OptimiseSettings(
            shift_length, shift_break, shift_step, min_staff, max_desks, evaluations
        )
        return _optimise(
            arguments, gates, replications, seed, processes, check_sla, as_json, out_dir, search
        )
    if cluster is not None and processes is not None:
        raise click.UsageError(
            "give either --processes (workers on this machine) or --cluster, not both"
        )
    if keep_runs and out_dir is None:
        raise click.UsageError("--keep-runs keeps runs in --out DIR: give --out too")
    files, settings = _positionals(arguments)
    if settings and sweep is None:
        raise click.UsageError(
            f"{settings[0]!r} is a setting to sweep: give --sweep before it "
            "(--sweep gates=6..12 desks=20..40)"
        )
    swept = None if sweep is None else _parse_settings([sweep, *settings])
    runner = _Runner(processes, cluster, out_dir, keep_runs)
    if compare:
        if swept is not None:
            raise click.UsageError("give either --compare or --sweep, not both")
        if len(files) < 2:
            raise click.UsageError("--compare needs two or more CONFIG files")
        started = time.perf_counter()
        compared, chosen_files_seed = _compare_files(files, runner, gates, replications, seed)
        sources = [str(path) for path in files]
        elapsed = time.perf_counter() - started
        compare_output(compared, sources, chosen_files_seed, as_json, out_dir, elapsed)
        return EXIT_FAILURE if check_sla and not all(compared.met) else EXIT_OK
    if len(files) > 1:
        raise click.UsageError(
            f"give one CONFIG file, not {len(files)} (--compare compares several)"
        )
    hall, base_dir, source = _load(files[0] if files else None)
    if gates is not None:
        if swept is not None and "gates" in _swept(swept):
            raise click.UsageError("give either --gates or --sweep gates=..., not both")
        hall = _applied(hall, "gates", gates)
    count = hall.replications if replications is None else replications
    chosen_seed = hall.seed if seed is None else seed
    started = time.perf_counter()
    variants = hall.variant_configs()
    if variants:
        if swept is not None:
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
            tuple(runner.run(list(chosen), base_dir, count, chosen_seed)),
            tuple(step_mean(variant, base_dir, "chip") for variant in chosen),
        )
        compare_output(
            compared, source, chosen_seed, as_json, out_dir, time.perf_counter() - started
        )
        failed = not all(compared.met)
    elif isinstance(swept, Grid):
        try:
            points = grid_configs(hall, swept)
        except ValueError as error:
            raise click.BadParameter(str(error), param_hint="'--sweep'") from None
        found = GridResult(
            swept, points, tuple(runner.run(list(points), base_dir, count, chosen_seed))
        )
        grid_output(found, source, chosen_seed, as_json, out_dir, time.perf_counter() - started)
        failed = found.cheapest is None
    elif swept is not None:
        try:
            configs = sweep_configs(hall, swept)
        except ValueError as error:
            raise click.BadParameter(str(error), param_hint="'--sweep'") from None
        summaries = runner.run(list(configs), base_dir, count, chosen_seed)
        result = SweepResult(swept, configs, tuple(summaries))
        sweep_output(result, source, chosen_seed, as_json, out_dir, time.perf_counter() - started)
        failed = result.smallest is None
    else:
        summary = runner.run([hall], base_dir, count, chosen_seed)[0]
        data = report_json(summary, hall, source, chosen_seed)
        if out_dir is not None:
            write_files(
                out_dir,
                {
                    "summary.csv": summary_csv(summary),
                    "intervals.csv": intervals_csv(summary),
                    "summary.json": json_bytes(data),
                    "day.png": day_png(summary, hall),
                },
            )
        if as_json:
            click.echo(json.dumps(data))
        else:
            show_report(summary, hall, chosen_seed, out_dir, time.perf_counter() - started)
        failed = not data["service_level"]["met"]
    return EXIT_FAILURE if check_sla and failed else EXIT_OK


def _compare_files(
    files: list[Path],
    runner: _Runner,
    gates: int | None,
    replications: int | None,
    seed: int | None,
) -> tuple[CompareResult, int]:
    """Every file run with the first's seed and replications (unless given), so that the runs
    pair: replication r of each draws the same random numbers. And the seed used."""
    # All loaded before any run: a missing or broken file is named at once.
    loaded = [_load(path) for path in files]
    for hall, _, source in loaded:
        if hall.variant_configs():
            raise InputError(
                f"{source}: has variants: --compare takes files without them "
                "(run it alone to compare its variants)"
            )
    first, _, first_source = loaded[0]
    chosen_seed = first.seed if seed is None else seed
    count = first.replications if replications is None else replications
    for hall, _, source in loaded[1:]:
        differ = [
            *([f"seed {hall.seed}"] if seed is None and hall.seed != first.seed else []),
            *(
                [f"{hall.replications} replications"]
                if replications is None and hall.replications != first.replications
                else []
            ),
        ]
        if differ:
            click.echo(
                f"egate: warning: {source}: {' and '.join(differ)} in the file: run with "
                f"{first_source}'s seed {chosen_seed} and {count} replications, as every "
                "file, so that the runs pair",
                err=True,
            )
    configs = [hall if gates is None else _applied(hall, "gates", gates) for hall, _, _ in loaded]
    folders = [folder for _, folder, _ in loaded]
    summaries = runner.run(configs, folders, count, chosen_seed)
    found = CompareResult(
        tuple(str(path) for path in files),
        tuple(configs),
        tuple(summaries),
        tuple(
            step_mean(hall, folder, "chip") for hall, folder in zip(configs, folders, strict=True)
        ),
        kind="config",
    )
    return found, chosen_seed


def _swept(swept: Sweep | Grid) -> tuple[str, ...]:
    return swept.parameters if isinstance(swept, Grid) else (swept.parameter,)


@dataclass(frozen=True, slots=True)
class OptimiseSettings:
    """The ``--optimise`` search's own options."""

    shift_length: int
    shift_break: int
    shift_step: int | None
    min_staff: int
    max_desks: int | None
    evaluations: int


def _optimise(
    arguments: tuple[str, ...],
    gates: int | None,
    replications: int | None,
    seed: int | None,
    processes: int | None,
    check_sla: bool,
    as_json: bool,
    out_dir: Path | None,
    search: OptimiseSettings,
) -> int:
    """``--optimise desks`` on one file, run on this machine; the exit status."""
    files, settings = _positionals(arguments)
    if settings or len(files) > 1:
        raise click.UsageError("--optimise takes one CONFIG file")
    hall, base_dir, source = _load(files[0] if files else None)
    if gates is not None:
        hall = _applied(hall, "gates", gates)
    return run_optimise(
        hall,
        base_dir,
        source,
        shift_length=search.shift_length,
        shift_break=search.shift_break,
        shift_step=search.shift_step,
        min_staff=search.min_staff,
        max_desks=search.max_desks,
        evaluations=search.evaluations,
        replications=replications,
        seed=seed,
        processes=processes,
        check_sla=check_sla,
        as_json=as_json,
        out_dir=out_dir,
    )


def _applied(hall: HallConfig, parameter: str, value: float) -> HallConfig:
    try:
        return apply_setting(hall, parameter, value)
    except ValueError as error:
        raise InputError(str(error)) from None
