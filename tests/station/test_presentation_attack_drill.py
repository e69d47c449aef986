"""The shipped presentation-attack drill, cut to three passengers, through a mock gate.

The gate takes windows of 8 frames and checks liveness (the drill's
``matching.capture``): the traveller who looks down at the reader is told to
look at the camera and then accepted; the printed photo and the photo on a
tablet are referred PRESENTATION_ATTACK with an alarm.  One matching core
worker (a thread) serves the three.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from egate.biometrics.matching import MatchingCore
from egate.samples import SampleError, fetch_samples
from station.training.replay import Replay
from station.training.scenario import load_scenario
from station.training.transcript import ReplayRun, Step

DRILL = Path(__file__).resolve().parents[2] / "configs" / "scenarios" / "presentation-attacks.yaml"
CUT = ("L03", "L04", "L05")  # the camera finder, the print, the tablet


@pytest.fixture(scope="module")
def run() -> ReplayRun:
    try:
        fetch_samples()
    except SampleError as error:
        pytest.skip(f"sample faces unavailable (no network or registry?): {error}")
    drill = load_scenario(DRILL)
    cut = drill.model_copy(update={"passengers": tuple(p for p in drill.passengers if p.id in CUT)})
    matching = cut.matching
    assert matching.capture.liveness == "passive" and matching.capture.frames == 8
    registry = CollectorRegistry()
    with MatchingCore(
        matching.verifier, workers=1, kind="thread", registry=registry, capture=matching.capture
    ) as core:
        core.wait_ready(timeout=120)
        return Replay(cut, DRILL.name, core=core, core_registry=registry, fast=True).run()


def lines_of(run: ReplayRun, passenger: str) -> list[tuple[str, str]]:
    return [(line.step, line.text) for line in run.lines if line.passenger == passenger]


def test_every_outcome_is_as_the_drill_expects(run: ReplayRun) -> None:
    wrong = [(r.id, r.outcome, r.reasons) for r in run.results if not r.matched]
    assert wrong == []


def test_the_camera_finder_is_guided_then_accepted(run: ReplayRun) -> None:
    finder = next(r for r in run.results if r.id == "L03")
    assert (finder.outcome, finder.guidance) == ("accepted", ["LOOK_AT_CAMERA"])
    assert finder.capture_attempts >= 2
    lines = lines_of(run, "L03")
    guided = lines.index((Step.SIGNAL, "indicator: Look at the camera [LOOK_AT_CAMERA]"))
    matched = next(i for i, (step, text) in enumerate(lines) if text.startswith("match,"))
    assert guided < matched


@pytest.mark.parametrize("attacker", ["L04", "L05"])
def test_the_attacks_are_referred_with_an_alarm(run: ReplayRun, attacker: str) -> None:
    result = next(r for r in run.results if r.id == attacker)
    assert (result.outcome, result.reasons) == ("referred", ("PRESENTATION_ATTACK",))
    lines = lines_of(run, attacker)
    assert (Step.VERIFY, "presentation attack (PRESENTATION_ATTACK)") in lines
    assert (Step.ALARM, "ALARM PRESENTATION_ATTACK") in lines
    assert not any(text.startswith("match,") for _, text in lines)
