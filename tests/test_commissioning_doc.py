"""The commissioning guide's commands and dry run: what it tells an engineer to type exists.

docs/commissioning.md is followed by hand, so its examples rot silently when a
command or an option is renamed.  These tests read the guide: every ``egate``
command line of its shell blocks names a command and options that exist; the
dry run's gate file passes ``egate config check`` with its test passport; that
passport passes the gate's document policy; and the emulators the dry run
starts are the devices its gate file names.
"""

from __future__ import annotations

import io
import re
import shlex
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import click
import pytest
from PIL import Image

from egate.cli.main import cli as egate_cli
from egate.config import load_config
from egate.documents.mrz import parse_mrz
from egate.documents.policy import DocumentPolicy, Verdict
from egate.privacy import Pseudonymizer
from hardware.devices import HardwareGateConfig

ROOT = Path(__file__).resolve().parent.parent
GUIDE = ROOT / "docs" / "commissioning.md"
LAB = "/tmp/egate-lab"

# Shell words that end a simple command, and redirections (whose next word is a file).
SEPARATORS = {";", "&&", "||", "|", "&"}
REDIRECTIONS = {"<", ">", ">>"}


def guide() -> str:
    return GUIDE.read_text("utf-8")


def dry_run() -> str:
    text = guide()
    return text[text.index("## Dry run on emulated devices") :]


def shell_blocks(markdown: str) -> list[str]:
    return re.findall(r"```sh\n(.*?)```", markdown, flags=re.DOTALL)


def heredoc(markdown: str, target: str) -> str:
    """The text a ``cat > target <<'EOF'`` of the guide writes."""
    found = re.search(rf"cat > {re.escape(target)} <<'EOF'\n(.*?)\nEOF\n", markdown, re.DOTALL)
    assert found, f"no heredoc writing {target} in {GUIDE}"
    return found.group(1) + "\n"


def command_lines(block: str) -> list[str]:
    """The block's command lines: continuations joined, heredoc bodies left out."""
    lines: list[str] = []
    in_heredoc = False
    for line in block.replace("\\\n", " ").splitlines():
        if in_heredoc:
            in_heredoc = line != "EOF"
        else:
            lines.append(line)
            in_heredoc = "<<'EOF'" in line
    return lines


def simple_commands(line: str) -> list[list[str]]:
    """The words of each simple command on a shell line (no redirections, no comments)."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    lexer.commenters = "#"
    commands: list[list[str]] = [[]]
    skip = False
    for word in lexer:
        if skip:
            skip = False
        elif word in SEPARATORS:
            commands.append([])
        elif word in REDIRECTIONS:
            skip = True
        else:
            commands[-1].append(word)
    return [words for words in commands if words]


def egate_invocations() -> list[list[str]]:
    """The arguments of every ``egate`` command in the guide's shell blocks."""
    found: list[list[str]] = []
    for block in shell_blocks(guide()):
        for line in command_lines(block):
            for words in simple_commands(line):
                if words[0] == "sudo":
                    words = words[1:]
                    while words and words[0].startswith("-"):
                        words = words[2:] if words[0] in ("-u", "-g") else words[1:]
                if words and (words[0] == "egate" or words[0].endswith("/bin/egate")):
                    found.append(words[1:])
    return found


def test_the_guide_runs_egate_commands() -> None:
    commands = {" ".join(args[:2]) for args in egate_invocations()}
    assert {
        "config check",
        "devices probe",
        "devices emulate",
        "run --config",
        "officer close",
        "samples fetch",
    } <= commands


@pytest.mark.parametrize("args", egate_invocations(), ids=" ".join)
def test_every_egate_command_in_the_guide_exists(args: list[str]) -> None:
    context = click.Context(egate_cli, info_name="egate")
    command: click.Command = egate_cli
    words = list(args)
    while isinstance(command, click.Group) and words and not words[0].startswith("-"):
        found = command.get_command(context, words[0])
        assert found is not None, f"egate has no command {words[0]!r}: egate {' '.join(args)}"
        command, words = found, words[1:]
    options = {
        name: param
        for param in command.get_params(context)
        if isinstance(param, click.Option)
        for name in (*param.opts, *param.secondary_opts)
    }
    arguments = [param for param in command.params if isinstance(param, click.Argument)]
    positional: list[str] = []
    while words:
        word = words.pop(0)
        if word.startswith("-"):
            name = word.split("=", 1)[0]
            assert name in options, f"egate {' '.join(args)}: no option {name}"
            option = options[name]
            if not option.is_flag and not option.count and "=" not in word:
                assert words, f"egate {' '.join(args)}: {name} needs a value"
                words.pop(0)
        else:
            positional.append(word)
    for argument, value in zip(arguments, positional, strict=False):
        if isinstance(argument.type, click.Choice):
            assert value in argument.type.choices, f"egate {' '.join(args)}: {value!r}"


