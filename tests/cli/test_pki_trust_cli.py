"""``egate pki import`` and ``egate pki list``, run as an operator runs them."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from egate.documents.pki.testpki import TestPki, generate_test_pki, issue_crl, issue_csca
from egate.documents.pki.truststore import TrustStore, write_master_list

PEM = serialization.Encoding.PEM
# The listings judge at the wall clock: certificates are made around it.
NOW = datetime.now(UTC)


@pytest.fixture(scope="module")
def utopia() -> TestPki:
    return generate_test_pki(now=NOW - timedelta(days=30))


@pytest.fixture(scope="module")
def germany() -> TestPki:
    return generate_test_pki(country="D", now=NOW - timedelta(days=30))


@pytest.fixture
def master_list(tmp_path: Path, utopia: TestPki, germany: TestPki) -> Path:
    """Utopia's and Germany's CSCAs and a document signer, signed by Utopia's CSCA."""
    path = tmp_path / "ICAO.ml"
    path.write_bytes(
        write_master_list(
            [utopia.csca_certificate, germany.csca_certificate, utopia.ds_certificate],
            utopia.csca_certificate,
            utopia.csca_key,
            signing_time=NOW,
        )
    )
    return path


def test_import_a_master_list_then_list_it(cli, tmp_path, master_list, utopia):
    trust = tmp_path / "trust"
    ran = cli("pki", "import", str(master_list), "--trust", str(trust))
    assert ran.status == 0, ran.err
    lines = ran.out.splitlines()
    assert lines[0].startswith(
        f"master list {master_list}: signature OK, signed by "
        "CN=egate TEST CSCA UTO,O=egate TEST PKI,C=UT on "
    )
    assert lines[0].endswith(", 2 CSCA certificates (1 entry skipped)")
    csca = utopia.csca_certificate
    assert (
        f"added: UT CN=egate TEST CSCA UTO,O=egate TEST PKI,C=UT, serial {csca.serial_number:X}, "
        f"valid until {csca.not_valid_after_utc:%Y-%m-%d} (UT-csca-"
    ) in ran.out
    assert "added: DE CN=egate TEST CSCA D,O=egate TEST PKI,C=DE" in ran.out
    assert re.search(
        r"^skipped: .*ICAO\.ml: certificate \d: CN=egate TEST Document Signer", ran.out, re.M
    )
    assert lines[-1] == (
        f"trust folder {trust}: 2 CSCA certificates added; 1 certificate skipped (no CA)"
    )
    files = sorted(path.name for path in trust.iterdir())
    assert [name[:8] for name in files] == ["DE-csca-", "UT-csca-"]

    listed = cli("pki", "list", "--trust", str(trust))
    assert listed.status == 0, listed.err
    out = listed.out.splitlines()
    assert out[0].startswith(
        f"trust store {trust}: 2 CSCA certificates of 2 countries, 0 CRLs (at "
    )
    assert out[1] == "DE" and out[3] == "UT"
    assert out[4].startswith(f"  OK            {csca.not_valid_before_utc:%Y-%m-%d} to ")
    assert f"serial {csca.serial_number:X}" in out[4]
    assert out[-1] == "0 expired, 0 expiring within 90 days, 0 not yet valid; 0 stale CRLs"
    # The master list itself lists the same, and what it left out.
    from_list = cli("pki", "list", "--trust", str(master_list), "--json")
    assert from_list.status == 0
    document = json.loads(from_list.out)
    assert {entry["country"] for entry in document["certificates"]} == {"DE", "UT"}
    assert len(document["skipped"]) == 1 and document["problems"] == []


def test_a_second_import_changes_nothing(cli, tmp_path, master_list):
    trust = tmp_path / "trust"
    assert cli("pki", "import", str(master_list), "--trust", str(trust)).status == 0
    before = {path.name: path.stat().st_mtime_ns for path in trust.iterdir()}
    again = cli("pki", "import", str(master_list), "--trust", str(trust))
    assert again.status == 0
    assert again.out.count("present: ") == 2 and "added" not in again.out
    assert again.out.splitlines()[-1] == (
        f"trust folder {trust}: 2 CSCA certificates already there; "
        "1 certificate skipped (no CA) (nothing changed)"
    )
    assert {path.name: path.stat().st_mtime_ns for path in trust.iterdir()} == before


def test_a_tampered_master_list_is_refused_and_nothing_written(cli, tmp_path, master_list):
    data = bytearray(master_list.read_bytes())
    data[data.index(b"egate TEST CSCA D")] ^= 0x01
    master_list.write_bytes(bytes(data))
    trust = tmp_path / "trust"
    ran = cli("pki", "import", str(master_list), "--trust", str(trust))
    assert ran.status == 2
    assert ran.out == ""
    assert ran.err == (
        f"egate: error: {master_list}: master list signature invalid: "
        "messageDigest differs from the sha256 of the content\n"
    )
    assert not trust.exists()


def test_a_dry_run_writes_nothing(cli, tmp_path, master_list):
    trust = tmp_path / "trust"
    ran = cli("pki", "import", str(master_list), "--trust", str(trust), "--dry-run")
    assert ran.status == 0
    assert ran.out.count("would be added: ") == 2
    assert ran.out.endswith("(dry run: nothing written)\n")
    assert not trust.exists()


