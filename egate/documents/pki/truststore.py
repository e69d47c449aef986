"""The trust store of passive authentication: CSCA certificates and their CRLs.

(One concept past the ~400-line guideline: every source a trust store is
loaded from, certificate and CRL files, folders and master lists, read into
the same CSCA entries with one-line errors naming the file; the CMS beneath
a master list is ``_cms`` and ``_cmssign``.)

Loaded from a folder or from an ICAO master list:

* a folder holds CSCA certificates (``*.pem`` ``*.crt`` ``*.cer`` ``*.der``,
  PEM, possibly several in one file, or DER), CRLs (``*.crl``, PEM or DER)
  and master lists (``*.ml``); other files (keys, notes) are left alone.
  Only CA certificates (basicConstraints cA) are taken: a Document Signer
  certificate trusted as an anchor would vouch for itself, so one found here
  (as in the folder ``egate pki init`` writes, beside its CSCA) is skipped
  and listed in :attr:`TrustStore.skipped`;
* a master list (ICAO Doc 9303 part 12 §9) is CMS SignedData of content type
  id-icao-cscaMasterList (2.23.136.1.1.2) over
  ``CscaMasterList ::= SEQUENCE { version INTEGER (v0), certList SET OF Certificate }``,
  signed by a Master List Signer that one of the listed CSCAs issued.  The
  loader checks that signature; entries that are not CA certificates are
  skipped and listed in :attr:`TrustStore.skipped`.

:func:`read_trust_file` reads one such file (one of another suffix is taken
for what its content is: ``egate pki import`` reads what an operator was
handed).  Any file that cannot be used raises :class:`TrustStoreError`, one
line naming the file.  :attr:`TrustStore.certificates` lists the CSCAs (country,
subject, serial, validity, key identifier) and :attr:`TrustStore.skipped`
what was left out, for listings.

:func:`write_master_list` signs a master list, so that tests and drills can
exercise the loader with a test CSCA.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar, NoReturn

from asn1crypto import core, crl, pem
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from egate.documents.pki._cms import (
    certificate_signed_by,
    check_signature,
    find_signer_certificate,
    name_country,
    name_text,
    parse_signed_data,
)
from egate.documents.pki._cmssign import SigningKey, sign_content
from egate.documents.pki.errors import TrustStoreError

__all__ = [
    "CERTIFICATE_SUFFIXES",
    "CRL_SUFFIXES",
    "CSCA_MASTER_LIST",
    "MASTER_LIST_SUFFIXES",
    "TRUST_SUFFIXES",
    "CscaCertificate",
    "MasterList",
    "RevocationList",
    "TrustFile",
    "TrustStore",
    "TrustStoreError",
    "read_master_list",
    "read_trust_file",
    "write_master_list",
]

CSCA_MASTER_LIST = "2.23.136.1.1.2"
CERTIFICATE_SUFFIXES = (".pem", ".crt", ".cer", ".der")
CRL_SUFFIXES = (".crl",)
MASTER_LIST_SUFFIXES = (".ml",)
# The files a trust folder's loader reads; it leaves others (keys, notes) alone.
TRUST_SUFFIXES = CERTIFICATE_SUFFIXES + CRL_SUFFIXES + MASTER_LIST_SUFFIXES

# asn1crypto parses lazily and reports malformed content with any of these.
_ASN1_ERRORS = (ValueError, TypeError, KeyError, IndexError, OverflowError, AttributeError)


class _CertificateSet(core.SetOf):  # type: ignore[misc]
    _child_spec = asn1_x509.Certificate


class _CscaMasterList(core.Sequence):  # type: ignore[misc]
    _fields: ClassVar = [("version", core.Integer), ("cert_list", _CertificateSet)]


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class CscaCertificate:
    """One trusted CSCA certificate (self-signed, or a link certificate) and its source."""

    country: str | None
    subject: str
    issuer: str
    serial_number: int
    not_before: datetime
    not_after: datetime
    subject_key_identifier: bytes | None
    self_signed: bool
    source: str
    der: bytes = field(repr=False)

    def valid_at(self, at: datetime) -> bool:
        """Whether ``at`` falls in the certificate's validity."""
        return self.not_before <= at <= self.not_after

    def to_dict(self) -> dict[str, object]:
        """JSON-ready fields (times ISO 8601, key identifier hex)."""
        return {
            "country": self.country,
            "subject": self.subject,
            "issuer": self.issuer,
            "serial_number": format(self.serial_number, "X"),
            "not_before": self.not_before.isoformat(),
            "not_after": self.not_after.isoformat(),
            "subject_key_identifier": None
            if self.subject_key_identifier is None
            else self.subject_key_identifier.hex().upper(),
            "self_signed": self.self_signed,
            "source": self.source,
        }


