"""Passive authentication: each check of ICAO 9303 part 11 §5.1 and the verdict it gives."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pki_vectors import HJP_EF_SOD

from egate.documents.pki.passive import PaCheckKind, PaStatus, verify_passive
from egate.documents.pki.sod import sign_sod
from egate.documents.pki.testpki import (
    DS_VALIDITY,
    generate_test_pki,
    issue_crl,
    issue_ds,
)
from egate.documents.pki.truststore import TrustStore

ISSUED = datetime(2026, 1, 10, 9, 30, tzinfo=UTC)  # as in conftest.py
SIGNED = ISSUED + timedelta(hours=1)
AT = ISSUED + timedelta(days=30)
DATA_GROUPS = {
    1: bytes.fromhex("615B5F1F58") + b"P<UTOERIKSSON<<ANNA<MARIA".ljust(88, b"<"),
    2: bytes.fromhex("7508") + b"FACEDATA",
    14: bytes.fromhex("6E03") + b"\x31\x01\x00",
}


def _store(*pkis, crls=()):
    return TrustStore.from_certificates([p.csca_certificate for p in pkis], crls)


def _sod(pki, groups=DATA_GROUPS, **options):
    return sign_sod(groups, pki.ds_certificate, pki.ds_key, signing_time=SIGNED, **options)


def _statuses(verdict):
    return [(c.kind.value, c.status.value, c.data_group) for c in verdict.checks]


@pytest.mark.parametrize(
    ("pki_name", "options"),
    [
        ("brainpool_pki", {}),
        ("rsa_pki", {}),
        ("rsa_pki", {"pss": True}),
        ("brainpool_pki", {"digest": "sha512"}),
    ],
)
def test_a_genuine_chip_passes(request, pki_name, options):
    pki = request.getfixturevalue(pki_name)
    verdict = verify_passive(_sod(pki, **options), DATA_GROUPS, _store(pki), at=AT)
    assert verdict.status is PaStatus.OK
    assert verdict.ok
    assert _statuses(verdict) == [
        ("sod", "OK", None),
        ("signature", "OK", None),
        ("certificate", "OK", None),
        ("data_group", "OK", 1),
        ("data_group", "OK", 2),
        ("data_group", "OK", 14),
    ]
    assert verdict.ds_subject == "CN=egate TEST Document Signer,O=egate TEST PKI,C=UT"
    assert verdict.csca_subject == "CN=egate TEST CSCA UTO,O=egate TEST PKI,C=UT"
    assert verdict.digest_algorithm == options.get("digest", "sha256")
    assert verdict.signing_time == SIGNED
    assert not verdict.revocation_checked
    assert verdict.mismatched_data_groups == ()


@pytest.mark.parametrize("key_type", ["brainpoolP384r1", "brainpoolP512r1", "secp256r1", "rsa3072"])
def test_other_key_types_pass(key_type):
    pki = generate_test_pki(now=ISSUED, key_type=key_type)
    verdict = verify_passive(_sod(pki), DATA_GROUPS, _store(pki), at=AT)
    assert verdict.status is PaStatus.OK, verdict.to_dict()


def test_a_changed_data_group_is_a_hash_mismatch_for_that_group(brainpool_pki):
    read = dict(DATA_GROUPS)
    changed = bytearray(read[2])
    changed[5] ^= 0x01
    read[2] = bytes(changed)
    verdict = verify_passive(_sod(brainpool_pki), read, _store(brainpool_pki), at=AT)
    assert verdict.status is PaStatus.HASH_MISMATCH
    assert verdict.mismatched_data_groups == (2,)
    check = verdict.check(PaCheckKind.DATA_GROUP, 2)
    assert check is not None
    assert check.status is PaStatus.HASH_MISMATCH
    assert check.detail == "DG2 differs from its sha256 hash in EF.SOD"
    assert verdict.check(PaCheckKind.DATA_GROUP, 1).status is PaStatus.OK
    assert verdict.check(PaCheckKind.SIGNATURE).status is PaStatus.OK


def test_a_group_read_but_not_in_the_sod_is_a_mismatch_and_one_not_read_is_not(brainpool_pki):
    read = {1: DATA_GROUPS[1], 14: DATA_GROUPS[14], 15: b"\x6f\x00"}
    verdict = verify_passive(_sod(brainpool_pki), read, _store(brainpool_pki), at=AT)
    assert verdict.status is PaStatus.HASH_MISMATCH
    assert verdict.mismatched_data_groups == (15,)
    assert (
        verdict.check(PaCheckKind.DATA_GROUP, 15).detail
        == "DG15 was read but EF.SOD has no hash of it"
    )
    not_read = verdict.check(PaCheckKind.DATA_GROUP, 2)
    assert (not_read.status, not_read.detail) == (
        PaStatus.NOT_CHECKED,
        "DG2 is in EF.SOD but was not read",
    )

    only_some = verify_passive(
        _sod(brainpool_pki), {1: DATA_GROUPS[1]}, _store(brainpool_pki), at=AT
    )
    assert only_some.status is PaStatus.OK


def test_a_chip_of_another_pki_is_untrusted(brainpool_pki, other_pki):
    """Same names, other keys: the forger's CSCA is not in the store."""
    verdict = verify_passive(_sod(other_pki), DATA_GROUPS, _store(brainpool_pki), at=AT)
    assert verdict.status is PaStatus.DS_UNTRUSTED
    certificate = verdict.check(PaCheckKind.CERTIFICATE)
    assert certificate.status is PaStatus.DS_UNTRUSTED
    assert certificate.detail.startswith(
        "no path from the DS certificate to a CSCA in the trust store"
    )
    # The signature itself holds (made by the forger's DS), and so do the hashes.
    assert verdict.check(PaCheckKind.SIGNATURE).status is PaStatus.OK
    assert verdict.csca_subject is None


