"""``egate simulate``: the capacity model end to end, on small halls that run in a blink.

Most runs use ``--processes 1`` (a process pool costs a second to start);
the sweep of the M/M/c case goes through the pool as a user's run does.
"""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

import pytest
from small_hall import SMALL_HALL

from simulation.config import DEFAULT_HALL, default_hall, load_hall
from simulation.queueing import erlang_c

CONFIGS = Path(__file__).resolve().parent.parent.parent / "configs" / "airports"
PNG = b"\x89PNG\r\n\x1a\n"
ONE_PROCESS = ("--processes", "1")

SMALL = SMALL_HALL

# The top-level keys of --json, as docs/simulation.md lists them.
REPORT_KEYS = {
    "format",
    "name",
    "config",
    "seed",
    "replications",
    "service_level",
    "travellers",
    "throughput_per_hour",
    "waits",
    "queue",
    "utilisation",
    "referrals",
    "metrics",
    "intervals",
}
ESTIMATE_KEYS = {"mean", "low", "high", "replications"}


@pytest.fixture
def small(tmp_path: Path) -> Path:
    path = tmp_path / "small.yaml"
    path.write_text(SMALL, encoding="utf-8")
    return path


def run_json(cli, *argv: str) -> dict:
    ran = cli("simulate", *argv, "--json")
    assert ran.status == 0, ran.err
    assert ran.err == ""
    return json.loads(ran.out)


def test_the_built_in_default_is_the_shipped_pudong_day():
    # Read from the package data, which an editable install maps onto configs/.
    assert DEFAULT_HALL == "pudong-day.yaml"
    assert default_hall() == load_hall(CONFIGS / DEFAULT_HALL)


def test_the_default_runs_out_of_the_box(cli):
    data = run_json(cli, "-r", "1", *ONE_PROCESS)
    assert data["config"] == "built-in pudong-day.yaml"
    assert data["name"].startswith("Pudong-style")
    assert 45_000 <= data["travellers"]["arrivals"]["mean"] <= 55_000
    assert set(data["waits"]["by_class"]) == {"chinese", "chinese_desk", "foreign"}


def test_a_small_hall_prints_the_summary_tables(cli, small):
    ran = cli("simulate", str(small), *ONE_PROCESS)
    assert ran.status == 0
    assert ran.err == ""
    for label in (
        "small hall",
        "3 replications (seed 5)",
        "throughput per hour",
        "per gate (per hour open)",
        "wait p99",
        "waiting at most 5 min",
        "cleared within 45 min",
        "gate queue, time-weighted mean",
        "utilisation of gates",
        "matching core",
        "referred to a desk",
        "BIOMETRIC_MISMATCH",
        "Waiting per traveller class",
        "residents (gate)",
        "visitors (desk)",
        "service level (95% waiting at most 5 min): met",
    ):
        assert label in ran.out, label


def test_json_has_the_documented_keys(cli, small):
    data = run_json(cli, str(small), *ONE_PROCESS)
    assert set(data) == REPORT_KEYS
    assert data["format"] == "egate-simulation/1"
    assert (data["config"], data["seed"], data["replications"]) == (str(small), 5, 3)
    level = data["service_level"]
    assert set(level) == {
        "max_wait_min",
        "target_share",
        "clearance_min",
        "met",
        "verdict",
        "share",
        "clearance_share",
    }
    assert level["met"] is True and set(level["share"]) == ESTIMATE_KEYS
    assert level["verdict"] == "met"
    waits = data["waits"]
    assert set(waits) == {"all", "by_class", "gate_queue", "matching_core", "desk_queue"}
    assert set(waits["all"]) == {"mean_s", "p50_s", "p90_s", "p95_s", "p99_s", "max_s"}
    assert set(waits["by_class"]) == {"residents", "visitors"}
    assert set(data["throughput_per_hour"]) == {"overall", "peak", "per_gate"}
    assert set(data["utilisation"]) == {"gates", "desks", "matching"}
    # No matching core: its utilisation is not defined.
    assert data["utilisation"]["matching"]["mean"] is None
    assert set(data["referrals"]) == {
        "total",
        "by_reason",
        "false_accepts",
        "impostors",
        "let_through_share",
    }
    assert "BIOMETRIC_MISMATCH" in data["referrals"]["by_reason"]
    assert set(data["metrics"]["waits.p95_s"]) == ESTIMATE_KEYS
    assert data["intervals"][0]["clock"] == "06:00"
    estimate = data["waits"]["all"]["p95_s"]
    assert estimate["low"] <= estimate["mean"] <= estimate["high"]


def test_the_same_seed_gives_the_same_json(cli, small):
    first = cli("simulate", str(small), *ONE_PROCESS, "--json").out
    again = cli("simulate", str(small), *ONE_PROCESS, "--json").out
    other = cli("simulate", str(small), *ONE_PROCESS, "--json", "--seed", "6").out
    assert first == again
    assert json.loads(other)["seed"] == 6
    assert json.loads(other)["metrics"] != json.loads(first)["metrics"]