@dataclass(frozen=True)
class RevocationList:
    """One CRL of a CSCA (Doc 9303 part 12 §7.1.4)."""

    issuer: str
    this_update: datetime
    next_update: datetime | None
    revoked_serials: frozenset[int] = field(repr=False)
    # Which CSCA key signed it (authorityKeyIdentifier), when the CRL says.
    authority_key_identifier: bytes | None
    source: str
    der: bytes = field(repr=False)

    def to_dict(self) -> dict[str, object]:
        """JSON-ready fields."""
        return {
            "issuer": self.issuer,
            "this_update": self.this_update.isoformat(),
            "next_update": None if self.next_update is None else self.next_update.isoformat(),
            "revoked": sorted(format(serial, "X") for serial in self.revoked_serials),
            "authority_key_identifier": None
            if self.authority_key_identifier is None
            else self.authority_key_identifier.hex().upper(),
            "source": self.source,
        }


@dataclass(frozen=True)
class MasterList:
    """A CSCA master list, read and its signature checked."""

    source: str
    version: int
    signer: str
    signing_time: datetime | None
    certificates: tuple[CscaCertificate, ...]
    # Entries left out, each "source: certificate N: why".
    skipped: tuple[str, ...]


class TrustStore:
    """CSCA certificates and CRLs that passive authentication trusts."""

    def __init__(
        self,
        certificates: Iterable[CscaCertificate] = (),
        crls: Iterable[RevocationList] = (),
        *,
        skipped: Iterable[str] = (),
    ) -> None:
        unique: dict[bytes, CscaCertificate] = {}
        for certificate in certificates:
            unique.setdefault(certificate.der, certificate)
        self.certificates: tuple[CscaCertificate, ...] = tuple(
            sorted(
                unique.values(),
                key=lambda c: (c.country or "", c.subject, c.not_before, c.serial_number),
            )
        )
        unique_crls: dict[bytes, RevocationList] = {}
        for item in crls:
            unique_crls.setdefault(item.der, item)
        self.crls: tuple[RevocationList, ...] = tuple(unique_crls.values())
        self.skipped: tuple[str, ...] = tuple(skipped)

    def __len__(self) -> int:
        return len(self.certificates)

    def __repr__(self) -> str:
        return f"TrustStore({len(self.certificates)} CSCA certificates, {len(self.crls)} CRLs)"

    # --- loading ---------------------------------------------------------------------------

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> TrustStore:
        """A folder of certificates and CRLs, or one master list file."""
        target = Path(path)
        if target.is_dir():
            return cls.from_directory(target)
        try:
            data = target.read_bytes()
        except OSError as error:
            raise TrustStoreError(str(target), error.strerror or str(error)) from None
        master = read_master_list(data, source=str(target))
        return cls(master.certificates, skipped=master.skipped)

    @classmethod
    def from_directory(cls, directory: str | os.PathLike[str]) -> TrustStore:
        """Every certificate, CRL and master list file in ``directory`` (not its subfolders)."""
        folder = Path(directory)
        try:
            paths = sorted(entry for entry in folder.iterdir() if entry.is_file())
        except OSError as error:
            raise TrustStoreError(str(folder), error.strerror or str(error)) from None
        certificates: list[CscaCertificate] = []
        crls: list[RevocationList] = []
        skipped: list[str] = []
        for path in paths:
            if path.suffix.lower() not in TRUST_SUFFIXES:
                continue
            found = read_trust_file(path)
            certificates.extend(found.certificates)
            crls.extend(found.crls)
            skipped.extend(found.skipped)
        return cls(certificates, crls, skipped=skipped)

    @classmethod
    def from_master_list(cls, data: bytes, *, source: str = "master list") -> TrustStore:
        """The CSCAs of a master list's bytes."""
        master = read_master_list(data, source=source)
        return cls(master.certificates, skipped=master.skipped)

    @classmethod
    def from_certificates(
        cls,
        certificates: Iterable[x509.Certificate | bytes],
        crls: Iterable[x509.CertificateRevocationList | bytes] = (),
        *,
        source: str = "memory",
    ) -> TrustStore:
        """A store of the given CSCA certificates and CRLs (cryptography objects or DER)."""
        entries = []
        for index, certificate in enumerate(certificates):
            der = (
                certificate
                if isinstance(certificate, bytes)
                else certificate.public_bytes(serialization.Encoding.DER)
            )
            name = f"{source}#{index + 1}"
            entries.append(_csca(der, name, name))
        lists = []
        for index, item in enumerate(crls):
            der = item if isinstance(item, bytes) else item.public_bytes(serialization.Encoding.DER)
            lists.append(
                _revocation_list(der, f"{source}#crl{index + 1}", f"{source}#crl{index + 1}")
            )
        return cls(entries, lists)

    def merged(self, other: TrustStore) -> TrustStore:
        """This store and ``other`` together."""
        return TrustStore(
            self.certificates + other.certificates,
            self.crls + other.crls,
            skipped=self.skipped + other.skipped,
        )

    # --- use -------------------------------------------------------------------------------

    def countries(self) -> tuple[str, ...]:
        """The countries (alpha-2) that have a CSCA in the store."""
        return tuple(sorted({c.country for c in self.certificates if c.country}))

    def for_country(self, country: str) -> tuple[CscaCertificate, ...]:
        """The CSCAs of one country (alpha-2, any case)."""
        wanted = country.upper()
        return tuple(c for c in self.certificates if c.country == wanted)

    def anchors(self) -> list[asn1_x509.Certificate]:
        """The certificates as asn1crypto objects (pyhanko-certvalidator's trust roots)."""
        return [asn1_x509.Certificate.load(c.der) for c in self.certificates]

    def revocation_lists(self) -> list[crl.CertificateList]:
        """The CRLs as asn1crypto objects."""
        return [crl.CertificateList.load(item.der) for item in self.crls]

    def crls_for(
        self, issuer: asn1_x509.Name, key_identifier: bytes | None
    ) -> list[crl.CertificateList]:
        """The CRLs of one CSCA key: issued under the name ``issuer`` and, when both say
        which key signed, by the key ``key_identifier`` (a certificate's authority key id).

        A state may keep its CSCA's name across key rollovers; a CRL signed by
        one key is no revocation information for certificates of the other.
        """
        found = []
        for item in self.crls:
            parsed = crl.CertificateList.load(item.der)
            if parsed["tbs_cert_list"]["issuer"] != issuer:
                continue
            if (
                key_identifier is not None
                and item.authority_key_identifier is not None
                and item.authority_key_identifier != key_identifier
            ):
                continue
            found.append(parsed)
        return found

    def to_dict(self) -> dict[str, object]:
        """JSON-ready listing: certificates, CRLs, skipped entries."""
        return {
            "certificates": [c.to_dict() for c in self.certificates],
            "crls": [item.to_dict() for item in self.crls],
            "skipped": list(self.skipped),
        }


