"""OCR repair of an MRZ: undo the usual character confusions, only when checks prove it.

Optical readers confuse ``0/O``, ``1/I``, ``5/S``, ``8/B`` and ``2/Z``.  Where a
field can hold only digits (dates, check digits) a letter from that list can
only be its digit; where it can hold only letters (codes, names, sex) a digit
can only be its letter.  Document numbers and optional data hold both, so
there every confusable character may be either: a repair there is tried with
at most ``MAX_FLIPS`` changes and kept only when exactly one candidate (the
composite check digit breaking ties) makes the field's check digit pass.

A repair is accepted only when the checks of the field it touches pass
afterwards and no check that passed before fails; each one is reported.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import Enum
from itertools import combinations
from typing import Any

from egate.documents.layout import Layout, long_number_extension

DIGIT_FOR_LETTER = {"O": "0", "I": "1", "S": "5", "B": "8", "Z": "2"}
LETTER_FOR_DIGIT = {digit: letter for letter, digit in DIGIT_FOR_LETTER.items()}
_EITHER = {**DIGIT_FOR_LETTER, **LETTER_FOR_DIGIT}
MAX_FLIPS = 2


class CharClass(Enum):
    """What a position of the MRZ may hold, which decides how it may be repaired."""

    LETTERS = "letters"
    DIGITS = "digits"
    ALNUM = "alphanumeric"


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


def _units(layout: Layout, text: str) -> Iterator[_Unit]:
    letters, digits, alnum = CharClass.LETTERS, CharClass.DIGITS, CharClass.ALNUM
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

    extension = long_number_extension(layout, text)
    number = _span(layout.document_number, alnum)
    if extension is None:
        number += ((layout.document_number_check, digits),)
    else:
        number += _span(slice(extension.start, extension.stop - 1), alnum)
        number += ((extension.stop - 1, digits),)
    yield _Unit(
        "document_number", number, frozenset({"document_number", "document_number_check_digit"})
    )

    if layout.optional_data_check is not None:
        yield _Unit(
            "optional_data",
            (*_span(layout.optional_data, alnum), (layout.optional_data_check, digits)),
            frozenset({"optional_data_check_digit"}),
        )
    elif layout.composite_check is not None:
        # Optional data without a check digit of its own is covered by the composite.
        start = layout.optional_data.start if extension is None else extension.stop
        covered = _span(slice(start, layout.optional_data.stop), alnum)
        if layout.optional_data_2 is not None:
            covered += _span(layout.optional_data_2, alnum)
        yield _Unit(
            "optional_data",
            (*covered, (layout.composite_check, digits)),
            frozenset({"composite_check_digit"}),
        )


def _apply(text: str, changes: dict[int, str]) -> str:
    chars = list(text)
    for offset, char in changes.items():
        chars[offset] = char
    return "".join(chars)


def _choose(
    layout: Layout,
    text: str,
    failed: frozenset[str],
    unit: _Unit,
    forced: dict[int, str],
    optional: list[int],
    failing: Callable[[str], frozenset[str]],
) -> tuple[str, dict[int, str], frozenset[str]] | None:
    """The one smallest change of ``unit`` that makes its checks pass, if there is one."""
    for flips in range(MAX_FLIPS + 1):
        winners: list[tuple[str, dict[int, str], frozenset[str]]] = []
        for combo in combinations(optional, flips):
            changes = {**forced, **{offset: _EITHER[text[offset]] for offset in combo}}
            if not changes:
                continue
            candidate = _apply(text, changes)
            now_failing = failing(candidate)
            if unit.checks & now_failing or now_failing - failed:
                continue
            winners.append((candidate, changes, now_failing))
        if len(winners) > 1 and layout.composite_check is not None:
            agreeing = [w for w in winners if "composite_check_digit" not in w[2]]
            winners = agreeing or winners
        if winners:
            # Two different repairs that both satisfy the checks: the MRZ
            # cannot tell which is true, so none is made.
            return winners[0] if len(winners) == 1 else None
    return None


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
        forced: dict[int, str] = {}
        optional: list[int] = []
        for offset, char_class in unit.positions:
            char = text[offset]
            if char_class is CharClass.DIGITS and char in DIGIT_FOR_LETTER:
                forced[offset] = DIGIT_FOR_LETTER[char]
            elif char_class is CharClass.LETTERS and char in LETTER_FOR_DIGIT:
                forced[offset] = LETTER_FOR_DIGIT[char]
            elif char_class is CharClass.ALNUM and char in _EITHER:
                optional.append(offset)
        chosen = _choose(layout, text, failed, unit, forced, optional, failing)
        if chosen is None:
            continue
        repaired, changes, failed = chosen
        for offset in sorted(changes):
            line, column = layout.locate(offset)
            repairs.append(Repair(unit.field, line, column, text[offset], changes[offset]))
        text = repaired
    return text, tuple(repairs)
