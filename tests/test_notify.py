"""The sd_notify client against a real Unix datagram socket, as systemd listens on one."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from egate.notify import Notifier

# Hang guard for a receive that should find a message already queued.
RECEIVE_S = 10.0


class Manager:
    """A stand-in for systemd: the datagram socket that $NOTIFY_SOCKET names."""

    def __init__(self, sock: socket.socket, address: str) -> None:
        self.socket = sock
        self.address = address

    def receive(self) -> dict[str, str]:
        """The next message, as its KEY=value fields."""
        data = self.socket.recv(4096)
        return dict(line.split("=", 1) for line in data.decode("utf-8").split("\n"))

    def pending(self) -> int:
        """Messages waiting, without waiting for more."""
        count = 0
        self.socket.setblocking(False)
        try:
            while True:
                self.socket.recv(4096)
                count += 1
        except BlockingIOError:
            return count
        finally:
            self.socket.settimeout(RECEIVE_S)


@pytest.fixture
def manager(tmp_path: Path) -> Iterator[Manager]:
    path = str(tmp_path / "notify.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(path)
        sock.settimeout(RECEIVE_S)
        yield Manager(sock, path)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_ready_watchdog_and_stopping_arrive(manager):
    clock = Clock()
    environ = {"NOTIFY_SOCKET": manager.address, "WATCHDOG_USEC": "20000000"}
    with Notifier(environ, clock=clock) as notifier:
        assert notifier.enabled
        assert notifier.watchdog_interval_s == 20.0
        notifier.ready("serving: gate idle")
        assert manager.receive() == {"READY": "1", "STATUS": "serving: gate idle"}
        notifier.watchdog()
        assert manager.receive() == {"WATCHDOG": "1"}
        notifier.stopping("stopping")
        assert manager.receive() == {"STOPPING": "1", "STATUS": "stopping"}


def test_watchdog_pings_four_times_per_interval(manager):
    clock = Clock()
    environ = {"NOTIFY_SOCKET": manager.address, "WATCHDOG_USEC": "8000000"}
    with Notifier(environ, clock=clock) as notifier:
        for _ in range(5):
            notifier.watchdog()  # every round of the loop calls it
        clock.now = 1.9
        notifier.watchdog()
        assert manager.pending() == 1
        clock.now = 2.0
        notifier.watchdog()
        notifier.watchdog()
        assert manager.pending() == 1


def test_the_status_is_one_line_sent_when_it_changes(manager):
    with Notifier({"NOTIFY_SOCKET": manager.address}) as notifier:
        notifier.status("gate idle,\n3 transactions")
        notifier.status("gate idle, 3 transactions")
        assert manager.receive() == {"STATUS": "gate idle, 3 transactions"}
        assert manager.pending() == 0


def test_a_reload_is_announced_with_its_monotonic_time(manager):
    with Notifier({"NOTIFY_SOCKET": manager.address}) as notifier:
        notifier.reloading("reloading the stop list")
        message = manager.receive()
        assert message["RELOADING"] == "1"
        assert message["STATUS"] == "reloading the stop list"
        assert int(message["MONOTONIC_USEC"]) > 0
        notifier.ready("serving")
        assert manager.receive() == {"READY": "1", "STATUS": "serving"}


def test_an_abstract_socket_name_starts_with_at(manager):
    name = f"egate-test-{os.getpid()}-{id(manager)}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as abstract:
        abstract.bind("\0" + name)
        abstract.settimeout(RECEIVE_S)
        with Notifier({"NOTIFY_SOCKET": "@" + name}) as notifier:
            notifier.ready("up")
        assert abstract.recv(4096) == b"READY=1\nSTATUS=up"


def test_without_a_manager_nothing_is_sent():
    notifier = Notifier({})
    assert not notifier.enabled
    assert notifier.notify(READY="1") is False
    notifier.watchdog()
    notifier.ready("up")
    notifier.close()


@pytest.mark.parametrize(
    ("environ", "interval"),
    [
        ({}, None),
        ({"WATCHDOG_USEC": "0"}, None),
        ({"WATCHDOG_USEC": "soon"}, None),
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "4242"}, 30.0),
        # The watchdog of another process (systemd set it for a parent).
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}, None),
    ],
)
def test_the_watchdog_interval_is_read_for_this_process(environ, interval):
    assert Notifier(environ, pid=4242).watchdog_interval_s == interval


def test_a_manager_that_went_away_never_stops_the_gate(manager, caplog):
    with Notifier({"NOTIFY_SOCKET": manager.address, "WATCHDOG_USEC": "1000000"}) as notifier:
        manager.socket.close()
        os.unlink(manager.address)
        assert notifier.notify(READY="1") is False
        notifier.watchdog()
        notifier.stopping("stopping")
    warnings = [record for record in caplog.records if record.name == "egate.notify"]
    assert len(warnings) == 1
    assert "cannot notify the service manager" in warnings[0].getMessage()


def test_a_relative_socket_path_is_ignored():
    assert not Notifier({"NOTIFY_SOCKET": "notify.sock"}).enabled