def _fail(source: str, message: str, offset: int | None = None) -> NoReturn:
    raise TrustStoreError(source, message, offset)


def _blocks(data: bytes, source: str, kinds: tuple[str, ...]) -> list[bytes]:
    """The DER of each PEM block of one of ``kinds`` in ``data``, or ``data`` itself if DER."""
    if not pem.detect(data):
        return [data]
    try:
        found = [
            (kind_found, bytes(der)) for kind_found, _, der in pem.unarmor(data, multiple=True)
        ]
    except (ValueError, TypeError) as error:
        _fail(source, f"not valid PEM: {_one_line(error)}")
    for kind_found, _ in found:
        if kind_found not in kinds:
            _fail(source, f"PEM block {kind_found!r} where {kinds[0]!r} was expected")
    if not found:
        _fail(source, f"no PEM {kinds[0]} block")
    return [der for _, der in found]


def _csca(der: bytes, source: str, file: str) -> CscaCertificate:
    """Read one CSCA certificate; errors name ``file``."""
    try:
        certificate = asn1_x509.Certificate.load(der, strict=True)
        entry = _describe(certificate, der, source)
        is_ca = bool(certificate.ca)
    except TrustStoreError:
        raise
    except _ASN1_ERRORS as error:
        _fail(file, f"not an X.509 certificate: {_one_line(error)}")
    if not is_ca:
        raise _NotCa(file, f"{entry.subject} is not a CA certificate (no basicConstraints cA)")
    return entry


class _NotCa(TrustStoreError):
    """A well-formed certificate that is no CSCA (a folder skips it, a given list refuses it)."""


