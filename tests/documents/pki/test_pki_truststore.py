"""The trust store: CSCA certificates and CRLs from a folder, or an ICAO master list."""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from hypothesis import given
from hypothesis import strategies as st

from egate.documents.pki.errors import PkiError, TrustStoreError
from egate.documents.pki.testpki import generate_test_pki, issue_crl, issue_ds
from egate.documents.pki.truststore import (
    TrustStore,
    read_master_list,
    write_master_list,
)

ISSUED = datetime(2026, 1, 10, 9, 30, tzinfo=UTC)  # as in conftest.py
PEM = serialization.Encoding.PEM
DER = serialization.Encoding.DER


def _ski(certificate: x509.Certificate) -> bytes:
    return certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest


def test_a_folder_of_pem_der_bundles_and_crls(tmp_path, brainpool_pki, rsa_pki, other_pki):
    (tmp_path / "utopia.pem").write_bytes(brainpool_pki.csca_certificate.public_bytes(PEM))
    (tmp_path / "rsa.cer").write_bytes(rsa_pki.csca_certificate.public_bytes(DER))
    # A bundle: two certificates in one PEM file (the second a duplicate of rsa.cer).
    (tmp_path / "bundle.crt").write_bytes(
        other_pki.csca_certificate.public_bytes(PEM) + rsa_pki.csca_certificate.public_bytes(PEM)
    )
    crl = issue_crl(brainpool_pki.csca_certificate, brainpool_pki.csca_key, [7], now=ISSUED)
    (tmp_path / "utopia.crl").write_bytes(crl.public_bytes(PEM))
    (tmp_path / "rsa.crl").write_bytes(
        issue_crl(rsa_pki.csca_certificate, rsa_pki.csca_key, [], now=ISSUED).public_bytes(DER)
    )
    # Left alone: keys, notes, subfolders.
    (tmp_path / "csca.key").write_text("-----BEGIN PRIVATE KEY-----\n")
    (tmp_path / "README").write_text("CSCAs of the drill")
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "broken.pem").write_text("junk")

    store = TrustStore.load(tmp_path)
    assert len(store) == 3
    assert repr(store) == "TrustStore(3 CSCA certificates, 2 CRLs)"
    # Files are read in name order; a certificate met twice is kept once, as first met.
    sources = sorted(c.source for c in store.certificates)
    assert sources == ["bundle.crt", "bundle.crt#2", "utopia.pem"]
    assert store.countries() == ("UT",)
    crls = {item.source: item for item in store.crls}
    assert crls["utopia.crl"].revoked_serials == frozenset({7})
    assert crls["utopia.crl"].issuer == "CN=egate TEST CSCA UTO,O=egate TEST PKI,C=UT"
    assert crls["utopia.crl"].this_update == ISSUED.replace(microsecond=0)
    assert crls["rsa.crl"].revoked_serials == frozenset()


def test_the_listing(tmp_path, brainpool_pki):
    csca = brainpool_pki.csca_certificate
    (tmp_path / "csca.pem").write_bytes(csca.public_bytes(PEM))
    store = TrustStore.from_directory(tmp_path)
    (entry,) = store.certificates
    assert entry.country == "UT"
    assert entry.subject == "CN=egate TEST CSCA UTO,O=egate TEST PKI,C=UT"
    assert entry.issuer == entry.subject
    assert entry.self_signed
    assert entry.serial_number == csca.serial_number
    assert entry.not_before == csca.not_valid_before_utc
    assert entry.not_after == csca.not_valid_after_utc
    assert entry.subject_key_identifier == _ski(csca)
    assert entry.valid_at(ISSUED + timedelta(days=1))
    assert not entry.valid_at(ISSUED - timedelta(days=1))
    listing = json.loads(json.dumps(store.to_dict()))
    assert listing["certificates"] == [
        {
            "country": "UT",
            "subject": "CN=egate TEST CSCA UTO,O=egate TEST PKI,C=UT",
            "issuer": "CN=egate TEST CSCA UTO,O=egate TEST PKI,C=UT",
            "serial_number": format(csca.serial_number, "X"),
            "not_before": csca.not_valid_before_utc.isoformat(),
            "not_after": csca.not_valid_after_utc.isoformat(),
            "subject_key_identifier": _ski(csca).hex().upper(),
            "self_signed": True,
            "source": "csca.pem",
        }
    ]
    assert listing["crls"] == [] and listing["skipped"] == []
    assert store.for_country("ut") == store.certificates
    assert store.for_country("DE") == ()


