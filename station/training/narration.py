"""How a gate controller's events and commands read in a training replay's transcript."""

from __future__ import annotations

from egate.biometrics.decision import Decision
from egate.gate import commands as c
from egate.gate import events as e
from station.training.transcript import Step

# Door reports worth a transcript line (moving doors would only add noise).
_SETTLED = (e.DoorPosition.OPEN, e.DoorPosition.CLOSED, e.DoorPosition.FAULT)
# The verdict of a capture window the liveness check judged a picture, not a face.
PRESENTATION_ATTACK = "PRESENTATION_ATTACK"
_DECISION_TEXT = {
    Decision.MATCH: "match",
    Decision.NO_MATCH: "no match",
    Decision.FAILURE_TO_ACQUIRE: "failure to acquire",
}


def describe(item: e.Event | c.Command) -> tuple[str, str, dict[str, object]] | None:
    """A transcript line's step, text and detail for a controller event or command."""
    match item:
        case e.DocumentRead(mrz_valid=valid, check=check):
            verdict = check.verdict.value
            reasons = " ".join(check.reasons)
            text = f"MRZ {'valid' if valid else 'INVALID'}; policy: {verdict}"
            return (
                Step.DOCUMENT,
                text + (f" ({reasons})" if reasons else ""),
                {
                    "mrz_valid": valid,
                    "verdict": verdict,
                    "reasons": list(check.reasons),
                },
            )
        case e.ChipRead(status=status, dg1_matches_mrz=matches):
            text = f"chip {status.value}"
            if status is e.ChipStatus.OK and not matches:
                text += ": DG1 differs from the printed MRZ"
            return Step.CHIP, text, {"status": status.value, "dg1_matches_mrz": matches}
        case e.FaceCaptured(faces=faces):
            return (
                Step.CAPTURE,
                f"{faces} face{'s' if faces != 1 else ''} in view",
                {"faces": faces},
            )
        case e.FaceVerified(decision=decision, reason=reason, distance=distance):
            # An attack is never compared: saying "no match" would suggest someone else's face.
            attack = reason == PRESENTATION_ATTACK
            text = "presentation attack" if attack else _DECISION_TEXT[decision]
            if distance is not None:
                text += f", distance {distance:.3f}"
            if reason:
                text += f" ({reason})"
            return (
                Step.VERIFY,
                text,
                {
                    "decision": decision.value,
                    "distance": None if distance is None else round(distance, 4),
                    "reason": reason,
                },
            )
        case e.OccupancyChanged(count=count):
            return (
                Step.OCCUPANCY,
                f"{count} {'person' if count == 1 else 'people'} in the gate",
                {"count": count},
            )
        case e.DeviceFault(device=device, reason=reason):
            return (
                Step.DEVICE,
                f"{device} down" + (f": {reason}" if reason else ""),
                {
                    "device": device,
                    "up": False,
                },
            )
        case e.DeviceRecovered(device=device):
            return Step.DEVICE, f"{device} back", {"device": device, "up": True}
        case e.DoorForced(door=door):
            return Step.DOOR, f"{door.value} door forced open", {"door": door.value}
        case e.DoorReported(door=door, position=position) if position in _SETTLED:
            return (
                Step.DOOR,
                f"{door.value} door reported {position.value}",
                {"door": door.value, "position": position.value},
            )
        case e.DoorAnswered(door=door, refused=True):
            return Step.DOOR, f"board refused to open the {door.value} door (interlock)", {}
        case c.OpenEntryDoor():
            return Step.DOOR, "entry door opens", {"door": "entry", "open": True}
        case c.CloseEntryDoor():
            return Step.DOOR, "entry door closes", {"door": "entry", "open": False}
        case c.OpenExitDoor():
            return Step.DOOR, "exit door opens", {"door": "exit", "open": True}
        case c.CloseExitDoor():
            return Step.DOOR, "exit door closes", {"door": "exit", "open": False}
        case c.CaptureFace():
            return Step.CAPTURE, "camera captures the face", {}
        case c.ShowSignal(signal=signal):
            return Step.SIGNAL, f"indicator {signal.value.upper()}", {"signal": signal.value}
        case c.GuideTraveller(guidance=guidance):
            # The look signal with the instruction the traveller reads, and its audit code.
            return (
                Step.SIGNAL,
                f"indicator: {guidance.text} [{guidance.value}]",
                {"signal": c.Signal.LOOK.value, "guidance": guidance.value, "text": guidance.text},
            )
        case c.Alarm(reason=reason):
            return Step.ALARM, f"ALARM {reason}", {"reason": reason}
    return None