def test_a_crl_import_and_a_stale_crl(cli, tmp_path, master_list, utopia):
    trust = tmp_path / "trust"
    assert cli("pki", "import", str(master_list), "--trust", str(trust)).status == 0
    serial = utopia.ds_certificate.serial_number
    stale = tmp_path / "utopia.crl"
    stale.write_bytes(
        issue_crl(
            utopia.csca_certificate, utopia.csca_key, [serial], now=NOW - timedelta(days=100)
        ).public_bytes(PEM)
    )
    ran = cli("pki", "import", str(stale), "--trust", str(trust))
    assert ran.status == 0, ran.err
    assert re.search(
        r"^added: CRL of CN=egate TEST CSCA UTO,O=egate TEST PKI,C=UT, issued \S+, next update "
        r"\S+, 1 certificate revoked \(UT-crl-[0-9a-f]{16}\.crl; WARNING past its next update: "
        r"documents of this CSCA key will read DS_UNTRUSTED until a newer CRL is imported\)$",
        ran.out,
        re.M,
    )
    # Past its next update: the listing says so and fails.
    listed = cli("pki", "list", "--trust", str(trust))
    assert listed.status == 1
    assert re.search(r"^  STALE +next update ", listed.out, re.M)
    (problem,) = [line for line in listed.out.splitlines() if line.startswith("PROBLEM ")]
    assert "DS_UNTRUSTED until a newer CRL is imported" in problem
    # A fresh one replaces it, and all is well again.
    fresh = tmp_path / "fresh.der"  # a CRL in DER under a certificate's suffix
    fresh.write_bytes(
        issue_crl(utopia.csca_certificate, utopia.csca_key, [serial], now=NOW).public_bytes(
            serialization.Encoding.DER
        )
    )
    ran = cli("pki", "import", str(fresh), "--trust", str(trust))
    assert ran.status == 0, ran.err
    assert ran.out.startswith("replaced: CRL of ")
    assert len([path for path in trust.iterdir() if path.suffix == ".crl"]) == 1
    listed = cli("pki", "list", "--trust", str(trust), "--json")
    assert listed.status == 0
    (crl,) = json.loads(listed.out)["crls"]
    assert crl["state"] == "OK" and crl["csca_found"] is True
    assert crl["revoked"] == [format(serial, "X")]


def test_list_flags_expired_and_soon_expiring_cscas(cli, tmp_path):
    trust = tmp_path / "trust"
    trust.mkdir()
    expired, _ = issue_csca(
        country="FR", now=NOW - timedelta(days=400), validity=timedelta(days=365)
    )
    soon, _ = issue_csca(country="FR", now=NOW - timedelta(days=300), validity=timedelta(days=330))
    later, _ = issue_csca(country="NL", now=NOW - timedelta(days=1))
    for name, certificate in (("old.pem", expired), ("soon.pem", soon), ("nl.pem", later)):
        (trust / name).write_bytes(certificate.public_bytes(PEM))
    ran = cli("pki", "list", "--trust", str(trust))
    # Expired CSCAs are common in master lists and harmless: listed, not failed.
    assert ran.status == 0, ran.err
    lines = ran.out.splitlines()
    assert lines[1] == "FR"
    assert lines[2].startswith("  EXPIRED       ") and lines[2].endswith("[old.pem]")
    assert re.match(
        r"  EXPIRES SOON  \S+ to \S+ \((29|30) days left\)  CN=egate TEST CSCA FR,", lines[3]
    )
    assert lines[3].endswith("[soon.pem]")
    assert lines[4] == "NL" and lines[5].startswith("  OK  ")
    assert lines[-1] == "1 expired, 1 expiring within 90 days, 0 not yet valid; 0 stale CRLs"
    assert "EXPIRES SOON" not in cli("pki", "list", "--trust", str(trust), "--soon", "10").out
    document = json.loads(cli("pki", "list", "--trust", str(trust), "--json").out)
    assert [entry["state"] for entry in document["certificates"]] == [
        "EXPIRED",
        "EXPIRES SOON",
        "OK",
    ]
    assert document["soon_days"] == 90


def test_an_empty_store_fails_the_listing(cli, tmp_path):
    (tmp_path / "trust").mkdir()
    ran = cli("pki", "list", "--trust", str(tmp_path / "trust"))
    assert ran.status == 1
    assert ran.out.splitlines()[-1] == (
        "PROBLEM the trust store holds no CSCA certificate: no document signer is trusted"
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "{source}: no such file or folder"),
        (b"hello", "{source}: neither a certificate, a CRL nor a master list (not DER)"),
        (
            b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
            "{source}: PEM block 'PRIVATE KEY': neither a certificate, a CRL nor a master list",
        ),
    ],
)
def test_bad_sources_are_one_line_naming_the_file(cli, tmp_path, content, message):
    source = tmp_path / "handed-over.bin"
    if content is not None:
        source.write_bytes(content)
    ran = cli("pki", "import", str(source), "--trust", str(tmp_path / "trust"))
    assert ran.status == 2
    assert ran.err == f"egate: error: {message.format(source=source)}\n"
    assert not (tmp_path / "trust").exists()


def test_list_of_a_store_that_does_not_load(cli, tmp_path):
    (tmp_path / "broken.pem").write_text("junk")
    ran = cli("pki", "list", "--trust", str(tmp_path))
    assert ran.status == 2
    assert ran.err.startswith(f"egate: error: {tmp_path / 'broken.pem'}: not an X.509 certificate")


def test_import_json(cli, tmp_path, master_list):
    trust = tmp_path / "trust"
    ran = cli("pki", "import", str(master_list), "--trust", str(trust), "--json")
    assert ran.status == 0
    document = json.loads(ran.out)
    assert document["written"] is True
    assert [entry["action"] for entry in document["entries"]] == ["added", "added"]
    assert {entry["file"] for entry in document["entries"]} == {
        path.name for path in trust.iterdir()
    }
    assert len(TrustStore.load(trust)) == 2