def test_an_empty_store_trusts_nothing(brainpool_pki):
    verdict = verify_passive(_sod(brainpool_pki), DATA_GROUPS, TrustStore(), at=AT)
    assert verdict.status is PaStatus.DS_UNTRUSTED
    assert (
        verdict.check(PaCheckKind.CERTIFICATE).detail == "the trust store holds no CSCA certificate"
    )


def test_an_expired_document_signer(brainpool_pki):
    # Past the DS certificate's end, still within the CSCA's.
    later = ISSUED + DS_VALIDITY + timedelta(days=30)
    assert later < brainpool_pki.csca_certificate.not_valid_after_utc
    verdict = verify_passive(_sod(brainpool_pki), DATA_GROUPS, _store(brainpool_pki), at=later)
    assert verdict.status is PaStatus.DS_EXPIRED
    certificate = verdict.check(PaCheckKind.CERTIFICATE)
    assert certificate.status is PaStatus.DS_EXPIRED
    ds = brainpool_pki.ds_certificate
    assert certificate.detail == (
        f"DS certificate valid {ds.not_valid_before_utc.isoformat()} to "
        f"{ds.not_valid_after_utc.isoformat()}, not at {later.isoformat()}"
    )
    assert verdict.csca_subject == "CN=egate TEST CSCA UTO,O=egate TEST PKI,C=UT"
    # Before it was issued is no better.
    early = verify_passive(
        _sod(brainpool_pki), DATA_GROUPS, _store(brainpool_pki), at=ISSUED - timedelta(days=1)
    )
    assert early.status is PaStatus.DS_EXPIRED


def test_a_short_lived_document_signer_expires(brainpool_pki):
    ds, key = issue_ds(
        brainpool_pki.csca_certificate,
        brainpool_pki.csca_key,
        now=ISSUED,
        validity=timedelta(days=10),
    )
    sod = sign_sod(DATA_GROUPS, ds, key, signing_time=SIGNED)
    assert verify_passive(sod, DATA_GROUPS, _store(brainpool_pki), at=ISSUED + timedelta(days=5)).ok
    verdict = verify_passive(
        sod, DATA_GROUPS, _store(brainpool_pki), at=ISSUED + timedelta(days=11)
    )
    assert verdict.status is PaStatus.DS_EXPIRED


def test_an_expired_forgery_is_untrusted_not_merely_expired(brainpool_pki, other_pki):
    later = ISSUED + DS_VALIDITY + timedelta(days=30)
    verdict = verify_passive(_sod(other_pki), DATA_GROUPS, _store(brainpool_pki), at=later)
    assert verdict.status is PaStatus.DS_UNTRUSTED


