"""The gate's metrics, read back as samples from a fresh registry, and their endpoint."""

from __future__ import annotations

import json
import platform
import socket
import urllib.error
import urllib.request

import pytest
from prometheus_client import CollectorRegistry
from pydantic import ValidationError

import egate
from egate.biometrics.matching import MatchingCore
from egate.biometrics.matchingmetrics import MatchingMetrics
from egate.endpoint import MetricsError, MetricsSettings, serve_metrics
from egate.gate.commands import Outcome
from egate.gate.settings import State
from egate.gate.transaction import STEPS, TransactionRecord
from egate.health import Phase, ServiceHealth
from egate.metrics import GateMetrics, build_info

GATE = "t1-03"


def record(
    outcome: Outcome = Outcome.ACCEPTED,
    reasons: tuple[str, ...] = (),
    steps: dict[str, float] | None = None,
    duration_s: float = 12.0,
    match_distance: float | None = 0.42,
    capture_attempts: int = 1,
) -> TransactionRecord:
    return TransactionRecord(
        transaction=f"{GATE}-000001",
        gate_id=GATE,
        finished_at=1_780_000_000.0,
        outcome=outcome,
        reasons=reasons,
        steps=steps if steps is not None else {"document": 2.0, "capture": 1.2},
        duration_s=duration_s,
        capture_attempts=capture_attempts,
        match_distance=match_distance,
    )


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
def metrics(registry: CollectorRegistry) -> GateMetrics:
    return GateMetrics(GATE, registry)


def sample(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, {"gate": GATE, **labels})


def test_every_outcome_and_step_reads_zero_before_the_first_transaction(registry, metrics):
    for outcome in Outcome:
        assert sample(registry, "egate_gate_transactions_total", outcome=outcome) == 0
        duration = "egate_gate_transaction_duration_seconds_count"
        assert sample(registry, duration, outcome=outcome) == 0
    for step in STEPS:
        assert sample(registry, "egate_gate_step_duration_seconds_count", step=step) == 0


def test_transactions_are_counted_by_outcome(registry, metrics):
    metrics.transaction(record())
    metrics.transaction(record())
    metrics.transaction(record(Outcome.REFERRED, ("BIOMETRIC_MISMATCH",)))
    assert sample(registry, "egate_gate_transactions_total", outcome="accepted") == 2
    assert sample(registry, "egate_gate_transactions_total", outcome="referred") == 1
    assert sample(registry, "egate_gate_transactions_total", outcome="rejected") == 0


def test_each_reason_code_is_counted_once_per_transaction(registry, metrics):
    metrics.transaction(record(Outcome.REFERRED, ("MINOR", "CHIP_UNREADABLE")))
    metrics.transaction(record(Outcome.REFERRED, ("MINOR",)))
    metrics.transaction(record(Outcome.REJECTED, ("EXPIRED",)))

    def reasons(outcome: str, reason: str) -> float | None:
        return sample(
            registry, "egate_gate_transaction_reasons_total", outcome=outcome, reason=reason
        )

    assert reasons("referred", "MINOR") == 2
    assert reasons("referred", "CHIP_UNREADABLE") == 1
    assert reasons("rejected", "EXPIRED") == 1
    assert reasons("accepted", "MINOR") is None


def test_a_reason_that_is_not_a_code_is_counted_as_other(registry, metrics):
    # Free text (here with a space and digits first) must never become a label value.
    metrics.transaction(record(Outcome.REFERRED, ("holder X00000001 is", "1ABC")))
    labels = {"outcome": "referred"}
    assert sample(registry, "egate_gate_transaction_reasons_total", reason="OTHER", **labels) == 2
    values = {
        metric_sample.labels.get("reason")
        for family in registry.collect()
        for metric_sample in family.samples
    }
    assert "holder X00000001 is" not in values


