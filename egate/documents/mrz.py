"""Reading and validating a machine readable zone (ICAO Doc 9303).

(One concept past the ~400-line guideline: reading one MRZ and checking each
of its fields, checks that share the layout and the character values computed
once per MRZ. Layouts, check digits, dates, state codes and OCR repair are
modules of their own.)

``parse_mrz`` takes the lines of one MRZ and returns an ``MrzResult``: every
field, every check with a stable reason code, and the OCR repairs it made.
``valid`` speaks of the MRZ's integrity alone (format, characters, check
digits, well-formed dates and codes).  Whether the document is expired or
acceptable at a gate is the document policy's question, not this module's.

Input that cannot be an MRZ at all (no lines, the wrong number of lines,
lines of a length no format has) raises ``MrzFormatError``; anything else,
however damaged, gives a result.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from operator import attrgetter
from typing import Any, NamedTuple

from egate.documents.checkdigit import (
    character_values,
    check_digit,
    check_digit_matches,
    check_digit_of_values,
)
from egate.documents.dates import MrzDate, parse_birth_date, parse_expiry_date
from egate.documents.layout import LAYOUTS, Layout, MrzFormat, long_number_extension
from egate.documents.repair import Repair, find_repairs
from egate.documents.states import is_known_state

# How far a line may stray from its format's width and still be read as that
# format (a reader that drops or doubles a character); beyond it, not an MRZ.
LENGTH_TOLERANCE = 4
# Longest line looked at; longer input is not an MRZ and is not copied about.
MAX_LINE_LENGTH = 256


class MrzFormatError(ValueError):
    """The input cannot be read as an MRZ of any format."""


@dataclass(frozen=True, slots=True)
class Check:
    """One validation: its name, whether it passed, its reason code, and why not."""

    name: str
    ok: bool
    code: str
    detail: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The check as a JSON object."""
        return {"name": self.name, "ok": self.ok, "code": self.code, "detail": self.detail}


class MrzFields(NamedTuple):
    """The data an MRZ carries, fillers removed, dates resolved to their century.

    Results are named tuples, not frozen dataclasses: as immutable, and built
    about three times faster; parsing is counted in microseconds.
    """

    document_type: str
    issuing_state: str
    surname: str
    given_names: str
    document_number: str
    nationality: str
    birth_date: MrzDate | None
    expiry_date: date | None
    sex: str | None
    optional_data: str
    optional_data_2: str | None

    def __repr__(self) -> str:
        # Personal data stays out of logs and tracebacks that print objects.
        return f"MrzFields(document_type={self.document_type!r}, <personal data redacted>)"

    def to_json(self) -> dict[str, Any]:
        """The fields as a JSON object; dates in ISO 8601."""
        data: dict[str, Any] = {
            "document_type": self.document_type,
            "issuing_state": self.issuing_state,
            "surname": self.surname,
            "given_names": self.given_names,
            "document_number": self.document_number,
            "nationality": self.nationality,
            "birth_date": None if self.birth_date is None else self.birth_date.isoformat(),
            "expiry_date": None if self.expiry_date is None else self.expiry_date.isoformat(),
            "sex": self.sex,
            "optional_data": self.optional_data,
        }
        if self.optional_data_2 is not None:
            data["optional_data_2"] = self.optional_data_2
        return data


class MrzResult(NamedTuple):
    """What an MRZ says and whether it holds together."""

    format: MrzFormat
    lines: tuple[str, ...]
    fields: MrzFields
    checks: tuple[Check, ...]
    repairs: tuple[Repair, ...]

    def __repr__(self) -> str:
        return (
            f"MrzResult(format={self.format.value}, valid={self.valid}, <personal data redacted>)"
        )

    @property
    def valid(self) -> bool:
        """Whether every check passed (after any repairs)."""
        return all(map(_is_ok, self.checks))

    @property
    def failures(self) -> tuple[str, ...]:
        """The reason codes of the failed checks, in check order, without repeats."""
        return tuple(dict.fromkeys(check.code for check in self.checks if not check.ok))

    def to_json(self) -> dict[str, Any]:
        """The result as a JSON object (the shape of ``egate mrz parse --json``)."""
        return {
            "format": self.format.value,
            "valid": self.valid,
            "fields": self.fields.to_json(),
            "checks": [check.to_json() for check in self.checks],
            "repairs": [repair.to_json() for repair in self.repairs],
        }


