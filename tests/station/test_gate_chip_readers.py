"""The gate file's chip readers: virtual chip folders and PC/SC, read through the chip stack."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from PIL import Image
from pydantic import ValidationError

from egate.documents.mrz import parse_mrz
from egate.documents.pki.testpki import init_test_pki
from egate.gate.events import ChipStatus
from hardware.chip import mrz_information
from hardware.devices import ChipDevice
from hardware.emulators.emrtd.folder import AirTimeConfig, save_chip_folder
from hardware.emulators.emrtd.personalisation import personalise, photo_of
from station.gatedevices import open_chip_reader

ANNA = (
    "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<",
    "L898902C36UTO7408122F1204159ZE184226B<<<<<10",
)
LEE = (
    "P<UTOLEE<<MIN<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<",
    "X123456786UTO8001014M3001012<<<<<<<<<<<<<<00",
)
NOW = datetime(2026, 12, 6, tzinfo=UTC)


def key(lines: tuple[str, ...]) -> str:
    return mrz_information(parse_mrz(list(lines), NOW.date(), repair=False))


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A gate's folder: a test PKI and two passengers' virtual chips."""
    root = tmp_path_factory.mktemp("site")
    pki = init_test_pki(root / "pki", now=NOW)
    buffer = io.BytesIO()
    Image.new("RGB", (120, 160), (150, 120, 100)).save(buffer, "JPEG")
    for name, lines in (("anna", ANNA), ("lee", LEE)):
        issued = personalise(
            lines,
            photo_of(buffer.getvalue()),
            pki.ds_certificate,
            pki.ds_key,
            signed_at=NOW,
            pace=name == "lee",
            active_authentication="ecdsa",
        )
        save_chip_folder(root / "chips" / name, issued.folder(AirTimeConfig(instant=True)))
    return root


def device(site: Path, **fields: object) -> ChipDevice:
    return ChipDevice.model_validate(fields, context={"base_dir": site})


def test_a_virtual_reader_presents_the_chip_of_the_document_read(site):
    reader = open_chip_reader(device(site, kind="virtual", chips="chips", trust="pki"))
    for lines, access in ((ANNA, "BAC"), (LEE, "PACE")):
        read = reader.read(key(lines))
        assert read.status is ChipStatus.OK
        assert read.dg1_mrz == lines
        assert read.inspection is not None
        assert read.inspection.access is not None
        assert read.inspection.access.split()[0] == access
        assert read.inspection.failures(lines) == []
        assert read.inspection.passive_authentication is not None
        assert read.inspection.passive_authentication.ok


def test_an_altered_printed_mrz_meets_the_chip_and_is_refused(site):
    reader = open_chip_reader(device(site, kind="virtual", chips="chips", trust="pki"))
    altered = (ANNA[0], ANNA[1].replace("7408122", "7408132"))
    read = reader.read(key(altered))
    assert read.status is ChipStatus.ACCESS_DENIED
    assert read.dg1_mrz is None


def test_a_document_without_a_chip_in_the_folder_reads_absent(site):
    reader = open_chip_reader(device(site, kind="virtual", chips="chips"))
    other = (
        "P<UTOX<<Y<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<",
        "Z000000000UTO9001011F3001012<<<<<<<<<<<<<<02",
    )
    assert reader.read(key(other)).status is ChipStatus.ABSENT


def test_without_a_trust_store_no_signer_is_trusted(site):
    read = open_chip_reader(device(site, kind="virtual", chips="chips")).read(key(ANNA))
    assert read.status is ChipStatus.OK
    assert read.inspection is not None
    assert [f.split(":")[0] for f in read.inspection.failures(ANNA)] == ["DS_UNTRUSTED"]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"kind": "pcsc", "chips": "chips"}, "kind pcsc takes no chips"),
        ({"kind": "virtual"}, "kind virtual needs chips"),
        ({"kind": "mock", "trust": "pki"}, "kind mock takes no trust"),
        ({"kind": "virtual", "chips": "nowhere"}, "does not exist"),
        ({"kind": "pcsc", "read_chunk": 0}, "greater than or equal to 1"),
    ],
)
def test_chip_settings_of_the_wrong_kind_are_refused(site, fields, message):
    with pytest.raises(ValidationError, match=message):
        device(site, **fields)


def test_an_unreadable_trust_store_is_refused_when_the_gate_file_loads(site, tmp_path):
    pem = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
    (tmp_path / "broken.pem").write_text(pem)
    with pytest.raises(ValidationError, match=r"broken\.pem: not an X\.509 certificate"):
        device(site, kind="virtual", chips="chips", trust=str(tmp_path))


def test_chip_read_takes_the_gate_file(cli, site, tmp_path):
    gate = tmp_path / "gate.yaml"
    gate.write_text(
        yaml.safe_dump(
            {
                "gate_id": "pvg-t2-e01",
                "devices": {
                    "chip": {
                        "kind": "virtual",
                        "chips": str(site / "chips"),
                        "trust": str(site / "pki"),
                    }
                },
            }
        )
    )
    ran = cli("chip", "read", "--config", str(gate), "--mrz", LEE[0], "--mrz", LEE[1])
    assert ran.status == 0, ran.err
    assert f"chip: virtual chip {site / 'chips' / 'lee'}" in ran.out.splitlines()
    assert "passive authentication: OK" in ran.out.splitlines()


def test_the_probe_counts_the_virtual_chips(site):
    from hardware.devices import DeviceSettings
    from hardware.probe import probe

    settings = DeviceSettings(chip=device(site, kind="virtual", chips="chips"))
    [result] = probe(settings, lambda: NOW.date())
    assert (result.device, result.port, result.healthy, result.state) == (
        "chip",
        "virtual",
        True,
        "connected",
    )
    assert result.detail == f"virtual chips, 2 chip folders in {site / 'chips'}"
