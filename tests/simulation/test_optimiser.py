"""The staffing optimiser on a small hall: its roster meets every interval, and none is spare.

Every run is in this process with three replications; the hall serves a few
hundred travellers in three hours, so an evaluation takes a blink.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import yaml

from simulation.config import HallConfig, load_hall
from simulation.hall import simulate
from simulation.optimiser import OptimiserResult, OptimiserSettings, optimise, with_roster
from simulation.replications import replication_seeds
from simulation.rosterreport import (
    optimise_json,
    roster_periods,
    roster_yaml,
    shifts_csv,
    slots_csv,
    statements,
)
from simulation.shifts import ShiftRules, coverage
from simulation.summary import Estimate

SMALL = """\
name: small hall
start: "06:00"
horizon: "09:00"
arrivals:
  rate:
    - {from: "06:00", per_hour: 300}
    - {from: "07:00", per_hour: 900}
    - {from: "08:00", per_hour: 300}
  classes:
    - {name: residents, share: 0.7, channel: gate}
    - {name: visitors, share: 0.3, channel: desk}
gates:
  count: 6
  steps:
    document: {kind: exponential, mean: 12}
  outcomes: {biometric_mismatch: 0.02}
desks:
  count: 5
  service: {kind: exponential, mean: 60}
service_level: {max_wait_min: 5, share: 0.95}
replications: 3
seed: 5
"""

RULES = ShiftRules(length_min=120, break_min=0, step_min=30, min_staff=1)
SETTINGS = OptimiserSettings(rules=RULES, replications=3, budget=40)


@pytest.fixture(scope="module")
def hall(tmp_path_factory: pytest.TempPathFactory) -> tuple[HallConfig, Path]:
    path = tmp_path_factory.mktemp("hall") / "hall.yaml"
    path.write_text(SMALL, encoding="utf-8")
    return load_hall(path), path


@pytest.fixture(scope="module")
def found(hall: tuple[HallConfig, Path]) -> OptimiserResult:
    config, path = hall
    return optimise(config, path.parent, SETTINGS)


def slot_shares(config: HallConfig, slot_s: float, slots: int) -> list[Estimate]:
    """Each arrival slot's share within the target, recomputed from the raw records."""
    per_run = []
    for seed in replication_seeds(config.seed, 3):
        records = simulate(config, Path(), seed)
        end = records.end
        gate = np.where(
            records.arrivals.uses_gate(),
            np.where(np.isnan(records.gate_start), end, records.gate_start) - records.arrived,
            0.0,
        )
        desk = np.where(
            np.isnan(records.desk_join),
            0.0,
            np.where(np.isnan(records.desk_start), end, records.desk_start) - records.desk_join,
        )
        within = gate + desk <= config.service_level.max_wait_min * 60
        slot = np.minimum(records.arrived // slot_s, slots - 1).astype(int)
        shares = []
        for index in range(slots):
            mine = slot == index
            shares.append(float(within[mine].mean()) if mine.any() else math.nan)
        per_run.append(shares)
    return [Estimate.of([run[index] for run in per_run], 0.0, 1.0) for index in range(slots)]


def meets_every_slot(config: HallConfig, slots: int) -> bool:
    target = config.service_level.share
    return all(
        not estimate.replications or estimate.low >= target - 1e-12
        for estimate in slot_shares(config, RULES.step_min * 60.0, slots)
    )


def test_the_roster_found_meets_every_interval_when_simulated_again(found: OptimiserResult):
    assert found.met
    assert found.impossible == ()
    assert meets_every_slot(found.config, len(found.desks))
    # The file's five desks all morning miss the peak: the search had to add some.
    assert not all(slot.met for slot in found.baseline.slots)
    assert max(found.desks) > 5


def test_the_roster_is_the_shifts_and_respects_the_settings(found: OptimiserResult):
    assert list(found.desks) == coverage(found.shifts, len(found.desks), RULES)
    assert all(RULES.min_staff <= desks <= found.max_desks for desks in found.desks)
    # Trimming may go below the requirement step 1 found, never below the minimum staff.
    assert len(found.requirement) == len(found.desks)
    # The configuration simulated is the roster, period by period.
    assert found.config.desks is not None and found.config.desks.roster is not None
    rebuilt = with_roster(found.config, found.start_s, found.slot_s, found.desks)
    assert rebuilt.desks == found.config.desks
    assert found.officer_hours == len(found.shifts) * 2


def test_taking_out_any_one_shift_makes_an_interval_miss(found: OptimiserResult):
    assert found.trimmed
    for shift in sorted(set(found.shifts)):
        fewer = list(found.shifts)
        fewer.remove(shift)
        desks = coverage(fewer, len(found.desks), RULES)
        if min(desks) < RULES.min_staff:
            continue  # the minimum staff keeps it
        config = with_roster(found.config, found.start_s, found.slot_s, desks)
        assert not meets_every_slot(config, len(desks)), f"{shift} was spare"


def test_the_roster_block_pastes_back_into_the_hall_file(found: OptimiserResult, tmp_path: Path):
    data = yaml.safe_load(SMALL)
    block = yaml.safe_load(roster_yaml(found))
    data["desks"] = {**data["desks"], **block["desks"]}
    del data["desks"]["count"]
    pasted = tmp_path / "pasted.yaml"
    pasted.write_text(yaml.safe_dump(data), encoding="utf-8")
    assert load_hall(pasted).desks == found.config.desks
    assert roster_periods(found)[0][0] == "06:00"


def test_it_says_what_it_proved_and_where_it_stopped(found: OptimiserResult):
    said = statements(found, proofs=None)
    assert any("meets every interval with 95% confidence" in line for line in said)
    proofs = [line for line in said if " needs ≥ " in line]
    assert proofs and len(proofs) == len(found.proofs)
    assert all(
        "misses with 95% confidence" in line or "not shown to meet" in line for line in proofs
    )
    assert any("every shift was tried for removal" in line for line in said)
    assert said[-1].startswith(f"stopped after {found.evaluations} of 40 evaluations")
    # Each proof holds the roster's own level: one desk fewer was seen to miss.
    for proof in found.proofs:
        assert found.desks[proof.slot] == proof.needs
        assert proof.share.low < found.config.service_level.share


def test_the_files_of_out(found: OptimiserResult):
    rows = slots_csv(found).decode().splitlines()
    assert rows[0].startswith("from,to,requirement,desks,file_desks,arrivals,share")
    assert len(rows) == len(found.desks) + 1
    assert len(shifts_csv(found).decode().splitlines()) == len(found.shifts) + 1
    data = optimise_json(found)
    assert data["format"] == "egate-optimise/1"
    assert data["met"] is True
    assert data["officer_hours"] == found.officer_hours
    assert sum(1 for _ in data["intervals"]) == len(found.desks)


def test_a_small_budget_stops_and_says_so(hall: tuple[HallConfig, Path]):
    config, path = hall
    result = optimise(config, path.parent, OptimiserSettings(rules=RULES, replications=3, budget=3))
    assert result.evaluations <= 3
    assert not result.trimmed
    assert "(the budget)" in statements(result)[-1]


def test_an_interval_the_desks_cannot_save_is_named(hall: tuple[HallConfig, Path]):
    # One slow gate: the gate queue alone breaks the target, whatever the desks.
    config, path = hall
    gates = config.gates.model_copy(update={"count": 1})
    slow = config.model_copy(update={"gates": gates})
    settings = OptimiserSettings(rules=RULES, replications=3, budget=12, max_desks=4)
    result = optimise(slow, path.parent, settings)
    assert not result.met
    assert result.impossible
    assert any("even with 4 desks, the most allowed" in line for line in statements(result))


def test_settings_are_checked():
    with pytest.raises(ValueError, match="replications: at least 2"):
        OptimiserSettings(replications=1)
    with pytest.raises(ValueError, match="at least 2"):
        OptimiserSettings(budget=1)
    with pytest.raises(ValueError, match="max desks"):
        OptimiserSettings(rules=ShiftRules(min_staff=3), max_desks=2)
