"""Grids of several settings: the written form, every combination, the cheapest that meets by the
cost order (desks, gates, workers, threshold), its reports and heat map; the compare plot."""

from __future__ import annotations

import csv
import dataclasses
import io
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console
from rich.table import Table

from simulation.compare import CompareResult
from simulation.config import HallConfig
from simulation.grid import MAX_POINTS, Grid, GridResult, grid_configs, parse_settings
from simulation.hall import simulate
from simulation.plots import compare_figure, compare_png, grid_figure, grid_png
from simulation.statistics import RunResult, summarise_run
from simulation.summary import Summary
from simulation.sweep import Sweep, Verdict
from simulation.sweepreport import (
    GRID_FORMAT,
    cost_rule,
    grid_answer,
    grid_csv,
    grid_json,
    grid_table,
)

PNG = b"\x89PNG\r\n\x1a\n"

CONFIG = HallConfig.model_validate(
    {
        "name": "grid",
        "start": "06:00",
        "horizon": "06:20",
        "arrivals": {
            "rate": [{"from": "06:00", "per_hour": 200}],
            "classes": [
                {"name": "citizens", "share": 0.8, "channel": "gate"},
                {"name": "visitors", "share": 0.2, "channel": "desk"},
            ],
        },
        "gates": {
            "count": 2,
            "steps": {"document": {"kind": "exponential", "mean": 10}},
            "banks": [{"from": "06:00", "to": "06:10", "open": 1}, {"from": "06:10", "open": 2}],
        },
        "desks": {"count": 2, "service": {"kind": "exponential", "mean": 60}},
        "service_level": {"max_wait_min": 1, "share": 0.95},
    }
)

MET = [0.99, 0.995, 0.99]
MEAN_ONLY = [0.99, 1.0, 0.87]
MISSED = [0.90, 0.92, 0.91]


@pytest.fixture(scope="module")
def base() -> RunResult:
    return summarise_run(simulate(CONFIG, Path(), np.random.SeedSequence(3)))


def with_shares(base: RunResult, shares: list[float]) -> Summary:
    """A summary of runs that differ only in their share within the waiting target."""
    return Summary.of(
        [
            dataclasses.replace(
                base, service_level=dataclasses.replace(base.service_level, share=share)
            )
            for share in shares
        ]
    )


def result_of(base: RunResult, text: str, shares: list[list[float]]) -> GridResult:
    grid = parse_settings([text])
    assert isinstance(grid, Grid)
    return GridResult(
        grid, grid_configs(CONFIG, grid), tuple(with_shares(base, each) for each in shares)
    )


def rendered(table: Table) -> str:
    console = Console(width=250, record=True, file=io.StringIO())
    console.print(table)
    return console.export_text()


# --- the written form ---------------------------------------------------------------------------


def test_one_setting_is_a_sweep_as_before_and_several_make_a_grid():
    assert parse_settings(["gates=4..6"]) == Sweep("gates", (4, 5, 6))
    # In one text or several (the shell splits an unquoted grid).
    quoted = parse_settings(["gates=6..12 desks=20..40:10"])
    split = parse_settings(["gates=6..12", "desks=20..40:10"])
    assert quoted == split
    assert isinstance(quoted, Grid)
    assert quoted.parameters == ("gates", "desks")
    assert len(quoted.points) == 21
    # The first setting varies slowest.
    assert quoted.points[:4] == ((6, 20), (6, 30), (6, 40), (7, 20))
    assert str(quoted) == "gates=6,7,8,9,10,11,12 desks=20,30,40"


@pytest.mark.parametrize(
    ("texts", "message"),
    [
        (["gates=1..3 gates=4..5"], "'gates=4..5': gates is swept twice"),
        (["gates=1..3 desks=9..4"], "'desks=9..4': the range runs backwards"),
        (["gates=1..3", "lanes=1..2"], "'lanes=1..2': unknown setting 'lanes'"),
        (["gates=1..3 desks"], "'desks': expected NAME=LOW..HIGH"),
        (["gates=1..100 desks=1..100"], f"100 x 100 = 10000 combinations, more than {MAX_POINTS}"),
        (["  "], "no setting given"),
    ],
)
def test_a_bad_grid_is_one_line_naming_the_setting(texts, message):
    with pytest.raises(ValueError) as raised:
        parse_settings(texts)
    assert message in str(raised.value)
    assert "\n" not in str(raised.value)