def test_out_writes_csv_json_and_png(cli, small, tmp_path):
    out = tmp_path / "report"
    ran = cli("simulate", str(small), *ONE_PROCESS, "--out", str(out))
    assert ran.status == 0
    assert sorted(path.name for path in out.iterdir()) == [
        "day.png",
        "intervals.csv",
        "summary.csv",
        "summary.json",
    ]
    assert (out / "day.png").read_bytes().startswith(PNG)
    summary = list(csv.DictReader(io.StringIO((out / "summary.csv").read_text())))
    assert list(summary[0]) == ["metric", "mean", "low", "high", "replications"]
    assert {row["metric"] for row in summary} >= {"waits.p95_s", "service_level.share"}
    intervals = list(csv.reader(io.StringIO((out / "intervals.csv").read_text())))
    assert intervals[0][:4] == ["clock", "arrivals", "arrivals_low", "arrivals_high"]
    assert "wait_p95_s_high" in intervals[0]
    assert [row[0] for row in intervals[1:9]] == [
        f"{6 + quarter // 4:02d}:{quarter % 4 * 15:02d}" for quarter in range(8)
    ]
    written = json.loads((out / "summary.json").read_text())
    assert set(written) == REPORT_KEYS
    # Nothing but the four files: no temporary file is left behind.
    assert not [path for path in out.iterdir() if path.name.startswith(".")]


def test_gates_replications_and_seed_override_the_file(cli, small):
    data = run_json(cli, str(small), *ONE_PROCESS, "--gates", "5", "-r", "2", "--seed", "9")
    assert (data["replications"], data["seed"]) == (2, 9)
    gates = {key for key in data["metrics"] if key.startswith("gate_throughput_per_hour.")}
    assert len(gates) == 5


def test_check_sla_exits_1_only_when_asked_and_missed(cli, small):
    # One gate for 420 gate users an hour at 12 s each: rho = 1.4.
    missed = cli("simulate", str(small), *ONE_PROCESS, "--gates", "1")
    assert missed.status == 0
    assert "service level (95% waiting at most 5 min): missed" in missed.out
    checked = cli("simulate", str(small), *ONE_PROCESS, "--gates", "1", "--check-sla")
    assert checked.status == 1
    assert cli("simulate", str(small), *ONE_PROCESS, "--check-sla").status == 0


def mmc_hall(tmp_path: Path) -> Path:
    """M/M/c: 0.3 arrivals a second, exponential 10 s service, target 95% within 15 s."""
    path = tmp_path / "mmc.yaml"
    path.write_text(
        """\
name: M/M/c sweep
start: "00:00"
horizon: "12:00"
arrivals:
  rate: [{from: "00:00", per_hour: 1080}]
gates:
  count: 4
  steps: {document: {kind: exponential, mean: 10}}
service_level: {max_wait_min: 0.25, share: 0.95}
replications: 4
seed: 11
""",
        encoding="utf-8",
    )
    return path


def erlang_c_smallest(arrival_rate: float, service_rate: float, wait_s: float, share: float) -> int:
    """The fewest servers for which P(Wq <= wait_s) >= share in steady state."""
    servers = math.floor(arrival_rate / service_rate) + 1  # the first stable count
    while True:
        rate = servers * service_rate - arrival_rate
        within = 1 - erlang_c(servers, arrival_rate, service_rate) * math.exp(-rate * wait_s)
        if within >= share:
            return servers
        servers += 1


def test_a_sweep_finds_the_gate_count_erlang_c_gives(cli, tmp_path):
    expected = erlang_c_smallest(0.3, 0.1, 15.0, 0.95)
    assert expected == 5  # 4 gates: 88.6% within 15 s; 5 gates: 98.8%
    data = run_json(cli, str(mmc_hall(tmp_path)), "--sweep", "gates=3..7", "--processes", "2")
    assert data["format"] == "egate-sweep/1"
    assert (data["parameter"], data["values"]) == ("gates", [3, 4, 5, 6, 7])
    assert data["smallest_meeting"] == expected
    met = [entry["service_level"]["met"] for entry in data["configurations"]]
    assert met == [False, False, True, True, True]
    assert [entry["value"] for entry in data["configurations"]] == [3, 4, 5, 6, 7]


def test_a_sweep_prints_a_table_and_the_answer_and_writes_files(cli, tmp_path):
    out = tmp_path / "sweep"
    ran = cli(
        "simulate",
        str(mmc_hall(tmp_path)),
        *ONE_PROCESS,
        "-r",
        "2",
        "--sweep",
        "gates=4,6",
        "--out",
        str(out),
    )
    assert ran.status == 0
    assert "Sweep of gates: 2 replications each" in ran.out
    assert (
        "smallest gates meeting the service level (95% waiting at most 0.25 min) "
        "with 95% confidence: 6" in " ".join(ran.out.split())
    )
    assert sorted(path.name for path in out.iterdir()) == ["sweep.csv", "sweep.json", "sweep.png"]
    assert (out / "sweep.png").read_bytes().startswith(PNG)
    rows = list(csv.DictReader(io.StringIO((out / "sweep.csv").read_text())))
    assert [row["gates"] for row in rows] == ["4", "6"]
    assert [row["meets_service_level"] for row in rows] == ["no", "yes"]
    assert {"waits.p95_s", "waits.p95_s_low", "service_level.share_high"} <= set(rows[0])