def _describe(certificate: asn1_x509.Certificate, der: bytes, source: str) -> CscaCertificate:
    subject = certificate.subject
    ski = certificate.key_identifier
    return CscaCertificate(
        country=name_country(subject),
        subject=name_text(subject),
        issuer=name_text(certificate.issuer),
        serial_number=int(certificate.serial_number),
        not_before=_utc(certificate.not_valid_before),
        not_after=_utc(certificate.not_valid_after),
        subject_key_identifier=None if ski is None else bytes(ski),
        self_signed=certificate.self_issued and certificate_signed_by(certificate, certificate),
        source=source,
        der=bytes(der),
    )


def _revocation_list(der: bytes, source: str, path: str) -> RevocationList:
    try:
        item = crl.CertificateList.load(der, strict=True)
        tbs = item["tbs_cert_list"]
        next_update = tbs["next_update"].native
        revoked = frozenset(
            int(entry["user_certificate"].native) for entry in tbs["revoked_certificates"] or []
        )
        key_identifier = item.authority_key_identifier
        return RevocationList(
            issuer=name_text(tbs["issuer"]),
            this_update=_utc(tbs["this_update"].native),
            next_update=None if next_update is None else _utc(next_update),
            revoked_serials=revoked,
            authority_key_identifier=None if key_identifier is None else bytes(key_identifier),
            source=source,
            der=bytes(der),
        )
    except _ASN1_ERRORS as error:
        _fail(path, f"not a CRL: {_one_line(error)}")


@dataclass(frozen=True)
class TrustFile:
    """What one file of a trust store holds: CSCAs, CRLs, or the CSCAs of a master list."""

    certificates: tuple[CscaCertificate, ...] = ()
    crls: tuple[RevocationList, ...] = ()
    # Certificates left out (not CAs), each "label: why".
    skipped: tuple[str, ...] = ()
    master_list: MasterList | None = None


def read_trust_file(path: Path, *, label: str | None = None, sniff: bool = False) -> TrustFile:
    """Read one certificate, CRL or master list file; TrustStoreError names ``path``.

    The suffix says what the file is (:data:`CERTIFICATE_SUFFIXES`,
    :data:`CRL_SUFFIXES`, :data:`MASTER_LIST_SUFFIXES`); a file with another
    suffix, or any file with ``sniff``, is taken for what its content is (a
    CRL handed over as ``.der``).  ``label`` names the entries (``source``,
    skipped lines): the file's name unless given.
    """
    name = path.name if label is None else label
    try:
        data = path.read_bytes()
    except OSError as error:
        raise TrustStoreError(str(path), error.strerror or str(error)) from None
    suffix = path.suffix.lower()
    kind = (
        _sniff(data, str(path))
        if sniff
        else "certificate"
        if suffix in CERTIFICATE_SUFFIXES
        else "crl"
        if suffix in CRL_SUFFIXES
        else "master list"
        if suffix in MASTER_LIST_SUFFIXES
        else _sniff(data, str(path))
    )
    if kind == "master list":
        if pem.detect(data):
            data = _blocks(data, str(path), ("CMS", "PKCS7"))[0]
        master = read_master_list(data, source=str(path))
        return TrustFile(master.certificates, skipped=master.skipped, master_list=master)
    if kind == "crl":
        blocks = _blocks(data, str(path), ("X509 CRL",))
        return TrustFile(
            crls=tuple(
                _revocation_list(der, _label(name, index), str(path))
                for index, der in enumerate(blocks)
            )
        )
    certificates: list[CscaCertificate] = []
    skipped: list[str] = []
    for index, der in enumerate(_blocks(data, str(path), ("CERTIFICATE",))):
        source = _label(name, index)
        try:
            certificates.append(_csca(der, source, str(path)))
        except _NotCa as refusal:
            skipped.append(f"{source}: {refusal.reason}")
    return TrustFile(tuple(certificates), skipped=tuple(skipped))


def _label(name: str, index: int) -> str:
    return name if index == 0 else f"{name}#{index + 1}"


