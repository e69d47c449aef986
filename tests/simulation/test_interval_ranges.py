"""Confidence intervals stay in their figure's range, with as few as three replications."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulation.config import HallConfig
from simulation.queueing import mean_confidence_interval
from simulation.replications import run_configurations
from simulation.statistics import SHARES
from simulation.summary import Estimate, Summary, figure_range, wilson_interval

shares = st.floats(min_value=0.0, max_value=1.0)
amounts = st.floats(min_value=0.0, max_value=1e6)


def in_range(estimate: Estimate, floor: float, ceiling: float) -> bool:
    return floor <= estimate.low <= estimate.mean <= estimate.high <= ceiling


@given(st.lists(shares, min_size=2, max_size=5))
def test_a_share_of_a_few_replications_stays_within_0_and_1(values: list[float]):
    assert in_range(Estimate.of(values, 0.0, 1.0), 0.0, 1.0)


@given(st.lists(amounts, min_size=2, max_size=5))
def test_a_wait_count_or_queue_length_never_gets_a_negative_bound(values: list[float]):
    assert in_range(Estimate.of(values, 0.0), 0.0, math.inf)


@given(st.lists(st.floats(min_value=-1e3, max_value=1e3), min_size=2, max_size=5))
def test_inside_its_range_the_interval_is_students_t(values: list[float]):
    mean, low, high = mean_confidence_interval(values)
    estimate = Estimate.of(values, -1e9, 1e9)
    assert estimate.mean == pytest.approx(mean)
    assert estimate.low == pytest.approx(low, abs=1e-9)
    assert estimate.high == pytest.approx(high, abs=1e-9)
    assert estimate.symmetric


def test_an_interval_cut_at_zero_is_one_sided():
    # p50 waits of three runs: two nobody waited, one 3 s. Student's t reaches -3.3 s.
    estimate = Estimate.of([0.0, 0.0, 3.0], *figure_range("waits.p50_s"))
    assert estimate.low == 0.0 and estimate.high == pytest.approx(1 + 4.302653)
    assert not estimate.symmetric
    share = Estimate.of([0.999, 1.0, 0.97], *figure_range("service_level.share"))
    assert share.high == 1.0 and share.low < share.mean < 1.0


@given(
    st.integers(min_value=1, max_value=10**7).flatmap(
        lambda trials: st.tuples(st.integers(min_value=0, max_value=trials), st.just(trials))
    )
)
def test_wilsons_interval_stays_within_0_and_1_and_holds_the_observed_share(counts):
    successes, trials = counts
    low, high = wilson_interval(successes, trials)
    assert 0.0 <= low <= successes / trials <= high <= 1.0
    assert high > low


def test_wilsons_interval_has_width_when_nothing_happened():
    assert wilson_interval(0, 10) == (0.0, pytest.approx(0.27753, abs=1e-5))
    assert wilson_interval(5, 10) == (
        pytest.approx(0.23659, abs=1e-5),
        pytest.approx(0.76341, abs=1e-5),
    )
    pooled = Estimate.pooled([0, 0, 0], [3, 4, 2])
    assert (pooled.mean, pooled.low, pooled.replications) == (0.0, 0.0, 3)
    assert 0.2 < pooled.high < 0.4
    assert math.isnan(Estimate.pooled([0, 0], [0, 0]).mean)


def test_shares_and_amounts_are_told_apart():
    assert figure_range("service_level.share") == (0.0, 1.0)
    assert figure_range("utilisation.matching") == (0.0, 1.0)
    assert figure_range("gate_utilisation") == (0.0, 1.0)
    assert figure_range("waits.p50_s") == (0.0, math.inf)
    assert figure_range("referral_reasons.FACE_NOT_FOUND") == (0.0, math.inf)


# A small, busy hall whose figures vary a lot from run to run.
SMALL: dict[str, Any] = {
    "name": "three replications",
    "start": "06:00",
    "horizon": "06:40",
    "arrivals": {
        "rate": [{"from": "06:00", "per_hour": 420}],
        "classes": [
            {"name": "citizens", "share": 0.7, "channel": "gate"},
            {"name": "visitors", "share": 0.3, "channel": "desk"},
        ],
    },
    "gates": {
        "count": 2,
        "steps": {"document": {"kind": "exponential", "mean": 14}},
        "outcomes": {
            "failure_to_acquire": 0.05,
            "document_referral": 0.04,
            "impostor_share": 0.05,
            "false_match": 0.3,
        },
    },
    "desks": {"count": 2, "service": {"kind": "exponential", "mean": 70}},
    "matching": {"workers": 1, "service": {"kind": "exponential", "mean": 3}},
    "service_level": {"max_wait_min": 2, "share": 0.95},
    "interval_min": 10,
}


def check_every_figure(summary: Summary) -> None:
    for key, estimate in summary.metrics.items():
        if estimate.replications < 2:
            continue
        floor, ceiling = figure_range(key)
        assert in_range(estimate, floor, ceiling), (key, estimate)
    for row in summary.intervals:
        for column, estimate in row.items():
            if estimate.replications >= 2:
                assert in_range(estimate, *figure_range(column)), (column, estimate)


@settings(max_examples=12, deadline=None)
@given(st.integers(min_value=0, max_value=2**32 - 1))
def test_every_figure_of_three_replications_stays_in_range(seed: int):
    config = HallConfig.model_validate({**SMALL, "seed": seed})
    summary = run_configurations([config], Path(), replications=3, processes=1)[0]
    check_every_figure(summary)
    assert set(SHARES) <= set(summary.metrics)
    fmr = summary.pooled("false_accepts", "impostors")
    if fmr.replications:
        assert 0.0 <= fmr.low <= fmr.mean <= fmr.high <= 1.0


def test_the_figures_that_left_their_range_before_no_longer_do():
    """Student's t alone gives this hall negative counts and waits, and shares above 1."""
    config = HallConfig.model_validate({**SMALL, "seed": 9})
    summary = run_configurations([config], Path(), replications=3, processes=1)[0]
    check_every_figure(summary)
    left: dict[str, Estimate] = {}
    for key in summary.metrics:
        values = summary.values(key)
        if all(math.isfinite(value) for value in values) and len(set(values)) > 1:
            _, low, high = mean_confidence_interval(values)
            floor, ceiling = figure_range(key)
            if low < floor or high > ceiling:
                left[key] = summary[key]
    assert left["service_level.share"].high == 1.0
    assert left["desk_waits.p50_s"].low == 0.0
    assert left["utilisation.desks"].high == 1.0
