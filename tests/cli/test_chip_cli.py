"""``egate pki init``, ``egate chip issue`` and ``egate chip read``, run as a user runs them."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image

TD3 = (
    "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<",
    "L898902C36UTO7408122F1204159ZE184226B<<<<<10",
)
# The same passport with the birth date altered on the data page.
TD3_ALTERED = (TD3[0], "L898902C36UTO7408132F1204159ZE184226B<<<<<10")
TD1 = (
    "I<UTOD231458907<<<<<<<<<<<<<<<",
    "7408122F1204159UTO<<<<<<<<<<<6",
    "ERIKSSON<<ANNA<MARIA<<<<<<<<<<",
)


def mrz_options(lines: tuple[str, ...]) -> list[str]:
    return [option for line in lines for option in ("--mrz", line)]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("chips")


@pytest.fixture(scope="module")
def photo(workdir: Path) -> Path:
    path = workdir / "face.jpg"
    image = Image.new("RGB", (240, 320), (150, 120, 100))
    for x in range(60, 180):
        for y in range(80, 240):
            image.putpixel((x, y), (200 - (x + y) % 50, 160, 140))
    image.save(path, "JPEG", quality=90)
    return path


@pytest.fixture(scope="module")
def pki(workdir: Path) -> Path:
    from egate.cli.main import main

    assert main(["pki", "init", str(workdir / "pki")]) == 0
    return workdir / "pki"


@pytest.fixture(scope="module")
def other_pki(workdir: Path) -> Path:
    from egate.cli.main import main

    assert main(["pki", "init", str(workdir / "other"), "--country", "D"]) == 0
    return workdir / "other"


def issue(cli, photo: Path, pki: Path, out: Path, lines: tuple[str, ...], *flags: str):
    return cli(
        "chip", "issue", *mrz_options(lines), "--photo", str(photo), "--pki", str(pki),
        "--out", str(out), "--air-time", "none", *flags,
    )  # fmt: skip


def read_json(cli, chip: Path, lines: tuple[str, ...], trust: Path, *flags: str):
    ran = cli(
        "chip", "read", "--virtual", str(chip), *mrz_options(lines), "--trust", str(trust),
        "--json", *flags,
    )  # fmt: skip
    return ran.status, json.loads(ran.out) if ran.out else None, ran.err


def test_pki_init_writes_the_four_files_and_refuses_to_overwrite(cli, pki):
    assert sorted(path.name for path in pki.iterdir()) == [
        "csca.key",
        "csca.pem",
        "ds.key",
        "ds.pem",
    ]
    assert (pki / "csca.key").stat().st_mode & 0o077 == 0
    from cryptography import x509

    csca = x509.load_pem_x509_certificate((pki / "csca.pem").read_bytes())
    assert csca.subject.rfc4514_string() == "CN=egate TEST CSCA UTO,O=egate TEST PKI,C=UT"
    ran = cli("pki", "init", str(pki))
    assert ran.status == 2
    assert ran.err.strip() == (
        f"egate: error: {pki / 'csca.pem'}: exists already: refusing to overwrite a PKI"
    )


@pytest.mark.parametrize(
    ("name", "lines", "flags", "access", "aa", "ca"),
    [
        ("td3-bac", TD3, (), "BAC", None, None),
        ("td3-bac-aa", TD3, ("--aa",), "BAC", "OK", None),
        ("td3-pace-aa-ca", TD3, ("--pace", "--aa", "--ca"), "PACE", "OK", "OK"),
        ("td1-bac-aa-rsa", TD1, ("--aa", "--aa-key", "rsa1024"), "BAC", "OK", None),
        ("td1-pace", TD1, ("--pace",), "PACE", None, None),
    ],
)
def test_an_issued_chip_reads_with_every_check_passed(
    cli, workdir, photo, pki, name, lines, flags, access, aa, ca
):
    chip = workdir / name
    ran = issue(cli, photo, pki, chip, lines, *flags)
    assert ran.status == 0, ran.err
    status, document, err = read_json(cli, chip, lines, pki)
    assert (status, err) == (0, "")
    assert document["status"] == "OK"
    assert document["access"].split()[0] == access
    assert document["dg1_mrz"] == list(lines)
    assert document["passive_authentication"]["status"] == "OK"
    assert {c["status"] for c in document["passive_authentication"]["checks"]} == {"OK"}
    assert (document["active_authentication"] or {}).get("status") == aa
    assert (document["chip_authentication"] or {}).get("status") == ca
    assert document["face"]["image_type"] == "JPEG"
    assert document["files"]["DG2"] == (chip / "DG2").stat().st_size
    assert document["checks_passed"] is True and document["failures"] == []
    assert sum(t["apdus"] for t in document["timings"]) == document["apdus"] > 6


def test_one_flipped_byte_of_dg2_is_a_hash_mismatch_of_dg2(cli, workdir, photo, pki):
    chip = workdir / "flipped"
    assert issue(cli, photo, pki, chip, TD3).status == 0
    raw = bytearray((chip / "DG2").read_bytes())
    raw[len(raw) // 2] ^= 0x01
    (chip / "DG2").write_bytes(bytes(raw))
    status, document, _ = read_json(cli, chip, TD3, pki)
    assert status == 1
    verdict = document["passive_authentication"]
    assert verdict["status"] == "HASH_MISMATCH"
    failed = [c for c in verdict["checks"] if c["status"] != "OK"]
    assert failed == [
        {
            "check": "data_group",
            "status": "HASH_MISMATCH",
            "detail": "DG2 differs from its sha256 hash in EF.SOD",
            "data_group": 2,
        }
    ]
    assert document["failures"] == ["HASH_MISMATCH: DG2 differs from its sha256 hash in EF.SOD"]


def test_a_chip_of_another_pki_is_untrusted(cli, workdir, photo, pki, other_pki):
    chip = workdir / "foreign"
    assert issue(cli, photo, other_pki, chip, TD3).status == 0
    status, document, _ = read_json(cli, chip, TD3, pki)
    assert status == 1
    assert document["passive_authentication"]["status"] == "DS_UNTRUSTED"
    assert document["failures"][0].startswith("DS_UNTRUSTED: no path from the DS certificate")


@pytest.mark.parametrize("flags", [(), ("--pace",)], ids=["bac", "pace"])
def test_a_wrong_birth_date_fails_access_control(cli, workdir, photo, pki, flags):
    chip = workdir / f"altered{len(flags)}"
    assert issue(cli, photo, pki, chip, TD3, *flags).status == 0
    status, document, _ = read_json(cli, chip, TD3_ALTERED, pki)
    assert status == 1
    assert document["status"] == "ACCESS_DENIED"
    assert "birth" in document["reason"]
    assert document["files"] == {}
    assert document["failures"] == [f"ACCESS_DENIED: {document['reason']}"]


def test_the_human_report_names_each_verdict(cli, workdir, photo, pki):
    chip = workdir / "human"
    assert issue(cli, photo, pki, chip, TD3, "--aa").status == 0
    ran = cli("chip", "read", "--virtual", str(chip), *mrz_options(TD3), "--trust", str(pki))
    assert ran.status == 0
    lines = ran.out.splitlines()
    assert "status: OK" in lines
    assert "access control: BAC" in lines
    assert "passive authentication: OK" in lines
    assert "active authentication: OK" in lines
    assert "chip authentication: not offered" in lines
    assert lines[-1] == "every check passed"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--virtual", "nowhere", "--mrz", TD3[0], "--mrz", TD3[1]], "--virtual: "),
        (["--virtual", "x", "--mrz", "P<UTO"], "--mrz: "),
        (["--mrz", TD3[0], "--mrz", TD3[1]], "give exactly one of --virtual"),
        (["--virtual", "x", "--reader", "y", "--mrz", TD3[0], "--mrz", TD3[1]], "exactly one"),
        (["--virtual", "x", "--mrz", TD3[0], "--mrz", TD3[1], "--can", "12ab"], "--can: "),
    ],
)
def test_bad_input_is_exit_2_with_one_line(cli, tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    ran = cli("chip", "read", *args)
    assert ran.status == 2
    assert ran.err.count("\n") == 1 and message in ran.err


def test_issue_refuses_a_photo_that_is_no_image_and_writes_nothing(cli, tmp_path, pki):
    bad = tmp_path / "face.jpg"
    bad.write_bytes(b"\xff\xd8 not really a jpeg")
    ran = issue(cli, bad, pki, tmp_path / "chip", TD3)
    assert ran.status == 2
    assert ran.err.startswith(f"egate: error: --photo: {bad}: not an image")
    assert not (tmp_path / "chip").exists()


def test_a_big_photo_is_stored_as_a_printer_would(cli, tmp_path, pki):
    big = tmp_path / "big.png"
    buffer = io.BytesIO()
    Image.effect_noise((1200, 1600), 60).convert("RGB").save(buffer, "PNG")
    big.write_bytes(buffer.getvalue())
    assert issue(cli, big, pki, tmp_path / "chip", TD3).status == 0
    status, document, _ = read_json(cli, tmp_path / "chip", TD3, pki)
    assert status == 0
    assert (document["face"]["width"], document["face"]["height"]) == (480, 640)


OPENSSL = shutil.which("openssl")


def test_openssl_verifies_the_sod_against_the_csca(cli, workdir, photo, pki):
    if OPENSSL is None:
        if os.environ.get("CI") == "true":
            pytest.fail("openssl is missing under CI")
        pytest.skip("openssl is not installed")
    chip = workdir / "openssl"
    assert issue(cli, photo, pki, chip, TD3, "--aa").status == 0
    cms = workdir / "sod.cms"
    subprocess.run(
        [OPENSSL, "asn1parse", "-inform", "DER", "-in", str(chip / "EF.SOD"), "-strparse", "4",
         "-noout", "-out", str(cms)],
        check=True,
    )  # fmt: skip
    verified = subprocess.run(
        [OPENSSL, "cms", "-verify", "-inform", "DER", "-in", str(cms), "-CAfile",
         str(pki / "csca.pem"), "-purpose", "any", "-out", str(workdir / "lds.der")],
        capture_output=True,
        text=True,
    )  # fmt: skip
    assert verified.returncode == 0, verified.stderr
    assert "Verification successful" in verified.stderr