def test_a_revoked_document_signer(brainpool_pki):
    crl = issue_crl(
        brainpool_pki.csca_certificate,
        brainpool_pki.csca_key,
        [brainpool_pki.ds_certificate.serial_number],
        now=ISSUED + timedelta(days=1),
    )
    verdict = verify_passive(
        _sod(brainpool_pki), DATA_GROUPS, _store(brainpool_pki, crls=[crl]), at=AT
    )
    assert verdict.status is PaStatus.DS_REVOKED
    certificate = verdict.check(PaCheckKind.CERTIFICATE)
    assert certificate.detail.startswith("DS certificate revoked: ")
    assert verdict.revocation_checked


def test_a_crl_that_does_not_list_the_signer(brainpool_pki):
    crl = issue_crl(brainpool_pki.csca_certificate, brainpool_pki.csca_key, [12345], now=ISSUED)
    verdict = verify_passive(
        _sod(brainpool_pki), DATA_GROUPS, _store(brainpool_pki, crls=[crl]), at=AT
    )
    assert verdict.status is PaStatus.OK
    assert verdict.revocation_checked
    assert verdict.check(PaCheckKind.CERTIFICATE).detail.endswith("(CRL checked)")


def test_a_stale_crl_leaves_the_signer_untrusted(brainpool_pki):
    crl = issue_crl(
        brainpool_pki.csca_certificate,
        brainpool_pki.csca_key,
        [],
        now=ISSUED,
        next_update=timedelta(days=7),
    )
    verdict = verify_passive(
        _sod(brainpool_pki), DATA_GROUPS, _store(brainpool_pki, crls=[crl]), at=AT
    )
    assert verdict.status is PaStatus.DS_UNTRUSTED
    assert verdict.check(PaCheckKind.CERTIFICATE).detail.startswith("revocation status unknown: ")


def test_a_crl_of_another_key_of_the_same_name_is_not_required(brainpool_pki, rsa_pki):
    """The test CSCAs share a name: the RSA one's CRL says nothing of the brainpool one's DS."""
    crl = issue_crl(
        rsa_pki.csca_certificate,
        rsa_pki.csca_key,
        [brainpool_pki.ds_certificate.serial_number],
        now=ISSUED,
    )
    store = _store(brainpool_pki, rsa_pki, crls=[crl])
    verdict = verify_passive(_sod(brainpool_pki), DATA_GROUPS, store, at=AT)
    assert verdict.status is PaStatus.OK
    assert not verdict.revocation_checked
    revoked = verify_passive(
        _sod(rsa_pki),
        DATA_GROUPS,
        _store(
            rsa_pki,
            crls=[
                issue_crl(
                    rsa_pki.csca_certificate,
                    rsa_pki.csca_key,
                    [rsa_pki.ds_certificate.serial_number],
                    now=ISSUED,
                )
            ],
        ),
        at=AT,
    )
    assert revoked.status is PaStatus.DS_REVOKED


def test_a_tampered_signature_is_invalid(brainpool_pki):
    raw = bytearray(_sod(brainpool_pki))
    raw[-1] ^= 0x01  # the SignerInfo's signature ends EF.SOD
    verdict = verify_passive(bytes(raw), DATA_GROUPS, _store(brainpool_pki), at=AT)
    assert verdict.status is PaStatus.SIGNATURE_INVALID
    assert verdict.check(PaCheckKind.SIGNATURE).detail == (
        "the signature does not verify with the signer's public key"
    )
    # The certificate and the hashes are still reported.
    assert verdict.check(PaCheckKind.CERTIFICATE).status is PaStatus.OK


def test_a_tampered_hash_in_the_sod_breaks_the_message_digest(brainpool_pki):
    """A forger who edits a hash to fit his DG1 meets the messageDigest."""
    raw = bytearray(_sod(brainpool_pki))
    at = raw.index(hashlib.sha256(DATA_GROUPS[1]).digest())
    forged_dg1 = DATA_GROUPS[1].replace(b"ANNA", b"ANNE")
    raw[at : at + 32] = hashlib.sha256(forged_dg1).digest()
    read = {**DATA_GROUPS, 1: forged_dg1}
    verdict = verify_passive(bytes(raw), read, _store(brainpool_pki), at=AT)
    assert verdict.status is PaStatus.SIGNATURE_INVALID
    assert (
        verdict.check(PaCheckKind.SIGNATURE).detail
        == "messageDigest differs from the sha256 of the content"
    )
    assert verdict.check(PaCheckKind.DATA_GROUP, 1).status is PaStatus.OK  # the forged hash fits


