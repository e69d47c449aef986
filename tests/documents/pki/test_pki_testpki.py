"""The test PKI: what `egate pki init DIR` writes; the 9303 part 12 profile of its certificates."""

from __future__ import annotations

import stat
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtensionOID, NameOID

from egate.documents.pki.errors import TestPkiError
from egate.documents.pki.testpki import (
    DS_KEY_USAGE_PERIOD,
    DS_VALIDITY,
    PKI_FILES,
    certificate_country,
    generate_test_pki,
    init_test_pki,
    issue_crl,
    issue_ds,
    load_test_pki,
)

ISSUED = datetime(2026, 1, 10, 9, 30, tzinfo=UTC)  # as in conftest.py


def test_init_writes_the_four_files_and_load_reads_them_back(tmp_path):
    folder = tmp_path / "pki"
    pki = init_test_pki(folder, now=ISSUED)
    assert sorted(p.name for p in folder.iterdir()) == sorted(PKI_FILES)
    for name in ("csca.key", "ds.key"):
        text = (folder / name).read_text()
        assert text.startswith("-----BEGIN PRIVATE KEY-----\n")  # PKCS#8, not encrypted
        assert stat.S_IMODE((folder / name).stat().st_mode) == 0o600
    assert (folder / "csca.pem").read_text().startswith("-----BEGIN CERTIFICATE-----\n")
    loaded = load_test_pki(folder)
    assert loaded.csca_certificate == pki.csca_certificate
    assert loaded.ds_certificate == pki.ds_certificate
    assert loaded.ds_key.public_key() == pki.ds_certificate.public_key()


def test_init_refuses_to_overwrite_a_pki(tmp_path):
    init_test_pki(tmp_path, now=ISSUED)
    before = (tmp_path / "csca.key").read_bytes()
    with pytest.raises(TestPkiError) as raised:
        init_test_pki(tmp_path, now=ISSUED)
    message = str(raised.value)
    assert "\n" not in message
    assert message == f"{tmp_path / 'csca.pem'}: exists already: refusing to overwrite a PKI"
    assert (tmp_path / "csca.key").read_bytes() == before


def test_init_refuses_when_only_a_key_is_there(tmp_path):
    (tmp_path / "ds.key").write_text("precious")
    with pytest.raises(TestPkiError, match=r"ds\.key: exists already"):
        init_test_pki(tmp_path, now=ISSUED)
    assert (tmp_path / "ds.key").read_text() == "precious"
    assert not (tmp_path / "csca.pem").exists()


def test_load_names_the_missing_or_wrong_file(tmp_path):
    init_test_pki(tmp_path, now=ISSUED)
    (tmp_path / "ds.pem").unlink()
    with pytest.raises(TestPkiError, match=r"ds\.pem: No such file"):
        load_test_pki(tmp_path)
    (tmp_path / "ds.pem").write_text("not a certificate")
    with pytest.raises(TestPkiError, match=r"ds\.pem: not a PEM certificate"):
        load_test_pki(tmp_path)


def test_load_refuses_a_key_that_is_not_the_certificates(tmp_path):
    init_test_pki(tmp_path / "a", now=ISSUED)
    init_test_pki(tmp_path / "b", now=ISSUED)
    (tmp_path / "a" / "ds.key").write_bytes((tmp_path / "b" / "ds.key").read_bytes())
    with pytest.raises(TestPkiError, match=r"ds\.key: does not match the public key of ds\.pem"):
        load_test_pki(tmp_path / "a")


def test_subjects_say_test_and_carry_the_alpha2_country(brainpool_pki):
    csca = brainpool_pki.csca_certificate
    ds = brainpool_pki.ds_certificate
    assert csca.subject.rfc4514_string() == "CN=egate TEST CSCA UTO,O=egate TEST PKI,C=UT"
    assert ds.subject.rfc4514_string() == "CN=egate TEST Document Signer,O=egate TEST PKI,C=UT"
    assert ds.issuer == csca.subject
    assert csca.issuer == csca.subject


def test_the_csca_profile(brainpool_pki):
    csca = brainpool_pki.csca_certificate
    constraints = csca.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical
    assert (constraints.value.ca, constraints.value.path_length) == (True, 0)
    usage = csca.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical
    assert (usage.value.key_cert_sign, usage.value.crl_sign, usage.value.digital_signature) == (
        True,
        True,
        False,
    )
    ski = csca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert ski == x509.SubjectKeyIdentifier.from_public_key(csca.public_key())
    assert csca.not_valid_before_utc == ISSUED.replace(microsecond=0)
    assert isinstance(csca.signature_hash_algorithm, hashes.SHA256)
    # A CSCA is self-signed: its own key verifies it.
    csca.verify_directly_issued_by(csca)


