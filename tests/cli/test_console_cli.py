"""``egate console`` and ``egate replay --console``: choosing a drill, argument errors, serving.

No real replay runs here (they take seconds; the browser tests run one): the
wiring is checked with a stand-in ``Replay`` and no matching core.
"""

from __future__ import annotations

import json
import os
import signal
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx2 as httpx
import pytest

import egate.cli.console as console_cli
import egate.cli.replay as replay_cli
from egate.cli.console import Address, Drill, choose, drill_list, shipped_drills
from egate.cli.errors import InputError
from egate.samples import installed_samples
from egate.shipped import shipped_file
from station.classroom.runner import listen
from station.training.transcript import ReplayRun

DRILLS = {
    "document-fraud.yaml",
    "fraud-workshop.yaml",
    "impostor-drill.yaml",
    "pudong-morning.yaml",
    "tailgating-and-faults.yaml",
}


@pytest.fixture
def taken_port():
    """A port some other socket is listening on."""
    sock = listen("127.0.0.1", 0)
    yield sock.getsockname()[1]
    sock.close()


def test_the_shipped_drills_are_listed_with_their_names():
    drills = shipped_drills()
    assert {drill.file for drill in drills} >= DRILLS
    impostor = next(drill for drill in drills if drill.key == "impostor-drill")
    assert impostor.name == "Impostor drill"
    assert impostor.passengers == 13
    listing = drill_list(drills).splitlines()
    assert listing[0] == "Shipped drills:"
    assert any(
        row.split()[:3] == [str(drills.index(impostor) + 1), "impostor-drill", "Impostor"]
        for row in listing
    )


def test_a_drill_is_chosen_by_number_file_or_name():
    drills = [Drill("a-drill.yaml", "A", 2), Drill("b.yaml", "B", None)]
    assert choose(drills, "2") == drills[1]
    assert choose(drills, "a-drill") == drills[0]
    assert choose(drills, " b.yaml ") == drills[1]
    for wrong in ("0", "3", "c", "", "-1"):
        with pytest.raises(InputError, match="give a number from 1 to 2 or one of a-drill, b"):
            choose(drills, wrong)


def test_without_a_drill_or_a_terminal_it_lists_them_and_exits_2(cli):
    ran = cli("console")
    assert ran.status == 2
    assert ran.out.startswith("Shipped drills:\n")
    assert "impostor-drill" in ran.out
    assert ran.err == "egate: error: give a DRILL: a number or a name from the list above\n"


@pytest.mark.parametrize("drill", ["no-such-drill", "99", "0"])
def test_an_unknown_drill_exits_2_in_one_line(cli, drill):
    ran = cli("console", drill)
    assert ran.status == 2
    assert ran.err.startswith(f"egate: error: no shipped drill {drill!r}: give a number")
    assert ran.err.count("\n") == 1


def test_at_a_terminal_it_asks_which_drill(cli, monkeypatch):
    chosen: list[tuple[Path, Address, float, bool]] = []

    def fake(path, address, pace, show, out_dir, photos):
        assert path.is_file()
        chosen.append((path, address, pace.speed, pace.fast))
        return 0

    monkeypatch.setattr(console_cli, "_interactive", lambda: True)
    monkeypatch.setattr(console_cli, "replay_with_console", fake)
    number = [drill.key for drill in shipped_drills()].index("impostor-drill") + 1
    ran = cli("console", "--fast", "--port", "0", stdin=f"{number}\n".encode())
    assert ran.status == 0, ran.err
    assert "Shipped drills:" in ran.out and "Drill (number or name)" in ran.out
    [(path, address, speed, fast)] = chosen
    assert speed == 1.0
    assert path.name == "impostor-drill.yaml"
    assert address == Address("127.0.0.1", 0)
    assert fast is True


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["console", "impostor-drill", "--speed", "2", "--fast"], "--speed or --fast"),
        (["console", "impostor-drill", "--port", "70000"], "70000"),
        (["replay", "--port", "9000"], "--host and --port need --console"),
        (["replay", "--host", "0.0.0.0"], "--host and --port need --console"),
        (["replay", "--console", "--port", "-1"], "-1"),
    ],
)
def test_option_errors_exit_2(cli, argv, words):
    ran = cli(*argv)
    assert ran.status == 2
    assert words in ran.err
    assert ran.err.count("\n") == 1


