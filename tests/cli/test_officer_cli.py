"""``egate officer``: the gate's answer, and an exit status for each kind of answer."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from station.console import OfficerConsole
from station.orders import OfficerOrder

NOBODY = "nobody is in the gate: there is no one to let out"


@pytest.fixture
def sock() -> Iterator[Path]:
    # Unix socket paths are limited to ~100 bytes; pytest's tmp paths can be long.
    with tempfile.TemporaryDirectory(prefix="egate-", dir="/tmp") as short:
        yield Path(short) / "console.sock"


def carry_out(order: OfficerOrder) -> None:
    """A service that carries every order out at once."""
    assert order.claim()
    order.taken()


def refuse(order: OfficerOrder) -> None:
    """A service with nobody in the gate."""
    assert order.claim()
    order.refuse(NOBODY)


def test_an_order_carried_out_exits_0(cli, sock: Path) -> None:
    with OfficerConsole(sock, carry_out):
        ran = cli("officer", "close", "--console", str(sock))
    assert (ran.status, ran.out, ran.err) == (0, "ok close\n", "")


def test_a_refused_order_exits_1_with_the_reason(cli, sock: Path) -> None:
    with OfficerConsole(sock, refuse):
        ran = cli("officer", "open_exit", "--console", str(sock))
    assert (ran.status, ran.out) == (1, "")
    assert ran.err == f"egate officer: error refused: {NOBODY}\n"


def test_an_order_not_taken_exits_1(cli, sock: Path) -> None:
    queued: list[OfficerOrder] = []
    with OfficerConsole(sock, queued.append, deadline_s=0.2):  # never stepped
        ran = cli("officer", "reset", "--console", str(sock))
    assert (ran.status, ran.out) == (1, "")
    assert ran.err == (
        "egate officer: error not taken: the gate did not take the order within 0.2 s\n"
    )
    assert not queued[0].claim()  # and it can no longer be carried out


def test_no_gate_on_the_socket_exits_2(cli, sock: Path) -> None:
    ran = cli("officer", "close", "--console", str(sock))
    assert (ran.status, ran.out) == (2, "")
    assert ran.err.startswith(f"egate: error: officer console {sock}: ")
    assert len(ran.err.splitlines()) == 1
