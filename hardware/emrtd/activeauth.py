"""Active authentication (ICAO Doc 9303 part 11, section 6.1): the chip signs a fresh challenge.

(Past the ~400-line guideline with both sides of one short protocol, as
chipauth.py: the chip's signature and the terminal's check share the
ISO/IEC 9796-2 representative, the trailers and the hashes.)

A copied chip carries the data groups but not the private key, which never
leaves the chip.  The inspection system sends INTERNAL AUTHENTICATE
(``00 88 00 00``) with 8 random bytes; the chip signs them with the key whose
public half is in DG15, and the signature is checked against DG15:

* RSA: ISO/IEC 9796-2 digital signature scheme 1, partial message recovery.
  The chip picks a nonce M1, and signs the representative
  ``6A || M1 || H(M1 || challenge) || trailer``; the trailer is ``BC``
  (SHA-1) or ``xx CC`` with the ISO/IEC 10118-3 hash identifier ``xx``
  (33 SHA-1, 38 SHA-224, 34 SHA-256, 36 SHA-384, 35 SHA-512).  The terminal
  recovers the representative with the public key and recomputes the hash.
* ECDSA: the plain signature format of BSI TR-03111 (``r || s``, each as long
  as the curve order) over the challenge, with the hash named by DG14's
  ActiveAuthenticationInfo (a DER signature, seen from some chips, is read
  too).

``active_authenticate`` is the terminal; a signature that does not verify is
an ``AA_FAILED`` result with its reason, a card that refuses the command a
``StatusError``.  ``ActiveAuthenticator`` is the chip's side, for the virtual
chip.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from egate.documents.lds.protocols import ECDSA_PLAIN_HASHES
from hardware.emrtd.apdu import SHORT_MAX_NE, CommandApdu, ResponseApdu, Transport
from hardware.emrtd.errors import StatusError
from hardware.emrtd.iso7816 import (
    INS_INTERNAL_AUTHENTICATE,
    SW_INS,
    SW_SUCCESS,
    SW_WRONG_LENGTH,
    SW_WRONG_P1P2,
)

CHALLENGE_LENGTH = 8
COMMAND = "INTERNAL AUTHENTICATE"

# The hashes of active authentication, by their canonical names.
SHA1 = "SHA-1"
SHA224 = "SHA-224"
SHA256 = "SHA-256"
SHA384 = "SHA-384"
SHA512 = "SHA-512"

_CRYPTOGRAPHY_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    SHA1: hashes.SHA1,
    SHA224: hashes.SHA224,
    SHA256: hashes.SHA256,
    SHA384: hashes.SHA384,
    SHA512: hashes.SHA512,
}
# As hashlib (and egate.documents.lds.protocols) spell them: "sha256".
_HASHLIB_NAMES = {name: algorithm().name for name, algorithm in _CRYPTOGRAPHY_HASHES.items()}
# ISO/IEC 10118-3 hash identifiers, the ``xx`` of an ``xx CC`` trailer.
_TRAILER_HASH_IDS = {0x33: SHA1, 0x38: SHA224, 0x34: SHA256, 0x36: SHA384, 0x35: SHA512}
_HASH_TRAILER_IDS = {name: ident for ident, name in _TRAILER_HASH_IDS.items()}

# ActiveAuthenticationInfo's signatureAlgorithm: BSI TR-03111 ecdsa-plain-signatures.
_CANONICAL_NAMES = {spelt: name for name, spelt in _HASHLIB_NAMES.items()}
ECDSA_PLAIN_OIDS = {oid: _CANONICAL_NAMES[spelt] for oid, spelt in ECDSA_PLAIN_HASHES.items()}
_HASH_ECDSA_PLAIN_OIDS = {name: oid for oid, name in ECDSA_PLAIN_OIDS.items()}

# Tried in this order when DG14 names no hash for ECDSA (see verify_signature).
_ECDSA_FALLBACK_ORDER = (SHA256, SHA1, SHA384, SHA512, SHA224)

_HEADER = 0x6A  # '01' header, more-data bit 1 (partial recovery), then the 'A' border nibble.
_TRAILER_IMPLICIT = 0xBC
_TRAILER_EXPLICIT = 0xCC
MIN_RSA_BITS = 1024


def hash_name(name: str) -> str:
    """The canonical name ("SHA-256") of a hash spelt "sha256", "SHA_256"... ValueError if none."""
    compact = name.upper().replace("-", "").replace("_", "")
    for canonical in _HASHLIB_NAMES:
        if canonical.replace("-", "") == compact:
            return canonical
    raise ValueError(f"active authentication knows no hash {name!r}")


def hash_for_signature_algorithm(oid: str) -> str | None:
    """The hash an ActiveAuthenticationInfo signatureAlgorithm OID names (ecdsa-plain-SHA*)."""
    return ECDSA_PLAIN_OIDS.get(oid)


def signature_algorithm_for(hash_algorithm: str) -> str:
    """The ecdsa-plain-SHA* OID that names ``hash_algorithm`` in ActiveAuthenticationInfo."""
    return _HASH_ECDSA_PLAIN_OIDS[hash_name(hash_algorithm)]


def _digest(name: str, data: bytes) -> bytes:
    return hashlib.new(_HASHLIB_NAMES[name], data).digest()


class AaStatus(Enum):
    """The verdict of active authentication."""

    OK = "OK"
    # The chip did not prove it holds DG15's private key: a clone, or a broken chip.
    AA_FAILED = "AA_FAILED"
    # DG15 holds a key this terminal cannot check (DSA): no verdict on the chip.
    UNSUPPORTED = "UNSUPPORTED"


@dataclass(frozen=True, slots=True)
class AaResult:
    """How active authentication ended, with the challenge and signature as evidence."""

    status: AaStatus
    # "RSA-2048 ISO/IEC 9796-2" or "ECDSA brainpoolP256r1"
    algorithm: str
    # The hash the signature was (or was to be) checked with; None when none could be told.
    hash_algorithm: str | None
    challenge: bytes
    signature: bytes = field(repr=False)
    reason: str = ""

    @property
    def ok(self) -> bool:
        """Whether the chip proved it holds the private key of DG15."""
        return self.status is AaStatus.OK


# -- terminal ---------------------------------------------------------------------


def active_authenticate(
    transport: Transport,
    public_key: PublicKeyTypes,
    *,
    hash_algorithm: str | None = None,
    random: Callable[[int], bytes],
) -> AaResult:
    """Challenge the chip with INTERNAL AUTHENTICATE and check its signature against ``public_key``.

    ``public_key`` is DG15's key (RSA or EC).  ``hash_algorithm`` is the hash
    of DG14's ActiveAuthenticationInfo for ECDSA (see
    ``hash_for_signature_algorithm``); RSA signatures name their own hash in
    the trailer, so it is not used for them.  ``transport`` is normally the
    secure channel opened by BAC or PACE.  A card that answers with an error
    status raises ``StatusError``; a DG15 key other than RSA or EC gives an
    ``UNSUPPORTED`` result without asking the chip.
    """
    challenge = random(CHALLENGE_LENGTH)
    if len(challenge) != CHALLENGE_LENGTH:
        raise ValueError(
            f"random gave {len(challenge)} bytes for an {CHALLENGE_LENGTH}-byte challenge"
        )
    if not isinstance(public_key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
        # DG15 may hold a key type 9303 allows but this terminal does not check (DSA):
        # the chip is not asked at all.
        return AaResult(
            AaStatus.UNSUPPORTED,
            type(public_key).__name__,
            None,
            challenge,
            b"",
            f"DG15 holds a {type(public_key).__name__}: only RSA and ECDSA are supported",
        )
    response = transport.transmit(
        CommandApdu(
            0x00, INS_INTERNAL_AUTHENTICATE, 0x00, 0x00, challenge, _expected_length(public_key)
        )
    )
    signature = response.check(COMMAND)
    return verify_signature(public_key, challenge, signature, hash_algorithm=hash_algorithm)


def _expected_length(public_key: rsa.RSAPublicKey | ec.EllipticCurvePublicKey) -> int:
    if isinstance(public_key, rsa.RSAPublicKey):
        length = (public_key.key_size + 7) // 8
    else:
        length = 2 * _order_length(public_key.curve)
    # Le 00 (256) covers every signature up to RSA-2048; longer ones need extended length.
    return SHORT_MAX_NE if length <= SHORT_MAX_NE else length


def verify_signature(
    public_key: rsa.RSAPublicKey | ec.EllipticCurvePublicKey,
    challenge: bytes,
    signature: bytes,
    *,
    hash_algorithm: str | None = None,
) -> AaResult:
    """Check a chip's answer to ``challenge`` against DG15's ``public_key`` (no card involved).

    For ECDSA without ``hash_algorithm`` (a DG14 without ActiveAuthenticationInfo,
    against 9303 but seen in the field) each of SHA-256, SHA-1, SHA-384,
    SHA-512 and SHA-224 is tried and the one that verifies is reported: every
    one of them still needs the private key to sign this fresh challenge.
    """
    if isinstance(public_key, rsa.RSAPublicKey):
        return _verify_rsa(public_key, challenge, signature)
    return _verify_ecdsa(public_key, challenge, signature, hash_algorithm)


def _verify_rsa(public_key: rsa.RSAPublicKey, challenge: bytes, signature: bytes) -> AaResult:
    algorithm = f"RSA-{public_key.key_size} ISO/IEC 9796-2"

    def failed(reason: str, hash_used: str | None = None) -> AaResult:
        return AaResult(AaStatus.AA_FAILED, algorithm, hash_used, challenge, signature, reason)

    numbers = public_key.public_numbers()
    n, e = numbers.n, numbers.e
    if not signature:
        return failed("the chip answered with an empty signature")
    value = int.from_bytes(signature, "big")
    if value >= n:
        return failed(f"the {len(signature)}-byte signature is not smaller than the modulus")
    recovered = pow(value, e, n)
    # ISO/IEC 9796-2 lets the signer send min(s, n - s): the representative ends in nibble C.
    if recovered & 0x0F != 0x0C:
        recovered = n - recovered
        if recovered & 0x0F != 0x0C:
            return failed("the recovered message representative ends in neither BC nor CC")
    representative = recovered.to_bytes(_representative_length(public_key.key_size), "big")
    try:
        m1, digest, hash_used = decode_representative(representative)
    except ValueError as error:
        return failed(str(error))
    if not hmac.compare_digest(_digest(hash_used, m1 + challenge), digest):
        return failed(
            f"the recovered {hash_used} hash is not that of M1 and the challenge", hash_used
        )
    return AaResult(AaStatus.OK, algorithm, hash_used, challenge, signature)


def _representative_length(key_size: int) -> int:
    # The representative has one bit fewer than the modulus (it must stay below it).
    return (key_size + 6) // 8


def decode_representative(representative: bytes) -> tuple[bytes, bytes, str]:
    """(M1, hash, hash name) of an ISO/IEC 9796-2 scheme 1 representative with partial recovery.

    ``representative`` is ``6A || M1 || hash || BC`` or ``... || hash || xx CC``;
    ValueError says what is wrong with it.
    """
    if len(representative) < 2:
        raise ValueError(f"a {len(representative)}-byte message representative is too short")
    if representative[0] != _HEADER:
        raise ValueError(
            f"the message representative starts with {representative[0]:02X}, not 6A "
            "(ISO/IEC 9796-2 scheme 1 with partial recovery)"
        )
    if representative[-1] == _TRAILER_IMPLICIT:
        hash_used, trailer_length = SHA1, 1
    elif representative[-1] == _TRAILER_EXPLICIT:
        hash_id = representative[-2]
        if hash_id not in _TRAILER_HASH_IDS:
            raise ValueError(f"the trailer {hash_id:02X}CC names no supported hash")
        hash_used, trailer_length = _TRAILER_HASH_IDS[hash_id], 2
    else:
        raise ValueError(
            f"the message representative ends in {representative[-1]:02X}, not BC or CC"
        )
    hash_length = hashlib.new(_HASHLIB_NAMES[hash_used]).digest_size
    m1_end = len(representative) - trailer_length - hash_length
    if m1_end < 1:
        raise ValueError(
            f"a {len(representative)}-byte message representative cannot hold a {hash_used} hash"
        )
    return representative[1:m1_end], representative[m1_end:-trailer_length], hash_used


def _verify_ecdsa(
    public_key: ec.EllipticCurvePublicKey,
    challenge: bytes,
    signature: bytes,
    hash_algorithm: str | None,
) -> AaResult:
    algorithm = f"ECDSA {public_key.curve.name}"
    wanted = hash_name(hash_algorithm) if hash_algorithm is not None else None

    def failed(reason: str) -> AaResult:
        return AaResult(AaStatus.AA_FAILED, algorithm, wanted, challenge, signature, reason)

    length = _order_length(public_key.curve)
    if len(signature) == 2 * length:
        r = int.from_bytes(signature[:length], "big")
        s = int.from_bytes(signature[length:], "big")
        der = encode_dss_signature(r, s)
    elif _is_der(signature):
        # 9303 asks for the plain format; a chip sending X9.62 DER still proves its key.
        der = signature
    else:
        return failed(
            f"the ECDSA signature has {len(signature)} bytes, the plain format on "
            f"{public_key.curve.name} {2 * length}, and is not DER either"
        )
    candidates = (wanted,) if wanted is not None else _ECDSA_FALLBACK_ORDER
    for candidate in candidates:
        try:
            public_key.verify(der, challenge, ec.ECDSA(_CRYPTOGRAPHY_HASHES[candidate]()))
        except InvalidSignature:
            continue
        return AaResult(AaStatus.OK, algorithm, candidate, challenge, signature)
    tried = wanted if wanted is not None else "any of " + ", ".join(candidates)
    return failed(f"the ECDSA signature does not verify with {tried}")


def _is_der(signature: bytes) -> bool:
    """Whether ``signature`` is exactly the DER SEQUENCE of two INTEGERs r and s."""
    try:
        r, s = decode_dss_signature(signature)
    except ValueError:
        return False
    return encode_dss_signature(r, s) == signature


def _order_length(curve: ec.EllipticCurve) -> int:
    # The named curves of eMRTDs have an order as long as their field.
    return (curve.key_size + 7) // 8


# -- chip -------------------------------------------------------------------------


class ActiveAuthenticator:
    """The chip's side of active authentication: signs the terminal's challenge with its key.

    ``hash_algorithm`` defaults to SHA-1 for RSA (trailer BC, which every
    inspection system reads) and SHA-256 for ECDSA.  With RSA,
    ``explicit_trailer`` writes SHA-1 as ``33 CC`` instead of ``BC``; other
    hashes always carry their ``xx CC``.  ``random`` draws the nonce M1.
    """

    def __init__(
        self,
        private_key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey,
        hash_algorithm: str | None = None,
        *,
        random: Callable[[int], bytes],
        explicit_trailer: bool = False,
    ) -> None:
        if isinstance(private_key, rsa.RSAPrivateKey):
            if private_key.key_size < MIN_RSA_BITS or private_key.key_size % 8:
                raise ValueError(
                    f"an RSA active-authentication key has a multiple of 8 bits from "
                    f"{MIN_RSA_BITS}, not {private_key.key_size}"
                )
            default = SHA1
        elif isinstance(private_key, ec.EllipticCurvePrivateKey):
            default = SHA256
        else:
            raise ValueError(
                f"active authentication signs with RSA or EC keys, not {type(private_key).__name__}"
            )
        self._key = private_key
        self._hash = hash_name(hash_algorithm) if hash_algorithm is not None else default
        self._random = random
        self._explicit = explicit_trailer

    @property
    def hash_algorithm(self) -> str:
        """The hash the chip signs with."""
        return self._hash

    @property
    def signature_algorithm(self) -> str | None:
        """For ECDSA the OID of DG14's ActiveAuthenticationInfo (ecdsa-plain-SHA*); None for RSA."""
        if isinstance(self._key, ec.EllipticCurvePrivateKey):
            return signature_algorithm_for(self._hash)
        return None

    def public_key(self) -> rsa.RSAPublicKey | ec.EllipticCurvePublicKey:
        """The public key DG15 carries."""
        return self._key.public_key()

    def internal_authenticate(self, challenge: bytes) -> bytes:
        """The signature over ``challenge`` (StatusError 6700 unless it has 8 bytes)."""
        if len(challenge) != CHALLENGE_LENGTH:
            raise StatusError(COMMAND, SW_WRONG_LENGTH)
        if isinstance(self._key, rsa.RSAPrivateKey):
            return self._sign_rsa(self._key, challenge)
        der = self._key.sign(challenge, ec.ECDSA(_CRYPTOGRAPHY_HASHES[self._hash]()))
        r, s = decode_dss_signature(der)
        length = _order_length(self._key.curve)
        return r.to_bytes(length, "big") + s.to_bytes(length, "big")

    def respond(self, command: CommandApdu) -> ResponseApdu:
        """The answer to INTERNAL AUTHENTICATE (a command unwrapped from secure messaging)."""
        if command.ins != INS_INTERNAL_AUTHENTICATE:
            return ResponseApdu(b"", SW_INS)
        if command.p1 or command.p2:
            return ResponseApdu(b"", SW_WRONG_P1P2)
        try:
            return ResponseApdu(self.internal_authenticate(command.data), SW_SUCCESS)
        except StatusError as error:
            return ResponseApdu(b"", error.sw)

    def _sign_rsa(self, key: rsa.RSAPrivateKey, challenge: bytes) -> bytes:
        if self._hash == SHA1 and not self._explicit:
            trailer = bytes((_TRAILER_IMPLICIT,))
        else:
            trailer = bytes((_HASH_TRAILER_IDS[self._hash], _TRAILER_EXPLICIT))
        hash_length = hashlib.new(_HASHLIB_NAMES[self._hash]).digest_size
        size = key.key_size // 8
        m1 = self._random(size - 1 - hash_length - len(trailer))
        representative = bytes((_HEADER,)) + m1 + _digest(self._hash, m1 + challenge) + trailer
        signature = _rsa_private(key, int.from_bytes(representative, "big"))
        return signature.to_bytes(size, "big")


def _rsa_private(key: rsa.RSAPrivateKey, value: int) -> int:
    """Raw RSA with the private key, by the CRT (cryptography offers no ISO/IEC 9796-2 padding)."""
    numbers = key.private_numbers()
    m1 = pow(value, numbers.dmp1, numbers.p)
    m2 = pow(value, numbers.dmq1, numbers.q)
    h = numbers.iqmp * (m1 - m2) % numbers.p
    return m2 + h * numbers.q
