"""SIGHUP reloads the chip reader's trust store: a CSCA imported while the gate runs is trusted.

The reload runs in this process on real signals, files and virtual chips: a
gate file's ``chip: {kind: virtual, trust: DIR}`` reader, ``egate pki
import`` into DIR, SIGHUP, and the same chip read before and after; then
once in a real ``egate run --config`` process, which says it reloaded.
"""

from __future__ import annotations

import io
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from PIL import Image

from egate.audit import AuditTrail, read_audit
from egate.cli.reload import HangupRequests, Reload
from egate.documents.mrz import parse_mrz
from egate.documents.pki.testpki import init_test_pki
from egate.documents.pki.truststore import TrustStore
from egate.documents.policy import DocumentPolicy, DocumentPolicySettings
from egate.gate.events import ChipStatus
from egate.notify import Notifier
from egate.privacy import Pseudonymizer
from hardware.chip import mrz_information
from hardware.devices import ChipDevice, DeviceSettings
from hardware.emulators.emrtd.chipreader import FolderChipReader
from hardware.emulators.emrtd.folder import AirTimeConfig, save_chip_folder
from hardware.emulators.emrtd.personalisation import personalise, photo_of
from hardware.indicator import RecordingIndicator
from station.gatedevices import ChipTrust, open_gate_devices

GATE = "t2-5"
ANNA = (
    "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<",
    "L898902C36UTO7408122F1204159ZE184226B<<<<<10",
)
# The gate judges certificates at the wall clock: the PKIs are issued just before it.
ISSUED = datetime.now(UTC) - timedelta(days=1)
# Hang guards for the reload thread and for egate run, never measures.
PATIENCE_S = 30.0
PROCESS_PATIENCE_S = 120.0


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Utopia's test PKI and a chip it signed; a trust folder that holds only Germany's CSCA."""
    root = tmp_path_factory.mktemp("site")
    pki = init_test_pki(root / "pki", now=ISSUED)
    germany = init_test_pki(root / "germany", now=ISSUED, country="D")
    buffer = io.BytesIO()
    Image.new("RGB", (120, 160), (150, 120, 100)).save(buffer, "JPEG")
    issued = personalise(
        ANNA, photo_of(buffer.getvalue()), pki.ds_certificate, pki.ds_key, signed_at=ISSUED
    )
    save_chip_folder(root / "chips" / "anna", issued.folder(AirTimeConfig()))
    (root / "germany.pem").write_bytes((root / "germany" / "csca.pem").read_bytes())
    assert germany.csca_certificate.subject != pki.csca_certificate.subject
    return root


@pytest.fixture
def trust(site: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "trust"
    folder.mkdir()
    (folder / "DE.pem").write_bytes((site / "germany.pem").read_bytes())
    return folder


def key() -> str:
    return mrz_information(parse_mrz(list(ANNA), date.today(), repair=False))


def failures(reader: FolderChipReader) -> list[str]:
    read = reader.read(key())
    assert read.status is ChipStatus.OK
    assert read.inspection is not None
    return [failure.split(":")[0] for failure in read.inspection.failures(ANNA)]


class Gate:
    """A policy (with a stop list or none), a trail, a chip reader's trust, the reload."""

    def __init__(self, folder: Path, trust: ChipTrust, stop_list: Path | None = None) -> None:
        self.policy = DocumentPolicy.from_settings(
            DocumentPolicySettings(stop_list=stop_list), Pseudonymizer.ephemeral()
        )
        self.audit_path = folder / "audit.jsonl"
        self.audit = AuditTrail(self.audit_path, fsync=False)
        self.requests = HangupRequests()
        self.reload = Reload(
            self.policy,
            self.requests,
            self.audit,
            GATE,
            Notifier({}),
            wall_clock=lambda: 1.78e9,
            trust=trust,
        )

    def hang_up(self) -> str:
        """SIGHUP, then poll as the service loop does until the reload says what it did."""
        with self.requests.installed():
            os.kill(os.getpid(), signal.SIGHUP)
            deadline = time.monotonic() + PATIENCE_S
            while (line := self.reload.poll()) is None:
                assert time.monotonic() < deadline, "the reload never finished"
                time.sleep(0.005)
        assert not self.reload.busy
        return line

    def details(self) -> list[object]:
        return [record["detail"] for record in read_audit(self.audit_path)]


