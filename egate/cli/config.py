"""``egate config check``: is a gate file fit for ``egate run``?  Checked without any device.

The file goes through the loader ``egate run`` uses (``egate.config.load_config``
with ``hardware.devices.HardwareGateConfig``), then what ``egate run`` reads
before it opens a device: the salt (``privacy.salt_file`` or ``$EGATE_SALT``),
the stop list (parsed and hashed as at start), a mock camera's photos, and the
audit trail if it exists (a restart reads it for the transaction numbering).
No serial port, camera, socket or matching worker is opened, so the check
runs on an engineer's laptop as well as on the gate.

Exit 0 with a short summary; exit 2 with one ``file:line: field: problem``
line, as ``egate run`` would print it.
"""

from __future__ import annotations

import os
from pathlib import Path

import click
import yaml

from egate.audit import AuditFormatError, last_transaction_number
from egate.biometrics.capture import CaptureSettings
from egate.cli.devices import load_gate
from egate.cli.errors import EXIT_OK, InputError
from egate.documents.stoplist import StopList
from egate.privacy import SALT_ENVIRONMENT_VARIABLE, Pseudonymizer
from hardware.camera import CameraError
from hardware.devices import DeviceSettings, HardwareGateConfig, mock_camera_images


@click.group(no_args_is_help=True)
def config() -> None:
    """Check gate configuration files."""


@config.command(name="check")
@click.argument("path", type=click.Path(path_type=Path, dir_okay=False))
def check(path: Path) -> int:
    """Validate the gate file PATH as `egate run` would, without opening any device.

    Checks every setting, the files the gate reads at start (salt file, stop
    list, mock camera photos) and an existing audit trail. Exit status 0 when
    the gate would start, 2 with a one-line `file:line: field: problem` error.
    """
    gate = load_gate(path)
    base_dir = path.parent
    lines = [
        ("policy", _policy(gate)),
        ("salt", _salt(gate)),
        ("devices", _devices(gate.devices)),
    ]
    camera = gate.devices.mock_camera
    if camera is not None:
        try:
            photos = mock_camera_images(camera, base_dir)
        except CameraError as error:
            raise InputError(_located(path, ("devices", "mock_camera", "images"), error)) from None
        lines.append(("camera", f"mock camera, {len(photos)} photos"))
    lines.extend(_service(gate, base_dir, path))
    click.echo(f"{path}: gate {gate.gate_id} is fit to run (no device was opened)")
    width = max(len(part) for part, _ in lines) + 1
    for part, setting in lines:
        click.echo(f"  {part + ':':<{width}} {setting}")
    return EXIT_OK


def _policy(gate: HardwareGateConfig) -> str:
    """The policy's stop list, read and hashed as at start (StopListError if bad)."""
    path = gate.policy.stop_list
    if path is None:
        return "no stop list"
    # The salt does not change what parses; a throwaway one hashes for the count.
    stop_list = StopList.load(path, Pseudonymizer.ephemeral())
    return f"stop list {_shown(path)}, {len(stop_list)} documents"


def _salt(gate: HardwareGateConfig) -> str:
    """Where the salt comes from, checked (SaltError if bad); the salt itself is never shown."""
    Pseudonymizer.configured(gate.privacy.salt_file)
    if gate.privacy.salt_file is not None:
        return f"from {_shown(gate.privacy.salt_file)}"
    if os.environ.get(SALT_ENVIRONMENT_VARIABLE):
        return f"from ${SALT_ENVIRONMENT_VARIABLE}"
    # Not an error: a random salt works, but pseudonyms change at each restart.
    return f"random in each process (set privacy.salt_file or ${SALT_ENVIRONMENT_VARIABLE})"


def _devices(devices: DeviceSettings) -> str:
    """The devices and where they are, as configured."""
    parts = []
    if devices.reader is not None:
        parts.append(f"reader {devices.reader.framing} on {devices.reader.serial.port}")
    if devices.doors is not None:
        parts.append(f"doors on {devices.doors.serial.port}")
    if devices.occupancy is not None:
        parts.append(f"occupancy on {devices.occupancy.serial.port}")
    if devices.camera is not None:
        parts.append(f"camera {devices.camera.source}")
    if devices.chip is not None:
        parts.append(f"chip {devices.chip.kind}")
    described = ", ".join(parts) or "none configured"
    return f"emulated: {described}" if devices.emulated else described


def _service(gate: HardwareGateConfig, base_dir: Path, config_path: Path) -> list[tuple[str, str]]:
    """Controller and matching core, audit trail (read if it exists), metrics and console."""
    service = gate.service
    audit = service.audit.path
    if not audit.is_absolute():
        audit = base_dir / audit
    if audit.exists():
        if not audit.is_file():
            problem = f"{audit}: not a regular file"
            raise InputError(_located(config_path, ("service", "audit", "path"), problem))
        try:
            last = last_transaction_number(audit, gate.gate_id)
        except AuditFormatError as error:
            raise InputError(f"audit trail: {error}") from None
        trail = f"{_shown(audit)} (ids go on after {gate.gate_id}-{last:06d})"
    else:
        trail = f"{_shown(audit)} (created at start)"
    metrics = service.metrics
    served = (
        f"http://{metrics.host}:{metrics.port}/metrics, /healthz, /readyz"
        if metrics.enabled
        else "off"
    )
    console = service.console
    if console is not None and not console.is_absolute():
        console = base_dir / console
    matching = service.matching
    return [
        (
            "service",
            f"{service.controller.topology.value}, {matching.workers} {matching.kind} "
            "matching workers",
        ),
        ("capture", _capture_text(matching.capture)),
        ("audit", trail),
        ("metrics", served),
        ("console", "none" if console is None else _shown(console)),
    ]


def _capture_text(capture: CaptureSettings) -> str:
    """The capture window and liveness check in a few words."""
    frames = (
        "1 frame"
        if capture.frames == 1
        else (f"{capture.frames} frames {capture.interval_s:g} s apart")
    )
    return f"{frames}, liveness {capture.liveness}"


def _shown(path: Path) -> str:
    """``path`` for the summary, ``..`` folded (``gates/../lists`` -> ``lists``)."""
    return os.path.normpath(path)


def _located(path: Path, location: tuple[str, ...], problem: object) -> str:
    """``file:line: dotted.field: problem`` with the line of ``location`` in the YAML file."""
    line = _line_of(path, location)
    where = f"{path}:{line}" if line is not None else str(path)
    return f"{where}: {'.'.join(location)}: {problem}"


def _line_of(path: Path, location: tuple[str, ...]) -> int | None:
    """The 1-based line of the value at ``location`` (a valid file: the loader read it)."""
    try:
        node = yaml.compose(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None
    line = None
    for key in location:
        if not isinstance(node, yaml.MappingNode):
            break
        node = next((value for name, value in node.value if name.value == key), None)
        if node is None:
            break
        line = node.start_mark.line + 1
    return line
