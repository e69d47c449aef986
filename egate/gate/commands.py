"""What the controller asks the gate's devices (and its audit trail) to do."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from egate.biometrics.guidance import CaptureGuidance


class Signal(StrEnum):
    """What the traveller-facing indicator shows."""

    READY = "ready"
    WAIT = "wait"
    LOOK = "look"
    PASS = "pass"
    OFFICER = "officer"
    CLOSED = "closed"


class Outcome(StrEnum):
    """How a transaction ended."""

    ACCEPTED = "accepted"
    REFERRED = "referred"
    REJECTED = "rejected"
    ABORTED = "aborted"


@dataclass(frozen=True, slots=True)
class OpenEntryDoor:
    """Open the entry door set."""


@dataclass(frozen=True, slots=True)
class CloseEntryDoor:
    """Close the entry door set."""


@dataclass(frozen=True, slots=True)
class OpenExitDoor:
    """Open the exit door set."""


@dataclass(frozen=True, slots=True)
class CloseExitDoor:
    """Close the exit door set."""


@dataclass(frozen=True, slots=True)
class ReadChip:
    """Read the chip of the document on the reader."""


@dataclass(frozen=True, slots=True)
class CaptureFace:
    """Take a picture of the traveller; answer with ``FaceCaptured`` of the same ``request``."""

    request: str = ""


@dataclass(frozen=True, slots=True)
class VerifyFace:
    """Compare capture ``request`` with the chip photo; answer with ``FaceVerified`` of it."""

    request: str = ""


@dataclass(frozen=True, slots=True)
class StartTimer:
    """Send ``Timeout(token)`` after ``seconds``; a newer timer supersedes it."""

    token: str
    seconds: float


@dataclass(frozen=True, slots=True)
class ShowSignal:
    """Show a signal to the traveller."""

    signal: Signal


@dataclass(frozen=True, slots=True)
class GuideTraveller:
    """Tell the traveller how to help the camera (with the look signal); audited by its code."""

    guidance: CaptureGuidance


@dataclass(frozen=True, slots=True)
class RecordPassage:
    """Remember that this document passed (for the duplicate-use check)."""

    document_key: str | None


@dataclass(frozen=True, slots=True)
class Alarm:
    """Alert the officers."""

    reason: str


@dataclass(frozen=True, slots=True)
class Finish:
    """A transaction is over: its outcome and reason codes, for the audit trail."""

    transaction: str
    outcome: Outcome
    reasons: tuple[str, ...] = ()


Command = (
    OpenEntryDoor
    | CloseEntryDoor
    | OpenExitDoor
    | CloseExitDoor
    | ReadChip
    | CaptureFace
    | VerifyFace
    | StartTimer
    | ShowSignal
    | GuideTraveller
    | RecordPassage
    | Alarm
    | Finish
)
