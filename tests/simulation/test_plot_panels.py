"""What the plots show: demand, capacity and each queue apart; whole ticks for counts; FMR."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
from matplotlib.axes import Axes

from simulation.config import HallConfig, load_hall
from simulation.plots import day_figure, sweep_figure, time_label
from simulation.replications import run_configurations, run_replications
from simulation.summary import Summary
from simulation.sweep import SweepResult, parse_sweep, sweep_configs

HALL: dict[str, Any] = {
    "name": "plotted",
    "start": "06:00",
    "horizon": "07:30",
    "arrivals": {"rate": [{"from": "06:00", "per_hour": 600}], "egate_share": 0.7},
    "gates": {
        "count": 4,
        "steps": {"document": {"kind": "exponential", "mean": 12}},
        "outcomes": {"document_referral": 0.05},
        "banks": [{"from": "06:00", "to": "06:45", "open": 2}, {"from": "06:45", "open": 4}],
    },
    "desks": {
        "roster": [{"from": "06:00", "to": "07:00", "desks": 3}, {"from": "07:00", "desks": 5}],
        "service": {"kind": "exponential", "mean": 60},
    },
    "matching": {"workers": 1, "service": {"kind": "exponential", "mean": 2}},
    "replications": 3,
    "seed": 4,
}


def legend_of(axes: Axes) -> list[str]:
    legend = axes.get_legend()
    assert legend is not None
    return [text.get_text() for text in legend.get_texts()]


def whole(ticks: Any) -> bool:
    return all(float(tick) == math.floor(float(tick)) for tick in ticks)


@pytest.fixture(scope="module")
def config() -> HallConfig:
    return HallConfig.model_validate(HALL)


@pytest.fixture(scope="module")
def summary(config: HallConfig) -> Summary:
    return run_replications(config, processes=1)


def test_the_day_shows_demand_capacity_queues_and_each_queues_wait(summary, config):
    figure = day_figure(summary, config)
    demand, capacity, queues, waits = figure.axes
    assert demand.get_ylabel() == "travellers per 15 min"
    assert legend_of(demand) == [
        "joining the gate queue",
        "joining the desk queue (incl. referrals)",
    ]
    assert capacity.get_ylabel() == "open or on duty"
    assert legend_of(capacity) == ["gates open", "desks on duty"]
    assert legend_of(queues) == ["gate queue", "matching core", "desk queue"]
    # Gate and desk travellers' waits apart, never one p95 of both.
    assert legend_of(waits) == [
        "gate queue, p95",
        "matching core, p95",
        "desk queue, p95",
        "5 min target",
    ]
    assert waits.get_ylabel() == "wait (minutes)"
    for axes in (demand, capacity):
        assert whole(axes.get_yticks())
    # The capacity lines follow the bank schedule and the roster.
    gates_line, desks_line = capacity.get_lines()[:2]
    assert max(gates_line.get_ydata()) == pytest.approx(4)
    assert min(gates_line.get_ydata()) == pytest.approx(2)
    assert max(desks_line.get_ydata()) == pytest.approx(5)
    # Demand adds up to the travellers who joined the gate queue.
    joined = sum(row["gate_joins"].mean for row in summary.intervals)
    assert sum(demand.get_lines()[0].get_ydata()) == pytest.approx(joined)


def test_without_a_core_the_day_has_no_core_line(config):
    data = {**HALL, "matching": None}
    del data["matching"]
    plain = HallConfig.model_validate(data)
    figure = day_figure(run_replications(plain, replications=2, processes=1), plain)
    assert legend_of(figure.axes[3]) == ["gate queue, p95", "desk queue, p95", "5 min target"]


def test_a_sweep_of_a_count_has_whole_ticks(config):
    sweep = parse_sweep("workers=1..3")
    configs = sweep_configs(config, sweep)
    result = SweepResult(
        sweep, configs, tuple(run_configurations(configs, replications=2, processes=1))
    )
    figure = sweep_figure(result)
    assert len(figure.axes) == 2
    bottom = figure.axes[-1]
    assert bottom.get_xlabel() == "workers"
    ticks = [tick for tick in bottom.get_xticks() if 1 <= tick <= 3]
    assert ticks and whole(ticks)
    assert bottom.get_ylim()[1] <= 100.5


def test_a_threshold_sweep_has_an_fmr_panel(tmp_path: Path):
    (tmp_path / "rates.csv").write_text(
        "threshold,fmr,fnmr\n0.4,0.001,0.2\n0.5,0.01,0.05\n0.6,0.1,0.01\n", encoding="utf-8"
    )
    (tmp_path / "hall.yaml").write_text(
        "name: faces\nstart: '06:00'\nhorizon: '07:00'\n"
        "arrivals: {rate: [{from: '06:00', per_hour: 500}]}\n"
        "gates: {count: 3, steps: {document: {kind: exponential, mean: 12}},\n"
        "  outcomes: {impostor_share: 0.05},\n"
        "  biometrics: {rates_file: rates.csv, threshold: 0.5}}\n"
        "desks: {count: 2, service: {kind: exponential, mean: 60}}\n",
        encoding="utf-8",
    )
    config = load_hall(tmp_path / "hall.yaml")
    sweep = parse_sweep("threshold=0.4..0.6:0.1")
    configs = sweep_configs(config, sweep)
    summaries = run_configurations(configs, tmp_path, replications=3, processes=1)
    figure = sweep_figure(SweepResult(sweep, configs, tuple(summaries)))
    assert len(figure.axes) == 3
    fmr = figure.axes[2]
    assert fmr.get_ylabel() == "false match rate (%)"
    assert fmr.get_xlabel() == "threshold"
    assert fmr.get_yscale() == "log"
    assert "FMR at the threshold" in legend_of(fmr)
    assert list(fmr.get_lines()[0].get_ydata()) == pytest.approx([0.1, 1.0, 10.0])
    labels = legend_of(fmr)
    assert (
        "impostors let through (95% CI)" in labels or "none let through: upper 95% bound" in labels
    )


def test_time_ticks_name_the_day_past_two_days():
    # Within two days the clock runs on past 24:00; over a week each day is named.
    assert time_label(30.5, days=False) == "30:30"
    assert [time_label(hours, days=True) for hours in (0, 24, 30.5, 144)] == [
        "day 1",
        "day 2",
        "day 2 06:30",
        "day 7",
    ]
