"""EF.SOD: signed by egate, read back, checked by OpenSSL, and a third party's SOD read."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import shutil
import subprocess
from datetime import UTC, datetime

import pytest
from asn1crypto import cms
from cryptography.hazmat.primitives import serialization
from hypothesis import given
from hypothesis import strategies as st
from pki_vectors import HJP_EF_SOD

from egate.documents.lds.errors import LdsError
from egate.documents.lds.tlv import encode_tlv as tlv
from egate.documents.pki._cmssign import sign_content
from egate.documents.pki.errors import SodError
from egate.documents.pki.sod import (
    LDS_SECURITY_OBJECT,
    parse_sod,
    sign_sod,
    unwrap_sod,
    wrap_sod,
)

SIGNED = datetime(2026, 1, 10, 10, 0, tzinfo=UTC)
# Stand-ins for data group files: what matters here is their bytes, not their content.
DATA_GROUPS = {
    1: bytes.fromhex("615B5F1F58") + b"P<UTOERIKSSON<<ANNA<MARIA".ljust(88, b"<"),
    2: bytes.fromhex("7508") + b"FACEDATA",
    14: bytes.fromhex("6E03") + b"\x31\x01\x00",
}


def test_sign_then_parse(brainpool_pki):
    raw = sign_sod(
        DATA_GROUPS, brainpool_pki.ds_certificate, brainpool_pki.ds_key, signing_time=SIGNED
    )
    assert raw[:2] == b"\x77\x82"
    sod = parse_sod(raw)
    assert sod.version == 0
    assert sod.digest_algorithm == "sha256"
    assert sod.data_groups == (1, 2, 14)
    assert dict(sod.hashes) == {n: hashlib.sha256(data).digest() for n, data in DATA_GROUPS.items()}
    assert sod.lds_version is None
    signer = sod.signer
    assert signer.version == 1
    assert signer.issuer == "CN=egate TEST CSCA UTO,O=egate TEST PKI,C=UT"
    assert signer.serial_number == brainpool_pki.ds_certificate.serial_number
    assert signer.digest_algorithm == "sha256"
    assert signer.signature_algorithm == "sha256_ecdsa"
    assert signer.content_type == LDS_SECURITY_OBJECT
    assert signer.message_digest == hashlib.sha256(sod.content).digest()
    assert signer.signing_time == SIGNED
    assert signer.signed_attributes is not None and signer.signed_attributes[0] == 0x31
    assert sod.ds_certificate() == brainpool_pki.ds_certificate
    assert sod.certificates == (
        brainpool_pki.ds_certificate.public_bytes(serialization.Encoding.DER),
    )
    assert wrap_sod(sod.cms) == raw
    assert unwrap_sod(raw) == sod.cms


def test_the_cms_structure_is_what_9303_asks(brainpool_pki):
    raw = sign_sod(
        DATA_GROUPS, brainpool_pki.ds_certificate, brainpool_pki.ds_key, signing_time=None
    )
    info = cms.ContentInfo.load(unwrap_sod(raw))
    signed = info["content"]
    assert info["content_type"].native == "signed_data"
    assert signed["version"].native == "v3"
    assert signed["encap_content_info"]["content_type"].dotted == "2.23.136.1.1.1"
    assert len(signed["signer_infos"]) == 1
    attributes = {a["type"].native for a in signed["signer_infos"][0]["signed_attrs"]}
    assert attributes == {"content_type", "message_digest"}
    assert parse_sod(raw).signer.signing_time is None


@pytest.mark.parametrize(("digest", "size"), [("sha1", 20), ("sha384", 48), ("sha512", 64)])
def test_other_digests(brainpool_pki, digest, size):
    raw = sign_sod(
        DATA_GROUPS,
        brainpool_pki.ds_certificate,
        brainpool_pki.ds_key,
        digest=digest,
        signing_time=SIGNED,
    )
    sod = parse_sod(raw)
    assert sod.digest_algorithm == digest
    assert {len(value) for value in sod.hashes.values()} == {size}
    assert sod.signer.signature_algorithm == f"{digest}_ecdsa"


def test_rsa_signatures(rsa_pki):
    pkcs1 = parse_sod(
        sign_sod(DATA_GROUPS, rsa_pki.ds_certificate, rsa_pki.ds_key, signing_time=SIGNED)
    )
    assert pkcs1.signer.signature_algorithm == "sha256_rsa"
    pss = parse_sod(
        sign_sod(DATA_GROUPS, rsa_pki.ds_certificate, rsa_pki.ds_key, signing_time=SIGNED, pss=True)
    )
    assert pss.signer.signature_algorithm == "rsassa_pss"


def test_pss_needs_an_rsa_key(brainpool_pki):
    with pytest.raises(ValueError, match="RSA-PSS needs an RSA key"):
        sign_sod(
            DATA_GROUPS,
            brainpool_pki.ds_certificate,
            brainpool_pki.ds_key,
            signing_time=SIGNED,
            pss=True,
        )


def test_a_v1_security_object_carries_the_lds_version(brainpool_pki):
    raw = sign_sod(
        DATA_GROUPS,
        brainpool_pki.ds_certificate,
        brainpool_pki.ds_key,
        signing_time=SIGNED,
        lds_version=("0108", "040000"),
    )
    sod = parse_sod(raw)
    assert (sod.version, sod.lds_version, sod.unicode_version) == (1, "0108", "040000")


def test_signing_refuses_what_is_no_sod(brainpool_pki):
    pki = brainpool_pki
    with pytest.raises(ValueError, match="at least one data group"):
        sign_sod({}, pki.ds_certificate, pki.ds_key, signing_time=SIGNED)
    with pytest.raises(ValueError, match=r"outside 1\.\.16"):
        sign_sod({17: b""}, pki.ds_certificate, pki.ds_key, signing_time=SIGNED)
    with pytest.raises(ValueError, match="digest 'md5'"):
        sign_sod(DATA_GROUPS, pki.ds_certificate, pki.ds_key, digest="md5", signing_time=SIGNED)
    with pytest.raises(ValueError, match="timezone-aware"):
        sign_sod(DATA_GROUPS, pki.ds_certificate, pki.ds_key, signing_time=datetime(2026, 1, 1))


# --- errors ------------------------------------------------------------------------------


def test_errors_name_ef_sod_and_the_byte(brainpool_pki):
    raw = sign_sod(
        DATA_GROUPS, brainpool_pki.ds_certificate, brainpool_pki.ds_key, signing_time=SIGNED
    )
    with pytest.raises(SodError) as raised:
        parse_sod(b"\x30" + raw[1:])
    assert str(raised.value) == "EF.SOD: byte 0: tag 30 where 77 was expected"
    assert isinstance(raised.value, LdsError)
    assert (raised.value.file, raised.value.offset) == ("EF.SOD", 0)

    with pytest.raises(
        SodError, match=r"^EF\.SOD: byte 0: length \d+ runs past the end of the data$"
    ):
        parse_sod(raw[:-1])
    with pytest.raises(SodError) as raised:
        parse_sod(raw + b"\x00")
    assert raised.value.offset == len(raw)
    assert "1 bytes after the end of the 77 object" in str(raised.value)
    with pytest.raises(SodError, match=r"EF\.SOD: byte 0: data ends where a tag was expected"):
        parse_sod(b"")


def test_a_broken_inner_length_is_reported_where_it_is(brainpool_pki):
    raw = bytearray(
        sign_sod(
            DATA_GROUPS, brainpool_pki.ds_certificate, brainpool_pki.ds_key, signing_time=SIGNED
        )
    )
    # The eContentType OID sits after 77 82 LL LL, ContentInfo 30 82 LL LL, its OID (11 bytes),
    # A0 82 LL LL, SignedData 30 82 LL LL, version (3), digestAlgorithms SET (2 + 15): make
    # the EncapsulatedContentInfo's SEQUENCE claim more than its parent holds.
    at = raw.index(bytes.fromhex("06066781080101 01".replace(" ", ""))) - 3
    assert raw[at] == 0x30
    raw[at + 1] = 0x82
    with pytest.raises(SodError) as raised:
        parse_sod(bytes(raw))
    assert raised.value.offset == at
    assert "runs past the end" in str(raised.value)


def test_a_signed_data_of_another_content_type_is_no_sod(brainpool_pki):
    cms_bytes = sign_content(
        "2.23.136.1.1.2",
        b"\x30\x00",
        brainpool_pki.ds_certificate,
        brainpool_pki.ds_key,
        digest="sha256",
        signing_time=None,
        pss=False,
    )
    with pytest.raises(SodError, match=r"EF\.SOD: byte 4: eContentType 2\.23\.136\.1\.1\.2 is not"):
        parse_sod(wrap_sod(cms_bytes))


def test_a_security_object_with_a_bad_data_group_number(brainpool_pki):
    # dataGroupNumber 0 is outside 1..16: sign such an LDSSecurityObject by hand.
    sha256 = tlv(0x30, bytes.fromhex("0609608648016503040201") + b"\x05\x00")
    entry = tlv(0x30, bytes.fromhex("020100") + tlv(0x04, bytes(32)))
    content = tlv(0x30, bytes.fromhex("020100") + sha256 + tlv(0x30, entry))
    cms_bytes = sign_content(
        LDS_SECURITY_OBJECT,
        content,
        brainpool_pki.ds_certificate,
        brainpool_pki.ds_key,
        digest="sha256",
        signing_time=None,
        pss=False,
    )
    raw = wrap_sod(cms_bytes)
    with pytest.raises(SodError) as raised:
        parse_sod(raw)
    assert "LDSSecurityObject: data group number 0 outside 1..16" in str(raised.value)
    assert raw[raised.value.offset : raised.value.offset + len(content)] == content


@given(st.binary(max_size=300))
def test_arbitrary_bytes_raise_only_sod_error(data):
    with contextlib.suppress(SodError):
        parse_sod(data)


@pytest.fixture(scope="module")
def signed_sod(brainpool_pki):
    """One EF.SOD (ECDSA signatures vary in length: hypothesis needs the same bytes each time)."""
    return sign_sod(
        DATA_GROUPS, brainpool_pki.ds_certificate, brainpool_pki.ds_key, signing_time=SIGNED
    )


@given(st.data())
def test_damaged_sods_raise_only_sod_error(signed_sod, data):
    raw = bytearray(signed_sod)
    position = data.draw(st.integers(0, len(raw) - 1))
    raw[position] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(position, len(raw)))
    try:
        sod = parse_sod(bytes(raw[:cut]))
    except SodError:
        return
    with contextlib.suppress(SodError):
        sod.ds_certificate()


# --- OpenSSL -----------------------------------------------------------------------------


def _openssl() -> str:
    found = shutil.which("openssl")
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail("openssl is not installed on CI: the SOD interoperability test cannot run")
        pytest.skip("openssl is not installed")
    return found


@pytest.mark.parametrize(
    ("pki_name", "pss"), [("brainpool_pki", False), ("rsa_pki", False), ("rsa_pki", True)]
)
def test_openssl_verifies_the_sod(request, tmp_path, pki_name, pss):
    """The commands of sod.py's docstring (and docs/chip.md), run on egate's EF.SOD."""
    openssl = _openssl()
    pki = request.getfixturevalue(pki_name)
    raw = sign_sod(DATA_GROUPS, pki.ds_certificate, pki.ds_key, signing_time=SIGNED, pss=pss)
    (tmp_path / "EF.SOD").write_bytes(raw)
    (tmp_path / "csca.pem").write_bytes(
        pki.csca_certificate.public_bytes(serialization.Encoding.PEM)
    )
    header = subprocess.run(
        [openssl, "asn1parse", "-inform", "DER", "-in", "EF.SOD"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()[0]
    assert "0:d=0  hl=4 " in header and "appl [ 23 ]" in header
    subprocess.run(
        [
            openssl,
            "asn1parse",
            "-inform",
            "DER",
            "-in",
            "EF.SOD",
            "-strparse",
            "4",
            "-noout",
            "-out",
            "sod.cms",
        ],
        cwd=tmp_path,
        capture_output=True,
        check=True,
    )
    assert (tmp_path / "sod.cms").read_bytes() == unwrap_sod(raw)
    at = str(int(datetime(2026, 2, 1, tzinfo=UTC).timestamp()))
    verify = [
        openssl,
        "cms",
        "-verify",
        "-inform",
        "DER",
        "-in",
        "sod.cms",
        "-CAfile",
        "csca.pem",
        "-purpose",
        "any",
        "-attime",
        at,
        "-out",
        "lds.der",
    ]
    done = subprocess.run(verify, cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "CMS Verification successful" in done.stderr
    assert (tmp_path / "lds.der").read_bytes() == parse_sod(raw).content


def test_openssl_refuses_a_sod_from_another_pki(tmp_path, brainpool_pki, other_pki):
    openssl = _openssl()
    raw = sign_sod(DATA_GROUPS, other_pki.ds_certificate, other_pki.ds_key, signing_time=SIGNED)
    (tmp_path / "sod.cms").write_bytes(unwrap_sod(raw))
    (tmp_path / "csca.pem").write_bytes(
        brainpool_pki.csca_certificate.public_bytes(serialization.Encoding.PEM)
    )
    done = subprocess.run(
        [
            openssl,
            "cms",
            "-verify",
            "-inform",
            "DER",
            "-in",
            "sod.cms",
            "-CAfile",
            "csca.pem",
            "-purpose",
            "any",
            "-out",
            os.devnull,
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert done.returncode != 0
    assert "CMS Verification failure" in done.stderr


# --- a SOD made elsewhere ----------------------------------------------------------------


def test_the_hjp_test_passport_sod():
    sod = parse_sod(HJP_EF_SOD)
    assert len(HJP_EF_SOD) == 1934
    assert (sod.version, sod.digest_algorithm) == (0, "sha256")
    assert sod.data_groups == (1, 2, 3, 4, 14)
    assert sod.hashes[1].hex() == "4170ca879fce6a22ffef1567ff88079f415c66ead250ab5f23781ac2cdbf42b6"
    assert sod.hashes[2].hex() == "a9a1b09dfd598087ab3fce4ae2ec65b1a1525bd258bfc27df4419f8a65e54745"
    signer = sod.signer
    assert signer.issuer == "CN=HJP PB CS,OU=Country Signer,O=HJP Consulting,C=DE"
    assert signer.serial_number == 0x0142FD5CF927
    assert signer.signature_algorithm == "rsassa_pss"
    assert signer.digest_algorithm == "sha256"
    assert signer.content_type == LDS_SECURITY_OBJECT
    assert (
        signer.message_digest.hex()
        == "b46a0d05e280f398efeeebff67e78c736add15e75670b1ad4c6c534e8187b9d6"
    )
    assert signer.message_digest == hashlib.sha256(sod.content).digest()
    assert signer.signing_time is None
    ds = sod.ds_certificate()
    assert ds.subject.rfc4514_string() == "CN=HJP PB DS,OU=Document Signer,O=HJP Consulting,C=DE"
    assert ds.not_valid_before_utc == datetime(2013, 12, 16, 21, 43, 18, tzinfo=UTC)
    assert ds.not_valid_after_utc == datetime(2014, 12, 11, 21, 43, 18, tzinfo=UTC)


def test_the_hjp_sod_is_a_valid_der_fixture():
    assert base64.b64encode(HJP_EF_SOD).startswith(b"d4IHij")  # 77 82 07 8A
