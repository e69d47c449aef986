"""Parsing an MRZ: the ICAO specimens, every reason code, input that is no MRZ."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date

import pytest

from egate.documents.checkdigit import check_digit
from egate.documents.composer import DocumentData, compose_mrz
from egate.documents.dates import MrzDate
from egate.documents.layout import LAYOUTS, MrzFormat
from egate.documents.mrz import MrzFormatError, MrzResult, parse_mrz
from egate.documents.specimens import SPECIMENS

TODAY = date(2026, 11, 26)

# Literal copies of the Doc 9303 specimens (as ICAO prints them), so that a change
# to specimens.py cannot pass unnoticed.
TD3_SPECIMEN = (
    "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<",
    "L898902C<3UTO6908061F9406236ZE184226B<<<<<14",
)
TD1_SPECIMEN = (
    "I<UTOD231458907<<<<<<<<<<<<<<<",
    "7408122F1204159UTO<<<<<<<<<<<6",
    "ERIKSSON<<ANNA<MARIA<<<<<<<<<<",
)
TD2_SPECIMEN = (
    "I<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<",
    "D231458907UTO7408122F1204159<<<<<<<6",
)

CHECK_NAMES = {
    MrzFormat.TD3: [
        "length",
        "charset",
        "document_type",
        "issuing_state",
        "name",
        "document_number",
        "document_number_check_digit",
        "nationality",
        "birth_date",
        "birth_date_check_digit",
        "sex",
        "expiry_date",
        "expiry_date_check_digit",
        "optional_data_check_digit",
        "composite_check_digit",
    ],
}
CHECK_NAMES[MrzFormat.TD1] = [
    name for name in CHECK_NAMES[MrzFormat.TD3] if name != "optional_data_check_digit"
]
CHECK_NAMES[MrzFormat.TD2] = CHECK_NAMES[MrzFormat.TD1]
CHECK_NAMES[MrzFormat.MRVA] = CHECK_NAMES[MrzFormat.TD1][:-1]
CHECK_NAMES[MrzFormat.MRVB] = CHECK_NAMES[MrzFormat.MRVA]

CODES = {
    "length": "MRZ_LENGTH",
    "charset": "MRZ_CHARSET",
    "document_type": "DOCUMENT_TYPE",
    "issuing_state": "UNKNOWN_STATE",
    "name": "NAME_FORMAT",
    "document_number": "DOCUMENT_NUMBER_FORMAT",
    "document_number_check_digit": "CHECK_DIGIT_DOCUMENT_NUMBER",
    "nationality": "UNKNOWN_STATE",
    "birth_date": "INVALID_DATE",
    "birth_date_check_digit": "CHECK_DIGIT_BIRTH_DATE",
    "sex": "INVALID_SEX",
    "expiry_date": "INVALID_DATE",
    "expiry_date_check_digit": "CHECK_DIGIT_EXPIRY_DATE",
    "optional_data_check_digit": "CHECK_DIGIT_OPTIONAL",
    "composite_check_digit": "CHECK_DIGIT_COMPOSITE",
}

ERIKSSON = {
    "issuing_state": "UTO",
    "surname": "ERIKSSON",
    "given_names": "ANNA MARIA",
    "sex": "F",
}
EXPECTED_FIELDS = {
    MrzFormat.TD3: {
        **ERIKSSON,
        "document_type": "P",
        "document_number": "L898902C",
        "nationality": "UTO",
        "birth_date": "1969-08-06",
        "expiry_date": "1994-06-23",
        "optional_data": "ZE184226B",
    },
    MrzFormat.TD1: {
        **ERIKSSON,
        "document_type": "I",
        "document_number": "D23145890",
        "nationality": "UTO",
        "birth_date": "1974-08-12",
        "expiry_date": "2012-04-15",
        "optional_data": "",
        "optional_data_2": "",
    },
    MrzFormat.TD2: {
        **ERIKSSON,
        "document_type": "I",
        "document_number": "D23145890",
        "nationality": "UTO",
        "birth_date": "1974-08-12",
        "expiry_date": "2012-04-15",
        "optional_data": "",
    },
    MrzFormat.MRVA: {
        **ERIKSSON,
        "document_type": "V",
        "document_number": "L8988901C",
        "nationality": "XXX",
        "birth_date": "1940-09-07",
        "expiry_date": "1996-12-10",
        "optional_data": "6ZE184226B",
    },
    MrzFormat.MRVB: {
        **ERIKSSON,
        "document_type": "V",
        "document_number": "L8988901C",
        "nationality": "XXX",
        "birth_date": "1940-09-07",
        "expiry_date": "1996-12-10",
        "optional_data": "",
    },
}

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
    MrzFormat.MRVB: DocumentData(
        MrzFormat.MRVB,
        "V",
        "UTO",
        "ERIKSSON",
        "ANNA MARIA",
        "L8988901C",
        "XXX",
        date(1940, 9, 7),
        "F",
        date(1996, 12, 10),
    ),
}
TRAVEL_DOCUMENTS = [MrzFormat.TD1, MrzFormat.TD2, MrzFormat.TD3]


def compose(fmt: MrzFormat, **changes) -> list[str]:
    """The specimen data of ``fmt`` with ``changes``, written as MRZ lines."""
    return list(compose_mrz(replace(BASE[fmt], **changes)))


def put(lines: list[str], fmt: MrzFormat, offset: int, text: str) -> list[str]:
    """``lines`` with ``text`` written from flat ``offset`` on (the layout's offsets)."""
    width = LAYOUTS[fmt].width
    flat = "".join(lines)
    flat = flat[:offset] + text + flat[offset + len(text) :]
    return [flat[i : i + width] for i in range(0, len(flat), width)]


def seal(lines: list[str], fmt: MrzFormat, *which: str) -> list[str]:
    """``lines`` with the named check digits recomputed (in the order given)."""
    layout = LAYOUTS[fmt]
    for name in which:
        flat = "".join(lines)
        if name == "composite":
            data, position = "".join(flat[p] for p in layout.composite), layout.composite_check
        else:
            part = getattr(layout, name)
            data, position = flat[part], getattr(layout, f"{name}_check")
        digit = check_digit(data)
        assert digit is not None and position is not None
        lines = put(lines, fmt, position, digit)
    return lines


def failing_checks(result: MrzResult) -> list[str]:
    return [check.name for check in result.checks if not check.ok]


# --- the specimens ----------------------------------------------------------


def test_literal_specimens_match_the_module():
    assert SPECIMENS[MrzFormat.TD3] == TD3_SPECIMEN
    assert SPECIMENS[MrzFormat.TD1] == TD1_SPECIMEN
    assert SPECIMENS[MrzFormat.TD2] == TD2_SPECIMEN
    assert set(SPECIMENS) == set(MrzFormat)


@pytest.mark.parametrize(
    ("fmt", "lines"),
    [
        (MrzFormat.TD3, TD3_SPECIMEN),
        (MrzFormat.TD1, TD1_SPECIMEN),
        (MrzFormat.TD2, TD2_SPECIMEN),
        (MrzFormat.MRVA, SPECIMENS[MrzFormat.MRVA]),
        (MrzFormat.MRVB, SPECIMENS[MrzFormat.MRVB]),
    ],
)
def test_specimens_parse_valid_with_their_fields(fmt, lines):
    result = parse_mrz(lines, TODAY)
    assert result.format is fmt
    assert result.valid
    assert result.failures == ()
    assert result.repairs == ()
    assert result.lines == tuple(lines)
    assert result.fields.to_json() == EXPECTED_FIELDS[fmt]
    assert [check.name for check in result.checks] == CHECK_NAMES[fmt]
    assert all(check.ok and check.detail is None for check in result.checks)
    assert [check.code for check in result.checks] == [CODES[n] for n in CHECK_NAMES[fmt]]


def test_td3_specimen_fields_as_python_values():
    fields = parse_mrz(TD3_SPECIMEN, TODAY).fields
    assert fields.document_type == "P"
    assert fields.issuing_state == "UTO"
    assert fields.surname == "ERIKSSON"
    assert fields.given_names == "ANNA MARIA"
    assert fields.document_number == "L898902C"
    assert fields.nationality == "UTO"
    assert fields.birth_date == MrzDate(1969, 8, 6)
    assert fields.expiry_date == date(1994, 6, 23)
    assert fields.sex == "F"
    assert fields.optional_data == "ZE184226B"
    assert fields.optional_data_2 is None


def test_td3_specimen_json_shape():
    document = parse_mrz(TD3_SPECIMEN, TODAY).to_json()
    assert document == {
        "format": "TD3",
        "valid": True,
        "fields": {
            "document_type": "P",
            "issuing_state": "UTO",
            "surname": "ERIKSSON",
            "given_names": "ANNA MARIA",
            "document_number": "L898902C",
            "nationality": "UTO",
            "birth_date": "1969-08-06",
            "expiry_date": "1994-06-23",
            "sex": "F",
            "optional_data": "ZE184226B",
        },
        "checks": [
            {"name": name, "ok": True, "code": CODES[name], "detail": None}
            for name in CHECK_NAMES[MrzFormat.TD3]
        ],
        "repairs": [],
    }
    assert list(document) == ["format", "valid", "fields", "checks", "repairs"]
    assert json.loads(json.dumps(document)) == document


def test_td1_json_has_the_second_optional_data_field():
    fields = parse_mrz(TD1_SPECIMEN, TODAY).to_json()["fields"]
    assert list(fields) == [
        "document_type",
        "issuing_state",
        "surname",
        "given_names",
        "document_number",
        "nationality",
        "birth_date",
        "expiry_date",
        "sex",
        "optional_data",
        "optional_data_2",
    ]


def test_failed_check_json():
    lines = seal(put(list(TD3_SPECIMEN), MrzFormat.TD3, 44 + 9, "4"), MrzFormat.TD3, "composite")
    document = parse_mrz(lines, TODAY, repair=False).to_json()
    assert document["valid"] is False
    failed = [check for check in document["checks"] if not check["ok"]]
    assert failed == [
        {
            "name": "document_number_check_digit",
            "ok": False,
            "code": "CHECK_DIGIT_DOCUMENT_NUMBER",
            "detail": "expected 3, found '4' at line 2 column 10",
        }
    ]


def test_repr_keeps_personal_data_out():
    result = parse_mrz(TD3_SPECIMEN, TODAY)
    assert "ERIKSSON" not in repr(result)
    assert "L898902C" not in repr(result.fields)
    assert repr(result) == "MrzResult(format=TD3, valid=True, <personal data redacted>)"


@pytest.mark.parametrize("fmt", list(MrzFormat))
def test_specimens_are_what_the_composer_writes(fmt):
    assert tuple(compose(fmt)) == SPECIMENS[fmt]


# --- how lines are given ----------------------------------------------------


def test_text_with_blank_lines_crlf_and_surrounding_blanks():
    text = "\r\n  " + TD3_SPECIMEN[0] + "\t\r\n\n" + TD3_SPECIMEN[1] + "  \r\n"
    result = parse_mrz(text, TODAY)
    assert result.valid
    assert result.lines == TD3_SPECIMEN


def test_a_whole_mrz_on_one_line_is_split_by_its_length():
    # TD2 and MRV-B (72 characters) used to be taken for 44-character formats.
    for fmt in MrzFormat:
        result = parse_mrz("".join(SPECIMENS[fmt]), TODAY)
        assert result.format is fmt
        assert result.valid
        assert result.lines == SPECIMENS[fmt]


def test_control_characters_other_than_newline_do_not_split_lines():
    # FS (0x1c) as a reader might send it: one line, so one charset failure.
    line2 = TD3_SPECIMEN[1][:-1] + "\x1c"
    result = parse_mrz([TD3_SPECIMEN[0], line2], TODAY, repair=False)
    assert result.format is MrzFormat.TD3
    assert "MRZ_CHARSET" in result.failures
    assert "MRZ_LENGTH" not in result.failures


# --- every reason code ------------------------------------------------------


@pytest.mark.parametrize("fmt", TRAVEL_DOCUMENTS)
@pytest.mark.parametrize("delta", [-1, 1])
def test_mrz_length_a_name_line_off_by_one_is_still_read(fmt, delta):
    lines = list(SPECIMENS[fmt])
    name_line = len(lines) - 1 if fmt is MrzFormat.TD1 else 0
    lines[name_line] = lines[name_line][:-1] if delta < 0 else lines[name_line] + "<"
    result = parse_mrz(lines, TODAY)
    assert result.failures == ("MRZ_LENGTH",)
    width = LAYOUTS[fmt].width
    assert result.checks[0].detail == (
        f"line {name_line + 1} has {width + delta} characters (expected {width})"
    )
    assert result.fields.to_json() == EXPECTED_FIELDS[fmt]
    assert result.lines == SPECIMENS[fmt]


def test_mrz_length_a_short_data_line_still_checks_the_rest():
    result = parse_mrz([TD3_SPECIMEN[0], TD3_SPECIMEN[1][:-1]], TODAY)
    # The composite digit is lost; everything else is still read and checked.
    assert result.failures == ("MRZ_LENGTH", "CHECK_DIGIT_COMPOSITE")
    assert result.fields.document_number == "L898902C"
    assert result.lines[1][-1] == "<"


@pytest.mark.parametrize(
    ("line", "column", "char", "shown", "also"),
    [
        (1, 7, "r", "'r'", ("NAME_FORMAT",)),
        (1, 6, "É", "'É'", ("NAME_FORMAT",)),
        (1, 30, "\x00", "'\\x00'", ("NAME_FORMAT",)),
        (1, 44, "\x1c", "'\\x1c'", ("NAME_FORMAT",)),
        (1, 3, "\x1c", "'\\x1c'", ("UNKNOWN_STATE",)),
        (2, 21, "\x00", "'\\x00'", ("INVALID_SEX",)),
        (2, 16, "\x00", "'\\x00'", ("INVALID_DATE", "CHECK_DIGIT_BIRTH_DATE")),
        (2, 3, "\x7f", "'\\x7f'", ("DOCUMENT_NUMBER_FORMAT", "CHECK_DIGIT_DOCUMENT_NUMBER")),
        (2, 30, " ", "' '", ("CHECK_DIGIT_OPTIONAL",)),
    ],
)
def test_mrz_charset(line, column, char, shown, also):
    lines = list(TD3_SPECIMEN)
    lines[line - 1] = lines[line - 1][: column - 1] + char + lines[line - 1][column:]
    result = parse_mrz(lines, TODAY)
    # The field holding the character fails too; the composite whenever it covers it.
    composite = ("CHECK_DIGIT_COMPOSITE",) if line == 2 and column not in (11, 12, 13, 21) else ()
    assert result.failures == ("MRZ_CHARSET", *also, *composite)
    charset = next(check for check in result.checks if check.name == "charset")
    assert charset.detail == f"{shown} at line {line} column {column} is not A-Z, 0-9 or <"


def test_two_lines_starting_with_v_are_a_visa():
    # The format of two lines is told by their width and the first letter:
    # a TD2 document code V reads as an MRV-B visa.
    result = parse_mrz(compose(MrzFormat.TD2, document_type="V"), TODAY)
    assert result.format is MrzFormat.MRVB


def test_mrz_charset_lowercase_line():
    result = parse_mrz([TD3_SPECIMEN[0].lower(), TD3_SPECIMEN[1]], TODAY)
    assert result.failures[:2] == ("MRZ_CHARSET", "DOCUMENT_TYPE")
    assert "NAME_FORMAT" in result.failures


def test_mrz_charset_inside_a_protected_field():
    line2 = TD3_SPECIMEN[1].replace("L898902C", "L89\x00902C")
    result = parse_mrz([TD3_SPECIMEN[0], line2], TODAY)
    assert failing_checks(result) == [
        "charset",
        "document_number",
        "document_number_check_digit",
        "composite_check_digit",
    ]
    number_check = result.checks[CHECK_NAMES[MrzFormat.TD3].index("document_number_check_digit")]
    assert number_check.detail == "cannot compute over characters outside the MRZ alphabet"


@pytest.mark.parametrize(
    ("fmt", "code"),
    [(MrzFormat.TD3, "I"), (MrzFormat.TD3, "A"), (MrzFormat.TD1, "P"), (MrzFormat.TD2, "P")],
)
def test_document_type(fmt, code):
    result = parse_mrz(compose(fmt, document_type=code), TODAY)
    assert result.failures == ("DOCUMENT_TYPE",)
    assert result.fields.document_type == code


def test_document_type_second_character():
    assert parse_mrz(compose(MrzFormat.TD3, document_type="PO"), TODAY).valid
    lines = put(list(TD3_SPECIMEN), MrzFormat.TD3, 1, "3")
    result = parse_mrz(lines, TODAY)
    assert result.failures == ("DOCUMENT_TYPE",)
    assert result.checks[2].detail == "second character of 'P3' is not a letter or <"


@pytest.mark.parametrize("fmt", TRAVEL_DOCUMENTS)
@pytest.mark.parametrize("field", ["issuing_state", "nationality"])
def test_unknown_state(fmt, field):
    result = parse_mrz(compose(fmt, **{field: "QQQ"}), TODAY)
    assert result.failures == ("UNKNOWN_STATE",)
    assert failing_checks(result) == [field]
    assert getattr(result.fields, field) == "QQQ"
    check = next(check for check in result.checks if check.name == field)
    assert check.detail == "'QQQ' is not an ICAO state or organisation code"


def test_one_letter_state_code():
    result = parse_mrz(compose(MrzFormat.TD3, issuing_state="D", nationality="D"), TODAY)
    assert result.valid
    assert result.fields.issuing_state == result.fields.nationality == "D"


@pytest.mark.parametrize("fmt", TRAVEL_DOCUMENTS)
def test_name_format_empty_surname(fmt):
    result = parse_mrz(compose(fmt, surname=""), TODAY)
    assert result.failures == ("NAME_FORMAT",)
    check = next(check for check in result.checks if check.name == "name")
    assert check.detail == "the primary identifier (surname) is empty"


def test_name_format_digit_in_name():
    # 3 is not an OCR look-alike of a letter, so nothing repairs it.
    lines = put(list(TD3_SPECIMEN), MrzFormat.TD3, 7, "3")
    result = parse_mrz(lines, TODAY)
    assert result.failures == ("NAME_FORMAT",)
    assert result.checks[4].detail == "names hold letters and fillers only, found '3'"
    assert result.fields.surname == "ER3KSSON"


@pytest.mark.parametrize("fmt", TRAVEL_DOCUMENTS)
def test_document_number_format(fmt):
    result = parse_mrz(compose(fmt, document_number="AB<CD"), TODAY)
    assert result.failures == ("DOCUMENT_NUMBER_FORMAT",)
    assert result.checks[5].detail == "'AB<CD<<<<' is not letters and digits then fillers"


@pytest.mark.parametrize(
    ("fmt", "field", "code"),
    [
        (MrzFormat.TD3, "document_number", "CHECK_DIGIT_DOCUMENT_NUMBER"),
        (MrzFormat.TD3, "birth_date", "CHECK_DIGIT_BIRTH_DATE"),
        (MrzFormat.TD3, "expiry_date", "CHECK_DIGIT_EXPIRY_DATE"),
        (MrzFormat.TD3, "optional_data", "CHECK_DIGIT_OPTIONAL"),
        (MrzFormat.TD1, "document_number", "CHECK_DIGIT_DOCUMENT_NUMBER"),
        (MrzFormat.TD1, "birth_date", "CHECK_DIGIT_BIRTH_DATE"),
        (MrzFormat.TD1, "expiry_date", "CHECK_DIGIT_EXPIRY_DATE"),
        (MrzFormat.TD2, "document_number", "CHECK_DIGIT_DOCUMENT_NUMBER"),
        (MrzFormat.TD2, "birth_date", "CHECK_DIGIT_BIRTH_DATE"),
        (MrzFormat.TD2, "expiry_date", "CHECK_DIGIT_EXPIRY_DATE"),
        (MrzFormat.MRVA, "document_number", "CHECK_DIGIT_DOCUMENT_NUMBER"),
        (MrzFormat.MRVB, "birth_date", "CHECK_DIGIT_BIRTH_DATE"),
    ],
)
def test_field_check_digits(fmt, field, code):
    layout = LAYOUTS[fmt]
    position = getattr(layout, f"{field}_check")
    lines = list(SPECIMENS[fmt])
    good = "".join(lines)[position]
    wrong = "7" if good != "7" else "6"
    lines = put(lines, fmt, position, wrong)
    if layout.composite_check is not None:
        lines = seal(lines, fmt, "composite")
    result = parse_mrz(lines, TODAY)
    assert result.failures == (code,)
    assert result.repairs == ()
    line, column = layout.locate(position)
    check = next(check for check in result.checks if not check.ok)
    assert check.detail == f"expected {good}, found '{wrong}' at line {line} column {column}"


@pytest.mark.parametrize("fmt", TRAVEL_DOCUMENTS)
def test_composite_check_digit(fmt):
    layout = LAYOUTS[fmt]
    assert layout.composite_check is not None
    lines = put(list(SPECIMENS[fmt]), fmt, layout.composite_check, "9")
    result = parse_mrz(lines, TODAY)
    assert result.failures == ("CHECK_DIGIT_COMPOSITE",)
    assert failing_checks(result) == ["composite_check_digit"]


def test_composite_check_digit_sees_a_field_with_its_own_digit_recomputed():
    # Change the birth year and reseal its own check digit: only the composite knows.
    lines = put(list(TD3_SPECIMEN), MrzFormat.TD3, 44 + 13, "590806")
    lines = seal(lines, MrzFormat.TD3, "birth_date")
    result = parse_mrz(lines, TODAY)
    assert result.failures == ("CHECK_DIGIT_COMPOSITE",)
    assert result.fields.birth_date == MrzDate(1959, 8, 6)


@pytest.mark.parametrize("fmt", TRAVEL_DOCUMENTS)
@pytest.mark.parametrize(
    "birth", [MrzDate(1974, 13, 1), MrzDate(1974, 2, 30), MrzDate(1974, 4, 31)]
)
def test_invalid_birth_date(fmt, birth):
    result = parse_mrz(compose(fmt, birth_date=birth), TODAY)
    assert result.failures == ("INVALID_DATE",)
    assert failing_checks(result) == ["birth_date"]
    assert result.fields.birth_date is None
    check = next(check for check in result.checks if not check.ok)
    assert check.detail == f"{birth.to_mrz()!r} is not a calendar date"


@pytest.mark.parametrize("fmt", TRAVEL_DOCUMENTS)
@pytest.mark.parametrize("expiry", ["301301", "300230", "300000"])
def test_invalid_expiry_date(fmt, expiry):
    layout = LAYOUTS[fmt]
    lines = put(list(SPECIMENS[fmt]), fmt, layout.expiry_date.start, expiry)
    lines = seal(lines, fmt, "expiry_date", "composite")
    result = parse_mrz(lines, TODAY)
    assert result.failures == ("INVALID_DATE",)
    assert failing_checks(result) == ["expiry_date"]
    assert result.fields.expiry_date is None


@pytest.mark.parametrize("fmt", list(MrzFormat))
@pytest.mark.parametrize("sex", ["Q", "A"])
def test_invalid_sex(fmt, sex):
    result = parse_mrz(compose(fmt, sex=sex), TODAY)
    assert result.failures == ("INVALID_SEX",)
    check = next(check for check in result.checks if not check.ok)
    assert check.detail == f"{sex!r} is not M, F, X or <"


@pytest.mark.parametrize(("sex", "field"), [("M", "M"), ("F", "F"), ("X", "X"), (None, None)])
def test_valid_sex(sex, field):
    result = parse_mrz(compose(MrzFormat.TD3, sex=sex), TODAY)
    assert result.valid
    assert result.fields.sex == field


def test_failures_are_in_check_order_without_repeats():
    lines = compose(MrzFormat.TD3, issuing_state="QQQ", nationality="ZZZ", sex="Q")
    result = parse_mrz(lines, TODAY)
    assert result.failures == ("UNKNOWN_STATE", "INVALID_SEX")
    assert failing_checks(result) == ["issuing_state", "nationality", "sex"]


# --- input that is no MRZ ---------------------------------------------------


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ("", "no MRZ lines"),
        ("\n \n\t\n", "no MRZ lines"),
        ([], "no MRZ lines"),
        ("P<UTOER", "1 line of 7 characters"),
        (["P<UTOER"], "1 line of 7 characters"),
        ("\n".join([TD1_SPECIMEN[0]] * 4), "4 lines"),
        (list(TD1_SPECIMEN) + list(TD2_SPECIMEN), "5 lines"),
        ("A" * 1_000_000, "a line of 1000000 characters is no MRZ line"),
        ([TD3_SPECIMEN[0], "<" * 1_000_000], "a line of 1000000 characters is no MRZ line"),
        ([TD2_SPECIMEN[0], "<" * 30], "line 2 has 30 characters, too far from the 36 of a TD2"),
        ([TD3_SPECIMEN[0], TD2_SPECIMEN[1]], "line 2 has 36 characters, too far from the 44"),
        (["<" * 30, "<" * 30, "<" * 36], "line 3 has 36 characters, too far from the 30"),
    ],
)
def test_input_that_is_no_mrz(lines, message):
    with pytest.raises(MrzFormatError) as raised:
        parse_mrz(lines, TODAY)
    assert message in str(raised.value)


