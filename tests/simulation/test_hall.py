"""The hall model: who goes where, what the gate controller decides, schedules and failures."""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import simpy

from egate.gate.settings import State
from simulation.config import HallConfig, load_hall
from simulation.hall import Hall, simulate
from simulation.records import HallRecords
from simulation.statistics import summarise_run

SEED = np.random.SeedSequence(20181112)
AIRPORTS = Path(__file__).resolve().parents[2] / "configs" / "airports"


def exponential(mean: float) -> dict[str, Any]:
    return {"kind": "exponential", "mean": mean}


def fixed(value: float) -> dict[str, Any]:
    return {"kind": "deterministic", "value": value}


BASE: dict[str, Any] = {
    "name": "hall",
    "start": "06:00",
    "horizon": "09:00",
    "arrivals": {"rate": [{"from": "06:00", "per_hour": 1500}], "egate_share": 0.7},
    "gates": {
        "count": 6,
        "steps": {
            "document": {"kind": "lognormal", "mean": 5, "sd": 2},
            "entry": {"kind": "uniform", "low": 1, "high": 2},
            "capture": {"kind": "gamma", "mean": 2, "sd": 1},
            "verify": fixed(0.5),
            "exit": {"kind": "uniform", "low": 1, "high": 2},
        },
        "outcomes": {
            "failure_to_acquire": 0.1,
            "biometric_mismatch": 0.02,
            "document_rejection": 0.01,
            "document_referral": 0.02,
            "tailgating": 0.01,
        },
        "retreat": fixed(10),
        "referral_walk": fixed(20),
    },
    "desks": {"count": 5, "service": exponential(40), "referral_service": exponential(90)},
}


def hall(**changes: Any) -> HallConfig:
    """BASE with dotted-path changes, e.g. ``hall(**{"gates.count": 3})``."""
    data = copy.deepcopy(BASE)
    for dotted, value in changes.items():
        *parents, last = dotted.split(".")
        node = data
        for key in parents:
            node = node.setdefault(key, {})
        if value is None:
            node.pop(last, None)
        else:
            node[last] = value
    return HallConfig.model_validate(data)


def run(config: HallConfig, seed: np.random.SeedSequence = SEED) -> HallRecords:
    return simulate(config, Path(), seed)


def finite(values: np.ndarray) -> np.ndarray:
    return values[~np.isnan(values)]


def one_at_a_time(starts: np.ndarray, ends: np.ndarray, servers: np.ndarray) -> bool:
    """No server starts a traveller before it has finished the one before."""
    for server in np.unique(servers[servers >= 0]):
        mine = servers == server
        order = np.argsort(starts[mine], kind="stable")
        begin, end = starts[mine][order], ends[mine][order]
        if np.any(begin[1:] < end[:-1]):
            return False
    return True


def test_everyone_is_served_exactly_once_and_in_order():
    records = run(hall())
    uses_gate = records.arrivals.uses_gate()
    referred = records.referred
    at_desk = ~np.isnan(records.desk_join)

    assert len(records.arrivals) > 3000
    assert not np.isnan(records.left).any()
    assert np.array_equal(~np.isnan(records.gate_start), uses_gate)
    assert np.array_equal(at_desk, ~uses_gate | referred)
    assert referred.sum() > 50 and not referred[~uses_gate].any()
    # Accepted at a gate: leave from the gate. Everyone else leaves from a desk.
    accepted = uses_gate & ~referred
    assert np.array_equal(records.left[accepted], records.gate_end[accepted])
    assert np.array_equal(records.left[at_desk], records.desk_end[at_desk])
    # Referrals walk 20 s from the gate to the desk queue.
    assert np.allclose(records.desk_join[referred] - records.gate_end[referred], 20)
    assert np.all(records.gate_start[uses_gate] >= records.arrived[uses_gate])
    assert np.all(records.gate_end[uses_gate] >= records.gate_start[uses_gate])
    assert np.all(records.desk_start[at_desk] >= records.desk_join[at_desk])
    assert np.all(records.desk_end[at_desk] >= records.desk_start[at_desk])
    assert one_at_a_time(records.gate_start, records.gate_end, records.gate_of)
    assert one_at_a_time(records.desk_start, records.desk_end, records.desk_of)
    # One shared queue: gate users start in the order they arrived.
    assert np.all(np.diff(records.gate_start[uses_gate]) >= 0)


