"""CMS SignedData as ICAO uses it (EF.SOD, CSCA master lists): read and check.

Private to the PKI package (``_cmssign`` makes SignedData).  Parsing goes
through asn1crypto, which is lax about where things are; a structural walk
of the DER first gives parse errors a byte offset.  Signatures are checked
with cryptography: RSA PKCS#1 v1.5, RSA-PSS, ECDSA (X9.62 DER, or the plain
r||s form of BSI TR-03111) on any named curve cryptography knows, Brainpool
included.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from asn1crypto import algos, cms, core
from asn1crypto import x509 as asn1_x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from egate.documents.lds.errors import LdsError
from egate.documents.lds.protocols import ECDSA_PLAIN_HASHES
from egate.documents.lds.tlv import encode_tlv
from egate.documents.pki._der import Fail, check_der
from egate.documents.pki.errors import PkiError

DIGESTS: dict[str, Callable[[], hashes.HashAlgorithm]] = {
    "sha1": hashes.SHA1,
    "sha224": hashes.SHA224,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}

# Short names of the attribute types a CSCA or DS subject carries (RFC 4514 and ICAO).
_SHORT_NAMES = {
    "common_name": "CN",
    "country_name": "C",
    "organization_name": "O",
    "organizational_unit_name": "OU",
    "locality_name": "L",
    "state_or_province_name": "ST",
    "serial_number": "serialNumber",
    "email_address": "emailAddress",
    "domain_component": "DC",
    "surname": "SN",
    "given_name": "GN",
}


# --- names ---------------------------------------------------------------------------------


def name_text(name: asn1_x509.Name) -> str:
    """An asn1crypto Name as RFC 4514 text (``CN=egate TEST CSCA,O=egate TEST PKI,C=UT``)."""
    parts = []
    for rdn in reversed(list(name.chosen)):
        values = []
        for attribute in rdn:
            kind = attribute["type"]
            label = _SHORT_NAMES.get(kind.native, kind.dotted)
            try:
                value = attribute["value"].native
            except ValueError:
                value = None
            text = value if isinstance(value, str) else "#" + attribute["value"].dump().hex()
            values.append(f"{label}={_escape(text)}")
        parts.append("+".join(values))
    return ",".join(parts)


def _escape(text: str) -> str:
    escaped = "".join("\\" + c if c in ',+"\\<>;=' else c for c in text)
    if escaped.startswith((" ", "#")):
        escaped = "\\" + escaped
    if escaped.endswith(" "):
        escaped = escaped[:-1] + "\\ "
    return escaped


def name_country(name: asn1_x509.Name) -> str | None:
    """The country (C) of an asn1crypto Name, upper-cased, or None."""
    for rdn in name.chosen:
        for attribute in rdn:
            if attribute["type"].native == "country_name":
                value = attribute["value"].native
                return value.upper() if isinstance(value, str) else None
    return None


# --- SignedData ----------------------------------------------------------------------------


@dataclass(frozen=True)
class SignerInfo:
    """The one SignerInfo of a CMS SignedData, as signed."""

    version: int
    issuer: str | None
    serial_number: int | None
    subject_key_identifier: bytes | None
    digest_algorithm: str
    signature_algorithm: str
    signature: bytes = field(repr=False)
    # The signed attributes as they were signed: DER with the SET tag (31), not [0].
    signed_attributes: bytes | None = field(repr=False)
    content_type: str | None
    message_digest: bytes | None
    signing_time: datetime | None
    _asn1: cms.SignerInfo = field(repr=False, compare=False)


@dataclass(frozen=True)
class SignedContent:
    """A CMS SignedData unpacked: its content, its certificates, its one signer."""

    content_type: str
    content: bytes = field(repr=False)
    # Offset of the content octets within the parsed bytes (for errors inside it).
    content_offset: int | None
    digest_algorithms: tuple[str, ...]
    certificates: tuple[bytes, ...] = field(repr=False)
    signer: SignerInfo


def parse_signed_data(data: bytes, fail: Fail, *, base: int = 0) -> SignedContent:
    """Unpack a DER ContentInfo holding SignedData with exactly one SignerInfo."""
    check_der(data, fail, base)
    try:
        return _unpack(data, fail, base)
    except (PkiError, LdsError):  # what `fail` raised: already says where
        raise
    except (ValueError, TypeError, KeyError, IndexError, OverflowError, AttributeError) as error:
        # asn1crypto parses lazily and reports malformed content with one of these.
        fail(f"not a CMS SignedData: {_one_line(error)}", None)


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__


def _unpack(data: bytes, fail: Fail, base: int) -> SignedContent:
    info = cms.ContentInfo.load(data, strict=True)
    if info["content_type"].dotted != "1.2.840.113549.1.7.2":
        fail(f"content type {info['content_type'].dotted} is not signedData", base)
    signed = info["content"]
    encap = signed["encap_content_info"]
    content_type = encap["content_type"].dotted
    if (
        not isinstance(encap["content"], core.ParsableOctetString)
        or encap["content"].contents is None
    ):
        fail("SignedData carries no content (detached signatures are not used here)", None)
    content = bytes(encap["content"].contents)
    # The content octets sit somewhere inside `data`; find them for error offsets.
    where = data.find(encap["content"].dump())
    content_offset = (
        None if where < 0 else base + where + len(encap["content"].dump()) - len(content)
    )
    digest_algorithms = tuple(_algorithm_name(item) for item in signed["digest_algorithms"])
    certificates = []
    for choice in signed["certificates"] or []:
        if choice.name == "certificate":
            certificates.append(choice.chosen.dump())
    signers = list(signed["signer_infos"])
    if len(signers) != 1:
        fail(f"SignedData has {len(signers)} SignerInfos, expected exactly one", None)
    return SignedContent(
        content_type=content_type,
        content=content,
        content_offset=content_offset,
        digest_algorithms=digest_algorithms,
        certificates=tuple(certificates),
        signer=_signer(signers[0], fail),
    )


def _algorithm_name(algorithm: algos.DigestAlgorithm | algos.SignedDigestAlgorithm) -> str:
    oid = algorithm["algorithm"]
    native = oid.native
    return native if isinstance(native, str) and native != oid.dotted else oid.dotted


def _signer(info: cms.SignerInfo, fail: Fail) -> SignerInfo:
    sid = info["sid"]
    issuer = serial = ski = None
    if sid.name == "issuer_and_serial_number":
        issuer = name_text(sid.chosen["issuer"])
        serial = int(sid.chosen["serial_number"].native)
    else:
        ski = bytes(sid.chosen.native)
    signed_attributes = content_type = message_digest = signing_time = None
    attributes = info["signed_attrs"]
    if isinstance(attributes, cms.CMSAttributes) and attributes.contents is not None:
        signed_attributes = encode_tlv(0x31, bytes(attributes.contents))
        for attribute in attributes:
            kind = attribute["type"].dotted
            values = list(attribute["values"])
            if len(values) != 1:
                fail(f"signed attribute {kind} has {len(values)} values, expected one", None)
            if kind == "1.2.840.113549.1.9.3":
                content_type = values[0].dotted
            elif kind == "1.2.840.113549.1.9.4":
                message_digest = bytes(values[0].native)
            elif kind == "1.2.840.113549.1.9.5":
                moment = values[0].native
                signing_time = moment if isinstance(moment, datetime) else None
    return SignerInfo(
        version=int(info["version"].native[1:]),
        issuer=issuer,
        serial_number=serial,
        subject_key_identifier=ski,
        digest_algorithm=_algorithm_name(info["digest_algorithm"]),
        signature_algorithm=_algorithm_name(info["signature_algorithm"]),
        signature=bytes(info["signature"].native),
        signed_attributes=signed_attributes,
        content_type=content_type,
        message_digest=message_digest,
        signing_time=signing_time,
        _asn1=info,
    )


def find_signer_certificate(content: SignedContent) -> bytes | None:
    """The DER of the certificate among ``content.certificates`` that the SignerInfo names."""
    signer = content.signer
    sid = signer._asn1["sid"]
    for der in content.certificates:
        certificate = asn1_x509.Certificate.load(der)
        try:
            if sid.name == "issuer_and_serial_number":
                if (
                    certificate.serial_number == sid.chosen["serial_number"].native
                    and certificate.issuer == sid.chosen["issuer"]
                ):
                    return der
            elif certificate.key_identifier == signer.subject_key_identifier:
                return der
        except (ValueError, TypeError, KeyError):
            continue
    return None


def check_signature(content: SignedContent, spki_der: bytes) -> str | None:
    """Why the one SignerInfo's signature does not hold, or None when it does.

    Checks, in order: signed attributes present, their content type equals
    the eContentType, their message digest equals the digest of the content,
    and the signature over them verifies with the public key ``spki_der``.
    """
    signer = content.signer
    if signer.signed_attributes is None:
        return "the SignerInfo has no signed attributes"
    if signer.content_type != content.content_type:
        return (
            f"signed contentType {signer.content_type} differs from "
            f"eContentType {content.content_type}"
        )
    if signer.message_digest is None:
        return "the signed attributes have no messageDigest"
    digest = _hashlib_name(signer.digest_algorithm)
    if digest is None:
        return f"digest algorithm {signer.digest_algorithm} is not supported"
    if not hmac.compare_digest(
        hashlib.new(digest, content.content).digest(), signer.message_digest
    ):
        return f"messageDigest differs from the {digest} of the content"
    try:
        key = serialization.load_der_public_key(spki_der)
    except (ValueError, UnsupportedAlgorithm) as error:
        return f"the signer's public key cannot be used: {_one_line(error)}"
    try:
        _verify(key, signer, digest)
    except InvalidSignature:
        return "the signature does not verify with the signer's public key"
    except (ValueError, TypeError, KeyError, UnsupportedAlgorithm) as error:
        return f"the signature cannot be checked: {_one_line(error)}"
    return None


def _hashlib_name(name: str) -> str | None:
    return name if name in DIGESTS else None


def _verify(key: PublicKeyTypes, signer: SignerInfo, digest: str) -> None:
    assert signer.signed_attributes is not None
    verify_signature(
        key, signer._asn1["signature_algorithm"], signer.signed_attributes, signer.signature, digest
    )


def verify_signature(
    key: PublicKeyTypes,
    algorithm: algos.SignedDigestAlgorithm,
    data: bytes,
    signature: bytes,
    digest: str | None,
) -> None:
    """Check ``signature`` over ``data`` with a cryptography public key.

    ``algorithm`` is the asn1crypto SignedDigestAlgorithm; ``digest`` is the
    hash to use when the algorithm names none (rsaEncryption, bare ecdsa).
    Raises InvalidSignature, or ValueError/KeyError for what is not supported.
    """
    oid = algorithm["algorithm"].dotted
    if oid in ECDSA_PLAIN_HASHES:
        if not isinstance(key, ec.EllipticCurvePublicKey):
            raise ValueError("plain ECDSA signature with a non-EC key")
        half = len(signature) // 2
        if len(signature) % 2 or not half:
            raise InvalidSignature
        r = int.from_bytes(signature[:half], "big")
        s = int.from_bytes(signature[half:], "big")
        key.verify(encode_dss_signature(r, s), data, ec.ECDSA(DIGESTS[ECDSA_PLAIN_HASHES[oid]]()))
        return
    kind = algorithm.signature_algo
    if kind == "rsassa_pss":
        if not isinstance(key, rsa.RSAPublicKey):
            raise ValueError("RSA-PSS signature with a non-RSA key")
        params = algorithm["parameters"]
        pss_hash = params["hash_algorithm"]["algorithm"].native
        mgf = params["mask_gen_algorithm"]
        if mgf["algorithm"].native != "mgf1":
            raise ValueError(f"mask generation {mgf['algorithm'].dotted} is not MGF1")
        mgf_hash = mgf["parameters"]["algorithm"].native
        key.verify(
            signature,
            data,
            padding.PSS(
                mgf=padding.MGF1(DIGESTS[mgf_hash]()), salt_length=int(params["salt_length"].native)
            ),
            DIGESTS[pss_hash](),
        )
        return
    try:
        hash_name = algorithm.hash_algo
    except ValueError:  # rsaEncryption / bare ecdsa: the caller's digest algorithm says
        if digest is None:
            raise
        hash_name = digest
    if kind == "rsassa_pkcs1v15":
        if not isinstance(key, rsa.RSAPublicKey):
            raise ValueError("RSA signature with a non-RSA key")
        key.verify(signature, data, padding.PKCS1v15(), DIGESTS[hash_name]())
    elif kind == "ecdsa":
        if not isinstance(key, ec.EllipticCurvePublicKey):
            raise ValueError("ECDSA signature with a non-EC key")
        key.verify(signature, data, ec.ECDSA(DIGESTS[hash_name]()))
    else:
        raise ValueError(f"signature algorithm {oid} is not supported")


def certificate_signed_by(
    certificate: asn1_x509.Certificate, issuer: asn1_x509.Certificate
) -> bool:
    """Whether asn1crypto ``certificate``'s signature verifies with ``issuer``'s public key."""
    try:
        key = serialization.load_der_public_key(issuer.public_key.dump())
        verify_signature(
            key,
            certificate["signature_algorithm"],
            certificate["tbs_certificate"].dump(),
            bytes(certificate["signature_value"].native),
            None,
        )
    except (InvalidSignature, ValueError, TypeError, KeyError, UnsupportedAlgorithm):
        return False
    return True
