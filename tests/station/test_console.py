"""The officer console socket: answers that tell the truth, and no client holds up another.

The service is stood in for by ``StandIn``, which claims and settles orders
the way ``GateService.step`` does, either when a test steps it or from a
thread that steps it like ``egate run``'s loop.  Waiting limits here are a
safety net against a hung test, never a measure.
"""

from __future__ import annotations

import contextlib
import socket
import stat
import tempfile
import threading
import time
from collections import deque
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from egate.gate.events import OfficerAction
from station.console import (
    MAX_LINE,
    ConsoleError,
    OfficerConsole,
    parse_action,
    send_order,
)
from station.orders import OfficerOrder, OrderState

PATIENCE_S = 30.0
# A console deadline short enough for the tests that wait it out.
SHORT_S = 0.3
NOBODY = "nobody is in the gate: there is no one to let out"


class StandIn:
    """Takes orders like the service: each step claims them, then refuses or carries out."""

    def __init__(self, refusals: Mapping[OfficerAction, str] | None = None) -> None:
        self.refusals = dict(refusals or {})
        self.queued: deque[OfficerOrder] = deque()
        self.seen: list[OfficerOrder] = []
        self.carried_out: list[OfficerAction] = []

    def officer(self, order: OfficerOrder) -> None:
        self.queued.append(order)
        self.seen.append(order)

    def step(self) -> None:
        while self.queued:
            order = self.queued.popleft()
            if not order.claim():
                continue
            reason = self.refusals.get(order.action)
            if reason is not None:
                order.refuse(reason)
            else:
                self.carried_out.append(order.action)
                order.taken()


@contextlib.contextmanager
def stepping(stand_in: StandIn) -> Iterator[None]:
    """Step ``stand_in`` from a thread of its own, as ``egate run`` steps the service."""
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            stand_in.step()
            time.sleep(0.002)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(PATIENCE_S)


@pytest.fixture
def sock() -> Iterator[Path]:
    # Unix socket paths are limited to ~100 bytes; pytest's tmp paths can be long.
    with tempfile.TemporaryDirectory(prefix="egate-", dir="/tmp") as short:
        yield Path(short) / "console.sock"


def connect(path: Path) -> socket.socket:
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    client.settimeout(PATIENCE_S)
    client.connect(str(path))
    return client


def read_line(client: socket.socket) -> bytes:
    """One answer line (with its newline), or what came before the console closed."""
    answer = b""
    while not answer.endswith(b"\n"):
        chunk = client.recv(1)
        if not chunk:
            break
        answer += chunk
    return answer


def hung_up(client: socket.socket) -> bool:
    """Whether the console closed the connection (a reset, if it left bytes unread)."""
    try:
        return client.recv(1) == b""
    except ConnectionResetError:
        return True


# --- answers -----------------------------------------------------------------------------


def test_ok_comes_once_the_service_has_carried_the_order_out(sock: Path) -> None:
    service = StandIn()
    with OfficerConsole(sock, service.officer), stepping(service):
        assert stat.S_IMODE(sock.stat().st_mode) == 0o660
        assert send_order(sock, OfficerAction.CLOSE) == "ok close"
        assert service.carried_out == [OfficerAction.CLOSE]
        assert send_order(sock, OfficerAction.RESET) == "ok reset"
    assert service.carried_out == [OfficerAction.CLOSE, OfficerAction.RESET]
    assert not sock.exists()  # removed at close


def test_a_refused_order_is_answered_with_the_reason(sock: Path) -> None:
    service = StandIn({OfficerAction.OPEN_EXIT: NOBODY})
    with OfficerConsole(sock, service.officer), stepping(service):
        assert send_order(sock, OfficerAction.OPEN_EXIT) == f"error refused: {NOBODY}"
    assert service.carried_out == []
    assert [order.state for order in service.seen] == [OrderState.REFUSED]


def test_an_order_not_taken_in_time_is_never_carried_out(sock: Path) -> None:
    service = StandIn()  # not stepped: the service is busy elsewhere
    with OfficerConsole(sock, service.officer, deadline_s=SHORT_S):
        answer = send_order(sock, OfficerAction.CLOSE)
        assert answer == "error not taken: the gate did not take the order within 0.3 s"
        service.step()  # the service comes round to it after all
    assert service.carried_out == []
    assert [order.state for order in service.seen] == [OrderState.ABANDONED]


