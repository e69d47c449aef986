"""The ``egate`` command line: help, version, command groups, usage errors, the demo."""

from __future__ import annotations

import re

import click
import pytest

from egate import __version__
from egate.cli.errors import InputError
from egate.cli.main import cli as egate_group
from egate.config import ConfigError
from egate.documents.layout import MrzFormat
from egate.documents.stoplist import StopListError
from egate.privacy import SaltError

GROUPS = ["run", "replay", "simulate", "devices", "biometrics", "mrz", "samples", "chip", "pki"]
COMMANDS = [*GROUPS, "demo"]


@pytest.mark.parametrize("option", ["--help", "-h"])
def test_help_lists_every_command(cli, option):
    ran = cli(option)
    assert ran.status == 0
    assert ran.out.startswith("Usage: egate [OPTIONS] COMMAND [ARGS]...")
    listed = ran.out.split("Commands:", 1)[1].split()
    for command in COMMANDS:
        assert command in listed
    assert "Exit status: 0 success; 1" in ran.out
    assert ran.err == ""


@pytest.mark.parametrize("option", ["--version", "-V"])
def test_version(cli, option):
    ran = cli(option)
    assert (ran.status, ran.out, ran.err) == (0, f"egate, version {__version__}\n", "")


@pytest.mark.parametrize("command", COMMANDS)
def test_each_command_has_help(cli, command):
    ran = cli(command, "--help")
    assert ran.status == 0
    assert ran.out.startswith(f"Usage: egate {command} [OPTIONS]")
    # A description beyond the usage line and the options.
    description = ran.out.split("\n\n")[1].strip()
    assert len(description) > 20
    assert ran.err == ""


def test_mrz_parse_has_help(cli):
    ran = cli("mrz", "parse", "--help")
    assert ran.status == 0
    assert ran.out.startswith("Usage: egate mrz parse [OPTIONS] [LINES]...")
    for option in ("--json", "--no-repair", "--today"):
        assert option in ran.out
    assert "Exit status: 0 every document valid, 1 some document invalid, 2" in ran.out


@pytest.mark.parametrize("group", ["mrz", "devices", "biometrics"])
def test_a_group_without_a_command_shows_its_help_and_exits_2(cli, group):
    ran = cli(group)
    assert ran.status == 2
    assert ran.err.startswith(f"Usage: egate {group} [OPTIONS] COMMAND [ARGS]...")
    assert ran.out == ""


def test_no_arguments_at_all_exit_2_with_help(cli):
    ran = cli()
    assert ran.status == 2
    assert ran.err.startswith("Usage: egate [OPTIONS] COMMAND [ARGS]...")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--bogus"], "egate: error: No such option '--bogus'."),
        (["nosuch"], "egate: error: No such command 'nosuch'."),
        (["mrz", "parse", "--bogus"], "egate mrz parse: error: No such option '--bogus'."),
        (["demo", "extra"], "egate demo: error: Got unexpected extra argument (extra)"),
        (["run", "now"], "egate run: error: Got unexpected extra argument (now)"),
        (
            ["mrz", "parse", "--today", "2026-13-01"],
            "egate mrz parse: error: Invalid value for '--today': '2026-13-01' does not "
            "match the format '%Y-%m-%d'.",
        ),
    ],
)
def test_usage_errors_are_one_line_and_exit_2(cli, argv, message):
    ran = cli(*argv)
    assert ran.status == 2
    assert ran.out == ""
    assert ran.err.splitlines() == [message]


@pytest.mark.parametrize(
    "error",
    [
        ConfigError("gates/t2.yaml:3: policy.min_age: unknown field"),
        StopListError("lists/stop.csv:2: issuing_state: not an ICAO state code"),
        SaltError("$EGATE_SALT: the salt must have at least 16 bytes, it has 4"),
        InputError("a message\nover two lines"),
    ],
    ids=lambda error: type(error).__name__,
)
def test_input_errors_raised_by_a_command_exit_2_on_one_line(cli, monkeypatch, error):
    @click.command()
    def fails() -> None:
        raise error

    monkeypatch.setitem(egate_group.commands, "fails", fails)
    ran = cli("fails")
    assert ran.status == 2
    assert ran.out == ""
    assert ran.err == f"egate: error: {' '.join(str(error).split())}\n"


def test_the_specimens_of_every_format_are_checked(cli):
    ran = cli("mrz", "specimens")
    assert ran.status == 0
    assert ran.err == ""
    for fmt in MrzFormat:
        assert f"specimen {fmt.value}" in ran.out
    assert f"Formats: {', '.join(fmt.value for fmt in MrzFormat)}." in ran.out
    # The misread passport is repaired: three characters put right.
    assert "misread TD3" in ran.out
    assert "repaired misread TD3: issuing_state: line 1 column 5 '0' -> 'O'" in ran.out
    assert "repaired misread TD3: birth_date: line 2 column 16 'O' -> '0'" in ran.out
    assert "repaired misread TD3: name: line 1 column 24 '1' -> 'I'" in ran.out
    # The specimens expired long ago: the policy rejects them all.
    assert ran.out.count("EXPIRED") == 7  # six rows and the closing note
    assert ran.out.count("reject") == 6
    assert "accept" not in ran.out


class TestProcesses:
    """The real console script and ``python -m egate``, as a user runs them."""

    def test_help_from_the_console_script(self, egate_process):
        done = egate_process("--help")
        assert done.returncode == 0
        text = done.stdout.decode()
        for command in COMMANDS:
            assert f"\n  {command} " in text
        assert done.stderr == b""

    def test_version_from_python_m_egate(self, egate_process):
        done = egate_process("--version", via="module")
        assert (done.returncode, done.stdout) == (0, f"egate, version {__version__}\n".encode())

    def test_an_unknown_option_is_one_line_without_traceback(self, egate_process):
        done = egate_process("mrz", "parse", "--colour")
        assert done.returncode == 2
        assert done.stdout == b""
        assert done.stderr.decode().splitlines() == [
            "egate mrz parse: error: No such option '--colour'."
        ]

    def test_a_group_without_a_command_exits_2(self, egate_process):
        done = egate_process("mrz")
        assert done.returncode == 2
        assert done.stderr.startswith(b"Usage: egate mrz")
        assert b"Traceback" not in done.stderr

    def test_the_demo_replays_the_morning_wave_and_simulates_the_day(self, egate_process):
        done = egate_process("demo")
        assert done.returncode == 0, done.stderr
        text = done.stdout.decode()
        replay, simulation = text.split("Capacity model: egate simulate")
        assert "egate replay: Pudong" in replay
        counted = re.search(r"(\d+) of (\d+) passengers as expected", replay)
        assert counted is not None and counted[1] == counted[2] and int(counted[2]) >= 40
        assert "service level" in simulation.lower() and "p95" in simulation
        # Piped output carries no colour codes.
        assert "\x1b[" not in text


def test_run_without_a_gate_is_a_usage_error(cli):
    ran = cli("run")
    assert ran.status == 2
    assert ran.err == "egate run: error: give a gate file with --config FILE, or --mock\n"
