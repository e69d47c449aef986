"""DG15 (Doc 9303 part 10 §4.7.15): the active authentication public key.

Tag 6F holding a SubjectPublicKeyInfo: RSA (checked with ISO/IEC 9796-2) or
EC (ECDSA, its hash named by DG14's ActiveAuthenticationInfo).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePublicKey
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    PublicFormat,
    load_der_public_key,
)

from egate.documents.lds.der import read_spki
from egate.documents.lds.errors import LdsError
from egate.documents.lds.tlv import encode_length, encode_tlv, read_file_tlv

FILE = "DG15"
DG15_TAG = 0x6F
ALGORITHMS = {"1.2.840.113549.1.1.1": "rsa", "1.2.840.10045.2.1": "ec"}


@dataclass(frozen=True, slots=True)
class Dg15:
    """The active authentication key: its algorithm ("rsa" or "ec") and SubjectPublicKeyInfo."""

    algorithm: str
    public_key_info: bytes = field(repr=False)

    def public_key(self) -> RSAPublicKey | EllipticCurvePublicKey:
        """The key, loaded; ``LdsError`` if it cannot be (a curve OpenSSL does not know)."""
        # Where the key starts in the file: after 6F and its length.
        offset = 1 + len(encode_length(len(self.public_key_info)))
        try:
            key = load_der_public_key(self.public_key_info)
        except (ValueError, UnsupportedAlgorithm) as error:
            raise LdsError(FILE, offset, f"the public key cannot be loaded: {error}") from None
        if not isinstance(key, RSAPublicKey | EllipticCurvePublicKey):
            raise LdsError(FILE, offset, f"a {type(key).__name__}, neither RSA nor EC")
        return key


def parse_dg15(raw: bytes) -> Dg15:
    """DG15's public key; ``LdsError`` if the bytes are not a DG15."""
    dg15 = read_file_tlv(raw, FILE, DG15_TAG)
    children = dg15.children()
    if len(children) != 1:
        raise dg15.error(f"DG15 holds {len(children)} data objects (one key expected)")
    spki = children[0]
    algorithm = read_spki(spki)
    if algorithm not in ALGORITHMS:
        raise spki.error(f"public key algorithm {algorithm} is neither RSA nor EC")
    return Dg15(ALGORITHMS[algorithm], raw[spki.offset : spki.end])


def encode_dg15(public_key: RSAPublicKey | EllipticCurvePublicKey | bytes) -> bytes:
    """DG15 for a key object or a SubjectPublicKeyInfo's DER."""
    if isinstance(public_key, bytes):
        spki = public_key
    else:
        spki = public_key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    parse_dg15(encode_tlv(DG15_TAG, spki))  # refuse what a reader would refuse
    return encode_tlv(DG15_TAG, spki)
