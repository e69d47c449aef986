"""Sweeps: the written form, changing one setting of a hall, the smallest value that meets."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from simulation.config import HallConfig, load_hall
from simulation.queueing import erlang_c
from simulation.replications import run_configurations
from simulation.sweep import (
    MAX_VALUES,
    Sweep,
    SweepResult,
    apply_setting,
    describe,
    meets_service_level,
    parse_sweep,
    sweep_configs,
)

HALL: dict[str, Any] = {
    "name": "swept",
    "start": "06:00",
    "horizon": "07:00",
    "arrivals": {
        "rate": [{"from": "06:00", "per_hour": 600}],
        "classes": [
            {"name": "citizens", "share": 0.8, "channel": "gate"},
            {"name": "visitors", "share": 0.2, "channel": "desk"},
        ],
    },
    "gates": {
        "count": 10,
        "steps": {"document": {"kind": "exponential", "mean": 10}},
        "banks": [
            {"from": "06:00", "to": "06:30", "open": 4},
            {"from": "06:30", "open": 10},
        ],
    },
    "desks": {
        "roster": [{"from": "06:00", "to": "06:20", "desks": 3}, {"from": "06:20", "desks": 6}],
        "service": {"kind": "exponential", "mean": 60},
    },
    "matching": {"workers": 2, "service": {"kind": "deterministic", "value": 0.5}},
}


def hall(**changes: Any) -> HallConfig:
    return HallConfig.model_validate({**HALL, **changes})


@pytest.mark.parametrize(
    ("text", "parameter", "values"),
    [
        ("gates=4..8", "gates", (4, 5, 6, 7, 8)),
        ("gates=4..16:4", "gates", (4, 8, 12, 16)),
        ("gates=4..15:4", "gates", (4, 8, 12)),
        (" desks = 20,12,16 ", "desks", (12, 16, 20)),
        ("workers=3", "workers", (3,)),
        ("threshold=0.5..0.65:0.05", "threshold", (0.5, 0.55, 0.6, 0.65)),
        ("threshold=0.55,0.6", "threshold", (0.55, 0.6)),
        ("desks=0..2", "desks", (0, 1, 2)),
    ],
)
def test_parse_ranges_lists_and_steps(text, parameter, values):
    sweep = parse_sweep(text)
    assert sweep == Sweep(parameter, values)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("gates", "expected NAME=LOW..HIGH"),
        ("gates=", "expected NAME=LOW..HIGH"),
        ("=4..8", "unknown setting ''"),
        ("lanes=4..8", "unknown setting 'lanes'"),
        ("gates=8..4", "the range runs backwards (8 > 4)"),
        ("gates=4..8:-1", "the step must be greater than 0"),
        ("gates=4..8:1.5", "'1.5' is not a whole number"),
        ("gates=four..8", "'four' is not a number"),
        ("gates=4..nan", "'nan' is not a finite number"),
        ("gates=4,4", "a value is listed twice"),
        ("gates=0..3", "gates must be from 1 to 500 (got 0)"),
        ("threshold=0.5..0.7", "give a step for a range of fractions"),
        ("threshold=0.5..2.5:0.5", "threshold must be from 0 to 2 (got 2.5)"),
        ("threshold=0..1:0.001", f"1001 values, more than {MAX_VALUES}"),
    ],
)
def test_parse_refuses_what_is_not_a_sweep(text, message):
    with pytest.raises(ValueError) as raised:
        parse_sweep(text)
    assert message in str(raised.value)
    assert "\n" not in str(raised.value)


def test_labels_and_descriptions():
    gates = parse_sweep("gates=4..16")
    assert gates.label(4.0) == "4"
    assert str(parse_sweep("gates=4,6")) == "gates=4,6"
    assert describe(gates) == "gates 4..16"
    assert describe(parse_sweep("threshold=0.5,0.55")) == "threshold 0.5, 0.55"


def test_gates_keep_the_shape_of_the_bank_schedule():
    config = hall()
    assert [bank.open for bank in apply_setting(config, "gates", 5).gates.banks] == [2, 5]
    changed = apply_setting(config, "gates", 15)
    assert changed.gates.count == 15
    assert [bank.open for bank in changed.gates.banks] == [6, 15]
    # Everything else stays as it was.
    assert changed.model_dump(exclude={"gates"}) == config.model_dump(exclude={"gates"})


def test_desks_scale_a_roster_or_set_a_count():
    roster = apply_setting(hall(), "desks", 12).desks
    assert [shift.desks for shift in roster.roster] == [6, 12]
    fixed = hall(desks={"count": 4, "service": {"kind": "exponential", "mean": 60}})
    assert apply_setting(fixed, "desks", 9).desks.count == 9


def test_workers_set_the_matching_core():
    assert apply_setting(hall(), "workers", 7).matching.workers == 7
    without = hall(matching=None)
    with pytest.raises(ValueError, match="no central matching core"):
        apply_setting(without, "workers", 3)


def write_rates(folder: Path) -> Path:
    path = folder / "rates.csv"
    path.write_text(
        "threshold,fmr,fnmr\n0.4,0.0001,0.2\n0.5,0.001,0.05\n0.6,0.01,0.01\n", encoding="utf-8"
    )
    return path


def test_threshold_reads_the_rates_at_each_value(tmp_path):
    write_rates(tmp_path)
    path = tmp_path / "hall.yaml"
    path.write_text(
        "name: faces\nstart: '06:00'\nhorizon: '07:00'\n"
        "arrivals: {rate: [{from: '06:00', per_hour: 100}]}\n"
        "gates: {count: 2, biometrics: {rates_file: rates.csv, threshold: 0.6}}\n"
        "desks: {count: 1, service: {kind: exponential, mean: 60}}\n",
        encoding="utf-8",
    )
    config = load_hall(path)
    assert config.gates.rates().fnmr == pytest.approx(0.01)
    stricter = apply_setting(config, "threshold", 0.45)
    assert stricter.gates.rates().fnmr == pytest.approx(0.125)
    assert stricter.gates.rates().fmr == pytest.approx(0.00055)
    with pytest.raises(ValueError, match=r"threshold=0\.7: gates\.biometrics\.threshold: outside"):
        apply_setting(config, "threshold", 0.7)
    with pytest.raises(ValueError, match=r"needs gates\.biometrics\.rates_file"):
        apply_setting(hall(), "threshold", 0.5)


def test_a_file_with_classes_and_defaults_survives_the_change():
    # Had the defaults been written back, egate_share would now sit next to classes.
    changed = apply_setting(hall(), "gates", 3)
    assert changed.arrivals.classes == hall().arrivals.classes
    assert "egate_share" not in changed.arrivals.model_fields_set


def test_an_unknown_setting_is_refused():
    with pytest.raises(ValueError, match="unknown setting 'lanes'"):
        apply_setting(hall(), "lanes", 3)


MMC: dict[str, Any] = {
    "name": "M/M/c",
    "start": "00:00",
    "horizon": "10:00",
    "arrivals": {"rate": [{"from": "00:00", "per_hour": 1080}]},
    "gates": {"count": 4, "steps": {"document": {"kind": "exponential", "mean": 10}}},
    # 95% must wait at most 15 s.
    "service_level": {"max_wait_min": 0.25, "share": 0.95},
    "seed": 3,
}


def test_the_smallest_value_that_meets_is_the_one_erlang_c_gives():
    config = HallConfig.model_validate(MMC)
    sweep = parse_sweep("gates=4..7")
    configs = sweep_configs(config, sweep)
    result = SweepResult(
        sweep, configs, tuple(run_configurations(configs, replications=3, processes=1))
    )
    within = {
        gates: 1 - erlang_c(gates, 0.3, 0.1) * math.exp(-(gates * 0.1 - 0.3) * 15)
        for gates in sweep.values
    }
    assert within[4] < 0.95 < within[5]
    assert result.met == (False, True, True, True)
    assert result.smallest == 5
    for summary, gates in zip(result.summaries, sweep.values, strict=True):
        # A finite run that starts empty waits a little less than the steady state.
        assert summary["service_level.share"].mean == pytest.approx(within[gates], abs=0.03)


def test_no_value_meets_when_every_one_misses():
    config = HallConfig.model_validate(MMC)
    sweep = parse_sweep("gates=3,4")
    configs = sweep_configs(config, sweep)
    result = SweepResult(
        sweep, configs, tuple(run_configurations(configs, replications=2, processes=1))
    )
    assert result.met == (False, False)
    assert result.smallest is None
    assert not meets_service_level(result.summaries[0], configs[0])