_BLANK = " \t\r\f\v"


def split_lines(lines: str | Sequence[str]) -> list[str]:
    """The non-blank lines of an MRZ with surrounding blanks removed.

    Only ``\n`` separates lines: reader framings use control characters such
    as FS and GS that ``str.splitlines`` would also split on.
    """
    raw = lines.split("\n") if isinstance(lines, str) else list(lines)
    stripped = (line.strip(_BLANK) for line in raw)
    return [line for line in stripped if line]


def _choose_layout(lines: list[str]) -> tuple[Layout, list[str]]:
    """The format these lines are closest to, and the lines as that format's rows."""
    if not lines:
        raise MrzFormatError("no MRZ lines")
    longest = max(len(line) for line in lines)
    if longest > MAX_LINE_LENGTH:
        raise MrzFormatError(f"a line of {longest} characters is no MRZ line")
    if len(lines) == 1:
        # A whole MRZ pasted as one line: split it when its length says how.
        line = lines[0]
        widths = {90: 30, 72: 36, 88: 44}
        if len(line) not in widths:
            raise MrzFormatError(
                f"1 line of {len(line)} characters (expected 2 lines of 36 or 44 characters, "
                "or 3 lines of 30)"
            )
        width = widths[len(line)]
        lines = [line[i : i + width] for i in range(0, len(line), width)]
        # The format is chosen by the width of the split lines, not the pasted one.
        longest = width
    if len(lines) == 3:
        layout = LAYOUTS[MrzFormat.TD1]
    elif len(lines) == 2:
        # Visas carry V as the first character; everything else is a travel document.
        is_visa = lines[0][:1] == "V"
        if longest > (36 + 44) // 2:
            layout = LAYOUTS[MrzFormat.MRVA if is_visa else MrzFormat.TD3]
        else:
            layout = LAYOUTS[MrzFormat.MRVB if is_visa else MrzFormat.TD2]
    else:
        raise MrzFormatError(
            f"{len(lines)} lines (expected 2 lines of 36 or 44 characters, or 3 lines of 30)"
        )
    for number, line in enumerate(lines, start=1):
        if abs(len(line) - layout.width) > LENGTH_TOLERANCE:
            raise MrzFormatError(
                f"line {number} has {len(line)} characters, too far from the "
                f"{layout.width} of a {layout.format.value} line"
            )
    return layout, lines


def _ok(name: str, code: str) -> Check:
    return Check(name, True, code)


# Passing checks are shared constants: most MRZs pass them all.
_PASS = {
    name: _ok(name, code)
    for name, code in (
        ("length", "MRZ_LENGTH"),
        ("charset", "MRZ_CHARSET"),
        ("document_type", "DOCUMENT_TYPE"),
        ("issuing_state", "UNKNOWN_STATE"),
        ("name", "NAME_FORMAT"),
        ("document_number", "DOCUMENT_NUMBER_FORMAT"),
        ("document_number_check_digit", "CHECK_DIGIT_DOCUMENT_NUMBER"),
        ("nationality", "UNKNOWN_STATE"),
        ("birth_date", "INVALID_DATE"),
        ("birth_date_check_digit", "CHECK_DIGIT_BIRTH_DATE"),
        ("sex", "INVALID_SEX"),
        ("expiry_date", "INVALID_DATE"),
        ("expiry_date_check_digit", "CHECK_DIGIT_EXPIRY_DATE"),
        ("optional_data_check_digit", "CHECK_DIGIT_OPTIONAL"),
        ("composite_check_digit", "CHECK_DIGIT_COMPOSITE"),
    )
}
_LETTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
_MRZ_TEXT = re.compile(r"[A-Z0-9<]*")
_OUTSIDE_ALPHABET = re.compile(r"[^A-Z0-9<]")
_NAME = re.compile(r"[A-Z][A-Z<]*")
_DOCUMENT_NUMBER = re.compile(r"[A-Z0-9]+<*")


_is_ok = attrgetter("ok")


def _fail(name: str, detail: str) -> Check:
    return Check(name, False, _PASS[name].code, detail)


