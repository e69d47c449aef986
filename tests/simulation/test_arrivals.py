"""Arrivals: flights spill their passengers into the hall; rates make Poisson arrivals."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from simulation.arrivals import flight_arrivals, generate_arrivals, rate_arrivals
from simulation.config import HallConfig

HOUR = 3600.0


def hall(arrivals: dict[str, object], horizon: str | None = None) -> HallConfig:
    data: dict[str, object] = {
        "name": "arrivals",
        "start": "06:00",
        "arrivals": arrivals,
        "gates": {"count": 2},
        "desks": {"count": 1, "service": {"kind": "deterministic", "value": 1}},
    }
    if horizon is not None:
        data["horizon"] = horizon
    return HallConfig.model_validate(data)


SCHEDULE = {
    "egate_share": 0.7,
    "deplane": {"kind": "uniform", "low": 0, "high": 600},
    "walk": {"kind": "deterministic", "value": 240},
    "flights": [
        {"flight": "MU588", "on_block": "06:40", "passengers": 3000},
        {"flight": "LH728", "on_block": "07:00", "passengers": 2000, "egate_share": 0.2},
        {
            "flight": "CA930",
            "on_block": "08:00",
            "passengers": 1000,
            "walk": {"kind": "deterministic", "value": 60},
            "classes": [
                {"name": "residents", "share": 0.5, "channel": "gate"},
                {"name": "visitors", "share": 0.5, "channel": "desk"},
            ],
        },
        {"flight": "EMPTY1", "on_block": "07:30", "passengers": 0},
    ],
}


def binomially_close(count: int, trials: int, share: float) -> bool:
    """Within 4.5 standard deviations of the expected count."""
    sd = (trials * share * (1 - share)) ** 0.5
    return abs(count - trials * share) <= 4.5 * sd + 1e-9


def test_every_passenger_of_every_flight_arrives_after_deplaning_and_walking():
    config = hall(SCHEDULE)
    arrivals = generate_arrivals(config, np.random.default_rng(1), Path())

    assert len(arrivals) == 6000
    assert np.all(np.diff(arrivals.times) >= 0)
    assert arrivals.class_names == ("egate", "desk", "residents", "visitors")
    assert arrivals.channels == ("gate", "desk", "gate", "desk")
    for number, (on_block, walk, count) in enumerate(
        [(40 * 60, 240, 3000), (60 * 60, 240, 2000), (120 * 60, 60, 1000)]
    ):
        mine = arrivals.times[arrivals.flights == number]
        assert mine.size == count
        offsets = mine - on_block - walk
        assert offsets.min() >= 0 and offsets.max() <= 600
        # Uniform deplaning over 10 minutes: mean 300 s, sd 173 s.
        assert abs(offsets.mean() - 300) < 4.5 * 173 / count**0.5


def test_classes_follow_the_shares_of_each_flight():
    arrivals = generate_arrivals(hall(SCHEDULE), np.random.default_rng(2), Path())
    classes, flights = arrivals.classes, arrivals.flights
    assert binomially_close(int(np.sum((flights == 0) & (classes == 0))), 3000, 0.7)
    assert binomially_close(int(np.sum((flights == 1) & (classes == 0))), 2000, 0.2)
    assert set(classes[flights == 2].tolist()) == {2, 3}
    assert binomially_close(int(np.sum((flights == 2) & (classes == 2))), 1000, 0.5)
    assert np.array_equal(arrivals.uses_gate(), np.isin(classes, (0, 2)))


def test_the_same_generator_gives_the_same_arrivals():
    config = hall(SCHEDULE)
    first = generate_arrivals(config, np.random.default_rng(3), Path())
    again = generate_arrivals(config, np.random.default_rng(3), Path())
    other = generate_arrivals(config, np.random.default_rng(4), Path())
    assert np.array_equal(first.times, again.times)
    assert np.array_equal(first.classes, again.classes)
    assert not np.array_equal(first.times, other.times)


def test_a_horizon_cuts_the_schedule_short():
    config = hall(SCHEDULE, horizon="08:05")
    arrivals = flight_arrivals(
        config.arrivals, config.start, np.random.default_rng(5), Path(), config.horizon
    )
    assert arrivals.times.max() < 2 * HOUR + 300
    # The first two flights are in the hall long before 08:05; only CA930 is cut.
    assert np.sum(arrivals.flights < 2) == 5000
    assert 0 < np.sum(arrivals.flights == 2) < 1000


RATES = {
    "rate": [
        {"from": "06:00", "per_hour": 1200},
        {"from": "07:00", "per_hour": 0},
        {"from": "07:30", "per_hour": 3600},
    ],
    "egate_share": 0.8,
}


def test_rate_arrivals_are_poisson_per_period():
    config = hall(RATES, horizon="08:00")
    assert config.horizon is not None
    counts = {"first": [], "gap": [], "last": []}
    gaps: list[float] = []
    for seed in range(40):
        arrivals = rate_arrivals(
            config.arrivals, config.start, config.horizon, np.random.default_rng(seed)
        )
        times = arrivals.times
        assert np.all(np.diff(times) >= 0) and times.min() >= 0 and times.max() < 2 * HOUR
        counts["first"].append(int(np.sum(times < HOUR)))
        counts["gap"].append(int(np.sum((times >= HOUR) & (times < 1.5 * HOUR))))
        counts["last"].append(int(np.sum(times >= 1.5 * HOUR)))
        gaps.extend(np.diff(times[times >= 1.5 * HOUR]).tolist())
    assert counts["gap"] == [0] * 40
    # Poisson: mean 1200 and 1800 per replication; the mean of 40 within 4.5 sd.
    assert abs(np.mean(counts["first"]) - 1200) < 4.5 * (1200 / 40) ** 0.5
    assert abs(np.mean(counts["last"]) - 1800) < 4.5 * (1800 / 40) ** 0.5
    assert np.var(counts["first"], ddof=1) == pytest.approx(1200, rel=0.6)
    # Within a period the gaps are exponential: mean 1 s and sd 1 s.
    assert np.mean(gaps) == pytest.approx(1.0, rel=0.02)
    assert np.std(gaps) == pytest.approx(1.0, rel=0.03)


def test_rate_arrivals_take_the_class_shares():
    config = hall(RATES, horizon="08:00")
    arrivals = generate_arrivals(config, np.random.default_rng(7), Path())
    assert np.all(arrivals.flights == -1)
    assert binomially_close(int(np.sum(arrivals.uses_gate())), len(arrivals), 0.8)


def test_no_travellers_is_a_valid_day():
    config = hall({"rate": [{"from": "06:00", "per_hour": 0}]}, horizon="07:00")
    arrivals = generate_arrivals(config, np.random.default_rng(0), Path())
    assert len(arrivals) == 0 and arrivals.uses_gate().size == 0
