"""The few ASN.1 DER types the LDS's security objects need: OID, INTEGER, SubjectPublicKeyInfo.

Read on top of ``tlv`` so that a fault names the file and byte like any other.
"""

from __future__ import annotations

from egate.documents.lds.tlv import Tlv, encode_tlv, expect, tag_name

SEQUENCE, SET, INTEGER, BIT_STRING, OID = 0x30, 0x31, 0x02, 0x03, 0x06
# An INTEGER longer than this is no version, key id or parameter id.
MAX_INTEGER_BYTES = 16


def read_oid(obj: Tlv) -> str:
    """An OBJECT IDENTIFIER in dotted form ("0.4.0.127.0.7.2.2.4.2.2")."""
    data = expect(obj, OID).value
    if not data or data[-1] & 0x80:
        raise obj.error("object identifier empty or cut short")
    arcs: list[int] = []
    value = 0
    for index, byte in enumerate(data):
        if value == 0 and byte == 0x80:
            raise obj.error("object identifier arc padded", obj.value_offset + index)
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            arcs.append(value)
            value = 0
    first = min(arcs[0] // 40, 2)
    return ".".join(str(arc) for arc in (first, arcs[0] - 40 * first, *arcs[1:]))


def encode_oid(dotted: str) -> bytes:
    """An OBJECT IDENTIFIER's DER encoding."""
    return encode_tlv(OID, oid_contents(dotted))


def oid_contents(dotted: str) -> bytes:
    """An OBJECT IDENTIFIER's content octets: what APDU data objects (80, 06) carry."""
    try:
        arcs = [int(arc) for arc in dotted.split(".")]
    except ValueError:
        raise ValueError(f"{dotted!r} is not a dotted object identifier") from None
    if len(arcs) < 2 or not 0 <= arcs[0] <= 2 or min(arcs) < 0 or (arcs[0] < 2 and arcs[1] >= 40):
        raise ValueError(f"{dotted!r} is not an object identifier")
    body = b""
    for arc in (40 * arcs[0] + arcs[1], *arcs[2:]):
        chunk = [arc & 0x7F]
        while arc > 0x7F:
            arc >>= 7
            chunk.insert(0, 0x80 | (arc & 0x7F))
        body += bytes(chunk)
    return body


def read_integer(obj: Tlv, what: str) -> int:
    """A non-negative INTEGER (a version, a key id, a parameter id)."""
    data = expect(obj, INTEGER).value
    if not data or len(data) > MAX_INTEGER_BYTES:
        raise obj.error(f"{what} is an INTEGER of {len(data)} bytes")
    number = int.from_bytes(data, "big", signed=True)
    if number < 0:
        raise obj.error(f"{what} is negative")
    return number


def encode_integer(number: int) -> bytes:
    """A non-negative INTEGER's DER encoding (two's complement, fewest bytes)."""
    if number < 0:
        raise ValueError(f"negative INTEGER {number}")
    return encode_tlv(INTEGER, number.to_bytes(number.bit_length() // 8 + 1, "big", signed=True))


def read_spki(obj: Tlv) -> str:
    """Check a SubjectPublicKeyInfo's structure; its algorithm's OID."""
    parts = expect(obj, SEQUENCE).children()
    if len(parts) != 2:
        raise obj.error(f"SubjectPublicKeyInfo of {len(parts)} parts (2 expected)")
    algorithm = expect(parts[0], SEQUENCE).children()
    if not 1 <= len(algorithm) <= 2:
        raise parts[0].error("AlgorithmIdentifier of neither 1 nor 2 parts")
    key = expect(parts[1], BIT_STRING)
    if not key.value or key.value[0] != 0:
        raise key.error(f"{tag_name(BIT_STRING)}: public key bits missing or not whole bytes")
    return read_oid(algorithm[0])
