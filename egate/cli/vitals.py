"""What a running ``egate run`` tells the outside: health for the probes, notices for systemd.

The service loop calls ``Vitals`` from its own thread: a beat after each
round (liveness, the systemd watchdog), and every ``SNAPSHOT_S`` a fresh
snapshot of what readiness depends on (each device's health, the matching
core, the controller's state) for ``/readyz`` and systemd's status line.
The HTTP threads read only what was published (``egate.health``), so a
probe never calls into a driver.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from egate.biometrics.matching import MatchingCore
from egate.health import Phase, ServiceHealth
from egate.notify import Notifier
from station.service import GateService

# Readiness may lag this much behind the devices; a snapshot costs a little.
SNAPSHOT_S = 0.25


def core_ready(core: MatchingCore) -> bool:
    """Whether every worker of ``core`` has its models loaded (never blocks for long)."""
    try:
        core.wait_ready(timeout=0)
    except TimeoutError:
        return False
    return True


class Vitals:
    """Publishes one service's health and tells systemd about it."""

    def __init__(
        self,
        health: ServiceHealth,
        notifier: Notifier,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.health = health
        self.notifier = notifier
        self._clock = clock
        self._next_snapshot = 0.0

    def starting(self, status: str) -> None:
        """A step of the start (loading models, waiting for devices) is under way."""
        self.health.beat(Phase.STARTING)
        self.notifier.status(status)

    def beat(self) -> None:
        """Alive: for the probes and the watchdog (also during the waits of a start or a stop)."""
        self.health.beat()
        self.notifier.watchdog()

    def ready(self, service: GateService, core: MatchingCore) -> None:
        """The service loop begins: READY=1 for systemd, running for the probes."""
        self.health.beat(Phase.RUNNING)
        self._snapshot(service, core)
        self.notifier.ready(status_line(service))

    def after_step(self, service: GateService, core: MatchingCore) -> None:
        """One round of the loop is done."""
        self.beat()
        if self._clock() >= self._next_snapshot:
            self._snapshot(service, core)
            self.notifier.status(status_line(service))

    def stopping(self) -> None:
        """A clean stop begins: not ready any more, STOPPING=1 for systemd."""
        self.health.beat(Phase.STOPPING)
        self.notifier.stopping("stopping: closing the gate")

    def _snapshot(self, service: GateService, core: MatchingCore) -> None:
        self._next_snapshot = self._clock() + SNAPSHOT_S
        self.health.publish(
            service.devices.health(),
            matching_ready=core_ready(core),
            state=service.controller.state.value,
        )


def status_line(service: GateService) -> str:
    """One line for ``systemctl status``: the gate's state, its transactions, devices down."""
    count = service.summary.transactions
    line = f"gate {service.controller.state.value}, {count} transaction{'s' * (count != 1)}"
    down = [
        f"{device} ({problem})"
        for device, problem in service.devices.health().items()
        if problem is not None
    ]
    if down:
        line += "; down: " + ", ".join(down)
    return line