def test_a_document_signer_is_no_trust_anchor(tmp_path, brainpool_pki):
    """`egate pki init`'s folder holds ds.pem beside csca.pem: the store takes the CSCA only."""
    (tmp_path / "csca.pem").write_bytes(brainpool_pki.csca_certificate.public_bytes(PEM))
    (tmp_path / "ds.pem").write_bytes(brainpool_pki.ds_certificate.public_bytes(PEM))
    store = TrustStore.from_directory(tmp_path)
    assert [entry.source for entry in store.certificates] == ["csca.pem"]
    assert store.skipped == (
        "ds.pem: CN=egate TEST Document Signer,O=egate TEST PKI,C=UT"
        " is not a CA certificate (no basicConstraints cA)",
    )


def test_a_document_signer_alone_is_no_trust_store(brainpool_pki):
    """Given as a list, a DS certificate is refused: it would vouch for itself."""
    with pytest.raises(TrustStoreError, match="is not a CA certificate") as raised:
        TrustStore.from_certificates([brainpool_pki.ds_certificate])
    assert isinstance(raised.value, PkiError)


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("junk.pem", b"hello", "not an X.509 certificate"),
        ("junk.der", b"\x30\x03\x02\x01\x00", "not an X.509 certificate"),
        ("key.pem", b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", "PEM block"),
        ("broken.crl", b"\x30\x80", "not a CRL"),
        ("list.ml", b"\x30\x00", "not a CMS SignedData"),
    ],
)
def test_loading_errors_are_one_line_with_the_file(tmp_path, name, content, reason):
    (tmp_path / name).write_bytes(content)
    with pytest.raises(TrustStoreError) as raised:
        TrustStore.load(tmp_path)
    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith(f"{tmp_path / name}: ")
    assert reason in message
    assert raised.value.file == str(tmp_path / name)


def test_a_missing_path_is_one_line(tmp_path):
    with pytest.raises(TrustStoreError, match=r"nowhere\.ml: No such file"):
        TrustStore.load(tmp_path / "nowhere.ml")


# --- master lists ------------------------------------------------------------------------


def test_master_list_round_trip(tmp_path, brainpool_pki, rsa_pki):
    data = write_master_list(
        [brainpool_pki.csca_certificate, rsa_pki.csca_certificate],
        brainpool_pki.csca_certificate,
        brainpool_pki.csca_key,
        signing_time=ISSUED,
    )
    master = read_master_list(data, source="test.ml")
    assert master.version == 0
    assert master.signer == "CN=egate TEST CSCA UTO,O=egate TEST PKI,C=UT"
    assert master.signing_time == ISSUED.replace(microsecond=0)
    assert master.skipped == ()
    assert {c.serial_number for c in master.certificates} == {
        brainpool_pki.csca_certificate.serial_number,
        rsa_pki.csca_certificate.serial_number,
    }
    assert {c.source for c in master.certificates} == {"test.ml#1", "test.ml#2"}

    (tmp_path / "ICAO.ml").write_bytes(data)
    from_file = TrustStore.load(tmp_path / "ICAO.ml")
    assert [c.der for c in from_file.certificates] == [
        c.der for c in TrustStore(master.certificates).certificates
    ]
    # In a folder, a *.ml is read as a master list too.
    assert len(TrustStore.load(tmp_path)) == 2
    assert len(TrustStore.from_master_list(data)) == 2


def test_a_master_list_signed_by_a_master_list_signer(brainpool_pki):
    """The usual case: a Master List Signer certificate issued by one of the listed CSCAs."""
    signer, key = issue_ds(
        brainpool_pki.csca_certificate,
        brainpool_pki.csca_key,
        now=ISSUED,
        key_type="secp256r1",
        name="egate TEST Master List Signer",
    )
    data = write_master_list([brainpool_pki.csca_certificate], signer, key, signing_time=ISSUED)
    assert read_master_list(data).signer == "CN=egate TEST Master List Signer,O=egate TEST PKI,C=UT"


def test_a_master_list_from_an_unlisted_signer_is_refused(brainpool_pki, rsa_pki):
    data = write_master_list(
        [brainpool_pki.csca_certificate],
        rsa_pki.csca_certificate,
        rsa_pki.csca_key,
        signing_time=None,
    )
    with pytest.raises(TrustStoreError, match="was issued by none of the CSCAs it lists"):
        read_master_list(data, source="forged.ml")


