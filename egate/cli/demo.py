"""``egate demo``: the main job on embedded defaults, for a first look at egate."""

from __future__ import annotations

import click
from rich.console import Console
from rich.rule import Rule

from egate.cli.errors import EXIT_FAILURE, EXIT_OK
from egate.cli.replay import replay
from egate.cli.simulate import simulate


@click.command()
@click.option(
    "--speed",
    type=click.FloatRange(min=0, min_open=True, max=100),
    help="Replay at this speed instead of --fast.",
)
def demo(speed: float | None) -> int:
    """Replay the shipped Pudong morning wave, then simulate the shipped Pudong day.

    First a trainer's view: 40-odd passengers (genuine travellers, impostors,
    forged documents, a tailgater) go through four mock gates driven by the
    real controller, drivers and face matching, with a transcript and a
    scorecard (`egate replay --fast`). Then a capacity planner's view: a day
    of flights through twelve gates and the desks, 30 replications, wait-time
    percentiles and the service level (`egate simulate`).

    Exit status 0 when every replayed decision is the expected one; 1 when
    one is not; 2 when something could not be set up.
    """
    console = Console(highlight=False)
    context = click.get_current_context()
    console.print(Rule("Training replay: egate replay --fast"))
    replayed = context.invoke(replay, speed=speed, fast=speed is None)
    console.print(Rule("Capacity model: egate simulate"))
    context.invoke(simulate)
    return EXIT_OK if replayed == EXIT_OK else EXIT_FAILURE