def test_outcomes_follow_the_configured_rates():
    rates = {
        "failure_to_acquire": 0.3,
        "biometric_mismatch": 0.05,
        "false_match": 0.2,
        "impostor_share": 0.05,
        "document_rejection": 0.02,
        "document_referral": 0.03,
        "chip_unreadable": 0.01,
        "tailgating": 0.02,
    }
    config = hall(
        **{
            "arrivals.egate_share": 1.0,
            "arrivals.rate": [{"from": "06:00", "per_hour": 6000}],
            "gates.count": 30,
            "gates.capture_attempts": 2,
            "gates.outcomes": rates,
        }
    )
    result = summarise_run(run(config))
    users = result.gate_transactions
    assert users == result.arrivals > 15_000

    document_ok = 1 - 0.02 - 0.03 - 0.01
    inside = document_ok * (1 - 0.02)
    captured = inside * (1 - 0.3**2)
    expected = {
        "DOCUMENT_REJECTED": 0.02,
        "DOCUMENT_REFERRED": 0.03,
        "CHIP_UNREADABLE": 0.01,
        "TAILGATING": document_ok * 0.02,
        "FACE_NOT_FOUND": inside * 0.3**2,
        "BIOMETRIC_MISMATCH": captured * (0.95 * 0.05 + 0.05 * 0.8),
    }
    for reason, share in expected.items():
        count = result.referral_reasons.get(reason, 0)
        assert abs(count - users * share) <= 4.5 * math.sqrt(users * share * (1 - share)), reason
    assert set(result.referral_reasons) == set(expected)
    assert result.outcomes["rejected"] == result.referral_reasons["DOCUMENT_REJECTED"]
    assert (
        result.outcomes["accepted"] + result.outcomes["referred"] + result.outcomes["rejected"]
        == users
    )
    assert result.referrals == users - result.outcomes["accepted"]
    false_accepts = captured * 0.05 * 0.2
    assert abs(result.false_accepts - users * false_accepts) <= 4.5 * math.sqrt(
        users * false_accepts
    )


def test_each_step_takes_its_time_and_retries_repeat_the_capture():
    steps = {"document": fixed(4), "entry": fixed(2), "capture": fixed(3), "exit": fixed(1)}
    config = hall(
        **{
            "arrivals.egate_share": 1.0,
            "gates.count": 40,
            "gates.steps": steps,
            "gates.capture_attempts": 3,
            "gates.outcomes": {
                "failure_to_acquire": 0.5,
                "document_rejection": 0.05,
                "tailgating": 0.05,
            },
        }
    )
    records = run(config)
    spent = records.gate_end - records.gate_start
    decisions = [records.decisions[code] for code in records.decision_of.tolist()]
    seen = set()
    for duration, decision in zip(spent.tolist(), decisions, strict=True):
        reason = decision.reasons[0] if decision.reasons else decision.outcome
        seen.add(reason)
        if reason == "DOCUMENT_REJECTED":
            assert duration == pytest.approx(4)  # never entered: nobody to back out
        elif reason == "TAILGATING":
            assert duration == pytest.approx(4 + 2 + 10)  # the gate waits for both to back out
        elif reason == "FACE_NOT_FOUND":
            assert duration == pytest.approx(4 + 2 + 3 * 3 + 10)
        else:
            assert decision.outcome == "accepted"
            assert round(duration, 6) in (4 + 2 + 3 + 1, 4 + 2 + 6 + 1, 4 + 2 + 9 + 1)
    assert seen == {"DOCUMENT_REJECTED", "TAILGATING", "FACE_NOT_FOUND", "accepted"}


