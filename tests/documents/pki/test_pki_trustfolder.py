"""Importing into a trust folder, and a trust store judged at a moment."""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from egate.documents.pki.errors import TrustStoreError
from egate.documents.pki.testpki import TestPki, issue_crl, issue_csca
from egate.documents.pki.trustfolder import (
    Action,
    crl_file_name,
    csca_file_name,
    plan_import,
    write_import,
)
from egate.documents.pki.trustreport import CrlState, CscaState, assess
from egate.documents.pki.truststore import TrustStore, read_trust_file, write_master_list

ISSUED = datetime(2026, 1, 10, 9, 30, tzinfo=UTC)  # as in conftest.py
PEM = serialization.Encoding.PEM
DER = serialization.Encoding.DER
SOON = timedelta(days=90)


def imported(folder: Path, *sources: Path) -> list[tuple[Action, str]]:
    plan = plan_import(folder, list(sources))
    write_import(plan)
    return [(entry.action, entry.file) for entry in plan.entries]


def folder_state(folder: Path) -> dict[str, tuple[bytes, int]]:
    return {path.name: (path.read_bytes(), path.stat().st_mtime_ns) for path in folder.iterdir()}


@pytest.fixture
def master_list(tmp_path: Path, brainpool_pki: TestPki, rsa_pki: TestPki) -> Path:
    """Two CSCAs and, wrongly, a document signer, signed by the first CSCA."""
    data = write_master_list(
        [brainpool_pki.csca_certificate, rsa_pki.csca_certificate, brainpool_pki.ds_certificate],
        brainpool_pki.csca_certificate,
        brainpool_pki.csca_key,
        signing_time=ISSUED,
    )
    path = tmp_path / "ICAO.ml"
    path.write_bytes(data)
    return path


def test_a_master_list_becomes_one_file_per_csca(tmp_path, master_list, brainpool_pki, rsa_pki):
    trust = tmp_path / "trust" / "csca"  # made, parents too
    plan = plan_import(trust, [master_list])
    assert not trust.exists()  # a plan writes nothing
    (master,) = plan.master_lists
    assert master.signer == "CN=egate TEST CSCA UTO,O=egate TEST PKI,C=UT"
    write_import(plan)
    store = TrustStore.load(trust)
    names = {csca_file_name(entry) for entry in store.certificates}
    assert sorted(path.name for path in trust.iterdir()) == sorted(names)
    assert all(name.startswith("UT-csca-") and name.endswith(".pem") for name in names)
    assert {entry.der for entry in store.certificates} == {
        pki.csca_certificate.public_bytes(DER) for pki in (brainpool_pki, rsa_pki)
    }
    assert [entry.action for entry in plan.entries] == [Action.ADDED, Action.ADDED]
    (skipped,) = plan.skipped
    assert re.fullmatch(
        rf"{re.escape(str(master_list))}: certificate \d: CN=egate TEST Document Signer,"
        r"O=egate TEST PKI,C=UT is not a CA certificate \(no basicConstraints cA\)",
        skipped,
    )
    assert all((trust / name).stat().st_mode & 0o777 == 0o644 for name in names)


def test_a_second_import_changes_nothing(tmp_path, master_list, brainpool_pki):
    trust = tmp_path / "trust"
    imported(trust, master_list)
    before = folder_state(trust)
    # The same list, and the CSCA again from a PEM file and a DER file.
    pem_file = tmp_path / "csca.pem"
    pem_file.write_bytes(brainpool_pki.csca_certificate.public_bytes(PEM))
    der_file = tmp_path / "csca.bin"  # no known suffix: read for what it is
    der_file.write_bytes(brainpool_pki.csca_certificate.public_bytes(DER))
    plan = plan_import(trust, [master_list, pem_file, der_file])
    assert {entry.action for entry in plan.entries} == {Action.PRESENT}
    assert len(plan.entries) == 2  # duplicates among the sources count once
    assert plan.writes == {}
    write_import(plan)
    assert folder_state(trust) == before


def test_a_certificate_in_a_master_list_already_in_the_folder_is_present(
    tmp_path, master_list, brainpool_pki
):
    trust = tmp_path / "trust"
    trust.mkdir()
    (trust / "ICAO.ml").write_bytes(master_list.read_bytes())
    csca = tmp_path / "csca.pem"
    csca.write_bytes(brainpool_pki.csca_certificate.public_bytes(PEM))
    assert imported(trust, csca) == [(Action.PRESENT, "ICAO.ml")]


def test_a_tampered_master_list_is_refused_whole(tmp_path, master_list):
    data = bytearray(master_list.read_bytes())
    data[data.index(b"egate TEST CSCA UTO")] ^= 0x01
    master_list.write_bytes(bytes(data))
    trust = tmp_path / "trust"
    with pytest.raises(TrustStoreError, match="master list signature invalid") as raised:
        plan_import(trust, [master_list])
    assert raised.value.file == str(master_list)
    assert not trust.exists()


