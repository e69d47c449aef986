"""Writing an MRZ from document data: specimens, names, long numbers, refusals."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from egate.documents.composer import (
    DocumentData,
    MrzCompositionError,
    compose_mrz,
    mrz_name,
)
from egate.documents.dates import MrzDate
from egate.documents.layout import MrzFormat
from egate.documents.mrz import parse_mrz

TODAY = date(2026, 11, 26)

TD3_DATA = DocumentData(
    format=MrzFormat.TD3,
    document_type="P",
    issuing_state="UTO",
    surname="Eriksson",
    given_names="Anna Maria",
    document_number="L898902C",
    nationality="UTO",
    birth_date=date(1969, 8, 6),
    sex="F",
    expiry_date=date(1994, 6, 23),
    optional_data="ZE184226B",
)
TD1_DATA = replace(
    TD3_DATA,
    format=MrzFormat.TD1,
    document_type="I",
    document_number="D23145890",
    birth_date=date(1974, 8, 12),
    expiry_date=date(2012, 4, 15),
    optional_data="",
)


def test_td3_specimen():
    assert compose_mrz(TD3_DATA) == (
        "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<",
        "L898902C<3UTO6908061F9406236ZE184226B<<<<<14",
    )


def test_td1_specimen():
    assert compose_mrz(TD1_DATA) == (
        "I<UTOD231458907<<<<<<<<<<<<<<<",
        "7408122F1204159UTO<<<<<<<<<<<6",
        "ERIKSSON<<ANNA<MARIA<<<<<<<<<<",
    )


def test_td2_specimen():
    assert compose_mrz(replace(TD1_DATA, format=MrzFormat.TD2)) == (
        "I<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<",
        "D231458907UTO7408122F1204159<<<<<<<6",
    )


def test_birth_date_as_mrz_date_or_date():
    as_date = compose_mrz(TD3_DATA)
    assert compose_mrz(replace(TD3_DATA, birth_date=MrzDate(1969, 8, 6))) == as_date


def test_empty_personal_number_has_a_filler_check_digit():
    line2 = compose_mrz(replace(TD3_DATA, optional_data=""))[1]
    assert line2[28:43] == "<" * 15
    assert parse_mrz(compose_mrz(replace(TD3_DATA, optional_data="")), TODAY).valid


@pytest.mark.parametrize(
    ("text", "written"),
    [
        ("Eriksson", "ERIKSSON"),
        ("Anna Maria", "ANNA<MARIA"),
        ("Smith-Jones", "SMITH<JONES"),
        ("O'Neil", "ONEIL"),
        ("Smith, Jr", "SMITH<<JR"),
        ("", ""),
    ],
)
def test_mrz_name(text, written):
    assert mrz_name(text) == written


@pytest.mark.parametrize("text", ["Émile", "Anna2", "Dr. Who", "Zoë", "A_B"])
def test_mrz_name_refuses_what_needs_transliteration(text):
    with pytest.raises(MrzCompositionError, match="the MRZ cannot hold"):
        mrz_name(text)


def test_names_are_cut_to_the_field():
    data = replace(TD3_DATA, surname="A" * 30, given_names="BERNADETTE MARIA")
    line1 = compose_mrz(data)[0]
    assert line1[5:] == "A" * 30 + "<<" + "BERNADE"
    result = parse_mrz(compose_mrz(data), TODAY)
    assert result.valid
    assert (result.fields.surname, result.fields.given_names) == ("A" * 30, "BERNADE")


def test_names_cut_inside_the_separator():
    data = replace(TD3_DATA, surname="A" * 38, given_names="BEN")
    assert compose_mrz(data)[0][5:] == "A" * 38 + "<"
    fields = parse_mrz(compose_mrz(data), TODAY).fields
    assert (fields.surname, fields.given_names) == ("A" * 38, "")


def test_surname_only():
    data = replace(TD3_DATA, given_names="")
    assert compose_mrz(data)[0] == "P<UTOERIKSSON" + "<" * 31
    fields = parse_mrz(compose_mrz(data), TODAY).fields
    assert (fields.surname, fields.given_names) == ("ERIKSSON", "")


@pytest.mark.parametrize(
    ("fmt", "number", "line", "start", "written"),
    [
        # Nine characters in place, < for the check digit, the rest and its digit.
        (MrzFormat.TD1, "D23145890734", 0, 5, "D23145890<7349<"),
        (MrzFormat.TD1, "ABCDEFGHIJ", 0, 5, "ABCDEFGHI<J"),
        (MrzFormat.TD2, "D23145890734", 1, 0, "D23145890<UTO"),
    ],
)
def test_long_document_numbers(fmt, number, line, start, written):
    lines = compose_mrz(replace(TD1_DATA, format=fmt, document_number=number))
    assert lines[line][start : start + len(written)] == written
    result = parse_mrz(lines, TODAY)
    assert result.valid
    assert result.fields.document_number == number


def test_td2_long_number_continues_in_the_optional_data():
    line2 = compose_mrz(replace(TD1_DATA, format=MrzFormat.TD2, document_number="D23145890734"))[1]
    assert line2[28:35] == "7349<<<"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"document_number": "L898902C12"}, "TD3 holds document numbers of at most 9 characters"),
        ({"document_type": "PPP"}, "document type 'PPP' is longer than 2 characters"),
        ({"document_type": "p"}, "has characters outside A-Z, 0-9, <"),
        ({"issuing_state": "UTOP"}, "issuing state 'UTOP' is longer than 3 characters"),
        ({"nationality": "ut"}, "nationality 'ut' has characters outside"),
        ({"document_number": "L898-02C"}, "document number 'L898-02C' has characters outside"),
        ({"optional_data": "Z" * 15}, "optional data 'ZZZZZZZZZZZZZZZ' is longer than 14"),
        ({"optional_data": "ZE 18"}, "optional data 'ZE 18' has characters outside"),
        ({"optional_data_2": "X"}, "TD3 has no second optional data field"),
        ({"surname": "Åberg"}, "the MRZ cannot hold"),
        # A sex of two characters used to lose its second one to the expiry date.
        ({"sex": "MX"}, "sex 'MX' is longer than 1 characters"),
        ({"sex": "é"}, "sex 'é' has characters outside"),
    ],
)
def test_refusals(changes, message):
    with pytest.raises(MrzCompositionError) as raised:
        compose_mrz(replace(TD3_DATA, **changes))
    assert message in str(raised.value)


@pytest.mark.parametrize(
    ("fmt", "number", "optional", "message"),
    [
        (MrzFormat.TD1, "A" * 23, "", f"document number {'A' * 23!r} is too long for TD1"),
        (MrzFormat.TD2, "A" * 15, "", "is too long for TD2"),
        (MrzFormat.TD1, "A" * 22, "B", "optional data 'B' is longer than 0 characters"),
        (MrzFormat.TD2, "A" * 12, "BCD", "optional data 'BCD' is longer than 2 characters"),
        (MrzFormat.TD1, "AB-CDEFGHIJ", "", "has characters outside A-Z, 0-9, <"),
    ],
)
def test_long_number_refusals(fmt, number, optional, message):
    data = replace(TD1_DATA, format=fmt, document_number=number, optional_data=optional)
    with pytest.raises(MrzCompositionError) as raised:
        compose_mrz(data)
    assert message in str(raised.value)


def test_td1_second_optional_data():
    lines = compose_mrz(replace(TD1_DATA, optional_data="AB12", optional_data_2="XYZ9"))
    assert lines[0][15:30] == "AB12" + "<" * 11
    assert lines[1][18:29] == "XYZ9" + "<" * 7
    fields = parse_mrz(lines, TODAY).fields
    assert (fields.optional_data, fields.optional_data_2) == ("AB12", "XYZ9")
    with pytest.raises(MrzCompositionError, match="longer than 11"):
        compose_mrz(replace(TD1_DATA, optional_data_2="X" * 12))


@pytest.mark.parametrize("sex", ["M", "F", "X", None, ""])
def test_sex(sex):
    line2 = compose_mrz(replace(TD3_DATA, sex=sex))[1]
    assert line2[20] == (sex or "<")