def test_referrals_go_ahead_at_the_desks_when_configured():
    config = hall(**{"desks.count": 3, "desks.referral_priority": True})
    records = run(config)
    referred = np.flatnonzero(records.referred)
    others = np.flatnonzero(~records.arrivals.uses_gate())
    starts = records.desk_start[others]
    assert len(referred) > 50
    for traveller in referred:
        joined, started = records.desk_join[traveller], records.desk_start[traveller]
        # Nobody from the ordinary desk queue was called while this referral waited.
        assert not np.any((starts > joined) & (starts < started))
    plain = run(hall(**{"desks.count": 3}))
    wait = summarise_run(records).desk_waits.mean_s
    assert np.nanmean(records.desk_start[referred] - records.desk_join[referred]) < 0.2 * wait
    assert np.nanmean(plain.desk_start[plain.referred] - plain.desk_join[plain.referred]) > (
        0.5 * summarise_run(plain).desk_waits.mean_s
    )


ROSTER = [
    {"from": "06:00", "to": "07:00", "desks": 4},
    {"from": "07:00", "to": "07:30", "desks": 1},
    {"from": "07:45", "desks": 6},
]


def on_duty(desk: int, at: float) -> bool:
    """Whether desk ``desk`` is rostered at model time ``at`` (seconds since 06:00)."""
    if at < 3600:
        return desk < 4
    if at < 5400:
        return desk < 1
    if at < 6300:
        return False
    return desk < 6


def test_desks_serve_only_on_duty_and_finish_the_traveller_in_hand():
    config = hall(**{"desks.count": None, "desks.roster": ROSTER})
    records = run(config)
    served = np.flatnonzero(~np.isnan(records.desk_start))
    assert records.desk_of[served].max() == 5
    for traveller in served:
        assert on_duty(int(records.desk_of[traveller]), records.desk_start[traveller])
    # Someone was still being served when a shift ended, and finished.
    overrun = [
        traveller
        for traveller in served
        if not on_duty(int(records.desk_of[traveller]), records.desk_end[traveller])
    ]
    assert overrun
    result = summarise_run(records)
    by_clock = {row.clock: row for row in result.intervals}
    assert by_clock["06:00"].desks_on_duty_mean == pytest.approx(4)
    assert by_clock["07:30"].desks_on_duty_mean < 0.2  # only overruns; nobody rostered
    assert by_clock["08:00"].desks_on_duty_mean == pytest.approx(6)


BANKS = [
    {"from": "06:00", "to": "07:00", "open": 2},
    {"from": "07:00", "to": "08:00", "open": 6},
    {"from": "08:00", "open": 3},
]


def test_gates_open_and_close_with_their_banks():
    config = hall(**{"gates.banks": BANKS})
    model = Hall(config, Path(), SEED)
    records = model.run()
    started = np.flatnonzero(~np.isnan(records.gate_start))
    for traveller in started:
        at, gate = records.gate_start[traveller], records.gate_of[traveller]
        open_gates = 2 if at < 3600 else 6 if at < 7200 else 3
        assert gate < open_gates
    result = summarise_run(records)
    by_clock = {row.clock: row for row in result.intervals}
    assert by_clock["06:15"].gates_open_mean == pytest.approx(2)
    assert by_clock["07:15"].gates_open_mean == pytest.approx(6)
    assert by_clock["08:15"].gates_open_mean == pytest.approx(3)
    # The controllers of the gates closed by the last bank were told so.
    states = [server.controller.state for server in model.gates.servers]  # type: ignore[union-attr]
    assert states[:3] == [State.IDLE] * 3 and states[3:] == [State.CLOSED] * 3


