"""Remote control of a running replay: pause, step, speed, and the instructor's actions.

A classroom console drives a replay from another thread (the web server's).
``ReplayClock`` is the replay's monotonic clock, one that can stop and run
faster or slower: handed to the replay, the gates, the emulators and the
passengers, it freezes the whole scene on pause (doors mid-travel stay
mid-travel, timers do not run out) and speeds it up or slows it down at
once.  The gate's own work (reading a chip, matching a face) still takes the
machine's time, as at every replay speed.

``ReplayControl`` is what the server calls: play, pause, step to the next
transcript line or the next decision, choose a rate, inject a fault, send
another passenger.  It only records requests; the replay loop takes them on
its own thread (``take_actions``), so nothing the server does races the
gates.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from station.training.scenario import FaultDevice, Scenario
from station.training.transcript import Step

# The speeds a console offers, as multiples of the replay's own pace.
RATES = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0)
# Longest fault an instructor may inject, as in a scenario file.
MAX_FAULT_S = 3600.0
# Transcript steps that are a decision: the document's, the face's, the outcome.
_DECISION_STEPS = frozenset({Step.DOCUMENT, Step.VERIFY, Step.DECISION})


class ReplayClock:
    """A monotonic clock that can be paused and run at a rate; thread-safe.

    It starts at the source's reading, so it can stand in for the source::

        >>> now = [100.0]
        >>> clock = ReplayClock(lambda: now[0])
        >>> now[0] = 101.0; clock()
        101.0
        >>> clock.pause(); now[0] = 150.0; clock()
        101.0
        >>> clock.play(); clock.set_rate(4.0); now[0] = 151.0; clock()
        105.0
    """

    def __init__(self, source: Callable[[], float] = time.monotonic) -> None:
        self._source = source
        self._lock = threading.Lock()
        self._real = source()
        self._virtual = self._real
        self._rate = 1.0
        self._paused = False

    def __call__(self) -> float:
        """The clock's reading now."""
        with self._lock:
            return self._now(self._source())

    def _now(self, real: float) -> float:
        if self._paused:
            return self._virtual
        return self._virtual + (real - self._real) * self._rate

    def _rebase(self) -> None:
        real = self._source()
        self._virtual = self._now(real)
        self._real = real

    @property
    def paused(self) -> bool:
        """Whether the clock stands still."""
        with self._lock:
            return self._paused

    @property
    def rate(self) -> float:
        """How many of the clock's seconds pass in one of the source's."""
        with self._lock:
            return self._rate

    def pause(self) -> None:
        """Stop the clock where it is."""
        with self._lock:
            self._rebase()
            self._paused = True

    def play(self) -> None:
        """Let the clock run again from where it stopped."""
        with self._lock:
            self._rebase()
            self._paused = False

    def set_rate(self, rate: float) -> None:
        """Run at ``rate`` from now on (the reading does not jump)."""
        if not rate > 0:
            raise ValueError("rate must be positive")
        with self._lock:
            self._rebase()
            self._rate = rate


class StepUntil(StrEnum):
    """Where a step stops: the next transcript line, or the next decision."""

    EVENT = "event"
    DECISION = "decision"


@dataclass(frozen=True, slots=True)
class InjectFault:
    """An instructor's fault: ``device`` of ``gate`` fails now for ``lasts_s``."""

    gate: str
    device: FaultDevice
    lasts_s: float


@dataclass(frozen=True, slots=True)
class AddPassenger:
    """An instructor sends another passenger: a copy of ``template`` named ``id``."""

    template: str
    id: str


Action = InjectFault | AddPassenger