def test_one_bad_source_of_several_writes_nothing(tmp_path, master_list):
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate")
    with pytest.raises(TrustStoreError, match=r"junk\.pem: neither a certificate, a CRL nor"):
        plan_import(tmp_path / "trust", [master_list, junk])
    assert not (tmp_path / "trust").exists()


def test_a_folder_source_and_its_document_signer(tmp_path, brainpool_pki):
    source = tmp_path / "pki"
    source.mkdir()
    (source / "csca.pem").write_bytes(brainpool_pki.csca_certificate.public_bytes(PEM))
    (source / "ds.pem").write_bytes(brainpool_pki.ds_certificate.public_bytes(PEM))
    (source / "csca.key").write_text("left alone")
    plan = plan_import(tmp_path / "trust", [source])
    assert [entry.certificate.source for entry in plan.entries if entry.certificate] == [
        str(source / "csca.pem")
    ]
    assert len(plan.skipped) == 1 and plan.skipped[0].startswith(f"{source / 'ds.pem'}: ")


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda path: None, "no such file or folder"),
        (lambda path: path.mkdir(), "holds no certificate, CRL or master list file"),
    ],
)
def test_sources_that_are_nothing(tmp_path, make, reason):
    source = tmp_path / "source"
    make(source)
    with pytest.raises(TrustStoreError, match=reason):
        plan_import(tmp_path / "trust", [source])


def test_a_trust_folder_with_a_broken_file_is_refused(tmp_path, master_list):
    trust = tmp_path / "trust"
    trust.mkdir()
    (trust / "broken.crl").write_bytes(b"\x30\x80")
    with pytest.raises(TrustStoreError, match=r"broken\.crl: not a CRL"):
        plan_import(trust, [master_list])


def test_another_file_under_the_name_is_never_overwritten(tmp_path, brainpool_pki, rsa_pki):
    csca = tmp_path / "csca.pem"
    csca.write_bytes(brainpool_pki.csca_certificate.public_bytes(PEM))
    trust = tmp_path / "trust"
    trust.mkdir()
    name = csca_file_name(read_trust_file(csca).certificates[0])
    (trust / name).write_bytes(rsa_pki.csca_certificate.public_bytes(PEM))
    with pytest.raises(TrustStoreError, match="holds another certificate under this name"):
        plan_import(trust, [csca])
    (trust / name).unlink()
    (trust / "notes.txt").write_text("other files are left alone")
    write_import(plan_import(trust, [csca]))
    assert (trust / "notes.txt").read_text() == "other files are left alone"


def test_a_write_that_fails_leaves_whole_files_and_no_temporaries(
    tmp_path, master_list, monkeypatch
):
    trust = tmp_path / "trust"
    plan = plan_import(trust, [master_list])
    replace = os.replace
    calls = []

    def second_fails(source: str, target: str) -> None:
        calls.append(target)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        replace(source, target)

    monkeypatch.setattr(os, "replace", second_fails)
    with pytest.raises(TrustStoreError, match="No space left on device"):
        write_import(plan)
    monkeypatch.setattr(os, "replace", replace)
    assert [path.name for path in trust.iterdir()] == [Path(calls[0]).name]
    assert len(TrustStore.load(trust)) == 1
    # Running it again finishes the job.
    write_import(plan_import(trust, [master_list]))
    assert len(TrustStore.load(trust)) == 2


# --- CRLs ----------------------------------------------------------------------------------


def crl_file(folder: Path, name: str, pki: TestPki, serials: list[int], **kwargs) -> Path:
    path = folder / name
    path.write_bytes(
        issue_crl(pki.csca_certificate, pki.csca_key, serials, **kwargs).public_bytes(PEM)
    )
    return path


def test_crls_one_file_per_csca_key_the_newest_kept(tmp_path, master_list, brainpool_pki):
    trust = tmp_path / "trust"
    imported(trust, master_list)
    first = crl_file(tmp_path, "a.crl", brainpool_pki, [7], now=ISSUED)
    ((action, name),) = imported(trust, first)
    assert action is Action.ADDED
    assert name == crl_file_name(read_trust_file(first).crls[0])
    assert name.startswith("UT-crl-")
    newer = crl_file(tmp_path, "b.crl", brainpool_pki, [7, 9], now=ISSUED + timedelta(days=30))
    assert imported(trust, newer) == [(Action.REPLACED, name)]
    assert imported(trust, first) == [(Action.OLDER, name)]
    assert imported(trust, newer) == [(Action.PRESENT, name)]
    (loaded,) = TrustStore.load(trust).crls
    assert loaded.revoked_serials == frozenset({7, 9})
    # Two of the same key in one import: the newer goes in, whatever the order.
    newest = crl_file(tmp_path, "c.crl", brainpool_pki, [], now=ISSUED + timedelta(days=60))
    assert sorted(imported(trust, first, newest)) == [
        (Action.OLDER, name),
        (Action.REPLACED, name),
    ]
    assert TrustStore.load(trust).crls[0].revoked_serials == frozenset()


