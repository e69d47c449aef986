"""What the gate's devices and officers tell the controller.

Events are plain frozen values.  None carries personal data: a document is
reduced to its policy verdict, reason codes and pseudonymous key.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from egate.biometrics.decision import Decision
from egate.biometrics.guidance import CaptureGuidance
from egate.documents.policy import PolicyDecision, Verdict


class Door(StrEnum):
    """The two door sets of a gate."""

    ENTRY = "entry"
    EXIT = "exit"


class DoorPosition(StrEnum):
    """Where the door board reports a door to be (docs/door-protocol.md's door states)."""

    OPENING = "opening"
    OPEN = "open"
    CLOSING = "closing"
    CLOSED = "closed"
    FAULT = "fault"


class ChipStatus(StrEnum):
    """How reading the document's chip went."""

    OK = "ok"
    UNREADABLE = "unreadable"
    ACCESS_DENIED = "access_denied"
    ABSENT = "absent"


class OfficerAction(StrEnum):
    """What an officer can ask from the console."""

    OPEN_EXIT = "open_exit"
    CLOSE = "close"
    REFER = "refer"
    RESET = "reset"


@dataclass(frozen=True, slots=True)
class DocumentCheck:
    """The document policy's answer, without the document's data."""

    verdict: Verdict
    reasons: tuple[str, ...] = ()
    document_key: str | None = None

    @classmethod
    def from_decision(cls, decision: PolicyDecision) -> DocumentCheck:
        """The check a policy decision amounts to."""
        return cls(decision.verdict, decision.reasons, decision.document_key)


@dataclass(frozen=True, slots=True)
class DocumentPresented:
    """A document was placed on the reader."""


@dataclass(frozen=True, slots=True)
class DocumentRead:
    """The MRZ was read and the document policy has answered."""

    mrz_valid: bool
    check: DocumentCheck


@dataclass(frozen=True, slots=True)
class ChipRead:
    """The chip was read (or not); whether its DG1 agrees with the printed MRZ.

    ``check`` is the chip policy's answer on the chip's verdicts (passive,
    active and chip authentication; ``egate.documents.chippolicy``), for a
    chip that was read.
    """

    status: ChipStatus
    dg1_matches_mrz: bool = True
    check: DocumentCheck = DocumentCheck(Verdict.ACCEPT)


@dataclass(frozen=True, slots=True)
class EntryPassed:
    """The traveller is inside: the entry door may close behind them."""


@dataclass(frozen=True, slots=True)
class DoorReported:
    """The door board reports where a door is (an event, or a field of a reply).

    ``position`` None: the board no longer knows or was not heard (a reconnection).
    """

    door: Door
    position: DoorPosition | None


@dataclass(frozen=True, slots=True)
class DoorAnswered:
    """The board settled one of the controller's orders for ``door``.

    ``position`` is the door's position in the answer (None when the order got
    no answer at all); ``refused`` when the board declined it, typically its
    interlock refusing to open one door while the other is not closed.
    """

    door: Door
    position: DoorPosition | None
    refused: bool = False


@dataclass(frozen=True, slots=True)
class DoorForced:
    """A door was pushed open without an order (the board's FORCED event)."""

    door: Door


@dataclass(frozen=True, slots=True)
class FaceCaptured:
    """The camera took a picture with this many faces in it, for capture ``request``."""

    faces: int
    request: str = ""


@dataclass(frozen=True, slots=True)
class CaptureGuided:
    """While capturing for ``request``, the frames show what the traveller should change."""

    guidance: CaptureGuidance
    request: str = ""


@dataclass(frozen=True, slots=True)
class FaceVerified:
    """The matching core compared the captured face with the chip photo."""

    decision: Decision
    reason: str | None = None
    distance: float | None = None
    # The request (CaptureFace/VerifyFace) this answers: any other is stale.
    request: str = ""


@dataclass(frozen=True, slots=True)
class OccupancyChanged:
    """The occupancy sensor counts this many people inside the gate."""

    count: int


@dataclass(frozen=True, slots=True)
class ExitPassed:
    """The traveller has left through the exit."""


@dataclass(frozen=True, slots=True)
class Timeout:
    """A timer the controller asked for has run out."""

    token: str


@dataclass(frozen=True, slots=True)
class DeviceFault:
    """A device failed or vanished."""

    device: str
    reason: str = ""


@dataclass(frozen=True, slots=True)
class DeviceRecovered:
    """A failed device works again."""

    device: str


@dataclass(frozen=True, slots=True)
class ServiceStopping:
    """The service is shutting down: abort what is in progress and close the gate."""


@dataclass(frozen=True, slots=True)
class OfficerCommand:
    """An officer's order from the console."""

    action: OfficerAction


Event = (
    DocumentPresented
    | DocumentRead
    | ChipRead
    | EntryPassed
    | DoorReported
    | DoorAnswered
    | DoorForced
    | FaceCaptured
    | CaptureGuided
    | FaceVerified
    | OccupancyChanged
    | ExitPassed
    | Timeout
    | DeviceFault
    | DeviceRecovered
    | OfficerCommand
    | ServiceStopping
)
