"""Reports: figures as text and JSON, the tables, CSV files and plots."""

from __future__ import annotations

import csv
import io
import json
import math
from typing import Any

import pytest
from rich.console import Console

from simulation.config import HallConfig
from simulation.plots import day_png, sweep_png
from simulation.replications import run_configurations, run_replications
from simulation.report import (
    REPORT_FORMAT,
    _fmt,
    class_table,
    estimate_json,
    headline,
    intervals_csv,
    per_gate_throughput,
    report_json,
    summary_csv,
    summary_table,
    traveller_classes,
    verdict,
)
from simulation.summary import Estimate, Summary
from simulation.sweep import SweepResult, parse_sweep, sweep_configs
from simulation.sweepreport import SWEEP_FORMAT, sweep_answer, sweep_csv, sweep_json, sweep_table

PNG = b"\x89PNG\r\n\x1a\n"

HALL: dict[str, Any] = {
    "name": "reported",
    "start": "06:00",
    "horizon": "07:30",
    "arrivals": {
        "rate": [{"from": "06:00", "per_hour": 500}],
        "classes": [
            {"name": "citizens", "share": 0.75, "channel": "gate"},
            {"name": "visitors", "share": 0.25, "channel": "desk"},
        ],
    },
    "gates": {
        "count": 3,
        "steps": {"document": {"kind": "exponential", "mean": 12}},
        "outcomes": {"document_referral": 0.05},
    },
    "desks": {"count": 4, "service": {"kind": "exponential", "mean": 60}},
    "matching": {"workers": 1, "service": {"kind": "deterministic", "value": 0.5}},
    "replications": 3,
    "seed": 8,
}


@pytest.fixture(scope="module")
def config() -> HallConfig:
    return HallConfig.model_validate(HALL)


@pytest.fixture(scope="module")
def summary(config: HallConfig) -> Summary:
    return run_replications(config, processes=1)


def text_of(renderable: object) -> str:
    console = Console(record=True, width=160, color_system=None)
    console.print(renderable)
    return console.export_text()


@pytest.mark.parametrize(
    ("estimate", "kind", "text"),
    [
        (Estimate(35.04, 33.0, 37.08, 5), "s", "35.0 s ± 2.0"),
        (Estimate(900.0, 840.0, 960.0, 5), "s", "15.0 min ± 1.0"),
        (Estimate(0.9812, 0.9712, 0.9912, 5), "share", "98.1% ± 1.0"),
        (Estimate(1.0, 1.0, 1.0, 5), "share", "100.0%"),
        (Estimate(49_073.0, 49_073.0, 49_073.0, 30), "count", "49,073"),
        (Estimate(868.2, 856.0, 880.4, 30), "count", "868 ± 12"),
        (Estimate(0.2, -0.3, 0.7, 4), "count", "0.2 ± 0.5"),
        (Estimate(2649.3, 2648.4, 2650.2, 30), "rate", "2,649 ± 0.9"),
        (Estimate(12.0, math.nan, math.nan, 1), "s", "12.0 s"),
        (Estimate(math.nan, math.nan, math.nan, 0), "s", "-"),
    ],
)
def test_figures_read_mean_plus_or_minus_half_width(estimate, kind, text):
    assert _fmt(estimate, kind) == text


def test_estimates_become_plain_data():
    assert estimate_json(Estimate(1.5, 1.0, 2.0, 3)) == {
        "mean": 1.5,
        "low": 1.0,
        "high": 2.0,
        "replications": 3,
    }
    assert estimate_json(Estimate(2.0, math.nan, math.nan, 1))["low"] is None


def test_per_gate_throughput_averages_the_gates_of_each_run(summary):
    by_run = [
        sum(run.gate_throughput_per_hour.values()) / len(run.gate_throughput_per_hour)
        for run in summary.runs
    ]
    assert per_gate_throughput(summary).mean == pytest.approx(sum(by_run) / len(by_run))


def test_only_classes_with_travellers_are_reported(summary, config):
    assert traveller_classes(summary, config) == [("citizens", "gate"), ("visitors", "desk")]