def test_a_crl_its_csca_did_not_sign_is_refused(tmp_path, master_list, brainpool_pki, other_pki):
    trust = tmp_path / "trust"
    imported(trust, master_list)
    # The forger's CSCA has the genuine one's name but its own key, which the
    # CRL names: no CSCA of the folder issued it, so it is written with a note
    # and path validation, which checks CRL signatures, never uses it.
    forged = tmp_path / "forged.der"
    forged.write_bytes(
        issue_crl(other_pki.csca_certificate, other_pki.csca_key, [], now=ISSUED).public_bytes(DER)
    )
    (entry,) = plan_import(trust, [forged]).entries
    assert entry.action is Action.ADDED
    assert entry.note == "no CSCA of its issuer in the trust folder: used once one is imported"
    # A CRL that names the genuine CSCA key but whose signature does not hold is refused.
    tampered = bytearray(
        issue_crl(
            brainpool_pki.csca_certificate, brainpool_pki.csca_key, [], now=ISSUED
        ).public_bytes(DER)
    )
    tampered[-3] ^= 0x01  # in the signature
    forged.write_bytes(bytes(tampered))
    with pytest.raises(TrustStoreError, match="signature does not hold with the CSCA") as raised:
        plan_import(trust, [forged])
    assert str(raised.value).startswith(f"{forged}: ")
    assert not any(path.suffix == ".crl" for path in trust.iterdir())


# --- judging -------------------------------------------------------------------------------

NOW = datetime(2030, 6, 1, tzinfo=UTC)


def test_expired_soon_and_valid_cscas(brainpool_pki):
    expired, _ = issue_csca(country="D", now=NOW - timedelta(days=400), validity=SOON * 4)
    soon, _ = issue_csca(country="FR", now=NOW - timedelta(days=100), validity=timedelta(days=130))
    later, _ = issue_csca(country="FR", now=NOW + timedelta(days=1))
    store = TrustStore.from_certificates([brainpool_pki.csca_certificate, expired, soon, later])
    report = assess(store, NOW, SOON)
    states = {status.certificate.der: status for status in report.cscas}
    assert states[expired.public_bytes(DER)].state is CscaState.EXPIRED
    assert states[soon.public_bytes(DER)].state is CscaState.EXPIRES_SOON
    assert states[soon.public_bytes(DER)].days_left == 30
    assert states[later.public_bytes(DER)].state is CscaState.NOT_YET_VALID
    assert states[brainpool_pki.csca_certificate.public_bytes(DER)].state is CscaState.OK
    assert list(report.by_country()) == ["DE", "FR", "UT"]
    assert [s.state for s in report.by_country()["FR"]] == [
        CscaState.EXPIRES_SOON,
        CscaState.NOT_YET_VALID,
    ]
    assert report.count(CscaState.EXPIRED) == 1
    assert report.problems() == []  # an expired CSCA is no problem for the gate
    assert assess(store, NOW, timedelta(days=10)).count(CscaState.EXPIRES_SOON) == 0


def test_a_stale_crl_is_a_problem_unless_a_newer_one_is_there(brainpool_pki, rsa_pki):
    pki = brainpool_pki
    stale = issue_crl(pki.csca_certificate, pki.csca_key, [], now=NOW - timedelta(days=100))
    store = TrustStore.from_certificates([pki.csca_certificate], [stale])
    report = assess(store, NOW, SOON)
    assert [status.state for status in report.crls] == [CrlState.STALE]
    (problem,) = report.problems()
    assert "past its next update" in problem and "DS_UNTRUSTED" in problem
    fresh = issue_crl(pki.csca_certificate, pki.csca_key, [], now=NOW - timedelta(days=1))
    orphan = issue_crl(rsa_pki.csca_certificate, rsa_pki.csca_key, [], now=NOW)
    report = assess(
        TrustStore.from_certificates([pki.csca_certificate], [stale, fresh, orphan]), NOW, SOON
    )
    assert [(status.state, status.csca_found) for status in report.crls] == [
        (CrlState.SUPERSEDED, True),
        (CrlState.OK, True),
        (CrlState.OK, False),
    ]
    assert report.problems() == []


def test_an_empty_store_is_a_problem():
    report = assess(TrustStore(), NOW, SOON)
    assert report.problems() == [
        "the trust store holds no CSCA certificate: no document signer is trusted"
    ]
    assert report.to_dict()["problems"] == report.problems()
    with pytest.raises(ValueError, match="timezone-aware"):
        assess(TrustStore(), NOW.replace(tzinfo=None), SOON)
