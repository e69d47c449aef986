"""The shipped Grafana dashboard and systemd unit agree with the code they describe.

The dashboard's PromQL names metrics by hand; here every name it uses must be
one that the gate's metrics or the matching core's expose, so renaming a
metric without the dashboard fails.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from prometheus_server import running_prometheus

from egate.biometrics.matching import _Metrics as MatchingMetrics
from egate.gate.commands import Outcome
from egate.gate.transaction import TransactionRecord
from egate.metrics import GateMetrics, serve_metrics

CONFIGS = Path(__file__).resolve().parent.parent / "configs"
DASHBOARD = CONFIGS / "grafana" / "egate-gate.json"
UNIT = CONFIGS / "systemd" / "egate.service"

METRIC_NAME = re.compile(r"\begate_[a-z0-9_]+")
# The series a family of each type exposes, by suffix (prometheus-client's names
# for counters drop "_total"; an Enum is a "stateset").
SUFFIXES = {
    "counter": ("_total", "_created"),
    "gauge": ("",),
    "stateset": ("",),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "summary": ("", "_sum", "_count", "_created"),
    "info": ("_info",),
}


def exposed_names(registry: CollectorRegistry) -> set[str]:
    """Every series name the registry's families expose, whether they have samples yet or not."""
    return {
        family.name + suffix
        for family in registry.collect()
        for suffix in SUFFIXES.get(family.type, ("",))
    }


@pytest.fixture(scope="module")
def known_names() -> set[str]:
    registry = CollectorRegistry()
    GateMetrics("dashboard-test", registry)
    MatchingMetrics(registry)
    return exposed_names(registry)


def load_dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text(encoding="utf-8"))


def all_panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Panels, including those folded into (collapsed) rows."""
    for panel in panels:
        yield panel
        yield from all_panels(panel.get("panels", []))


def expressions(dashboard: dict[str, Any]) -> list[str]:
    """Every PromQL expression of the dashboard: its panels' and its variables'."""
    found = [
        target["expr"]
        for panel in all_panels(dashboard["panels"])
        for target in panel.get("targets", [])
    ]
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            query = variable["query"]
            found.append(query["query"] if isinstance(query, dict) else query)
    return found


def unknown_names(expression: str, known: set[str]) -> set[str]:
    # A label that happens to start with egate_ (the state enum's label is the
    # metric's own name) is a known name too, so it passes.
    return set(METRIC_NAME.findall(expression)) - known


def test_every_metric_the_dashboard_queries_exists(known_names):
    unknown = {
        expression: unknown_names(expression, known_names)
        for expression in expressions(load_dashboard())
    }
    assert {expression: names for expression, names in unknown.items() if names} == {}


def test_the_check_sees_a_renamed_metric(known_names):
    assert unknown_names("rate(egate_gate_transaction_total[1m])", known_names) == {
        "egate_gate_transaction_total"
    }
    # A histogram queried without its suffix, or a counter without _total, exists nowhere.
    assert unknown_names("egate_gate_step_duration_seconds", known_names)
    assert unknown_names("egate_matching_jobs", known_names)
    assert not unknown_names("egate_matching_jobs_total", known_names)


def test_the_dashboard_covers_the_gate_and_the_matching_core(known_names):
    used = {
        name
        for expression in expressions(load_dashboard())
        for name in METRIC_NAME.findall(expression)
    }
    for name in (
        "egate_gate_transactions_total",
        "egate_gate_transaction_reasons_total",
        "egate_gate_step_duration_seconds_bucket",
        "egate_gate_transaction_duration_seconds_bucket",
        "egate_gate_match_distance_bucket",
        "egate_gate_device_up",
        "egate_gate_door_open",
        "egate_gate_degraded",
        "egate_gate_alarms_total",
        "egate_gate_own_time_seconds_bucket",
        "egate_matching_queue_length",
        "egate_matching_service_seconds_bucket",
    ):
        assert name in used


def test_gate_panels_follow_the_gate_variable():
    dashboard = load_dashboard()
    variables = {variable["name"]: variable for variable in dashboard["templating"]["list"]}
    assert variables["DS_PROMETHEUS"]["type"] == "datasource"
    assert variables["DS_PROMETHEUS"]["query"] == "prometheus"
    gate = variables["gate"]
    assert gate["query"]["query"] == "label_values(egate_gate_transactions_total, gate)"
    for expression in expressions(dashboard):
        if "egate_gate_" in expression and not expression.startswith("label_values"):
            assert 'gate=~"$gate"' in expression, expression


def test_quantiles_are_taken_over_bucket_rates_by_le():
    for expression in expressions(load_dashboard()):
        if "histogram_quantile" in expression:
            assert "_bucket" in expression and "le)" in expression, expression
            assert "rate(" in expression, expression


def test_every_panel_queries_the_prometheus_variable():
    dashboard = load_dashboard()
    assert 36 <= dashboard["schemaVersion"] <= 40
    panels = [panel for panel in all_panels(dashboard["panels"]) if panel["type"] != "row"]
    assert len(panels) >= 12
    assert len({panel["id"] for panel in all_panels(dashboard["panels"])}) == len(
        list(all_panels(dashboard["panels"]))
    )
    for panel in panels:
        assert panel["datasource"] == {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "${DS_PROMETHEUS}"


# Grafana's macros and variables, as a dashboard over the last few minutes would set them.
MACROS = {"$__rate_interval": "1m", "$__range": "5m", "$gate": ".*"}


def as_promql(expression: str) -> str:
    for macro, value in MACROS.items():
        expression = expression.replace(macro, value)
    return expression


@pytest.mark.slow
def test_real_prometheus_answers_every_panel_query(tmp_path):
    registry = CollectorRegistry()
    gate = GateMetrics("dashboard-test", registry)
    MatchingMetrics(registry).queue_length.set(2)
    gate.transaction(
        TransactionRecord(
            transaction="dashboard-test-000001",
            gate_id="dashboard-test",
            finished_at=1_780_000_000.0,
            outcome=Outcome.REFERRED,
            reasons=("MINOR",),
            steps={"document": 1.0},
            duration_s=5.0,
            match_distance=0.5,
        )
    )
    gate.device("reader", True)
    gate.door("entry", False)
    dashboard = load_dashboard()
    panel_expressions = [
        target["expr"]
        for panel in all_panels(dashboard["panels"])
        for target in panel.get("targets", [])
    ]
    with (
        serve_metrics(registry, port=0) as endpoint,
        running_prometheus([f"127.0.0.1:{endpoint.port}"], tmp_path) as prometheus,
    ):
        # The gate variable's values (Grafana's label_values, in PromQL).
        gates = prometheus.wait_for("group by (gate) (egate_gate_transactions_total)")
        assert [series["metric"]["gate"] for series in gates] == ["dashboard-test"]
        for expression in panel_expressions:
            # A query Prometheus cannot parse or evaluate raises ValueError here.
            prometheus.query(as_promql(expression))
        for gauge in (
            "egate_gate_device_up",
            "egate_gate_door_open",
            "egate_matching_queue_length",
        ):
            assert prometheus.query(as_promql(gauge)), gauge


# --- the systemd unit ------------------------------------------------------


def unit_sections(text: str) -> dict[str, dict[str, list[str]]]:
    """A systemd unit as {section: {key: [values...]}}; a key may repeat in systemd."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] | None = None
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        key, equals, value = line.partition("=")
        assert current is not None and equals, f"{UNIT.name}:{number}: not key=value: {raw!r}"
        assert not line.endswith("\\"), f"{UNIT.name}:{number}: keep each setting on one line"
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