def chip_trust(site: Path, trust: Path) -> ChipTrust:
    """The virtual chips read with ``trust``'s store, their air time not waited out."""
    reader = FolderChipReader(
        site / "chips",
        trust=TrustStore.load(trust),
        now=lambda: datetime.now(UTC),
        sleep=lambda seconds: None,
    )
    return ChipTrust(trust, reader)


def test_a_csca_imported_and_reloaded_makes_the_chip_trusted(cli, site, trust, tmp_path):
    held = chip_trust(site, trust)
    assert isinstance(held.reader, FolderChipReader)
    assert failures(held.reader) == ["DS_UNTRUSTED"]
    gate = Gate(tmp_path, held)
    before = held.store

    ran = cli("pki", "import", str(site / "pki"), "--trust", str(trust))
    assert ran.status == 0, ran.err
    assert "added: UT CN=egate TEST CSCA UTO" in ran.out
    # Imported but not reloaded: the gate still judges by the old store.
    assert failures(held.reader) == ["DS_UNTRUSTED"]

    line = gate.hang_up()
    assert line == f"trust store reloaded: 2 CSCA certificates of 2 countries, 0 CRLs from {trust}"
    assert held.store is not before
    assert failures(held.reader) == []
    assert gate.details() == [line]
    gate.audit.close()


def test_a_store_that_does_not_load_keeps_the_old_one(site, trust, tmp_path, caplog):
    held = chip_trust(site, trust)
    (trust / "UT.pem").write_bytes((site / "pki" / "csca.pem").read_bytes())
    gate = Gate(tmp_path, held)
    gate.hang_up()
    trusted = held.store
    assert failures(held.reader) == []

    (trust / "junk.pem").write_text("not a certificate")
    caplog.set_level(logging.INFO, logger="egate.reload")
    caplog.clear()
    line = gate.hang_up()
    assert line.startswith(
        "trust store not reloaded, the previous one stays in force (2 CSCA certificates of "
        f"2 countries, 0 CRLs): {trust / 'junk.pem'}: not an X.509 certificate: "
    )
    assert held.store is trusted
    assert failures(held.reader) == []
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [line]
    assert gate.details()[-1] == line
    gate.audit.close()


def test_the_stop_list_and_the_trust_store_reload_together(site, trust, tmp_path):
    stop_list = tmp_path / "stop.csv"
    stop_list.write_text("issuing_state,document_number\nUTO,X1\n", "utf-8")
    gate = Gate(tmp_path, chip_trust(site, trust), stop_list)
    line = gate.hang_up()
    assert line == (
        f"stop list reloaded: 1 document from {stop_list}; "
        f"trust store reloaded: 1 CSCA certificate of 1 country, 0 CRLs from {trust}"
    )
    gate.audit.close()


def test_a_read_under_way_is_judged_by_one_store(site, trust):
    """The store swapped while the chip thread reads: that read by the old, the next by the new."""
    started, release = threading.Event(), threading.Event()

    def sleep(seconds: float) -> None:  # the chip's air time: the first wait holds the read
        if not started.is_set():
            started.set()
            assert release.wait(PATIENCE_S)

    held = chip_trust(site, trust)
    reader = FolderChipReader(
        site / "chips", trust=held.store, now=lambda: datetime.now(UTC), sleep=sleep
    )
    swapped = ChipTrust(trust, reader)
    (trust / "UT.pem").write_bytes((site / "pki" / "csca.pem").read_bytes())
    results: list[list[str]] = []
    chip_thread = threading.Thread(target=lambda: results.append(failures(reader)))
    chip_thread.start()
    assert started.wait(PATIENCE_S)
    swapped.use(swapped.load())
    release.set()
    chip_thread.join(PATIENCE_S)
    assert results == [["DS_UNTRUSTED"]]
    assert failures(reader) == []


