"""``egate run``: the on-gate service, on gate hardware or on a mock gate.

(Just past the ~400-line guideline: the wiring of the on-gate service is one
place by design, the composition root.)

This is where the parts meet: the gate file's devices (or a mock gate of
emulators with sample travellers), the matching core, the gate controller,
the audit trail and the metrics endpoint (with ``/healthz`` and
``/readyz``).  SIGTERM or SIGINT stops the service: the transaction in
progress may finish briefly, else it is aborted with the exit closed, and
the command exits 0.  SIGHUP reads the stop list and the chip's trust store
again.  Under systemd (``Type=notify``) it reports READY, STOPPING, a
status line and watchdog pings through ``$NOTIFY_SOCKET``.
"""

from __future__ import annotations

import contextlib
import logging
import statistics
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

import click
from prometheus_client import CollectorRegistry
from rich.console import Console
from rich.table import Table

from egate.audit import AuditError, AuditFormatError, AuditTrail, last_transaction_number
from egate.biometrics.capture import CaptureSettings
from egate.biometrics.matching import MatchingCore
from egate.cli.devices import load_gate, stop_on_signals
from egate.cli.errors import EXIT_OK, InputError
from egate.cli.reload import HangupRequests, Reload
from egate.cli.vitals import Vitals
from egate.documents.policy import DocumentPolicy
from egate.endpoint import MetricsError, MetricsServer, serve_metrics
from egate.gate.controller import GateController
from egate.gate.transaction import TransactionRecord
from egate.health import ServiceHealth
from egate.metrics import GateMetrics, build_info
from egate.notify import Notifier
from egate.privacy import Pseudonymizer
from hardware.devices import (
    HardwareGateConfig,
)
from hardware.indicator import TerminalIndicator
from station.console import ConsoleError, OfficerConsole
from station.gatedevices import GateDevices, open_gate_devices
from station.mockgate import MockGate, mock_devices
from station.service import GateService, ServiceTiming

# Between two rounds of polling: the reader's own read timeout waits too.
_LOOP_SLEEP_S = 0.002


def mock_gate_config() -> HardwareGateConfig:
    """The built-in mock gate: every device emulated, sample photos on the camera."""
    return HardwareGateConfig(gate_id="mock-1", devices=mock_devices())


def _configure(
    config_path: Path | None,
    mock: bool,
    metrics_host: str | None,
    metrics_port: int | None,
    no_metrics: bool,
    audit_path: Path | None,
) -> tuple[HardwareGateConfig, Path]:
    """The gate configuration with the command line's overrides, and its folder."""
    if config_path is None and not mock:
        raise click.UsageError("give a gate file with --config FILE, or --mock")
    if config_path is not None:
        gate, base_dir = load_gate(config_path), config_path.parent
    else:
        gate, base_dir = mock_gate_config(), Path.cwd()
    service = gate.service
    metrics = service.metrics.model_copy(
        update={
            key: value
            for key, value in (
                ("host", metrics_host),
                ("port", metrics_port),
                ("enabled", False if no_metrics else None),
            )
            if value is not None
        }
    )
    audit = service.audit
    if audit_path is not None:
        audit = audit.model_copy(update={"path": audit_path.absolute()})
    devices = gate.devices
    if mock:
        devices = devices.model_copy(update={"emulated": True})
    service = service.model_copy(update={"metrics": metrics, "audit": audit})
    return gate.model_copy(update={"service": service, "devices": devices}), base_dir