def test_a_sweep_that_nothing_meets_exits_1_with_check_sla(cli, tmp_path):
    hall = str(mmc_hall(tmp_path))
    ran = cli("simulate", hall, *ONE_PROCESS, "-r", "1", "--sweep", "gates=3,4", "--check-sla")
    assert ran.status == 1
    assert "no gates in 3..4 meets the service level" in ran.out


def rates_file(folder: Path) -> Path:
    path = folder / "rates.csv"
    rows = ["threshold,fmr,fnmr"] + [
        f"{t / 100:.2f},{0.0001 * 2 ** ((t - 40) / 5):.6f},{0.2 * 0.5 ** ((t - 40) / 5):.6f}"
        for t in range(40, 71, 5)
    ]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_a_sweep_of_the_threshold_reads_the_rates_file(cli, tmp_path):
    rates_file(tmp_path)
    hall = tmp_path / "faces.yaml"
    hall.write_text(
        SMALL.replace(
            "  outcomes: {biometric_mismatch: 0.02}\n",
            "  biometrics: {rates_file: rates.csv, threshold: 0.6}\n",
        ),
        encoding="utf-8",
    )
    data = run_json(cli, str(hall), *ONE_PROCESS, "-r", "2", "--sweep", "threshold=0.4..0.6:0.1")
    assert data["values"] == [0.4, 0.5, 0.6]
    referred = [entry["referrals"]["total"]["mean"] for entry in data["configurations"]]
    # FNMR 20%, 5%, 1.25%: fewer referrals as the threshold loosens.
    assert referred[0] > referred[1] > referred[2]
    assert data["smallest_meeting"] in (0.4, 0.5, 0.6)


@pytest.mark.parametrize(
    ("sweep", "message"),
    [
        ("gates", "'gates': expected NAME=LOW..HIGH"),
        ("lanes=1..4", "unknown setting 'lanes'"),
        ("gates=9..4", "the range runs backwards"),
        ("gates=4..9:0", "the step must be greater than 0"),
        ("gates=4.5..9", "'4.5' is not a whole number"),
        ("threshold=0.5..0.6", "give a step for a range of fractions"),
        ("gates=0..4", "gates must be from 1 to 500 (got 0)"),
        ("workers=1..4", "workers: the configuration has no central matching core"),
        ("threshold=0.5,0.6", "threshold: needs gates.biometrics.rates_file"),
    ],
)
def test_bad_sweeps_are_one_line_usage_errors(cli, small, sweep, message):
    ran = cli("simulate", str(small), "--sweep", sweep)
    assert ran.status == 2
    assert ran.out == ""
    lines = ran.err.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("egate simulate: error: Invalid value for '--sweep': ")
    assert message in lines[0]


def test_gates_and_a_sweep_of_gates_do_not_go_together(cli, small):
    ran = cli("simulate", str(small), "--gates", "4", "--sweep", "gates=2..5")
    assert ran.status == 2
    assert ran.err.splitlines() == [
        "egate simulate: error: give either --gates or --sweep gates=..., not both"
    ]


def test_a_bad_configuration_is_one_line_naming_file_line_and_field(cli, small):
    small.write_text(SMALL.replace("count: 3", "count: -3"), encoding="utf-8")
    ran = cli("simulate", str(small))
    assert ran.status == 2
    assert ran.out == ""
    assert ran.err.splitlines() == [
        f"egate: error: {small}:11: gates.count: Input should be greater than or equal to 0 "
        "(got -3)"
    ]


def test_a_missing_configuration_exits_2(cli, tmp_path):
    ran = cli("simulate", str(tmp_path / "nowhere.yaml"))
    assert ran.status == 2
    assert len(ran.err.splitlines()) == 1
    assert "nowhere.yaml: cannot read" in ran.err


def test_an_out_folder_that_cannot_be_made_exits_2(cli, small, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("", encoding="utf-8")
    ran = cli("simulate", str(small), *ONE_PROCESS, "-r", "1", "--out", str(blocker / "sub"))
    assert ran.status == 2
    assert ran.err.splitlines() == [
        f"egate: error: {blocker / 'sub' / 'summary.csv'}: cannot write: Not a directory"
    ]


def test_a_configurations_warnings_go_to_stderr_before_the_results(cli, tmp_path):
    path = tmp_path / "flights.yaml"
    path.write_text(
        SMALL.replace(
            """  rate:
    - {from: "06:00", per_hour: 600}
""",
            """  flights:
    - {flight: MU588, on_block: "06:20", passengers: 120}
    - {flight: LH728, on_block: "06:40", passengers: 0}
""",
        ),
        encoding="utf-8",
    )
    ran = cli("simulate", str(path), "--json", *ONE_PROCESS)
    assert ran.status == 0
    assert ran.err.splitlines() == [
        f"egate: warning: {path}: arrivals.flights.1: flight LH728 brings no one"
    ]
    # Standard output stays the JSON report alone.
    assert json.loads(ran.out)["travellers"]["arrivals"]["mean"] == 120
