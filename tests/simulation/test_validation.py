"""Validation: the model against queueing theory, Little's law and its own reproducibility.

How many customers the statistical checks need. The mean wait of one run
of N customers scatters around the true Wq with a relative standard
deviation of about k / sqrt(N): waits in a busy queue are strongly
correlated, so k is large. Measured with an independent FCFS recursion (40
runs of 200,000 customers, confirmed on this model), k is about 17 for M/M/4
at rho = 0.85 and about 5.2 for M/D/1 at rho = 0.75. For the estimate over
all runs to stay within 2% with 3.5 standard deviations to spare (the
distribution of a mean wait has a long right tail), k / sqrt(N) <= 0.02 / 3.5,
so N >= (3.5 k / 0.02)^2: about 8.7 million customers for M/M/4 and 830,000
for M/D/1. The seeds are fixed, so the tests are deterministic; the margin
says they would pass for almost any seed.
"""

from __future__ import annotations

import heapq
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from simulation.config import HallConfig
from simulation.hall import _STEP0, child_seed, simulate
from simulation.queueing import md1_mean_wait, mmc_mean_wait
from simulation.replications import replication_seeds, run_replication, run_replications
from simulation.statistics import summarise_run


def rate_hall(
    name: str, per_hour: float, hours: float, gates: int, service: dict[str, Any], **more: Any
) -> HallConfig:
    """A hall with Poisson arrivals at ``per_hour`` for ``hours`` and one timed gate step."""
    data = {
        "name": name,
        "start": "00:00",
        "horizon": "01:00",
        "arrivals": {"rate": [{"from": "00:00", "per_hour": per_hour}]},
        "gates": {"count": gates, "steps": {"document": service}},
        **more,
    }
    config = HallConfig.model_validate(data)
    return config.model_copy(update={"horizon": hours * 3600.0})


def mmc(hours: float, **more: Any) -> HallConfig:
    # Shanghai's e-channels: about 10 s per passenger. Four gates at rho = 0.85.
    return rate_hall("M/M/4", 0.34 * 3600, hours, 4, {"kind": "exponential", "mean": 10}, **more)


def md1(hours: float) -> HallConfig:
    return rate_hall("M/D/1", 0.075 * 3600, hours, 1, {"kind": "deterministic", "value": 10})


def test_the_gates_are_an_exact_first_come_first_served_queue():
    """Same arrivals and service times through a c-server FCFS recursion: the same waits."""
    seed = np.random.SeedSequence(4)
    records = simulate(mmc(20), Path(), seed)
    arrived = records.arrived.tolist()
    # The document step's stream: the k-th traveller served takes its k-th duration.
    services = np.random.default_rng(child_seed(seed, _STEP0)).exponential(10, len(arrived))
    free = [0.0] * 4
    starts = []
    for at, service in zip(arrived, services.tolist(), strict=True):
        earliest = heapq.heappop(free)
        start = max(at, earliest)
        starts.append(start)
        heapq.heappush(free, start + service)
    assert len(arrived) > 20_000
    assert np.array_equal(records.gate_start, np.array(starts))


@pytest.mark.slow
def test_m_m_c_matches_erlang_c():
    theory = mmc_mean_wait(4, 0.34, 0.1)
    # 16 runs of 445 h: 16 x 0.34/s x 1.602e6 s = 8.7 million customers.
    summary = run_replications(mmc(445), replications=16, seed=2018)
    estimate = summary["waits.mean_s"]
    assert estimate.mean == pytest.approx(theory, rel=0.02)
    assert summary["utilisation.gates"].mean == pytest.approx(0.85, rel=0.01)
    assert summary["queue.gate_mean"].mean == pytest.approx(0.34 * theory, rel=0.02)


@pytest.mark.slow
def test_m_d_1_matches_pollaczek_khinchine():
    theory = md1_mean_wait(0.075, 10)
    # 8 runs of 390 h: 8 x 0.075/s x 1.404e6 s = 840,000 customers.
    summary = run_replications(md1(390), replications=8, seed=2018)
    assert summary["waits.mean_s"].mean == pytest.approx(theory, rel=0.02)


