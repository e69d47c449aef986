"""The console's server on the replay's own classes (no replay running): the contract holds."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from egate.samples import installed_samples
from egate.shipped import shipped_file
from station.classroom.server import ConsoleServer, Tokens
from station.training.control import ReplayControl
from station.training.live import live_view
from station.training.scenario import load_scenario

TOKENS = Tokens("i-token", "d-token")


@pytest.fixture
def client():
    if installed_samples() is None:
        pytest.skip("the impostor drill's sample photos are not installed (egate samples fetch)")
    with shipped_file("scenarios", "impostor-drill.yaml") as path:
        scenario = load_scenario(path)
    control = ReplayControl(scenario)
    server = ConsoleServer(
        live_view(scenario, "impostor-drill.yaml", control), control, tokens=TOKENS
    )
    with TestClient(server.app) as test_client:
        yield test_client


def answer(ws, message):
    ws.send_json(message)
    while True:
        got = ws.receive_json()
        if got["type"] in ("ack", "error"):
            return got


def test_the_instructor_drives_a_real_control_and_the_desk_refuses_unknown_cases(client):
    with client.websocket_connect("/ws?token=i-token") as ws:
        assert ws.receive_json() == {"type": "hello", "role": "instructor"}
        state = ws.receive_json()["state"]
        assert state["scenario"]["name"] == "Impostor drill"
        assert state["role"] == "instructor"
        assert state["catalogue"][0]["id"] == "I01"
        assert answer(ws, {"type": "control", "action": "pause"})["result"]["paused"] is True
        assert answer(ws, {"type": "control", "action": "speed", "rate": 8})["result"]["rate"] == 8
        assert answer(ws, {"type": "control", "action": "speed", "rate": 3})["error"].startswith(
            "rate must be one of"
        )
        fault = {"type": "fault", "gate": "G2", "device": "board", "lasts_s": 20}
        assert answer(ws, fault)["type"] == "ack"
        assert answer(ws, {**fault, "gate": "G7"})["error"].startswith("unknown gate 'G7'")
        assert answer(ws, {"type": "add_passenger", "template": "I01"})["result"] == {
            "template": "I01",
            "passenger": "I01+1",
        }
        desk = {"type": "desk", "passenger": "I02", "decision": "refuse", "reason": "impostor"}
        assert "not sent to the desk" in answer(ws, desk)["error"]
    viewer = client.get("/api/state").json()
    assert viewer["role"] == "viewer" and "catalogue" not in viewer
    # No replay has run: the view knows nobody's photos yet.
    assert client.get("/api/photo/I01/chip").status_code == 404
