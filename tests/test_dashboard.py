"""The shipped Grafana dashboard agrees with the metrics it queries.

The dashboard's PromQL names metrics by hand; here every name it uses must be
one that the gate's metrics or the matching core's expose, so renaming a
metric without the dashboard fails.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from prometheus_server import running_prometheus

import egate
from egate.biometrics.matchingmetrics import MatchingMetrics
from egate.endpoint import serve_metrics
from egate.gate.commands import Outcome
from egate.gate.transaction import TransactionRecord
from egate.metrics import GateMetrics, build_info

CONFIGS = Path(__file__).resolve().parent.parent / "configs"
DASHBOARD = CONFIGS / "grafana" / "egate-gate.json"

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
    MatchingMetrics(registry, gate="dashboard-test")
    build_info(registry, "dashboard-test")
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


# A metric name and its label matchers, if it has any: egate_x{a="1", b=~"2"}.
SELECTOR = re.compile(r"\b(egate_[a-z0-9_]+)(\{[^}]*\})?")


def unfiltered(expression: str) -> list[str]:
    """The metric selectors of ``expression`` that do not follow the ``$gate`` variable."""
    return [
        found.group(0)
        for found in SELECTOR.finditer(expression)
        if 'gate=~"$gate"' not in (found.group(2) or "")
    ]


def test_the_filter_check_sees_a_selector_without_the_gate():
    assert unfiltered('rate(egate_matching_jobs_total{gate=~"$gate"}[1m])') == []
    assert unfiltered("rate(egate_matching_jobs_total[1m])") == ["egate_matching_jobs_total"]
    both = 'egate_gate_workers{gate=~"$gate"} / egate_matching_workers{kind="x"}'
    assert unfiltered(both) == ['egate_matching_workers{kind="x"}']


def test_every_panel_follows_the_gate_variable():
    dashboard = load_dashboard()
    variables = {variable["name"]: variable for variable in dashboard["templating"]["list"]}
    assert variables["DS_PROMETHEUS"]["type"] == "datasource"
    assert variables["DS_PROMETHEUS"]["query"] == "prometheus"
    gate = variables["gate"]
    assert gate["query"]["query"] == "label_values(egate_gate_transactions_total, gate)"
    assert gate["multi"] and gate["includeAll"] and gate["allValue"] == ".*"
    panel_expressions = [
        target["expr"]
        for panel in all_panels(dashboard["panels"])
        for target in panel.get("targets", [])
    ]
    # The gate's own series, the matching core's and the build info alike.
    assert {"egate_gate_", "egate_matching_", "egate_build_"} <= {
        name[: name.index("_", len("egate_")) + 1]
        for expression in panel_expressions
        for name in METRIC_NAME.findall(expression)
    }
    assert {expression: unfiltered(expression) for expression in panel_expressions} == {
        expression: [] for expression in panel_expressions
    }


def test_the_dashboard_shows_the_build_of_each_gate():
    dashboard = load_dashboard()
    (panel,) = [
        panel
        for panel in all_panels(dashboard["panels"])
        if any("egate_build_info" in target["expr"] for target in panel.get("targets", []))
    ]
    assert panel["type"] == "table"
    (target,) = panel["targets"]
    assert target["expr"] == 'max by (gate, version, python) (egate_build_info{gate=~"$gate"})'
    assert target["format"] == "table" and target["instant"] is True


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


def as_promql(expression: str, gate: str = ".*") -> str:
    for macro, value in {**MACROS, "$gate": gate}.items():
        expression = expression.replace(macro, value)
    return expression


@pytest.mark.slow
def test_real_prometheus_answers_every_panel_query(tmp_path):
    registry = CollectorRegistry()
    gate = GateMetrics("dashboard-test", registry)
    matching = MatchingMetrics(registry, gate="dashboard-test")
    matching.queue_length.set(2)
    matching.jobs.labels("verify", "match").inc()
    build_info(registry, "dashboard-test")
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
            # Another gate's panels show nothing of this one.
            assert prometheus.query(as_promql(expression, gate="another-gate")) == [], expression
        for gauge in (
            'egate_gate_device_up{gate=~"$gate"}',
            'egate_gate_door_open{gate=~"$gate"}',
            'egate_matching_queue_length{gate=~"$gate"}',
        ):
            (series,) = prometheus.query(as_promql(gauge, gate="dashboard-test"))
            assert series["metric"]["gate"] == "dashboard-test", gauge
        (build,) = prometheus.query(
            as_promql('max by (gate, version, python) (egate_build_info{gate=~"$gate"})')
        )
        assert build["metric"]["gate"] == "dashboard-test"
        assert build["metric"]["version"] == egate.__version__
        assert float(build["value"][1]) == 1
