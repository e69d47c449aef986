"""SIGHUP reloads the stop list: the mechanism in this process, on real signals and files."""

from __future__ import annotations

import os
import signal
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from egate.audit import AuditTrail, read_audit
from egate.cli.reload import HangupRequests, StopListReload
from egate.documents.layout import MrzFormat
from egate.documents.mrz import parse_mrz
from egate.documents.policy import DocumentPolicy, DocumentPolicySettings
from egate.documents.specimens import SPECIMENS
from egate.notify import Notifier
from egate.privacy import Pseudonymizer

GATE = "t2-4"
HEADER = "issuing_state,document_number\n"
# A hang guard for the reload thread, never a measure.
PATIENCE_S = 30.0
# The specimen passport is valid until 1994-06-23: judge it before then.
NOW = datetime(1994, 1, 3, 8, 0, tzinfo=UTC)


@pytest.fixture
def specimen():
    """A valid passport specimen and its MRZ, judged on a day it is valid."""
    result = parse_mrz(SPECIMENS[MrzFormat.TD3], NOW.date(), repair=False)
    assert result.valid
    return result


class Gate:
    """A policy with a stop list file, a trail, and the reload between them."""

    def __init__(self, folder: Path, requests: HangupRequests) -> None:
        self.stop_list = folder / "stop.csv"
        self.stop_list.write_text(HEADER, "utf-8")
        self.policy = DocumentPolicy.from_settings(
            DocumentPolicySettings(stop_list=self.stop_list, min_age_years=0),
            Pseudonymizer.ephemeral(),
        )
        self.audit_path = folder / "audit.jsonl"
        self.audit = AuditTrail(self.audit_path, fsync=False)
        self.reload = StopListReload(
            self.policy, requests, self.audit, GATE, Notifier({}), wall_clock=lambda: 1.78e9
        )

    def settle(self) -> list[str]:
        """Poll as the service loop does until no reload is under way; the lines it returned."""
        lines = []
        deadline = time.monotonic() + PATIENCE_S
        while True:
            line = self.reload.poll()
            if line is not None:
                lines.append(line)
            if not self.reload.busy and line is None:
                return lines
            assert time.monotonic() < deadline, "the reload never finished"
            time.sleep(0.005)

    def reloads(self) -> list[dict[str, object]]:
        return [record for record in read_audit(self.audit_path) if record["event"] == "reload"]


@pytest.fixture
def requests():
    with HangupRequests().installed() as counted:
        yield counted


@pytest.fixture
def gate(tmp_path, requests):
    made = Gate(tmp_path, requests)
    yield made
    made.audit.close()


def hang_up() -> None:
    os.kill(os.getpid(), signal.SIGHUP)


def test_sighup_puts_a_new_entry_in_force(gate, specimen):
    fields = specimen.fields
    assert gate.policy.evaluate(specimen, NOW).verdict == "accept"
    assert gate.settle() == []  # nothing asked, nothing done
    with gate.stop_list.open("a", encoding="utf-8") as listed:
        listed.write(f"{fields.issuing_state},{fields.document_number}\n")
    # Written but not yet reloaded: the gate still checks against the old list.
    assert gate.policy.evaluate(specimen, NOW).verdict == "accept"
    hang_up()
    (line,) = gate.settle()
    assert line == f"stop list reloaded: 1 document from {gate.stop_list}"
    decision = gate.policy.evaluate(specimen, NOW)
    assert decision.verdict == "reject"
    assert "STOP_LIST_HIT" in decision.reasons
    assert gate.reloads() == [
        {
            "kind": "service",
            "time": "2026-05-28T20:26:40.000Z",
            "gate_id": GATE,
            "event": "reload",
            "detail": line,
        }
    ]


def test_a_bad_file_keeps_the_old_list_and_says_so_once(gate, specimen, caplog):
    fields = specimen.fields
    gate.stop_list.write_text(f"{HEADER}{fields.issuing_state},{fields.document_number}\n", "utf-8")
    hang_up()
    gate.settle()
    gate.stop_list.write_text(
        f"{HEADER}{fields.issuing_state},{fields.document_number}\nNOWHERE,X1\n"
    )
    caplog.clear()
    hang_up()
    (line,) = gate.settle()
    assert line == (
        "stop list not reloaded, the previous one stays in force (1 document): "
        f"{gate.stop_list}:3: issuing_state: not an ICAO state code"
    )
    assert "STOP_LIST_HIT" in gate.policy.evaluate(specimen, NOW).reasons
    warnings = [record.getMessage() for record in caplog.records if record.name == "egate.reload"]
    assert warnings == [line]
    assert [record["detail"] for record in gate.reloads()][-1] == line
    # No document number in the trail, whatever the file held.
    assert fields.document_number not in gate.audit_path.read_text("utf-8")


def test_a_vanished_file_keeps_the_old_list(gate):
    gate.stop_list.unlink()
    hang_up()
    (line,) = gate.settle()
    assert line.startswith(
        "stop list not reloaded, the previous one stays in force (0 documents): "
    )
    assert f"{gate.stop_list}: cannot read" in line
    assert gate.policy.stop_list is not None


def test_signals_during_a_load_are_served_by_one_more_load(gate, requests):
    hang_up()
    assert gate.reload.poll() is None  # the load starts
    hang_up()
    hang_up()
    lines = gate.settle()
    assert len(lines) == 2
    assert requests.count == 3
    assert len(gate.reloads()) == 2


def test_a_policy_without_a_stop_list_says_there_is_nothing_to_reload(tmp_path, requests):
    policy = DocumentPolicy.from_settings(DocumentPolicySettings(), Pseudonymizer.ephemeral())
    with AuditTrail(tmp_path / "audit.jsonl", fsync=False) as audit:
        reload = StopListReload(policy, requests, audit, GATE, Notifier({}))
        hang_up()
        deadline = time.monotonic() + PATIENCE_S
        while (line := reload.poll()) is None:
            assert time.monotonic() < deadline
            time.sleep(0.005)
    assert line == "no stop list configured: nothing to reload"
    assert policy.stop_list is None


def test_the_previous_handler_comes_back():
    before = signal.getsignal(signal.SIGHUP)
    with HangupRequests().installed() as counted:
        hang_up()
        assert counted.count == 1
    assert signal.getsignal(signal.SIGHUP) == before
