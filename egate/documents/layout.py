"""Where each field sits in the five MRZ formats of ICAO Doc 9303.

Positions are offsets into the MRZ's lines joined without separators, so a
field on the second line of a TD3 starts at 44 plus its column.  Keeping one
flat string makes composite check digits (which span lines) a plain join.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class MrzFormat(StrEnum):
    """The machine readable zone formats: three travel document sizes and two visas."""

    TD1 = "TD1"
    TD2 = "TD2"
    TD3 = "TD3"
    MRVA = "MRVA"
    MRVB = "MRVB"


@dataclass(frozen=True, slots=True)
class Layout:
    """The field positions of one MRZ format (offsets into the joined lines)."""

    format: MrzFormat
    line_count: int
    width: int
    document_code: slice
    issuing_state: slice
    name: slice
    document_number: slice
    document_number_check: int
    nationality: slice
    birth_date: slice
    birth_date_check: int
    sex: int
    expiry_date: slice
    expiry_date_check: int
    optional_data: slice
    optional_data_check: int | None
    optional_data_2: slice | None
    composite: tuple[slice, ...]
    composite_check: int | None
    # TD1 and TD2 let a document number longer than nine characters continue
    # in the optional data, with its check digit after it.
    long_document_number: bool
    # First letters that the document code may have in this format.
    document_letters: frozenset[str]

    @property
    def length(self) -> int:
        """Characters in the whole MRZ."""
        return self.line_count * self.width

    def locate(self, offset: int) -> tuple[int, int]:
        """The 1-based (line, column) of an offset."""
        return offset // self.width + 1, offset % self.width + 1


def _two_line(fmt: MrzFormat, width: int, optional_end: int, letters: str) -> Layout:
    """Layouts of TD2, TD3, MRV-A and MRV-B, whose second lines share their start."""
    second = width
    has_composite = fmt in (MrzFormat.TD2, MrzFormat.TD3)
    has_optional_check = fmt is MrzFormat.TD3
    optional = slice(second + 28, second + optional_end)
    composite_check = second + width - 1 if has_composite else None
    composite_end = second + width - 1
    return Layout(
        format=fmt,
        line_count=2,
        width=width,
        document_code=slice(0, 2),
        issuing_state=slice(2, 5),
        name=slice(5, width),
        document_number=slice(second, second + 9),
        document_number_check=second + 9,
        nationality=slice(second + 10, second + 13),
        birth_date=slice(second + 13, second + 19),
        birth_date_check=second + 19,
        sex=second + 20,
        expiry_date=slice(second + 21, second + 27),
        expiry_date_check=second + 27,
        optional_data=optional,
        optional_data_check=optional.stop if has_optional_check else None,
        optional_data_2=None,
        composite=(
            (
                slice(second, second + 10),
                slice(second + 13, second + 20),
                slice(second + 21, composite_end),
            )
            if has_composite
            else ()
        ),
        composite_check=composite_check,
        long_document_number=fmt is MrzFormat.TD2,
        document_letters=frozenset(letters),
    )


TD1 = Layout(
    format=MrzFormat.TD1,
    line_count=3,
    width=30,
    document_code=slice(0, 2),
    issuing_state=slice(2, 5),
    document_number=slice(5, 14),
    document_number_check=14,
    optional_data=slice(15, 30),
    optional_data_check=None,
    birth_date=slice(30, 36),
    birth_date_check=36,
    sex=37,
    expiry_date=slice(38, 44),
    expiry_date_check=44,
    nationality=slice(45, 48),
    optional_data_2=slice(48, 59),
    composite=(slice(5, 30), slice(30, 37), slice(38, 45), slice(48, 59)),
    composite_check=59,
    name=slice(60, 90),
    long_document_number=True,
    document_letters=frozenset("ACI"),
)
TD2 = _two_line(MrzFormat.TD2, 36, 35, "ACI")
TD3 = _two_line(MrzFormat.TD3, 44, 42, "P")
MRVA = _two_line(MrzFormat.MRVA, 44, 44, "V")
MRVB = _two_line(MrzFormat.MRVB, 36, 36, "V")

LAYOUTS: dict[MrzFormat, Layout] = {layout.format: layout for layout in (TD1, TD2, TD3, MRVA, MRVB)}


def long_number_extension(layout: Layout, text: str) -> slice | None:
    """Where a long document number continues in the optional data, check digit included.

    The principal nine characters are followed by ``<`` in the check digit's
    place; the rest of the number and then its check digit open the optional
    data, ended by a filler.
    """
    if not layout.long_document_number or text[layout.document_number_check] != "<":
        return None
    start = layout.optional_data.start
    stop = layout.optional_data.stop
    end = text.find("<", start, stop)
    if end == -1:
        end = stop
    return slice(start, end) if end > start else None
