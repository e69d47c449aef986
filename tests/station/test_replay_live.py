"""A replay driven from a console: paused, stepped, faulted, sent a passenger, seen live."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import cv2
import numpy as np
import pytest
from prometheus_client import CollectorRegistry

from egate.biometrics.matching import MatchingCore
from egate.samples import SampleError, fetch_samples
from station.training.control import ReplayControl, StepUntil
from station.training.desk import DeskDecision, RefusalReason
from station.training.live import LiveView, live_view
from station.training.replay import Replay
from station.training.scenario import Scenario
from station.training.transcript import ReplayRun

# A safety net against a hung test, never a measure.
PATIENCE_S = 60.0


@pytest.fixture(scope="module")
def core() -> Iterator[MatchingCore]:
    try:
        fetch_samples()
    except SampleError as error:
        pytest.skip(f"sample faces unavailable (no network or registry?): {error}")
    with MatchingCore(workers=1, registry=CollectorRegistry()) as started:
        started.wait_ready(timeout=120)
        yield started


def traveller(pid: str, number: int, face: str, expected: object) -> dict[str, object]:
    return {
        "id": pid,
        "document": {
            "issuing_state": "CHN",
            "surname": "ZHOU",
            "given_names": "LAN",
            "number": f"EB{number:07d}",
            "birth_date": "1988-05-06",
            "sex": "F",
            "expiry_date": "2032-01-31",
        },
        "chip": "samples:obama",
        "face": face,
        "expected": expected,
    }


def drill() -> Scenario:
    return Scenario.model_validate(
        {
            "name": "console drill",
            "start": "2026-03-14T07:30:00+08:00",
            "gates": {"count": 2, "door_travel_s": 1.0},
            "passengers": [
                {**traveller("P1", 1, "samples:obama2", "accepted"), "gate": "G1"},
                {
                    **traveller(
                        "P2",
                        2,
                        "samples:biden",
                        {"outcome": "referred", "reason": "BIOMETRIC_MISMATCH"},
                    ),
                    "kind": "impostor",
                    "gate": "G1",
                    "arrives": 5,
                },
            ],
        }
    )


def wait_for(what: str, done: Callable[[], bool]) -> None:
    give_up = time.monotonic() + PATIENCE_S
    while not done():
        if time.monotonic() > give_up:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.02)


class Console:
    """A replay in a thread with its control and live view, as the web console runs it."""

    def __init__(self, core: MatchingCore) -> None:
        scenario = drill()
        self.control = ReplayControl(scenario)
        self.live: LiveView = live_view(scenario, "test", self.control)
        self.replay = Replay(
            scenario, "test", core=core, fast=True, control=self.control, live=self.live
        )
        self.run: ReplayRun | None = None
        self.snapshots: list[dict[str, object]] = []
        self._thread = threading.Thread(target=self._go, daemon=True)

    def _go(self) -> None:
        self.run = self.replay.run()

    def start(self) -> None:
        self._thread.start()

    def join(self) -> ReplayRun:
        self._thread.join(PATIENCE_S * 2)
        assert self.run is not None, "the replay did not end"
        return self.run

    def lines(self) -> list[dict[str, object]]:
        return self.live.lines_since(0)

    def texts(self) -> list[str]:
        return [str(line["text"]) for line in self.lines()]


@pytest.fixture(scope="module")
def console(core: MatchingCore) -> Iterator[Console]:
    started = Console(core)
    started.start()
    yield started
    started.control.stop()
    started.join()


def test_instructor_fault_and_passenger(console: Console) -> None:
    # At once: the wave takes a second or two at --fast; a fault keeps the replay going.
    console.control.inject_fault("G2", "board", 200)
    new_id = console.control.add_passenger("P1")
    assert new_id == "P1+1"

    def g2_degraded() -> bool:
        lanes = console.live.snapshot()["lanes"]
        return any(lane["gate"] == "G2" and lane["degraded"] for lane in lanes)  # type: ignore[attr-defined]

    wait_for("G2 to degrade", g2_degraded)
    assert "instructor fault: door board switched off for 200 s" in console.texts()
    active = console.live.snapshot()["faults"]["active"]  # type: ignore[index]
    assert [(f["gate"], f["device"]) for f in active] == [("G2", "board")]
    lane = next(lane for lane in console.live.snapshot()["lanes"] if lane["gate"] == "G2")  # type: ignore[attr-defined]
    assert lane["devices"]["doors"] is False
    assert set(lane["doors"]) == {"entry", "exit"}


def test_a_paused_replay_stands_still(console: Console) -> None:
    wait_for("the first passenger", lambda: len(console.lines()) >= 3)
    console.control.pause()
    time.sleep(0.1)  # let the loop reach its hold
    before = (console.live.snapshot()["clock"], len(console.lines()))
    time.sleep(0.5)
    after = (console.live.snapshot()["clock"], len(console.lines()))
    assert before == after
    assert after[0]["paused"] is True  # type: ignore[index]


def test_a_step_stops_at_the_next_decision(console: Console) -> None:
    console.control.pause()
    seen = len(console.lines())
    assert console.control.add_passenger("P2") == "P2+1"
    console.control.step(StepUntil.DECISION)
    wait_for("the step to end", lambda: console.control.paused)
    time.sleep(0.2)
    new = console.lines()[seen:]
    decisions = [i for i, line in enumerate(new) if line["step"] in ("document", "verify")]
    assert decisions, [line["text"] for line in new]
    first = new[decisions[0]]
    assert (first["passenger"], first["step"]) == ("P2+1", "document")
    # It stopped there: whatever the same round wrote carries the same time.
    assert all(line["at_s"] == first["at_s"] for line in new[decisions[0] :])
    console.control.play()


def test_the_impostor_reaches_the_desk_and_is_scored(console: Console) -> None:
    wait_for(
        "P2 at the desk",
        lambda: any(c["passenger"] == "P2" for c in console.live.desk.to_json()["cases"]),  # type: ignore[attr-defined]
    )
    case = next(c for c in console.live.desk.to_json()["cases"] if c["passenger"] == "P2")  # type: ignore[attr-defined]
    assert case["outcome"] == "referred"
    assert case["document"]["surname"] == "ZHOU"
    assert case["decided"] is None
    verdict = console.live.desk.decide("P2", DeskDecision.REFUSE, RefusalReason.IMPOSTOR)
    assert verdict.points == 1.0
    face = [d for d in console.live.snapshot()["decisions"] if d["kind"] == "face"]  # type: ignore[attr-defined]
    p2 = next(d for d in face if d["passenger"] == "P2")
    assert p2["decision"] == "no_match"
    assert p2["distance"] > p2["threshold"] == 0.6
    for which in ("chip", "capture"):
        jpeg = console.live.photo("P2", which)
        assert jpeg is not None
        image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
        assert image is not None and min(image.shape[:2]) > 50


def test_the_run_counts_the_instructors_passenger_and_the_desk(console: Console) -> None:
    run = console.join()
    results = {result.id: result for result in run.results}
    assert results["P1+1"].outcome == "accepted"
    assert results["P1"].outcome == "accepted"
    assert run.desk is not None
    assert (run.desk.points, run.desk.of, run.desk.decided) == (1.0, 2, 1)
    assert results["P2+1"].outcome == "referred"
    assert "door board switched on again" in console.texts()
    assert console.live.snapshot()["clock"]["finished"] is True  # type: ignore[index]
