"""The replay's remote control: a clock that pauses and changes rate, steps, instructor actions."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from station.training.control import (
    RATES,
    AddPassenger,
    InjectFault,
    ReplayClock,
    ReplayControl,
    StepUntil,
)
from station.training.scenario import FaultDevice, Scenario
from station.training.transcript import Step


class Source:
    """A hand-driven monotonic source."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def scenario() -> Scenario:
    def traveller(pid: str) -> dict[str, object]:
        return {
            "id": pid,
            "document": {
                "issuing_state": "CHN",
                "surname": "ZHOU",
                "given_names": "LAN",
                "number": f"EB000000{pid[-1]}",
                "birth_date": "1988-05-06",
                "sex": "F",
                "expiry_date": "2032-01-31",
            },
            "chip": "samples:obama",
            "face": "samples:obama2",
            "expected": "accepted",
        }

    return Scenario.model_validate(
        {
            "name": "control",
            "start": "2026-03-14T07:30:00+08:00",
            "gates": {"count": 2},
            "passengers": [
                traveller("P1"),
                traveller("P2"),
                {
                    "id": "T1",
                    "kind": "tailgater",
                    "behaviour": {"tailgates": "P2"},
                    "expected": "none",
                },
            ],
        }
    )


# -- the clock ---------------------------------------------------------------------


def test_a_paused_clock_stands_still_and_goes_on_from_where_it_stopped() -> None:
    source = Source()
    clock = ReplayClock(source)
    source.now += 2.0
    assert clock() == 1002.0
    clock.pause()
    source.now += 60.0
    assert clock() == 1002.0
    clock.play()
    source.now += 1.0
    assert clock() == 1003.0


def test_a_rate_speeds_the_clock_up_without_a_jump() -> None:
    source = Source()
    clock = ReplayClock(source)
    source.now += 1.0
    clock.set_rate(4.0)
    assert clock() == 1001.0
    source.now += 0.5
    assert clock() == 1003.0
    with pytest.raises(ValueError, match="positive"):
        clock.set_rate(0.0)


@given(
    st.lists(
        st.one_of(
            st.floats(min_value=0.0, max_value=100.0).map(lambda s: ("advance", s)),
            st.just(("pause", 0.0)),
            st.just(("play", 0.0)),
            st.sampled_from(RATES).map(lambda r: ("rate", r)),
        ),
        max_size=40,
    )
)
def test_the_clock_never_runs_backwards_and_counts_only_running_time(
    script: list[tuple[str, float]],
) -> None:
    source = Source()
    clock = ReplayClock(source)
    expected = clock()
    rate, paused = 1.0, False
    for what, value in script:
        before = clock()
        if what == "advance":
            source.now += value
            if not paused:
                expected += value * rate
        elif what == "pause":
            clock.pause()
            paused = True
        elif what == "play":
            clock.play()
            paused = False
        else:
            clock.set_rate(value)
            rate = value
        assert clock() >= before
        assert clock() == pytest.approx(expected)


# -- the control ------------------------------------------------------------------


def test_a_step_runs_to_the_next_line_or_decision_then_pauses() -> None:
    control = ReplayControl(scenario(), ReplayClock(Source()))
    control.pause()
    control.step(StepUntil.DECISION)
    assert not control.paused
    control.noted(Step.DOOR)  # not a decision: runs on
    assert not control.paused
    control.noted(Step.VERIFY)
    assert control.paused
    control.step(StepUntil.EVENT)
    control.noted(Step.DOOR)
    assert control.paused
    control.play()
    control.noted(Step.DECISION)  # no step in progress: playing goes on
    assert not control.paused


def test_hold_waits_only_while_paused() -> None:
    control = ReplayControl(scenario(), ReplayClock(Source()))
    assert control.hold(0.0) is False
    control.pause()
    assert control.hold(0.0) is True
    control.stop()
    assert control.hold(0.0) is False
    assert control.stopped


def test_rates_outside_the_menu_are_refused() -> None:
    control = ReplayControl(scenario(), ReplayClock(Source()))
    control.set_rate(2)
    assert control.rate == 2.0
    with pytest.raises(ValueError, match=re.escape("rate must be one of 0.25, 0.5, 1, 2, 4, 8")):
        control.set_rate(3)


def test_instructor_faults_are_checked_and_queued_in_order() -> None:
    control = ReplayControl(scenario(), ReplayClock(Source()))
    control.inject_fault("G2", "reader", 20)
    control.inject_fault("G1", FaultDevice.BOARD, 5.5)
    with pytest.raises(ValueError, match="unknown gate 'G9'; the gates are G1, G2"):
        control.inject_fault("G9", "reader", 20)
    with pytest.raises(ValueError, match="unknown device 'printer'"):
        control.inject_fault("G1", "printer", 20)
    with pytest.raises(ValueError, match="lasts_s must be above 0"):
        control.inject_fault("G1", "camera", 0)
    assert control.take_actions() == [
        InjectFault("G2", FaultDevice.READER, 20.0),
        InjectFault("G1", FaultDevice.BOARD, 5.5),
    ]
    assert control.take_actions() == []


def test_added_passengers_get_new_ids_and_tailgaters_cannot_be_sent() -> None:
    control = ReplayControl(scenario(), ReplayClock(Source()))
    assert [entry["id"] for entry in control.catalogue()] == ["P1", "P2"]
    assert control.add_passenger("P1") == "P1+1"
    assert control.add_passenger("P1") == "P1+2"
    assert control.add_passenger("P2") == "P2+1"
    with pytest.raises(ValueError, match="no passenger 'T1' to send again"):
        control.add_passenger("T1")
    with pytest.raises(ValueError, match="no passenger 'P9'"):
        control.add_passenger("P9")
    assert control.take_actions() == [
        AddPassenger("P1", "P1+1"),
        AddPassenger("P1", "P1+2"),
        AddPassenger("P2", "P2+1"),
    ]