class ReplayControl:
    """Thread-safe remote control of one replay; see the module docstring."""

    def __init__(self, scenario: Scenario, clock: ReplayClock | None = None) -> None:
        self.clock = clock or ReplayClock()
        self._gates = scenario.gates.names
        # Any passenger who steps up on their own may be sent again; a tailgater needs a leader.
        self._templates = {p.id: p for p in scenario.passengers if not p.tailgater}
        self._taken = {p.id for p in scenario.passengers}
        self._copies: dict[str, itertools.count[int]] = {}
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._actions: deque[Action] = deque()
        self._until: StepUntil | None = None
        self._stopped = False
        self._finished = False

    # -- what the console asks -------------------------------------------------

    @property
    def paused(self) -> bool:
        """Whether the replay stands still."""
        return self.clock.paused

    @property
    def rate(self) -> float:
        """How many times faster than the replay's own pace it runs."""
        return self.clock.rate

    @property
    def finished(self) -> bool:
        """Whether the replay's loop has ended (every passenger through, or stopped)."""
        with self._lock:
            return self._finished

    def play(self) -> None:
        """Run on (and forget any step in progress)."""
        with self._wake:
            self._until = None
            self.clock.play()
            self._wake.notify_all()

    def pause(self) -> None:
        """Stop the scene where it is."""
        with self._wake:
            self._until = None
            self.clock.pause()

    def step(self, until: StepUntil) -> None:
        """Run until the next transcript line (or decision), then pause."""
        with self._wake:
            self._until = StepUntil(until)
            self.clock.play()
            self._wake.notify_all()

    def set_rate(self, rate: float) -> None:
        """Run at ``rate`` times the replay's pace; one of ``RATES``."""
        if rate not in RATES:
            choices = ", ".join(f"{r:g}" for r in RATES)
            raise ValueError(f"rate must be one of {choices}, not {rate!r}")
        self.clock.set_rate(float(rate))

    def inject_fault(self, gate: str, device: FaultDevice | str, lasts_s: float) -> None:
        """Make ``device`` of ``gate`` fail now for ``lasts_s`` seconds of scenario time."""
        if gate not in self._gates:
            raise ValueError(f"unknown gate {gate!r}; the gates are {', '.join(self._gates)}")
        try:
            failing = FaultDevice(device)
        except ValueError:
            devices = ", ".join(d.value for d in FaultDevice)
            raise ValueError(f"unknown device {device!r}; one of {devices}") from None
        if not 0 < lasts_s <= MAX_FAULT_S:
            raise ValueError(f"lasts_s must be above 0 and at most {MAX_FAULT_S:g}, not {lasts_s}")
        self._queue(InjectFault(gate, failing, float(lasts_s)))

    def add_passenger(self, template: str) -> str:
        """Send a copy of scenario passenger ``template`` now; the copy's new id."""
        if template not in self._templates:
            raise ValueError(
                f"no passenger {template!r} to send again"
                " (any scenario passenger who is not a tailgater)"
            )
        with self._lock:
            if self._finished or self._stopped:
                raise ValueError("the replay has ended: nothing more can happen at its gates")
            counter = self._copies.setdefault(template, itertools.count(1))
            new_id = next(
                f"{template}+{n}" for n in counter if f"{template}+{n}" not in self._taken
            )
            self._taken.add(new_id)
        self._queue(AddPassenger(template, new_id))
        return new_id

    def catalogue(self) -> list[dict[str, str]]:
        """The passengers an instructor may send again, with a label for a menu."""
        return [
            {"id": spec.id, "label": f"{spec.id}: {spec.kind.value}"}
            for spec in self._templates.values()
        ]

    def stop(self) -> None:
        """End the replay at its next round (the gates then close as after the last passenger)."""
        with self._wake:
            self._stopped = True
            self.clock.play()
            self._wake.notify_all()

    # -- what the replay loop calls --------------------------------------------

    @property
    def stopped(self) -> bool:
        """Whether ``stop`` was called."""
        with self._lock:
            return self._stopped

    def take_actions(self) -> Sequence[Action]:
        """The instructor's actions since the last call, oldest first."""
        with self._lock:
            taken = list(self._actions)
            self._actions.clear()
            return taken

    def hold(self, timeout_s: float) -> bool:
        """While paused, wait up to ``timeout_s`` for a change; whether the replay is paused."""
        with self._wake:
            if self.clock.paused and not self._stopped and not self._actions:
                self._wake.wait(timeout_s)
            return self.clock.paused and not self._stopped

    def noted(self, step: str) -> None:
        """A transcript line of ``step`` was written: a step in progress may end here."""
        with self._lock:
            until = self._until
            if until is None:
                return
            if until is StepUntil.EVENT or step in _DECISION_STEPS:
                self._until = None
                self.clock.pause()

    def finish(self) -> None:
        """The replay's loop has ended."""
        with self._wake:
            self._finished = True
            self._wake.notify_all()

    def _queue(self, action: Action) -> None:
        with self._wake:
            if self._finished or self._stopped:
                raise ValueError("the replay has ended: nothing more can happen at its gates")
            self._actions.append(action)
            self._wake.notify_all()


__all__ = [
    "MAX_FAULT_S",
    "RATES",
    "Action",
    "AddPassenger",
    "InjectFault",
    "ReplayClock",
    "ReplayControl",
    "StepUntil",
]