def test_the_document_signer_profile(brainpool_pki):
    csca = brainpool_pki.csca_certificate
    ds = brainpool_pki.ds_certificate
    usage = ds.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical
    assert usage.value.digital_signature
    assert not usage.value.key_cert_sign
    aki = ds.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    csca_ski = csca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert aki.key_identifier == csca_ski.digest
    with pytest.raises(x509.ExtensionNotFound):
        ds.extensions.get_extension_for_class(x509.BasicConstraints)
    # 9303 part 12: the DS certificate outlives its key by a document's lifetime,
    # and ends years before the CSCA's.
    assert ds.not_valid_after_utc - ds.not_valid_before_utc == DS_VALIDITY
    assert csca.not_valid_after_utc - ds.not_valid_after_utc > timedelta(days=3 * 365)
    period = ds.extensions.get_extension_for_class(x509.PrivateKeyUsagePeriod).value
    assert period.not_after - period.not_before == DS_KEY_USAGE_PERIOD
    doc_types = ds.extensions.get_extension_for_oid(x509.ObjectIdentifier("2.23.136.1.1.6.2"))
    assert doc_types.value.value == bytes.fromhex("300802010031031301") + b"P"
    ds.verify_directly_issued_by(csca)


@pytest.mark.parametrize(
    ("key_type", "curve", "hash_name"),
    [("secp384r1", "secp384r1", "sha384"), ("brainpoolP512r1", "brainpoolP512r1", "sha512")],
)
def test_curves_and_their_hashes(key_type, curve, hash_name):
    pki = generate_test_pki(now=ISSUED, key_type=key_type)
    key = pki.ds_key
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    assert key.curve.name == curve
    assert pki.ds_certificate.signature_hash_algorithm.name == hash_name


def test_rsa_keys_and_a_ds_of_another_type(rsa_pki):
    assert isinstance(rsa_pki.csca_key, rsa.RSAPrivateKey)
    assert rsa_pki.csca_key.key_size == 2048
    mixed = generate_test_pki(now=ISSUED, key_type="secp256r1", ds_key_type="rsa2048")
    assert isinstance(mixed.csca_key, ec.EllipticCurvePrivateKey)
    assert isinstance(mixed.ds_key, rsa.RSAPrivateKey)


def test_serial_numbers_come_from_the_random_given(brainpool_pki):
    # conftest counts 1, 2: the serial is the 16 bytes shifted right once, made odd.
    assert brainpool_pki.csca_certificate.serial_number == (1 >> 1) | 1
    assert brainpool_pki.ds_certificate.serial_number == (2 >> 1) | 1


def test_another_country(tmp_path):
    pki = init_test_pki(tmp_path, country="D", now=ISSUED, key_type="secp256r1")
    country = pki.ds_certificate.subject.get_attributes_for_oid(NameOID.COUNTRY_NAME)
    assert country[0].value == "DE"
    assert "egate TEST CSCA D" in pki.csca_certificate.subject.rfc4514_string()


@pytest.mark.parametrize(
    ("code", "alpha2"),
    [("UTO", "UT"), ("D", "DE"), ("DEU", "DE"), ("nld", "NL"), ("FR", "FR"), ("RKS", "XK")],
)
def test_certificate_country(code, alpha2):
    assert certificate_country(code) == alpha2


def test_certificate_country_refuses_what_is_no_country():
    with pytest.raises(ValueError, match="neither an ISO 3166-1 code"):
        certificate_country("ZZZZ")


def test_a_second_ds_and_a_crl_revoking_it(brainpool_pki):
    ds, key = issue_ds(
        brainpool_pki.csca_certificate,
        brainpool_pki.csca_key,
        now=ISSUED,
        key_type="secp256r1",
        validity=timedelta(days=30),
        name="egate TEST Document Signer 2",
    )
    assert ds.not_valid_after_utc - ds.not_valid_before_utc == timedelta(days=30)
    assert key.public_key() == ds.public_key()
    crl = issue_crl(
        brainpool_pki.csca_certificate, brainpool_pki.csca_key, [ds.serial_number], now=ISSUED
    )
    assert crl.issuer == brainpool_pki.csca_certificate.subject
    assert crl.is_signature_valid(brainpool_pki.csca_certificate.public_key())
    revoked = crl.get_revoked_certificate_by_serial_number(ds.serial_number)
    assert revoked is not None
    assert revoked.revocation_date_utc == ISSUED.replace(microsecond=0)
    assert crl.next_update_utc == (ISSUED + timedelta(days=90)).replace(microsecond=0)
    assert crl.extensions.get_extension_for_oid(ExtensionOID.CRL_NUMBER).value.crl_number == 1
