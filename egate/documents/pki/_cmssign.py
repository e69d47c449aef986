"""CMS SignedData made as ICAO uses it (EF.SOD, CSCA master lists): one signer, signed attributes.

Private to the PKI package, the making side of ``_cms`` (which reads and
checks): RSA PKCS#1 v1.5, RSA-PSS or ECDSA (X9.62 DER) with cryptography,
the structures with asn1crypto.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime

from asn1crypto import algos, cms
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from egate.documents.pki._cms import DIGESTS

SigningKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


def sign_content(
    content_type: str,
    content: bytes,
    certificate: x509.Certificate,
    key: SigningKey,
    *,
    digest: str,
    signing_time: datetime | None,
    pss: bool,
    extra_certificates: Sequence[x509.Certificate] = (),
) -> bytes:
    """A DER ContentInfo: SignedData v3 over ``content`` with signed attributes, one signer."""
    if digest not in DIGESTS:
        raise ValueError(f"digest {digest!r} is not one of {', '.join(DIGESTS)}")
    if pss and not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("RSA-PSS needs an RSA key")
    hash_algorithm = DIGESTS[digest]()
    attributes = [
        cms.CMSAttribute({"type": "content_type", "values": [content_type]}),
        cms.CMSAttribute(
            {"type": "message_digest", "values": [hashlib.new(digest, content).digest()]}
        ),
    ]
    if signing_time is not None:
        if signing_time.utcoffset() is None:
            raise ValueError("signing_time must be timezone-aware")
        attributes.append(
            cms.CMSAttribute(
                {
                    "type": "signing_time",
                    "values": [cms.Time({"utc_time": signing_time.astimezone(UTC)})],
                }
            )
        )
    signed_attributes = cms.CMSAttributes(attributes)
    to_sign = signed_attributes.dump()  # DER SET OF: asn1crypto sorts the attributes
    if isinstance(key, rsa.RSAPrivateKey):
        if pss:
            salt = hash_algorithm.digest_size
            signature = key.sign(
                to_sign,
                padding.PSS(mgf=padding.MGF1(hash_algorithm), salt_length=salt),
                hash_algorithm,
            )
            signature_algorithm = algos.SignedDigestAlgorithm(
                {
                    "algorithm": "rsassa_pss",
                    "parameters": algos.RSASSAPSSParams(
                        {
                            "hash_algorithm": {"algorithm": digest},
                            "mask_gen_algorithm": {
                                "algorithm": "mgf1",
                                "parameters": {"algorithm": digest},
                            },
                            "salt_length": salt,
                            "trailer_field": "trailer_field_bc",
                        }
                    ),
                }
            )
        else:
            signature = key.sign(to_sign, padding.PKCS1v15(), hash_algorithm)
            signature_algorithm = algos.SignedDigestAlgorithm({"algorithm": f"{digest}_rsa"})
    elif isinstance(key, ec.EllipticCurvePrivateKey):
        signature = key.sign(to_sign, ec.ECDSA(hash_algorithm))
        signature_algorithm = algos.SignedDigestAlgorithm({"algorithm": f"{digest}_ecdsa"})
    else:
        raise TypeError(f"unsupported signing key {type(key).__name__}")
    asn1_certificate = asn1_x509.Certificate.load(
        certificate.public_bytes(serialization.Encoding.DER)
    )
    signer = cms.SignerInfo(
        {
            "version": "v1",
            "sid": cms.SignerIdentifier(
                {
                    "issuer_and_serial_number": cms.IssuerAndSerialNumber(
                        {
                            "issuer": asn1_certificate.issuer,
                            "serial_number": asn1_certificate.serial_number,
                        }
                    )
                }
            ),
            "digest_algorithm": algos.DigestAlgorithm({"algorithm": digest}),
            "signed_attrs": signed_attributes,
            "signature_algorithm": signature_algorithm,
            "signature": signature,
        }
    )
    certificates = [asn1_certificate] + [
        asn1_x509.Certificate.load(extra.public_bytes(serialization.Encoding.DER))
        for extra in extra_certificates
    ]
    signed_data = cms.SignedData(
        {
            "version": "v3",
            "digest_algorithms": [algos.DigestAlgorithm({"algorithm": digest})],
            "encap_content_info": {"content_type": content_type, "content": content},
            "certificates": certificates,
            "signer_infos": [signer],
        }
    )
    return bytes(cms.ContentInfo({"content_type": "signed_data", "content": signed_data}).dump())
