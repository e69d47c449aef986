"""A real Prometheus server for tests: it scrapes the targets it is given every second.

Usage, from any test (``tests/`` is on ``sys.path`` because ``tests/conftest.py``
is a rootdir-style conftest)::

    from prometheus_server import running_prometheus

    def test_it(tmp_path):
        with running_prometheus(["127.0.0.1:9464"], tmp_path) as prometheus:
            prometheus.wait_for_targets_up()
            result = prometheus.wait_for('egate_gate_transactions_total{outcome="accepted"}')

When no ``prometheus`` binary is installed the test is skipped, unless the
environment variable ``CI`` is set: there the test fails, since CI must run it
(``./bootstrap test`` installs Debian's ``prometheus`` package when it can).

The timeouts here bound how long we wait for a server to come up and scrape;
they are generous on purpose and assert nothing about speed.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

FALLBACK_BINARY = "/usr/bin/prometheus"
# Waiting limits for a server, not performance assertions.
START_TIMEOUT_S = 60.0
WAIT_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 30.0
POLL_S = 0.25

Result = list[dict[str, Any]]


def prometheus_binary() -> str:
    """The path of the ``prometheus`` binary; skips the test (fails it under CI) without one."""
    found = shutil.which("prometheus")
    if found is None and os.access(FALLBACK_BINARY, os.X_OK):
        found = FALLBACK_BINARY
    if found is None:
        reason = f"no prometheus on PATH or at {FALLBACK_BINARY} (apt-get install prometheus)"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; CI must run the Prometheus tests", pytrace=False)
        pytest.skip(reason)
    return found


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now (the server takes it a moment later)."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def scrape_config(targets: Sequence[str], job: str = "egate") -> str:
    """A prometheus.yml scraping ``targets`` ("host:port", path /metrics) every second."""
    config = {
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
        "scrape_configs": [{"job_name": job, "static_configs": [{"targets": list(targets)}]}],
    }
    # JSON is YAML, and needs no YAML library here.
    return json.dumps(config, indent=2)


class Prometheus:
    """The HTTP API of a running Prometheus server at ``url``."""

    def __init__(self, url: str, log: Path, process: subprocess.Popen[bytes]) -> None:
        self.url = url
        self.log = log
        self._process = process

    def _get(self, path: str, **params: str) -> Any:
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        try:
            with urllib.request.urlopen(f"{self.url}{path}{query}", timeout=10) as response:
                body = json.load(response)
        except urllib.error.HTTPError as error:
            # The API explains a bad query in the body of its 400 answer.
            body = json.load(error)
        if body.get("status") != "success":
            raise ValueError(f"Prometheus {path} {params}: {body.get('error', body)}")
        return body["data"]

    def query(self, promql: str) -> Result:
        """The instant vector (or other result) of ``promql`` now: a list of series dicts.

        Each has ``metric`` (its labels, ``__name__`` included) and ``value``
        (``[timestamp, "text of the number"]``).
        """
        data = self._get("/api/v1/query", query=promql)
        result = data["result"]
        # A scalar or string result is one pair, not a list of series.
        return result if data["resultType"] in ("vector", "matrix") else [{"value": result}]

    def targets(self) -> Result:
        """The active scrape targets, each with ``scrapeUrl``, ``health`` and ``lastError``."""
        return list(self._get("/api/v1/targets", state="active")["activeTargets"])

    def wait_for(
        self,
        promql: str,
        predicate: Callable[[Result], bool] = bool,
        timeout_s: float = WAIT_TIMEOUT_S,
    ) -> Result:
        """Poll ``promql`` until ``predicate(result)`` holds (default: any series); return it."""
        deadline = time.monotonic() + timeout_s
        while True:
            result = self.query(promql)
            if predicate(result):
                return result
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{promql!r} after {timeout_s:.0f} s: {result!r}; targets: "
                    f"{[(t['scrapeUrl'], t['health'], t['lastError']) for t in self.targets()]}"
                )
            time.sleep(POLL_S)

    def wait_for_targets_up(self, timeout_s: float = WAIT_TIMEOUT_S) -> Result:
        """Wait until every target has been scraped successfully; returns the targets."""
        deadline = time.monotonic() + timeout_s
        while True:
            targets = self.targets()
            if targets and all(target["health"] == "up" for target in targets):
                return targets
            if time.monotonic() > deadline:
                raise AssertionError(f"targets not up after {timeout_s:.0f} s: {targets!r}")
            time.sleep(POLL_S)


def _log_tail(log: Path, lines: int = 20) -> str:
    text = log.read_text(encoding="utf-8", errors="replace") if log.exists() else ""
    return "\n".join(text.splitlines()[-lines:])


def _wait_ready(prometheus: Prometheus, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        if process.poll() is not None:
            raise RuntimeError(
                f"prometheus exited with status {process.returncode}:\n{_log_tail(prometheus.log)}"
            )
        try:
            with urllib.request.urlopen(f"{prometheus.url}/-/ready", timeout=5) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass  # not listening yet, or 503 while it starts
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"prometheus not ready after {START_TIMEOUT_S:.0f} s:\n{_log_tail(prometheus.log)}"
            )
        time.sleep(POLL_S)


@contextmanager
def running_prometheus(targets: Sequence[str], directory: Path) -> Iterator[Prometheus]:
    """A Prometheus server scraping ``targets`` ("host:port") every second, until the block ends.

    Its configuration, database and log go under ``directory`` (a test's
    ``tmp_path``); it listens on a free port of 127.0.0.1.
    """
    binary = prometheus_binary()
    directory.mkdir(parents=True, exist_ok=True)
    config = directory / "prometheus.yml"
    config.write_text(scrape_config(targets), encoding="utf-8")
    log = directory / "prometheus.log"
    address = f"127.0.0.1:{free_port()}"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [
                binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={directory / 'data'}",
                f"--web.listen-address={address}",
                "--log.level=warn",
            ],
            stdout=output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    prometheus = Prometheus(f"http://{address}", log, process)
    try:
        _wait_ready(prometheus, process)
        yield prometheus
    finally:
        process.terminate()  # SIGTERM: Prometheus shuts down cleanly
        try:
            process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
