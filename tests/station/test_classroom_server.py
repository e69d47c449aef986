"""The console's web server, on fakes of the live view, the replay control and the desk.

The fakes implement only the methods of the console contract, so the server
is held to them. Starlette's TestClient runs the app (its lifespan, hence the
broadcaster, too) in a thread of its own; a test that waits for a broadcast
reads messages until the one it wants arrives.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from station.classroom import protocol
from station.classroom.runner import ConsoleAddressError, ConsoleRunner, listen
from station.classroom.server import ConsoleServer, ConsoleUrls, Tokens, _Client
from station.training.control import StepUntil
from station.training.desk import DeskDecision, RefusalReason
from station.training.scenario import FaultDevice

TOKENS = Tokens("instructor-token", "desk-token")
JPEG = b"\xff\xd8\xff\xe0fake-jpeg\xff\xd9"


@dataclass
class FakeVerdict:
    passenger: str
    decision: DeskDecision
    reason: RefusalReason | None

    def to_json(self) -> dict[str, object]:
        return {
            "decision": self.decision.value,
            "reason": None if self.reason is None else self.reason.value,
            "verdict": "correct",
            "points": 1.0,
        }


@dataclass
class FakeDesk:
    referred: set[str] = field(default_factory=lambda: {"P07"})
    decided: list[tuple[str, DeskDecision, RefusalReason | None]] = field(default_factory=list)

    def decide(
        self, passenger: str, decision: DeskDecision, reason: RefusalReason | None = None
    ) -> FakeVerdict:
        if passenger not in self.referred:
            raise ValueError(f"{passenger!r} was not sent to the desk")
        self.decided.append((passenger, decision, reason))
        return FakeVerdict(passenger, decision, reason)


class FakeLive:
    """A view whose state and transcript the test changes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._version = 1
        self._lines: list[dict[str, object]] = []
        self.desk = FakeDesk()
        self.photos = {("P03", "chip"): JPEG}
        self.at_s = 0.0
        self.fail_snapshot = False

    @property
    def version(self) -> int:
        with self._lock:
            return self._version

    def snapshot(self) -> dict[str, object]:
        if self.fail_snapshot:
            raise RuntimeError("the view broke")
        with self._lock:
            return {
                "clock": {"at_s": self.at_s},
                "catalogue": [{"id": "P03", "label": "P03: genuine"}],
                "role": "viewer",
            }

    def lines_since(self, seq: int) -> list[dict[str, object]]:
        with self._lock:
            return [dict(line) for line in self._lines[max(0, seq) :]]

    def photo(self, passenger: str, which: str) -> bytes | None:
        return self.photos.get((passenger, which))

    # -- the test's side --------------------------------------------------------------

    def advance(self, at_s: float) -> None:
        with self._lock:
            self.at_s = at_s
            self._version += 1

    def add_line(self, text: str) -> None:
        with self._lock:
            self._lines.append({"text": text, "seq": len(self._lines) + 1})
            self._version += 1


class FakeControl:
    RATES = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0)

    def __init__(self) -> None:
        self.paused = False
        self.rate = 1.0
        self.finished = False
        self.calls: list[tuple[object, ...]] = []

    def play(self) -> None:
        self.calls.append(("play",))
        self.paused = False

    def pause(self) -> None:
        self.calls.append(("pause",))
        self.paused = True

    def step(self, until: StepUntil) -> None:
        self.calls.append(("step", until))
        self.paused = False

    def set_rate(self, rate: float) -> None:
        if rate not in self.RATES:
            raise ValueError(f"rate must be one of 0.25, 0.5, 1, 2, 4, 8, not {rate!r}")
        self.calls.append(("rate", rate))
        self.rate = rate

    def inject_fault(self, gate: str, device: FaultDevice, lasts_s: float) -> None:
        if gate not in ("G1", "G2"):
            raise ValueError(f"unknown gate {gate!r}; the gates are G1, G2")
        self.calls.append(("fault", gate, device, lasts_s))

    def add_passenger(self, template: str) -> str:
        if template != "P03":
            raise ValueError(f"no passenger {template!r} to send again")
        self.calls.append(("add", template))
        return "P03+1"


@pytest.fixture
def live() -> FakeLive:
    return FakeLive()


@pytest.fixture
def control() -> FakeControl:
    return FakeControl()


