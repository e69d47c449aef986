"""Importing into a trust folder: what ``egate pki import`` does.

:func:`plan_import` reads the sources (master lists, certificate files, CRL
files, folders of them, each through ``truststore.read_trust_file``, which
takes a file for what it holds whatever its name, a master list's
signature checked) and the trust folder, and says what goes
where; :func:`write_import` writes it.  Every source is read, and every
check done, before anything is written: a master list whose signature
fails, a CRL whose signature does not hold with its CSCA, a file that is
none of these, leaves the folder as it was.

* each CSCA certificate becomes a PEM file of its own, named after its
  country and its SHA-256 fingerprint (``UT-csca-3f1c0a9e5b7d2468.pem``).
  Not after its key identifier: a link certificate carries the same subject
  key as the new CSCA's self-signed certificate.  A certificate already in
  the folder, in whatever file (a master list there included), is not
  written again, so an import repeated changes nothing;
* each CRL becomes ``CC-crl-<issuer and key>.crl``: one file per CSCA key, so
  a newer CRL of that key replaces the older, and an older one is not
  written.  A CRL whose signature does not hold with the folder's (or the
  import's) CSCA of its issuer is refused; one of a CSCA not in the folder
  is written, with a note: it is used once its CSCA is;
* certificates that are no CA (a Document Signer) are skipped and listed.

Each file is written to a temporary file in the folder (``.egate-*.tmp``,
which the loader does not read) and renamed into place, so a gate reloading
the folder meanwhile sees each file whole or not at all.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import TypeVar

from asn1crypto import crl as asn1_crl
from asn1crypto import pem
from asn1crypto import x509 as asn1_x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization

from egate.documents.pki._cms import name_country, verify_signature
from egate.documents.pki.errors import TrustStoreError
from egate.documents.pki.trustreport import issuing_cscas
from egate.documents.pki.truststore import (
    TRUST_SUFFIXES,
    CscaCertificate,
    MasterList,
    RevocationList,
    TrustStore,
    read_trust_file,
)

__all__ = [
    "Action",
    "ImportPlan",
    "Imported",
    "crl_file_name",
    "csca_file_name",
    "plan_import",
    "write_import",
]


class Action(StrEnum):
    """What an import does with one certificate or CRL."""

    ADDED = "added"
    # Already in the folder: nothing written.
    PRESENT = "present"
    # A CRL newer than the folder's of the same CSCA key: written over it.
    REPLACED = "replaced"
    # A CRL no newer than the folder's (or than another of the import): not written.
    OLDER = "not written"


@dataclass(frozen=True)
class Imported:
    """One certificate or CRL of an import and what happened to it."""

    action: Action
    # The folder's file that holds it (after the import).
    file: str
    certificate: CscaCertificate | None = None
    crl: RevocationList | None = None
    note: str | None = None

    def to_dict(self) -> dict[str, object]:
        """JSON-ready fields: the entry's listing, where it came from and where it is."""
        entry = self.certificate if self.certificate is not None else self.crl
        assert entry is not None
        fields = entry.to_dict()
        origin = fields.pop("source")
        return {
            "action": self.action.value,
            "kind": "csca" if self.certificate is not None else "crl",
            "file": self.file,
            "from": origin,
            **fields,
            "note": self.note,
        }


@dataclass(frozen=True)
class ImportPlan:
    """What an import finds and does; :func:`write_import` carries it out."""

    folder: Path
    entries: tuple[Imported, ...]
    skipped: tuple[str, ...]
    master_lists: tuple[MasterList, ...]
    # File name in the folder: its new content.
    writes: dict[str, bytes] = field(repr=False)

    def count(self, action: Action, kind: str) -> int:
        """How many certificates (``kind`` "csca") or CRLs ("crl") met ``action``."""
        return sum(
            1
            for entry in self.entries
            if entry.action is action and (entry.certificate is not None) == (kind == "csca")
        )

    def to_dict(self) -> dict[str, object]:
        """JSON-ready: the folder, the master lists read, every entry, what was skipped."""
        return {
            "trust": str(self.folder),
            "master_lists": [
                {
                    "source": master.source,
                    "signer": master.signer,
                    "signing_time": None
                    if master.signing_time is None
                    else master.signing_time.isoformat(),
                    "certificates": len(master.certificates),
                }
                for master in self.master_lists
            ],
            "entries": [entry.to_dict() for entry in self.entries],
            "skipped": list(self.skipped),
        }