def test_a_port_in_use_exits_2_naming_host_and_port(cli, taken_port):
    for argv in (
        ["console", "impostor-drill", "--port", str(taken_port)],
        ["replay", "--console", "--port", str(taken_port)],
    ):
        ran = cli(*argv)
        assert ran.status == 2
        assert ran.err.startswith(f"egate: error: cannot listen on 127.0.0.1:{taken_port}: ")
        assert ran.err.count("\n") == 1
        assert "Traceback" not in ran.err


def test_a_host_that_does_not_resolve_exits_2(cli):
    ran = cli("console", "impostor-drill", "--host", "no-such-host.invalid", "--port", "0")
    assert ran.status == 2
    assert ran.err.startswith("egate: error: cannot listen on no-such-host.invalid:0: ")


# -- serving, with a stand-in replay ------------------------------------------------------------


@dataclass
class Stand:
    """What the stand-in replay saw and fetched while it ran, and how it should end."""

    ports: list[int] = field(default_factory=list)
    state: dict = field(default_factory=dict)
    kwargs: dict = field(default_factory=dict)
    fail: Exception | None = None


@pytest.fixture
def stand_in(monkeypatch):
    """``Replay`` and the matching core replaced: the replay reads the console, then Ctrl-C."""
    if installed_samples() is None:
        pytest.skip("the impostor drill's sample photos are not installed (egate samples fetch)")
    stand = Stand()

    def recording_listen(host, port):
        sock = listen(host, port)
        stand.ports.append(sock.getsockname()[1])
        return sock

    class FakeReplay:
        def __init__(self, scenario, source, **kwargs):
            self.scenario, self.source = scenario, source
            stand.kwargs = kwargs

        def run(self, stop):
            port = stand.ports[0]
            stand.state = httpx.get(f"http://127.0.0.1:{port}/api/state").json()
            if stand.fail is not None:
                raise stand.fail
            # Ctrl-C, as a trainer ends the class.
            threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGINT)).start()
            return ReplayRun(self.scenario, self.source, 1.0, False)

    @contextmanager
    def no_core(scenario):
        yield None, None

    monkeypatch.setattr(console_cli, "listen", recording_listen)
    monkeypatch.setattr(replay_cli, "Replay", FakeReplay)
    monkeypatch.setattr(console_cli, "matching_core", no_core)
    return stand


def test_replay_console_serves_the_replay_and_ctrl_c_ends_it_with_0(cli, stand_in, tmp_path):
    out = tmp_path / "out"
    with shipped_file("scenarios", "impostor-drill.yaml") as drill:
        ran = cli("replay", str(drill), "--console", "--port", "0", "--out", str(out))
    assert ran.status == 0, ran.err
    [port] = stand_in.ports
    lines = ran.out.splitlines()
    assert lines[0].startswith("egate replay: Impostor drill")
    [instructor] = [line for line in lines if line.startswith("instructor: ")]
    [desk] = [line for line in lines if line.startswith("desk: ")]
    assert f"viewers: http://127.0.0.1:{port}/" in lines
    assert instructor.startswith(f"instructor: http://127.0.0.1:{port}/?token=")
    assert desk.startswith(f"desk: http://127.0.0.1:{port}/?token=")
    assert instructor.split("=")[1] != desk.split("=")[1]
    # The replay got the console's control and view; the console showed the scenario.
    assert {"control", "live"} <= stand_in.kwargs.keys()
    assert stand_in.kwargs["live"] is not None
    assert stand_in.state["scenario"]["name"] == "Impostor drill"
    assert stand_in.state["role"] == "viewer"
    card = json.loads((out / "scorecard.json").read_text())
    assert card["desk"]["of"] == 0
    # Stopped: nothing listens on the port any more.
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/api/state")


def test_a_replay_that_fails_ends_the_console_with_its_error(cli, stand_in):
    stand_in.fail = InputError("drill.yaml:3: passengers: a problem")
    ran = cli("replay", "--console", "--port", "0")
    assert ran.status == 2
    assert ran.err == "egate: error: drill.yaml:3: passengers: a problem\n"
    [port] = stand_in.ports
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/api/state")


def test_with_json_the_urls_go_to_stderr_and_stdout_is_the_scorecard(cli, stand_in):
    with shipped_file("scenarios", "impostor-drill.yaml") as drill:
        ran = cli("replay", str(drill), "--console", "--json", "--port", "0")
    assert ran.status == 0, ran.err
    card = json.loads(ran.out)
    assert card["desk"]["decided"] == 0
    [port] = stand_in.ports
    assert f"viewers: http://127.0.0.1:{port}/" in ran.err.splitlines()
