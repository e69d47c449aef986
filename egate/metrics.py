"""The on-gate service's Prometheus metrics.

``GateMetrics`` turns what the service sees (finished transactions, device and
door states, the controller's state, alarms, officer commands) into metrics
named ``egate_gate_*`` on a registry handed in (a fresh one per test; one
``GateMetrics`` per registry).  Every series carries a ``gate`` label with the
gate's id: many gates scraped into one Prometheus share one dashboard and are
told apart by it.  The gate state is a prometheus-client ``Enum``: one series
per state, labelled ``egate_gate_state=<state>``, 1 for the current one.

Label values are codes from bounded sets (outcomes, the controller's reason
codes, step, device and door names), never anything about a traveller; a
value that does not look like a code is counted as ``OTHER`` so that a bug
elsewhere can neither leak text into labels nor grow their number without end.

``build_info`` adds ``egate_build_info{gate,version,python}`` (always 1), so a
dashboard shows which release each gate runs.  ``egate.endpoint`` serves
them over HTTP.
"""

from __future__ import annotations

import platform
import re

from prometheus_client import CollectorRegistry, Counter, Enum, Gauge, Histogram, Info

from egate import __version__
from egate.documents.chippolicy import ChipCheck
from egate.gate.commands import Outcome
from egate.gate.settings import State
from egate.gate.transaction import STEPS, TransactionRecord

# Steps last from a fraction of a second (a chip read) to their timeouts (up to 20 s).
STEP_BUCKETS = (0.1, 0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 5.0, 7.5, 10.0, 15.0, 20.0, 30.0)
# A whole passage takes some 10 to 30 s; referrals and aborts run to their timeouts.
TRANSACTION_BUCKETS = (2.0, 4.0, 6.0, 8.0, 10.0, 12.0, 15.0, 20.0, 25.0, 30.0, 45.0, 60.0, 90.0)
# dlib face distances lie in 0..1 with the decision at 0.6: finest around the threshold.
DISTANCE_BUCKETS = (0.1, 0.2, 0.3, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.8, 0.9, 1.0)
# The service's own work per transaction is milliseconds; more points at a problem.
OWN_TIME_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1.0)

OTHER = "OTHER"
_CODE = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,63}")


def _code(value: str) -> str:
    """``value`` as a label value if it looks like a code, else ``OTHER``."""
    return value if _CODE.fullmatch(value) else OTHER


