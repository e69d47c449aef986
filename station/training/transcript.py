"""What a replay produces: transcript lines as they happen, and each passenger's result.

The replay engine (``station.training.replay``) fills these while the gates run; the
scorecard and the reports read them.  Times are scenario seconds after the
scenario's start (``at``); ``clock`` is the scenario's wall clock for
display.  Nothing here holds a name, a document number or an image: a
passenger is their scenario id.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from station.training.desk import DeskScore
from station.training.lookat import look_at
from station.training.scenario import Expectation, PassengerKind, Scenario


class Step:
    """The step column of a transcript line."""

    ARRIVAL = "arrival"  # a passenger steps up to a gate
    PASSENGER = "passenger"  # what a passenger does: lays the passport down, walks in or out
    DOCUMENT = "document"  # MRZ read and the document policy's verdict
    CHIP = "chip"  # chip read
    DOOR = "door"  # a door ordered open or shut
    SIGNAL = "signal"  # the indicator
    OCCUPANCY = "occupancy"  # people counted in the gate, beams crossed
    CAPTURE = "capture"  # a face capture
    VERIFY = "verify"  # the 1:1 comparison's result
    DECISION = "decision"  # the transaction's outcome and reasons
    ALARM = "alarm"
    DEVICE = "device"  # a device failing or coming back, a fault the scenario injects


@dataclass(frozen=True, slots=True)
class Line:
    """One line of the transcript."""

    at: float  # scenario seconds after the start
    gate: str
    passenger: str | None
    step: str
    text: str
    # Structured detail for the JSON transcript: outcome, reasons, distance, ...
    detail: dict[str, object] = field(default_factory=dict)

    def to_json(self, start: datetime) -> dict[str, object]:
        """The line as a JSON object, with the scenario clock time."""
        return {
            "at_s": round(self.at, 3),
            "time": clock_text(start, self.at),
            "gate": self.gate,
            "passenger": self.passenger,
            "step": self.step,
            "text": self.text,
            **({"detail": self.detail} if self.detail else {}),
        }


def clock_text(start: datetime, at: float) -> str:
    """The scenario's clock ``at`` seconds after ``start``: ``07:31:05.2``."""
    moment = start + timedelta(seconds=at)
    return moment.strftime("%H:%M:%S.") + f"{moment.microsecond // 100_000}"


@dataclass(slots=True)
class PassengerResult:
    """What happened to one passenger, beside what should have happened."""

    id: str
    kind: PassengerKind
    expected: Expectation
    learn: str = ""
    gate: str | None = None
    # Scenario seconds: when they stepped up, when their transaction ended.
    arrived_at: float | None = None
    started_at: float | None = None
    ended_at: float | None = None
    transaction: str | None = None
    outcome: str | None = None  # None: no transaction (never served, turned away)
    reasons: tuple[str, ...] = ()
    # Seconds per step as the gate measured them (document, entry, capture, verify, exit).
    steps: dict[str, float] = field(default_factory=dict)
    duration_s: float | None = None
    match_distance: float | None = None
    capture_attempts: int = 0
    # The capture instructions the gate gave them, in order (CaptureGuidance codes).
    guidance: list[str] = field(default_factory=list)
    # For a tailgater: the passenger they followed (whose transaction they share).
    follows: str | None = None

    @property
    def matched(self) -> bool:
        """Whether the gate did what the scenario expects."""
        return self.expected.met_by(self.outcome, self.reasons)

    def to_json(self) -> dict[str, object]:
        """The result as a JSON object for the scorecard file."""
        return {
            "id": self.id,
            "kind": self.kind.value,
            "gate": self.gate,
            "follows": self.follows,
            "expected": {
                "outcome": self.expected.outcome.value,
                "reasons": list(self.expected.reasons),
            },
            "actual": {"outcome": self.outcome or "none", "reasons": list(self.reasons)},
            "matched": self.matched,
            "transaction": self.transaction,
            "arrived_at_s": _rounded(self.arrived_at),
            "started_at_s": _rounded(self.started_at),
            "ended_at_s": _rounded(self.ended_at),
            "duration_s": _rounded(self.duration_s),
            "steps_s": {step: round(seconds, 3) for step, seconds in self.steps.items()},
            "match_distance": _rounded(self.match_distance, 4),
            "capture_attempts": self.capture_attempts,
            "guidance": list(self.guidance),
            "learn": self.learn,
            "look_at": look_at(self.reasons),
        }


def _rounded(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


@dataclass(slots=True)
class ReplayRun:
    """A finished replay: the scenario, how fast it ran, the transcript and the results."""

    scenario: Scenario
    source: str  # the scenario file, or "built-in" for the shipped default
    speed: float  # people and doors moved this many times faster than in the scenario
    fast: bool
    lines: list[Line] = field(default_factory=list)
    results: list[PassengerResult] = field(default_factory=list)
    # Where the wall-clock time went, in seconds: "total", "setup" (models,
    # emulators, photos), "replay" (the passengers), "matching" (the matching
    # core's workers busy, summed over workers: they run beside the replay).
    timing: dict[str, float] = field(default_factory=dict)
    # Scenario seconds from the start to the last passenger's departure.
    duration: float = 0.0
    # The trainee desk's cases and verdicts; None when no desk was used.
    desk: DeskScore | None = None

    @property
    def all_matched(self) -> bool:
        """Whether every passenger's outcome met the expectation."""
        return all(result.matched for result in self.results)
