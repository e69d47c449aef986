"""Chip folders: raw LDS files and chip.yaml, saved whole, loaded back, one-line errors."""

from __future__ import annotations

import os
import random as random_module
import stat

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from egate.documents.lds.dg1 import encode_dg1
from egate.documents.lds.securityinfos import PaceInfo, encode_security_infos, pace_protocol
from hardware.emrtd.activeauth import active_authenticate
from hardware.emrtd.apdu import CommandApdu
from hardware.emrtd.bac import bac
from hardware.emrtd.errors import AccessDenied
from hardware.emrtd.securemessaging import SecureTransport
from hardware.emrtd.transport import VirtualTransport
from hardware.emulators.emrtd.airtime import AirTime
from hardware.emulators.emrtd.folder import (
    CHIP_YAML,
    AirTimeConfig,
    ChipConfig,
    ChipFolder,
    ChipFolderError,
    FaultsConfig,
    chip_yaml,
    load_chip_folder,
    open_virtual_chip,
    save_chip_folder,
)

SPECIMEN = (
    "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<",
    "L898902C<3UTO6908061F9406236ZE184226B<<<<<14",
)
MRZ_INFORMATION = "L898902C<369080619406236"
AID = bytes.fromhex("A0000002471001")
CARD_ACCESS = encode_security_infos([PaceInfo(pace_protocol("ECDH", "GM", "AES-128"), 2, 13)])


def pem(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")


def seeded(seed: int):
    return random_module.Random(seed).randbytes


def sample_folder(**config: object) -> ChipFolder:
    files = {
        "EF.COM": bytes.fromhex("60055C03617581"),
        "DG1": encode_dg1(SPECIMEN),
        "DG2": bytes(range(256)) * 8,
        "DG11": bytes.fromhex("6B00"),
        "DG12": bytes.fromhex("6C00"),
        "DG14": bytes.fromhex("6E00"),
        "DG15": bytes.fromhex("6F00"),
        "EF.SOD": bytes.fromhex("770100"),
        "EF.CardAccess": CARD_ACCESS,
    }
    return ChipFolder(files, ChipConfig(**config))


def test_a_folder_round_trips_byte_for_byte(tmp_path):
    aa_key = rsa.generate_private_key(65537, 1024)
    ca_key = ec.generate_private_key(ec.BrainpoolP256R1())
    folder = sample_folder(
        can="123456",
        aa_key=pem(aa_key),
        ca_key=pem(ca_key),
        ca_key_id=1,
        air_time=AirTimeConfig(bit_rate_kbps=424, latency_s=0.01),
        faults=FaultsConfig(mute_after=40, corrupt={"DG2": 7}),
    )
    target = tmp_path / "chip"
    save_chip_folder(target, folder)
    assert sorted(os.listdir(target)) == sorted([*folder.files, CHIP_YAML])
    for name, data in folder.files.items():
        assert (target / name).read_bytes() == data
    loaded = load_chip_folder(target)
    assert dict(loaded.files) == dict(folder.files)
    assert loaded.config == folder.config
    # The private keys are for the owner's eyes only.
    assert stat.S_IMODE((target / CHIP_YAML).stat().st_mode) == 0o600
    text = (target / CHIP_YAML).read_text()
    assert text.startswith("# egate virtual chip.  The keys below are TEST keys")
    assert "aa_key: |" in text
    # Nothing is left beside it.
    assert os.listdir(tmp_path) == ["chip"]


def test_the_chip_of_a_folder_opens_with_dg1s_mrz_and_signs(tmp_path):
    aa_key = ec.generate_private_key(ec.SECP256R1())
    save_chip_folder(tmp_path / "chip", sample_folder(aa_key=pem(aa_key), aa_hash="sha256"))
    chip = open_virtual_chip(tmp_path / "chip", random=seeded(1))
    assert chip.settings.pace  # EF.CardAccess is there
    assert chip.air_time == AirTime()
    plain = VirtualTransport(chip, sleep=lambda seconds: None)
    plain.transmit(CommandApdu(0x00, 0xA4, 0x04, 0x0C, AID))
    secure = SecureTransport(plain, bac(plain, MRZ_INFORMATION, seeded(2)))
    result = active_authenticate(
        secure, aa_key.public_key(), hash_algorithm="SHA-256", random=seeded(3)
    )
    assert result.ok


def test_mrz_information_in_chip_yaml_overrides_dg1(tmp_path):
    # An altered printed MRZ: the chip opens only with the key of its chip.yaml.
    altered = "L898902C<369080619406244"
    save_chip_folder(tmp_path / "chip", sample_folder(mrz_information=altered, pace=False))
    chip = open_virtual_chip(tmp_path / "chip", random=seeded(1))
    with pytest.raises(AccessDenied):
        bac(VirtualTransport(chip), MRZ_INFORMATION, seeded(2))
    bac(VirtualTransport(chip), altered, seeded(2))


def test_saving_replaces_an_earlier_chip_folder_whole(tmp_path):
    target = tmp_path / "chip"
    save_chip_folder(target, sample_folder(can="111111"))
    smaller = ChipFolder({"DG1": encode_dg1(SPECIMEN)}, ChipConfig(pace=False))
    save_chip_folder(target, smaller)
    assert sorted(os.listdir(target)) == ["DG1", CHIP_YAML]
    assert load_chip_folder(target).config == ChipConfig(pace=False)
    assert os.listdir(tmp_path) == ["chip"]


def test_saving_never_replaces_a_folder_that_is_not_a_chip(tmp_path):
    target = tmp_path / "documents"
    target.mkdir()
    (target / "thesis.tex").write_text("precious")
    with pytest.raises(ChipFolderError, match="exists and is not a chip folder"):
        save_chip_folder(target, sample_folder())
    assert (target / "thesis.tex").read_text() == "precious"
    plain_file = tmp_path / "file"
    plain_file.write_text("x")
    with pytest.raises(ChipFolderError):
        save_chip_folder(plain_file, sample_folder())
    save_chip_folder(tmp_path / "empty", sample_folder())  # an empty folder is fine


def test_a_failed_write_leaves_the_old_chip(tmp_path, monkeypatch):
    target = tmp_path / "chip"
    save_chip_folder(target, sample_folder(can="111111"))

    def broken_rename(source, destination):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "rename", broken_rename)
    with pytest.raises(ChipFolderError, match="cannot write: No space left on device"):
        save_chip_folder(target, sample_folder(can="222222"))
    monkeypatch.undo()
    assert load_chip_folder(target).config.can == "111111"
    assert os.listdir(tmp_path) == ["chip"]