@pytest.fixture
def server(live, control, tmp_path) -> ConsoleServer:
    static = tmp_path / "static"
    static.mkdir()
    (static / "index.html").write_text("<!doctype html><title>console</title>", encoding="utf-8")
    (static / "console.js").write_text("// console", encoding="utf-8")
    return ConsoleServer(live, control, tokens=TOKENS, static_dir=static, interval_s=0.01)


@pytest.fixture
def client(server) -> Iterator[TestClient]:
    with TestClient(server.app) as test_client:
        yield test_client


def until(ws, kind: str) -> dict:
    """The next message of ``kind`` on ``ws`` (broadcasts in between are skipped)."""
    while True:
        message = ws.receive_json()
        if message["type"] == kind:
            return message


def reply(ws) -> dict:
    """The next ack or error on ``ws``."""
    while True:
        message = ws.receive_json()
        if message["type"] in ("ack", "error"):
            return message


def greeting(ws) -> tuple[dict, dict, dict]:
    return ws.receive_json(), ws.receive_json(), ws.receive_json()


# -- tokens and roles ---------------------------------------------------------------------


def test_tokens_are_random_and_url_safe():
    one, two = Tokens.generate(), Tokens.generate()
    assert len({one.instructor, one.desk, two.instructor, two.desk}) == 4
    assert all(len(t) >= 20 and t.replace("-", "").replace("_", "").isalnum() for t in (one.desk,))


def test_a_token_gives_a_role():
    assert TOKENS.role("instructor-token") == "instructor"
    assert TOKENS.role("desk-token") == "desk"
    assert TOKENS.role(None) == "viewer"
    assert TOKENS.role("") == "viewer"
    assert TOKENS.role("instructor-token ") == "viewer"
    assert TOKENS.role("\u00e9t\u00e9") == "viewer"


def test_urls_name_the_tokens():
    urls = ConsoleUrls.of("127.0.0.1", 8765, TOKENS)
    assert urls.instructor == "http://127.0.0.1:8765/?token=instructor-token"
    assert urls.desk == "http://127.0.0.1:8765/?token=desk-token"
    assert urls.viewers == "http://127.0.0.1:8765/"
    assert ConsoleUrls.of("::1", 80, TOKENS).viewers == "http://[::1]:80/"


@pytest.mark.parametrize(
    ("token", "role", "catalogue"),
    [
        ("instructor-token", "instructor", True),
        ("desk-token", "desk", False),
        ("", "viewer", False),
    ],
)
def test_a_socket_is_greeted_with_its_role_state_and_transcript(
    client, live, token, role, catalogue
):
    live.add_line("G1 P03 document presented")
    with client.websocket_connect(f"/ws?token={token}") as ws:
        hello, state, lines = greeting(ws)
    assert hello == {"type": "hello", "role": role}
    assert state["type"] == "state"
    assert state["state"]["role"] == role
    assert ("catalogue" in state["state"]) is catalogue
    assert lines == {"type": "lines", "lines": [{"text": "G1 P03 document presented", "seq": 1}]}


def test_the_state_over_http_follows_the_token(client):
    instructor = client.get("/api/state", params={"token": "instructor-token"})
    viewer = client.get("/api/state", params={"token": "wrong"})
    assert instructor.json()["role"] == "instructor"
    assert "catalogue" in instructor.json()
    assert viewer.json()["role"] == "viewer"
    assert "catalogue" not in viewer.json()
    assert viewer.headers["cache-control"] == "no-store"


# -- what each role may do -----------------------------------------------------------------


def test_the_instructor_runs_the_replay(client, control):
    with client.websocket_connect("/ws?token=instructor-token") as ws:
        greeting(ws)
        for request, action in enumerate(("pause", "play", "step_event", "step_decision")):
            ws.send_json({"type": "control", "action": action, "request": request})
            assert reply(ws)["type"] == "ack"
        ws.send_json({"type": "control", "action": "speed", "rate": 4, "request": "r"})
        assert reply(ws) == {
            "type": "ack",
            "request": "r",
            "result": {"paused": False, "rate": 4.0, "finished": False},
        }
        ws.send_json({"type": "fault", "gate": "G2", "device": "board", "lasts_s": 20})
        assert reply(ws)["result"] == {"gate": "G2", "device": "board", "lasts_s": 20.0}
        ws.send_json({"type": "add_passenger", "template": "P03", "request": 9})
        assert reply(ws) == {
            "type": "ack",
            "request": 9,
            "result": {"template": "P03", "passenger": "P03+1"},
        }
    assert control.calls == [
        ("pause",),
        ("play",),
        ("step", StepUntil.EVENT),
        ("step", StepUntil.DECISION),
        ("rate", 4.0),
        ("fault", "G2", FaultDevice("board"), 20.0),
        ("add", "P03"),
    ]


