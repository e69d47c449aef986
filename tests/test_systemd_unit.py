"""The shipped systemd unit: it starts the example gate, restarts sensibly, is hardened.

systemd itself checks the unit when ``systemd-analyze`` is on the machine
(the ``systemd`` package of Debian): ``verify`` for unknown or misspelt
settings, ``security --offline`` for the exposure score.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from egate.config import load_config
from hardware.devices import HardwareGateConfig

CONFIGS = Path(__file__).resolve().parent.parent / "configs"
UNIT = CONFIGS / "systemd" / "egate.service"
EXAMPLE = CONFIGS / "gates" / "example-hardware.yaml"
# A hang guard for systemd-analyze, never a measure.
ANALYZE_S = 60


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


def seconds(value: str) -> float:
    """A systemd time span such as ``20s``, ``2min`` or ``500ms`` in seconds."""
    found = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s|min)?", value)
    assert found, value
    scale = {"ms": 0.001, "s": 1.0, "min": 60.0, None: 1.0}[found.group(2)]
    return float(found.group(1)) * scale


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
    assert service["KillSignal"] == ["SIGTERM"]
    assert service["KillMode"] == ["mixed"]
    assert service["EnvironmentFile"] == ["/etc/egate/egate.env"]
    assert service["Environment"] == ["PYTHONUNBUFFERED=1"]
    assert service["ExecReload"] == ["/bin/kill -HUP $MAINPID"]


def test_egate_tells_systemd_it_is_ready_and_alive(unit):
    service = unit["Service"]
    assert service["Type"] == ["notify"]
    assert service["NotifyAccess"] == ["main"]
    (watchdog,) = service["WatchdogSec"]
    # The loop pings every quarter of the interval; a few seconds is a hang.
    assert 5 <= seconds(watchdog) <= 60
    # The start loads models and waits out the devices' grace (10 s by default).
    assert seconds(service["TimeoutStartSec"][0]) >= 60
    # A stop lets the traveller inside finish (stop_grace_s, 10 s) and the doors close.
    assert seconds(service["TimeoutStopSec"][0]) >= 20


def test_a_failing_gate_retries_slowly_and_never_gives_up(unit):
    service = unit["Service"]
    # Status 2 (a bad configuration, a busy port) is retried too: once mended,
    # the gate comes back by itself.
    assert "RestartPreventExitStatus" not in service
    assert service["Restart"] == ["always"]
    assert seconds(service["RestartSec"][0]) >= 5
    assert unit["Unit"]["StartLimitIntervalSec"] == ["0"]


def test_the_unit_has_the_folders_the_example_gate_uses(unit):
    """The example gate's console socket and audit trail are where the unit lets it write."""
    service = unit["Service"]
    gate = load_config(EXAMPLE, HardwareGateConfig)
    (runtime,) = service["RuntimeDirectory"]
    assert gate.service.console is not None
    assert gate.service.console.parent == Path("/run") / runtime
    (state,) = service["StateDirectory"]
    assert gate.service.audit.path.parent == Path("/var/lib") / state
    assert service["ReadWritePaths"] == ["/var/lib/egate"]
    assert service["RuntimeDirectoryMode"] == ["0750"]
    # The metrics endpoint stays on the loopback unless the gate file opens it.
    assert gate.service.metrics.host == "127.0.0.1"


def test_the_unit_is_hardened_but_reaches_its_devices(unit):
    service = unit["Service"]
    assert service["NoNewPrivileges"] == ["yes"]
    assert service["ProtectSystem"] == ["strict"]
    assert service["PrivateTmp"] == ["yes"]
    assert service["SystemCallFilter"] == ["@system-service"]
    assert service["SystemCallErrorNumber"] == ["EPERM"]
    assert service["CapabilityBoundingSet"] == [""]
    assert set(service["SupplementaryGroups"][0].split()) == {"dialout", "video"}
    # PrivateDevices would hide the serial ports and cameras; DeviceAllow names them.
    assert "PrivateDevices" not in service
    assert service["DevicePolicy"] == ["closed"]
    assert set(service["DeviceAllow"]) == {
        "char-ttyUSB rw",
        "char-ttyACM rw",
        "char-ttyS rw",
        "char-video4linux rw",
    }


def analyze() -> str:
    found = shutil.which("systemd-analyze")
    if found is None:
        pytest.skip("systemd-analyze is not installed (Debian: apt-get install systemd)")
    return found


def unit_to_analyze(folder: Path) -> Path:
    """A copy of the unit whose ExecStart exists here (verify insists that it does)."""
    copy = folder / UNIT.name
    text = UNIT.read_text(encoding="utf-8")
    copy.write_text(text.replace("/opt/egate/.venv/bin/egate", "/bin/true"), encoding="utf-8")
    return copy


def test_systemd_knows_every_setting(tmp_path):
    program = analyze()
    result = subprocess.run(
        [program, "verify", str(unit_to_analyze(tmp_path))],
        capture_output=True,
        text=True,
        check=False,
        timeout=ANALYZE_S,
    )
    # Unknown keys are only warned about (status 0), so read what it says of our file.
    about_ours = [
        line for line in (result.stdout + result.stderr).splitlines() if UNIT.name in line
    ]
    assert about_ours == []
    assert result.returncode == 0, result.stderr


def test_systemd_rates_the_unit_well_exposed(tmp_path):
    program = analyze()
    result = subprocess.run(
        [program, "security", "--offline=yes", "--no-pager", str(unit_to_analyze(tmp_path))],
        capture_output=True,
        text=True,
        check=False,
        timeout=ANALYZE_S,
    )
    if "--offline" in result.stderr and "unrecognized" in result.stderr:
        pytest.skip("systemd-analyze is older than 250 (no security --offline)")
    found = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", result.stdout)
    assert found, result.stdout + result.stderr
    # 0 is the best, 10 the worst; systemd calls anything under 3 "OK".
    assert float(found.group(1)) < 3.0