class GateMetrics:
    """The metrics of one gate, all labelled ``gate=<gate_id>``, on ``registry``."""

    def __init__(self, gate_id: str, registry: CollectorRegistry) -> None:
        self.gate_id = gate_id
        gate = ["gate"]
        self._transactions = Counter(
            "egate_gate_transactions",
            "Finished transactions by outcome.",
            [*gate, "outcome"],
            registry=registry,
        )
        self._reasons = Counter(
            "egate_gate_transaction_reasons",
            "Reason codes of finished transactions (one per code; a transaction may have several).",
            [*gate, "outcome", "reason"],
            registry=registry,
        )
        self._steps = Histogram(
            "egate_gate_step_duration_seconds",
            "Time a transaction spent in each step it reached.",
            [*gate, "step"],
            buckets=STEP_BUCKETS,
            registry=registry,
        )
        self._durations = Histogram(
            "egate_gate_transaction_duration_seconds",
            "Time from the document on the reader to the outcome.",
            [*gate, "outcome"],
            buckets=TRANSACTION_BUCKETS,
            registry=registry,
        )
        self._distances = Histogram(
            "egate_gate_match_distance",
            "Face distance of the last verification of each transaction (match below 0.6).",
            gate,
            buckets=DISTANCE_BUCKETS,
            registry=registry,
        )
        self._captures = Counter(
            "egate_gate_capture_attempts",
            "Face captures taken in finished transactions.",
            gate,
            registry=registry,
        )
        self._own_time = Histogram(
            "egate_gate_own_time_seconds",
            "CPU time the controller and the service spent on one transaction.",
            gate,
            buckets=OWN_TIME_BUCKETS,
            registry=registry,
        )
        self._device_up = Gauge(
            "egate_gate_device_up",
            "1 when the device answers.",
            [*gate, "device"],
            registry=registry,
        )
        self._door_open = Gauge(
            "egate_gate_door_open", "1 when the door is open.", [*gate, "door"], registry=registry
        )
        self._state = Enum(
            "egate_gate_state",
            "Where the gate controller is.",
            gate,
            states=[state.value for state in State],
            registry=registry,
        )
        self._degraded = Gauge(
            "egate_gate_degraded", "1 while a device is down.", gate, registry=registry
        )
        self._alarms = Counter(
            "egate_gate_alarms",
            "Alarms raised to the officers.",
            [*gate, "reason"],
            registry=registry,
        )
        self._guidance = Counter(
            "egate_gate_capture_guidance",
            "Instructions given to travellers during face capture, by reason code.",
            [*gate, "code"],
            registry=registry,
        )
        self._misreads = Counter(
            "egate_gate_reader_misreads",
            "Document reads the reader could not make sense of.",
            gate,
            registry=registry,
        )
        self._officer = Counter(
            "egate_gate_officer_commands",
            "Commands from the officers' console.",
            [*gate, "action"],
            registry=registry,
        )
        self._refusals = Counter(
            "egate_gate_officer_refusals",
            "Officers' orders the gate refused (say, open_exit with nobody inside).",
            [*gate, "action"],
            registry=registry,
        )
        self._stale = Counter(
            "egate_gate_stale_results",
            "Capture or verification results dropped: they answered an earlier request.",
            gate,
            registry=registry,
        )
        self._chip_checks = Counter(
            "egate_gate_chip_checks",
            "Chips read, by the check they failed (ok: none failed); a chip may fail several.",
            [*gate, "check"],
            registry=registry,
        )
        # Series that exist from the start read 0 rather than missing, so that
        # rate() and the dashboard see the first transaction of each kind.
        for outcome in Outcome:
            self._transactions.labels(gate_id, outcome.value)
            self._durations.labels(gate_id, outcome.value)
        for step in STEPS:
            self._steps.labels(gate_id, step)
        for check in ("ok", *(check.value for check in ChipCheck)):
            self._chip_checks.labels(gate_id, check)
        for child in (
            self._distances,
            self._captures,
            self._own_time,
            self._misreads,
            self._stale,
        ):
            child.labels(gate_id)
        self.state(State.IDLE)

    def transaction(self, record: TransactionRecord) -> None:
        """Count a finished transaction: outcome, reasons, step and total times, distance."""
        gate, outcome = self.gate_id, record.outcome.value
        self._transactions.labels(gate, outcome).inc()
        for reason in record.reasons:
            self._reasons.labels(gate, outcome, _code(reason)).inc()
        for step, seconds in record.steps.items():
            self._steps.labels(gate, _code(step)).observe(seconds)
        self._durations.labels(gate, outcome).observe(record.duration_s)
        if record.match_distance is not None:
            self._distances.labels(gate).observe(record.match_distance)
        self._captures.labels(gate).inc(record.capture_attempts)

    def chip_checks(self, failed: tuple[ChipCheck, ...]) -> None:
        """Count one chip read by the checks it failed (the label set is the ChipCheck codes)."""
        for check in failed or ("ok",):
            self._chip_checks.labels(self.gate_id, str(check)).inc()

    def own_time(self, seconds: float) -> None:
        """The CPU time the controller and the service spent on one transaction."""
        self._own_time.labels(self.gate_id).observe(seconds)

    def device(self, device: str, up: bool) -> None:
        """Whether ``device`` (reader, camera, entry_door, ...) answers."""
        self._device_up.labels(self.gate_id, _code(device)).set(1 if up else 0)

    def door(self, door: str, is_open: bool) -> None:
        """Whether ``door`` (entry or exit) is open."""
        self._door_open.labels(self.gate_id, _code(door)).set(1 if is_open else 0)

    def state(self, state: State) -> None:
        """The controller's state; ``egate_gate_degraded`` is 1 in ``State.DEGRADED``."""
        self._state.labels(self.gate_id).state(state.value)
        self._degraded.labels(self.gate_id).set(1 if state is State.DEGRADED else 0)

    def alarm(self, reason: str) -> None:
        """An alarm raised to the officers, by the controller's reason code."""
        self._alarms.labels(self.gate_id, _code(reason)).inc()

    def guidance(self, code: str) -> None:
        """An instruction shown to a traveller during capture, by its reason code."""
        self._guidance.labels(self.gate_id, _code(code)).inc()

    def misread(self) -> None:
        """The reader sent something that was not a document."""
        self._misreads.labels(self.gate_id).inc()

    def officer(self, action: str) -> None:
        """A command from the officers' console (open_exit, close, refer, reset)."""
        self._officer.labels(self.gate_id, _code(action)).inc()

    def officer_refused(self, action: str) -> None:
        """An officer's order the gate refused (the audit trail says why)."""
        self._refusals.labels(self.gate_id, _code(action)).inc()

    def stale_results(self, count: int) -> None:
        """``count`` more capture or verification results answered no current request."""
        if count > 0:
            self._stale.labels(self.gate_id).inc(count)


def build_info(registry: CollectorRegistry, gate_id: str) -> None:
    """Add ``egate_build_info{gate,version,python}`` (value 1) to ``registry``.

    Three bounded labels: the gate's id, egate's version and the Python
    release (``3.11.9``); nothing that changes while the gate runs.
    """
    info = Info(
        "egate_build",
        "The egate release and the Python that run this gate (value 1).",
        ["gate"],
        registry=registry,
    )
    info.labels(gate_id).info({"version": __version__, "python": platform.python_version()})
