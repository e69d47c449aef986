"""The door controller: the emulated board's rules, and the driver against it over a real tty.

The board tests drive ``DoorBoard`` with made-up times.  The driver tests
run ``DoorEmulator`` on a real pseudo-terminal and ``DoorController`` on its
slave, through pyserial, exactly as on a gate; they wait for events with
generous timeouts and never assert on how long anything took.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from handlink import HandClock, HandLink

from hardware.door import (
    Acknowledged,
    CommandFailed,
    CommandSettings,
    Connected,
    DeviceRestarted,
    Disconnected,
    Door,
    DoorController,
    DoorFault,
    DoorForced,
    DoorObstructed,
    DoorRefused,
    DoorState,
    DoorStateChanged,
    Refused,
    Unrecognized,
    WatchdogTripped,
)
from hardware.doorprotocol import Command, ErrorCode, ErrorReply, Event, Reply
from hardware.doorsession import Unsolicited
from hardware.emulators.door import (
    DoorBoard,
    DoorBoardSettings,
    DoorChange,
    DoorEmulator,
    both_not_closed,
)
from hardware.emulators.pty import PseudoTerminal
from hardware.link import SerialLink, SerialSettings

ENTRY, EXIT = Door.ENTRY, Door.EXIT
OPEN, CLOSED, OPENING, CLOSING, FAULT = (
    DoorState.OPEN,
    DoorState.CLOSED,
    DoorState.OPENING,
    DoorState.CLOSING,
    DoorState.FAULT,
)

# --- the board ----------------------------------------------------------------


def new_board(**settings: Any) -> tuple[DoorBoard, list[Event]]:
    board = DoorBoard(DoorBoardSettings(**{"travel_s": 1.0, "watchdog_s": 3.0, **settings}), 0.0)
    return board, board.power_on(0.0)


class TestBoard:
    def test_power_on_doors_closed_and_ready(self):
        board, events = new_board()
        assert events == [Event("READY")]
        assert (board.state(ENTRY), board.state(EXIT)) == (CLOSED, CLOSED)

    def test_open_is_answered_at_once_and_reported_done_later(self):
        board, _ = new_board()
        assert board.answer(Command(1, "OPEN", ("ENTRY",)), 0.0) == (
            Reply(1, (("ENTRY", "OPENING"),)),
            [],
        )
        assert board.advance(0.5) == []
        assert board.advance(1.0) == [Event("OPENED", ("ENTRY",))]
        assert board.answer(Command(2, "STATUS"), 1.1) == (
            Reply(2, (("ENTRY", "OPEN"), ("EXIT", "CLOSED"))),
            [],
        )

    def test_opening_an_open_door_changes_nothing(self):
        board, _ = new_board()
        board.answer(Command(1, "OPEN", ("EXIT",)), 0.0)
        board.advance(2.0)
        assert board.answer(Command(2, "OPEN", ("EXIT",)), 2.0) == (
            Reply(2, (("EXIT", "OPEN"),)),
            [],
        )

    def test_the_newest_command_wins_while_a_door_moves(self):
        board, _ = new_board()
        board.answer(Command(1, "OPEN", ("ENTRY",)), 0.0)
        reply, _ = board.answer(Command(2, "CLOSE", ("ENTRY",)), 0.6)
        assert reply == Reply(2, (("ENTRY", "CLOSING"),))
        # It had opened 60 %, so it is closed again 0.6 s later.
        assert board.advance(1.1) == []
        assert board.advance(1.2) == [Event("CLOSED", ("ENTRY",))]

    def test_a_retransmission_is_not_executed_again(self):
        board, _ = new_board()
        first, _ = board.answer(Command(7, "OPEN", ("ENTRY",)), 0.0)
        board.advance(1.0)
        again, _ = board.answer(Command(7, "OPEN", ("ENTRY",)), 1.0)
        assert first == Reply(7, (("ENTRY", "OPENING"),))
        # Answered as before, with the state as it is now.
        assert again == Reply(7, (("ENTRY", "OPEN"),))
        assert [c.seq for c in board.executed] == [7]

    def test_what_is_not_a_retransmission_is_executed(self):
        board, _ = new_board(dedupe_window_s=5.0)
        board.answer(Command(7, "OPEN", ("ENTRY",)), 0.0)
        board.answer(Command(7, "OPEN", ("EXIT",)), 0.1)  # same number, other command
        board.answer(Command(8, "STATUS"), 0.2)
        board.answer(Command(8, "STATUS"), 0.3)  # questions are answered afresh
        board.answer(Command(7, "OPEN", ("EXIT",)), 5.2)  # outside the window
        assert [(c.seq, c.verb) for c in board.executed] == [
            (7, "OPEN"),
            (7, "OPEN"),
            (8, "STATUS"),
            (8, "STATUS"),
            (7, "OPEN"),
        ]

    @pytest.mark.parametrize(
        ("command", "code"),
        [
            (Command(1, "LOCK", ("EXIT",)), ErrorCode.UNKNOWN_COMMAND),
            (Command(1, "OPEN"), ErrorCode.BAD_ARGUMENT),
            (Command(1, "OPEN", ("SIDE",)), ErrorCode.BAD_ARGUMENT),
            (Command(1, "CLOSE", ("ENTRY", "EXIT")), ErrorCode.BAD_ARGUMENT),
            (Command(1, "STATUS", ("ENTRY",)), ErrorCode.BAD_ARGUMENT),
            (Command(1, "PING", ("+17",)), ErrorCode.BAD_ARGUMENT),
        ],
    )
    def test_errors(self, command, code):
        board, _ = new_board()
        reply, _ = board.answer(command, 0.0)
        assert isinstance(reply, ErrorReply)
        assert (reply.seq, reply.code) == (1, code)

    def test_a_jammed_door_refuses_until_cleared(self):
        board, _ = new_board()
        assert board.jam(EXIT, "MOTOR", 0.0) == [Event("FAULT", ("EXIT", "MOTOR"))]
        assert board.answer(Command(1, "OPEN", ("EXIT",)), 0.1)[0] == ErrorReply(
            1, ErrorCode.DOOR_FAULT, "door fault MOTOR"
        )
        board.unjam(EXIT, 0.2)
        assert board.state(EXIT) is FAULT
        assert board.answer(Command(2, "CLOSE", ("EXIT",)), 0.3)[0] == Reply(
            2, (("EXIT", "CLOSING"),)
        )
        assert board.advance(0.4) == [Event("CLOSED", ("EXIT",))]

    def test_power_on_drives_open_doors_closed(self):
        board, _ = new_board()
        board.answer(Command(1, "OPEN", ("EXIT",)), 0.0)
        board.advance(0.5)
        assert board.power_on(0.5) == [Event("READY")]
        assert board.state(EXIT) is CLOSING
        assert board.advance(1.0) == [Event("CLOSED", ("EXIT",))]

    def test_a_jam_outlives_a_power_cycle(self):
        board, _ = new_board()
        board.jam(ENTRY, "LOCK", 0.0)
        assert board.power_on(1.0) == [Event("READY"), Event("FAULT", ("ENTRY", "LOCK"))]

    def test_an_obstacle_reverses_a_closing_door(self):
        board, _ = new_board()
        board.answer(Command(1, "OPEN", ("ENTRY",)), 0.0)
        board.advance(1.0)
        board.answer(Command(2, "CLOSE", ("ENTRY",)), 1.0)
        assert board.obstruct(ENTRY, True, 1.5) == [Event("OBSTRUCTED", ("ENTRY",))]
        assert board.advance(2.0) == [Event("OPENED", ("ENTRY",))]
        board.obstruct(ENTRY, False, 2.0)
        board.answer(Command(3, "CLOSE", ("ENTRY",)), 2.0)
        assert board.advance(3.0) == [Event("CLOSED", ("ENTRY",))]

    def test_a_forced_door(self):
        board, _ = new_board()
        assert board.force(EXIT, 0.0) == [Event("FORCED", ("EXIT",))]
        assert board.state(EXIT) is OPEN
        assert board.force(EXIT, 0.1) == []

    def test_the_watchdog_closes_the_exit_door_and_only_that(self):
        board, _ = new_board(watchdog_s=3.0)
        board.answer(Command(1, "OPEN", ("ENTRY",)), 0.0)
        board.answer(Command(2, "OPEN", ("EXIT",)), 0.0)
        board.advance(2.9)
        assert board.advance(3.1) == [Event("WATCHDOG")]
        assert board.state(EXIT) is CLOSING
        assert board.advance(5.0) == [Event("CLOSED", ("EXIT",))]
        assert board.state(ENTRY) is OPEN
        assert board.advance(100.0) == []  # once per silence

    def test_any_command_feeds_the_watchdog_and_it_trips_again(self):
        board, _ = new_board(watchdog_s=3.0)
        for t in (2.0, 4.0, 6.0):
            board.answer(Command(int(t), "NOSUCH"), t)
            assert board.advance(t + 2.5) == []
        board.answer(Command(9, "OPEN", ("EXIT",)), 9.0)
        assert board.advance(10.5) == [Event("OPENED", ("EXIT",))]
        assert board.advance(12.1) == [Event("WATCHDOG")]
        board.answer(Command(10, "OPEN", ("EXIT",)), 14.0)
        assert Event("WATCHDOG") in board.advance(17.1)

    def test_the_watchdog_trips_before_a_late_command_is_executed(self):
        board, _ = new_board(watchdog_s=3.0)
        board.answer(Command(1, "OPEN", ("EXIT",)), 0.0)
        reply, events = board.answer(Command(2, "STATUS"), 10.0)
        # Opened at 1 s, watchdog at 3 s, closed again at 4 s.
        assert events == [Event("OPENED", ("EXIT",)), Event("WATCHDOG"), Event("CLOSED", ("EXIT",))]
        assert reply == Reply(2, (("ENTRY", "CLOSED"), ("EXIT", "CLOSED")))

    def test_interlock(self):
        board, _ = new_board(interlock=True)
        board.answer(Command(1, "OPEN", ("ENTRY",)), 0.0)
        reply, _ = board.answer(Command(2, "OPEN", ("EXIT",)), 0.1)
        assert reply == ErrorReply(2, ErrorCode.INTERLOCK, "other door not closed")

    @pytest.mark.parametrize("other", [OPENING, OPEN, CLOSING, FAULT])
    def test_interlock_refuses_while_the_other_door_is_anything_but_closed(self, other):
        board, _ = new_board(interlock=True)
        {
            OPENING: lambda: board.answer(Command(1, "OPEN", ("ENTRY",)), 0.0),
            OPEN: lambda: board.force(ENTRY, 0.0),
            CLOSING: lambda: (
                board.force(ENTRY, 0.0),
                board.answer(Command(1, "CLOSE", ("ENTRY",)), 0.0),
            ),
            FAULT: lambda: board.jam(ENTRY, "LOCK", 0.0),
        }[other]()
        assert board.state(ENTRY) is other
        reply, _ = board.answer(Command(2, "OPEN", ("EXIT",)), 0.1)
        assert reply == ErrorReply(2, ErrorCode.INTERLOCK, "other door not closed")
        assert board.state(EXIT) is CLOSED
        # Closing a door is never refused by the interlock.
        assert board.answer(Command(3, "CLOSE", ("EXIT",)), 0.2)[0] == Reply(
            3, (("EXIT", "CLOSED"),)
        )

    def test_interlock_lets_a_door_open_once_the_other_is_closed(self):
        board, _ = new_board(interlock=True)
        board.answer(Command(1, "OPEN", ("ENTRY",)), 0.0)
        board.answer(Command(2, "CLOSE", ("ENTRY",)), 1.0)
        assert board.answer(Command(3, "OPEN", ("EXIT",)), 1.5)[0].code == ErrorCode.INTERLOCK
        assert board.advance(2.0) == [Event("CLOSED", ("ENTRY",))]
        assert board.answer(Command(4, "OPEN", ("EXIT",)), 2.0)[0] == Reply(
            4, (("EXIT", "OPENING"),)
        )
        # A retransmission of the refused command is answered as before, not executed.
        assert board.answer(Command(4, "OPEN", ("EXIT",)), 2.1)[0] == Reply(
            4, (("EXIT", "OPENING"),)
        )

    def test_without_interlock_both_doors_may_open(self):
        board, _ = new_board()
        board.answer(Command(1, "OPEN", ("ENTRY",)), 0.0)
        assert board.answer(Command(2, "OPEN", ("EXIT",)), 0.1)[0] == Reply(
            2, (("EXIT", "OPENING"),)
        )
        assert both_not_closed(board.log) == [(0.1, None)]

    def test_the_log_records_every_change_when_it_happened(self):
        board, _ = new_board(travel_s=1.0)
        board.answer(Command(1, "OPEN", ("ENTRY",)), 0.25)
        # Looked at late: the door got there at 1.25 all the same.
        board.advance(3.0)
        board.answer(Command(2, "CLOSE", ("ENTRY",)), 3.0)
        board.obstruct(ENTRY, True, 3.5)
        board.obstruct(ENTRY, False, 3.6)
        board.answer(Command(3, "CLOSE", ("ENTRY",)), 4.0)
        board.advance(10.0)
        board.force(EXIT, 11.0)
        board.jam(EXIT, "MOTOR", 12.0)
        assert list(board.log) == [
            DoorChange(0.25, ENTRY, OPENING),
            DoorChange(1.25, ENTRY, OPEN),
            DoorChange(3.0, ENTRY, CLOSING),
            DoorChange(3.5, ENTRY, OPENING),
            # Half closed when it reversed: open again 0.5 s later.
            DoorChange(4.0, ENTRY, OPEN),
            DoorChange(4.0, ENTRY, CLOSING),
            DoorChange(5.0, ENTRY, CLOSED),
            DoorChange(11.0, EXIT, OPEN),
            DoorChange(12.0, EXIT, FAULT),
        ]
        assert both_not_closed(board.log) == []

    def test_the_watchdog_closing_is_logged_when_it_trips(self):
        board, _ = new_board(watchdog_s=3.0, travel_s=1.0)
        board.answer(Command(1, "OPEN", ("EXIT",)), 0.0)
        board.advance(10.0)
        assert list(board.log)[-3:] == [
            DoorChange(1.0, EXIT, OPEN),
            DoorChange(3.0, EXIT, CLOSING),
            DoorChange(4.0, EXIT, CLOSED),
        ]

    def test_spans_with_both_doors_away_from_closed(self):
        log = [
            DoorChange(1.0, ENTRY, OPENING),
            DoorChange(2.0, EXIT, OPENING),
            DoorChange(2.5, ENTRY, FAULT),
            DoorChange(3.0, EXIT, CLOSED),
            DoorChange(4.0, EXIT, OPEN),
        ]
        assert both_not_closed(log) == [(2.0, 3.0), (4.0, None)]
        assert both_not_closed([]) == []

    def test_hello(self):
        board, _ = new_board(identity="T2-07-DOORS")
        assert board.answer(Command(1, "HELLO"), 0.0)[0] == Reply(
            1, (("KIND", "DOORS"), ("ID", "T2-07-DOORS"))
        )
        assert board.answer(Command(2, "HELLO", ("X",)), 0.0)[0].code == ErrorCode.BAD_ARGUMENT
        legacy, _ = new_board(identity=None)
        reply, _ = legacy.answer(Command(3, "HELLO"), 0.0)
        assert reply == ErrorReply(3, ErrorCode.UNKNOWN_COMMAND, "unknown command HELLO")

    def test_an_identity_is_a_short_word(self):
        for bad in ["", "two words", "x" * 25, "A*B", "A=B"]:
            with pytest.raises(ValueError):
                DoorBoardSettings(identity=bad)


# --- the driver on a link the test plays by hand ------------------------------------


@pytest.fixture
def hand() -> tuple[HandLink, HandClock, DoorController]:
    link, clock = HandLink(), HandClock(100.0)
    settings = CommandSettings(timeout_s=0.5, retries=2, heartbeat_s=1.0, checksum=False)
    door = DoorController(link, settings, clock=clock)  # type: ignore[arg-type]
    assert link.sent == []
    door.poll(clock.now)
    assert link.sent == [b"#1 STATUS\r\n"]
    link.inbox += b"#1 OK ENTRY=CLOSED EXIT=CLOSED\r\n"
    assert isinstance(door.poll(clock.now)[0], Connected)
    return link, clock, door


class TestSession:
    def test_one_command_at_a_time_and_retries_with_the_same_line(self, hand):
        link, clock, door = hand
        first, second = door.open(ENTRY), door.open(EXIT)
        assert link.sent[1:] == [b"#2 OPEN ENTRY\r\n"]
        for moment in (100.4, 100.5, 100.9, 101.0):
            clock.now = moment
            door.poll(moment)
        assert link.sent[1:] == [b"#2 OPEN ENTRY\r\n"] * 3
        clock.now = 101.5
        events = door.poll(101.5)
        assert events[0] == CommandFailed(101.5, first, "no reply after 3 attempts")
        assert isinstance(events[1], Disconnected)
        assert link.sent[-1] == b"#3 OPEN EXIT\r\n"
        link.inbox += b"#3 OK EXIT=OPENING\r\n"
        events = door.poll(101.6)
        assert events[:2] == [
            Connected(101.6),
            Acknowledged(101.6, second, Reply(3, (("EXIT", "OPENING"),))),
        ]
        # Answering again after silence: the doors are asked for.
        assert link.sent[-1] == b"#4 STATUS\r\n"

    def test_heartbeat_only_when_idle(self, hand):
        link, clock, door = hand
        door.poll(100.9)
        assert len(link.sent) == 1
        door.poll(101.0)
        assert link.sent[-1] == b"#2 PING\r\n"
        link.inbox += b"#2 OK\r\n"
        assert door.poll(101.4) == []  # a heartbeat's reply is no news
        door.poll(101.9)
        assert len(link.sent) == 2
        door.poll(102.0)
        assert link.sent[-1] == b"#3 PING\r\n"
        link.inbox += b"#3 OK\r\n"
        door.poll(102.1)
        clock.now = 102.5
        door.status()  # any command counts as a heartbeat
        assert link.sent[-1] == b"#4 STATUS\r\n"
        link.inbox += b"#4 OK ENTRY=CLOSED EXIT=CLOSED\r\n"
        door.poll(103.4)
        assert link.sent[-1] == b"#4 STATUS\r\n"
        door.poll(103.5)
        assert link.sent[-1] == b"#5 PING\r\n"

    def test_a_reply_with_an_unknown_door_state(self, hand):
        link, _, door = hand
        command = door.status()
        link.inbox += b"#2 OK ENTRY=AJAR EXIT=OPEN\r\n"
        events = door.poll(100.1)
        assert events == [
            Acknowledged(100.1, command, Reply(2, (("ENTRY", "AJAR"), ("EXIT", "OPEN")))),
            Unrecognized(100.1, "ENTRY=AJAR", "unknown door state"),
            DoorStateChanged(100.1, EXIT, OPEN),
        ]
        assert door.state(ENTRY) is CLOSED

    def test_a_second_reply_to_a_retried_command(self, hand):
        link, _, door = hand
        command = door.close(EXIT)
        door.poll(100.6)  # resent
        link.inbox += b"#2 OK EXIT=CLOSED\r\n#2 OK EXIT=CLOSED\r\n"
        events = door.poll(100.7)
        assert events == [
            Acknowledged(100.7, command, Reply(2, (("EXIT", "CLOSED"),))),
            Unrecognized(100.7, "#2 OK EXIT=CLOSED", "reply to no outstanding command"),
        ]

    def test_events_become_door_events(self, hand):
        link, _, door = hand
        link.inbox += (
            b"! FORCED EXIT\r\n! CLOSED EXIT\r\n! FAULT ENTRY MOTOR\r\n"
            b"! OBSTRUCTED EXIT\r\n! WATCHDOG\r\n! FAULT ENTRY\r\n! READY 1\r\n"
        )
        events = [e for e in door.poll(100.1) if not isinstance(e, Unsolicited)]
        assert events == [
            DoorForced(100.1, EXIT),
            DoorStateChanged(100.1, EXIT, OPEN),
            DoorStateChanged(100.1, EXIT, CLOSED),
            DoorFault(100.1, ENTRY, "MOTOR"),
            DoorStateChanged(100.1, ENTRY, FAULT),
            DoorObstructed(100.1, EXIT),
            DoorStateChanged(100.1, EXIT, OPENING),
            WatchdogTripped(100.1),
            DoorStateChanged(100.1, EXIT, CLOSING),
            Unrecognized(100.1, "! FAULT ENTRY", "unknown event"),
            Unrecognized(100.1, "! READY 1", "unknown event"),
        ]

    def test_sequence_numbers_wrap(self):
        link, clock = HandLink(), HandClock(100.0)
        door = DoorController(link, clock=clock, first_seq=9999)  # type: ignore[arg-type]
        door.poll(clock.now)
        link.inbox += b"#9999 OK ENTRY=CLOSED EXIT=CLOSED\r\n"
        door.poll(clock.now)
        assert door.status().seq == 1


# --- the driver on a pseudo-terminal ----------------------------------------------

FAST = CommandSettings(timeout_s=0.1, retries=2, heartbeat_s=0.1)
# The watchdog is far off unless a test is about it: a busy machine must not trip it.
BOARD = DoorBoardSettings(travel_s=0.2, watchdog_s=60.0)
PATIENCE_S = 10.0


class Pump:
    """Polls a driver and keeps every event, until the one a test waits for arrives."""

    def __init__(self, driver: Any) -> None:
        self.driver = driver
        self.events: list[Any] = []
        self._seen = 0

    def until(self, wanted: Callable[[Any], bool], timeout_s: float = PATIENCE_S) -> Any:
        """The first event after the last one waited for, for which ``wanted`` holds."""
        deadline = time.monotonic() + timeout_s
        while True:
            while self._seen < len(self.events):
                event = self.events[self._seen]
                self._seen += 1
                if wanted(event):
                    return event
            if time.monotonic() > deadline:
                raise AssertionError(f"no such event in {timeout_s} s; last: {self.events[-12:]}")
            self.events += self.driver.poll(time.monotonic())
            time.sleep(0.002)

    def run_until(self, condition: Callable[[], bool], timeout_s: float = PATIENCE_S) -> None:
        """Keep polling until ``condition()`` holds."""
        deadline = time.monotonic() + timeout_s
        while not condition():
            assert time.monotonic() < deadline, f"not reached; last: {self.events[-12:]}"
            self.events += self.driver.poll(time.monotonic())
            time.sleep(0.002)

    def wait(self, kind: type, **fields: Any) -> Any:
        """The first event of ``kind`` with these field values after the last one waited for."""
        return self.until(
            lambda e: isinstance(e, kind) and all(getattr(e, k) == v for k, v in fields.items())
        )

    def ack(self, command: Command) -> Acknowledged:
        """The acknowledgement of ``command``."""
        return self.wait(Acknowledged, command=command)


def wait_until(condition: Callable[[], bool], timeout_s: float = PATIENCE_S) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.005)


@pytest.fixture
def tty(tmp_path: Path) -> Iterator[PseudoTerminal]:
    with PseudoTerminal(link=tmp_path / "door") as pty:
        yield pty


@pytest.fixture
def serial(tty: PseudoTerminal) -> SerialSettings:
    return SerialSettings(port=tty.port, reconnect_initial_s=0.02, reconnect_max_s=0.1)


@pytest.fixture
def board(tty: PseudoTerminal) -> Iterator[DoorEmulator]:
    with DoorEmulator(tty, BOARD) as emulator:
        yield emulator


@pytest.fixture
def door(serial: SerialSettings) -> Iterator[DoorController]:
    controller = DoorController(serial, FAST)
    yield controller
    controller.shutdown()


@pytest.fixture
def pump(board: DoorEmulator, door: DoorController) -> Pump:
    """A pump on a driver that has connected and learnt both doors."""
    pump = Pump(door)
    pump.wait(Connected)
    pump.until(lambda e: door.state(ENTRY) is not None and door.state(EXIT) is not None)
    return pump


@pytest.mark.hardware
class TestDriver:
    def test_connects_and_learns_the_doors(self, board, door):
        pump = Pump(door)
        assert door.state(ENTRY) is None
        pump.wait(Connected)
        pump.wait(DoorStateChanged, door=EXIT, state=CLOSED)
        assert door.connected
        assert (door.state(ENTRY), door.state(EXIT)) == (CLOSED, CLOSED)
        first = board.received[0]
        assert isinstance(first, Command)
        assert first.verb == "STATUS"

    def test_open_and_close_with_acknowledgements(self, pump, door):
        command = door.open(ENTRY)
        assert command.verb == "OPEN"
        assert command.args == ("ENTRY",)
        assert pump.ack(command).reply == Reply(command.seq, (("ENTRY", "OPENING"),))
        pump.wait(DoorStateChanged, door=ENTRY, state=OPEN)
        closing = door.close(ENTRY)
        assert closing.seq != command.seq
        pump.ack(closing)
        pump.wait(DoorStateChanged, door=ENTRY, state=CLOSED)
        assert door.state(ENTRY) is CLOSED

    def test_status(self, pump, board, door):
        board.force(EXIT)
        command = door.status()
        reply = pump.ack(command).reply
        assert reply.get("EXIT") == "OPEN"
        assert door.state(EXIT) is OPEN

    def test_a_dropped_acknowledgement_is_recovered_by_a_retry(self, pump, board, door):
        board.drop_replies(1, verb="OPEN")
        command = door.open(EXIT)
        pump.ack(command)
        pump.wait(DoorStateChanged, door=EXIT, state=OPEN)
        # Sent again with the same number (at least once); carried out once.
        assert len([c for c in board.received if c == command]) >= 2
        assert board.executions("OPEN") == [command]

    def test_late_acknowledgements(self, board, serial):
        door = DoorController(serial, CommandSettings(timeout_s=0.1, retries=8, heartbeat_s=0.1))
        pump = Pump(door)
        pump.wait(Connected)
        board.delay_replies(0.15)
        command = door.open(ENTRY)
        pump.ack(command)
        pump.wait(DoorStateChanged, door=ENTRY, state=OPEN)
        door.shutdown()
        assert board.executions("OPEN") == [command]
        assert not any(isinstance(e, CommandFailed) for e in pump.events)

    def test_no_reply_after_all_retries_is_a_clear_failure(self, pump, board, door):
        board.mute()
        command = door.close(EXIT)
        failed = pump.wait(CommandFailed, command=command)
        assert failed.reason == "no reply after 3 attempts"
        # The first command to go unanswered: the CLOSE, or a heartbeat PING just before it.
        [lost] = [e for e in pump.events if isinstance(e, Disconnected)]
        assert lost.reason.startswith("device silent: ")
        assert lost.reason.endswith(", no reply after 3 attempts")
        assert [c for c in board.received if c == command] == []  # the board heard nothing
        assert (door.connected, door.state(EXIT)) == (False, None)
        board.mute(False)
        pump.wait(Connected)
        status = pump.wait(Acknowledged)
        assert status.command.verb == "STATUS"
        assert door.state(EXIT) is CLOSED

    def test_refused_commands(self, pump, board, door):
        board.jam(EXIT, "JAMMED")
        pump.wait(DoorFault, door=EXIT, code="JAMMED")
        assert door.state(EXIT) is FAULT
        command = door.open(EXIT)
        refused = pump.wait(Refused, command=command)
        assert (refused.code, refused.text) == (20, "door fault JAMMED")
        board.unjam(EXIT)
        pump.ack(door.close(EXIT))
        pump.wait(DoorStateChanged, door=EXIT, state=CLOSED)

    def test_forced_and_obstructed_doors(self, pump, board, door):
        board.force(EXIT)
        pump.wait(DoorForced, door=EXIT)
        assert door.state(EXIT) is OPEN
        pump.ack(door.open(ENTRY))
        pump.wait(DoorStateChanged, door=ENTRY, state=OPEN)
        board.obstruct(ENTRY)
        pump.ack(door.close(ENTRY))
        pump.wait(DoorObstructed, door=ENTRY)
        pump.wait(DoorStateChanged, door=ENTRY, state=OPEN)

    def test_garbage_is_reported_and_survived(self, pump, board, door):
        garbage = [
            (b"\x00\xff\xfe\r\n", "\\x00\\xff\\xfe"),
            (b"x" * 200 + b"\r\n", "x" * 64),
            (b"#1 OK *00\r\n", "#1 OK *00"),
            (b"! FORCED SIDEDOOR\r\n", "! FORCED SIDEDOOR"),
            (b"! WHATEVER 1 2\r\n", "! WHATEVER 1 2"),
            (b"#9999 OK\r\n", "#9999 OK"),
            (b"#5 OPEN EXIT\r\n", "#5 OPEN EXIT"),
        ]
        for data, raw in garbage:
            board.send_raw(data)
            pump.wait(Unrecognized, raw=raw)
        pump.ack(door.open(EXIT))
        pump.wait(DoorStateChanged, door=EXIT, state=OPEN)

    def test_lines_in_pieces_and_a_slow_device(self, pump, board, door):
        board.fragment(3, 0.01)
        pump.ack(door.open(ENTRY))
        pump.wait(DoorStateChanged, door=ENTRY, state=OPEN)
        board.fragment(1, 0.002)
        pump.ack(door.close(ENTRY))
        pump.wait(DoorStateChanged, door=ENTRY, state=CLOSED)

    def test_noise_half_a_line_before_a_reply_costs_one_retry(self, pump, board, door):
        board.send_raw(b"#12 O")
        command = door.status()
        pump.ack(command)
        assert any(isinstance(e, Unrecognized) for e in pump.events)

    def test_unplug_and_replug(self, pump, board, door, tty):
        board.mute()
        outstanding = door.open(ENTRY)
        tty.hang_up()
        lost = pump.wait(Disconnected)
        assert lost.reason.startswith(f"link down: serial port {tty.port}: lost: ")
        failed = pump.wait(CommandFailed, command=outstanding)
        assert failed.reason == lost.reason
        assert door.state(ENTRY) is None
        refused = door.close(EXIT)
        assert pump.wait(CommandFailed, command=refused).reason == "not connected"
        board.mute(False)
        tty.plug_back()
        pump.wait(Connected)
        status = pump.wait(Acknowledged)
        assert status.command.verb == "STATUS"
        # The board was never told to open the entry door: it is still closed.
        assert door.state(ENTRY) is CLOSED
        pump.ack(door.open(EXIT))

    def test_a_device_restart_makes_the_driver_ask_again(self, pump, board, door):
        pump.ack(door.open(ENTRY))
        pump.wait(DoorStateChanged, door=ENTRY, state=OPEN)
        board.power_cycle()
        pump.wait(DeviceRestarted)
        assert door.state(ENTRY) is None
        status = pump.wait(Acknowledged)
        assert status.command.verb == "STATUS"
        # The board drives an open door closed when it starts.
        assert status.reply.get("ENTRY") in ("CLOSING", "CLOSED")
        pump.run_until(lambda: door.state(ENTRY) is CLOSED)

    def test_without_checksums(self, tty, serial):
        with DoorEmulator(tty, BOARD, with_checksum=False) as board:
            door = DoorController(serial, FAST.model_copy(update={"checksum": False}))
            pump = Pump(door)
            pump.wait(Connected)
            pump.ack(door.open(EXIT))
            pump.wait(DoorStateChanged, door=EXIT, state=OPEN)
            door.shutdown()
        # (A late reply on a busy machine can make a retry's answer a stray one; nothing else.)
        odd = [e for e in pump.events if isinstance(e, Unrecognized)]
        assert all(e.reason == "reply to no outstanding command" for e in odd)
        assert all(isinstance(item, Command) for item in board.received)


@pytest.mark.hardware
class TestInterlockedBoard:
    """An interlocked board refuses, the driver says which door, and the board log tells all."""

    def test_a_refusal_names_the_door_and_a_retry_after_closed_succeeds(self, tty, serial):
        settings = BOARD.model_copy(update={"interlock": True})
        with DoorEmulator(tty, settings) as board:
            door = DoorController(serial, FAST)
            pump = Pump(door)
            try:
                pump.wait(Connected)
                pump.ack(door.open(ENTRY))
                pump.wait(DoorStateChanged, door=ENTRY, state=OPEN)
                refused_command = door.open(EXIT)  # while the entry is open
                refused = pump.wait(Refused, command=refused_command)
                assert isinstance(refused, DoorRefused)
                assert (refused.door, refused.verb, refused.code) == (EXIT, "OPEN", 21)
                assert refused.interlock
                # What the service does: close, wait for CLOSED, then ask again.
                pump.ack(door.close(ENTRY))
                pump.wait(DoorStateChanged, door=ENTRY, state=CLOSED)
                pump.ack(door.open(EXIT))
                pump.wait(DoorStateChanged, door=EXIT, state=OPEN)
                pump.ack(door.close(EXIT))
                pump.wait(DoorStateChanged, door=EXIT, state=CLOSED)
            finally:
                door.shutdown()
            log = board.log
        assert [(change.door, change.state) for change in log] == [
            (ENTRY, OPENING),
            (ENTRY, OPEN),
            (ENTRY, CLOSING),
            (ENTRY, CLOSED),
            (EXIT, OPENING),
            (EXIT, OPEN),
            (EXIT, CLOSING),
            (EXIT, CLOSED),
        ]
        assert both_not_closed(log) == []
        times = [change.at for change in log]
        assert times == sorted(times)


@pytest.mark.hardware
class TestWatchdog:
    def test_the_exit_door_closes_when_pings_stop(self, tty, serial):
        settings = DoorBoardSettings(travel_s=0.1, watchdog_s=1.0)
        with DoorEmulator(tty, settings) as board:
            door = DoorController(serial, FAST)
            pump = Pump(door)
            pump.wait(Connected)
            # Polling feeds the watchdog: the door opens and stays open.
            pump.ack(door.open(EXIT))
            pump.wait(DoorStateChanged, door=EXIT, state=OPEN)
            # egate falls silent: no poll, so no PING.
            wait_until(lambda: board.state(EXIT) is CLOSED)
            pump.wait(WatchdogTripped)
            pump.wait(DoorStateChanged, door=EXIT, state=CLOSED)
            door.shutdown()

    def test_heartbeats_keep_the_watchdog_quiet(self, tty, serial):
        # The watchdog allows fifteen heartbeat intervals of silence.
        settings = DoorBoardSettings(travel_s=0.1, watchdog_s=1.5)
        with DoorEmulator(tty, settings) as board:
            door = DoorController(serial, FAST)
            pump = Pump(door)
            pump.wait(Connected)
            pump.ack(door.open(EXIT))
            # More heartbeats than fit in one watchdog period (0.1 s apart at the soonest).
            pump.run_until(lambda: len(board.executions("PING")) >= 20)
            door.shutdown()
            assert board.state(EXIT) is OPEN
            assert not any(isinstance(e, WatchdogTripped) for e in pump.events)


@pytest.mark.hardware
class TestPorts:
    def test_a_missing_port_is_reported_once_and_found_when_it_appears(self, tmp_path):
        link = tmp_path / "later"
        serial = SerialSettings(port=str(link), reconnect_initial_s=0.02, reconnect_max_s=0.05)
        door = DoorController(serial, FAST)
        pump = Pump(door)
        lost = pump.wait(Disconnected)
        assert lost.reason == f"serial port {link}: cannot open: no such device"
        failed = door.open(EXIT)
        assert pump.wait(CommandFailed, command=failed).reason == "not connected"
        with PseudoTerminal(link=link) as tty, DoorEmulator(tty, BOARD):
            pump.wait(Connected)
            door.shutdown()
        assert sum(isinstance(e, Disconnected) for e in pump.events) == 1

    def test_a_loopback_url_hears_its_own_commands_and_survives(self):
        door = DoorController(SerialSettings(port="loop://"), FAST)
        pump = Pump(door)
        echo = pump.wait(Unrecognized)
        assert echo.reason == "a command from the device"
        assert echo.raw.endswith("STATUS")
        failed = pump.wait(CommandFailed)
        assert failed.command.verb == "STATUS"
        door.shutdown()

    def test_a_link_that_waits_in_read_is_refused(self):
        link = SerialLink(SerialSettings(port="loop://", read_timeout_s=0.05))
        with pytest.raises(ValueError, match="read_timeout_s must be 0"):
            DoorController(link)