def csca_file_name(certificate: CscaCertificate) -> str:
    """``CC-csca-<16 hex digits of the SHA-256 fingerprint>.pem``."""
    fingerprint = hashlib.sha256(certificate.der).hexdigest()[:16]
    return f"{_country(certificate.country)}-csca-{fingerprint}.pem"


def crl_file_name(revocation_list: RevocationList) -> str:
    """``CC-crl-<16 hex digits>.crl``, the same for every CRL of one CSCA key."""
    issuer = asn1_crl.CertificateList.load(revocation_list.der)["tbs_cert_list"]["issuer"]
    key = revocation_list.authority_key_identifier or b""
    digest = hashlib.sha256(issuer.dump() + b"\0" + key).hexdigest()[:16]
    return f"{_country(name_country(issuer))}-crl-{digest}.crl"


def _country(country: str | None) -> str:
    code = (country or "").upper()
    return code if re.fullmatch(r"[A-Z0-9]{1,3}", code) else "XX"


@dataclass
class _Incoming:
    certificates: list[CscaCertificate] = field(default_factory=list)
    crls: list[RevocationList] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    master_lists: list[MasterList] = field(default_factory=list)


def _read_sources(sources: Sequence[Path]) -> _Incoming:
    incoming = _Incoming()
    for source in sources:
        if source.is_dir():
            try:
                files = sorted(
                    path
                    for path in source.iterdir()
                    if path.is_file() and path.suffix.lower() in TRUST_SUFFIXES
                )
            except OSError as error:
                raise TrustStoreError(str(source), error.strerror or str(error)) from None
            if not files:
                raise TrustStoreError(str(source), "holds no certificate, CRL or master list file")
        elif source.exists():
            files = [source]
        else:
            raise TrustStoreError(str(source), "no such file or folder")
        for path in files:
            found = read_trust_file(path, label=str(path), sniff=True)
            incoming.certificates.extend(found.certificates)
            incoming.crls.extend(found.crls)
            incoming.skipped.extend(found.skipped)
            if found.master_list is not None:
                incoming.master_lists.append(found.master_list)
    return incoming


def plan_import(folder: Path, sources: Sequence[Path], *, at: datetime | None = None) -> ImportPlan:
    """Read ``sources`` and the trust ``folder`` (which may not exist yet); what to write.

    ``at``, when given, is now: a CRL written though past its next update
    then carries a note saying what it will do to the gate.

    Raises TrustStoreError (one line, naming the file) for a source that
    cannot be used, a trust folder with a file that cannot, or a CRL whose
    signature does not hold.
    """
    incoming = _read_sources(sources)
    if folder.exists() and not folder.is_dir():
        raise TrustStoreError(str(folder), "not a folder")
    present = TrustStore.from_directory(folder) if folder.is_dir() else TrustStore()
    entries: list[Imported] = []
    writes: dict[str, bytes] = {}
    holder = {certificate.der: _file_of(certificate.source) for certificate in present.certificates}
    added: list[CscaCertificate] = []
    for certificate in _unique(incoming.certificates):
        if certificate.der in holder:
            entries.append(Imported(Action.PRESENT, holder[certificate.der], certificate))
            continue
        name = csca_file_name(certificate)
        if (folder / name).exists():
            raise TrustStoreError(
                str(folder / name), "holds another certificate under this name: move it away"
            )
        writes[name] = pem.armor("CERTIFICATE", certificate.der)
        entries.append(Imported(Action.ADDED, name, certificate))
        added.append(certificate)
    cscas = present.certificates + tuple(added)
    entries.extend(_plan_crls(folder, incoming.crls, present, cscas, writes, at))
    return ImportPlan(
        folder,
        tuple(entries),
        tuple(incoming.skipped),
        tuple(incoming.master_lists),
        writes,
    )


