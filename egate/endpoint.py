"""The gate's HTTP endpoint: ``/metrics`` for Prometheus, ``/healthz`` and ``/readyz`` for probes.

``serve_metrics`` serves a registry (``egate.metrics``'s ``GateMetrics`` and
the matching core's metrics are on it) and, given the service's
``ServiceHealth`` (``egate.health``), the two health routes, from a thread of
its own; any other path is 404.  ``MetricsSettings`` is where a gate file says
to serve them.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterable
from http import HTTPStatus
from socketserver import ThreadingMixIn
from types import TracebackType
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import make_wsgi_app
from pydantic import BaseModel, ConfigDict, Field

from egate.health import ServiceHealth

DEFAULT_PORT = 9464


class MetricsError(RuntimeError):
    """The metrics endpoint could not be served; the message is one line."""


class MetricsSettings(BaseModel):
    """Where the gate serves its metrics (``service.metrics`` in the gate's file)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = Field(
        default="127.0.0.1",
        min_length=1,
        description="Address to listen on (0.0.0.0 for every interface).",
    )
    port: int = Field(
        default=DEFAULT_PORT, ge=0, le=65535, description="TCP port; 0 takes any free one."
    )
    enabled: bool = Field(default=True, description="Serve /metrics over HTTP.")


class MetricsServer:
    """A running /metrics endpoint; ``close()`` stops it and frees the port."""

    def __init__(self, server: WSGIServer, thread: threading.Thread) -> None:
        self._server = server
        self._thread = thread
        self._closed = False

    @property
    def host(self) -> str:
        """The address the endpoint listens on."""
        return str(self._server.server_address[0])

    @property
    def port(self) -> int:
        """The port the endpoint listens on (the one chosen when asked for port 0)."""
        return int(self._server.server_address[1])

    def close(self) -> None:
        """Stop serving and release the port; closing twice does nothing."""
        if self._closed:
            return
        self._closed = True
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def __enter__(self) -> MetricsServer:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


# WSGI's start_response and the app built on it, typed loosely as WSGI is.
StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]
_READ_METHODS = ("GET", "HEAD")
_POLL_S = 0.1


def _answer(start_response: StartResponse, status: int, body: dict[str, Any]) -> list[bytes]:
    """``body`` as a JSON answer with ``status``."""
    payload = (json.dumps(body, separators=(",", ":")) + "\n").encode("utf-8")
    phrase = HTTPStatus(status).phrase
    start_response(
        f"{status} {phrase}",
        [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(payload))),
            ("Cache-Control", "no-store"),
        ],
    )
    return [payload]


def service_app(registry: CollectorRegistry, health: ServiceHealth | None = None) -> WsgiApp:
    """The endpoint's routes: ``/metrics``, and ``/healthz`` and ``/readyz`` given ``health``.

    Every other path is 404; a method other than GET or HEAD is 405.  The
    health routes only read what the service loop last published.
    """
    metrics_app = make_wsgi_app(registry)
    routes: dict[str, Callable[[], tuple[int, dict[str, Any]]]] = {}
    if health is not None:
        routes = {"/healthz": health.liveness, "/readyz": health.readiness}

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO") or "/"
        if path != "/metrics" and path not in routes:
            return _answer(start_response, 404, {"error": f"no such path: {path[:100]}"})
        if environ.get("REQUEST_METHOD", "GET") not in _READ_METHODS:
            allowed = ", ".join(_READ_METHODS)
            return _answer(start_response, 405, {"error": f"use {allowed}"})
        if path == "/metrics":
            result: Iterable[bytes] = metrics_app(environ, start_response)
            return result
        status, body = routes[path]()
        return _answer(start_response, status, body)

    return app


class _Server(ThreadingMixIn, WSGIServer):
    """One thread per request, so a slow scraper cannot hold up a probe."""

    # Threads of unfinished requests must not keep a stopping gate alive.
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    """No line on stderr per request: a scrape every 15 s would flood the gate's log."""

    def log_message(self, format: str, *args: object) -> None:
        pass


def serve_metrics(
    registry: CollectorRegistry,
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    health: ServiceHealth | None = None,
) -> MetricsServer:
    """Serve ``registry`` on ``http://host:port/metrics`` (and health, if given) from a thread.

    Port 0 takes any free port (see ``MetricsServer.port``).  Raises
    ``MetricsError`` when the address cannot be used (port taken, unknown host).
    """
    try:
        # The first address the name resolves to decides IPv4 or IPv6 ("::1").
        family, _, _, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]

        class _FamilyServer(_Server):
            address_family = family

        server = make_server(
            str(address[0]),
            port,
            service_app(registry, health),
            server_class=_FamilyServer,
            handler_class=_QuietHandler,
        )
    except OSError as error:
        cause = error.strerror or str(error)
        raise MetricsError(f"cannot serve metrics on {host}:{port}: {cause}") from error
    # A short poll, so that close() returns promptly (it waits for the next poll).
    thread = threading.Thread(
        target=server.serve_forever, args=(_POLL_S,), name="egate-metrics", daemon=True
    )
    thread.start()
    return MetricsServer(server, thread)
