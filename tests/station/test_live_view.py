"""The classroom's live view of a replay, fed by hand: lanes, decisions, photos, transcript."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import cv2
import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from egate.biometrics.decision import Decision
from egate.documents.composer import DocumentData, compose_mrz
from egate.documents.layout import MrzFormat
from egate.documents.mrz import parse_mrz
from egate.documents.verdict import Verdict
from egate.gate import commands as c
from egate.gate import events as e
from egate.gate.commands import Signal
from station.training.facedecisions import Face
from station.training.live import MAX_DECISIONS, LaneState, LiveView
from station.training.scenario import NearThreshold
from station.training.transcript import Line

START = datetime(2026, 3, 14, 7, 30, tzinfo=timezone(timedelta(hours=8)))
TODAY = date(2026, 3, 14)


def view() -> LiveView:
    return LiveView(
        name="drill",
        source="drill.yaml",
        gates=("G1", "G2"),
        start=START,
        threshold=0.6,
        near_threshold=NearThreshold(),
        fault_devices=("camera", "board"),
        catalogue=lambda: [{"id": "P1", "label": "P1: genuine"}],
        control_state=lambda: {"paused": True, "rate": 2.0, "rates": [1.0, 2.0]},
    )


def mrz(birth: str = "880506") -> tuple[str, ...]:
    lines = compose_mrz(
        DocumentData(
            format=MrzFormat.TD3,
            document_type="P",
            issuing_state="CHN",
            surname="ZHOU",
            given_names="LAN",
            document_number="EB0000001",
            nationality="CHN",
            birth_date=date(1988, 5, 6),
            sex="F",
            expiry_date=date(2032, 1, 31),
        )
    )
    return lines[0], lines[1].replace("880506", birth)


def lane(live: LiveView, gate: str) -> dict[str, object]:
    return next(item for item in live.snapshot()["lanes"] if item["gate"] == gate)  # type: ignore[attr-defined]


def test_a_lane_follows_the_board_the_indicator_and_the_devices() -> None:
    live = view()
    live.gate_item("G1", 1.0, "P1", e.DoorReported(e.Door.ENTRY, e.DoorPosition.OPENING))
    live.gate_item("G1", 1.0, "P1", c.ShowSignal(Signal.PASS))
    live.gate_item("G1", 1.0, "P1", e.OccupancyChanged(1))
    live.gate_item("G2", 2.0, None, e.DeviceFault("camera", "unplugged"))
    live.lanes(
        3.0,
        [
            LaneState("G1", "capturing", "P1", {"exit": "closed"}),
            LaneState("G2", "degraded", None, {}),
        ],
        [("P2", 1.0)],
        {},
    )
    g1, g2 = lane(live, "G1"), lane(live, "G2")
    assert g1["doors"] == {"entry": "opening", "exit": "closed"}
    assert (g1["indicator"], g1["occupancy"], g1["passenger"], g1["step"]) == (
        "pass",
        1,
        "P1",
        "capture",
    )
    assert g1["degraded"] is False
    assert g2["degraded"] is True
    assert g2["devices"]["camera"] is False  # type: ignore[index]
    snapshot = live.snapshot()
    assert snapshot["queue"] == [{"passenger": "P2", "waiting_s": 2.0}]
    assert snapshot["clock"] == {
        "at_s": 3.0,
        "time": "07:30:03.0",
        "paused": True,
        "rate": 2.0,
        "rates": [1.0, 2.0],
        "finished": False,
    }
    assert snapshot["catalogue"] == [{"id": "P1", "label": "P1: genuine"}]


def test_a_face_decision_near_the_threshold_is_flagged_with_its_photos() -> None:
    live = view()
    photo = np.full((200, 150, 3), 120, dtype=np.uint8)
    ok, chip = cv2.imencode(".jpg", photo)
    assert ok
    live.passenger("I1", bytes(chip), photo, Face.IMPOSTOR)
    live.passenger("P1", None, photo, Face.GENUINE)
    live.gate_item("G1", 5.0, "I1", e.FaceVerified(Decision.NO_MATCH, "BIOMETRIC_MISMATCH", 0.64))
    live.gate_item("G1", 9.0, "P1", e.FaceVerified(Decision.MATCH, None, 0.31))
    first, second = live.snapshot()["decisions"]  # type: ignore[misc]
    assert first["kind"] == "face"
    assert (first["distance"], first["threshold"], first["margin"]) == (0.64, 0.6, "near")
    assert first["near_threshold"] is True
    assert first["chip_photo"] == "/api/photo/I1/chip"
    assert second["margin"] == "clear"
    # No chip photo to show: no address that would answer 404.
    assert second["chip_photo"] is None
    assert second["capture_photo"] == "/api/photo/P1/capture"
    for which in ("chip", "capture"):
        jpeg = live.photo("I1", which)
        assert jpeg is not None
        decoded = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
        assert decoded.shape[:2] == (200, 150)
    assert live.photo("P1", "chip") is None
    assert live.photo("nobody", "chip") is None
    assert live.photo("I1", "passport") is None


def test_a_large_photo_is_sent_small() -> None:
    live = view()
    live.passenger("P1", None, np.zeros((1440, 1080, 3), dtype=np.uint8))
    jpeg = live.photo("P1", "capture")
    assert jpeg is not None
    assert cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR).shape[:2] == (480, 360)


def test_a_document_decision_shows_failed_digits_and_repairs() -> None:
    live = view()
    # A B read for the 8 of the birth date: repaired, valid.
    live.document("G1", parse_mrz(mrz("B80506"), TODAY))
    live.gate_item("G1", 2.0, "P1", e.DocumentRead(True, e.DocumentCheck(Verdict.ACCEPT)))
    # A wrong birth date: its check digit fails (and the composite's).
    live.document("G2", parse_mrz(mrz("880507"), TODAY))
    live.gate_item(
        "G2", 3.0, "P2", e.DocumentRead(False, e.DocumentCheck(Verdict.REJECT, ("MRZ_INVALID",)))
    )
    repaired, failed = live.snapshot()["decisions"]  # type: ignore[misc]
    assert repaired["mrz"][1][13] == "8"  # as the gate repaired it; the repair says what it read
    assert repaired["repaired"] == [
        {"field": "birth_date", "line": 2, "column": 14, "found": "B", "replaced_by": "8"}
    ]
    assert repaired["failed"] == []
    assert (repaired["valid"], repaired["verdict"]) == (True, "accept")
    assert failed["failed"] == [
        {"field": "birth_date", "line": 2, "column": 20},
        {"field": "composite", "line": 2, "column": 44},
    ]
    assert failed["reasons"] == ["MRZ_INVALID"]


def test_only_the_latest_decisions_are_kept() -> None:
    live = view()
    for n in range(MAX_DECISIONS + 5):
        live.gate_item("G1", float(n), "P1", e.FaceVerified(Decision.MATCH, None, 0.3))
    decisions = live.snapshot()["decisions"]
    assert len(decisions) == MAX_DECISIONS  # type: ignore[arg-type]
    assert decisions[-1]["id"] == MAX_DECISIONS + 5  # type: ignore[index]


@given(st.lists(st.sampled_from(["door", "verify", "decision"]), min_size=1, max_size=30))
def test_transcript_lines_are_numbered_and_every_change_moves_the_version(steps: list[str]) -> None:
    live = view()
    versions = [live.version]
    for n, step in enumerate(steps):
        live.line(Line(float(n), "G1", "P1", step, f"line {n}"))
        versions.append(live.version)
    assert versions == sorted(set(versions))
    lines = live.lines_since(0)
    assert [line["seq"] for line in lines] == list(range(1, len(steps) + 1))
    assert [line["seq"] for line in live.lines_since(len(steps) - 1)] == [len(steps)]
    assert live.lines_since(len(steps)) == []


def test_an_unchanged_round_does_not_move_the_version() -> None:
    live = view()
    live.lanes(1.0, [LaneState("G1", "idle", None, {})], [], {})
    before = live.version
    live.lanes(1.02, [LaneState("G1", "idle", None, {})], [], {})
    assert live.version == before
    live.lanes(1.2, [LaneState("G1", "idle", None, {})], [], {})
    assert live.version > before


def test_a_change_of_transport_alone_moves_the_version() -> None:
    transport = {"paused": False, "rate": 1.0}
    live = LiveView(
        name="drill",
        source="drill.yaml",
        gates=("G1",),
        start=START,
        threshold=0.6,
        control_state=lambda: dict(transport),
    )
    first = live.version
    assert live.version == first
    transport["paused"] = True
    paused = live.version
    assert paused > first
    transport["rate"] = 2.0
    assert live.version > paused
