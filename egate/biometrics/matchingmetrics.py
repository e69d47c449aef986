"""The matching core's Prometheus metrics (``egate_matching_*``), on the registry handed in."""

from __future__ import annotations

from typing import Generic, TypeVar

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.metrics import MetricWrapperBase

_Metric = TypeVar("_Metric", bound=MetricWrapperBase)


class _Labelled(Generic[_Metric]):
    """A labelled metric whose ``labels(...)`` puts the core's gate first, if it has one."""

    def __init__(self, metric: _Metric, gate: tuple[str, ...]) -> None:
        self._metric: _Metric = metric
        self._gate = gate

    def labels(self, *values: str) -> _Metric:
        return self._metric.labels(*self._gate, *values)


class MatchingMetrics:
    """The core's metrics; with ``gate`` every series carries ``gate=<gate>``.

    A core serving one gate (``egate run``) is labelled with it, so that
    many gates in one Prometheus are told apart as their ``egate_gate_*``
    series are; a core shared by several gates (a replay) has no gate label.
    """

    def __init__(self, registry: CollectorRegistry, gate: str | None = None) -> None:
        shared = [] if gate is None else ["gate"]
        bound = () if gate is None else (gate,)

        def plain(metric: _Metric) -> _Metric:
            return metric.labels(*bound) if bound else metric

        self.queue_length = plain(
            Gauge(
                "egate_matching_queue_length",
                "Jobs waiting for a worker.",
                shared,
                registry=registry,
            )
        )
        self.busy_workers = plain(
            Gauge(
                "egate_matching_busy_workers", "Workers running a job.", shared, registry=registry
            )
        )
        self.workers = plain(
            Gauge("egate_matching_workers", "Workers in the pool.", shared, registry=registry)
        )
        self.restarts = plain(
            Counter(
                "egate_matching_worker_restarts",
                "Workers started again after they died.",
                shared,
                registry=registry,
            )
        )
        self.wait = plain(
            Histogram(
                "egate_matching_wait_seconds",
                "Time a job waited in the queue.",
                shared,
                buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
                registry=registry,
            )
        )
        self.service = _Labelled(
            Histogram(
                "egate_matching_service_seconds",
                "Time a worker spent on a job.",
                [*shared, "kind"],
                buckets=(0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 1, 2, 5),
                registry=registry,
            ),
            bound,
        )
        self.late = _Labelled(
            Counter(
                "egate_matching_late_results",
                "Jobs that finished after their deadline.",
                [*shared, "kind"],
                registry=registry,
            ),
            bound,
        )
        self.jobs = _Labelled(
            Counter(
                "egate_matching_jobs",
                "Jobs by kind and outcome.",
                [*shared, "kind", "outcome"],
                registry=registry,
            ),
            bound,
        )
