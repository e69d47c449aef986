"""Passages from an occupancy sensor: whatever the order of beam and count events.

The recognizer is tested alone with made-up times, then through the real
driver fed line by line (hypothesis over the orders sensors use), then on a
pseudo-terminal against the emulated sensor in each of its orders and as a
count-only sensor.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from handlink import HandClock, HandLink
from hypothesis import given, settings
from hypothesis import strategies as st

from hardware.doorprotocol import Command, ErrorCode, ErrorReply, Reply
from hardware.doorsession import CommandSettings, Connected
from hardware.emulators.occupancy import (
    OccupancyBoard,
    OccupancyEmulator,
    OccupancySensorSettings,
    PassageOrder,
)
from hardware.emulators.pty import PseudoTerminal
from hardware.link import SerialSettings
from hardware.occupancy import OccupancySensor, SensorKind
from hardware.passage import Passage, PassageRecognizer

WINDOW_S = 1.0

# --- the recognizer -------------------------------------------------------------


class TestRecognizer:
    def test_beam_before_the_count(self):
        passages = PassageRecognizer(WINDOW_S)
        assert passages.beam("ENTRY", True, 0.0) == []
        assert passages.beam("ENTRY", False, 0.4) == []
        assert passages.count(0, 1, 0.5) == [Passage(0.5, "in", "ENTRY", 1)]

    def test_count_while_the_beam_is_broken(self):
        passages = PassageRecognizer(WINDOW_S)
        passages.beam("EXIT", True, 0.0)
        # Standing in the beam for long is still this crossing.
        assert passages.count(2, 1, 7.0) == [Passage(7.0, "out", "EXIT", 1)]
        assert passages.beam("EXIT", False, 7.2) == []

    def test_count_first_waits_for_the_beam(self):
        passages = PassageRecognizer(WINDOW_S)
        assert passages.count(0, 1, 10.0) == []
        assert passages.tick(10.5) == []
        assert passages.beam("ENTRY", True, 10.6) == [Passage(10.0, "in", "ENTRY", 1)]
        # The clear ends a crossing already used: it explains nothing more.
        assert passages.beam("ENTRY", False, 10.9) == []
        assert passages.count(1, 2, 11.0) == []
        assert passages.tick(12.01) == [Passage(11.0, "in", None, 2)]

    def test_a_count_no_beam_explains_has_no_beam(self):
        passages = PassageRecognizer(WINDOW_S)
        passages.beam("ENTRY", True, 0.0)
        passages.beam("ENTRY", False, 0.1)
        # Long after the crossing, which explains nothing any more.
        assert passages.count(0, 1, 5.0) == []
        assert passages.tick(6.0) == []  # the window is inclusive
        assert passages.tick(6.001) == [Passage(5.0, "in", None, 1)]

    def test_the_most_recent_crossing_explains_the_count(self):
        passages = PassageRecognizer(WINDOW_S)
        passages.beam("ENTRY", True, 0.0)
        passages.beam("ENTRY", False, 0.2)
        passages.beam("MIDDLE", True, 0.3)
        passages.beam("MIDDLE", False, 0.4)
        assert passages.count(0, 1, 0.5) == [Passage(0.5, "in", "MIDDLE", 1)]

    def test_changes_are_settled_in_their_order(self):
        passages = PassageRecognizer(WINDOW_S)
        assert passages.count(0, 1, 0.0) == []
        assert passages.count(1, 2, 0.1) == []
        assert passages.beam("ENTRY", True, 0.2) == [Passage(0.0, "in", "ENTRY", 1)]
        assert passages.beam("EXIT", True, 0.3) == [Passage(0.1, "in", "EXIT", 2)]

    def test_an_equal_count_is_no_passage(self):
        passages = PassageRecognizer(WINDOW_S)
        passages.beam("ENTRY", True, 0.0)
        assert passages.count(1, 1, 0.1) == []
        assert passages.count(1, 2, 0.2) == [Passage(0.2, "in", "ENTRY", 2)]

    def test_count_only_reports_at_once(self):
        passages = PassageRecognizer(WINDOW_S, count_only=True)
        assert passages.count(0, 1, 3.0) == [Passage(3.0, "in", None, 1)]
        assert passages.count(1, 0, 4.0) == [Passage(4.0, "out", None, 0)]

    def test_reset_and_switching_to_count_only_settle_what_waits(self):
        passages = PassageRecognizer(WINDOW_S)
        passages.count(0, 1, 0.0)
        assert passages.reset() == [Passage(0.0, "in", None, 1)]
        passages.beam("ENTRY", True, 1.0)
        passages.count(0, 1, 2.0)  # explained by the open crossing at once
        passages.count(1, 0, 3.0)
        assert passages.set_count_only(True) == [Passage(3.0, "out", None, 0)]
        assert passages.count_only
        assert passages.set_count_only(False) == []

    def test_the_window_must_be_positive(self):
        with pytest.raises(ValueError, match="window_s"):
            PassageRecognizer(0.0)


# --- the driver, fed by hand, over every order ------------------------------------


# No heartbeat within a test: only the sensor's lines matter here.
QUIET = CommandSettings(timeout_s=100.0, retries=0, heartbeat_s=10_000.0, checksum=False)
BEAMS = ("ENTRY", "MIDDLE", "EXIT")


def hand_sensor(
    status: bytes = b"COUNT=0 ENTRY=CLEAR MIDDLE=CLEAR EXIT=CLEAR", kind: SensorKind = "auto"
) -> tuple[HandLink, HandClock, OccupancySensor]:
    link, clock = HandLink(), HandClock()
    sensor = OccupancySensor(
        link,  # type: ignore[arg-type]
        QUIET,
        clock=clock,
        kind=kind,
        passage_window_s=WINDOW_S,
    )
    sensor.poll(0.0)
    assert link.sent == [b"#1 STATUS\r\n"]
    link.inbox += b"#1 OK " + status + b"\r\n"
    assert isinstance(sensor.poll(0.0)[0], Connected)
    assert sensor.count == 0
    return link, clock, sensor


@dataclass(frozen=True)
class Walk:
    """Lines a sensor sends, each at its time, and the passages they should make."""

    lines: list[tuple[float, str]]
    expected: list[Passage]
    end: float


ORDERS = ["broken,clear,count", "broken,count,clear", "count,broken,clear", "count", "hesitate"]


@st.composite
def walks(draw: st.DrawFn) -> Walk:
    """People going in and out in any of the orders, beam-less counts and hesitations.

    Within one passage a beam event follows or precedes the count by less than
    the window (a beam may stay broken for any time); between passages there is
    more than the window.
    """
    near = st.floats(0.0, WINDOW_S * 0.99)
    lines: list[tuple[float, str]] = []
    expected: list[Passage] = []
    now, count = 1.0, 0
    for _ in range(draw(st.integers(1, 8))):
        order = draw(st.sampled_from(ORDERS))
        beam = draw(st.sampled_from(BEAMS))
        if order == "hesitate":
            # Someone breaks a beam and steps back: no passage.
            lines += [(now, f"! BEAM {beam} BROKEN")]
            now += draw(st.floats(0.0, 3.0))
            lines += [(now, f"! BEAM {beam} CLEAR")]
        else:
            going_in = count == 0 or draw(st.booleans())
            count += 1 if going_in else -1
            direction = "in" if going_in else "out"
            steps = {
                "broken,clear,count": ["broken", "any", "clear", "near", "count"],
                "broken,count,clear": ["broken", "any", "count", "any", "clear"],
                "count,broken,clear": ["count", "near", "broken", "any", "clear"],
                "count": ["count"],
            }[order]
            for step in steps:
                if step == "near":
                    now += draw(near)
                elif step == "any":
                    now += draw(st.floats(0.0, 3.0))
                elif step == "count":
                    counted_at = now
                    lines.append((now, f"! COUNT {count}"))
                else:
                    lines.append((now, f"! BEAM {beam} {step.upper()}"))
            expected.append(
                Passage(counted_at, direction, None if order == "count" else beam, count)
            )
        now += draw(st.floats(WINDOW_S * 1.01, WINDOW_S * 4))
    return Walk(lines, expected, now + WINDOW_S * 2)


def passages_of(events: list[Any]) -> list[Passage]:
    return [event for event in events if isinstance(event, Passage)]


@settings(max_examples=300, deadline=None)
@given(walk=walks(), batched=st.booleans())
def test_every_order_gives_the_same_passages(walk: Walk, batched: bool):
    """Each count change is one passage, with the beam crossed whatever the order.

    ``batched``: lines sent at the same moment arrive in one read.
    """
    link, clock, sensor = hand_sensor()
    events: list[Any] = []
    for index, (at, line) in enumerate(walk.lines):
        link.inbox += line.encode("ascii") + b"\r\n"
        following = walk.lines[index + 1][0] if index + 1 < len(walk.lines) else None
        if batched and following == at:
            continue
        clock.now = at
        events += sensor.poll(at)
    clock.now = walk.end
    events += sensor.poll(walk.end)
    assert passages_of(events) == walk.expected
    assert sensor.count == (walk.expected[-1].count if walk.expected else 0)


def test_count_only_by_configuration():
    link, _, sensor = hand_sensor(kind="count_only")
    assert sensor.count_only
    link.inbox += b"! BEAM ENTRY BROKEN\r\n! COUNT 1\r\n"
    assert passages_of(sensor.poll(1.0)) == [Passage(1.0, "in", None, 1)]


def test_count_only_detected_from_status():
    link, _, sensor = hand_sensor(status=b"COUNT=0")
    assert sensor.count_only
    link.inbox += b"! COUNT 1\r\n"
    assert passages_of(sensor.poll(1.0)) == [Passage(1.0, "in", None, 1)]
    link.inbox += b"! COUNT 0\r\n"
    assert passages_of(sensor.poll(2.0)) == [Passage(2.0, "out", None, 0)]


def test_a_beam_event_shows_a_sensor_has_beams_after_all():
    link, _, sensor = hand_sensor(status=b"COUNT=0")
    link.inbox += b"! BEAM ENTRY BROKEN\r\n! COUNT 1\r\n"
    assert passages_of(sensor.poll(1.0)) == [Passage(1.0, "in", "ENTRY", 1)]
    assert not sensor.count_only


def test_a_sensor_with_beams_configured_never_turns_count_only():
    link, _, sensor = hand_sensor(status=b"COUNT=0", kind="beams")
    assert not sensor.count_only
    link.inbox += b"! COUNT 1\r\n"
    assert passages_of(sensor.poll(1.0)) == []
    assert passages_of(sensor.poll(2.01)) == [Passage(1.0, "in", None, 1)]


def test_a_count_learnt_at_connection_is_no_passage():
    link, _, sensor = hand_sensor(status=b"COUNT=0 ENTRY=CLEAR EXIT=CLEAR")
    link.inbox += b"! READY\r\n"
    sensor.poll(1.0)
    assert sensor.count is None
    status = link.sent[-1]
    assert status.endswith(b"STATUS\r\n")
    seq = status.split()[0].decode()
    link.inbox += f"{seq} OK COUNT=2 ENTRY=CLEAR EXIT=CLEAR\r\n".encode()
    events = sensor.poll(1.1)
    assert sensor.count == 2
    assert passages_of(events) == []


def test_a_waiting_passage_is_settled_when_the_sensor_restarts():
    link, _, sensor = hand_sensor()
    link.inbox += b"! COUNT 1\r\n"
    assert passages_of(sensor.poll(1.0)) == []
    link.inbox += b"! READY\r\n"
    assert passages_of(sensor.poll(1.2)) == [Passage(1.0, "in", None, 1)]


# --- the emulated sensor on a pseudo-terminal --------------------------------------

FAST = CommandSettings(timeout_s=0.1, retries=2, heartbeat_s=0.1)
PATIENCE_S = 10.0


class TestBoardOrders:
    @pytest.mark.parametrize(
        ("order", "expected"),
        [
            (PassageOrder.BROKEN_CLEAR_COUNT, ["ENTRY BROKEN", "ENTRY CLEAR", "COUNT 1"]),
            (PassageOrder.BROKEN_COUNT_CLEAR, ["ENTRY BROKEN", "COUNT 1", "ENTRY CLEAR"]),
            (PassageOrder.COUNT_BROKEN_CLEAR, ["COUNT 1", "ENTRY BROKEN", "ENTRY CLEAR"]),
        ],
    )
    def test_a_crossing_in_each_order(self, order, expected):
        events = OccupancyBoard(0.0).cross("ENTRY", 1, order)
        shown = [
            " ".join(event.args) if event.name == "BEAM" else f"COUNT {event.args[0]}"
            for event in events
        ]
        assert shown == expected

    def test_a_count_only_sensor_reports_counts_alone(self):
        board = OccupancyBoard(0.0, beams=())
        events = board.cross("ENTRY", 1, PassageOrder.BROKEN_CLEAR_COUNT)
        assert [(event.name, event.args) for event in events] == [("COUNT", ("1",))]

    def test_hello(self):
        board = OccupancyBoard(0.0, identity="T2-07-OCC")
        assert board.answer(Command(1, "HELLO"), 0.0)[0] == Reply(
            1, (("KIND", "OCCUPANCY"), ("ID", "T2-07-OCC"))
        )
        reply, _ = OccupancyBoard(0.0, identity=None).answer(Command(2, "HELLO"), 0.0)
        assert isinstance(reply, ErrorReply) and reply.code == ErrorCode.UNKNOWN_COMMAND

    def test_settings_check_beam_names(self):
        assert OccupancySensorSettings(beams=()).count_only
        for bad in [("entry",), ("COUNT",), ("ENTRY", "ENTRY")]:
            with pytest.raises(ValueError):
                OccupancySensorSettings(beams=bad)


def wait_passages(sensor: OccupancySensor, wanted: int) -> list[Passage]:
    found: list[Passage] = []
    give_up = time.monotonic() + PATIENCE_S
    while len(found) < wanted:
        assert time.monotonic() < give_up, f"passages so far: {found}"
        found += passages_of(sensor.poll(time.monotonic()))
        time.sleep(0.002)
    return found


@pytest.fixture
def tty(tmp_path: Path) -> Iterator[PseudoTerminal]:
    with PseudoTerminal(link=tmp_path / "occupancy") as pty:
        yield pty


def connected_sensor(tty: PseudoTerminal, **options: Any) -> OccupancySensor:
    serial = SerialSettings(port=tty.port, reconnect_initial_s=0.02, reconnect_max_s=0.1)
    sensor = OccupancySensor(serial, FAST, **options)
    give_up = time.monotonic() + PATIENCE_S
    while sensor.count is None:
        assert time.monotonic() < give_up, "the sensor never answered"
        sensor.poll(time.monotonic())
        time.sleep(0.002)
    return sensor


@pytest.mark.hardware
@pytest.mark.parametrize("order", list(PassageOrder))
def test_the_emulated_sensor_in_every_order(tty, order):
    with OccupancyEmulator(tty, OccupancySensorSettings(order=order)) as device:
        sensor = connected_sensor(tty)
        try:
            device.walk_in()
            device.walk_out()
            found = wait_passages(sensor, 2)
            assert [(p.direction, p.beam, p.count) for p in found] == [
                ("in", "ENTRY", 1),
                ("out", "EXIT", 0),
            ]
            assert found[0].at <= found[1].at
        finally:
            sensor.shutdown()


@pytest.mark.hardware
def test_the_emulated_count_only_sensor(tty):
    with OccupancyEmulator(tty, OccupancySensorSettings(beams=())) as device:
        sensor = connected_sensor(tty)
        try:
            assert sensor.count_only
            device.walk_in()
            device.walk_in()
            device.walk_out()
            found = wait_passages(sensor, 3)
            assert [(p.direction, p.beam, p.count) for p in found] == [
                ("in", None, 1),
                ("in", None, 2),
                ("out", None, 1),
            ]
        finally:
            sensor.shutdown()
