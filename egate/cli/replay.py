"""``egate replay``: a training scenario through mock gates, with transcript and scorecard."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import click
from prometheus_client import CollectorRegistry
from rich.console import Console

from egate.biometrics.matching import MatchingCore
from egate.cli.devices import stop_on_signals
from egate.cli.errors import EXIT_FAILURE, EXIT_OK, InputError
from egate.samples import SAMPLES_PREFIX, SampleError, fetch_samples, installed_samples
from egate.shipped import ShippedFileError, shipped_file, shipped_folder
from station.classroom import DEFAULT_HOST, DEFAULT_PORT
from station.training.control import ReplayControl
from station.training.live import LiveView
from station.training.replay import FAST_SPEED, Replay
from station.training.report import write_outputs
from station.training.scenario import Scenario, load_scenario
from station.training.scorecard import Scorecard
from station.training.terminal import line_style, render_line, render_scorecard
from station.training.transcript import Line, ReplayRun

DEFAULT_SCENARIO = "pudong-morning.yaml"
# The shipped scenarios (configs/scenarios), installed with egate as package data.
SCENARIO_FOLDER = shipped_folder("scenarios")
EXIT_INTERRUPTED = 130
MAX_SPEED = 100.0
_PIPE_WIDTH = 132


def default_scenario(files: ExitStack) -> Path:
    """The shipped Pudong-style morning wave; its path is valid until ``files`` closes."""
    try:
        return files.enter_context(shipped_file("scenarios", DEFAULT_SCENARIO))
    except ShippedFileError as error:
        raise InputError(f"{error}; give a SCENARIO file") from None


def _ensure_samples(path: Path, out: Console) -> None:
    """Fetch the sample photos first when the scenario uses them and they are missing."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return  # the loader reports the file
    if SAMPLES_PREFIX not in text or installed_samples() is not None:
        return
    out.print("egate replay: fetching the sample photos (egate samples fetch) ...", markup=False)
    try:
        fetch_samples()
    except SampleError as error:
        raise InputError(f"{path}: the scenario uses sample photos: {error}") from None


def _check_out(folder: Path | None) -> None:
    """Refuse an output folder that cannot be written before anything runs."""
    if folder is None:
        return
    if folder.exists() and not folder.is_dir():
        raise InputError(f"--out {folder}: exists and is not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / ".egate-write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as error:
        raise InputError(f"--out {folder}: cannot write there: {error.strerror or error}") from None


@click.command("replay")
@click.argument(
    "scenario_path",
    metavar="[SCENARIO]",
    required=False,
    type=click.Path(path_type=Path, dir_okay=False),
)
@click.option(
    "--speed",
    type=click.FloatRange(min=0, min_open=True, max=MAX_SPEED),
    help="People and doors move this many times faster than in the scenario [1].",
)
@click.option(
    "--fast",
    is_flag=True,
    help=f"As fast as the gates allow: people and doors {FAST_SPEED:g}x, no waiting for arrivals.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the scorecard as JSON, no transcript.")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="Write transcript.jsonl, scorecard.json and report.html into this folder.",
)
@click.option(
    "--photos",
    "photos",
    type=click.Path(path_type=Path, file_okay=False),
    help="Resolve the scenario's photo paths in this folder (over its photos: key).",
)
@click.option("--quiet", "-q", is_flag=True, help="No live transcript, the scorecard only.")
@click.option("--verbose", "-v", is_flag=True, help="Log device and service events to stderr.")
@click.option(
    "--console",
    "console",
    is_flag=True,
    help="Serve the classroom console (a web page per instructor, desk and viewers) "
    "and keep serving after the replay until Ctrl-C.",
)
@click.option(
    "--host",
    help=f"With --console: the address to listen on [{DEFAULT_HOST}: this machine only].",
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    help=f"With --console: the port to listen on (0: any free one) [{DEFAULT_PORT}].",
)
def replay(
    scenario_path: Path | None,
    speed: float | None,
    fast: bool,
    as_json: bool,
    out_dir: Path | None,
    photos: Path | None,
    quiet: bool,
    verbose: bool,
    console: bool,
    host: str | None,
    port: int | None,
) -> int:
    """Replay a training scenario through mock gates and score every decision.

    Each gate of the scenario runs the real gate controller and drivers on
    device emulators (pseudo-terminals), with the real face matching core;
    passengers queue and walk through as the scenario describes them. Prints
    a live transcript (time, gate, passenger, step, what happened) and a
    scorecard: expected and actual outcome per passenger, genuine travellers
    accepted, impostors and document frauds caught, false rejects, step
    timings and throughput. Without SCENARIO: the shipped Pudong-style
    morning wave (configs/scenarios/pudong-morning.yaml, installed with egate).

    With --console it also serves the classroom console and prints its three
    URLs (instructor, desk, viewers); it keeps serving after the replay, for
    the desk, until Ctrl-C, then writes --out.

    Exit status: 0 when every outcome matches the scenario (with --console:
    when stopped by Ctrl-C); 1 when one does not; 2 for a bad scenario file
    or option, or a console port in use; 130 when interrupted.
    """
    if speed is not None and fast:
        raise click.UsageError("give --speed or --fast, not both")
    if not console and (host is not None or port is not None):
        raise click.UsageError("--host and --port need --console")
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.INFO if verbose else logging.ERROR,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    out = Console(highlight=False, soft_wrap=True, quiet=as_json)
    if not out.is_terminal:
        # A file or a pipe: wide enough that reason codes are not cut into pieces.
        out.width = max(out.width, _PIPE_WIDTH)
    pace = Pace(speed or 1.0, fast)
    show = Show(out, as_json, quiet)
    if console:
        # Imported here: a replay without a console loads no web server.
        from egate.cli.console import Address, replay_with_console

        address = Address(host or DEFAULT_HOST, DEFAULT_PORT if port is None else port)
        return replay_with_console(scenario_path, address, pace, show, out_dir, photos)
    with ExitStack() as files:
        path = scenario_path or default_scenario(files)
        return _replay(path, pace, show, out_dir, photos)


