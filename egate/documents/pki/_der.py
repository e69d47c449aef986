"""The structure of DER (and BER) bytes, checked with byte offsets before asn1crypto reads them.

Private to the PKI package: asn1crypto is lax about where a fault is, so
EF.SOD and CMS SignedData are walked here first, tag by tag and length by
length (definite or indefinite, nested), and a fault is reported through a
``Fail`` callback with the offset of the byte at fault.  The LDS's own
files, DER without indefinite lengths, are read by
``egate.documents.lds.tlv``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NoReturn

# What a parse error is made of: (message, byte offset or None).
Fail = Callable[[str, "int | None"], NoReturn]


def read_header(data: bytes, offset: int, end: int, fail: Fail) -> tuple[int, int, int, bool]:
    """(first tag byte, contents offset, contents length or -1 if indefinite, constructed)."""
    if offset >= end:
        fail("data ends where a tag was expected", offset)
    tag = data[offset]
    position = offset + 1
    if tag & 0x1F == 0x1F:  # high tag number: base-128 octets, the last without bit 8
        while True:
            if position >= end:
                fail("data ends inside a multi-byte tag", offset)
            more = data[position] & 0x80
            position += 1
            if not more:
                break
            if position - offset > 5:
                fail("tag number too long", offset)
    if position >= end:
        fail("data ends where a length was expected", position)
    first = data[position]
    position += 1
    constructed = bool(tag & 0x20)
    if first == 0x80:
        if not constructed:
            fail("indefinite length on a primitive value", position - 1)
        return tag, position, -1, True
    if first & 0x80:
        count = first & 0x7F
        if count > 4:
            fail(f"length field of {count} bytes", position - 1)
        if position + count > end:
            fail("data ends inside a length field", position - 1)
        length = int.from_bytes(data[position : position + count], "big")
        position += count
    else:
        length = first
    if position + length > end:
        fail(f"length {length} runs past the end of the data", offset)
    return tag, position, length, constructed


def walk(data: bytes, offset: int, end: int, fail: Fail, depth: int = 0) -> int:
    """Check that data[offset:end] is a sequence of well-formed TLVs; return where they end.

    Descends into constructed values so that the offset of a broken inner
    length is the one reported.  Returns the offset after an end-of-contents
    marker when one closes the run (indefinite lengths).
    """
    if depth > 40:
        fail("values nested too deep", offset)
    while offset < end:
        if data[offset] == 0x00 and offset + 1 < end and data[offset + 1] == 0x00 and depth:
            return offset + 2
        _, contents, length, constructed = read_header(data, offset, end, fail)
        if length < 0:
            offset = walk(data, contents, end, fail, depth + 1)
            continue
        if constructed:
            walk(data, contents, contents + length, fail, depth + 1)
        offset = contents + length
    return offset


def check_der(data: bytes, fail: Fail, base: int = 0) -> None:
    """Check that ``data`` is exactly one well-formed TLV (offsets reported from ``base``)."""

    def shifted(message: str, offset: int | None) -> NoReturn:
        fail(message, None if offset is None else offset + base)

    _, contents, length, constructed = read_header(data, 0, len(data), shifted)
    if length < 0:
        stop = walk(data, contents, len(data), shifted, 1)
    else:
        stop = contents + length
        if constructed:
            walk(data, contents, stop, shifted, 1)
    if stop != len(data):
        shifted(f"{len(data) - stop} bytes after the end of the value", stop)
