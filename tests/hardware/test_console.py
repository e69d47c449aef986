"""The officer console socket: actions in, answers out, bad lines refused."""

from __future__ import annotations

import socket
import stat
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from egate.gate.events import OfficerAction
from hardware.console import ConsoleError, OfficerConsole, parse_action, send_order


@pytest.fixture
def sock(tmp_path: Path) -> Path:
    # Unix socket paths are limited to ~100 bytes; pytest's tmp paths can be long.
    path = Path("/tmp") / f"egate-console-{tmp_path.name}.sock"
    yield path
    path.unlink(missing_ok=True)


def test_orders_reach_the_service_in_order(sock: Path) -> None:
    orders: list[OfficerAction] = []
    with OfficerConsole(sock, orders.append):
        assert stat.S_IMODE(sock.stat().st_mode) == 0o660
        assert send_order(sock, OfficerAction.CLOSE) == "ok close"
        assert send_order(sock, OfficerAction.RESET) == "ok reset"
    assert orders == [OfficerAction.CLOSE, OfficerAction.RESET]
    assert not sock.exists()  # removed at close


def test_unknown_and_overlong_lines_are_refused(sock: Path) -> None:
    orders: list[OfficerAction] = []
    with OfficerConsole(sock, orders.append), socket.socket(socket.AF_UNIX) as client:
        client.connect(str(sock))
        stream = client.makefile("rwb")
        stream.write(b"dance\n")
        stream.flush()
        assert stream.readline().startswith(b"error unknown action 'dance'")
        stream.write(b"REFER\n")
        stream.flush()
        assert stream.readline() == b"ok refer\n"
        stream.write(b"x" * 100 + b"\n")
        stream.flush()
        assert stream.readline() == b"error line too long\n"
    assert orders == [OfficerAction.REFER]


def test_a_stale_socket_is_replaced_but_a_regular_file_is_not(sock: Path) -> None:
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(str(sock))
    stale.close()  # a killed service leaves its socket file behind
    with OfficerConsole(sock, lambda action: None):
        assert send_order(sock, OfficerAction.CLOSE) == "ok close"
    sock.write_text("not a socket")
    with pytest.raises(ConsoleError, match="exists and is not a socket"):
        OfficerConsole(sock, lambda action: None)


def test_nobody_listening_is_a_console_error(sock: Path) -> None:
    with pytest.raises(ConsoleError, match=str(sock)):
        send_order(sock, OfficerAction.CLOSE)


@given(st.text(max_size=20))
def test_parse_action_accepts_exactly_the_actions(text: str) -> None:
    word = text.strip().lower()
    if word in {action.value for action in OfficerAction}:
        assert parse_action(text) is OfficerAction(word)
    else:
        with pytest.raises(ValueError, match="expected one of: open_exit, close, refer, reset"):
            parse_action(text)