def test_step_times_land_in_their_buckets(registry, metrics):
    metrics.transaction(record(steps={"document": 2.0, "capture": 1.2}))
    metrics.transaction(record(steps={"document": 4.0}))

    def step(name: str, suffix: str, **labels: str) -> float | None:
        return sample(registry, f"egate_gate_step_duration_seconds{suffix}", step=name, **labels)

    assert step("document", "_count") == 2
    assert step("document", "_sum") == pytest.approx(6.0)
    assert step("document", "_bucket", le="2.0") == 1
    assert step("document", "_bucket", le="5.0") == 2
    assert step("capture", "_bucket", le="1.0") == 0
    assert step("capture", "_bucket", le="1.5") == 1
    assert step("verify", "_count") == 0


def test_the_transaction_duration_is_a_histogram_by_outcome(registry, metrics):
    metrics.transaction(record(duration_s=9.0))
    metrics.transaction(record(Outcome.ABORTED, ("TIMEOUT",), duration_s=70.0))
    name = "egate_gate_transaction_duration_seconds"
    assert sample(registry, f"{name}_sum", outcome="accepted") == pytest.approx(9.0)
    assert sample(registry, f"{name}_bucket", outcome="accepted", le="8.0") == 0
    assert sample(registry, f"{name}_bucket", outcome="accepted", le="10.0") == 1
    assert sample(registry, f"{name}_bucket", outcome="aborted", le="60.0") == 0
    assert sample(registry, f"{name}_bucket", outcome="aborted", le="+Inf") == 1


def test_match_distances_are_observed_around_the_threshold(registry, metrics):
    metrics.transaction(record(match_distance=0.58))
    metrics.transaction(record(Outcome.REFERRED, ("BIOMETRIC_MISMATCH",), match_distance=0.63))
    metrics.transaction(record(Outcome.REJECTED, ("EXPIRED",), match_distance=None))
    name = "egate_gate_match_distance"
    # A transaction that never reached the verification adds no observation.
    assert sample(registry, f"{name}_count") == 2
    assert sample(registry, f"{name}_bucket", le="0.55") == 0
    assert sample(registry, f"{name}_bucket", le="0.6") == 1
    assert sample(registry, f"{name}_bucket", le="0.65") == 2
    assert sample(registry, f"{name}_sum") == pytest.approx(1.21)


def test_capture_attempts_are_summed(registry, metrics):
    metrics.transaction(record(capture_attempts=1))
    metrics.transaction(record(Outcome.REFERRED, ("FAILURE_TO_ACQUIRE",), capture_attempts=3))
    assert sample(registry, "egate_gate_capture_attempts_total") == 4


def test_own_time_is_in_millisecond_buckets(registry, metrics):
    metrics.own_time(0.0008)
    metrics.own_time(0.003)
    assert sample(registry, "egate_gate_own_time_seconds_bucket", le="0.001") == 1
    assert sample(registry, "egate_gate_own_time_seconds_bucket", le="0.005") == 2
    assert sample(registry, "egate_gate_own_time_seconds_sum") == pytest.approx(0.0038)


def test_devices_and_doors_are_gauges(registry, metrics):
    metrics.device("reader", True)
    metrics.device("camera", True)
    metrics.device("camera", False)
    metrics.door("entry", True)
    metrics.door("exit", False)
    assert sample(registry, "egate_gate_device_up", device="reader") == 1
    assert sample(registry, "egate_gate_device_up", device="camera") == 0
    assert sample(registry, "egate_gate_door_open", door="entry") == 1
    assert sample(registry, "egate_gate_door_open", door="exit") == 0


def test_the_state_is_one_hot_and_degraded_follows_it(registry, metrics):
    def state(value: State) -> float | None:
        return sample(registry, "egate_gate_state", egate_gate_state=value.value)

    # A new gate is idle.
    assert state(State.IDLE) == 1
    assert sample(registry, "egate_gate_degraded") == 0

    metrics.state(State.DEGRADED)
    assert state(State.DEGRADED) == 1
    assert sum(state(value) or 0 for value in State) == 1
    assert sample(registry, "egate_gate_degraded") == 1

    metrics.state(State.READING)
    assert state(State.READING) == 1
    assert state(State.DEGRADED) == 0
    assert sample(registry, "egate_gate_degraded") == 0


