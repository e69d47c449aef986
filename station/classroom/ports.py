"""What the console's server needs of a running replay, as typing protocols.

The server calls only these methods, so it runs as well on the replay's own
classes (``station.training.live.LiveView``, ``station.training.control.ReplayControl``
and the view's desk) as on a test's small stand-ins.
"""

from __future__ import annotations

from typing import Protocol

from station.training.control import StepUntil
from station.training.desk import DeskDecision, RefusalReason
from station.training.scenario import FaultDevice


class Verdict(Protocol):
    """The judgement of a desk decision."""

    def to_json(self) -> dict[str, object]:
        """The decision, its verdict and points, as JSON."""
        ...


class DeskPort(Protocol):
    """The trainee desk, as the server uses it."""

    def decide(
        self, passenger: str, decision: DeskDecision, reason: RefusalReason | None = None
    ) -> Verdict:
        """Judge the trainee's decision; ValueError when it cannot be taken."""
        ...


class LivePort(Protocol):
    """What the class sees of the replay (``LiveView``)."""

    @property
    def version(self) -> int:
        """Changes whenever the view does."""
        ...

    @property
    def desk(self) -> DeskPort:
        """The trainee desk of the replay."""
        ...

    def snapshot(self) -> dict[str, object]:
        """The state JSON (role "viewer", catalogue included)."""
        ...

    def lines_since(self, seq: int) -> list[dict[str, object]]:
        """Transcript lines numbered above ``seq``."""
        ...

    def photo(self, passenger: str, which: str) -> bytes | None:
        """A passenger's "chip" or "capture" photo as JPEG, or None."""
        ...


class ControlPort(Protocol):
    """The replay's remote control (``ReplayControl``)."""

    @property
    def paused(self) -> bool:
        """Whether the replay stands still."""
        ...

    @property
    def rate(self) -> float:
        """How many times its own pace the replay runs."""
        ...

    @property
    def finished(self) -> bool:
        """Whether the replay's loop has ended."""
        ...

    def play(self) -> None:
        """Run on."""
        ...

    def pause(self) -> None:
        """Stand still."""
        ...

    def step(self, until: StepUntil) -> None:
        """Run to the next line or decision, then pause."""
        ...

    def set_rate(self, rate: float) -> None:
        """Run at ``rate``; ValueError for a rate not offered."""
        ...

    def inject_fault(self, gate: str, device: FaultDevice, lasts_s: float) -> None:
        """Fail a device now; ValueError for an unknown gate or a bad duration."""
        ...

    def add_passenger(self, template: str) -> str:
        """Send a copy of a passenger; the copy's id, ValueError for an unknown one."""
        ...


__all__ = ["ControlPort", "DeskPort", "LivePort", "Verdict"]
