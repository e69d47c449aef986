"""Entry point of the ``egate`` console script."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

import click

from egate import __version__
from egate.cli.biometrics import biometrics
from egate.cli.config import config
from egate.cli.demo import demo
from egate.cli.devices import devices
from egate.cli.errors import EXIT_USAGE, InputError
from egate.cli.mrz import mrz
from egate.cli.officer import officer
from egate.cli.replay import replay
from egate.cli.run import run
from egate.cli.samples import samples
from egate.cli.simulate import simulate
from egate.config import ConfigError
from egate.documents.stoplist import StopListError
from egate.privacy import SaltError

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


@click.group(context_settings=CONTEXT)
@click.version_option(__version__, "-V", "--version", prog_name="egate")
def cli() -> None:
    """egate: controller and simulator for automated border control e-gates.

    Airport engineers run it on gate hardware (run, devices, config), trainers replay
    passenger scenarios through a mock gate (replay), capacity planners model
    immigration halls (simulate). Documents and faces are checked by mrz and
    biometrics.

    Exit status: 0 success; 1 the job ran and found a failure (an invalid
    document, a rejected traveller, a missed target); 2 usage or input error.
    """


for command in (run, officer, config, replay, simulate, devices, biometrics, mrz, samples, demo):
    cli.add_command(command)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return its exit status (errors on one line of stderr)."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        status = cli.main(args=args, prog_name="egate", standalone_mode=False)
    except click.exceptions.NoArgsIsHelpError as error:
        # A group called without a command: its help, and the usage status.
        click.echo(error.ctx.get_help() if error.ctx else "", err=True)
        return EXIT_USAGE
    except click.UsageError as error:
        where = error.ctx.command_path if error.ctx else "egate"
        click.echo(f"{where}: error: {_one_line(error.format_message())}", err=True)
        return EXIT_USAGE
    except (InputError, ConfigError, StopListError, SaltError) as error:
        click.echo(f"egate: error: {_one_line(str(error))}", err=True)
        return EXIT_USAGE
    except click.Abort:
        click.echo("egate: interrupted", err=True)
        return 130
    except BrokenPipeError:
        # The reader of our output went away (`egate ... | head`): not an error
        # of ours. Point stdout at /dev/null so the exit flush stays quiet.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    return status if isinstance(status, int) else 0