def test_gate_failures_take_capacity_away():
    busy = {
        "arrivals.rate": [{"from": "06:00", "per_hour": 2400}],
        "arrivals.egate_share": 1.0,
        "gates.outcomes": {},
    }
    config = hall(**busy)
    failing = hall(**busy, **{"gates.failures": {"mtbf_h": 1.0, "mttr_min": 30}})
    healthy, broken = run(config), run(failing)
    assert healthy.gate_availability == ((0.0, 1),) * 6
    downs = [change for change in broken.gate_availability if change[1] < 0]
    assert len(downs) > 5
    available = sum(broken.gate_available_s) / (6 * broken.end)
    assert 0.45 < available < 0.85  # up 1 h, down 0.5 h: two thirds
    assert summarise_run(broken).waits.mean_s > 2 * summarise_run(healthy).waits.mean_s
    assert one_at_a_time(broken.gate_start, broken.gate_end, broken.gate_of)


def test_a_central_matching_core_is_shared_by_the_gates():
    steps = dict(BASE["gates"]["steps"])
    del steps["verify"]
    config = hall(
        **{
            "gates.steps": steps,
            "matching": {"workers": 1, "service": fixed(2.5)},
        }
    )
    records = run(config)
    result = summarise_run(records)
    verifications = sum(
        1
        for code in records.decision_of[records.decision_of >= 0].tolist()
        if records.decisions[code].outcome == "accepted"
        or "BIOMETRIC_MISMATCH" in records.decisions[code].reasons
    )
    assert records.core_requests == verifications
    assert records.core_busy_s == pytest.approx(2.5 * verifications)
    assert 0.3 < result.utilisation.matching < 1
    assert result.core_waits.mean_s > 0.1  # one worker for six gates: some queuing


def test_per_gate_lines_serve_everyone():
    records = run(hall(**{"gates.queue": "per_gate"}))
    result = summarise_run(records)
    assert result.unfinished == 0
    assert result.little["gate_queue"].relative_error < 1e-9
    assert one_at_a_time(records.gate_start, records.gate_end, records.gate_of)


def test_a_hall_that_cannot_cope_stops_at_the_drain_limit():
    config = hall(
        **{
            "arrivals.rate": [{"from": "06:00", "per_hour": 3000}],
            "gates.count": 1,
            "drain_limit_h": 0.5,
        }
    )
    records = run(config)
    result = summarise_run(records)
    assert records.end == pytest.approx(3.5 * 3600)
    assert result.unfinished > 1000
    assert result.waits.max_s > 3 * 3600 * 0.5
    assert result.service_level.met is False


def test_a_day_without_travellers():
    config = hall(**{"arrivals.rate": [{"from": "06:00", "per_hour": 0}]})
    result = summarise_run(run(config))
    assert result.arrivals == 0 and result.departures == 0
    assert result.duration_s == 3 * 3600
    assert math.isnan(result.waits.mean_s)
    assert result.service_level.met is True
    assert result.utilisation.gates == 0


@pytest.mark.parametrize(
    ("name", "most"),
    [("mmc-validation", 1.4), ("pudong-day", 2.6)],
)
def test_a_traveller_costs_few_simpy_events(name, most, monkeypatch):
    """The cost of a run is its events: a service's end, the core's turn, a walk
    to the desks, an arrival who may find a server idle; queueing, handing over
    and arriving to a busy hall cost none."""
    config = load_hall(AIRPORTS / f"{name}.yaml")
    if config.horizon is not None and config.horizon - config.start > 6 * 3600:
        config = config.model_copy(update={"horizon": config.start + 6 * 3600.0})
    events = 0
    step = simpy.Environment.step

    def counting(env: simpy.Environment) -> None:
        nonlocal events
        events += 1
        step(env)

    monkeypatch.setattr(simpy.Environment, "step", counting)
    records = simulate(config, AIRPORTS, SEED)
    travellers = records.arrived.size
    assert travellers > 1000 and np.isfinite(records.left).all()
    assert events <= most * travellers + 20
