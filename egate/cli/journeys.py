"""Command groups of the journeys whose commands arrive in later releases.

Each group exists now so that ``egate --help`` shows the whole tool; a group
without commands prints its help and exits with the usage status.
(``simulate`` has arrived: ``egate.cli.simulate``.)
"""

from __future__ import annotations

import click


@click.group(no_args_is_help=True)
def replay() -> None:
    """Replay a training scenario through a mock gate and score the decisions.

    Trainers run Pudong-style arrival waves (impostors, forged documents,
    tailgaters) and get a transcript and a scorecard.

    No commands in this release yet.
    """