def test_an_order_claimed_before_the_deadline_is_answered_with_what_was_done(
    sock: Path,
) -> None:
    # The service claims the order, then takes longer than the console's
    # deadline to carry it out: the console waits for the truth.
    claimed = threading.Event()
    orders: list[OfficerOrder] = []

    def slow_service(order: OfficerOrder) -> None:
        orders.append(order)
        assert order.claim()
        claimed.set()

    with OfficerConsole(sock, slow_service, deadline_s=SHORT_S), connect(sock) as client:
        client.sendall(b"close\n")
        assert claimed.wait(PATIENCE_S)
        time.sleep(3 * SHORT_S)  # well past the deadline
        assert orders[0].state is OrderState.CLAIMED
        orders[0].taken()
        assert read_line(client) == b"ok close\n"


def test_unknown_and_overlong_lines_are_refused(sock: Path) -> None:
    service = StandIn()
    with OfficerConsole(sock, service.officer), stepping(service), connect(sock) as client:
        client.sendall(b"dance\n")
        assert read_line(client).startswith(b"error unknown action 'dance'")
        client.sendall(b"REFER\r\n")
        assert read_line(client) == b"ok refer\n"
        client.sendall(b"x" * 100 + b"\n")
        assert read_line(client) == b"error line too long\n"
        assert hung_up(client)
    assert service.carried_out == [OfficerAction.REFER]


def test_a_line_of_max_line_bytes_is_read_and_one_more_is_too_long(sock: Path) -> None:
    service = StandIn()
    with OfficerConsole(sock, service.officer), stepping(service), connect(sock) as client:
        client.sendall(b" " * (MAX_LINE - len("close")) + b"close\n")
        assert read_line(client) == b"ok close\n"
        client.sendall(b" " * (MAX_LINE + 1 - len("close")) + b"close\n")
        assert read_line(client) == b"error line too long\n"
    assert service.carried_out == [OfficerAction.CLOSE]


def test_orders_sent_together_are_answered_in_order(sock: Path) -> None:
    service = StandIn({OfficerAction.REFER: "no transaction in progress"})
    with OfficerConsole(sock, service.officer), stepping(service), connect(sock) as client:
        client.sendall(b"close\nrefer\nreset\n")
        answers = [read_line(client) for _ in range(3)]
    assert answers == [
        b"ok close\n",
        b"error refused: no transaction in progress\n",
        b"ok reset\n",
    ]
    assert service.carried_out == [OfficerAction.CLOSE, OfficerAction.RESET]


def test_a_last_line_without_newline_counts_when_the_client_stops_sending(sock: Path) -> None:
    service = StandIn()
    with OfficerConsole(sock, service.officer), stepping(service), connect(sock) as client:
        client.sendall(b"close")
        client.shutdown(socket.SHUT_WR)
        assert read_line(client) == b"ok close\n"
        assert hung_up(client)
    assert service.carried_out == [OfficerAction.CLOSE]


def test_closing_the_console_answers_what_is_pending(sock: Path) -> None:
    service = StandIn()  # never stepped
    console = OfficerConsole(sock, service.officer)
    with connect(sock) as client:
        client.sendall(b"close\n")
        while not service.seen:  # the console has handed the order over
            time.sleep(0.005)
        console.close()
        assert read_line(client) == b"error not taken: the console is closing\n"
    service.step()
    assert service.carried_out == []


def test_a_service_that_cannot_queue_an_order_is_answered_and_the_console_goes_on(
    sock: Path,
) -> None:
    def broken(order: OfficerOrder) -> None:
        raise RuntimeError("queue gone")

    with OfficerConsole(sock, broken), connect(sock) as client:
        client.sendall(b"close\nreset\n")
        assert read_line(client) == b"error failed: the service did not queue it (queue gone)\n"
        assert read_line(client) == b"error failed: the service did not queue it (queue gone)\n"


# --- floods, trickles, crowds --------------------------------------------------------------


def test_a_flood_without_newline_is_cut_off_after_max_line_bytes(sock: Path) -> None:
    # The reproduction sent 1.5 GiB; 64 MiB shows the same: the console reads
    # one byte past the longest line, answers and hangs up.
    flood = 64 * 1024 * 1024
    chunk = b"x" * (1024 * 1024)
    sent = 0
    service = StandIn()
    with OfficerConsole(sock, service.officer) as console, connect(sock) as client:

        def pour() -> None:
            nonlocal sent
            with contextlib.suppress(OSError):
                while sent < flood:
                    sent += client.send(chunk)

        pourer = threading.Thread(target=pour, daemon=True)
        pourer.start()
        assert read_line(client) == b"error line too long\n"
        pourer.join(PATIENCE_S)
        assert not pourer.is_alive()
        assert console.buffered_peak == MAX_LINE + 1
    # What got out of the client before the hang-up sat in socket buffers only.
    assert sent < flood // 8
    assert service.seen == []


