"""``--optimise desks``: run_optimise and its options, on a small hall in this process."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import click
import pytest
import yaml
from click.testing import CliRunner
from rich.console import Console

from egate.cli.errors import EXIT_FAILURE, EXIT_OK, InputError
from egate.cli.optimise import DEFAULTS, optimise_options, run_optimise
from simulation.config import load_hall

HALL = """\
name: small hall
start: "06:00"
horizon: "08:00"
arrivals:
  rate:
    - {from: "06:00", per_hour: 300}
    - {from: "07:00", per_hour: 800}
  classes:
    - {name: residents, share: 0.7, channel: gate}
    - {name: visitors, share: 0.3, channel: desk}
gates:
  count: 6
  steps:
    document: {kind: exponential, mean: 12}
desks:
  count: 5
  service: {kind: exponential, mean: 60}
interval_min: 30
replications: 3
seed: 5
"""

QUICK: dict[str, Any] = {
    "shift_length": 120,
    "shift_break": 0,
    "replications": 3,
    "processes": 1,
    "evaluations": 20,
}


@pytest.fixture
def hall(tmp_path: Path) -> Path:
    path = tmp_path / "hall.yaml"
    path.write_text(HALL, encoding="utf-8")
    return path


def text_console() -> tuple[Console, io.StringIO]:
    stream = io.StringIO()
    return Console(file=stream, width=200, color_system=None), stream


def test_it_prints_the_roster_to_paste_and_what_it_proved(hall: Path, tmp_path: Path):
    console, stream = text_console()
    out = tmp_path / "out"
    status = run_optimise(
        load_hall(hall), hall.parent, str(hall), out_dir=out, console=console, **QUICK
    )
    assert status == EXIT_OK
    text = stream.getvalue()
    assert 'desks:\n  roster:\n    - {from: "06:00"' in text
    assert "the roster meets every interval with 95% confidence" in text
    assert "stopped after" in text
    assert sorted(path.name for path in out.iterdir()) == [
        "optimise.json",
        "roster.csv",
        "roster.png",
        "roster.yaml",
        "shifts.csv",
    ]
    roster = yaml.safe_load((out / "roster.yaml").read_text())["desks"]["roster"]
    assert roster[0]["from"] == "06:00" and all(period["desks"] >= 1 for period in roster)
    assert (out / "roster.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    data = json.loads((out / "optimise.json").read_text())
    assert data["config"] == str(hall) and data["met"] is True


def test_json_is_one_object(hall: Path, capsys: pytest.CaptureFixture[str]):
    assert run_optimise(load_hall(hall), hall.parent, "hall", as_json=True, **QUICK) == EXIT_OK
    data = json.loads(capsys.readouterr().out)
    assert data["format"] == "egate-optimise/1"
    # The shift grid defaults to the file's interval_min.
    assert data["settings"]["step_min"] == 30
    assert data["officer_hours"] == data["shifts"] * 2


def test_check_sla_exits_1_when_an_interval_cannot_be_met(hall: Path):
    console, stream = text_console()
    one_gate = hall.read_text().replace("count: 6", "count: 1")
    hall.write_text(one_gate)
    status = run_optimise(
        load_hall(hall),
        hall.parent,
        "hall",
        check_sla=True,
        max_desks=3,
        console=console,
        **{**QUICK, "evaluations": 8},
    )
    assert status == EXIT_FAILURE
    assert "even with 3 desks, the most allowed" in stream.getvalue()


def test_settings_that_cannot_be_cut_are_input_errors(hall: Path):
    with pytest.raises(InputError, match="--optimise: break: a whole number of 30-minute steps"):
        run_optimise(load_hall(hall), hall.parent, "hall", shift_break=45)


def test_the_options_and_their_defaults():
    seen: dict[str, Any] = {}

    @click.command()
    @optimise_options
    def command(**options: Any) -> None:
        seen.update(options)

    ran = CliRunner().invoke(command, ["--optimise", "desks", "--max-desks", "12"])
    assert ran.exit_code == 0, ran.output
    assert seen == {
        "optimise": "desks",
        "shift_length": DEFAULTS["shift_length"],
        "shift_break": DEFAULTS["shift_break"],
        "shift_step": None,
        "min_staff": DEFAULTS["min_staff"],
        "max_desks": 12,
        "evaluations": DEFAULTS["evaluations"],
    }
    refused = CliRunner().invoke(command, ["--optimise", "gates"])
    assert refused.exit_code == 2 and "'desks'" in refused.output


def test_egate_simulate_optimise_desks_end_to_end(cli, hall: Path) -> None:
    ran = cli(
        "simulate", str(hall), "--optimise", "desks", "--shift-length", "120",
        "--shift-break", "0", "-r", "3", "--processes", "1", "--evaluations", "20", "--json",
    )  # fmt: skip
    assert ran.status == EXIT_OK, ran.err
    data = json.loads(ran.out)
    assert data["format"] == "egate-optimise/1"
    assert data["met"] is True
    assert data["settings"]["shift_length_min"] == 120
    # Whole two-hour shifts: the officer-hours are a multiple of 2, the roster covers the day.
    assert data["officer_hours"] % 2 == 0
    assert [step["from"] for step in data["roster"]][:4] == ["06:00", "06:30", "07:00", "07:30"]
    assert all(step["desks"] >= 1 for step in data["roster"])


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (("--sweep", "gates=2..4"), "give --optimise alone, without --sweep or --compare"),
        (("--cluster", "tcp://127.0.0.1:1"), "--optimise runs on this machine"),
    ],
)
def test_optimise_with_what_it_cannot_take_is_a_usage_error(cli, hall: Path, extra, message):
    ran = cli("simulate", str(hall), "--optimise", "desks", *extra)
    assert ran.status == 2
    assert message in ran.err


def test_a_scheduler_in_the_environment_does_not_stop_the_optimiser(cli, hall: Path, monkeypatch):
    # $EGATE_DASK_SCHEDULER serves the other runs; the optimiser runs here all the same.
    monkeypatch.setenv("EGATE_DASK_SCHEDULER", "tcp://127.0.0.1:1")
    ran = cli(
        "simulate", str(hall), "--optimise", "desks", "--shift-length", "120",
        "--shift-break", "0", "-r", "3", "--processes", "1", "--evaluations", "20", "--json",
    )  # fmt: skip
    assert ran.status == EXIT_OK, ran.err
    assert json.loads(ran.out)["met"] is True
