"""Statistics of a run and across runs: the rules they follow and the books balancing."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from simulation.config import HallConfig
from simulation.hall import simulate
from simulation.queueing import mean_confidence_interval
from simulation.statistics import RunResult, WaitStats, _level_integrals, summarise_run
from simulation.summary import Estimate, Summary

CONFIG = HallConfig.model_validate(
    {
        "name": "statistics",
        "start": "06:00",
        "arrivals": {
            "deplane": {"kind": "uniform", "low": 0, "high": 600},
            "walk": {"kind": "triangular", "low": 120, "mode": 240, "high": 480},
            "flights": [
                {"flight": "A1", "on_block": "06:10", "passengers": 300, "egate_share": 0.8},
                {"flight": "B2", "on_block": "06:20", "passengers": 350, "egate_share": 0.6},
                {"flight": "C3", "on_block": "07:05", "passengers": 280, "egate_share": 0.7},
            ],
        },
        "gates": {
            "count": 4,
            "steps": {
                "document": {"kind": "lognormal", "mean": 8, "sd": 3},
                "capture": {"kind": "exponential", "mean": 3},
            },
            "outcomes": {"failure_to_acquire": 0.05, "document_referral": 0.03},
            "retreat": {"kind": "deterministic", "value": 8},
            "banks": [{"from": "06:00", "to": "07:00", "open": 3}, {"from": "07:00", "open": 4}],
        },
        "desks": {
            "roster": [{"from": "06:00", "to": "06:50", "desks": 3}, {"from": "06:50", "desks": 5}],
            "service": {"kind": "exponential", "mean": 70},
        },
        "interval_min": 10,
    }
)


@pytest.fixture(scope="module")
def records():
    return simulate(CONFIG, Path(), np.random.SeedSequence(99))


@pytest.fixture(scope="module")
def result(records):
    return summarise_run(records)


def test_percentiles_interpolate_linearly_between_sorted_values():
    stats = WaitStats.of(np.arange(1.0, 101.0))
    assert (stats.count, stats.mean_s, stats.max_s) == (100, 50.5, 100.0)
    # position p/100 * (n - 1) in the sorted values, counted from 0
    assert stats.p50_s == pytest.approx(50.5)
    assert stats.p90_s == pytest.approx(90.1)
    assert stats.p95_s == pytest.approx(95.05)
    assert stats.p99_s == pytest.approx(99.01)
    empty = WaitStats.of(np.array([]))
    assert empty.count == 0 and math.isnan(empty.mean_s)


def test_the_level_of_a_step_function_is_integrated_per_interval():
    # 1 waiting from t=1 to 4, a second from 2 to 3.
    times = np.array([1.0, 4.0, 2.0, 3.0])
    changes = np.array([1.0, -1.0, 1.0, -1.0])
    integrals = _level_integrals(times, changes, np.array([0.0, 2.0, 4.0, 6.0]))
    assert integrals.tolist() == pytest.approx([1.0, 3.0, 0.0])


def test_the_interval_table_adds_up_to_the_whole_run(records, result):
    rows = result.intervals
    width = CONFIG.interval_min * 60
    lengths = [min(row.start_s + width, result.duration_s) - row.start_s for row in rows]
    assert rows[0].clock == "06:00" and rows[1].clock == "06:10"
    assert sum(row.arrivals for row in rows) == result.arrivals == 930
    assert sum(row.departures for row in rows) == result.departures == 930

    def total(column: str) -> float:
        return sum(getattr(row, column) * length for row, length in zip(rows, lengths, strict=True))

    # Queue curves rebuilt from the travellers' times match the ones kept in the run.
    assert total("gate_queue_mean") == pytest.approx(records.gate_queue_area, rel=1e-9)
    assert total("desk_queue_mean") == pytest.approx(records.desk_queue_area, rel=1e-9)
    assert total("gates_open_mean") == pytest.approx(sum(records.gate_available_s), rel=1e-9)
    assert total("desks_on_duty_mean") == pytest.approx(sum(records.desk_available_s), rel=1e-9)
    gate_busy = sum(
        row.gate_utilisation * row.gates_open_mean * length
        for row, length in zip(rows, lengths, strict=True)
        if row.gates_open_mean > 0 and not math.isnan(row.gate_utilisation)
    )
    assert gate_busy == pytest.approx(sum(records.gate_busy_s), rel=1e-9)
    assert all(0 <= row.gate_utilisation <= 1 + 1e-9 for row in rows)
    assert result.peak_throughput_per_hour >= result.throughput_per_hour


def test_waits_service_level_and_clearance_follow_their_definitions(records, result):
    uses_gate = records.arrivals.uses_gate()
    at_desk = ~np.isnan(records.desk_join)
    wait = np.where(uses_gate, records.gate_start - records.arrived, 0.0) + np.where(
        at_desk, records.desk_start - records.desk_join, 0.0
    )
    assert result.waits.mean_s == pytest.approx(wait.mean())
    assert result.waits.p95_s == pytest.approx(np.percentile(wait, 95))
    assert result.service_level.share == pytest.approx(np.mean(wait <= 300))
    assert result.service_level.met is (result.service_level.share >= 0.95)
    in_hall = records.left - records.arrived
    assert result.service_level.clearance_share == pytest.approx(np.mean(in_hall <= 45 * 60))
    assert result.time_in_hall.max_s == pytest.approx(in_hall.max())
    assert set(result.waits_by_class) == {"egate", "desk"}
    assert result.waits_by_class["desk"].count == result.arrivals_by_class["desk"]
    assert result.waits_by_class["desk"].mean_s == pytest.approx(wait[~uses_gate].mean())
    assert result.gate_waits.count == int(uses_gate.sum())
    assert result.desk_waits.count == int(at_desk.sum())


def test_utilisation_and_throughput(records, result):
    assert result.utilisation.gates == pytest.approx(
        sum(records.gate_busy_s) / sum(records.gate_available_s)
    )
    assert 0 < result.utilisation.desks <= 1 and math.isnan(result.utilisation.matching)
    assert result.throughput_per_hour == pytest.approx(930 / (result.duration_s / 3600))
    gate_4 = result.gate_throughput_per_hour["G04"]
    assert gate_4 == pytest.approx(records.gate_served[3] / (records.gate_available_s[3] / 3600))


def test_the_json_is_plain_data(result):
    data = result.to_json()
    text = json.dumps(data, allow_nan=False)
    assert json.loads(text) == data
    assert data["utilisation"]["matching"] is None
    assert data["intervals"][0]["clock"] == "06:00"
    assert set(data["little"]) == {"gate_queue", "core_queue", "desk_queue", "hall"}


def runs_with(values: list[float]) -> list[RunResult]:
    base = summarise_run(simulate(CONFIG, Path(), np.random.SeedSequence(1)))
    runs = []
    for index, value in enumerate(values):
        waits = WaitStats(100, value, value, value, value, value, value)
        reasons = {"DOCUMENT_REFERRED": 5} if index == 0 else {}
        runs.append(
            RunResult(
                **{
                    **{name: getattr(base, name) for name in RunResult.__dataclass_fields__},
                    "waits": waits,
                    "referral_reasons": reasons,
                    "intervals": base.intervals[: 3 + index],
                }
            )
        )
    return runs


def test_a_summary_gives_each_figure_with_its_confidence_interval():
    values = [10.0, 12.0, 11.0, 15.0]
    summary = Summary.of(runs_with(values))
    mean, low, high = mean_confidence_interval(values)
    estimate = summary["waits.mean_s"]
    assert estimate == Estimate(pytest.approx(mean), pytest.approx(low), pytest.approx(high), 4)
    # A reason only one run saw counts as zero in the others.
    assert summary["referral_reasons.DOCUMENT_REFERRED"].mean == pytest.approx(5 / 4)
    assert summary["service_level.met"].replications == 4
    # The interval table runs as long as the longest run.
    assert len(summary.intervals) == 6 and summary.interval_clocks[5] == "06:50"
    assert summary.intervals[5]["arrivals"].replications == 4
    assert summary.intervals[5]["wait_mean_s"].replications <= 1
    data = json.loads(json.dumps(summary.to_json(include_runs=True), allow_nan=False))
    assert data["metrics"]["waits.mean_s"]["mean"] == pytest.approx(mean)
    assert len(data["runs"]) == 4 and data["intervals"][0]["clock"] == "06:00"


def test_one_run_has_no_interval():
    estimate = Estimate.of([3.0])
    assert estimate.mean == 3.0 and math.isnan(estimate.low) and math.isnan(estimate.high)
    assert Estimate.of([math.nan]).replications == 0
    with pytest.raises(ValueError):
        Summary.of([])