@click.command("run")
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Gate configuration file (configs/gates/*.yaml).",
)
@click.option(
    "--mock",
    is_flag=True,
    help="Emulate every device and send a built-in stream of sample travellers.",
)
@click.option(
    "--max-passengers",
    type=click.IntRange(min=1),
    help="Stop after this many transactions (demos and tests).",
)
@click.option("--metrics-host", help="Address of the metrics endpoint [127.0.0.1].")
@click.option(
    "--metrics-port", type=click.IntRange(0, 65535), help="Metrics port, 0 for any [9464]."
)
@click.option("--no-metrics", is_flag=True, help="Serve no metrics endpoint.")
@click.option(
    "--audit",
    "audit_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Audit trail file [service.audit.path of the gate file].",
)
@click.option(
    "--console",
    "console_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Officer console socket [service.console of the gate file].",
)
@click.option("--quiet", "-q", is_flag=True, help="No indicator or transaction lines.")
@click.option("--verbose", "-v", is_flag=True, help="Log device and service events to stderr.")
def run(
    config_path: Path | None,
    mock: bool,
    max_passengers: int | None,
    metrics_host: str | None,
    metrics_port: int | None,
    no_metrics: bool,
    audit_path: Path | None,
    console_path: Path | None,
    quiet: bool,
    verbose: bool,
) -> int:
    """Run the gate service until SIGTERM or SIGINT (or --max-passengers transactions).

    The passport reader, doors, occupancy sensor and camera of the gate file
    are driven by the gate controller; faces are verified by the matching
    core. Every transaction, device fault and officer command is appended to
    the audit trail (no names, no MRZ, salted document hashes); metrics are
    served for Prometheus on 127.0.0.1 unless configured otherwise, with
    /healthz and /readyz for probes. SIGHUP reads the stop list and the chip
    reader's trust store again; under systemd (Type=notify) the service
    reports ready, watchdog and status.

    With --mock (or a gate file with `devices: {emulated: true}`) every device
    is an emulator and sample travellers walk through the gate: genuine ones,
    impostors, expired and altered documents, tailgaters.

    Exit status: 0 when stopped by a signal or after --max-passengers; 2 for
    a bad gate file, a busy metrics port or an unwritable audit file.
    """
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # soft_wrap: a line is never broken for a pipe's assumed 80 columns.
    out = Console(highlight=False, quiet=quiet, soft_wrap=True)
    # SIGHUP counts from the first moment: its default action would end the gate.
    with (
        HangupRequests().installed() as hangups,
        stop_on_signals() as stop,
        contextlib.ExitStack() as stack,
    ):
        gate, base_dir = _configure(
            config_path, mock, metrics_host, metrics_port, no_metrics, audit_path
        )
        console = console_path or gate.service.console
        if console is not None and not console.is_absolute() and console_path is None:
            console = base_dir / console
        settings = gate.service
        pseudonymizer = Pseudonymizer.configured(gate.privacy.salt_file)
        policy = DocumentPolicy.from_settings(gate.policy, pseudonymizer)
        registry = CollectorRegistry()
        metrics = GateMetrics(gate.gate_id, registry)
        build_info(registry, gate.gate_id)
        audit = stack.enter_context(_audit_trail(gate, base_dir))
        health = ServiceHealth()
        server = _metrics_server(gate, registry, health)
        if server is not None:
            stack.callback(server.close)
        vitals = Vitals(health, stack.enter_context(Notifier()))
        matching_settings = settings.matching
        core = MatchingCore(
            matching_settings.verifier,
            workers=matching_settings.workers,
            queue_limit=matching_settings.queue_limit,
            kind=matching_settings.kind,
            registry=registry,
            gate=gate.gate_id,
            capture=matching_settings.capture,
        )
        stack.callback(core.close)
        # Models load before the devices open: a door board hears from us from
        # its first second on, and its watchdog never trips at start.
        vitals.starting("loading the face models")
        _wait_ready(core, stop, vitals.beat)
        indicator = TerminalIndicator(
            gate.gate_id, write=lambda text: out.print(text, markup=False)
        )
        devices = stack.enter_context(
            _devices(gate, base_dir, indicator, matching_settings.capture)
        )
        where = f"metrics on http://{server.host}:{server.port}/metrics" if server else "no metrics"
        out.print(f"egate run: gate {gate.gate_id}, {where}, audit to {audit.path}", markup=False)
        sys.stdout.flush()
        try:
            numbered_from = last_transaction_number(audit.path, gate.gate_id)
        except AuditFormatError as error:
            raise InputError(f"audit trail: {error}") from None
        controller = GateController(
            gate.gate_id,
            settings.controller.topology,
            settings.controller.settings(),
            numbered_from=numbered_from,
        )
        service = GateService(
            controller,
            devices.devices,
            core,
            policy,
            audit=audit,
            metrics=metrics,
            timing=ServiceTiming(
                match_deadline_s=matching_settings.deadline_s,
                stop_grace_s=settings.stop_grace_s,
            ),
            on_record=lambda record: _print_record(out, record, devices.mock),
        )
        stack.callback(service.close)
        if console is not None:
            try:
                stack.enter_context(OfficerConsole(console, service.officer))
            except ConsoleError as error:
                raise InputError(str(error)) from None
            out.print(f"egate run: officer console on {console}", markup=False)
        reload = Reload(
            policy, hangups, audit, gate.gate_id, vitals.notifier, trust=devices.devices.chip_trust
        )
        service.start()
        vitals.starting("waiting for the devices")

        def beat_and_sleep(seconds: float) -> None:
            vitals.beat()
            time.sleep(seconds)

        missing = service.wait_for_devices(settings.startup_grace_s, beat_and_sleep)
        if missing:
            out.print(f"egate run: degraded, waiting for {', '.join(missing)}", markup=False)
        vitals.ready(service, core)
        while not stop.is_set():
            if devices.mock is not None:
                devices.mock.step(time.monotonic())
            service.step()
            reloaded = reload.poll()
            if reloaded is not None:
                out.print(f"egate run: {reloaded}", markup=False)
            vitals.after_step(service, core)
            if max_passengers is not None and service.summary.transactions >= max_passengers:
                break
            time.sleep(_LOOP_SLEEP_S)
        vitals.stopping()
        mock_gate = devices.mock

        def pause(seconds: float) -> None:
            # The travellers of a mock gate go on moving while the service stops.
            if mock_gate is not None:
                mock_gate.step(time.monotonic())
            vitals.beat()
            time.sleep(seconds)

        service.stop(pause)
        _print_summary(out, service, audit)
    return EXIT_OK


class _Devices:
    """The gate's drivers, and the mock gate behind them if it is one."""

    def __init__(self, devices: GateDevices, mock: MockGate | None) -> None:
        self.devices = devices
        self.mock = mock


@contextlib.contextmanager
def _devices(
    gate: HardwareGateConfig,
    base_dir: Path,
    indicator: TerminalIndicator,
    capture: CaptureSettings,
) -> Iterator[_Devices]:
    if gate.devices.emulated:
        mock = MockGate(
            gate.devices,
            gate.devices.emulation,
            indicator,
            today=date.today,
            base_dir=base_dir,
            capture=capture,
        )
        with mock:
            assert mock.devices is not None
            yield _Devices(mock.devices, mock)
        return
    devices = open_gate_devices(gate.devices, indicator, today=date.today, base_dir=base_dir)
    try:
        yield _Devices(devices, None)
    finally:
        devices.close()


@contextlib.contextmanager
def _audit_trail(gate: HardwareGateConfig, base_dir: Path) -> Iterator[AuditTrail]:
    """The gate's audit trail; a file it created is removed if the start fails before use."""
    path = gate.service.audit.path
    existed = (path if path.is_absolute() else base_dir / path).exists()
    try:
        trail = AuditTrail.from_settings(gate.service.audit, base_dir)
    except AuditError as error:
        raise InputError(f"audit trail: {error}") from None
    with trail:
        if trail.recovered_bytes:
            logging.getLogger("egate.audit").warning(
                "%s: dropped a torn last line of %d bytes", trail.path, trail.recovered_bytes
            )
        try:
            yield trail
        except BaseException:
            if not existed and trail.records_written == 0:
                trail.close()
                trail.path.unlink(missing_ok=True)
            raise


def _metrics_server(
    gate: HardwareGateConfig, registry: CollectorRegistry, health: ServiceHealth
) -> MetricsServer | None:
    metrics = gate.service.metrics
    if not metrics.enabled:
        return None
    try:
        return serve_metrics(registry, metrics.host, metrics.port, health)
    except MetricsError as error:
        raise InputError(str(error)) from None


def _wait_ready(core: MatchingCore, stop: threading.Event, beat: Callable[[], None]) -> None:
    """Wait for the matching workers to load their models (or for a stop), beating meanwhile."""
    while not stop.is_set():
        beat()
        try:
            core.wait_ready(timeout=0.5)
            return
        except TimeoutError:
            continue


def _print_record(out: Console, record: TransactionRecord, mock: MockGate | None) -> None:
    reasons = " ".join(record.reasons) or "-"
    distance = "" if record.match_distance is None else f"  distance {record.match_distance:.2f}"
    # Who was in the gate: the traveller's kind and the outcome a correct
    # gate reaches, and on a line of its own a tailgater who followed them in.
    who, follower = "", None
    if mock is not None and mock.arrivals:
        traveller = mock.arrivals[-1].traveller
        who = f"  [{traveller.label} {traveller.kind.value}, expected {traveller.expected.value}]"
        follower = traveller.follower
    out.print(
        f"{record.transaction}  {record.outcome.value:<8} {reasons:<28} "
        f"{record.duration_s:5.1f} s{distance}{who}",
        markup=False,
    )
    if follower is not None:
        out.print(
            f"{'':{len(record.transaction)}}  [{follower.id} {follower.kind.value}, "
            f"expected {follower.expected.outcome.value}]",
            markup=False,
        )


def _print_summary(out: Console, service: GateService, audit: AuditTrail) -> None:
    summary = service.summary
    table = Table(title=f"gate {service.controller.gate_id}: {summary.transactions} transactions")
    table.add_column("outcome")
    table.add_column("transactions", justify="right")
    for outcome, count in sorted(summary.outcomes.items()):
        table.add_row(outcome, str(count))
    out.print(table)
    if summary.own_seconds:
        own = sorted(summary.own_seconds)
        p95 = own[min(len(own) - 1, round(0.95 * (len(own) - 1)))]
        out.print(
            f"service's own time per transaction: median {statistics.median(own) * 1000:.2f} ms, "
            f"p95 {p95 * 1000:.2f} ms"
        )
    out.print(f"audit trail: {audit.records_written} records written to {audit.path}", markup=False)