def test_the_report_holds_headline_metrics_and_intervals(summary, config):
    data = report_json(summary, config, "hall.yaml", 8)
    assert data["format"] == REPORT_FORMAT
    assert (data["config"], data["seed"], data["replications"]) == ("hall.yaml", 8, 3)
    assert data["waits"]["all"]["p95_s"] == estimate_json(summary["waits.p95_s"])
    assert data["service_level"]["met"] is True
    assert data["service_level"]["target_share"] == 0.95
    assert data["referrals"]["by_reason"]["DOCUMENT_REFERRED"]["mean"] > 0
    assert data["utilisation"]["matching"]["mean"] > 0
    assert len(data["intervals"]) == len(summary.intervals)
    # Plain data all the way down: JSON without NaN.
    json.dumps(data, allow_nan=False)
    assert headline(summary, config).keys() <= data.keys()


def test_the_summary_table_names_every_figure(summary, config):
    text = text_of(summary_table(summary, config, 8))
    for label in (
        "reported",
        "3 replications (seed 8)",
        "travellers",
        "busiest hour",
        "wait mean",
        "wait p50",
        "wait p90",
        "wait p95",
        "wait p99",
        "wait max",
        "waiting at most 5 min",
        "cleared within 45 min",
        "desk queue, time-weighted mean",
        "matching core",
        "DOCUMENT_REFERRED",
        "impostors let through",
    ):
        assert label in text, label
    classes = text_of(class_table(summary, config))
    assert "citizens (gate)" in classes and "visitors (desk)" in classes
    assert "met" in verdict(summary, config)


def test_summary_csv_has_every_metric(summary):
    rows = list(csv.DictReader(io.StringIO(summary_csv(summary).decode())))
    assert list(rows[0]) == ["metric", "mean", "low", "high", "replications"]
    metrics = {row["metric"]: row for row in rows}
    assert set(summary.metrics) <= set(metrics)
    assert "gate_throughput_per_hour.per_gate" in metrics
    assert float(metrics["waits.p95_s"]["mean"]) == summary["waits.p95_s"].mean


def test_intervals_csv_has_a_row_per_interval(summary):
    rows = list(csv.reader(io.StringIO(intervals_csv(summary).decode())))
    assert rows[0][0] == "clock"
    assert len(rows[0]) == 1 + 3 * len(summary.intervals[0])
    assert [row[0] for row in rows[1:]] == list(summary.interval_clocks)


def test_the_day_plot_is_a_png(summary, config):
    assert day_png(summary, config).startswith(PNG)


@pytest.fixture(scope="module")
def sweep(config: HallConfig) -> SweepResult:
    swept = parse_sweep("gates=1..3")
    configs = sweep_configs(config, swept)
    summaries = run_configurations(configs, replications=2, processes=1)
    return SweepResult(swept, configs, tuple(summaries))


def test_a_sweep_report(sweep):
    assert sweep.met == (False, True, True)
    data = sweep_json(sweep, "hall.yaml", 8)
    assert data["format"] == SWEEP_FORMAT
    assert (data["parameter"], data["values"], data["smallest_meeting"]) == ("gates", [1, 2, 3], 2)
    assert [entry["value"] for entry in data["configurations"]] == [1, 2, 3]
    json.dumps(data, allow_nan=False)
    text = text_of(sweep_table(sweep))
    assert "Sweep of gates: 2 replications each" in text
    assert "core" in text and "referred" not in text
    assert sweep_answer(sweep).startswith("smallest gates meeting the service level")
    rows = list(csv.DictReader(io.StringIO(sweep_csv(sweep).decode())))
    assert [row["meets_service_level"] for row in rows] == ["no", "yes", "yes"]
    assert sweep_png(sweep).startswith(PNG)


def test_the_answer_when_nothing_meets_and_for_a_threshold(sweep):
    missed = SweepResult(parse_sweep("gates=1"), sweep.configs[:1], sweep.summaries[:1])
    assert sweep_answer(missed).startswith("no gates in 1..1 meets the service level")
    # The threshold's smallest value is its strictest.
    as_threshold = SweepResult(parse_sweep("threshold=0.5,0.6,0.7"), sweep.configs, sweep.summaries)
    assert sweep_answer(as_threshold).startswith("strictest threshold meeting")
    assert sweep_answer(as_threshold).endswith(": 0.6")
