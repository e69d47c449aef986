"""``egate console``: a shipped drill with the classroom console; and ``egate replay --console``.

The console is a web page per role (station/classroom/): the instructor runs
the replay (pause, step, speed, faults, more passengers), the trainee decides
at the desk, the class watches.  ``replay_with_console`` is the one place that
wires a replay to it: a ``ReplayControl`` and a ``LiveView`` handed to the
``Replay``, which runs on a thread of its own while the main thread serves
the console until Ctrl-C (or SIGTERM).  The replay ending does not end the
console: the desk may still be deciding.
"""

from __future__ import annotations

import logging
import socket
import sys
import threading
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from importlib.resources.abc import Traversable
from pathlib import Path

import click
import yaml
from rich.console import Console

from egate.cli.devices import stop_on_signals
from egate.cli.errors import EXIT_OK, InputError
from egate.cli.replay import (
    MAX_SPEED,
    Pace,
    Show,
    announce,
    build_replay,
    default_scenario,
    matching_core,
    prepare,
    show_scorecard,
    write_reports,
)
from egate.shipped import ShippedFileError, shipped_file, shipped_folder
from station.classroom import DEFAULT_HOST, DEFAULT_PORT
from station.classroom.runner import ConsoleAddressError, ConsoleRunner, listen
from station.classroom.server import ConsoleServer, ConsoleUrls
from station.training.control import ReplayControl
from station.training.desk import DeskScore
from station.training.live import live_view
from station.training.replay import FAST_SPEED, Replay
from station.training.scorecard import Scorecard
from station.training.transcript import ReplayRun

# How often the main thread looks whether the replay has ended.
_WATCH_S = 0.2
# How long a stopped replay may take to close its gates.
_STOP_S = 60.0
# Addresses that mean "every interface": the URLs then name this machine.
_ANY_ADDRESS = frozenset({"0.0.0.0", "::", ""})


class ReplayStuck(RuntimeError):
    """The replay did not end when asked to."""


@dataclass(frozen=True, slots=True)
class Address:
    """Where the console listens."""

    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT


@dataclass(frozen=True, slots=True)
class Drill:
    """A shipped scenario: its file name and its title."""

    file: str
    name: str
    passengers: int | None

    @property
    def key(self) -> str:
        """What a user types for it: the file name without ``.yaml``."""
        return self.file.removesuffix(".yaml")


def shipped_drills() -> list[Drill]:
    """The scenarios shipped in configs/scenarios, by file name."""
    try:
        folder = shipped_folder("scenarios")
    except ShippedFileError as error:
        raise InputError(str(error)) from None
    return [
        _drill(entry)
        for entry in sorted(folder.iterdir(), key=lambda entry: entry.name)
        if entry.name.endswith(".yaml") and entry.is_file()
    ]


def _drill(entry: Traversable) -> Drill:
    """The drill in a shipped file, titled by its ``name:`` (its file name if unreadable)."""
    try:
        data = yaml.safe_load(entry.read_text(encoding="utf-8"))
    except (OSError, UnicodeError, yaml.YAMLError):
        data = None
    data = data if isinstance(data, dict) else {}
    name = data.get("name")
    passengers = data.get("passengers")
    return Drill(
        entry.name,
        name if isinstance(name, str) and name.strip() else entry.name,
        len(passengers) if isinstance(passengers, list) else None,
    )


def drill_list(drills: list[Drill]) -> str:
    """The numbered list of drills a user chooses from."""
    width = max((len(drill.key) for drill in drills), default=0)
    rows = []
    for number, drill in enumerate(drills, start=1):
        size = "" if drill.passengers is None else f" ({drill.passengers} passengers)"
        rows.append(f"  {number:>2}  {drill.key:<{width}}  {drill.name}{size}")
    return "\n".join(["Shipped drills:", *rows])


def choose(drills: list[Drill], wanted: str) -> Drill:
    """The drill ``wanted`` names: its number in the list, its file name, or that without .yaml."""
    text = wanted.strip()
    if text.isdigit() and 1 <= int(text) <= len(drills):
        return drills[int(text) - 1]
    for drill in drills:
        if text in (drill.file, drill.key):
            return drill
    names = ", ".join(drill.key for drill in drills)
    raise InputError(
        f"no shipped drill {wanted!r}: give a number from 1 to {len(drills)} or one of {names}"
    )


def _interactive() -> bool:
    """Whether someone at a terminal can be asked which drill to run."""
    return sys.stdin.isatty() and sys.stdout.isatty()


