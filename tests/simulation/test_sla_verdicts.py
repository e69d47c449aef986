"""The service level is met on the lower confidence bound, and the reports say which way."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from rich.table import Table

from simulation.config import HallConfig, load_hall
from simulation.hall import simulate
from simulation.replications import run_configurations
from simulation.report import (
    PIPED_WIDTH,
    _fmt,
    headline,
    report_console,
    verdict,
)
from simulation.statistics import RunResult, summarise_run
from simulation.summary import Estimate, Summary
from simulation.sweep import (
    SweepResult,
    Verdict,
    meets_service_level,
    parse_sweep,
    service_level_verdict,
    sweep_configs,
)
from simulation.sweepreport import sweep_answer, sweep_csv, sweep_json, sweep_table

CONFIG = HallConfig.model_validate(
    {
        "name": "verdicts",
        "start": "06:00",
        "horizon": "06:20",
        "arrivals": {"rate": [{"from": "06:00", "per_hour": 200}]},
        "gates": {"count": 2, "steps": {"document": {"kind": "exponential", "mean": 10}}},
        "service_level": {"max_wait_min": 1, "share": 0.95},
    }
)


@pytest.fixture(scope="module")
def base() -> RunResult:
    return summarise_run(simulate(CONFIG, Path(), np.random.SeedSequence(3)))


def with_shares(base: RunResult, shares: list[float]) -> Summary:
    """A summary of runs that differ only in their share within the waiting target."""
    runs = [
        dataclasses.replace(
            base, service_level=dataclasses.replace(base.service_level, share=share)
        )
        for share in shares
    ]
    return Summary.of(runs)


def test_a_share_whose_interval_reaches_below_the_target_is_met_on_the_mean_only(base):
    # 95.3% ± 8.3 with three replications: the example.
    summary = with_shares(base, [0.99, 1.0, 0.87])
    share = summary["service_level.share"]
    assert share.mean == pytest.approx(0.9533, abs=1e-4) and share.low < 0.95
    assert service_level_verdict(summary, CONFIG) is Verdict.MEAN_ONLY
    assert not meets_service_level(summary, CONFIG)
    assert "met on the mean only" in verdict(summary, CONFIG)
    assert headline(summary, CONFIG)["service_level"]["verdict"] == "met_on_mean_only"
    assert headline(summary, CONFIG)["service_level"]["met"] is False


def test_a_share_whose_lower_bound_reaches_the_target_is_met_with_confidence(base):
    summary = with_shares(base, [0.97, 0.975, 0.98])
    assert service_level_verdict(summary, CONFIG) is Verdict.MET
    assert "met with 95% confidence" in verdict(summary, CONFIG)
    everyone = with_shares(base, [1.0, 1.0, 1.0])  # no spread: the bound is the mean
    assert service_level_verdict(everyone, CONFIG) is Verdict.MET


def test_a_mean_below_the_target_misses_and_one_replication_proves_nothing(base):
    assert service_level_verdict(with_shares(base, [0.9, 0.93, 0.94]), CONFIG) is Verdict.MISSED
    one = with_shares(base, [0.99])
    assert service_level_verdict(one, CONFIG) is Verdict.MEAN_ONLY
    assert "one replication gives no confidence interval" in verdict(one, CONFIG)


def test_the_finder_takes_the_smallest_met_with_confidence_and_names_the_mean_only_one(base):
    summaries = (
        with_shares(base, [0.90, 0.92, 0.91]),  # missed
        with_shares(base, [0.99, 1.0, 0.87]),  # mean only
        with_shares(base, [0.99, 0.995, 0.99]),  # met
    )
    sweep = parse_sweep("gates=2..4")
    configs = sweep_configs(CONFIG, sweep)
    result = SweepResult(sweep, configs, summaries)
    assert result.verdicts == (Verdict.MISSED, Verdict.MEAN_ONLY, Verdict.MET)
    assert result.met == (False, False, True)
    assert (result.smallest, result.smallest_on_mean) == (4, 3)
    answer = sweep_answer(result)
    assert "with 95% confidence: 4" in answer
    assert "3 meets it on the mean only" in answer
    data = sweep_json(result, "hall.yaml", 0)
    assert (data["smallest_meeting"], data["smallest_meeting_on_mean"]) == (4, 3)
    rows = list(csv.DictReader(io.StringIO(sweep_csv(result).decode())))
    assert [row["verdict"] for row in rows] == ["missed", "met_on_mean_only", "met"]
    assert [row["meets_service_level"] for row in rows] == ["no", "no", "yes"]
    text = " ".join(rendered(sweep_table(result)).split())
    assert "mean only" in text
    nothing = SweepResult(sweep, configs, summaries[:2] + summaries[:1])
    assert sweep_answer(nothing).startswith(
        "no gates in 2..4 meets the service level (95% waiting at most 1 min) with 95% confidence"
    )


@pytest.mark.parametrize(
    ("estimate", "kind", "text"),
    [
        (Estimate(1.0, 0.0, 3.5, 3), "count", "1 (0.0 to 3.5)"),
        (Estimate(0.9533, 0.8705, 1.0, 3), "share", "95.3% (87.1 to 100.0)"),
        (Estimate(0.4, 0.0, 1.9, 3), "s", "0.4 s (0.0 to 1.9)"),
        (Estimate(0.9533, 0.8705, 1.0361, 3), "share", "95.3% ± 8.3"),
    ],
)
def test_an_interval_cut_at_its_range_reads_low_to_high(estimate, kind, text):
    assert _fmt(estimate, kind) == text


def rendered(table: Table) -> str:
    stream = io.StringIO()
    report_console(stream).print(table)
    return stream.getvalue()


def test_a_piped_table_is_not_cut_at_80_columns(monkeypatch):
    monkeypatch.delenv("COLUMNS", raising=False)
    table = Table(title="wide")
    for index in range(12):
        table.add_column(f"column {index}", justify="right", no_wrap=True)
    table.add_row(*[f"{index * 1000.5:.1f} s ± 3.2" for index in range(12)])
    stream = io.StringIO()
    console = report_console(stream)
    assert not console.is_terminal and console.width == PIPED_WIDTH
    console.print(table)
    text = stream.getvalue()
    assert "…" not in text and "11005.5 s ± 3.2" in text and "column 11" in text
    assert max(len(line) for line in text.splitlines()) > 80
    monkeypatch.setenv("COLUMNS", "100")
    assert report_console(io.StringIO()).width == 100


def write_hall(folder: Path) -> Path:
    (folder / "rates.csv").write_text(
        "threshold,fmr,fnmr\n0.4,0.001,0.2\n0.5,0.01,0.05\n0.6,0.1,0.01\n", encoding="utf-8"
    )
    path = folder / "hall.yaml"
    hall: dict[str, Any] = {
        "name": "faces",
        "start": "06:00",
        "horizon": "07:00",
        "arrivals": {"rate": [{"from": "06:00", "per_hour": 600}]},
        "gates": {
            "count": 3,
            "steps": {"document": {"kind": "exponential", "mean": 12}},
            "outcomes": {"impostor_share": 0.05},
            "biometrics": {"rates_file": "rates.csv", "threshold": 0.5},
        },
        "desks": {"count": 2, "service": {"kind": "exponential", "mean": 60}},
    }
    path.write_text(json.dumps(hall), encoding="utf-8")
    return path


def test_a_threshold_sweep_reports_fmr_and_impostors_let_through(tmp_path, monkeypatch):
    monkeypatch.delenv("COLUMNS", raising=False)
    config = load_hall(write_hall(tmp_path))
    sweep = parse_sweep("threshold=0.4..0.6:0.1")
    configs = sweep_configs(config, sweep)
    summaries = run_configurations(configs, tmp_path, replications=3, processes=1)
    result = SweepResult(sweep, configs, tuple(summaries))
    let_through = [summary["false_accepts"].mean for summary in summaries]
    assert let_through[0] < let_through[-1]  # the looser threshold lets more through
    text = rendered(sweep_table(result))
    assert "FMR" in text and "let through" in text and "…" not in text
    assert "0.10%" in text and "10.0%" in text
    data = sweep_json(result, "hall.yaml", 0)
    rates = [entry["biometric_rates"]["fmr"] for entry in data["configurations"]]
    assert rates == pytest.approx([0.001, 0.01, 0.1])
    loosest = data["configurations"][-1]["referrals"]
    share = loosest["let_through_share"]
    assert 0 <= share["low"] <= share["mean"] <= share["high"] <= 1
    assert loosest["impostors"]["mean"] > 0
    rows = list(csv.DictReader(io.StringIO(sweep_csv(result).decode())))
    assert [float(row["fmr"]) for row in rows] == pytest.approx([0.001, 0.01, 0.1])
    assert {"false_accepts", "let_through_share_low", "core_waits.p95_s"} <= set(rows[0])