@pytest.fixture(scope="module")
def unit() -> dict[str, dict[str, list[str]]]:
    return unit_sections(UNIT.read_text(encoding="utf-8"))


def test_the_unit_has_its_three_sections(unit):
    assert list(unit) == ["Unit", "Service", "Install"]
    assert unit["Install"]["WantedBy"] == ["multi-user.target"]


def test_the_unit_runs_the_gate_service(unit):
    service = unit["Service"]
    (exec_start,) = service["ExecStart"]
    program, *arguments = shlex.split(exec_start)
    assert program == "/opt/egate/.venv/bin/egate"
    assert arguments == ["run", "--config", "/etc/egate/gate.yaml"]
    assert service["User"] == ["egate"]
    assert service["Restart"] == ["on-failure"]
    assert service["KillSignal"] == ["SIGTERM"]
    assert "TimeoutStopSec" in service
    assert service["EnvironmentFile"] == ["/etc/egate/egate.env"]


def test_the_unit_is_hardened_but_reaches_its_devices(unit):
    service = unit["Service"]
    assert service["NoNewPrivileges"] == ["yes"]
    assert service["ProtectSystem"] == ["strict"]
    assert service["PrivateTmp"] == ["yes"]
    assert service["ReadWritePaths"] == ["/var/lib/egate"]
    assert set(service["SupplementaryGroups"][0].split()) == {"dialout", "video"}
    # PrivateDevices would hide the serial ports and cameras.
    assert "PrivateDevices" not in service


def test_systemd_knows_every_setting(tmp_path):
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    # verify insists that ExecStart exists: point it at a program that does.
    text = UNIT.read_text(encoding="utf-8")
    copy = tmp_path / UNIT.name
    copy.write_text(text.replace("/opt/egate/.venv/bin/egate", "/bin/true"), encoding="utf-8")
    result = subprocess.run(
        [analyze, "verify", str(copy)], capture_output=True, text=True, check=False, timeout=60
    )
    # Unknown keys are only warned about (status 0), so read what it says of our file.
    about_ours = [
        line for line in (result.stdout + result.stderr).splitlines() if UNIT.name in line
    ]
    assert about_ours == []