DAY = {
    "name": "a Pudong-style morning",
    "start": "06:00",
    "arrivals": {
        "deplane": {"kind": "uniform", "low": 0, "high": 900},
        "walk": {"kind": "triangular", "low": 180, "mode": 300, "high": 600},
        "flights": [
            {
                "flight": f"MU{number}",
                "on_block": f"{6 + number // 4:02d}:{number % 4 * 15:02d}",
                "passengers": 250 + 10 * number,
                "egate_share": 0.75,
            }
            for number in range(16)
        ],
    },
    "gates": {
        "count": 6,
        "steps": {
            "document": {"kind": "lognormal", "mean": 6, "sd": 3},
            "entry": {"kind": "uniform", "low": 1, "high": 3},
            "capture": {"kind": "gamma", "mean": 3, "sd": 1.5},
            "exit": {"kind": "uniform", "low": 1.5, "high": 3},
        },
        "outcomes": {
            "failure_to_acquire": 0.03,
            "biometric_mismatch": 0.01,
            "false_match": 0.001,
            "impostor_share": 0.001,
            "document_rejection": 0.002,
            "document_referral": 0.01,
            "chip_unreadable": 0.005,
            "tailgating": 0.002,
        },
        "retreat": {"kind": "uniform", "low": 5, "high": 15},
        "referral_walk": {"kind": "deterministic", "value": 30},
        "banks": [{"from": "06:00", "to": "07:00", "open": 4}, {"from": "07:00", "open": 6}],
        "failures": {"mtbf_h": 4, "mttr_min": 20},
    },
    "desks": {
        "roster": [{"from": "06:00", "to": "07:30", "desks": 5}, {"from": "07:30", "desks": 7}],
        "service": {"kind": "lognormal", "mean": 60, "sd": 25},
        "referral_service": {"kind": "lognormal", "mean": 120, "sd": 50},
        "referral_priority": True,
    },
    "matching": {"workers": 2, "service": {"kind": "lognormal", "mean": 0.8, "sd": 0.3}},
}


def configurations() -> dict[str, HallConfig]:
    day = HallConfig.model_validate(DAY)
    per_gate = HallConfig.model_validate(
        {**DAY, "gates": {**DAY["gates"], "queue": "per_gate", "topology": "one_step"}}
    )
    cut_short = HallConfig.model_validate({**DAY, "drain_limit_h": 0.01})
    return {
        "M/M/4": mmc(30),
        "M/D/1": md1(100),
        "flight day": day,
        "flight day, a line per gate": per_gate,
        "flight day, cut off": cut_short,
    }


@pytest.mark.parametrize("name", configurations())
def test_littles_law_holds_on_every_run(name: str):
    config = configurations()[name]
    for seed in replication_seeds(7, 3):
        result = run_replication(config, Path(), seed)
        assert result.arrivals > 1000
        for where, check in result.little.items():
            assert check.relative_error < 0.01, (name, where, check)
        assert result.little["gate_queue"].number_mean > 0.05, "the check needs a queue"
    if name == "flight day, cut off":
        assert result.unfinished > 0


def test_remembered_decisions_are_the_controllers_own():
    """Replaying remembered paths gives exactly what driving every controller gives."""
    config = HallConfig.model_validate(DAY)
    seed = np.random.SeedSequence(11)
    replayed = summarise_run(simulate(config, Path(), seed, replay_decisions=True))
    driven = summarise_run(simulate(config, Path(), seed, replay_decisions=False))
    assert len(replayed.referral_reasons) >= 5
    assert json.dumps(replayed.to_json()) == json.dumps(driven.to_json())


def test_the_same_seed_gives_the_same_results_bit_for_bit():
    config = HallConfig.model_validate(DAY)
    first = run_replication(config, Path(), 1)
    again = run_replication(config, Path(), 1)
    other = run_replication(config, Path(), 2)
    assert json.dumps(first.to_json()) == json.dumps(again.to_json())
    assert json.dumps(first.to_json()) != json.dumps(other.to_json())


@pytest.mark.slow
def test_the_number_of_processes_does_not_change_the_results():
    config = HallConfig.model_validate({**DAY, "replications": 3, "seed": 5})
    alone = run_replications(config, processes=1)
    pooled = run_replications(config, processes=2)
    assert json.dumps(alone.to_json(include_runs=True)) == json.dumps(
        pooled.to_json(include_runs=True)
    )
