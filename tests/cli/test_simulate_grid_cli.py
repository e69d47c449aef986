"""``egate simulate --sweep A=... B=...`` (a grid) and ``egate simulate --compare A.yaml B.yaml``
end to end, on a small hall in this process (``--processes 1``, two or three replications)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from small_hall import SMALL_HALL

# Two hours of 600 an hour, 70% to 3 gates (12 s each), the rest to 5 desks (60 s each).
SMALL = SMALL_HALL
PNG = b"\x89PNG\r\n\x1a\n"
QUICK = ("--processes", "1", "-r", "2")


@pytest.fixture
def small(tmp_path: Path) -> Path:
    path = tmp_path / "small.yaml"
    path.write_text(SMALL, encoding="utf-8")
    return path


def one_line(ran, status: int = 2) -> str:
    assert ran.status == status, ran.err
    assert ran.out == ""
    lines = ran.err.splitlines()
    assert len(lines) == 1, lines
    return lines[0]


# --- grids ------------------------------------------------------------------------------------


def test_a_grid_unquoted_or_quoted_gives_the_same_answer(cli, small):
    split = cli("simulate", str(small), *QUICK, "--sweep", "gates=1..2", "desks=3..4", "--json")
    quoted = cli("simulate", *QUICK, "--sweep", "gates=1..2 desks=3..4", str(small), "--json")
    assert split.status == 0, split.err
    assert split.out == quoted.out
    data = json.loads(split.out)
    assert data["format"] == "egate-grid/1"
    assert data["values"] == {"gates": [1, 2], "desks": [3, 4]}
    assert len(data["configurations"]) == 4
    # One gate cannot keep up with 420 gate users an hour at 12 s each.
    met = [entry["service_level"]["met"] for entry in data["configurations"]]
    assert met[:2] == [False, False]
    assert data["cheapest_meeting"] is None or data["cheapest_meeting"]["gates"] == 2


def test_a_grid_prints_its_table_and_answer_and_writes_files(cli, small, tmp_path):
    out = tmp_path / "grid"
    ran = cli("simulate", str(small), *QUICK, "--sweep", "gates=1..2 desks=4..5", "--out", str(out))
    assert ran.status == 0, ran.err
    text = " ".join(ran.out.split())
    assert "Grid of gates x desks: 4 combinations, 2 replications each" in text
    assert (
        "cheapest combination meeting the service level (95% waiting at most 5 min) with 95% "
        "confidence: desks 4, gates 2 (fewest desks first, then fewest gates)" in text
    )
    assert "wrote grid.csv, grid.json, grid.png to" in text
    assert sorted(path.name for path in out.iterdir()) == ["grid.csv", "grid.json", "grid.png"]
    assert (out / "grid.png").read_bytes().startswith(PNG)
    rows = list(csv.DictReader(io.StringIO((out / "grid.csv").read_text())))
    assert [(row["gates"], row["desks"]) for row in rows] == [
        ("1", "4"),
        ("1", "5"),
        ("2", "4"),
        ("2", "5"),
    ]


def test_a_grid_of_three_settings_has_no_heat_map(cli, small, tmp_path):
    out = tmp_path / "grid3"
    ran = cli(
        "simulate",
        str(small),
        *QUICK,
        "--sweep",
        "gates=2 desks=4..5 gates=2",
        "--out",
        str(out),
    )
    assert "gates is swept twice" in one_line(ran)
    hall = tmp_path / "faces.yaml"
    (tmp_path / "rates.csv").write_text(
        "threshold,fmr,fnmr\n0.4,0.001,0.02\n0.6,0.0001,0.05\n", encoding="utf-8"
    )
    hall.write_text(
        SMALL.replace(
            "  outcomes: {biometric_mismatch: 0.02}\n",
            "  biometrics: {rates_file: rates.csv, threshold: 0.6}\n",
        ),
        encoding="utf-8",
    )
    ran = cli(
        "simulate",
        str(hall),
        "--processes",
        "1",
        "-r",
        "1",
        "--sweep",
        "gates=2 desks=4 threshold=0.4,0.6",
        "--out",
        str(out),
    )
    assert ran.status == 0, ran.err
    assert "Grid of gates x desks x threshold: 2 combinations" in ran.out
    assert "no grid.png: a heat map shows two settings" in ran.out
    assert sorted(path.name for path in out.iterdir()) == ["grid.csv", "grid.json"]


def test_check_sla_exits_1_when_no_combination_meets(cli, small):
    ran = cli("simulate", str(small), *QUICK, "--sweep", "gates=1 desks=1..2", "--check-sla")
    assert ran.status == 1
    assert "no combination of gates 1 x desks 1, 2 meets the service level" in " ".join(
        ran.out.split()
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("--sweep", "gates=1..2", "desks=5..4"), "Invalid value for '--sweep': 'desks=5..4': "),
        (("--sweep", "gates=1..2 desks=x"), "'desks=x': 'x' is not a number"),
        (("--sweep", "gates=1..2", "workers=1..2"), "workers: the configuration has no central"),
        (("desks=3..4",), "'desks=3..4' is a setting to sweep: give --sweep before it"),
        (("--gates", "2", "--sweep", "desks=3..4 gates=1..2"), "give either --gates or --sweep"),
    ],
)
def test_bad_grids_are_one_line_usage_errors(cli, small, argv, message):
    line = one_line(cli("simulate", str(small), *argv))
    assert line.startswith("egate simulate: error: ")
    assert message in line


def test_a_grid_keeps_its_runs_and_resumes(cli, small, tmp_path):
    out = tmp_path / "kept"
    command = ("simulate", str(small), *QUICK, "--sweep", "gates=2 desks=4..5", "--out", str(out))
    first = cli(*command, "--keep-runs", "--json")
    assert len(list((out / "runs").iterdir())) == 4
    again = cli(*command, "--json")
    assert again.err.splitlines() == [f"resuming: 4 of 4 runs already in {out / 'runs'}"]
    assert again.out == first.out


# --- comparing files --------------------------------------------------------------------------


@pytest.fixture
def halls(tmp_path: Path) -> tuple[Path, Path]:
    first = tmp_path / "three.yaml"
    first.write_text(SMALL, encoding="utf-8")
    other = tmp_path / "two"
    other.mkdir()
    second = other / "two.yaml"
    second.write_text(SMALL.replace("count: 3", "count: 2"), encoding="utf-8")
    return first, second


def test_compare_runs_the_files_side_by_side_with_paired_differences(cli, halls):
    first, second = halls
    ran = cli("simulate", "--compare", str(first), str(second), *QUICK, "--json")
    assert ran.status == 0, ran.err
    assert ran.err == ""
    data = json.loads(ran.out)
    assert data["format"] == "egate-compare/1"
    assert data["config"] == [str(first), str(second)]
    assert (data["seed"], data["replications"], data["baseline"]) == (5, 2, str(first))
    assert [entry["variant"] for entry in data["variants"]] == [str(first), str(second)]
    # Each file alone, with the same seed: the compared figures are the files' own.
    alone = [
        json.loads(cli("simulate", str(path), *QUICK, "--json").out)["waits"]["all"]["p95_s"]
        for path in halls
    ]
    assert [entry["waits"]["all"]["p95_s"] for entry in data["variants"]] == alone
    difference = data["variants"][1]["difference"]["waits.p95_s"]
    assert difference["mean"] == pytest.approx(alone[1]["mean"] - alone[0]["mean"])
    # Two gates for the gate users rather than three: the gate queue grows.
    grown = data["variants"][1]["difference"]["gate_waits.p95_s"]
    assert grown["low"] < grown["mean"] < grown["high"] and grown["mean"] > 0


def test_compare_prints_a_table_and_writes_files(cli, halls, tmp_path):
    out = tmp_path / "compared"
    ran = cli("simulate", "--compare", *map(str, halls), *QUICK, "--out", str(out))
    assert ran.status == 0, ran.err
    text = " ".join(ran.out.split())
    assert "Configurations: 2 replications each, the same random numbers" in text
    assert f"{halls[1]} vs {halls[0]}: p95 wait +" in text
    assert sorted(path.name for path in out.iterdir()) == [
        "compare.csv",
        "compare.json",
        "compare.png",
    ]
    assert (out / "compare.png").read_bytes().startswith(PNG)
    rows = list(csv.DictReader(io.StringIO((out / "compare.csv").read_text())))
    assert [row["config"] for row in rows] == [str(path) for path in halls]


def test_files_with_other_seeds_run_with_the_first_files_and_say_so(cli, halls):
    first, second = halls
    second.write_text(
        SMALL.replace("seed: 5", "seed: 8").replace("replications: 3", "replications: 4"),
        encoding="utf-8",
    )
    ran = cli("simulate", "--compare", str(first), str(second), "--processes", "1", "--json")
    assert ran.status == 0
    assert ran.err.splitlines() == [
        f"egate: warning: {second}: seed 8 and 4 replications in the file: run with {first}'s "
        "seed 5 and 3 replications, as every file, so that the runs pair"
    ]
    data = json.loads(ran.out)
    assert (data["seed"], data["replications"]) == (5, 3)
    # The same hall with the same random numbers: no difference at all.
    assert data["variants"][1]["difference"]["waits.p95_s"] == {
        "mean": 0.0,
        "low": 0.0,
        "high": 0.0,
        "replications": 3,
    }


def test_compare_errors_exit_2_with_one_line(cli, halls, tmp_path):
    first, second = halls
    missing = tmp_path / "nowhere.yaml"
    line = one_line(cli("simulate", "--compare", str(first), str(missing)))
    assert line.startswith(f"egate: error: {missing}: cannot read")
    line = one_line(cli("simulate", "--compare", str(first)))
    assert line == "egate simulate: error: --compare needs two or more CONFIG files"
    line = one_line(cli("simulate", "--compare", str(first), str(second), "--sweep", "gates=2"))
    assert line == "egate simulate: error: give either --compare or --sweep, not both"
    line = one_line(cli("simulate", str(first), str(second)))
    assert "give one CONFIG file, not 2 (--compare compares several)" in line
    variants = tmp_path / "variants.yaml"
    variants.write_text(SMALL + "variants:\n  a: {}\n  b: {gates: {count: 4}}\n", encoding="utf-8")
    line = one_line(cli("simulate", "--compare", str(first), str(variants)))
    assert line == (
        f"egate: error: {variants}: has variants: --compare takes files without them "
        "(run it alone to compare its variants)"
    )


def test_compare_check_sla_exits_1_when_any_file_misses(cli, halls, tmp_path):
    one_gate = tmp_path / "one.yaml"
    one_gate.write_text(SMALL.replace("count: 3", "count: 1"), encoding="utf-8")
    ran = cli("simulate", "--compare", str(halls[0]), str(one_gate), *QUICK, "--check-sla")
    assert ran.status == 1
