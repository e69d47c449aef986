"""What a gate controller is configured with, and the states it moves through."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Topology(StrEnum):
    """How the gate's doors are arranged."""

    ONE_STEP = "one_step"  # entry opens at the start, exit after the whole check
    TWO_STEP = "two_step"  # mantrap: entry after the document, exit after the face


class State(StrEnum):
    """Where the controller is."""

    IDLE = "idle"
    READING = "reading"
    ENTERING = "entering"
    CAPTURING = "capturing"
    VERIFYING = "verifying"
    EXITING = "exiting"
    RETREAT = "retreat"  # entry held open for someone walking back out
    CLOSED = "closed"  # closed by an officer or after a forced exit
    DEGRADED = "degraded"  # a device is down


@dataclass(frozen=True, slots=True)
class ControllerSettings:
    """Attempts and per-step time limits (seconds)."""

    capture_attempts: int = 3
    document_timeout_s: float = 20.0
    entry_timeout_s: float = 15.0
    capture_timeout_s: float = 10.0
    verify_timeout_s: float = 10.0
    exit_timeout_s: float = 15.0
    retreat_timeout_s: float = 30.0
    # A door waits this long for the other one to be reported closed (two-step).
    interlock_timeout_s: float = 10.0

    def __post_init__(self) -> None:
        if self.capture_attempts < 1:
            raise ValueError("capture_attempts must be at least 1")
        for name in self.__dataclass_fields__:
            if name.endswith("_s") and not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive")

    def timeout_for(self, state: State) -> float:
        """The time limit of the step ``state`` stands for."""
        return {
            State.READING: self.document_timeout_s,
            State.ENTERING: self.entry_timeout_s,
            State.CAPTURING: self.capture_timeout_s,
            State.VERIFYING: self.verify_timeout_s,
            State.EXITING: self.exit_timeout_s,
        }.get(state, self.retreat_timeout_s)