def write(folder_path, yaml_text: str, files: dict[str, bytes] | None = None):
    folder_path.mkdir(exist_ok=True)
    (folder_path / CHIP_YAML).write_text(yaml_text)
    for name, data in (files if files is not None else {"DG1": encode_dg1(SPECIMEN)}).items():
        (folder_path / name).write_bytes(data)
    return folder_path


@pytest.mark.parametrize(
    ("yaml_text", "message"),
    [
        ("can: '12345'\n", r"chip\.yaml:1: can: String should match pattern"),
        ("can: 123456\n", r"chip\.yaml:1: can: Input should be a valid string"),
        ("bac: true\nspeed: 3\n", r"chip\.yaml:2: speed: unknown field \(expected one of: bac,"),
        ("air_time:\n  bit_rate_kbps: 100\n", r"chip\.yaml:2: air_time\.bit_rate_kbps: Input"),
        ("air_time: {frame_size: 300}\n", r"air_time\.frame_size: one of 16, 24"),
        ("faults: {corrupt: {DG99: 1}}\n", r"faults\.corrupt: 'DG99' is not an LDS file name"),
        ("faults: {corrupt: {DG2: 1}}\n", r"faults\.corrupt: the folder has no DG2"),
        ("faults: {corrupt: {DG1: 9999}}\n", r"faults\.corrupt\.DG1: offset 9999 is beyond"),
        ("pace: true\n", r"chip\.yaml: pace: PACE needs .*EF\.CardAccess"),
        ("mrz_information: abc\n", r"mrz_information: MRZ characters only"),
        ("aa_hash: md5\n", r"aa_hash: active authentication knows no hash"),
        ("- a list\n", r"chip\.yaml: expected a mapping"),
    ],
)
def test_bad_chip_yaml_is_one_line_naming_file_and_field(tmp_path, yaml_text, message):
    folder = write(tmp_path / "chip", yaml_text)
    with pytest.raises(ChipFolderError, match=message) as raised:
        load_chip_folder(folder)
    assert "\n" not in str(raised.value)


def test_bad_keys_are_named_without_showing_them(tmp_path):
    secret_looking = "-----BEGIN PRIVATE KEY-----\nTOPSECRETBYTES\n-----END PRIVATE KEY-----\n"
    folder = write(tmp_path / "chip", chip_yaml(ChipConfig(aa_key=secret_looking, pace=False)))
    with pytest.raises(ChipFolderError) as raised:
        open_virtual_chip(folder)
    assert str(raised.value).endswith("chip.yaml: aa_key: not an unencrypted PEM private key")
    assert "TOPSECRET" not in str(raised.value)
    rsa_key = pem(rsa.generate_private_key(65537, 1024))
    folder = write(tmp_path / "other", chip_yaml(ChipConfig(ca_key=rsa_key, pace=False)))
    with pytest.raises(ChipFolderError, match="ca_key: an EC key is needed"):
        open_virtual_chip(folder)


def test_missing_pieces(tmp_path):
    with pytest.raises(ChipFolderError, match="no such directory"):
        load_chip_folder(tmp_path / "nowhere")
    (tmp_path / "bare").mkdir()
    with pytest.raises(ChipFolderError, match=r"chip\.yaml: missing"):
        load_chip_folder(tmp_path / "bare")
    no_dg1 = write(tmp_path / "no_dg1", "pace: false\n", {"EF.COM": b"\x60\x00"})
    with pytest.raises(ChipFolderError, match=r"no DG1, so chip\.yaml needs mrz_information"):
        open_virtual_chip(no_dg1)
    bad_dg1 = write(tmp_path / "bad_dg1", "pace: false\n", {"DG1": b"\x61\x01"})
    with pytest.raises(ChipFolderError, match=r"DG1: DG1: byte"):
        open_virtual_chip(bad_dg1)
    directory_for_a_file = write(tmp_path / "odd", "pace: false\n")
    (directory_for_a_file / "DG2").mkdir()
    with pytest.raises(ChipFolderError, match="DG2: not a regular file"):
        load_chip_folder(directory_for_a_file)


def test_other_files_in_the_folder_are_not_the_chips(tmp_path):
    folder = write(tmp_path / "chip", "pace: false\n")
    (folder / "README").write_text("notes")
    assert set(load_chip_folder(folder).files) == {"DG1"}


def test_instant_air_time_and_repr(tmp_path):
    folder = sample_folder(air_time=AirTimeConfig(instant=True))
    assert folder.config.air_time.air_time() == AirTime.zero()
    assert "ERIKSSON" not in repr(folder)
    assert "DG1=" in repr(folder)
    with pytest.raises(ChipFolderError, match="not LDS file names: notes"):
        ChipFolder({"notes": b""}, ChipConfig())