@dataclass(frozen=True, slots=True)
class Pace:
    """How fast a replay runs: ``speed`` times the scenario's pace, or ``fast``."""

    speed: float = 1.0
    fast: bool = False


@dataclass(frozen=True, slots=True)
class Show:
    """What a replay prints: on ``out``, the scorecard as JSON, the transcript unless quiet."""

    out: Console
    as_json: bool = False
    quiet: bool = False

    @property
    def transcript(self) -> bool:
        """Whether the live transcript is printed."""
        return not (self.quiet or self.as_json)


def prepare(path: Path, show: Show, out_dir: Path | None, photos: Path | None) -> Scenario:
    """The scenario at ``path``, once --out is writable and its sample photos are there."""
    _check_out(out_dir)
    _ensure_samples(path, show.out)
    return load_scenario(path, photos=photos)


def line_printer(show: Show, scenario: Scenario) -> Callable[[Line], None]:
    """What prints each transcript line as the replay writes it (nothing when quiet)."""

    def print_line(line: Line) -> None:
        if show.transcript:
            show.out.print(render_line(line, scenario.start), style=line_style(line), markup=False)

    return print_line


@contextmanager
def matching_core(scenario: Scenario) -> Iterator[tuple[MatchingCore, CollectorRegistry]]:
    """The scenario's face matching core, running, and the registry of its metrics.

    Its capture window and liveness check are the scenario's ``matching.capture``:
    the gates' service takes that many frames per capture attempt.
    """
    registry = CollectorRegistry()
    matching = scenario.matching
    with MatchingCore(
        matching.verifier,
        workers=matching.workers,
        queue_limit=matching.queue_limit,
        kind=matching.kind,
        registry=registry,
        capture=matching.capture,
    ) as core:
        yield core, registry


def show_scorecard(run: ReplayRun, show: Show) -> Scorecard:
    """Print the run's scorecard (JSON or a table); the scorecard."""
    card = Scorecard.of(run)
    if show.as_json:
        click.echo(json.dumps(card.to_json(), indent=2))
    else:
        render_scorecard(card, show.out)
    return card


def write_reports(run: ReplayRun, card: Scorecard, out_dir: Path | None, show: Show) -> None:
    """Write transcript, scorecard and report into ``out_dir`` when one was given."""
    if out_dir is None:
        return
    try:
        written = write_outputs(run, card, out_dir)
    except OSError as error:
        raise InputError(f"--out {out_dir}: {error.strerror or error}") from None
    show.out.print(f"written: {', '.join(str(p) for p in written)}", markup=False)


def build_replay(
    scenario: Scenario,
    path: Path,
    pace: Pace,
    show: Show,
    matching: tuple[MatchingCore, CollectorRegistry],
    *,
    control: ReplayControl | None = None,
    live: LiveView | None = None,
) -> Replay:
    """The replay of ``scenario`` (read from ``path``) at ``pace``, printing its lines to ``show``;
    with a console's ``control`` and ``live`` view when it has one."""
    core, registry = matching
    return Replay(
        scenario,
        str(path),
        core=core,
        core_registry=registry,
        speed=pace.speed,
        fast=pace.fast,
        on_line=line_printer(show, scenario),
        base_dir=path.parent,
        control=control,
        live=live,
    )


def _replay(path: Path, pace: Pace, show: Show, out_dir: Path | None, photos: Path | None) -> int:
    """Replay the scenario file at ``path``; the exit status."""
    scenario = prepare(path, show, out_dir, photos)
    source = str(path)
    announce(show.out, scenario, source, pace)
    with stop_on_signals() as stop, matching_core(scenario) as (core, registry):
        run = build_replay(scenario, path, pace, show, (core, registry)).run(stop)
        interrupted = stop.is_set()
    card = show_scorecard(run, show)
    write_reports(run, card, out_dir, show)
    if interrupted:
        click.echo(
            "egate replay: interrupted; the scorecard covers the passengers so far", err=True
        )
        return EXIT_INTERRUPTED
    return EXIT_OK if card.all_matched else EXIT_FAILURE


def announce(out: Console, scenario: Scenario, source: str, pace: Pace) -> None:
    """The replay's first line: the scenario, its passengers and gates, the pace."""
    how = f"fast (people and doors {FAST_SPEED:g}x)" if pace.fast else f"speed {pace.speed:g}x"
    gates = ", ".join(scenario.gates.names)
    out.print(
        f"egate replay: {scenario.name} ({source}), {len(scenario.passengers)} passengers, "
        f"gates {gates} ({scenario.gates.controller.topology.value}), {how}",
        markup=False,
    )
