"""What the headers of a JPEG or JPEG 2000 file say, read without decoding a pixel.

Two facts decide what decoding will cost before the decoder starts:

* a progressive JPEG is decoded once per *scan*, over the whole picture, so
  a few kilobytes of near-empty scans can keep libjpeg busy for seconds;
  ``jpeg_scan_count`` counts them;
* a JPEG 2000 codestream can be decoded at 1/2, 1/4, ... of its size, but
  only down to its number of wavelet decomposition levels;
  ``j2k_decomposition_levels`` reads it.

Both walk marker segments by their lengths, never raise, and give up (with
what they have) on data that does not follow the format: the decoder then
reports it.
"""

from __future__ import annotations

import re

JP2_SIGNATURE = b"\x00\x00\x00\x0cjP  \r\n\x87\n"
J2K_SIGNATURE = b"\xff\x4f\xff\x51"  # SOC then SIZ: a raw codestream

# In entropy-coded data 0xFF is followed by 0x00 (a stuffed byte), a restart
# marker (D0-D7) or another 0xFF (fill); anything else is the next marker.
_MARKER_AFTER_SCAN = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")
# JPEG markers without a length field: TEM, RST0-7, SOI.
_STANDALONE = frozenset({0x01, *range(0xD0, 0xD9)})
_SOS, _EOI = 0xDA, 0xD9

# JPEG 2000 main-header markers.
_SIZ, _COD, _COC, _SOT = 0xFF51, 0xFF52, 0xFF53, 0xFF90


def _u16(data: bytes, at: int) -> int:
    return int.from_bytes(data[at : at + 2], "big")


def _u32(data: bytes, at: int) -> int:
    return int.from_bytes(data[at : at + 4], "big")


def jpeg_scan_count(data: bytes) -> int:
    """Scans (SOS segments) of the first image in a JPEG; an embedded thumbnail is not counted."""
    scans = 0
    at = 2  # after SOI
    end = len(data)
    while at + 1 < end:
        if data[at] != 0xFF:
            break
        marker = data[at + 1]
        if marker == 0xFF:  # fill byte before a marker
            at += 1
            continue
        if marker == _EOI:
            break
        if marker in _STANDALONE:
            at += 2
            continue
        length = _u16(data, at + 2)
        if at + 4 > end or length < 2:
            break
        at += 2 + length
        if marker == _SOS:
            scans += 1
            after = _MARKER_AFTER_SCAN.search(data, at)
            if after is None:
                break
            at = after.start()
    return scans


def _j2k_codestream(data: bytes) -> int | None:
    """Where the codestream starts: 0 for a raw one, inside the jp2c box of a JP2 file."""
    if data.startswith(J2K_SIGNATURE):
        return 0
    if not data.startswith(JP2_SIGNATURE):
        return None
    at = 0
    while at + 8 <= len(data):
        length, kind, header = _u32(data, at), data[at + 4 : at + 8], 8
        if length == 1:  # the length follows as 64 bits
            length, header = int.from_bytes(data[at + 8 : at + 16], "big"), 16
        elif length == 0:  # the box runs to the end of the file
            length = len(data) - at
        if kind == b"jp2c":
            return at + header
        if length < header:
            return None
        at += length
    return None


def j2k_decomposition_levels(data: bytes) -> int | None:
    """The fewest wavelet decomposition levels the main header gives any component.

    ``None`` when the file is not JPEG 2000 or its main header cannot be read.
    Decoding may drop at most this many resolution levels.
    """
    start = _j2k_codestream(data)
    if start is None or _u16(data, start) != 0xFF4F:
        return None
    at = start + 2
    components = 0
    levels: int | None = None
    while at + 4 <= len(data):
        marker, length = _u16(data, at), _u16(data, at + 2)
        if marker == _SOT or length < 2:
            break
        segment = data[at + 4 : at + 2 + length]
        found: int | None = None
        if marker == _SIZ and len(segment) >= 36:
            components = _u16(segment, 34)
        elif marker == _COD and len(segment) >= 6:
            # Scod, then SGcod (progression, layers, transform), then SPcod: levels first.
            found = segment[5]
        elif marker == _COC:
            # Ccoc is one byte below 257 components, two from there; then Scoc, then levels.
            index = (1 if components < 257 else 2) + 1
            found = segment[index] if len(segment) > index else None
        if found is not None:
            levels = found if levels is None else min(levels, found)
        at += 2 + length
    return levels
