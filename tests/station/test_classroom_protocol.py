"""The console's client messages: typed values, or one-line errors that name the request."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from station.classroom import protocol
from station.classroom.protocol import (
    MAX_MESSAGE_BYTES,
    AddPassenger,
    Control,
    ControlAction,
    DeskOrder,
    Fault,
    ProtocolError,
    Role,
    parse_message,
    permission_error,
)
from station.training.desk import DeskDecision, RefusalReason
from station.training.scenario import FaultDevice

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


def refused(data: str | bytes) -> ProtocolError:
    with pytest.raises(ProtocolError) as caught:
        parse_message(data)
    error = caught.value
    assert "\n" not in str(error)
    return error


def test_each_message_type_parses_into_its_value():
    assert parse_message('{"type": "control", "action": "play"}') == Control(ControlAction.PLAY)
    assert parse_message(
        '{"type": "control", "action": "step_decision", "request": "r1"}'
    ) == Control(ControlAction.STEP_DECISION, request="r1")
    assert parse_message('{"type": "control", "action": "speed", "rate": 0.5}') == Control(
        ControlAction.SPEED, 0.5
    )
    assert parse_message(
        '{"type": "fault", "gate": "G1", "device": "board", "lasts_s": 20, "request": 3}'
    ) == Fault("G1", FaultDevice("board"), 20.0, 3)
    assert parse_message('{"type": "add_passenger", "template": "P03"}') == AddPassenger("P03")
    assert parse_message(
        '{"type": "desk", "passenger": "P07", "decision": "refuse", "reason": "impostor"}'
    ) == DeskOrder("P07", DeskDecision.REFUSE, RefusalReason.IMPOSTOR)
    assert parse_message(
        '{"type": "desk", "passenger": "P07", "decision": "admit", "reason": null}'
    ) == DeskOrder("P07", DeskDecision.ADMIT, None)


def test_rate_is_read_only_for_speed():
    assert parse_message('{"type": "control", "action": "play", "rate": "x"}') == Control(
        ControlAction.PLAY
    )


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b'{"type": "control"}', "binary frames"),
        ("{", "not JSON"),
        ('{"type": "control", "action": "speed", "rate": NaN}', "not JSON"),
        ("[1, 2]", "a JSON object, not an array"),
        ('"play"', "a JSON object, not a string"),
        ("{}", "type is missing"),
        ('{"type": "dance"}', 'unknown type "dance"'),
        ('{"type": 7}', "unknown type 7"),
        ('{"type": "control"}', "control: action is missing"),
        ('{"type": "control", "action": "rewind"}', "action must be one of play, pause"),
        ('{"type": "control", "action": "speed"}', "control: rate is missing"),
        ('{"type": "control", "action": "speed", "rate": "2"}', 'rate must be a number, not "2"'),
        ('{"type": "control", "action": "speed", "rate": true}', "rate must be a number"),
        ('{"type": "control", "action": "speed", "rate": 1e999}', "finite"),
        ('{"type": "fault", "gate": "G1", "device": "camera"}', "fault: lasts_s is missing"),
        ('{"type": "fault", "gate": "", "device": "camera", "lasts_s": 1}', "gate must be"),
        ('{"type": "fault", "gate": "G1", "device": "toaster", "lasts_s": 1}', "device must be"),
        ('{"type": "add_passenger", "template": ["P03"]}', "template must be a non-empty string"),
        ('{"type": "desk", "passenger": "P07", "decision": "shrug"}', "decision must be one of"),
        (
            '{"type": "desk", "passenger": "P07", "decision": "refuse", "reason": 1}',
            "reason must be one of impostor",
        ),
        ('{"type": "control", "action": "play", "request": [1]}', "request must be an integer"),
        ('{"type": "control", "action": "play", "request": true}', "request must be an integer"),
    ],
)
def test_a_bad_message_gets_one_line_naming_what_was_wrong(data, words):
    assert words in str(refused(data))


def test_a_message_over_64_kib_is_refused_without_reading_it():
    big = json.dumps({"type": "add_passenger", "template": "P" * MAX_MESSAGE_BYTES})
    assert "message too long" in str(refused(big))


def test_json_nested_too_deeply_is_refused():
    assert "not JSON" in str(refused("[" * 30_000 + "]" * 30_000))


def test_an_error_after_the_request_id_names_the_request():
    assert refused('{"type": "control", "action": "x", "request": 12}').request == 12
    assert refused('{"type": "dance", "request": "abc"}').request == "abc"
    assert refused('{"type": "dance", "request": [1]}').request is None


def test_a_long_wrong_value_is_quoted_short():
    error = refused(json.dumps({"type": "control", "action": "x" * 500}))
    assert len(str(error)) < 150


def test_roles_and_what_they_may_send():
    control = Control(ControlAction.PLAY)
    desk = DeskOrder("P07", DeskDecision.ADMIT)
    assert permission_error(control, Role.INSTRUCTOR) is None
    assert permission_error(control, Role.DESK) == "control needs the instructor's token"
    assert permission_error(control, Role.VIEWER) == "control needs the instructor's token"
    assert permission_error(Fault("G1", FaultDevice.CAMERA, 1.0), Role.DESK) == (
        "fault needs the instructor's token"
    )
    assert permission_error(AddPassenger("P03"), Role.VIEWER) == (
        "add_passenger needs the instructor's token"
    )
    assert permission_error(desk, Role.INSTRUCTOR) is None
    assert permission_error(desk, Role.DESK) is None
    assert "desk's token" in (permission_error(desk, Role.VIEWER) or "")


def test_server_messages_are_json_a_browser_parses():
    assert json.loads(protocol.hello(Role.DESK)) == {"type": "hello", "role": "desk"}
    state = json.loads(protocol.state({"x": float("nan"), "y": [float("inf"), 1.5]}))
    assert state == {"type": "state", "state": {"x": None, "y": [None, 1.5]}}
    assert json.loads(protocol.error(None, "two\nlines")) == {
        "type": "error",
        "request": None,
        "error": "two lines",
    }
    assert json.loads(protocol.ack(4, {"ok": True})) == {
        "type": "ack",
        "request": 4,
        "result": {"ok": True},
    }


@given(JSON)
def test_any_json_value_is_a_message_or_a_protocol_error(value):
    try:
        message = parse_message(json.dumps(value))
    except ProtocolError as error:
        assert "\n" not in str(error)
    else:
        assert protocol.kind_of(message) == value["type"]


@given(
    st.fixed_dictionaries(
        {"type": st.sampled_from(protocol.MESSAGE_TYPES)},
        optional={
            "action": st.sampled_from([*ControlAction, "x"]) | JSON,
            "rate": JSON,
            "gate": st.sampled_from(["G1", ""]) | JSON,
            "device": st.sampled_from([*FaultDevice]) | JSON,
            "lasts_s": st.floats() | JSON,
            "template": JSON,
            "passenger": st.just("P07") | JSON,
            "decision": st.sampled_from([*DeskDecision]) | JSON,
            "reason": st.sampled_from([*RefusalReason]) | JSON,
            "request": JSON,
        },
    )
)
def test_messages_of_known_types_with_any_fields_parse_or_fail_cleanly(value):
    try:
        parse_message(json.dumps(value))
    except ProtocolError as error:
        assert "\n" not in str(error)
