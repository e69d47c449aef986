"""Officers' orders through the console to the real service on a mock gate.

The gate is ``egate run --mock``'s (emulators on pseudo-terminals, the real
drivers and service) without travellers: what is under test is what the
service does with an order and what the console answers.  Waiting limits
are a safety net against a hung test, never a measure.
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from egate.audit import AuditTrail, read_audit
from egate.biometrics.matching import MatchingCore
from egate.cli.run import mock_gate_config
from egate.documents.policy import DocumentPolicy
from egate.gate.controller import GateController
from egate.gate.events import OfficerAction
from egate.gate.settings import State
from egate.metrics import GateMetrics
from egate.privacy import Pseudonymizer
from hardware.devices import EmulationSettings
from hardware.doorprotocol import Door, DoorState
from station.console import OfficerConsole, send_order
from station.mockgate import MockGate
from station.service import GateService

pytestmark = pytest.mark.hardware

PATIENCE_S = 30.0
SHORT_S = 0.3
NOBODY = "nobody is in the gate: there is no one to let out"


@dataclass
class Gate:
    """A started service on an idle mock gate, with its console."""

    service: GateService
    mock: MockGate
    registry: CollectorRegistry
    audit_path: Path
    socket_path: Path

    def audited(self, kind: str) -> list[dict[str, Any]]:
        return [record for record in read_audit(self.audit_path) if record["kind"] == kind]

    def sample(self, name: str, **labels: str) -> float | None:
        gate_id = self.service.controller.gate_id
        return self.registry.get_sample_value(name, {"gate": gate_id, **labels})

    def exit_door(self) -> DoorState | None:
        assert self.mock.emulators is not None and self.mock.emulators.doors is not None
        return self.mock.emulators.doors.state(Door.EXIT)

    @contextlib.contextmanager
    def running(self) -> Iterator[None]:
        """Step the service from a thread of its own, as ``egate run``'s loop does."""
        stop = threading.Event()

        def loop() -> None:
            while not stop.is_set():
                self.service.step()
                time.sleep(0.002)

        thread = threading.Thread(target=loop, daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join(PATIENCE_S)


@pytest.fixture(scope="module")
def matching() -> Iterator[MatchingCore]:
    # No traveller comes: the core is there because the service needs one.
    core = MatchingCore(workers=1, kind="thread", registry=CollectorRegistry())
    try:
        yield core
    finally:
        core.close()


@pytest.fixture
def gate(tmp_path: Path, matching: MatchingCore) -> Iterator[Gate]:
    config = mock_gate_config()
    registry = CollectorRegistry()
    policy = DocumentPolicy.from_settings(config.policy, Pseudonymizer(b"egate-test-salt-0123"))
    audit_path = tmp_path / "egate-audit.jsonl"
    with contextlib.ExitStack() as stack:
        # Unix socket paths are limited to ~100 bytes; pytest's tmp paths can be long.
        short = stack.enter_context(tempfile.TemporaryDirectory(prefix="egate-", dir="/tmp"))
        socket_path = Path(short) / "console.sock"
        mock = stack.enter_context(
            MockGate(
                config.devices,
                EmulationSettings(door_travel_s=0.2),
                _NoIndicator(),
                today=date.today,
                base_dir=tmp_path,
                stream=False,
            )
        )
        assert mock.devices is not None
        service = GateService(
            GateController(config.gate_id, config.service.controller.topology),
            mock.devices,
            matching,
            policy,
            audit=stack.enter_context(AuditTrail(audit_path)),
            metrics=GateMetrics(config.gate_id, registry),
        )
        stack.callback(service.close)
        service.start()
        assert service.wait_for_devices(PATIENCE_S, time.sleep) == []
        yield Gate(service, mock, registry, audit_path, socket_path)


class _NoIndicator:
    """An indicator nobody looks at."""

    current = None

    def show(self, signal: object, text: str = "") -> None:
        del signal, text


def test_ok_close_means_the_gate_is_closed(gate: Gate) -> None:
    with OfficerConsole(gate.socket_path, gate.service.officer), gate.running():
        assert send_order(gate.socket_path, OfficerAction.CLOSE) == "ok close"
        # Said after the service carried it out, not when it was queued.
        assert gate.service.controller.state is State.CLOSED
        assert send_order(gate.socket_path, OfficerAction.RESET) == "ok reset"
        assert gate.service.controller.state is not State.CLOSED
    assert [record["action"] for record in gate.audited("officer")] == ["close", "reset"]
    assert gate.sample("egate_gate_officer_commands_total", action="close") == 1


def test_open_exit_on_an_idle_gate_is_refused_and_audited(gate: Gate) -> None:
    with OfficerConsole(gate.socket_path, gate.service.officer), gate.running():
        answer = send_order(gate.socket_path, OfficerAction.OPEN_EXIT)
        assert answer == f"error refused: {NOBODY}"
        refer = send_order(gate.socket_path, OfficerAction.REFER)
        assert refer.startswith("error refused: no transaction in progress")
    assert gate.service.controller.state is State.IDLE
    assert gate.exit_door() is DoorState.CLOSED
    records = gate.audited("officer")
    assert [(record["action"], record["refused"], record["transaction"]) for record in records] == [
        ("open_exit", NOBODY, None),
        ("refer", refer.removeprefix("error refused: "), None),
    ]
    # The commands metric counts orders carried out.
    assert gate.sample("egate_gate_officer_commands_total", action="open_exit") is None
    assert gate.sample("egate_gate_officer_refusals_total", action="open_exit") == 1
    assert gate.sample("egate_gate_officer_refusals_total", action="refer") == 1


def test_a_close_reported_not_taken_is_never_carried_out(
    gate: Gate, caplog: pytest.LogCaptureFixture
) -> None:
    # The reproduction: "timed out", then the gate closed 9.7 s later.
    caplog.set_level(logging.WARNING, logger="egate.service")
    with OfficerConsole(gate.socket_path, gate.service.officer, deadline_s=SHORT_S):
        # The service is busy elsewhere and does not step before the deadline.
        answer = send_order(gate.socket_path, OfficerAction.CLOSE)
    assert answer == "error not taken: the gate did not take the order within 0.3 s"
    for _ in range(20):  # then it comes round
        gate.service.step()
    assert gate.service.controller.state is State.IDLE
    assert gate.audited("officer") == []
    assert gate.sample("egate_gate_officer_commands_total", action="close") is None
    assert "officer close dropped: not taken in time" in caplog.text


def test_a_bare_action_is_still_carried_out(gate: Gate) -> None:
    gate.service.officer(OfficerAction.CLOSE)
    gate.service.step()
    assert gate.service.controller.state is State.CLOSED
