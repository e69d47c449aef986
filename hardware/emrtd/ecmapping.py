"""PACE's elliptic curves: standardized domain parameters, points, generic mapping, key agreement.

PACE (ICAO Doc 9303 part 11 §4.4) with the Generic Mapping runs two
elliptic-curve Diffie-Hellman exchanges.  The first, on the curve's own
generator G, yields a point H; with the nonce s the chip sent (encrypted
under the password) both sides map the generator to G~ = s·G + H.  The
second exchange runs on G~, and the x-coordinate of its result is the shared
secret the session keys come from.  Without the password s is unknown, G~
differs, and the keys do not match.

``cryptography`` does ECDH on named curves with their standard generator and
returns only an x-coordinate; the mapping needs whole points and a second
generator, so the point arithmetic here is ``ecdsa``'s (its curve tables hold
the Brainpool and NIST curves of Doc 9303's standardized domain parameters).
That arithmetic is not constant-time: fine for an inspection system and a
simulated chip, not for a production card.

Points arrive from the other side as uncompressed octet strings
(04 || X || Y, BSI TR-03111); ``decode_point`` accepts only points on the
curve (never the point at infinity), since every curve here has cofactor 1.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ecdsa import curves
from ecdsa.ellipticcurve import INFINITY, PointJacobi

from egate.documents.lds.protocols import STANDARD_DOMAIN_PARAMETERS
from hardware.emrtd.errors import ProtocolError

Random = Callable[[int], bytes]


@dataclass(frozen=True, slots=True)
class EcPoint:
    """An affine point of a curve (never the point at infinity)."""

    x: int
    y: int


@dataclass(frozen=True, slots=True)
class DomainParameters:
    """One set of Doc 9303 standardized elliptic-curve domain parameters (part 11 §9.5.1)."""

    parameter_id: int
    name: str
    _curve: Any = field(repr=False, compare=False)  # ecdsa.curves.Curve

    @property
    def order(self) -> int:
        """The order n of the generator (every curve here has cofactor 1)."""
        return int(self._curve.order)

    @property
    def prime(self) -> int:
        """The field prime p."""
        return int(self._curve.curve.p())

    @property
    def field_size(self) -> int:
        """Bytes of one field element: the length of a coordinate and of the shared secret."""
        return (self.prime.bit_length() + 7) // 8

    @property
    def generator(self) -> EcPoint:
        """The curve's standard generator G."""
        x, y = self._curve.generator.x(), self._curve.generator.y()
        return EcPoint(int(x), int(y))

    def contains(self, point: EcPoint) -> bool:
        """Whether ``point`` lies on the curve with coordinates in the field."""
        p = self.prime
        return (
            0 <= point.x < p
            and 0 <= point.y < p
            and bool(self._curve.curve.contains_point(point.x, point.y))
        )

    def _jacobi(self, point: EcPoint) -> PointJacobi:
        if point == self.generator:
            # The library's generator carries precomputed multiples.
            return self._curve.generator
        return PointJacobi(self._curve.curve, point.x, point.y, 1, self._curve.order)

    def _affine(self, point: PointJacobi, what: str) -> EcPoint:
        if point == INFINITY:
            raise ProtocolError(f"PACE: {what} is the point at infinity")
        return EcPoint(int(point.x()), int(point.y()))

    def multiply(self, scalar: int, point: EcPoint, what: str = "the product") -> EcPoint:
        """scalar · point (ProtocolError naming ``what`` if the result is the point at infinity)."""
        return self._affine(self._jacobi(point) * scalar, what)

    def add(self, a: EcPoint, b: EcPoint, what: str = "the sum") -> EcPoint:
        """a + b (ProtocolError naming ``what`` if the sum is the point at infinity)."""
        return self._affine(self._jacobi(a) + self._jacobi(b), what)


