"""``egate officer``: give a running gate an officer's order through its console socket."""

from __future__ import annotations

from pathlib import Path

import click

from egate.cli.errors import EXIT_FAILURE, EXIT_OK, InputError
from egate.gate.events import OfficerAction
from station.console import ConsoleError, send_order


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
    progress and readies the gate.  The gate answers once it has carried the
    order out (ok ACTION), or says why it did not: refused (open_exit with
    nobody inside, refer with no traveller) or not taken in time, in which
    case the order is dropped and never carried out later.

    Exit status: 0 the gate carried the order out; 1 it refused it or did
    not take it (the reason on stderr); 2 no gate answers on that socket.
    """
    try:
        answer = send_order(console_path, OfficerAction(action))
    except ConsoleError as error:
        raise InputError(str(error)) from None
    if answer.startswith("ok "):
        click.echo(answer)
        return EXIT_OK
    click.echo(f"egate officer: {answer}", err=True)
    return EXIT_FAILURE