def test_a_sod_signed_by_a_key_that_is_not_the_certificates(brainpool_pki, other_pki):
    raw = sign_sod(DATA_GROUPS, brainpool_pki.ds_certificate, other_pki.ds_key, signing_time=SIGNED)
    verdict = verify_passive(raw, DATA_GROUPS, _store(brainpool_pki), at=AT)
    assert verdict.status is PaStatus.SIGNATURE_INVALID


def test_no_sod(brainpool_pki):
    verdict = verify_passive(None, DATA_GROUPS, _store(brainpool_pki), at=AT)
    assert verdict.status is PaStatus.SOD_MISSING
    assert _statuses(verdict) == [
        ("sod", "SOD_MISSING", None),
        ("signature", "NOT_CHECKED", None),
        ("certificate", "NOT_CHECKED", None),
        ("data_group", "NOT_CHECKED", 1),
        ("data_group", "NOT_CHECKED", 2),
        ("data_group", "NOT_CHECKED", 14),
    ]


def test_a_malformed_sod(brainpool_pki):
    verdict = verify_passive(b"\x77\x03\x30\x01\x00", DATA_GROUPS, _store(brainpool_pki), at=AT)
    assert verdict.status is PaStatus.SOD_INVALID
    assert verdict.check(PaCheckKind.SOD).detail.startswith("EF.SOD: byte ")


def test_the_verdict_is_json(brainpool_pki):
    read = {**DATA_GROUPS, 2: b"\x75\x00"}
    verdict = verify_passive(_sod(brainpool_pki), read, _store(brainpool_pki), at=AT)
    document = json.loads(json.dumps(verdict.to_dict()))
    assert document["status"] == "HASH_MISMATCH"
    assert document["checks"][0] == {
        "check": "sod",
        "status": "OK",
        "detail": "EF.SOD hashes DG1, DG2, DG14 with sha256",
    }
    assert document["checks"][4] == {
        "check": "data_group",
        "status": "HASH_MISMATCH",
        "detail": "DG2 differs from its sha256 hash in EF.SOD",
        "data_group": 2,
    }
    assert document["signing_time"] == SIGNED.isoformat()
    assert document["digest_algorithm"] == "sha256"
    assert document["revocation_checked"] is False


def test_the_moment_must_say_its_time_zone(brainpool_pki):
    with pytest.raises(ValueError, match="timezone-aware"):
        verify_passive(
            _sod(brainpool_pki), DATA_GROUPS, _store(brainpool_pki), at=datetime(2026, 2, 1)
        )


def test_inside_a_running_event_loop(brainpool_pki):
    """An asyncio caller (the gate service) may call it: pyhanko's loop is kept to itself."""
    sod = _sod(brainpool_pki)

    async def caller():
        return verify_passive(sod, DATA_GROUPS, _store(brainpool_pki), at=AT)

    assert asyncio.run(caller()).status is PaStatus.OK


def test_the_hjp_test_passport_signature_holds_but_its_ds_is_not_trusted():
    """RSA-PSS made by another implementation verifies; no CSCA of HJP is in the store."""
    verdict = verify_passive(HJP_EF_SOD, {}, _store(generate_test_pki(now=ISSUED)), at=AT)
    assert verdict.check(PaCheckKind.SIGNATURE).status is PaStatus.OK
    assert verdict.check(PaCheckKind.SIGNATURE).detail == (
        "signed by CN=HJP PB DS,OU=Document Signer,O=HJP Consulting,C=DE (rsassa_pss)"
    )
    assert verdict.status is PaStatus.DS_UNTRUSTED
    assert [c.data_group for c in verdict.checks if c.status is PaStatus.NOT_CHECKED] == [
        1,
        2,
        3,
        4,
        14,
    ]
    assert base64.b64encode(HJP_EF_SOD)[:6] == b"d4IHij"


@settings(max_examples=50)
@given(st.binary(max_size=200))
def test_arbitrary_sod_bytes_never_raise(brainpool_pki, data):
    verdict = verify_passive(data, DATA_GROUPS, _store(brainpool_pki), at=AT)
    assert verdict.status in (
        PaStatus.SOD_INVALID,
        PaStatus.SIGNATURE_INVALID,
        PaStatus.DS_UNTRUSTED,
    )
