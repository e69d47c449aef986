"""How controller events and commands read in a replay's transcript."""

from __future__ import annotations

import pytest

from egate.biometrics.decision import Decision
from egate.documents.policy import Verdict
from egate.gate import commands as c
from egate.gate import events as e
from station.training.narration import describe
from station.training.transcript import Step


@pytest.mark.parametrize(
    ("item", "step", "text"),
    [
        (
            e.DocumentRead(False, e.DocumentCheck(Verdict.REJECT, ("MRZ_INVALID",), None)),
            Step.DOCUMENT,
            "MRZ INVALID; policy: reject (MRZ_INVALID)",
        ),
        (
            e.DocumentRead(True, e.DocumentCheck(Verdict.ACCEPT)),
            Step.DOCUMENT,
            "MRZ valid; policy: accept",
        ),
        (
            e.ChipRead(e.ChipStatus.OK, False),
            Step.CHIP,
            "chip ok: DG1 differs from the printed MRZ",
        ),
        (e.ChipRead(e.ChipStatus.ACCESS_DENIED), Step.CHIP, "chip access_denied"),
        (e.FaceCaptured(2), Step.CAPTURE, "2 faces in view"),
        (e.FaceVerified(Decision.MATCH, None, 0.41234), Step.VERIFY, "match, distance 0.412"),
        (
            e.FaceVerified(Decision.FAILURE_TO_ACQUIRE, "FACE_NOT_FOUND"),
            Step.VERIFY,
            "failure to acquire (FACE_NOT_FOUND)",
        ),
        (e.OccupancyChanged(1), Step.OCCUPANCY, "1 person in the gate"),
        (e.DeviceFault("camera", "unplugged"), Step.DEVICE, "camera down: unplugged"),
        (e.DeviceRecovered("camera"), Step.DEVICE, "camera back"),
        (c.OpenExitDoor(), Step.DOOR, "exit door opens"),
        (c.CloseEntryDoor(), Step.DOOR, "entry door closes"),
        (c.ShowSignal(c.Signal.OFFICER), Step.SIGNAL, "indicator OFFICER"),
        (c.Alarm("TAILGATING"), Step.ALARM, "ALARM TAILGATING"),
    ],
)
def test_each_event_and_command_reads_as_a_line(item: object, step: str, text: str) -> None:
    described = describe(item)  # type: ignore[arg-type]
    assert described is not None
    assert described[:2] == (step, text)


def test_the_detail_carries_values_not_personal_data() -> None:
    described = describe(e.FaceVerified(Decision.NO_MATCH, None, 0.8123456))
    assert described is not None
    assert described[2] == {"decision": "no_match", "distance": 0.8123, "reason": None}


@pytest.mark.parametrize(
    "item", [e.DocumentPresented(), c.StartTimer("t1", 5.0), c.VerifyFace(), c.ReadChip()]
)
def test_bookkeeping_makes_no_line(item: object) -> None:
    assert describe(item) is None  # type: ignore[arg-type]
