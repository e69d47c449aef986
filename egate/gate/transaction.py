"""What one finished transaction amounts to: the record behind audit lines and metrics.

``StepClock`` watches the controller's state after each event and adds the
time spent in each step; when the controller emits ``Finish`` it turns what it
saw into a ``TransactionRecord``.  Whoever drives the controller (the gate
service, a replay, the capacity model) adds what only it knows: the document
type and issuing state, the salted document hash and the match distance.
Nothing in a record identifies a traveller without the gate's salt.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from egate.gate.commands import Finish, Outcome
from egate.gate.settings import State

# The steps of a transaction, named as audit records and metrics name them.
STEP_OF_STATE = {
    State.READING: "document",
    State.ENTERING: "entry",
    State.CAPTURING: "capture",
    State.VERIFYING: "verify",
    State.EXITING: "exit",
}
STEPS = tuple(STEP_OF_STATE.values())


@dataclass(frozen=True, slots=True)
class TransactionRecord:
    """One transaction, from the document on the reader to its outcome."""

    transaction: str
    gate_id: str
    # Wall-clock time (seconds since the epoch) the transaction ended.
    finished_at: float
    outcome: Outcome
    reasons: tuple[str, ...]
    # Seconds spent in each step that the transaction reached (see STEPS).
    steps: dict[str, float]
    duration_s: float
    capture_attempts: int = 0
    match_distance: float | None = None
    document_type: str | None = None
    issuing_state: str | None = None
    # The salted hash of issuing state and document number (never the number).
    document_hash: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The record as one audit line's object."""
        return {
            "kind": "transaction",
            "time": iso_time(self.finished_at),
            "gate_id": self.gate_id,
            "transaction": self.transaction,
            "outcome": self.outcome.value,
            "reasons": list(self.reasons),
            "duration_s": round(self.duration_s, 6),
            "steps": {name: round(value, 6) for name, value in self.steps.items()},
            "capture_attempts": self.capture_attempts,
            "match_distance": (
                None if self.match_distance is None else round(self.match_distance, 6)
            ),
            "document_type": self.document_type,
            "issuing_state": self.issuing_state,
            "document_hash": self.document_hash,
        }


def iso_time(epoch_seconds: float) -> str:
    """An epoch time as ISO 8601 UTC with milliseconds, as audit lines carry it."""
    moment = datetime.fromtimestamp(epoch_seconds, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(slots=True)
class _Open:
    started: float
    steps: dict[str, float] = field(default_factory=dict)
    attempts: int = 0
    match_distance: float | None = None
    document_type: str | None = None
    issuing_state: str | None = None
    document_hash: str | None = None
    # Matching time a driver reported inside the capture step (see note_matching).
    matching: float = 0.0


class StepClock:
    """Times the steps of the transaction in progress from the controller's states.

    Call ``observe(state, now)`` after every ``handle()``; ``finish`` turns the
    controller's ``Finish`` into a record.  ``now`` is the driver's monotonic
    clock; ``wall`` the matching wall-clock time, for the record's timestamp.
    """

    def __init__(self, gate_id: str) -> None:
        self.gate_id = gate_id
        self._open: _Open | None = None
        self._state = State.IDLE
        self._since = 0.0

    def observe(self, state: State, now: float) -> None:
        """The controller is in ``state`` at ``now``; add the time of the step it left."""
        step = STEP_OF_STATE.get(self._state)
        if self._open is not None and step is not None:
            spent = max(0.0, now - self._since)
            self._open.steps[step] = self._open.steps.get(step, 0.0) + spent
        if state in STEP_OF_STATE and self._open is None:
            self._open = _Open(started=now)
        self._state, self._since = state, now

    def note_document(
        self, document_type: str | None, issuing_state: str | None, document_hash: str | None
    ) -> None:
        """What the driver read of the document (never its number in clear)."""
        if self._open is not None:
            self._open.document_type = document_type
            self._open.issuing_state = issuing_state
            self._open.document_hash = document_hash

    def note_capture(self) -> None:
        """The controller asked for a face capture (each retry counts)."""
        if self._open is not None:
            self._open.attempts += 1

    def note_matching(self, seconds: float) -> None:
        """Time the matching core spent comparing (descriptor and distance) for a capture.

        A driver that gets detection and comparison back in one job learns
        of the face only once both are done, so the controller sees the
        capture step take all of it; this moves the comparing to ``verify``.
        """
        if self._open is not None and seconds > 0:
            self._open.matching += seconds

    def note_match(self, distance: float | None) -> None:
        """The distance of the last verification."""
        if self._open is not None and distance is not None:
            self._open.match_distance = distance

    def finish(self, finish: Finish, now: float, wall: float) -> TransactionRecord:
        """The record of the transaction ``finish`` ends, at ``now`` (monotonic) and ``wall``."""
        current = self._open or _Open(started=now)
        step = STEP_OF_STATE.get(self._state)
        if step is not None:
            current.steps[step] = current.steps.get(step, 0.0) + max(0.0, now - self._since)
        shift = min(current.matching, current.steps.get("capture", 0.0))
        if shift > 0:
            current.steps["capture"] -= shift
            current.steps["verify"] = current.steps.get("verify", 0.0) + shift
        self._open = None
        self._since = now
        return TransactionRecord(
            transaction=finish.transaction,
            gate_id=self.gate_id,
            finished_at=wall,
            outcome=finish.outcome,
            reasons=finish.reasons,
            steps=current.steps,
            duration_s=max(0.0, now - current.started),
            capture_attempts=current.attempts,
            match_distance=current.match_distance,
            document_type=current.document_type,
            issuing_state=current.issuing_state,
            document_hash=current.document_hash,
        )
