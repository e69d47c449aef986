"""Capture guidance and presentation attacks as a trainer sees them: transcript, lane, scorecard."""

from __future__ import annotations

import io
from datetime import datetime, timedelta, timezone

import pytest
from rich.console import Console

from egate.biometrics.decision import Decision
from egate.biometrics.guidance import CaptureGuidance
from egate.gate import commands as c
from egate.gate import events as e
from station.training.facedecisions import NearThreshold
from station.training.live import LiveView
from station.training.lookat import look_at
from station.training.narration import describe
from station.training.scenario import Scenario
from station.training.scorecard import Scorecard
from station.training.terminal import render_scorecard
from station.training.transcript import PassengerResult, ReplayRun, Step

ACCEPTED = "accepted"
START = datetime(2026, 4, 2, 6, 40, tzinfo=timezone(timedelta(hours=2)))
DOC = {
    "issuing_state": "NLD",
    "surname": "TEST",
    "number": "NX0000001",
    "birth_date": "1980-01-01",
    "expiry_date": "2031-01-01",
}


@pytest.mark.parametrize("guidance", list(CaptureGuidance))
def test_guidance_is_an_indicator_line_with_its_instruction_and_code(
    guidance: CaptureGuidance,
) -> None:
    described = describe(c.GuideTraveller(guidance))
    assert described is not None
    step, text, detail = described
    assert step == Step.SIGNAL
    assert text == f"indicator: {guidance.text} [{guidance.value}]"
    assert detail == {"signal": "look", "guidance": guidance.value, "text": guidance.text}


def test_look_at_the_camera_reads_as_the_indicator_shows_it() -> None:
    described = describe(c.GuideTraveller(CaptureGuidance.LOOK_AT_CAMERA))
    assert described is not None
    assert described[1] == "indicator: Look at the camera [LOOK_AT_CAMERA]"


def test_a_presentation_attack_is_not_called_a_mismatch() -> None:
    described = describe(e.FaceVerified(Decision.NO_MATCH, "PRESENTATION_ATTACK"))
    assert described is not None
    assert described[1] == "presentation attack (PRESENTATION_ATTACK)"
    assert "supervisor" in look_at(("PRESENTATION_ATTACK",))


def live_view() -> LiveView:
    return LiveView(
        name="drill",
        source="drill.yaml",
        gates=("G1",),
        start=START,
        threshold=0.6,
        near_threshold=NearThreshold(),
        fault_devices=("camera",),
        catalogue=lambda: [],
        control_state=lambda: {"paused": False, "rate": 1.0, "rates": [1.0]},
    )


def lane(live: LiveView) -> dict[str, object]:
    return live.snapshot()["lanes"][0]  # type: ignore[index,no-any-return]


def test_the_lane_shows_guidance_until_the_indicator_changes() -> None:
    live = live_view()
    live.gate_item("G1", 1.0, "L03", c.ShowSignal(c.Signal.LOOK))
    assert lane(live)["guidance"] is None
    live.gate_item("G1", 2.0, "L03", c.GuideTraveller(CaptureGuidance.STEP_CLOSER))
    shown = lane(live)
    assert shown["indicator"] == "look"
    assert shown["guidance"] == {"code": "STEP_CLOSER", "text": CaptureGuidance.STEP_CLOSER.text}
    live.gate_item("G1", 3.0, "L03", c.ShowSignal(c.Signal.PASS))
    assert (lane(live)["indicator"], lane(live)["guidance"]) == ("pass", None)


def test_an_attack_decision_is_marked_on_the_console() -> None:
    live = live_view()
    live.gate_item("G1", 1.0, "L04", e.FaceVerified(Decision.NO_MATCH, "PRESENTATION_ATTACK"))
    live.gate_item("G1", 2.0, "L05", e.FaceVerified(Decision.NO_MATCH, None, 0.9))
    decisions = live.snapshot()["decisions"]
    assert [d["attack"] for d in decisions] == [True, False]  # type: ignore[index,union-attr]


def test_the_scorecard_counts_attacks_caught_and_guidance_given() -> None:
    scenario = Scenario.model_validate(
        {
            "name": "attacks",
            "start": START.isoformat(),
            "passengers": [
                {
                    "id": "L03",
                    "document": DOC,
                    "chip": "none",
                    "face": "none",
                    "expected": "accepted",
                },
                {
                    "id": "L04",
                    "kind": "presentation_attack",
                    "document": {**DOC, "number": "NX0000002"},
                    "chip": "none",
                    "face": "none",
                    "expected": {"outcome": "referred", "reason": "PRESENTATION_ATTACK"},
                },
            ],
        }
    )
    finder, attacker = (PassengerResult(p.id, p.kind, p.expected) for p in scenario.passengers)
    finder.outcome, finder.guidance = (
        "accepted",
        ["LOOK_AT_CAMERA", "STEP_CLOSER", "LOOK_AT_CAMERA"],
    )
    attacker.outcome, attacker.reasons = "referred", ("PRESENTATION_ATTACK",)
    run = ReplayRun(scenario, "drill.yaml", 1.0, True, results=[finder, attacker])
    card = Scorecard.of(run)
    assert card.count("presentation_attacks_caught").text == "1 of 1"
    assert card.guidance == {"LOOK_AT_CAMERA": 2, "STEP_CLOSER": 1}
    data = card.to_json()
    assert data["guidance"] == {"LOOK_AT_CAMERA": 2, "STEP_CLOSER": 1}
    assert data["passengers"][0]["guidance"] == finder.guidance  # type: ignore[index]
    assert "guidance LOOK_AT_CAMERA" in render_text(card)


def render_text(card: Scorecard) -> str:
    stream = io.StringIO()
    render_scorecard(card, Console(file=stream, width=120, color_system=None))
    return stream.getvalue()