def _check_digit(
    name: str,
    layout: Layout,
    text: str,
    values: bytes | None,
    parts: tuple[slice, ...],
    position: int,
) -> Check:
    """Check the digit at ``position`` against the data in ``parts`` of ``text``.

    ``values`` are the character values of the whole text, computed once per
    MRZ (None when it has characters outside the alphabet).
    """
    digit = text[position]
    if values is not None:
        expected: str | None = check_digit_of_values(
            values[parts[0]] if len(parts) == 1 else b"".join([values[part] for part in parts])
        )
        if digit == expected:
            return _PASS[name]
    data = "".join(text[part] for part in parts)
    if check_digit_matches(data, digit):
        return _PASS[name]
    expected = check_digit(data)
    if expected is None:
        return _fail(name, "cannot compute over characters outside the MRZ alphabet")
    line, column = layout.locate(position)
    return _fail(name, f"expected {expected}, found {digit!r} at line {line} column {column}")


def _state_check(name: str, code: str) -> Check:
    if is_known_state(code):
        return _PASS[name]
    return _fail(name, f"{code!r} is not an ICAO state or organisation code")


def _split_name(field: str) -> tuple[str, str]:
    primary, _, secondary = field.rstrip("<").partition("<<")
    return primary.replace("<", " ").strip(), " ".join(secondary.replace("<", " ").split())


def _name_check(field: str) -> Check:
    if _NAME.fullmatch(field):
        return _PASS["name"]
    if field[:1] == "<" or not field.strip("<"):
        return _fail("name", "the primary identifier (surname) is empty")
    stray = sorted({char for char in field if char not in _LETTERS and char != "<"})
    return _fail("name", f"names hold letters and fillers only, found {''.join(stray)!r}")


def _document_type_check(layout: Layout, code: str) -> Check:
    first, second = code[0], code[1]
    if first not in layout.document_letters:
        allowed = "/".join(sorted(layout.document_letters))
        return _fail(
            "document_type",
            f"{layout.format.value} document codes start with {allowed}, found {code!r}",
        )
    if second != "<" and second not in _LETTERS:
        return _fail("document_type", f"second character of {code!r} is not a letter or <")
    return _PASS["document_type"]


def _examine(layout: Layout, text: str, today: date) -> tuple[MrzFields, list[Check]]:
    """Read every field of ``text`` (already ``layout.length`` long) and run every check."""
    checks: list[Check] = []
    values: bytes | None = None
    if _MRZ_TEXT.fullmatch(text):
        checks.append(_PASS["charset"])
        values = character_values(text)
    else:
        stray = _OUTSIDE_ALPHABET.search(text)
        assert stray is not None  # the full match failed, so some character is outside
        line, column = layout.locate(stray.start())
        checks.append(
            _fail(
                "charset", f"{stray.group()!r} at line {line} column {column} is not A-Z, 0-9 or <"
            )
        )

    code = text[layout.document_code]
    checks.append(_document_type_check(layout, code))
    issuing_state = text[layout.issuing_state].rstrip("<")
    checks.append(_state_check("issuing_state", issuing_state))

    name_field = text[layout.name]
    checks.append(_name_check(name_field))
    surname, given_names = _split_name(name_field)

    principal = text[layout.document_number]
    optional = text[layout.optional_data]
    extension = long_number_extension(layout, text)
    if extension is not None:
        run = text[extension]
        number_data = principal + run[:-1]
        number_check = _check_digit(
            "document_number_check_digit",
            layout,
            text,
            values,
            (layout.document_number, slice(extension.start, extension.stop - 1)),
            extension.stop - 1,
        )
        optional = text[extension.stop : layout.optional_data.stop]
    else:
        number_data = principal
        number_check = _check_digit(
            "document_number_check_digit",
            layout,
            text,
            values,
            (layout.document_number,),
            layout.document_number_check,
        )
    document_number = number_data.rstrip("<")
    if _DOCUMENT_NUMBER.fullmatch(number_data):
        checks.append(_PASS["document_number"])
    else:
        checks.append(
            _fail("document_number", f"{number_data!r} is not letters and digits then fillers")
        )
    checks.append(number_check)

    nationality = text[layout.nationality].rstrip("<")
    checks.append(_state_check("nationality", nationality))

    birth_text = text[layout.birth_date]
    birth_date, birth_error = parse_birth_date(birth_text, today)
    checks.append(_PASS["birth_date"] if birth_error is None else _fail("birth_date", birth_error))
    checks.append(
        _check_digit(
            "birth_date_check_digit",
            layout,
            text,
            values,
            (layout.birth_date,),
            layout.birth_date_check,
        )
    )

    sex_char = text[layout.sex]
    if sex_char in "MFX<":
        checks.append(_PASS["sex"])
    else:
        checks.append(_fail("sex", f"{sex_char!r} is not M, F, X or <"))

    expiry_text = text[layout.expiry_date]
    expiry_date, expiry_error = parse_expiry_date(expiry_text, today)
    checks.append(
        _PASS["expiry_date"] if expiry_error is None else _fail("expiry_date", expiry_error)
    )
    checks.append(
        _check_digit(
            "expiry_date_check_digit",
            layout,
            text,
            values,
            (layout.expiry_date,),
            layout.expiry_date_check,
        )
    )

    if layout.optional_data_check is not None:
        checks.append(
            _check_digit(
                "optional_data_check_digit",
                layout,
                text,
                values,
                (layout.optional_data,),
                layout.optional_data_check,
            )
        )
    if layout.composite_check is not None:
        checks.append(
            _check_digit(
                "composite_check_digit",
                layout,
                text,
                values,
                layout.composite,
                layout.composite_check,
            )
        )

    # Positional arguments: a named tuple is built twice as fast that way.
    fields = MrzFields(
        code.rstrip("<"),  # document_type
        issuing_state,
        surname,
        given_names,
        document_number,
        nationality,
        birth_date,
        expiry_date,
        None if sex_char == "<" else sex_char,  # sex
        optional.strip("<"),  # optional_data
        None if layout.optional_data_2 is None else text[layout.optional_data_2].strip("<"),
    )
    return fields, checks