def lab_from_guide(folder: Path) -> Path:
    """The dry run's lab as the guide lays it out, in ``folder``; its gate file."""
    text = dry_run()
    for name in ("dev", "documents", "camera"):
        (folder / name).mkdir()
    [passport] = re.findall(r"printf '%s\\n' '(.+?)' \\\n\s+'(.+?)' > ", text)
    (folder / "documents" / "tester.mrz").write_text("\n".join(passport) + "\n", "ascii")
    photo = io.BytesIO()
    Image.new("RGB", (48, 64), (180, 140, 120)).save(photo, "JPEG")
    (folder / "documents" / "tester.jpg").write_bytes(photo.getvalue())
    (folder / "camera" / "live.jpg").write_bytes(photo.getvalue())
    stop_list = ROOT / "configs" / "stoplists" / "sample.csv"
    (folder / "stoplist.csv").write_text(stop_list.read_text("utf-8"), "utf-8")
    (folder / "salt.hex").write_text("ab" * 32 + "\n", "ascii")
    gate = folder / "gate.yaml"
    gate.write_text(heredoc(text, f"{LAB}/gate.yaml").replace(LAB, str(folder)), "utf-8")
    return gate


def test_the_dry_run_gate_file_passes_the_check(tmp_path: Path, cli: Callable[..., Any]) -> None:
    gate = lab_from_guide(tmp_path)
    ran = cli("config", "check", str(gate))
    assert (ran.status, ran.err) == (0, ""), ran.out
    assert f"{gate}: gate lab-1 is fit to run (no device was opened)" in ran.out
    devices = load_config(gate, HardwareGateConfig).devices
    assert devices.reader is not None and devices.reader.framing == "desko"
    assert devices.chip is not None and devices.chip.documents == tmp_path / "documents"


def test_the_dry_run_passport_passes_the_gates_policy(tmp_path: Path) -> None:
    gate = load_config(lab_from_guide(tmp_path), HardwareGateConfig)
    lines = tuple((tmp_path / "documents" / "tester.mrz").read_text("ascii").split())
    now = datetime.now(UTC)
    mrz = parse_mrz(lines, now.date())
    assert mrz.valid and mrz.fields.issuing_state == "UTO"
    policy = DocumentPolicy.from_settings(gate.policy, Pseudonymizer.ephemeral())
    decision = policy.evaluate(mrz, now)
    assert (decision.verdict, decision.reasons) == (Verdict.ACCEPT, ())
    # The guide says so: keep it true (or give the passport a later expiry).
    assert mrz.fields.expiry_date is not None and mrz.fields.expiry_date.year == 2035
    assert "valid until 2035" in dry_run()
    assert date.today() <= mrz.fields.expiry_date


def test_the_dry_run_devices_are_the_gate_files(tmp_path: Path) -> None:
    """Each emulator's link is its device's port, and it answers HELLO with its identity."""
    devices = load_config(lab_from_guide(tmp_path), HardwareGateConfig).devices
    emulated = {
        args[2]: args[3:]
        for args in egate_invocations()
        if args[:2] == ["devices", "emulate"] and "--link" in args
    }
    assert set(emulated) == {"reader", "door", "occupancy"}

    def option(args: list[str], name: str) -> str | None:
        return args[args.index(name) + 1] if name in args else None

    for kind, device in (
        ("reader", devices.reader),
        ("door", devices.doors),
        ("occupancy", devices.occupancy),
    ):
        assert device is not None
        link = option(emulated[kind], "--link")
        assert link is not None and link.replace(LAB, str(tmp_path)) == device.serial.port
        if kind != "reader":
            assert option(emulated[kind], "--identity") == getattr(device, "identity", None)
    # What the CI test plays too: an interlocked board, a BROKEN, COUNT, CLEAR sensor.
    assert "--interlock" in emulated["door"]
    assert option(emulated["occupancy"], "--order") == "broken-count-clear"