def test_a_trickling_client_holds_up_nobody_and_is_cut_off_at_its_deadline(sock: Path) -> None:
    service = StandIn()
    with (
        OfficerConsole(sock, service.officer, deadline_s=1.0),
        stepping(service),
        connect(sock) as slow,
    ):
        # One byte at a time, never a newline: a per-read timeout would be
        # reset by every byte; the whole-order deadline is not.
        answered = threading.Event()
        trickled = 0

        def trickle() -> None:
            nonlocal trickled
            with contextlib.suppress(OSError):
                while trickled < MAX_LINE and not answered.is_set():
                    slow.send(b"c")
                    trickled += 1
                    time.sleep(0.05)

        trickler = threading.Thread(target=trickle, daemon=True)
        trickler.start()
        # Another officer is served while the trickle goes on.
        assert send_order(sock, OfficerAction.CLOSE) == "ok close"
        assert trickler.is_alive()
        assert read_line(slow) == b"error deadline: no complete line within 1 s\n"
        answered.set()
        trickler.join(PATIENCE_S)
        assert trickled < MAX_LINE  # cut off by the deadline, not by the line limit
    assert service.carried_out == [OfficerAction.CLOSE]


def test_orders_of_several_clients_wait_for_the_service_side_by_side(sock: Path) -> None:
    service = StandIn()  # stepped once every order is in
    with OfficerConsole(sock, service.officer) as console:
        clients = [connect(sock) for _ in range(3)]
        with contextlib.ExitStack() as stack:
            for client in clients:
                stack.enter_context(client)
            for client, word in zip(clients, (b"close", b"reset", b"refer"), strict=True):
                client.sendall(word + b"\n")
            while len(service.seen) < 3:  # all three handed over, none answered yet
                time.sleep(0.005)
            service.step()
            answers = {read_line(client) for client in clients}
        assert console.buffered_peak <= MAX_LINE + 1
    assert answers == {b"ok close\n", b"ok reset\n", b"ok refer\n"}


def test_one_connection_over_the_limit_is_answered_busy(sock: Path) -> None:
    service = StandIn()
    with (
        OfficerConsole(sock, service.officer, max_connections=2),
        stepping(service),
        connect(sock) as first,
        connect(sock),
    ):
        with connect(sock) as third:
            assert read_line(third) == b"error busy: 2 connections open\n"
            assert hung_up(third)
        # The connections already open are served as ever.
        first.sendall(b"close\n")
        assert read_line(first) == b"ok close\n"


# --- the socket and the client ---------------------------------------------------------------


def test_a_stale_socket_is_replaced_but_a_regular_file_is_not(sock: Path) -> None:
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(str(sock))
    stale.close()  # a killed service leaves its socket file behind
    service = StandIn()
    with OfficerConsole(sock, service.officer), stepping(service):
        assert send_order(sock, OfficerAction.CLOSE) == "ok close"
    sock.write_text("not a socket")
    with pytest.raises(ConsoleError, match="exists and is not a socket"):
        OfficerConsole(sock, service.officer)


def test_nobody_listening_is_a_console_error(sock: Path) -> None:
    with pytest.raises(ConsoleError, match=str(sock)):
        send_order(sock, OfficerAction.CLOSE)


@pytest.mark.parametrize(
    ("reply", "error"),
    [(None, "no answer within 0.3 s"), (b"", "no answer"), (b"hello\n", "not a console's answer")],
)
def test_a_silent_or_foreign_server_is_a_console_error(
    sock: Path, reply: bytes | None, error: str
) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
        server.bind(str(sock))
        server.listen(1)

        def serve() -> None:
            connection, _ = server.accept()
            with connection:
                connection.recv(64)
                if reply is None:
                    connection.recv(64)  # until the client gives up
                else:
                    connection.sendall(reply)

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        with pytest.raises(ConsoleError, match=error):
            send_order(sock, OfficerAction.CLOSE, timeout_s=SHORT_S)
        thread.join(PATIENCE_S)


@given(st.text(max_size=20))
def test_parse_action_accepts_exactly_the_actions(text: str) -> None:
    word = text.strip().lower()
    if word in {action.value for action in OfficerAction}:
        assert parse_action(text) is OfficerAction(word)
    else:
        with pytest.raises(ValueError, match="expected one of: open_exit, close, refer, reset"):
            parse_action(text)
