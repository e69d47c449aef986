"""OCR repair of an MRZ: undo the usual character confusions, only when checks prove it.

Optical readers confuse ``0/O``, ``1/I``, ``5/S``, ``8/B`` and ``2/Z``.  The
repair goes by field type:

* where a field can hold only digits (dates, check digits) a letter from the
  list can only be its digit;
* where it can hold only letters (document code, states, names, sex) a digit
  from the list can only be its letter.

Each such substitution is the only candidate, and it is kept only when the
checks of the field it touches pass afterwards (for a date, its check digit)
and no check that passed before fails.  Every repair is reported.

Fields that hold letters *and* digits (document numbers, optional data) are
never repaired.  Their check digit cannot tell a look-alike from any other
misread: for a misread ``L`` read as ``M`` in ``L898902C`` some swap of an
``8`` for a ``B`` also satisfies the check digit, and the composite gives the
number the same weights, so a "repair" would produce a valid but wrong
document number, one that a stop list would then miss.  Such a document is
reported invalid, for an officer to look at.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import Enum
from typing import Any

from egate.documents.layout import Layout, long_number_extension

DIGIT_FOR_LETTER = {"O": "0", "I": "1", "S": "5", "B": "8", "Z": "2"}
LETTER_FOR_DIGIT = {digit: letter for letter, digit in DIGIT_FOR_LETTER.items()}


class CharClass(Enum):
    """What a position of the MRZ may hold, which decides how it may be repaired."""

    LETTERS = "letters"
    DIGITS = "digits"


@dataclass(frozen=True, slots=True)
class Repair:
    """One character the repair changed: where, from what, to what."""

    field: str
    line: int
    column: int
    found: str
    replaced_by: str

    def to_json(self) -> dict[str, Any]:
        """The repair as a JSON object."""
        return {
            "field": self.field,
            "line": self.line,
            "column": self.column,
            "found": self.found,
            "replaced_by": self.replaced_by,
        }

    def describe(self) -> str:
        """One line for a human: ``birth_date: line 2 column 15 'O' -> '0'``."""
        return (
            f"{self.field}: line {self.line} column {self.column} "
            f"{self.found!r} -> {self.replaced_by!r}"
        )


@dataclass(frozen=True, slots=True)
class _Unit:
    """Positions repaired together and the checks that must pass afterwards."""

    field: str
    positions: tuple[tuple[int, CharClass], ...]
    checks: frozenset[str]


def _span(part: slice, char_class: CharClass) -> tuple[tuple[int, CharClass], ...]:
    return tuple((offset, char_class) for offset in range(part.start, part.stop))


def _check_digit_unit(name: str, offset: int, check: str) -> _Unit:
    return _Unit(name, ((offset, CharClass.DIGITS),), frozenset({check}))


def _units(layout: Layout, text: str) -> Iterator[_Unit]:
    letters, digits = CharClass.LETTERS, CharClass.DIGITS
    yield _Unit("document_type", _span(layout.document_code, letters), frozenset({"document_type"}))
    yield _Unit("issuing_state", _span(layout.issuing_state, letters), frozenset({"issuing_state"}))
    yield _Unit("name", _span(layout.name, letters), frozenset({"name"}))
    yield _Unit("nationality", _span(layout.nationality, letters), frozenset({"nationality"}))
    yield _Unit("sex", ((layout.sex, letters),), frozenset({"sex"}))
    for field, part, check in (
        ("birth_date", layout.birth_date, layout.birth_date_check),
        ("expiry_date", layout.expiry_date, layout.expiry_date_check),
    ):
        yield _Unit(
            field,
            (*_span(part, digits), (check, digits)),
            frozenset({field, f"{field}_check_digit"}),
        )
    # Only the check digits of letter-and-digit fields: the fields themselves
    # are never repaired (see the module docstring).
    extension = long_number_extension(layout, text)
    number_check = layout.document_number_check if extension is None else extension.stop - 1
    yield _check_digit_unit("document_number", number_check, "document_number_check_digit")
    if layout.optional_data_check is not None:
        yield _check_digit_unit(
            "optional_data", layout.optional_data_check, "optional_data_check_digit"
        )
    if layout.composite_check is not None:
        yield _check_digit_unit(
            "composite_check_digit", layout.composite_check, "composite_check_digit"
        )


def find_repairs(
    layout: Layout, text: str, failing: Callable[[str], frozenset[str]]
) -> tuple[str, tuple[Repair, ...]]:
    """Repair ``text`` where checks prove it; returns the new text and the repairs made.

    ``failing`` names the checks a candidate text fails; it is the validator
    of the caller, so repair and validation can never disagree.
    """
    failed = failing(text)
    repairs: list[Repair] = []
    for unit in _units(layout, text):
        if not unit.checks & failed:
            continue
        changes: dict[int, str] = {}
        for offset, char_class in unit.positions:
            char = text[offset]
            if char_class is CharClass.DIGITS and char in DIGIT_FOR_LETTER:
                changes[offset] = DIGIT_FOR_LETTER[char]
            elif char_class is CharClass.LETTERS and char in LETTER_FOR_DIGIT:
                changes[offset] = LETTER_FOR_DIGIT[char]
        if not changes:
            continue
        chars = list(text)
        for offset, char in changes.items():
            chars[offset] = char
        candidate = "".join(chars)
        now_failing = failing(candidate)
        if unit.checks & now_failing or now_failing - failed:
            continue
        for offset in sorted(changes):
            line, column = layout.locate(offset)
            repairs.append(Repair(unit.field, line, column, text[offset], changes[offset]))
        text, failed = candidate, now_failing
    return text, tuple(repairs)