def test_alarms_misreads_and_officer_commands_are_counted(registry, metrics):
    metrics.alarm("TAILGATING")
    metrics.alarm("TAILGATING")
    metrics.alarm("EXIT_FORCED")
    metrics.misread()
    metrics.officer("open_exit")
    assert sample(registry, "egate_gate_alarms_total", reason="TAILGATING") == 2
    assert sample(registry, "egate_gate_alarms_total", reason="EXIT_FORCED") == 1
    assert sample(registry, "egate_gate_reader_misreads_total") == 1
    assert sample(registry, "egate_gate_officer_commands_total", action="open_exit") == 1
    assert sample(registry, "egate_gate_officer_commands_total", action="reset") is None


def test_capture_guidance_is_counted_by_code(registry, metrics):
    metrics.guidance("LOOK_AT_CAMERA")
    metrics.guidance("LOOK_AT_CAMERA")
    metrics.guidance("TOO_DARK")
    metrics.guidance("look at me, Ms Smith")  # not a code: never a label value
    assert sample(registry, "egate_gate_capture_guidance_total", code="LOOK_AT_CAMERA") == 2
    assert sample(registry, "egate_gate_capture_guidance_total", code="TOO_DARK") == 1
    assert sample(registry, "egate_gate_capture_guidance_total", code="OTHER") == 1


def test_every_series_carries_the_gate_label(registry, metrics):
    metrics.transaction(record(Outcome.REFERRED, ("MINOR",)))
    metrics.device("reader", True)
    metrics.door("exit", False)
    metrics.alarm("TAILGATING")
    metrics.officer("close")
    names = set()
    for family in registry.collect():
        for metric_sample in family.samples:
            names.add(metric_sample.name)
            assert metric_sample.name.startswith("egate_gate_")
            assert metric_sample.labels["gate"] == GATE
    assert len(names) > 20


def test_a_second_gate_needs_a_registry_of_its_own(registry, metrics):
    with pytest.raises(ValueError, match="Duplicated"):
        GateMetrics("t1-04", registry)


def get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.status == 200
        return response.read().decode()


def test_the_endpoint_serves_text_on_any_free_port(registry, metrics):
    metrics.transaction(record())
    with serve_metrics(registry, port=0) as server:
        assert server.host == "127.0.0.1"
        assert server.port > 0
        text = get(f"http://127.0.0.1:{server.port}/metrics")
    assert f'egate_gate_transactions_total{{gate="{GATE}",outcome="accepted"}} 1.0' in text
    assert "# TYPE egate_gate_step_duration_seconds histogram" in text


def test_closing_frees_the_port(registry, metrics):
    server = serve_metrics(registry, port=0)
    port = server.port
    server.close()
    server.close()  # twice is harmless
    with serve_metrics(registry, port=port) as again:
        assert again.port == port


def test_a_busy_port_is_a_one_line_error(registry):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(MetricsError) as raised:
            serve_metrics(registry, port=port)
    message = str(raised.value)
    assert f"127.0.0.1:{port}" in message
    assert "in use" in message
    assert "\n" not in message


def test_the_settings_have_defaults_and_limits():
    assert MetricsSettings() == MetricsSettings(host="127.0.0.1", port=9464, enabled=True)
    assert MetricsSettings.model_validate({"port": 0}).port == 0
    for wrong in ({"port": 70000}, {"port": -1}, {"prot": 9464}, {"host": ""}):
        with pytest.raises(ValidationError):
            MetricsSettings.model_validate(wrong)


# --- build info ---------------------------------------------------------------


