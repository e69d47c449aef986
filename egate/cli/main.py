"""Entry point of the ``egate`` console script."""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Sequence

import click

from egate import __version__
from egate.cli.errors import EXIT_USAGE, InputError
from egate.config import ConfigError
from egate.documents.stoplist import StopListError
from egate.privacy import SaltError

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}

# Each command's module, imported only when that command runs (or help lists it):
# `egate officer` or a refused image answers without loading the face models' code.
COMMANDS = {
    "run": "egate.cli.run",
    "officer": "egate.cli.officer",
    "config": "egate.cli.config",
    "replay": "egate.cli.replay",
    "console": "egate.cli.console",
    "simulate": "egate.cli.simulate",
    "devices": "egate.cli.devices",
    "biometrics": "egate.cli.biometrics",
    "mrz": "egate.cli.mrz",
    "samples": "egate.cli.samples",
    "chip": "egate.cli.chip",
    "pki": "egate.cli.pki",
    "demo": "egate.cli.demo",
}


class LazyGroup(click.Group):
    """A group whose commands are imported when first needed."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [*COMMANDS, *(name for name in super().list_commands(ctx) if name not in COMMANDS)]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module = COMMANDS.get(cmd_name)
        if module is None:
            return super().get_command(ctx, cmd_name)  # one added with add_command
        command = getattr(importlib.import_module(module), cmd_name)
        assert isinstance(command, click.Command)
        return command


@click.group(cls=LazyGroup, context_settings=CONTEXT)
@click.version_option(__version__, "-V", "--version", prog_name="egate")
def cli() -> None:
    """egate: controller and simulator for automated border control e-gates.

    Airport engineers run it on gate hardware (run, devices, config), trainers replay
    passenger scenarios through a mock gate (replay) and run drills in a
    classroom web console (console), capacity planners model
    immigration halls (simulate). Documents and faces are checked by mrz and
    biometrics.

    Exit status: 0 success; 1 the job ran and found a failure (an invalid
    document, a rejected traveller, a missed target); 2 usage or input error.
    """


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
