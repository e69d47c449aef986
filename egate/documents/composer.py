"""Writing a valid MRZ from document data: the inverse of ``parse_mrz``.

Training scenarios describe travellers by their data and let egate write the
MRZ (:mod:`egate.documents.forgery` writes it with deliberate defects); tests
generate documents of every format.  Names are written in the
MRZ alphabet (spaces, hyphens and commas become fillers, apostrophes vanish)
and cut to the field when too long; other characters must be transliterated
by the caller, since that depends on the issuing state's rules.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from egate.documents.checkdigit import MRZ_ALPHABET, check_digit
from egate.documents.dates import MrzDate
from egate.documents.layout import LAYOUTS, Layout, MrzFormat

_Put = Callable[[slice | int, str], None]


class MrzCompositionError(ValueError):
    """The data cannot be written into the chosen MRZ format."""


@dataclass(frozen=True, slots=True)
class DocumentData:
    """What an MRZ is written from."""

    format: MrzFormat
    document_type: str
    issuing_state: str
    surname: str
    given_names: str
    document_number: str
    nationality: str
    birth_date: MrzDate | date | None
    sex: str | None
    expiry_date: date
    optional_data: str = ""
    optional_data_2: str = ""


def mrz_name(text: str) -> str:
    """A name in MRZ characters: upper case, separators as ``<``."""
    cleaned = text.upper().replace("'", "")
    for separator in " -,":
        cleaned = cleaned.replace(separator, "<")
    bad = sorted({char for char in cleaned if char not in MRZ_ALPHABET or char.isdigit()})
    if bad:
        raise MrzCompositionError(
            f"name {text!r} has characters the MRZ cannot hold: {''.join(bad)!r}"
        )
    return cleaned


def _field(value: str, width: int, what: str) -> str:
    if len(value) > width:
        raise MrzCompositionError(f"{what} {value!r} is longer than {width} characters")
    bad = sorted({char for char in value if char not in MRZ_ALPHABET})
    if bad:
        raise MrzCompositionError(f"{what} {value!r} has characters outside A-Z, 0-9, <")
    return value.ljust(width, "<")


def _width(part: slice) -> int:
    return int(part.stop) - int(part.start)


def _names(data: DocumentData, width: int) -> str:
    surname = mrz_name(data.surname)
    given = mrz_name(data.given_names)
    joined = f"{surname}<<{given}" if given else surname
    return joined[:width].ljust(width, "<")


def compose_mrz(data: DocumentData) -> tuple[str, ...]:
    """The MRZ lines of ``data``, with every check digit computed."""
    layout = LAYOUTS[data.format]
    text = ["<"] * layout.length

    def put(part: slice | int, value: str) -> None:
        start = part if isinstance(part, int) else part.start
        text[start : start + len(value)] = value

    put(layout.document_code, _field(data.document_type, 2, "document type"))
    put(layout.issuing_state, _field(data.issuing_state, 3, "issuing state"))
    put(layout.name, _names(data, _width(layout.name)))
    put(layout.nationality, _field(data.nationality, 3, "nationality"))
    birth = data.birth_date
    birth_text = (
        "<<<<<<"
        if birth is None
        else (birth if isinstance(birth, MrzDate) else MrzDate.of(birth)).to_mrz()
    )
    put(layout.birth_date, birth_text)
    put(layout.birth_date_check, _digit(birth_text))
    # Vetted like every other field: a longer value would spill into the expiry date.
    put(layout.sex, _field(data.sex or "<", 1, "sex"))
    expiry_text = MrzDate.of(data.expiry_date).to_mrz()
    put(layout.expiry_date, expiry_text)
    put(layout.expiry_date_check, _digit(expiry_text))
    _put_number_and_optional(layout, data, put)
    if layout.optional_data_2 is not None:
        put(layout.optional_data_2, _field(data.optional_data_2, 11, "optional data 2"))
    elif data.optional_data_2:
        raise MrzCompositionError(f"{data.format.value} has no second optional data field")
    if layout.composite_check is not None:
        joined = "".join(text)
        put(layout.composite_check, _digit("".join(joined[part] for part in layout.composite)))
    joined = "".join(text)
    return tuple(joined[i : i + layout.width] for i in range(0, layout.length, layout.width))


def _digit(data: str) -> str:
    digit = check_digit(data)
    if digit is None:  # _field has vetted every character already
        raise MrzCompositionError(f"{data!r} has characters outside A-Z, 0-9, <")
    return digit


def _put_number_and_optional(layout: Layout, data: DocumentData, put: _Put) -> None:
    number = data.document_number
    optional_width = _width(layout.optional_data)
    if len(number) <= 9:
        put(layout.document_number, _field(number, 9, "document number"))
        put(layout.document_number_check, _digit(number.ljust(9, "<")))
        optional = _field(data.optional_data, optional_width, "optional data")
    elif layout.long_document_number:
        # Nine characters in place, a filler for the check digit, the rest of
        # the number and its check digit at the start of the optional data.
        rest = number[9:] + _digit(_field(number, len(number), "document number"))
        room = optional_width - len(rest) - 1
        if room < 0:
            raise MrzCompositionError(
                f"document number {number!r} is too long for {data.format.value}"
            )
        put(layout.document_number, number[:9])
        put(layout.document_number_check, "<")
        optional = rest + "<" + _field(data.optional_data, room, "optional data")
    else:
        raise MrzCompositionError(
            f"{data.format.value} holds document numbers of at most 9 characters"
        )
    put(layout.optional_data, optional)
    if layout.optional_data_check is not None:
        # An unused personal number carries a filler as its check digit.
        put(layout.optional_data_check, _digit(optional) if optional.strip("<") else "<")