@pytest.mark.hardware
def test_a_gate_file_with_a_chip_trust_store_gives_the_reload_its_store(site, trust, tmp_path):
    missing = str(tmp_path / "ttyUSB9")
    settings = DeviceSettings.model_validate(
        {
            "reader": {"serial": {"port": missing}},
            "doors": {"serial": {"port": missing}},
            "mock_camera": {},
            "chip": {"kind": "virtual", "chips": str(site / "chips"), "trust": str(trust)},
        }
    )
    devices = open_gate_devices(settings, RecordingIndicator(), today=date.today, base_dir=tmp_path)
    try:
        assert devices.chip_trust is not None
        assert devices.chip_trust.path == trust
        assert devices.chip_trust.reader is devices.chip
        assert devices.chip_trust.store is not None and len(devices.chip_trust.store) == 1
    finally:
        devices.close()
    without = settings.model_copy(
        update={
            "chip": ChipDevice.model_validate({"kind": "virtual", "chips": str(site / "chips")})
        }
    )
    devices = open_gate_devices(without, RecordingIndicator(), today=date.today, base_dir=tmp_path)
    try:
        assert devices.chip_trust is None
    finally:
        devices.close()


def wait_for(condition: Callable[[], bool], process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + PROCESS_PATIENCE_S
    while not condition():
        assert process.poll() is None, "egate run ended early"
        assert time.monotonic() < deadline, "egate run never got there"
        time.sleep(0.05)


def service_events(audit: Path) -> list[dict[str, object]]:
    if not audit.exists():
        return []
    return [record for record in read_audit(audit) if record["kind"] == "service"]


@pytest.mark.slow
def test_a_running_gate_reloads_its_trust_folder_on_sighup(cli, site, trust, tmp_path):
    """``egate run --config`` with a virtual chip reader: import, SIGHUP, the store in force.

    The reader and doors are absent (the gate waits degraded): what is tested
    is the reload, not a transaction.
    """
    missing = str(tmp_path / "ttyUSB9")
    (tmp_path / "salt.hex").write_text("5eed" * 16, "ascii")
    config = {
        "gate_id": GATE,
        "privacy": {"salt_file": "salt.hex"},
        "devices": {
            "reader": {"serial": {"port": missing}},
            "doors": {"serial": {"port": missing}},
            "mock_camera": {},
            "chip": {"kind": "virtual", "chips": str(site / "chips"), "trust": str(trust)},
        },
        "service": {
            "audit": {"path": "audit.jsonl"},
            "metrics": {"enabled": False},
            "matching": {"workers": 1},
            "startup_grace_s": 0.5,
        },
    }
    (tmp_path / "gate.yaml").write_text(yaml.safe_dump(config), "utf-8")
    audit = tmp_path / "audit.jsonl"
    env = {
        key: value for key, value in os.environ.items() if key not in ("FORCE_COLOR", "EGATE_SALT")
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "egate", "run", "--config", "gate.yaml"],
        cwd=tmp_path,
        env={**env, "COLUMNS": "1000"},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        wait_for(lambda: len(service_events(audit)) == 1, process)
        assert cli("pki", "import", str(site / "pki"), "--trust", str(trust)).status == 0
        # The loop serves SIGHUP once the devices were waited for; until then it counts.
        process.send_signal(signal.SIGHUP)
        wait_for(lambda: len(service_events(audit)) == 2, process)
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=PROCESS_PATIENCE_S)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    assert process.returncode == 0, err.decode()
    line = f"trust store reloaded: 2 CSCA certificates of 2 countries, 0 CRLs from {trust}"
    assert f"egate run: {line}\n" in out.decode()
    assert [(record["event"], record["detail"]) for record in service_events(audit)][1:] == [
        ("reload", line),
        ("stop", ""),
    ]