def _plan_crls(
    folder: Path,
    crls: Iterable[RevocationList],
    present: TrustStore,
    cscas: Sequence[CscaCertificate],
    writes: dict[str, bytes],
    at: datetime | None,
) -> list[Imported]:
    entries: list[Imported] = []
    holder = {item.der: _file_of(item.source) for item in present.crls}
    fresh: list[RevocationList] = []
    newest: dict[str, RevocationList] = {}
    for item in _unique(crls):
        if item.der in holder:
            entries.append(Imported(Action.PRESENT, holder[item.der], crl=item))
            continue
        issuers = issuing_cscas(item, cscas)
        if issuers and not any(_crl_signed_by(item, csca) for csca in issuers):
            raise TrustStoreError(
                item.source,
                f"the CRL's signature does not hold with the CSCA {item.issuer} "
                "of the trust folder: a forged or damaged CRL",
            )
        fresh.append(item)
        name = crl_file_name(item)
        if name not in newest or item.this_update > newest[name].this_update:
            newest[name] = item
    for item in fresh:
        name = crl_file_name(item)
        if newest[name] is not item:
            note = "another CRL of the same CSCA key in this import is newer"
            entries.append(Imported(Action.OLDER, name, crl=item, note=note))
            continue
        existing = _existing_crl(folder / name)
        if existing is not None and existing.this_update >= item.this_update:
            note = (
                f"the folder's CRL of this CSCA key, issued "
                f"{existing.this_update:%Y-%m-%d %H:%M} UTC, is as new or newer"
            )
            entries.append(Imported(Action.OLDER, name, crl=item, note=note))
            continue
        writes[name] = pem.armor("X509 CRL", item.der)
        action = Action.ADDED if existing is None else Action.REPLACED
        notes = []
        if not issuing_cscas(item, cscas):
            notes.append("no CSCA of its issuer in the trust folder: used once one is imported")
        if at is not None and item.next_update is not None and item.next_update < at:
            notes.append(
                "WARNING past its next update: documents of this CSCA key will read "
                "DS_UNTRUSTED until a newer CRL is imported"
            )
        entries.append(Imported(action, name, crl=item, note="; ".join(notes) or None))
    return entries


def _existing_crl(path: Path) -> RevocationList | None:
    if not path.exists():
        return None
    crls = read_trust_file(path).crls
    return max(crls, key=lambda item: item.this_update) if crls else None


_Entry = TypeVar("_Entry", CscaCertificate, RevocationList)


def _unique(items: Iterable[_Entry]) -> list[_Entry]:
    seen: set[bytes] = set()
    unique = []
    for item in items:
        if item.der not in seen:
            seen.add(item.der)
            unique.append(item)
    return unique


def _file_of(source: str) -> str:
    """The folder's file an entry was read from (``bundle.crt#2``, ``/x/ICAO.ml#7``)."""
    return Path(source.split("#", 1)[0]).name


def _crl_signed_by(item: RevocationList, csca: CscaCertificate) -> bool:
    try:
        parsed = asn1_crl.CertificateList.load(item.der)
        certificate = asn1_x509.Certificate.load(csca.der)
        key = serialization.load_der_public_key(certificate.public_key.dump())
        verify_signature(
            key,
            parsed["signature_algorithm"],
            parsed["tbs_cert_list"].dump(),
            bytes(parsed["signature"].native),
            None,
        )
    except (InvalidSignature, ValueError, TypeError, KeyError, UnsupportedAlgorithm):
        return False
    return True


def write_import(plan: ImportPlan) -> None:
    """Write the plan's files into its folder (made if missing), each atomically.

    TrustStoreError names the file when the folder or a file cannot be
    written; files written before it stay, each whole.
    """
    if not plan.writes:
        return
    folder = plan.folder
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise TrustStoreError(str(folder), error.strerror or str(error)) from None
    for name, data in plan.writes.items():
        _write_atomic(folder / name, data)
    try:
        directory = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
    except OSError:
        pass  # a file system that cannot sync a folder: the renames stand


def _write_atomic(path: Path, data: bytes) -> None:
    """``data`` into ``path`` through a temporary file and a rename."""
    try:
        descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=".egate-", suffix=".tmp")
    except OSError as error:
        raise TrustStoreError(str(path), error.strerror or str(error)) from None
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except OSError as error:
        Path(temporary).unlink(missing_ok=True)
        raise TrustStoreError(str(path), error.strerror or str(error)) from None
