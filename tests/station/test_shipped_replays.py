"""Every shipped training drill replays with every outcome as its file expects.

The default morning wave runs in ``egate demo``'s test (tests/cli/test_cli.py);
the drills run here in one process, through one matching core.  The
presentation-attack drill needs a core with its capture window and liveness
check: it runs in tests/station/test_presentation_attack_drill.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from egate.biometrics.matching import MatchingCore
from egate.samples import SampleError, fetch_samples
from station.training.replay import Replay
from station.training.scenario import load_scenario

SCENARIOS = Path(__file__).resolve().parents[2] / "configs" / "scenarios"
# Replayed elsewhere: the morning wave by egate demo, the attacks with their own core.
ELSEWHERE = {"pudong-morning.yaml", "presentation-attacks.yaml"}
DRILLS = sorted(path.name for path in SCENARIOS.glob("*.yaml") if path.name not in ELSEWHERE)


@pytest.fixture(scope="module")
def core() -> Iterator[tuple[MatchingCore, CollectorRegistry]]:
    try:
        fetch_samples()
    except SampleError as error:
        pytest.skip(f"sample faces unavailable (no network or registry?): {error}")
    registry = CollectorRegistry()
    with MatchingCore(workers=2, registry=registry) as started:
        started.wait_ready(timeout=120)
        yield started, registry


def test_the_drills_are_shipped() -> None:
    assert DRILLS == [
        "document-fraud.yaml",
        "fraud-workshop.yaml",
        "impostor-drill.yaml",
        "tailgating-and-faults.yaml",
    ]


@pytest.mark.parametrize("name", DRILLS)
def test_a_shipped_drill_replays_as_expected(
    core: tuple[MatchingCore, CollectorRegistry], name: str
) -> None:
    scenario = load_scenario(SCENARIOS / name)
    matching, registry = core
    run = Replay(scenario, name, core=matching, core_registry=registry, fast=True).run()
    wrong = [
        (r.id, r.expected.outcome.value, r.expected.reasons, r.outcome, r.reasons)
        for r in run.results
        if not r.matched
    ]
    assert wrong == []
    assert len(run.results) == len(scenario.passengers)
