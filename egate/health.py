"""Liveness and readiness of the on-gate service, published by its loop for the HTTP threads.

The service loop owns the drivers and the matching core, and the metrics
server's threads must never call into them: a driver is not thread-safe,
and a probe that blocks on a stuck driver would hide the very fault it is
asked about.  So the loop *publishes* and the HTTP threads only read:

* ``beat()`` after every round of the loop (and during the waits of a
  start or a stop): the service is **live** while the last beat is at most
  ``stale_after_s`` old.  A loop stuck in a driver call, a deadlock or a
  busy hang stops the beats, and ``/healthz`` turns 503.
* ``publish(...)`` now and then: each device's problem (None: it works),
  whether the matching core is ready, and the gate controller's state.
  The service is **ready** when it is live, running (not starting or
  stopping), every device works and the matching core is ready.

Answers are ``(HTTP status, JSON body)``; the body says what is not ready
in words an engineer can act on (``{"doors": "no answer from the door
board"}``).  Nothing in them is about a traveller.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

# A round of the loop takes milliseconds; seconds without one is a hang.
DEFAULT_STALE_AFTER_S = 5.0
OK = 200
UNAVAILABLE = 503

Answer = tuple[int, dict[str, Any]]


class Phase(StrEnum):
    """Where the service is in its life."""

    STARTING = "starting"
    RUNNING = "running"
    STOPPING = "stopping"


@dataclass(frozen=True, slots=True)
class _Snapshot:
    """What readiness depends on, as the loop last saw it."""

    devices: Mapping[str, str | None] = field(default_factory=dict)
    matching_ready: bool = False
    state: str | None = None


class ServiceHealth:
    """The latest beat and snapshot of one service; safe to read from any thread."""

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        stale_after_s: float = DEFAULT_STALE_AFTER_S,
    ) -> None:
        if stale_after_s <= 0:
            raise ValueError(f"stale_after_s must be positive, not {stale_after_s}")
        self._clock = clock
        self._stale_after_s = stale_after_s
        self._lock = threading.Lock()
        self._phase = Phase.STARTING
        self._beat: float | None = None
        self._snapshot = _Snapshot()

    @property
    def phase(self) -> Phase:
        """Where the service is: starting, running or stopping."""
        with self._lock:
            return self._phase

    def beat(self, phase: Phase | None = None) -> None:
        """The loop is alive now (and, if given, has moved on to ``phase``)."""
        now = self._clock()
        with self._lock:
            self._beat = now
            if phase is not None:
                self._phase = phase

    def publish(
        self, devices: Mapping[str, str | None], *, matching_ready: bool, state: str
    ) -> None:
        """What readiness depends on, as the loop sees it now; counts as a beat."""
        snapshot = _Snapshot(dict(devices), matching_ready, state)
        now = self._clock()
        with self._lock:
            self._snapshot = snapshot
            self._beat = now

    def _age(self) -> float | None:
        """Seconds since the last beat (lock held); None before the first."""
        return None if self._beat is None else max(0.0, self._clock() - self._beat)

    def _live(self, age: float | None) -> bool:
        return age is not None and age <= self._stale_after_s

    def liveness(self) -> Answer:
        """200 while the loop beats, 503 once it has been silent too long (or never beat)."""
        with self._lock:
            age, phase = self._age(), self._phase
        body: dict[str, Any] = {
            "status": "ok" if self._live(age) else "stale",
            "phase": phase.value,
            "last_beat_s": None if age is None else round(age, 3),
        }
        return (OK if self._live(age) else UNAVAILABLE), body

    def readiness(self) -> Answer:
        """200 when live, running, every device works and the matching core is ready; else 503."""
        with self._lock:
            age, phase, snapshot = self._age(), self._phase, self._snapshot
        not_ready: dict[str, str] = {}
        if not self._live(age):
            not_ready["service"] = (
                "no beat from the service loop yet"
                if age is None
                else f"service loop silent for {age:.1f} s"
            )
        if phase is not Phase.RUNNING:
            not_ready["service"] = f"service {phase.value}"
        for device, problem in snapshot.devices.items():
            if problem is not None:
                not_ready[device] = problem
        if not snapshot.devices and phase is Phase.RUNNING:
            not_ready["devices"] = "no device health published yet"
        if not snapshot.matching_ready:
            not_ready["matching"] = "matching core not ready"
        body: dict[str, Any] = {
            "ready": not not_ready,
            "phase": phase.value,
            "state": snapshot.state,
            "devices": {name: problem or "ok" for name, problem in snapshot.devices.items()},
            "matching": "ready" if snapshot.matching_ready else "not ready",
        }
        if not_ready:
            body["not_ready"] = not_ready
        return (UNAVAILABLE if not_ready else OK), body