def test_a_value_error_of_the_replay_is_the_error_message(client, control):
    with client.websocket_connect("/ws?token=instructor-token") as ws:
        greeting(ws)
        ws.send_json({"type": "control", "action": "speed", "rate": 3, "request": 1})
        assert reply(ws) == {
            "type": "error",
            "request": 1,
            "error": "rate must be one of 0.25, 0.5, 1, 2, 4, 8, not 3.0",
        }
        ws.send_json({"type": "fault", "gate": "G9", "device": "camera", "lasts_s": 5})
        assert reply(ws)["error"] == "unknown gate 'G9'; the gates are G1, G2"
        # The socket stays open and works.
        ws.send_json({"type": "control", "action": "pause"})
        assert reply(ws)["type"] == "ack"
    assert control.calls == [("pause",)]


@pytest.mark.parametrize("token", ["", "desk-token", "nonsense"])
def test_only_the_instructor_controls(client, control, token):
    with client.websocket_connect(f"/ws?token={token}") as ws:
        greeting(ws)
        ws.send_json({"type": "control", "action": "pause", "request": 5})
        assert reply(ws) == {
            "type": "error",
            "request": 5,
            "error": "control needs the instructor's token",
        }
        ws.send_json({"type": "fault", "gate": "G1", "device": "camera", "lasts_s": 5})
        assert reply(ws)["error"] == "fault needs the instructor's token"
        ws.send_json({"type": "add_passenger", "template": "P03"})
        assert reply(ws)["error"] == "add_passenger needs the instructor's token"
    assert control.calls == []


@pytest.mark.parametrize("token", ["instructor-token", "desk-token"])
def test_the_instructor_and_the_desk_decide_at_the_desk(client, live, token):
    with client.websocket_connect(f"/ws?token={token}") as ws:
        greeting(ws)
        ws.send_json(
            {
                "type": "desk",
                "passenger": "P07",
                "decision": "refuse",
                "reason": "impostor",
                "request": 2,
            }
        )
        assert reply(ws) == {
            "type": "ack",
            "request": 2,
            "result": {
                "passenger": "P07",
                "decision": "refuse",
                "reason": "impostor",
                "verdict": "correct",
                "points": 1.0,
            },
        }
        ws.send_json({"type": "desk", "passenger": "P99", "decision": "admit"})
        assert reply(ws)["error"] == "'P99' was not sent to the desk"
    assert live.desk.decided == [("P07", DeskDecision.REFUSE, RefusalReason.IMPOSTOR)]


def test_a_viewer_may_not_decide_at_the_desk(client, live):
    with client.websocket_connect("/ws") as ws:
        greeting(ws)
        ws.send_json({"type": "desk", "passenger": "P07", "decision": "admit"})
        assert "desk's token" in reply(ws)["error"]
    assert live.desk.decided == []


def test_an_unexpected_failure_is_an_error_message_without_details(client, control):
    def broken(template: str) -> str:
        raise RuntimeError("P03 SMITH JOHN")

    control.add_passenger = broken
    with client.websocket_connect("/ws?token=instructor-token") as ws:
        greeting(ws)
        ws.send_json({"type": "add_passenger", "template": "P03"})
        error = reply(ws)["error"]
        assert "SMITH" not in error
        ws.send_json({"type": "control", "action": "play"})
        assert reply(ws)["type"] == "ack"


# -- malformed messages ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "frame",
    [
        "not json",
        "",
        "[]",
        "42",
        "null",
        '{"type": "dance"}',
        '{"type": "control", "action": 7}',
        '{"type": "control", "action": "speed", "rate": "fast"}',
        '{"type": "fault", "gate": "G1", "device": "camera", "lasts_s": "long"}',
        "{" * 70_000,
        json.dumps({"type": "add_passenger", "template": "x" * 100_000}),
        b"\x00\x01binary",
        b"",
    ],
)
def test_a_malformed_frame_gets_an_error_and_the_socket_stays_open(client, control, frame):
    with client.websocket_connect("/ws?token=instructor-token") as ws:
        greeting(ws)
        if isinstance(frame, bytes):
            ws.send_bytes(frame)
        else:
            ws.send_text(frame)
        answer = reply(ws)
        assert answer["type"] == "error"
        assert "\n" not in answer["error"]
        ws.send_json({"type": "control", "action": "pause", "request": "after"})
        assert reply(ws) == {
            "type": "ack",
            "request": "after",
            "result": {"paused": True, "rate": 1.0, "finished": False},
        }


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=10,
)
MESSAGES = st.fixed_dictionaries(
    {"type": st.sampled_from([*protocol.MESSAGE_TYPES, "other"])},
    optional={
        "action": st.sampled_from(["play", "pause", "speed", "step_event"]) | JSON,
        "rate": st.sampled_from([2, 3]) | JSON,
        "gate": st.sampled_from(["G1", "G9"]) | JSON,
        "device": st.sampled_from(["camera", "board"]) | JSON,
        "lasts_s": JSON,
        "template": st.sampled_from(["P03", "P04"]) | JSON,
        "passenger": st.sampled_from(["P07", "P08"]) | JSON,
        "decision": st.sampled_from(["admit", "refuse"]) | JSON,
        "reason": st.sampled_from(["impostor", None]) | JSON,
        "request": JSON,
    },
)