def test_length_tolerance_is_four_characters():
    assert parse_mrz([TD3_SPECIMEN[0][:-4], TD3_SPECIMEN[1]], TODAY).failures == ("MRZ_LENGTH",)
    with pytest.raises(MrzFormatError, match="line 1 has 39 characters"):
        parse_mrz([TD3_SPECIMEN[0][:-5], TD3_SPECIMEN[1]], TODAY)


# --- long document numbers (TD1, TD2) ----------------------------------------


def test_doc_9303_long_number_example():
    lines = ["I<UTOD23145890<7349<<<<<<<<<<<", TD1_SPECIMEN[1], TD1_SPECIMEN[2]]
    lines = seal(lines, MrzFormat.TD1, "composite")
    result = parse_mrz(lines, TODAY)
    assert result.valid, result.failures
    assert result.fields.document_number == "D23145890734"
    assert result.fields.optional_data == ""
    # The composer writes the same line.
    assert compose(MrzFormat.TD1, document_number="D23145890734") == lines


@pytest.mark.parametrize(
    ("fmt", "number", "optional"),
    [
        (MrzFormat.TD1, "D23145890734", ""),
        (MrzFormat.TD1, "D23145890734", "AB12"),
        (MrzFormat.TD1, "ABCDEFGHIJ", "X" * 11),
        (MrzFormat.TD1, "A" * 22, ""),
        (MrzFormat.TD2, "D23145890734", ""),
        (MrzFormat.TD2, "D23145890734", "Q"),
        (MrzFormat.TD2, "1234567890ABCD", ""),
    ],
)
def test_long_document_numbers_round_trip(fmt, number, optional):
    lines = compose(fmt, document_number=number, optional_data=optional)
    result = parse_mrz(lines, TODAY)
    assert result.valid, result.failures
    assert result.repairs == ()
    assert result.fields.document_number == number
    assert result.fields.optional_data == optional


def test_long_number_with_wrong_check_digit():
    lines = compose(MrzFormat.TD1, document_number="D23145890734")
    # Line 1 column 19 holds the check digit 9 of the long number.
    assert lines[0][18] == "9"
    lines = seal(put(lines, MrzFormat.TD1, 18, "8"), MrzFormat.TD1, "composite")
    result = parse_mrz(lines, TODAY)
    assert result.failures == ("CHECK_DIGIT_DOCUMENT_NUMBER",)
    check = next(check for check in result.checks if not check.ok)
    assert check.detail == "expected 9, found '8' at line 1 column 19"
