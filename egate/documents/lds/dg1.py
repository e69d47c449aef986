"""DG1 (Doc 9303 part 10 §4.7.1): the MRZ as the chip holds it.

DG1 is tag 61 holding 5F1F, the MRZ's characters with no line breaks; the
length says the format: 90 is TD1 (3 lines of 30), 72 TD2 (2 of 36), 88 TD3
(2 of 44).  Reading the fields is ``egate.documents.mrz``'s work.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from egate.documents.lds.tlv import encode_tlv, expect, read_file_tlv, read_tlvs

FILE = "DG1"
DG1_TAG = 0x61
MRZ_TAG = 0x5F1F

# Total length -> (format, line count, line width).
FORMATS = {90: ("TD1", 3, 30), 72: ("TD2", 2, 36), 88: ("TD3", 2, 44)}
_NOT_MRZ = re.compile(rb"[^0-9A-Z<]")


@dataclass(frozen=True, slots=True)
class Dg1:
    """The MRZ read from the chip, as lines.  Personal data: its repr shows the format only."""

    lines: tuple[str, ...]

    @property
    def format(self) -> str:
        """ "TD1", "TD2" or "TD3"."""
        return FORMATS[sum(len(line) for line in self.lines)][0]

    def __repr__(self) -> str:
        return f"Dg1(format={self.format!r}, lines=<redacted>)"


def parse_dg1(raw: bytes) -> Dg1:
    """DG1's MRZ lines; ``LdsError`` if the bytes are not a DG1."""
    dg1 = read_file_tlv(raw, FILE, DG1_TAG)
    children = read_tlvs(dg1.value, FILE, base=dg1.value_offset)
    if not children:
        raise dg1.error("5F1F (the MRZ) missing")
    if len(children) > 1:
        raise children[1].error("DG1 holds more than the MRZ")
    mrz = expect(children[0], MRZ_TAG)
    if len(mrz.value) not in FORMATS:
        raise mrz.error(f"an MRZ of {len(mrz.value)} characters (90, 72 or 88 expected)")
    bad = _NOT_MRZ.search(mrz.value)
    if bad is not None:
        raise mrz.error(
            f"byte {bad.group()[0]:02X} is not an MRZ character", mrz.value_offset + bad.start()
        )
    _, count, width = FORMATS[len(mrz.value)]
    text = mrz.value.decode("ascii")
    return Dg1(tuple(text[i * width : (i + 1) * width] for i in range(count)))


def encode_dg1(mrz_lines: Sequence[str] | str) -> bytes:
    """DG1 for an MRZ given as its lines (or one string, lines split by newlines)."""
    lines = mrz_lines.splitlines() if isinstance(mrz_lines, str) else list(mrz_lines)
    text = "".join(lines)
    if len(text) not in FORMATS:
        raise ValueError(f"an MRZ of {len(text)} characters (90, 72 or 88 expected)")
    name, count, width = FORMATS[len(text)]
    if len(lines) != count or any(len(line) != width for line in lines):
        raise ValueError(f"a {name} MRZ is {count} lines of {width} characters")
    if _NOT_MRZ.search(text.encode("ascii", errors="replace")):
        raise ValueError("the MRZ holds characters other than 0-9, A-Z and <")
    return encode_tlv(DG1_TAG, encode_tlv(MRZ_TAG, text.encode("ascii")))