def test_each_combination_sets_every_setting_of_the_hall():
    grid = parse_settings(["gates=2,4 desks=3..4"])
    assert isinstance(grid, Grid)
    configs = grid_configs(CONFIG, grid)
    assert [(config.gates.count, config.desks and config.desks.count) for config in configs] == [
        (2, 3),
        (2, 4),
        (4, 3),
        (4, 4),
    ]
    # The bank schedule keeps its shape, as in a one-setting sweep.
    assert [bank.open for bank in configs[2].gates.banks or ()] == [2, 4]


def test_a_setting_that_does_not_apply_names_itself():
    grid = parse_settings(["gates=2 workers=1..2"])
    assert isinstance(grid, Grid)
    with pytest.raises(ValueError, match="workers: the configuration has no central matching core"):
        grid_configs(CONFIG, grid)


# --- the cheapest that meets ------------------------------------------------------------------


def test_the_cheapest_has_the_fewest_desks_then_the_fewest_gates(base):
    # gates 1..3 (slowest) x desks 2..3: (gates, desks) in that order.
    result = result_of(
        base,
        "gates=1..3 desks=2..3",
        [
            MISSED,  # 1, 2
            MET,  # 1, 3
            MISSED,  # 2, 2
            MET,  # 2, 3
            MET,  # 3, 2: fewer desks, more gates: the cheapest
            MET,  # 3, 3
        ],
    )
    assert result.cheapest == (3, 2)
    assert result.dearest == "desks"
    assert result.cheapest_by() == {2: (3, 2), 3: (1, 3)}
    answer = grid_answer(result)
    assert (
        "cheapest combination meeting the service level (95% waiting at most 1 min) with 95% "
        "confidence: desks 2, gates 3 (fewest desks first, then fewest gates)" in answer
    )
    assert "cheapest meeting it at each desks: 2: gates 3; 3: gates 1" in answer
    assert cost_rule(result.grid) == "fewest desks first, then fewest gates"


def test_a_cheaper_point_met_on_the_mean_only_is_named_as_a_hint(base):
    result = result_of(base, "desks=2..3 gates=1", [MEAN_ONLY, MET])
    assert (result.cheapest, result.cheapest_on_mean) == ((3, 1), (2, 1))
    assert "; desks 2, gates 1 meets it on the mean only" in grid_answer(result)
    data = grid_json(result, "hall.yaml", 0)
    assert data["cheapest_meeting"] == {"desks": 3, "gates": 1}
    assert data["cheapest_meeting_on_mean"] == {"desks": 2, "gates": 1}


def test_nothing_meeting_says_so(base):
    result = result_of(base, "gates=1..2 desks=2", [MISSED, MEAN_ONLY])
    assert result.cheapest is None
    assert grid_answer(result).startswith(
        "no combination of gates 1, 2 x desks 2 meets the service level"
    )
    assert "gates 2, " not in grid_answer(result)
    assert grid_json(result, "hall.yaml", 0)["cheapest_meeting"] is None


# --- reports ---------------------------------------------------------------------------------