def test_any_json_gets_an_ack_or_an_error_and_never_closes_the_socket(server):
    with (
        TestClient(server.app) as test_client,
        test_client.websocket_connect("/ws?token=instructor-token") as ws,
    ):
        greeting(ws)

        @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
        @given(JSON | MESSAGES)
        def check(value):
            ws.send_text(json.dumps(value))
            answer = reply(ws)
            assert answer["type"] in ("ack", "error")
            if answer["type"] == "error":
                assert answer["error"] and "\n" not in answer["error"]
            if isinstance(value, dict) and answer["request"] is not None:
                assert answer["request"] == value.get("request")

        check()
        ws.send_json({"type": "control", "action": "play", "request": "still open"})
        assert reply(ws)["request"] == "still open"


# -- broadcasting ------------------------------------------------------------------------


def test_a_change_of_the_view_is_broadcast_with_new_lines(client, live):
    with client.websocket_connect("/ws") as ws:
        greeting(ws)
        live.advance(12.5)
        while until(ws, "state")["state"]["clock"]["at_s"] != 12.5:
            pass
        live.add_line("one")
        live.add_line("two")
        got: list[str] = []
        while len(got) < 2:
            got += [line["text"] for line in until(ws, "lines")["lines"]]
        assert got == ["one", "two"]


def test_twenty_viewers_each_get_the_state_and_every_line_once(client, live, server):
    live.add_line("before")
    with_sockets = [client.websocket_connect("/ws") for _ in range(20)]
    sockets = [connection.__enter__() for connection in with_sockets]
    try:
        for ws in sockets:
            assert greeting(ws)[2]["lines"] == [{"text": "before", "seq": 1}]
        assert server.connected == 20
        live.add_line("after")
        live.advance(3.0)
        for ws in sockets:
            seen: list[int] = []
            at = None
            while at != 3.0 or seen != [2]:
                message = ws.receive_json()
                if message["type"] == "lines":
                    seen += [line["seq"] for line in message["lines"]]
                    assert seen == [2][: len(seen)], "a line twice or out of order"
                elif message["type"] == "state":
                    at = message["state"]["clock"]["at_s"]
    finally:
        for connection in with_sockets:
            connection.__exit__(None, None, None)


def test_a_socket_closed_mid_replay_does_not_stop_the_others(client, live, server):
    with client.websocket_connect("/ws") as staying:
        greeting(staying)
        leaving = client.websocket_connect("/ws?token=desk-token")
        greeting(leaving.__enter__())
        live.advance(1.0)
        leaving.__exit__(None, None, None)  # the browser closes mid-broadcast
        for step in range(2, 6):
            live.advance(float(step))
            live.add_line(f"line {step}")
            while until(staying, "state")["state"]["clock"]["at_s"] != float(step):
                pass
        assert server.connected == 1


def test_a_broken_view_does_not_end_the_broadcaster(client, live):
    with client.websocket_connect("/ws") as ws:
        greeting(ws)
        live.fail_snapshot = True
        live.advance(1.0)
        live.add_line("still")
        # Lines come without the state while the view fails.
        assert until(ws, "lines")["lines"] == [{"text": "still", "seq": 1}]
        live.fail_snapshot = False
        live.advance(2.0)
        while until(ws, "state")["state"]["clock"]["at_s"] != 2.0:
            pass