def test_a_tampered_master_list_is_refused(brainpool_pki):
    data = bytearray(
        write_master_list(
            [brainpool_pki.csca_certificate],
            brainpool_pki.csca_certificate,
            brainpool_pki.csca_key,
            signing_time=ISSUED,
        )
    )
    # Change one byte of the listed certificate's public key, inside the signed content
    # (which comes before the signer's own copy of the certificate).
    point = brainpool_pki.csca_certificate.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    at = data.index(point) + 10
    data[at] ^= 0x01
    with pytest.raises(TrustStoreError) as raised:
        read_master_list(bytes(data), source="tampered.ml")
    assert str(raised.value) == (
        "tampered.ml: master list signature invalid: "
        "messageDigest differs from the sha256 of the content"
    )


def test_a_non_ca_entry_of_a_master_list_is_skipped_and_listed(brainpool_pki):
    data = write_master_list(
        [brainpool_pki.csca_certificate, brainpool_pki.ds_certificate],
        brainpool_pki.csca_certificate,
        brainpool_pki.csca_key,
        signing_time=ISSUED,
    )
    store = TrustStore.from_master_list(data, source="mixed.ml")
    assert len(store) == 1
    (skipped,) = store.skipped
    assert skipped.startswith("mixed.ml: certificate ")
    assert "CN=egate TEST Document Signer" in skipped and "not a CA certificate" in skipped


def test_an_ef_sod_is_no_master_list(brainpool_pki):
    from egate.documents.pki.sod import sign_sod, unwrap_sod

    sod = sign_sod({1: b"x"}, brainpool_pki.ds_certificate, brainpool_pki.ds_key, signing_time=None)
    with pytest.raises(
        TrustStoreError, match=r"eContentType 2\.23\.136\.1\.1\.1 is not id-icao-cscaMasterList"
    ):
        read_master_list(unwrap_sod(sod))


def test_from_certificates_and_merge(brainpool_pki, rsa_pki):
    crl = issue_crl(brainpool_pki.csca_certificate, brainpool_pki.csca_key, [], now=ISSUED)
    one = TrustStore.from_certificates([brainpool_pki.csca_certificate], [crl], source="drill")
    two = TrustStore.from_certificates([rsa_pki.csca_certificate.public_bytes(DER)])
    both = one.merged(two).merged(one)
    assert len(both) == 2
    assert len(both.crls) == 1
    assert one.certificates[0].source == "drill#1"
    assert both.crls[0].authority_key_identifier == _ski(brainpool_pki.csca_certificate)
    # Both test CSCAs are named alike; the CRL is the brainpool key's only.
    name = _asn1(brainpool_pki.csca_certificate).subject
    assert name == _asn1(rsa_pki.csca_certificate).subject
    assert len(both.crls_for(name, _ski(brainpool_pki.csca_certificate))) == 1
    assert both.crls_for(name, _ski(rsa_pki.csca_certificate)) == []
    assert len(both.crls_for(name, None)) == 1
    assert both.crls_for(_asn1(brainpool_pki.ds_certificate).subject, None) == []


def _asn1(certificate):
    from asn1crypto import x509 as asn1_x509

    return asn1_x509.Certificate.load(certificate.public_bytes(DER))


def test_an_empty_store():
    store = TrustStore()
    assert len(store) == 0
    assert store.to_dict() == {"certificates": [], "crls": [], "skipped": []}


@given(st.binary(max_size=400))
def test_arbitrary_bytes_as_a_master_list_raise_only_trust_store_error(data):
    with contextlib.suppress(TrustStoreError):
        read_master_list(data)


@pytest.fixture(scope="module")
def master_list():
    pki = generate_test_pki(now=ISSUED, key_type="secp256r1")
    return write_master_list(
        [pki.csca_certificate], pki.csca_certificate, pki.csca_key, signing_time=ISSUED
    )


@given(st.data())
def test_damaged_master_lists_raise_only_trust_store_error(master_list, data):
    raw = bytearray(master_list)
    position = data.draw(st.integers(0, len(raw) - 1))
    raw[position] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(position, len(raw)))
    with contextlib.suppress(TrustStoreError):
        read_master_list(bytes(raw[:cut]))