def test_build_info_names_the_release_python_and_gate(registry):
    build_info(registry, GATE)
    labels = {
        "gate": GATE,
        "version": egate.__version__,
        "python": platform.python_version(),
    }
    assert registry.get_sample_value("egate_build_info", labels) == 1
    (family,) = [family for family in registry.collect() if family.name == "egate_build"]
    (only,) = family.samples
    assert set(only.labels) == {"gate", "version", "python"}


# --- the endpoint's routes: /metrics, /healthz, /readyz, nothing else ------------------


def fetch(url: str) -> tuple[int, str, str]:
    """(status, content type, body) of a GET, whatever the status."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.headers["Content-Type"], response.read().decode()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.headers["Content-Type"], error.read().decode()


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def health(clock: Clock) -> ServiceHealth:
    return ServiceHealth(clock, stale_after_s=5.0)


@pytest.fixture
def endpoint(registry, metrics, health):
    with serve_metrics(registry, port=0, health=health) as server:
        yield f"http://127.0.0.1:{server.port}"


def test_metrics_healthz_and_readyz_are_apart(endpoint, health):
    health.beat(Phase.RUNNING)
    health.publish({"reader": None}, matching_ready=True, state="idle")
    status, kind, text = fetch(f"{endpoint}/metrics")
    assert (status, kind.split(";")[0]) == (200, "text/plain")
    assert f'egate_gate_transactions_total{{gate="{GATE}",outcome="accepted"}} 0.0' in text
    status, kind, text = fetch(f"{endpoint}/healthz")
    assert (status, kind) == (200, "application/json")
    assert json.loads(text) == {"status": "ok", "phase": "running", "last_beat_s": 0.0}
    status, kind, text = fetch(f"{endpoint}/readyz")
    assert (status, kind) == (200, "application/json")
    assert json.loads(text) == {
        "ready": True,
        "phase": "running",
        "state": "idle",
        "devices": {"reader": "ok"},
        "matching": "ready",
    }


@pytest.mark.parametrize("path", ["/", "/metricsx", "/healthz/", "/favicon.ico", "/readyz/x"])
def test_any_other_path_is_404(endpoint, path):
    status, kind, text = fetch(f"{endpoint}{path}")
    assert (status, kind) == (404, "application/json")
    assert json.loads(text) == {"error": f"no such path: {path}"}


def test_only_reading_methods_are_served(endpoint):
    request = urllib.request.Request(f"{endpoint}/healthz", data=b"x", method="POST")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    with refused.value as error:
        assert error.code == 405


def test_without_health_only_metrics_are_served(registry, metrics):
    with serve_metrics(registry, port=0) as server:
        base = f"http://127.0.0.1:{server.port}"
        assert fetch(f"{base}/metrics")[0] == 200
        assert fetch(f"{base}/healthz")[0] == 404
        assert fetch(f"{base}/readyz")[0] == 404


def test_healthz_turns_503_when_the_loop_stops_beating(endpoint, health, clock):
    status, _, text = fetch(f"{endpoint}/healthz")
    assert status == 503
    assert json.loads(text) == {"status": "stale", "phase": "starting", "last_beat_s": None}
    health.beat()
    assert fetch(f"{endpoint}/healthz")[0] == 200
    clock.now += 5.0
    assert fetch(f"{endpoint}/healthz")[0] == 200
    clock.now += 0.5
    status, _, text = fetch(f"{endpoint}/healthz")
    assert status == 503
    assert json.loads(text) == {"status": "stale", "phase": "starting", "last_beat_s": 5.5}


def test_readyz_names_what_is_not_ready(endpoint, health, clock):
    health.beat(Phase.RUNNING)
    health.publish(
        {"reader": None, "doors": "no answer from the door board", "camera": None},
        matching_ready=False,
        state="degraded",
    )
    status, _, text = fetch(f"{endpoint}/readyz")
    assert status == 503
    answer = json.loads(text)
    assert answer["ready"] is False
    assert answer["not_ready"] == {
        "doors": "no answer from the door board",
        "matching": "matching core not ready",
    }
    assert answer["devices"] == {
        "reader": "ok",
        "doors": "no answer from the door board",
        "camera": "ok",
    }
    health.publish(
        {"reader": None, "doors": None, "camera": None}, matching_ready=True, state="idle"
    )
    assert fetch(f"{endpoint}/readyz")[0] == 200
    # A silent loop is neither live nor ready, whatever it published last.
    clock.now += 6.0
    status, _, text = fetch(f"{endpoint}/readyz")
    assert status == 503
    assert json.loads(text)["not_ready"] == {"service": "service loop silent for 6.0 s"}


def test_readyz_is_503_while_starting_and_stopping(endpoint, health):
    health.publish({"reader": None}, matching_ready=True, state="idle")
    status, _, text = fetch(f"{endpoint}/readyz")
    assert status == 503
    assert json.loads(text)["not_ready"] == {"service": "service starting"}
    health.beat(Phase.RUNNING)
    assert fetch(f"{endpoint}/readyz")[0] == 200
    health.beat(Phase.STOPPING)
    status, _, text = fetch(f"{endpoint}/readyz")
    assert status == 503
    assert json.loads(text)["not_ready"] == {"service": "service stopping"}
    # Stopping is still alive: a clean stop is no hang.
    assert fetch(f"{endpoint}/healthz")[0] == 200


def test_probes_answer_while_a_scrape_is_held_open(endpoint, health):
    health.beat(Phase.RUNNING)
    host, port = endpoint.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as slow:
        slow.sendall(b"GET /metrics HTTP/1.1\r\n")  # and never the rest
        assert fetch(f"{endpoint}/healthz")[0] == 200


# --- the matching core's series carry the gate they serve ------------------------------


def test_a_gate_s_matching_core_labels_every_series_with_the_gate(registry):
    with MatchingCore(workers=1, kind="thread", registry=registry, gate=GATE):
        assert registry.get_sample_value("egate_matching_workers", {"gate": GATE}) == 1
    matching = [family for family in registry.collect() if family.name.startswith("egate_matching")]
    assert len(matching) >= 8
    for family in matching:
        for found in family.samples:
            assert found.labels["gate"] == GATE, found


def test_a_shared_matching_core_has_no_gate_label(registry):
    metrics = MatchingMetrics(registry)
    metrics.jobs.labels("verify", "match").inc()
    metrics.service.labels("verify").observe(0.1)
    assert (
        registry.get_sample_value(
            "egate_matching_jobs_total", {"kind": "verify", "outcome": "match"}
        )
        == 1
    )
    for family in registry.collect():
        for found in family.samples:
            assert "gate" not in found.labels, found


def test_labelled_matching_series_put_the_gate_first(registry):
    metrics = MatchingMetrics(registry, gate=GATE)
    metrics.jobs.labels("enroll", "busy").inc(2)
    metrics.late.labels("verify").inc()
    metrics.wait.observe(0.2)
    jobs = {"gate": GATE, "kind": "enroll", "outcome": "busy"}
    assert registry.get_sample_value("egate_matching_jobs_total", jobs) == 2
    late = {"gate": GATE, "kind": "verify"}
    assert registry.get_sample_value("egate_matching_late_results_total", late) == 1
    assert registry.get_sample_value("egate_matching_wait_seconds_count", {"gate": GATE}) == 1


def test_stale_results_and_refused_orders_are_counted(registry, metrics):
    assert registry.get_sample_value("egate_gate_stale_results_total", {"gate": GATE}) == 0
    metrics.stale_results(2)
    metrics.stale_results(0)
    metrics.officer_refused("open_exit")
    assert registry.get_sample_value("egate_gate_stale_results_total", {"gate": GATE}) == 2
    refused = {"gate": GATE, "action": "open_exit"}
    assert registry.get_sample_value("egate_gate_officer_refusals_total", refused) == 1
