"""``egate officer``: give a running gate an officer's order through its console socket."""

from __future__ import annotations

from pathlib import Path

import click

from egate.cli.errors import EXIT_FAILURE, EXIT_OK, InputError
from egate.gate.events import OfficerAction
from hardware.console import ConsoleError, send_order


@click.command("officer")
@click.argument("action", type=click.Choice([action.value for action in OfficerAction]))
@click.option(
    "--console",
    "console_path",
    type=click.Path(path_type=Path, dir_okay=False),
    required=True,
    help="The gate's officer console socket (service.console, or egate run --console).",
)
def officer(action: str, console_path: Path) -> int:
    """Order a running gate: open_exit, close, refer or reset.

    open_exit lets the traveller in the gate out (recorded as an officer
    override); close takes the gate out of service until a reset; refer
    sends the current traveller to an officer; reset aborts what is in
    progress and readies the gate.

    Exit status: 0 the gate took the order; 1 it refused it; 2 no gate
    answers on that socket.
    """
    try:
        answer = send_order(console_path, OfficerAction(action))
    except ConsoleError as error:
        raise InputError(str(error)) from None
    click.echo(answer)
    return EXIT_OK if answer.startswith("ok") else EXIT_FAILURE