# Doc 9303 part 11 §9.5.1, standardized domain parameters
# (egate.documents.lds.protocols): the finite-field (DH) groups are not
# supported here, the elliptic curves are, as ecdsa has them.
_ECDSA_CURVES = {
    "secp192r1": curves.NIST192p,
    "brainpoolP192r1": curves.BRAINPOOLP192r1,
    "secp224r1": curves.NIST224p,
    "brainpoolP224r1": curves.BRAINPOOLP224r1,
    "secp256r1": curves.NIST256p,
    "brainpoolP256r1": curves.BRAINPOOLP256r1,
    "brainpoolP320r1": curves.BRAINPOOLP320r1,
    "secp384r1": curves.NIST384p,
    "brainpoolP384r1": curves.BRAINPOOLP384r1,
    "brainpoolP512r1": curves.BRAINPOOLP512r1,
    "secp521r1": curves.NIST521p,
}
_DOMAINS = {
    pid: DomainParameters(pid, name, _ECDSA_CURVES[name])
    for pid, name in STANDARD_DOMAIN_PARAMETERS.items()
    if name in _ECDSA_CURVES
}
STANDARDIZED_PARAMETER_IDS = tuple(_DOMAINS)


def domain_parameters(parameter_id: int) -> DomainParameters:
    """The standardized ECDH domain parameters ``parameter_id`` (ProtocolError if unsupported)."""
    try:
        return _DOMAINS[parameter_id]
    except KeyError:
        raise ProtocolError(
            f"PACE: standardized domain parameters {parameter_id} are not supported "
            f"(elliptic curves {min(_DOMAINS)}..{max(_DOMAINS)} only)"
        ) from None


def encode_point(domain: DomainParameters, point: EcPoint) -> bytes:
    """The uncompressed encoding 04 || X || Y, each coordinate on the field's length."""
    size = domain.field_size
    return b"\x04" + point.x.to_bytes(size, "big") + point.y.to_bytes(size, "big")


def decode_point(domain: DomainParameters, data: bytes, what: str) -> EcPoint:
    """A public point from its uncompressed encoding, checked to lie on the curve.

    ``what`` names the key in the ProtocolError raised for a malformed point,
    one off the curve or the point at infinity.
    """
    size = domain.field_size
    if len(data) != 1 + 2 * size or data[0] != 0x04:
        raise ProtocolError(
            f"PACE: {what} is not an uncompressed {domain.name} point "
            f"({1 + 2 * size} bytes starting 04 expected, got {len(data)})"
        )
    point = EcPoint(
        int.from_bytes(data[1 : 1 + size], "big"), int.from_bytes(data[1 + size :], "big")
    )
    if not domain.contains(point):
        raise ProtocolError(f"PACE: {what} is not a point of {domain.name}")
    return point


def generate_private_key(domain: DomainParameters, random: Random) -> int:
    """A private key uniform in 1..n-1, drawn from ``random`` by rejection.

    Each draw is as many bytes as the order, the excess high bits cleared, so
    that a test can hand in a published private key as the random bytes.
    """
    n = domain.order
    length = (n.bit_length() + 7) // 8
    excess = length * 8 - n.bit_length()
    for _ in range(256):
        draw = random(length)
        if len(draw) != length:
            raise ValueError(f"random source returned {len(draw)} bytes, {length} asked")
        candidate = int.from_bytes(draw, "big") & ((1 << (length * 8 - excess)) - 1)
        if 1 <= candidate < n:
            return candidate
    raise ValueError("random source gave no private key in 256 draws")


def map_generator(domain: DomainParameters, nonce: bytes, h: EcPoint) -> EcPoint:
    """The Generic Mapping (part 11 §4.4.3.3.1): G~ = s·G + H, s the decrypted nonce's integer."""
    s = int.from_bytes(nonce, "big")
    if s % domain.order == 0:
        # s·G would be the point at infinity; G~ = H is then known to anyone.
        raise ProtocolError("PACE: the nonce is a multiple of the group order")
    return domain.add(domain.multiply(s, domain.generator, "s·G"), h, "the mapped generator")


def shared_secret(domain: DomainParameters, private_key: int, public: EcPoint, what: str) -> bytes:
    """The ECDH shared secret: the x-coordinate of private_key · public, on the field's length."""
    point = domain.multiply(private_key, public, f"the shared point with {what}")
    return point.x.to_bytes(domain.field_size, "big")