def parse_mrz(lines: str | Sequence[str], today: date, *, repair: bool = True) -> MrzResult:
    """Read, check and (unless ``repair`` is False) OCR-repair one MRZ.

    ``lines`` is the MRZ as text (lines separated by newlines) or as a sequence
    of lines.  ``today`` resolves two-digit years; pass the gate's clock.
    Raises ``MrzFormatError`` when the input cannot be an MRZ of any format.

    The ICAO Doc 9303 specimen passport, then the same passport with a
    mistyped check digit, and with an ``O`` the OCR read for a ``0``::

        >>> from datetime import date
        >>> specimen = ["P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<",
        ...             "L898902C<3UTO6908061F9406236ZE184226B<<<<<14"]
        >>> result = parse_mrz(specimen, today=date(2026, 1, 1))
        >>> result.format.value, result.valid
        ('TD3', True)
        >>> result.fields.document_number, result.fields.expiry_date
        ('L898902C', datetime.date(1994, 6, 23))
        >>> mistyped = [specimen[0], specimen[1].replace("L898902C<3", "L898902C<9")]
        >>> parse_mrz(mistyped, date(2026, 1, 1)).failures
        ('CHECK_DIGIT_DOCUMENT_NUMBER', 'CHECK_DIGIT_COMPOSITE')
        >>> misread = [specimen[0], specimen[1].replace("6908061", "69O8061")]
        >>> repaired = parse_mrz(misread, date(2026, 1, 1))
        >>> repaired.valid, [(r.field, r.found, r.replaced_by) for r in repaired.repairs]
        (True, [('birth_date', 'O', '0')])
    """
    layout, rows = _choose_layout(split_lines(lines))
    width = layout.width
    if all(len(row) == width for row in rows):
        length = _PASS["length"]
        text = "".join(rows)
    else:
        misfits = "; ".join(
            f"line {number} has {len(row)} characters"
            for number, row in enumerate(rows, start=1)
            if len(row) != width
        )
        length = _fail("length", f"{misfits} (expected {width})")
        # A line off by a few characters is read at the format's width (cut,
        # or padded with fillers) so that the other fields can still be checked.
        text = "".join(row[:width].ljust(width, "<") for row in rows)
    fields, checks = _examine(layout, text, today)
    repairs: tuple[Repair, ...] = ()
    if repair and not all(map(_is_ok, checks)):

        def failing(candidate: str) -> frozenset[str]:
            return frozenset(c.name for c in _examine(layout, candidate, today)[1] if not c.ok)

        text, repairs = find_repairs(layout, text, failing)
        if repairs:
            fields, checks = _examine(layout, text, today)
    if repairs or length is not _PASS["length"]:
        rows = [text[i : i + width] for i in range(0, layout.length, width)]
    return MrzResult(layout.format, tuple(rows), fields, (length, *checks), repairs)