def _sniff(data: bytes, source: str) -> str:
    """What a file of no known suffix holds: "certificate", "crl" or "master list"."""
    if pem.detect(data):
        try:
            kind = next(pem.unarmor(data, multiple=True))[0]
        except (ValueError, TypeError, StopIteration) as error:
            _fail(source, f"not valid PEM: {_one_line(error)}")
        found = {
            "CERTIFICATE": "certificate",
            "X509 CRL": "crl",
            "CMS": "master list",
            "PKCS7": "master list",
        }
        if kind not in found:
            _fail(source, f"PEM block {kind!r}: neither a certificate, a CRL nor a master list")
        return found[kind]
    try:
        outer = core.Sequence.load(data, strict=True)
        first = outer[0]
    except _ASN1_ERRORS:
        _fail(source, "neither a certificate, a CRL nor a master list (not DER)")
    # CMS ContentInfo starts with its content type; a certificate's and a CRL's
    # to-be-signed part is a SEQUENCE.
    if first.tag == 6 and first.class_ == 0:
        return "master list"
    try:
        certificate = asn1_x509.Certificate.load(data, strict=True)
        _ = certificate["tbs_certificate"]["subject_public_key_info"].native
    except _ASN1_ERRORS:
        pass
    else:
        return "certificate"
    try:
        _ = crl.CertificateList.load(data, strict=True)["tbs_cert_list"]["this_update"].native
    except _ASN1_ERRORS:
        _fail(source, "neither a certificate, a CRL nor a master list")
    return "crl"


def read_master_list(data: bytes, *, source: str = "master list") -> MasterList:
    """Read a CSCA master list and check its signature.

    Raises TrustStoreError (naming ``source``) when the bytes are not a
    master list, when its signature does not hold, or when its signer was
    not issued by one of the CSCAs it lists.
    """

    def fail(message: str, offset: int | None) -> NoReturn:
        raise TrustStoreError(source, message, offset)

    signed = parse_signed_data(bytes(data), fail)
    if signed.content_type != CSCA_MASTER_LIST:
        fail(
            f"eContentType {signed.content_type} is not "
            f"id-icao-cscaMasterList ({CSCA_MASTER_LIST})",
            None,
        )
    try:
        content = _CscaMasterList.load(signed.content, strict=True)
        version = int(content["version"].native)
        listed = [(index, item, item.dump()) for index, item in enumerate(content["cert_list"], 1)]
    except _ASN1_ERRORS as error:
        fail(f"not a CscaMasterList: {_one_line(error)}", signed.content_offset)
    if version != 0:
        fail(f"CscaMasterList version {version}, expected 0", None)
    signer_der = find_signer_certificate(signed)
    if signer_der is None:
        fail("the master list carries no certificate of its signer", None)
    try:
        signer = asn1_x509.Certificate.load(signer_der)
        signer_name = name_text(signer.subject)
        problem = check_signature(signed, signer.public_key.dump())
    except _ASN1_ERRORS as error:
        fail(f"the master list signer's certificate cannot be read: {_one_line(error)}", None)
    if problem is not None:
        fail(f"master list signature invalid: {problem}", None)
    certificates: list[CscaCertificate] = []
    skipped: list[str] = []
    issued = False
    for index, item, der in listed:
        label = f"{Path(source).name}#{index}"
        try:
            entry = _csca(der, label, label)
        except TrustStoreError as error:
            skipped.append(f"{source}: certificate {index}: {error.reason}")
            continue
        certificates.append(entry)
        issued = issued or certificate_signed_by(signer, item)
    if not issued:
        fail(f"the master list signer {signer_name} was issued by none of the CSCAs it lists", None)
    return MasterList(
        source=source,
        version=version,
        signer=signer_name,
        signing_time=signed.signer.signing_time,
        certificates=tuple(certificates),
        skipped=tuple(skipped),
    )


def write_master_list(
    certificates: Sequence[x509.Certificate],
    signer_certificate: x509.Certificate,
    signer_key: SigningKey,
    *,
    digest: str = "sha256",
    signing_time: datetime | None,
    pss: bool = False,
) -> bytes:
    """A CSCA master list (DER CMS) of ``certificates``, signed with ``signer_key``.

    The signer is a Master List Signer issued by one of the CSCAs, or, for
    tests, a CSCA itself; its certificate travels in the SignedData.
    """
    entries = [
        asn1_x509.Certificate.load(c.public_bytes(serialization.Encoding.DER)) for c in certificates
    ]
    content = bytes(_CscaMasterList({"version": 0, "cert_list": entries}).dump())
    return sign_content(
        CSCA_MASTER_LIST,
        content,
        signer_certificate,
        signer_key,
        digest=digest,
        signing_time=signing_time,
        pss=pss,
    )