def test_the_grid_table_json_and_csv(base):
    result = result_of(base, "gates=1..2 desks=2..3", [MISSED, MET, MEAN_ONLY, MET])
    text = rendered(grid_table(result))
    assert "Grid of gates x desks: 4 combinations, 3 replications each" in text
    header = next(line for line in text.splitlines() if "p95 wait" in line).split()
    assert header[:2] == ["gates", "desks"]
    data = grid_json(result, "hall.yaml", 7)
    assert data["format"] == GRID_FORMAT == "egate-grid/1"
    assert (data["config"], data["seed"], data["replications"]) == ("hall.yaml", 7, 3)
    assert data["parameters"] == ["gates", "desks"]
    assert data["values"] == {"gates": [1, 2], "desks": [2, 3]}
    assert data["cost_order"] == ["desks", "gates"]
    assert data["cheapest_meeting"] == {"desks": 3, "gates": 1}
    assert [entry["settings"] for entry in data["configurations"]] == [
        {"gates": 1, "desks": 2},
        {"gates": 1, "desks": 3},
        {"gates": 2, "desks": 2},
        {"gates": 2, "desks": 3},
    ]
    assert [entry["service_level"]["verdict"] for entry in data["configurations"]] == [
        Verdict.MISSED.value,
        Verdict.MET.value,
        Verdict.MEAN_ONLY.value,
        Verdict.MET.value,
    ]
    assert data["cheapest_by"] == {
        "parameter": "desks",
        "cheapest": [
            {"value": 2, "meeting": None},
            {"value": 3, "meeting": {"gates": 1, "desks": 3}},
        ],
    }
    rows = list(csv.DictReader(io.StringIO(grid_csv(result).decode())))
    assert [(row["gates"], row["desks"]) for row in rows] == [
        ("1", "2"),
        ("1", "3"),
        ("2", "2"),
        ("2", "3"),
    ]
    assert [row["meets_service_level"] for row in rows] == ["no", "yes", "no", "yes"]
    assert {"waits.p95_s_low", "service_level.share_high", "fmr"} <= set(rows[0])


def test_the_heat_map_has_two_panels_with_whole_ticks_annotated_and_marked_cells(base):
    result = result_of(base, "gates=1..3 desks=2..3", [MISSED, MET, MISSED, MET, MET, MET])
    figure = grid_figure(result)
    waits, shares = (axes for axes in figure.axes if axes.get_xlabel() == "gates")
    for axes in (waits, shares):
        assert [tick.get_text() for tick in axes.get_xticklabels()] == ["1", "2", "3"]
        assert [tick.get_text() for tick in axes.get_yticklabels()] == ["2", "3"]
        assert axes.get_ylabel() == "desks"
        texts = [text.get_text() for text in axes.texts]
        assert len(texts) == 6
        # The four combinations that meet are ticked and outlined.
        assert sum(text.endswith("✓") for text in texts) == 4
        assert len(axes.patches) == 4
    assert all(text.get_text().endswith("%") or "✓" in text.get_text() for text in shares.texts)
    legend = [text.get_text() for text in figure.legends[0].get_texts()]
    assert legend == ["✓ meets (95% confidence)", "cheapest: desks 2, gates 3"]
    assert grid_png(result).startswith(PNG)


def test_a_heat_map_needs_two_settings(base):
    grid = parse_settings(["gates=1 desks=2 threshold=0.5"])
    assert isinstance(grid, Grid)
    result = GridResult(grid, (CONFIG,), (with_shares(base, MET),))
    with pytest.raises(ValueError, match="a heat map shows two settings, not 3"):
        grid_figure(result)


def test_the_compare_plot_shows_each_difference_with_its_interval(base):
    summaries = (with_shares(base, MET), with_shares(base, MEAN_ONLY), with_shares(base, MISSED))
    result = CompareResult(
        ("a.yaml", "b.yaml", "c.yaml"), (CONFIG,) * 3, summaries, (0.0,) * 3, kind="config"
    )
    figure = compare_figure(result)
    titles = [axes.get_title() for axes in figure.axes]
    assert titles == [
        "p95 wait",
        "mean wait",
        "p95 wait in the gate queue",
        "share within the target",
    ]
    # A row per file after the first, named on the left-hand panels (the rows are shared).
    left = figure.axes[2]
    assert [tick.get_text() for tick in left.get_yticklabels()] == ["b.yaml", "c.yaml"]
    share = figure.axes[3]
    assert share.get_xlabel() == "difference from a.yaml (percentage points)"
    # The mean of the paired differences of the share, in percentage points.
    (line,) = [line for line in share.lines if line.get_marker() == "o"]
    assert list(line.get_xdata()) == pytest.approx(
        [(sum(MEAN_ONLY) - sum(MET)) / 3 * 100, (sum(MISSED) - sum(MET)) / 3 * 100]
    )
    assert compare_png(result).startswith(PNG)