def test_a_stuck_browser_is_dropped_alone(server):
    """The sender gives up on a socket that takes no message, and tells nobody else."""

    class Stuck:
        async def send_text(self, text: str) -> None:
            await anyio.sleep_forever()

    async def scenario() -> bool:
        outbox, pending = anyio.create_memory_object_stream[str](4)
        stuck = _Client(protocol.Role.VIEWER, outbox)
        stuck.offer("hello")
        server._send_timeout_s = 0.01
        async with anyio.create_task_group() as group:
            group.start_soon(server._send_loop, Stuck(), stuck, pending, group.cancel_scope)
        return stuck.dropped

    assert anyio.run(scenario)


def test_a_browser_too_far_behind_is_dropped():
    async def scenario() -> tuple[list[bool], bool]:
        outbox, _pending = anyio.create_memory_object_stream[str](2)
        behind = _Client(protocol.Role.VIEWER, outbox)
        return [behind.offer(str(n)) for n in range(3)], behind.dropped

    assert anyio.run(scenario) == ([True, True, False], True)


# -- HTTP ----------------------------------------------------------------------------------


def test_photos_are_jpeg_not_cached_or_404(client):
    photo = client.get("/api/photo/P03/chip")
    assert photo.status_code == 200
    assert photo.headers["content-type"] == "image/jpeg"
    assert photo.headers["cache-control"] == "no-store"
    assert photo.content == JPEG
    for missing in ("/api/photo/P03/capture", "/api/photo/P04/chip", "/api/photo/P03/passport"):
        answer = client.get(missing)
        assert answer.status_code == 404
        assert answer.headers["cache-control"] == "no-store"


def test_a_photo_of_a_sent_copy_is_found_by_its_quoted_id(client, live):
    live.photos[("P03+1", "capture")] = JPEG
    assert client.get("/api/photo/P03%2B1/capture").content == JPEG


def test_the_transcript_since_a_line(client, live):
    for text in ("a", "b", "c"):
        live.add_line(text)
    assert [line["text"] for line in client.get("/api/transcript?since=1").json()["lines"]] == [
        "b",
        "c",
    ]
    assert len(client.get("/api/transcript").json()["lines"]) == 3
    for bad in ("-1", "x", "1.5", "9" * 20):
        assert client.get(f"/api/transcript?since={bad}").status_code == 400


def test_the_page_and_its_files(client):
    page = client.get("/")
    assert page.status_code == 200
    assert "console" in page.text
    assert client.get("/static/console.js").text == "// console"
    assert client.get("/static/nothing.js").status_code == 404


def test_without_the_page_installed_the_root_is_404(live, control, tmp_path):
    bare = ConsoleServer(live, control, tokens=TOKENS, static_dir=tmp_path / "none")
    with TestClient(bare.app) as test_client:
        assert test_client.get("/").status_code == 404
        assert test_client.get("/api/state").json()["role"] == "viewer"


def test_the_shipped_page_is_served_when_there(live, control):
    shipped = ConsoleServer(live, control)
    if not (Path(shipped._static) / "index.html").is_file():
        pytest.skip("the console page (station/classroom/static) is not there yet")
    with TestClient(shipped.app) as test_client:
        assert test_client.get("/").headers["content-type"].startswith("text/html")


# -- serving -------------------------------------------------------------------------------


def test_a_port_in_use_is_refused_naming_it():
    taken = listen("127.0.0.1", 0)
    try:
        port = taken.getsockname()[1]
        with pytest.raises(ConsoleAddressError, match=rf"cannot listen on 127\.0\.0\.1:{port}: "):
            listen("127.0.0.1", port)
    finally:
        taken.close()


def test_an_unknown_host_is_refused_naming_it():
    with pytest.raises(ConsoleAddressError, match=r"cannot listen on no-such-host\.invalid:8765"):
        listen("no-such-host.invalid", 8765)


def test_the_runner_serves_over_a_real_socket_and_stops(server):
    import httpx2 as httpx
    from websockets.sync.client import connect

    runner = ConsoleRunner(server, listen("127.0.0.1", 0))
    runner.start()
    try:
        urls = runner.urls()
        assert urls.viewers == f"http://127.0.0.1:{runner.port}/"
        assert httpx.get(urls.viewers + "api/state").json()["role"] == "viewer"
        with connect(f"ws://127.0.0.1:{runner.port}/ws?token=instructor-token") as ws:
            assert json.loads(ws.recv()) == {"type": "hello", "role": "instructor"}
            ws.send(b"\x00binary")
            while (message := json.loads(ws.recv()))["type"] != "error":
                pass
            assert message["error"].startswith("binary frames")
    finally:
        runner.stop()
    with pytest.raises(httpx.ConnectError):
        httpx.get(urls.viewers + "api/state")
