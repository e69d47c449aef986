"""A real Prometheus server scrapes the gate's metrics endpoint and sees its transactions."""

from __future__ import annotations

import prometheus_server
import pytest
from prometheus_client import CollectorRegistry
from prometheus_server import running_prometheus

from egate.endpoint import serve_metrics
from egate.gate.commands import Outcome
from egate.gate.transaction import TransactionRecord
from egate.metrics import GateMetrics

GATE = "scrape-1"


def finished(number: int, outcome: Outcome, reasons: tuple[str, ...] = ()) -> TransactionRecord:
    return TransactionRecord(
        transaction=f"{GATE}-{number:06d}",
        gate_id=GATE,
        finished_at=1_780_000_000.0 + number,
        outcome=outcome,
        reasons=reasons,
        steps={"document": 1.5, "capture": 0.8, "verify": 0.2},
        duration_s=9.5,
        capture_attempts=1,
        match_distance=0.41,
    )


def value(result: list[dict]) -> float:
    assert len(result) == 1, result
    return float(result[0]["value"][1])


@pytest.mark.slow
def test_prometheus_scrapes_the_gate(tmp_path):
    registry = CollectorRegistry()
    metrics = GateMetrics(GATE, registry)
    for number in range(3):
        metrics.transaction(finished(number, Outcome.ACCEPTED))
    metrics.transaction(finished(3, Outcome.REFERRED, ("BIOMETRIC_MISMATCH",)))
    metrics.device("reader", True)

    with (
        serve_metrics(registry, port=0) as endpoint,
        running_prometheus([f"127.0.0.1:{endpoint.port}"], tmp_path) as prometheus,
    ):
        accepted = f'egate_gate_transactions_total{{gate="{GATE}",outcome="accepted"}}'
        assert value(prometheus.wait_for(accepted)) == 3

        (target,) = prometheus.wait_for_targets_up()
        assert target["scrapeUrl"] == f"http://127.0.0.1:{endpoint.port}/metrics"
        up = prometheus.query(f'up{{instance="127.0.0.1:{endpoint.port}"}}')
        assert value(up) == 1

        # What happens after the first scrape arrives with a later one.
        metrics.transaction(finished(4, Outcome.ACCEPTED))
        arrived = prometheus.wait_for(accepted, lambda r: bool(r) and r[0]["value"][1] == "4")
        assert value(arrived) == 4

        reasons = prometheus.query(
            'egate_gate_transaction_reasons_total{reason="BIOMETRIC_MISMATCH"}'
        )
        assert value(reasons) == 1
        assert reasons[0]["metric"]["gate"] == GATE


def test_without_prometheus_the_test_skips_but_fails_under_ci(monkeypatch, tmp_path):
    monkeypatch.setattr(prometheus_server.shutil, "which", lambda name: None)
    monkeypatch.setattr(prometheus_server, "FALLBACK_BINARY", str(tmp_path / "no-prometheus"))
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="no prometheus"):
        prometheus_server.prometheus_binary()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI must run"):
        prometheus_server.prometheus_binary()