@click.command("console")
@click.argument("drill", required=False)
@click.option(
    "--host",
    default=DEFAULT_HOST,
    show_default=True,
    help="The address to listen on (127.0.0.1: this machine only; 0.0.0.0: the classroom).",
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=DEFAULT_PORT,
    show_default=True,
    help="The port to listen on (0: any free one).",
)
@click.option(
    "--speed",
    type=click.FloatRange(min=0, min_open=True, max=MAX_SPEED),
    help="People and doors move this many times faster than in the drill [1].",
)
@click.option(
    "--fast",
    is_flag=True,
    help=f"As fast as the gates allow (people and doors {FAST_SPEED:g}x).",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="On Ctrl-C, write transcript.jsonl, scorecard.json and report.html into this folder.",
)
@click.option("--quiet", "-q", is_flag=True, help="No live transcript in the terminal.")
def console(
    drill: str | None,
    host: str,
    port: int,
    speed: float | None,
    fast: bool,
    out_dir: Path | None,
    quiet: bool,
) -> int:
    """Run a shipped training drill with the classroom console.

    DRILL is a drill's number or name from the list (without DRILL at a
    terminal, egate asks). It prints three URLs: the instructor's page runs the
    replay (pause, step, speed, device faults, more passengers), the desk's
    page decides on the travellers the gates refer, the viewers' page shows
    the lanes, decisions and transcript. It keeps serving after the drill, for
    the desk, until Ctrl-C.

    Exit status: 0 when stopped by Ctrl-C; 2 for no DRILL (without a
    terminal: the list is printed), an unknown one, or a port in use.
    """
    if speed is not None and fast:
        raise click.UsageError("give --speed or --fast, not both")
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.ERROR,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    drills = shipped_drills()
    if not drills:
        raise InputError("no shipped drills are installed (configs/scenarios)")
    if drill is None:
        click.echo(drill_list(drills))
        if not _interactive():
            raise InputError("give a DRILL: a number or a name from the list above")
        drill = click.prompt("Drill (number or name)", type=str)
    chosen = choose(drills, drill)
    out = Console(highlight=False, soft_wrap=True)
    show = Show(out, quiet=quiet)
    with shipped_file("scenarios", chosen.file) as path:
        return replay_with_console(
            path, Address(host, port), Pace(speed or 1.0, fast), show, out_dir, None
        )


def replay_with_console(
    scenario_path: Path | None,
    address: Address,
    pace: Pace,
    show: Show,
    out_dir: Path | None,
    photos: Path | None,
) -> int:
    """Replay a scenario (the default one without a path) with the console; the exit status."""
    printed: list[DeskScore | None] = []

    def ended(run: ReplayRun, urls: ConsoleUrls) -> None:
        if not show.as_json:  # JSON is printed once, at the end
            show_scorecard(run, show)
            printed.append(run.desk)
        _say(
            show,
            "egate console: the replay has ended; the desk may still decide. "
            f"Still serving (viewers: {urls.viewers}); Ctrl-C to stop.",
        )

    with ExitStack() as stack:
        # Listen first: a port in use is refused before anything slow starts.
        try:
            sock = listen(address.host, address.port)
        except ConsoleAddressError as error:
            raise InputError(str(error)) from None
        stack.callback(sock.close)
        path = scenario_path or default_scenario(stack)
        scenario = prepare(path, show, out_dir, photos)
        source = str(path)
        control = ReplayControl(scenario)
        live = live_view(scenario, source, control)
        runner = ConsoleRunner(ConsoleServer(live, control), sock)
        announce(show.out, scenario, source, pace)
        with stop_on_signals() as stop, matching_core(scenario) as (core, registry):
            replay = build_replay(
                scenario, path, pace, show, (core, registry), control=control, live=live
            )
            runner.start()
            stack.callback(runner.stop)
            urls = runner.urls(_url_host(address.host))
            _print_urls(show, urls)
            run = _serve(replay, control, stop, lambda run: ended(run, urls))
        # Ctrl-C: the desk's decisions up to now count; the desk takes no more.
        live.desk.close()
        run.desk = live.desk.score()
    # The scorecard again only when the desk decided more since it was printed.
    unchanged = bool(printed) and printed[-1] == run.desk
    card = Scorecard.of(run) if unchanged else show_scorecard(run, show)
    write_reports(run, card, out_dir, show)
    return EXIT_OK


def _serve(
    replay: Replay,
    control: ReplayControl,
    stop: threading.Event,
    ended: Callable[[ReplayRun], None],
) -> ReplayRun:
    """Run ``replay`` on a thread, call ``ended`` when it ends, serve on until ``stop``; the run."""
    ran: list[ReplayRun] = []
    failed: list[BaseException] = []

    def go() -> None:
        try:
            ran.append(replay.run(stop))
        except BaseException as error:  # handed to the main thread, which reports it
            failed.append(error)

    thread = threading.Thread(target=go, name="egate-replay", daemon=True)
    thread.start()
    try:
        while not stop.wait(_WATCH_S):
            if failed:
                break
            if ran:
                ended(ran[0])
                stop.wait()
    finally:
        stop.set()
        control.stop()
        thread.join(_STOP_S)
    if failed:
        raise failed[0]
    if not ran:
        raise ReplayStuck(f"the replay did not stop within {_STOP_S:g} s")
    return ran[0]


def _url_host(host: str) -> str:
    """The host the printed URLs name: this machine's name when listening everywhere."""
    return socket.gethostname() if host in _ANY_ADDRESS else host


def _print_urls(show: Show, urls: ConsoleUrls) -> None:
    _say(show, f"instructor: {urls.instructor}")
    _say(show, f"desk: {urls.desk}")
    _say(show, f"viewers: {urls.viewers}")


def _say(show: Show, text: str) -> None:
    """A line for the trainer: on standard error when standard output is the JSON scorecard."""
    if show.as_json:
        click.echo(text, err=True)
    else:
        show.out.print(text, markup=False)
