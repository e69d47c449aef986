"""OCR repair: each confusion in each kind of field, and the repairs that must not happen."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import date, timedelta

import pytest

from egate.documents.checkdigit import check_digit
from egate.documents.composer import DocumentData, compose_mrz
from egate.documents.layout import LAYOUTS, MrzFormat
from egate.documents.mrz import parse_mrz
from egate.documents.repair import DIGIT_FOR_LETTER, LETTER_FOR_DIGIT, Repair

TODAY = date(2026, 11, 26)

# Letter and digit of each confusion pair: O/0, I/1, S/5, B/8, Z/2.
PAIRS = sorted(DIGIT_FOR_LETTER.items())
# Both directions, for fields that hold letters and digits alike.
EITHER_WAY = [*PAIRS, *((digit, letter) for letter, digit in PAIRS)]
# Characters that no OCR confusion involves, to keep a field free of other candidates.
PLAIN = "ACDEFGH"

BASE = {
    MrzFormat.TD3: DocumentData(
        MrzFormat.TD3,
        "P",
        "UTO",
        "ERIKSSON",
        "ANNA MARIA",
        "L898902C",
        "UTO",
        date(1969, 8, 6),
        "F",
        date(1994, 6, 23),
        "ZE184226B",
    ),
    MrzFormat.TD1: DocumentData(
        MrzFormat.TD1,
        "I",
        "UTO",
        "ERIKSSON",
        "ANNA MARIA",
        "D23145890",
        "UTO",
        date(1974, 8, 12),
        "F",
        date(2012, 4, 15),
    ),
    MrzFormat.TD2: DocumentData(
        MrzFormat.TD2,
        "I",
        "UTO",
        "ERIKSSON",
        "ANNA MARIA",
        "D23145890",
        "UTO",
        date(1974, 8, 12),
        "F",
        date(2012, 4, 15),
    ),
    MrzFormat.MRVA: DocumentData(
        MrzFormat.MRVA,
        "V",
        "UTO",
        "ERIKSSON",
        "ANNA MARIA",
        "L8988901C",
        "XXX",
        date(1940, 9, 7),
        "F",
        date(1996, 12, 10),
        "6ZE184226B",
    ),
}


def compose(fmt: MrzFormat, **changes) -> list[str]:
    return list(compose_mrz(replace(BASE[fmt], **changes)))


def alter(lines: list[str], line: int, column: int, char: str) -> list[str]:
    """``lines`` with the character at 1-based ``line`` and ``column`` replaced."""
    changed = list(lines)
    text = changed[line - 1]
    changed[line - 1] = text[: column - 1] + char + text[column:]
    return changed


def at(lines: list[str], line: int, column: int) -> str:
    return lines[line - 1][column - 1]


def assert_repaired(original, damaged, *repairs: Repair):
    """``damaged`` is reported with its failures unrepaired, and repaired back to ``original``."""
    unrepaired = parse_mrz(damaged, TODAY, repair=False)
    assert not unrepaired.valid
    assert unrepaired.repairs == ()
    assert unrepaired.lines == tuple(damaged)
    result = parse_mrz(damaged, TODAY)
    assert result.repairs == repairs
    assert result.valid, result.failures
    assert result.lines == tuple(original)
    assert result.fields == parse_mrz(original, TODAY).fields


def assert_refused(damaged, *codes: str):
    """``damaged`` keeps its failures and is not repaired."""
    result = parse_mrz(damaged, TODAY)
    assert result.repairs == ()
    assert result.lines == tuple(damaged)
    assert result.failures == codes
    assert result == parse_mrz(damaged, TODAY, repair=False)


# --- digits-only fields: dates and check digits ------------------------------


@pytest.mark.parametrize(("letter", "digit"), PAIRS)
@pytest.mark.parametrize(
    ("fmt", "field", "line", "first_column"),
    [
        (MrzFormat.TD3, "birth_date", 2, 14),
        (MrzFormat.TD3, "expiry_date", 2, 22),
        (MrzFormat.TD1, "birth_date", 2, 1),
        (MrzFormat.TD1, "expiry_date", 2, 9),
        (MrzFormat.TD2, "expiry_date", 2, 22),
        (MrzFormat.MRVA, "birth_date", 2, 14),
    ],
)
def test_dates(letter, digit, fmt, field, line, first_column):
    # 1985-12-08 and 2028-05-11 hold every confusable digit: 0, 1, 2, 5, 8.
    original = compose(fmt, birth_date=date(1985, 12, 8), expiry_date=date(2028, 5, 11))
    text = original[line - 1][first_column - 1 : first_column + 5]
    column = first_column + text.index(digit)
    damaged = alter(original, line, column, letter)
    assert_repaired(original, damaged, Repair(field, line, column, letter, digit))


def _vary(fmt: MrzFormat, index: int, field: str) -> list[str]:
    """The base document of ``fmt`` with ``field`` varied by ``index``."""
    if field == "birth_date":
        return compose(fmt, birth_date=date(1980, 1, 1) + timedelta(days=index))
    if field == "expiry_date":
        return compose(fmt, expiry_date=date(2030, 1, 1) + timedelta(days=index))
    # Characters no confusion involves, so the check digit is the only candidate.
    suffix = "".join(next(itertools.islice(itertools.product("34679", repeat=4), index, None)))
    return compose(fmt, **{field: "ACD" + suffix})


def document_with_check(fmt: MrzFormat, field: str, position: int, digit: str) -> list[str]:
    """A document of ``fmt`` whose check digit at flat ``position`` is ``digit``."""
    for index in range(200):
        lines = _vary(fmt, index, field)
        if "".join(lines)[position] == digit:
            return lines
    raise AssertionError(f"no {fmt} document with {digit} at {position}")


@pytest.mark.parametrize(("letter", "digit"), PAIRS)
@pytest.mark.parametrize(
    ("fmt", "varied", "check", "field"),
    [
        (MrzFormat.TD3, "document_number", "document_number_check", "document_number"),
        (MrzFormat.TD3, "birth_date", "birth_date_check", "birth_date"),
        (MrzFormat.TD3, "expiry_date", "expiry_date_check", "expiry_date"),
        (MrzFormat.TD3, "optional_data", "optional_data_check", "optional_data"),
        (MrzFormat.TD1, "document_number", "document_number_check", "document_number"),
        (MrzFormat.TD1, "birth_date", "birth_date_check", "birth_date"),
        (MrzFormat.TD1, "optional_data", "composite_check", "composite_check_digit"),
        (MrzFormat.TD2, "expiry_date", "expiry_date_check", "expiry_date"),
        (MrzFormat.TD2, "optional_data", "composite_check", "composite_check_digit"),
        (MrzFormat.MRVA, "document_number", "document_number_check", "document_number"),
    ],
)
def test_check_digits(letter, digit, fmt, varied, check, field):
    layout = LAYOUTS[fmt]
    position = getattr(layout, check)
    original = document_with_check(fmt, varied, position, digit)
    line, column = layout.locate(position)
    damaged = alter(original, line, column, letter)
    assert_repaired(original, damaged, Repair(field, line, column, letter, digit))


@pytest.mark.parametrize(("letter", "digit"), [("O", "0"), ("Z", "2"), ("B", "8")])
def test_td3_composite_check_digit(letter, digit):
    # Every field the TD3 composite covers carries its own check digit, which
    # has the parity of the field's values: so the composite digit of a valid
    # TD3 is always even, and only O, Z and B can stand for it.
    original = document_with_check(MrzFormat.TD3, "birth_date", 87, digit)
    damaged = alter(original, 2, 44, letter)
    assert_repaired(original, damaged, Repair("composite_check_digit", 2, 44, letter, digit))


# --- letters-only fields: document code, states, names, sex ------------------


@pytest.mark.parametrize(("letter", "digit"), PAIRS)
def test_document_code_second_letter(letter, digit):
    original = compose(MrzFormat.TD3, document_type="P" + letter)
    damaged = alter(original, 1, 2, digit)
    assert_repaired(original, damaged, Repair("document_type", 1, 2, digit, letter))


@pytest.mark.parametrize("fmt", [MrzFormat.TD1, MrzFormat.TD2])
def test_document_code_first_letter(fmt):
    original = compose(fmt)
    damaged = alter(original, 1, 1, "1")
    assert_repaired(original, damaged, Repair("document_type", 1, 1, "1", "I"))


STATES = {"O": "UTO", "I": "ISL", "S": "SWE", "B": "BEL", "Z": "NZL"}


@pytest.mark.parametrize(("letter", "digit"), PAIRS)
@pytest.mark.parametrize(
    ("fmt", "field", "line", "first_column"),
    [
        (MrzFormat.TD3, "issuing_state", 1, 3),
        (MrzFormat.TD3, "nationality", 2, 11),
        (MrzFormat.TD1, "issuing_state", 1, 3),
        (MrzFormat.TD1, "nationality", 2, 16),
    ],
)
def test_states(letter, digit, fmt, field, line, first_column):
    state = STATES[letter]
    original = compose(fmt, **{field: state})
    column = first_column + state.index(letter)
    damaged = alter(original, line, column, digit)
    assert_repaired(original, damaged, Repair(field, line, column, digit, letter))


@pytest.mark.parametrize(("letter", "digit"), PAIRS)
@pytest.mark.parametrize(
    ("fmt", "line", "first_column"),
    [
        (MrzFormat.TD3, 1, 6),
        (MrzFormat.TD1, 3, 1),
        (MrzFormat.MRVA, 1, 6),
    ],
)
def test_names(letter, digit, fmt, line, first_column):
    original = compose(fmt, surname=f"ANN{letter}A", given_names=f"{letter}EN")
    # Surname ANN?A, two fillers, given name ?EN: columns 4 and 8 of the name.
    damaged = alter(alter(original, line, first_column + 3, digit), line, first_column + 7, digit)
    assert_repaired(
        original,
        damaged,
        Repair("name", line, first_column + 3, digit, letter),
        Repair("name", line, first_column + 7, digit, letter),
    )
    assert parse_mrz(damaged, TODAY).fields.surname == f"ANN{letter}A"


@pytest.mark.parametrize("digit", sorted(LETTER_FOR_DIGIT))
def test_sex_has_no_look_alike_to_repair(digit):
    # M, F and X have no OCR look-alike among the confusions, and the letters of
    # 0, 1, 2, 5, 8 are no sex: a digit there is reported, never repaired.
    damaged = alter(compose(MrzFormat.TD3), 2, 21, digit)
    assert_refused(damaged, "INVALID_SEX")


# --- fields of letters and digits: document number, personal number, optional data --
# Never repaired: their check digit cannot tell a look-alike from any other
# misread, so a "repair" could yield a valid but wrong number.


def assert_detected_not_repaired(damaged):
    result = parse_mrz(damaged, TODAY)
    assert result.repairs == ()
    assert result.lines == tuple(damaged)
    assert not result.valid
    assert result == parse_mrz(damaged, TODAY, repair=False)


@pytest.mark.parametrize(("found", "true"), EITHER_WAY)
@pytest.mark.parametrize(
    ("fmt", "data_field", "line", "first_column"),
    [
        (MrzFormat.TD3, "document_number", 2, 1),
        (MrzFormat.TD3, "optional_data", 2, 29),
        (MrzFormat.TD1, "document_number", 1, 6),
        (MrzFormat.TD2, "document_number", 2, 1),
        (MrzFormat.MRVA, "document_number", 2, 1),
        (MrzFormat.TD1, "optional_data", 1, 16),
        (MrzFormat.TD1, "optional_data_2", 2, 19),
        (MrzFormat.TD2, "optional_data", 2, 29),
    ],
)
def test_alphanumeric_fields_are_never_repaired(found, true, fmt, data_field, line, first_column):
    changes = {data_field: PLAIN[:3] + true + PLAIN[3:6]}
    if data_field == "document_number":
        changes["optional_data"] = ""
    original = compose(fmt, **changes)
    column = first_column + 3
    assert at(original, line, column) == true
    assert_detected_not_repaired(alter(original, line, column, found))


@pytest.mark.parametrize(("found", "true"), EITHER_WAY)
def test_long_document_number_is_never_repaired(found, true):
    # TD1 line 1: CDEFGHACD in place, <, then the rest 3X4 and its check digit.
    original = compose(MrzFormat.TD1, document_number=f"CDEFGHACD3{true}4")
    assert original[0][14:19] == f"<3{true}4" + check_digit(f"CDEFGHACD3{true}4")
    assert_detected_not_repaired(alter(original, 1, 17, found))


def test_several_repairs_are_listed_in_field_order():
    original = compose(MrzFormat.TD3, birth_date=date(1985, 12, 8))
    damaged = alter(original, 2, 14, "B")  # birth date 8 -> B
    damaged = alter(damaged, 1, 5, "0")  # UTO -> UT0
    assert_repaired(
        original,
        damaged,
        Repair("issuing_state", 1, 5, "0", "O"),
        Repair("birth_date", 2, 14, "B", "8"),
    )
    # With the number misread too, the other repairs are still made and the
    # number is left as read, so the MRZ stays invalid.
    result = parse_mrz(alter(damaged, 2, 6, "O"), TODAY)  # L898902C -> L8989O2C
    assert [repair.field for repair in result.repairs] == ["issuing_state", "birth_date"]
    assert result.failures == ("CHECK_DIGIT_DOCUMENT_NUMBER", "CHECK_DIGIT_COMPOSITE")
    assert result.fields.document_number == "L8989O2C"


def test_repair_json_and_description():
    repair = Repair("birth_date", 2, 15, "O", "0")
    assert repair.to_json() == {
        "field": "birth_date",
        "line": 2,
        "column": 15,
        "found": "O",
        "replaced_by": "0",
    }
    assert repair.describe() == "birth_date: line 2 column 15 'O' -> '0'"
    # 690806 read as 6S0806: S can only be 5, and 650806 fails the check digit.
    damaged = alter(compose(MrzFormat.TD3), 2, 15, "S")
    assert parse_mrz(damaged, TODAY).to_json()["repairs"] == []
    damaged = alter(compose(MrzFormat.TD3), 2, 16, "O")  # 690806 -> 69O806
    assert parse_mrz(damaged, TODAY).to_json()["repairs"] == [
        {"field": "birth_date", "line": 2, "column": 16, "found": "O", "replaced_by": "0"}
    ]


# --- repairs that must not be made -------------------------------------------


def test_refused_when_two_candidates_fit_equally():
    # The document number is OAC0DEFGH; the reader saw 0AC0DEFGH.  Columns 1
    # and 4 weigh the same (7), so turning either 0 into O would satisfy the
    # check digit: one reason letter-and-digit fields are never repaired.
    original = compose(MrzFormat.TD3, document_number="OAC0DEFGH", optional_data="")
    damaged = alter(original, 2, 1, "0")
    assert_refused(damaged, "CHECK_DIGIT_DOCUMENT_NUMBER", "CHECK_DIGIT_COMPOSITE")


def test_refused_when_two_candidates_fit_the_specimen():
    # L898902C< with check digit 4 instead of 3: B for the 8 in column 4
    # (+3 x 7) and Z for the 2 in column 7 (+33 x 7) would both add 1 modulo 10.
    damaged = alter(compose(MrzFormat.TD3), 2, 10, "4")
    assert_refused(damaged, "CHECK_DIGIT_DOCUMENT_NUMBER", "CHECK_DIGIT_COMPOSITE")


def test_refused_when_no_candidate_fits():
    # L898902C< with check digit 9: a digit misread as a digit; nothing to undo.
    damaged = alter(compose(MrzFormat.TD3), 2, 10, "9")
    assert_refused(damaged, "CHECK_DIGIT_DOCUMENT_NUMBER", "CHECK_DIGIT_COMPOSITE")


def test_refused_when_the_digit_fails_its_check():
    # 690806 read as 69080S: S can only be 5, and 690805 fails the check digit.
    damaged = alter(compose(MrzFormat.TD3), 2, 19, "S")
    assert_refused(damaged, "INVALID_DATE", "CHECK_DIGIT_BIRTH_DATE", "CHECK_DIGIT_COMPOSITE")


def test_refused_when_the_letter_is_no_state():
    # UT0 -> UTO is a state, but XY0 -> XYO is not.
    damaged = alter(compose(MrzFormat.TD3, issuing_state="XYO"), 1, 5, "0")
    assert_refused(damaged, "UNKNOWN_STATE")


def test_refused_when_it_would_break_a_passing_check():
    # A reader saw B for the 8 in L898902C, and the composite digit also reads
    # as if the number were LB98902C: undoing the B would break the composite,
    # which passes now, so it is not done.
    damaged = alter(compose(MrzFormat.TD3), 2, 2, "B")
    layout = LAYOUTS[MrzFormat.TD3]
    flat = "".join(damaged)
    composite = check_digit("".join(flat[part] for part in layout.composite))
    assert composite is not None and composite != flat[layout.composite_check]
    damaged = alter(damaged, 2, 44, composite)
    assert_refused(damaged, "CHECK_DIGIT_DOCUMENT_NUMBER")


def test_no_repair_when_asked_not_to():
    original = compose(MrzFormat.TD3)
    damaged = alter(original, 2, 16, "O")
    result = parse_mrz(damaged, TODAY, repair=False)
    assert result.repairs == ()
    assert result.lines == tuple(damaged)
    assert result.failures == ("INVALID_DATE", "CHECK_DIGIT_BIRTH_DATE", "CHECK_DIGIT_COMPOSITE")
    assert result.fields.birth_date is None
    assert parse_mrz(damaged, TODAY).valid


def test_valid_mrz_is_left_alone():
    # A valid MRZ full of look-alikes is never touched.
    original = compose(MrzFormat.TD3, document_number="O0I1S5B8Z", optional_data="Z2B8S5I1O0")
    result = parse_mrz(original, TODAY)
    assert result.valid
    assert result.repairs == ()
    assert result.lines == tuple(original)


def test_optional_data_is_not_repaired_against_a_composite_another_field_breaks():
    # TD2: the number OAC0DEFGH read as 0AC0DEFGH cannot be repaired (either 0
    # may be the O).  The composite then fails because of the number, and
    # turning the optional data's 0 into O would happen to satisfy it (+24 x 7
    # makes up for -24 x 7): it used to be "repaired" so, hiding nothing and
    # corrupting correct data.
    original = compose(MrzFormat.TD2, document_number="OAC0DEFGH", optional_data="0ACD")
    damaged = alter(original, 2, 1, "0")
    assert_refused(damaged, "CHECK_DIGIT_DOCUMENT_NUMBER", "CHECK_DIGIT_COMPOSITE")
    assert parse_mrz(damaged, TODAY).fields.optional_data == "0ACD"


def test_a_misread_number_never_becomes_a_valid_wrong_one():
    # Why letter-and-digit fields are not repaired.  The specimen's L898902C
    # with its first letter misread as M fails the check digit by 7 x 1; turning
    # the 8 of column 2 into B (+3 x 3) and the 0 of column 6 into O (+24 x 1)
    # would make up for it (7 + 9 + 24 = 40), and the composite weighs the
    # number alike: a look-alike "repair" would yield the valid, wrong
    # MB989O2C, which a stop list would miss.
    damaged = alter(compose(MrzFormat.TD3), 2, 1, "M")
    result = parse_mrz(damaged, TODAY)
    assert result.failures == ("CHECK_DIGIT_DOCUMENT_NUMBER", "CHECK_DIGIT_COMPOSITE")
    assert result.repairs == ()
    assert result.fields.document_number == "M898902C"
