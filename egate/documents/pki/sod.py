"""EF.SOD, the Document Security Object (ICAO Doc 9303 part 10 §4.6.2 and part 12 §7).

EF.SOD is tag ``77`` around a CMS ContentInfo (RFC 5652) holding SignedData
whose signed content, of type id-icao-mrtd-security-ldsSecurityObject
(2.23.136.1.1.1), is::

    LDSSecurityObject ::= SEQUENCE {
        version                LDSSecurityObjectVersion,     -- v0(0), v1(1)
        hashAlgorithm          DigestAlgorithmIdentifier,
        dataGroupHashValues    SEQUENCE SIZE (2..16) OF DataGroupHash,
        ldsVersionInfo         LDSVersionInfo OPTIONAL }     -- present in v1
    DataGroupHash ::= SEQUENCE { dataGroupNumber INTEGER (1..16),
                                 dataGroupHashValue OCTET STRING }

The SignerInfo signs attributes (contentType, messageDigest of the
LDSSecurityObject, optionally signingTime) with the Document Signer's key;
the DS certificate travels in the SignedData's certificates.

:func:`parse_sod` reads one (any malformation is a :class:`SodError`
naming EF.SOD and, where known, the byte offset); :func:`sign_sod` makes
one for a virtual chip.

Checking an EF.SOD with OpenSSL (the command docs/chip.md gives; the PKI
tests run it).  OpenSSL reads CMS, not the ``77`` wrapper; ``openssl
asn1parse -strparse`` cuts it off, at the offset of the ContentInfo inside:
the header length ``hl`` of the first line of ``openssl asn1parse``, 4 for
any real SOD (``77 82 LL LL``)::

    openssl asn1parse -inform DER -in EF.SOD | head -1     # "0:d=0  hl=4 l=1021 cons: appl [ 23 ]"
    openssl asn1parse -inform DER -in EF.SOD -strparse 4 -noout -out sod.cms
    openssl cms -verify -inform DER -in sod.cms -CAfile csca.pem -purpose any -out lds.der

OpenSSL prints ``CMS Verification successful`` and exits 0 when the
signature, the messageDigest and the path to the CSCA hold; ``lds.der`` is
then the LDSSecurityObject (``openssl asn1parse -inform DER -in lds.der``
lists the data group hashes).  ``-purpose any``: ``cms -verify`` checks the
signer for S/MIME signing by default; a DS certificate without extended key
usage (as egate's) passes that, but a state's DS may name other purposes.
``-attime SECONDS_SINCE_1970`` checks at another moment than now.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, NoReturn

from asn1crypto import algos, core
from cryptography import x509

from egate.documents.lds.tlv import encode_tlv
from egate.documents.pki._cms import (
    DIGESTS,
    SignedContent,
    SignerInfo,
    find_signer_certificate,
    parse_signed_data,
)
from egate.documents.pki._cmssign import SigningKey, sign_content
from egate.documents.pki._der import Fail, check_der, read_header
from egate.documents.pki.errors import SodError

__all__ = [
    "LDS_SECURITY_OBJECT",
    "SOD_TAG",
    "SignerInfo",
    "Sod",
    "SodError",
    "parse_sod",
    "sign_sod",
    "unwrap_sod",
    "wrap_sod",
]

LDS_SECURITY_OBJECT = "2.23.136.1.1.1"
SOD_TAG = 0x77


class _DataGroupHash(core.Sequence):  # type: ignore[misc]
    _fields: ClassVar = [
        ("data_group_number", core.Integer),
        ("data_group_hash_value", core.OctetString),
    ]


class _DataGroupHashValues(core.SequenceOf):  # type: ignore[misc]
    _child_spec = _DataGroupHash


class _LdsVersionInfo(core.Sequence):  # type: ignore[misc]
    _fields: ClassVar = [
        ("lds_version", core.PrintableString),
        ("unicode_version", core.PrintableString),
    ]


class _LdsSecurityObject(core.Sequence):  # type: ignore[misc]
    _fields: ClassVar = [
        ("version", core.Integer),
        ("hash_algorithm", algos.DigestAlgorithm),
        ("data_group_hash_values", _DataGroupHashValues),
        ("lds_version_info", _LdsVersionInfo, {"optional": True}),
    ]


@dataclass(frozen=True)
class Sod:
    """A parsed EF.SOD: the data group hashes, their signer and the DS certificate."""

    version: int
    # The LDSSecurityObject's hash algorithm (asn1crypto's name: "sha256", or the dotted OID).
    digest_algorithm: str
    hashes: Mapping[int, bytes] = field(repr=False)
    lds_version: str | None
    unicode_version: str | None
    signer: SignerInfo
    # DER of every certificate in the SignedData, and of the one that signed.
    certificates: tuple[bytes, ...] = field(repr=False)
    ds_certificate_der: bytes | None = field(repr=False)
    # The signed LDSSecurityObject, and the CMS ContentInfo (EF.SOD less its 77 tag).
    content: bytes = field(repr=False)
    cms: bytes = field(repr=False)
    _signed: SignedContent = field(repr=False, compare=False)

    @property
    def data_groups(self) -> tuple[int, ...]:
        """The numbers of the data groups the SOD covers, ascending."""
        return tuple(sorted(self.hashes))

    def ds_certificate(self) -> x509.Certificate | None:
        """The Document Signer certificate (cryptography's object), or None when absent."""
        if self.ds_certificate_der is None:
            return None
        try:
            return x509.load_der_x509_certificate(self.ds_certificate_der)
        except ValueError as error:
            header = len(wrap_sod(self.cms)) - len(self.cms)
            raise SodError(
                f"the DS certificate cannot be read: {' '.join(str(error).split())}",
                header + max(self.cms.find(self.ds_certificate_der), 0),
            ) from None


def _failing_at(default: int) -> Fail:
    """A parse-error maker that blames ``default`` when the fault's own offset is unknown."""

    def fail(message: str, offset: int | None) -> NoReturn:
        raise SodError(message, default if offset is None else offset)

    return fail


def unwrap_sod(data: bytes) -> bytes:
    """The CMS ContentInfo inside EF.SOD's 77 tag (what OpenSSL reads)."""
    tag, contents, length, _ = read_header(data, 0, len(data), _failing_at(0))
    if tag != SOD_TAG:
        raise SodError(f"tag {tag:02X} where 77 was expected", 0)
    if length < 0:
        raise SodError("indefinite length on the 77 tag", 1)
    if contents + length != len(data):
        raise SodError(
            f"{len(data) - contents - length} bytes after the end of the 77 object",
            contents + length,
        )
    return data[contents:]


def wrap_sod(cms: bytes) -> bytes:
    """EF.SOD's bytes: the CMS ContentInfo under tag 77."""
    return encode_tlv(SOD_TAG, cms)


def parse_sod(data: bytes) -> Sod:
    """Read EF.SOD (tag 77 included). Raises SodError on anything malformed."""
    inner = unwrap_sod(bytes(data))
    base = len(data) - len(inner)
    # Faults without an offset of their own are blamed on the ContentInfo.
    signed = parse_signed_data(inner, _failing_at(base), base=base)
    if signed.content_type != LDS_SECURITY_OBJECT:
        raise SodError(
            f"eContentType {signed.content_type} is not id-icao-mrtd-security-ldsSecurityObject "
            f"({LDS_SECURITY_OBJECT})",
            base,
        )
    version, digest, hashes, lds_version, unicode_version = _security_object(
        signed.content, base if signed.content_offset is None else signed.content_offset
    )
    return Sod(
        version=version,
        digest_algorithm=digest,
        hashes=hashes,
        lds_version=lds_version,
        unicode_version=unicode_version,
        signer=signed.signer,
        certificates=signed.certificates,
        ds_certificate_der=find_signer_certificate(signed),
        content=signed.content,
        cms=inner,
        _signed=signed,
    )


def _security_object(
    content: bytes, offset: int
) -> tuple[int, str, dict[int, bytes], str | None, str | None]:
    """Read the LDSSecurityObject found at ``offset`` of EF.SOD."""

    def fail(message: str, where: int | None) -> NoReturn:
        raise SodError(f"LDSSecurityObject: {message}", offset + (where or 0))

    check_der(content, fail)
    try:
        return _read_security_object(_LdsSecurityObject.load(content, strict=True), fail)
    except SodError:
        raise
    except (ValueError, TypeError, KeyError, IndexError, OverflowError, AttributeError) as error:
        # asn1crypto parses lazily and reports malformed content with one of these.
        fail(" ".join(str(error).split()) or type(error).__name__, None)


def _read_security_object(
    lso: _LdsSecurityObject, fail: Fail
) -> tuple[int, str, dict[int, bytes], str | None, str | None]:
    version = int(lso["version"].native)
    if version not in (0, 1):
        fail(f"version {version}, expected 0 or 1", None)
    algorithm = lso["hash_algorithm"]["algorithm"]
    digest = algorithm.native if algorithm.native != algorithm.dotted else algorithm.dotted
    size = DIGESTS[digest]().digest_size if digest in DIGESTS else None
    hashes: dict[int, bytes] = {}
    for entry in lso["data_group_hash_values"]:
        number = int(entry["data_group_number"].native)
        value = bytes(entry["data_group_hash_value"].native)
        if not 1 <= number <= 16:
            fail(f"data group number {number} outside 1..16", None)
        if number in hashes:
            fail(f"data group {number} hashed twice", None)
        if size is not None and len(value) != size:
            fail(f"DG{number} hash is {len(value)} bytes, {digest} gives {size}", None)
        hashes[number] = value
    if not hashes:
        fail("no data group hashes", None)
    info = lso["lds_version_info"]
    lds_version = unicode_version = None
    if isinstance(info, _LdsVersionInfo):
        lds_version = str(info["lds_version"].native)
        unicode_version = str(info["unicode_version"].native)
    if version == 1 and lds_version is None:
        fail("version 1 without ldsVersionInfo", None)
    return version, digest, hashes, lds_version, unicode_version


def sign_sod(
    data_groups: Mapping[int, bytes],
    ds_cert: x509.Certificate,
    ds_key: SigningKey,
    *,
    digest: str = "sha256",
    signing_time: datetime | None,
    pss: bool = False,
    lds_version: tuple[str, str] | None = None,
) -> bytes:
    """EF.SOD (tag 77 included) over ``data_groups`` ({number: the file's bytes}), signed by the DS.

    ``digest`` hashes the data groups and the signed attributes; the DS key
    signs with RSA PKCS#1 v1.5 (RSA-PSS when ``pss``) or ECDSA, as its type
    says.  ``signing_time`` (timezone-aware), when given, is a signed
    attribute.  ``lds_version`` (e.g. ``("0108", "040000")``) makes a v1
    LDSSecurityObject carrying the LDS and Unicode versions.
    """
    if digest not in DIGESTS:
        raise ValueError(f"digest {digest!r} is not one of {', '.join(DIGESTS)}")
    if not data_groups:
        raise ValueError("an EF.SOD covers at least one data group")
    for number in data_groups:
        if not 1 <= number <= 16:
            raise ValueError(f"data group number {number} outside 1..16")
    lso: dict[str, Any] = {
        "version": 0 if lds_version is None else 1,
        "hash_algorithm": {"algorithm": digest},
        "data_group_hash_values": [
            {
                "data_group_number": number,
                "data_group_hash_value": hashlib.new(digest, data_groups[number]).digest(),
            }
            for number in sorted(data_groups)
        ],
    }
    if lds_version is not None:
        lso["lds_version_info"] = {"lds_version": lds_version[0], "unicode_version": lds_version[1]}
    content = bytes(_LdsSecurityObject(lso).dump())
    cms = sign_content(
        LDS_SECURITY_OBJECT,
        content,
        ds_cert,
        ds_key,
        digest=digest,
        signing_time=signing_time,
        pss=pss,
    )
    return wrap_sod(cms)
