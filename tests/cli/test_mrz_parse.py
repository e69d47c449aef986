"""``egate mrz parse``: documents on stdin or as arguments, JSON and text, exit statuses."""

from __future__ import annotations

import json
import random
import re
from datetime import date

import pytest

from egate.documents.composer import DocumentData, compose_mrz
from egate.documents.layout import MrzFormat
from egate.documents.mrz import parse_mrz
from egate.documents.specimens import SPECIMENS

TD3 = SPECIMENS[MrzFormat.TD3]
TD1 = SPECIMENS[MrzFormat.TD1]
# The TD3 specimen as a worn reader sends it: 0 for O in the state, O for 0
# in the birth date, 1 for I in the given names.
MISREAD_TD3 = (
    "P<UT0ERIKSSON<<ANNA<MAR1A<<<<<<<<<<<<<<<<<<<",
    "L898902C<3UTO69O8061F9406236ZE184226B<<<<<14",
)
# A sound MRZ whose birth date check digit was then changed: invalid, beyond repair.
BROKEN_TD3 = (TD3[0], TD3[1][:19] + "9" + TD3[1][20:])

TOP_KEYS = {"format", "valid", "fields", "checks", "repairs"}
FIELD_KEYS = {
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
}
CHECK_KEYS = {"name", "ok", "code", "detail"}
REPAIR_KEYS = {"field", "line", "column", "found", "replaced_by"}
NOT_AN_MRZ_PREFIX = "egate mrz parse: error: "
NO_INPUT = "egate: error: no MRZ lines given (as arguments or on standard input)\n"


def stdin_of(*documents: tuple[str, ...] | list[str], separator: str = "\n\n") -> bytes:
    return (separator.join("\n".join(lines) for lines in documents) + "\n").encode()


def json_lines(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines()]


def failures(result: dict) -> list[str]:
    return [check["code"] for check in result["checks"] if not check["ok"]]


def test_the_five_specimens_as_json(cli):
    ran = cli(
        "mrz", "parse", "--json", "--today", "2026-11-26", stdin=stdin_of(*SPECIMENS.values())
    )

    assert ran.status == 0
    assert ran.err == ""
    results = json_lines(ran.out)
    assert [result["format"] for result in results] == [fmt.value for fmt in SPECIMENS]
    for fmt, result in zip(SPECIMENS, results, strict=True):
        assert set(result) == TOP_KEYS
        assert result["valid"] is True
        assert set(result["fields"]) == FIELD_KEYS | (
            {"optional_data_2"} if fmt is MrzFormat.TD1 else set()
        )
        assert all(set(check) == CHECK_KEYS and check["ok"] for check in result["checks"])
        assert result["repairs"] == []
        assert result["fields"]["surname"] == "ERIKSSON"
        assert result["fields"]["given_names"] == "ANNA MARIA"
        assert result["fields"]["issuing_state"] == "UTO"


def test_the_td3_specimen_fields(cli):
    ran = cli("mrz", "parse", "--json", "--today", "2026-11-26", *TD3)
    assert ran.status == 0
    (result,) = json_lines(ran.out)
    assert result["fields"] == {
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
    }
    assert [check["name"] for check in result["checks"]][-2:] == [
        "optional_data_check_digit",
        "composite_check_digit",
    ]
    assert len(result["checks"]) == 15


@pytest.mark.parametrize("fmt", list(MrzFormat))
def test_each_specimen_as_arguments(cli, fmt):
    ran = cli("mrz", "parse", "--json", *SPECIMENS[fmt])
    assert ran.status == 0
    (result,) = json_lines(ran.out)
    assert (result["format"], result["valid"]) == (fmt.value, True)


def test_a_whole_mrz_pasted_as_one_argument(cli):
    ran = cli("mrz", "parse", "--json", "".join(TD3))
    assert ran.status == 0
    assert json_lines(ran.out)[0]["fields"]["document_number"] == "L898902C"


def test_the_text_output_shows_every_field(cli):
    ran = cli("mrz", "parse", "--today", "2026-11-26", stdin=stdin_of(TD3))
    assert ran.status == 0
    out = ran.out
    assert "Document 1: TD3 valid" in out
    for label, value in [
        ("Document type", "P"),
        ("Issuing state", "UTO - Utopia (ICAO specimen documents)"),
        ("Surname", "ERIKSSON"),
        ("Given names", "ANNA MARIA"),
        ("Document number", "L898902C"),
        ("Nationality", "UTO - Utopia (ICAO specimen documents)"),
        ("Birth date", "1969-08-06"),
        ("Expiry date", "1994-06-23"),
        ("Sex", "F"),
        ("Optional data", "ZE184226B"),
        ("Checks", "all 15 passed"),
    ]:
        row = next(line for line in out.splitlines() if f" {label} " in line)
        assert f" {value} " in row
    assert "\x1b[" not in out


def test_the_text_output_names_failed_checks(cli):
    ran = cli("mrz", "parse", "--today", "2026-11-26", stdin=stdin_of(BROKEN_TD3))
    assert ran.status == 1
    assert "Document 1: TD3 INVALID" in ran.out
    row = next(line for line in ran.out.splitlines() if "CHECK_DIGIT_BIRTH_DATE" in line)
    assert "birth_date_check_digit: expected 1, found '9' at line 2 column 20" in row


@pytest.mark.parametrize(
    "separator",
    ["\n\n", "\n\n\n\n", "\n   \n", "\n\t\n", "\r\n\r\n"],
    ids=["one blank line", "several", "spaces", "a tab", "crlf"],
)
def test_documents_are_separated_by_blank_lines(cli, separator):
    data = stdin_of(TD3, TD1, SPECIMENS[MrzFormat.MRVB], separator=separator)
    ran = cli("mrz", "parse", "--json", stdin=b"\n\n" + data + b"\n\n")
    assert ran.status == 0
    assert [result["format"] for result in json_lines(ran.out)] == ["TD3", "TD1", "MRVB"]


def test_crlf_line_ends_within_a_document(cli):
    ran = cli("mrz", "parse", "--json", stdin="\r\n".join(TD3).encode() + b"\r\n")
    assert ran.status == 0
    assert json_lines(ran.out)[0]["valid"] is True


def test_one_invalid_document_exits_1_and_all_are_printed(cli):
    ran = cli("mrz", "parse", "--json", stdin=stdin_of(TD3, BROKEN_TD3, TD1))
    assert ran.status == 1
    assert ran.err == ""
    results = json_lines(ran.out)
    assert [result["valid"] for result in results] == [True, False, True]
    assert failures(results[1]) == ["CHECK_DIGIT_BIRTH_DATE", "CHECK_DIGIT_COMPOSITE"]


def test_a_composed_document_with_a_wrong_expiry_digit(cli):
    lines = list(
        compose_mrz(
            DocumentData(
                format=MrzFormat.TD1,
                document_type="ID",
                issuing_state="D",
                surname="MUSTERMANN",
                given_names="ERIKA",
                document_number="T22000129",
                nationality="D",
                birth_date=date(1983, 8, 12),
                sex="F",
                expiry_date=date(2031, 10, 31),
            )
        )
    )
    digit = lines[1][14]
    lines[1] = lines[1][:14] + str((int(digit) + 1) % 10) + lines[1][15:]
    ran = cli("mrz", "parse", "--json", "--today", "2026-11-26", *lines)
    assert ran.status == 1
    (result,) = json_lines(ran.out)
    assert result["format"] == "TD1"
    assert failures(result) == ["CHECK_DIGIT_EXPIRY_DATE", "CHECK_DIGIT_COMPOSITE"]


def test_input_that_is_no_mrz_exits_2_and_the_others_are_still_printed(cli):
    ran = cli("mrz", "parse", "--json", stdin=stdin_of(TD3, ["hello world"], TD1))
    assert ran.status == 2
    assert [result["format"] for result in json_lines(ran.out)] == ["TD3", "TD1"]
    assert ran.err.splitlines() == [
        "egate mrz parse: error: stdin document 2 (line 4): not an MRZ: 1 line of 11 "
        "characters (expected 2 lines of 36 or 44 characters, or 3 lines of 30)"
    ]


@pytest.mark.parametrize(
    "documents",
    [(BROKEN_TD3, ["hello"]), (["hello"], BROKEN_TD3)],
    ids=["invalid first", "not an MRZ first"],
)
def test_input_errors_outrank_invalid_documents(cli, documents):
    ran = cli("mrz", "parse", "--json", stdin=stdin_of(*documents))
    assert ran.status == 2
    assert len(json_lines(ran.out)) == 1
    assert len(ran.err.splitlines()) == 1


def test_a_document_with_too_many_lines(cli):
    ran = cli("mrz", "parse", stdin=stdin_of([*TD1, "EXTRA<LINE", "AND<ANOTHER"]))
    assert ran.status == 2
    assert ran.out == ""
    assert ran.err == (
        "egate mrz parse: error: stdin document 1 (line 1): not an MRZ: 5 lines, "
        "no MRZ has more than 3\n"
    )


def test_many_short_lines_are_counted_not_kept(cli):
    ran = cli("mrz", "parse", stdin=b"A\n" * 100_000)
    assert ran.status == 2
    assert ran.err == (
        "egate mrz parse: error: stdin document 1 (line 1): not an MRZ: 100000 lines, "
        "no MRZ has more than 3\n"
    )


def test_a_line_far_too_long(cli):
    ran = cli("mrz", "parse", stdin=stdin_of(TD3, [TD3[0], "<" * 5000]))
    assert ran.status == 2
    assert ran.err == (
        "egate mrz parse: error: stdin document 2 (line 4): not an MRZ: line 5 has 5000 "
        "characters, no MRZ line has\n"
    )


def test_a_line_a_character_short_is_a_length_failure_not_an_input_error(cli):
    ran = cli("mrz", "parse", "--json", TD3[0], TD3[1][:-1])
    assert ran.status == 1
    assert "MRZ_LENGTH" in failures(json_lines(ran.out)[0])


@pytest.mark.parametrize(
    "data", [b"", b"\n\n\n", b"   \n\t\n"], ids=["empty", "newlines", "blanks"]
)
def test_no_input_exits_2(cli, data):
    ran = cli("mrz", "parse", stdin=data)
    assert (ran.status, ran.out, ran.err) == (2, "", NO_INPUT)


@pytest.mark.parametrize(
    ("lines", "stray"),
    [
        ([line.lower() for line in TD3], "'p' at line 1 column 1"),
        ([TD3[0].replace("ERIKSSON", "ERIKSSÖN"), TD3[1]], "'Ö' at line 1 column 12"),
        ([TD3[0].replace("ANNA", "ANNA\u200b")[:44], TD3[1]], "'\\u200b' at line 1 column 20"),
    ],
    ids=["lower case", "an accent", "a zero-width space"],
)
def test_characters_outside_the_mrz_alphabet(cli, lines, stray):
    ran = cli("mrz", "parse", "--json", stdin=stdin_of(lines))
    assert ran.status == 1
    assert ran.err == ""
    (result,) = json_lines(ran.out)
    assert "MRZ_CHARSET" in failures(result)
    charset = next(check for check in result["checks"] if check["name"] == "charset")
    assert charset["detail"].startswith(stray)


def test_bytes_that_are_not_utf8(cli):
    data = TD3[0].encode()[:10] + b"\xff" + TD3[0].encode()[11:] + b"\n" + TD3[1].encode() + b"\n"
    ran = cli("mrz", "parse", "--json", stdin=data)
    assert ran.status == 1
    (result,) = json_lines(ran.out)
    assert "MRZ_CHARSET" in failures(result)


@pytest.mark.parametrize(
    ("today", "birth", "expiry"),
    [
        ("2026-11-26", "1969-08-06", "1994-06-23"),
        # More than 50 years after 2050 would be 2144: 94 is read as 2094.
        ("2050-01-01", "1969-08-06", "2094-06-23"),
        # 2069 is no longer in the future.
        ("2070-01-01", "2069-08-06", "2094-06-23"),
    ],
)
def test_today_fixes_the_century(cli, today, birth, expiry):
    ran = cli("mrz", "parse", "--json", "--today", today, *TD3)
    fields = json_lines(ran.out)[0]["fields"]
    assert (fields["birth_date"], fields["expiry_date"]) == (birth, expiry)


def test_today_defaults_to_the_real_date(cli):
    before = date.today()
    ran = cli("mrz", "parse", "--json", *TD3)
    after = date.today()
    (result,) = json_lines(ran.out)
    assert result in (parse_mrz(TD3, before).to_json(), parse_mrz(TD3, after).to_json())


def test_ocr_confusions_are_repaired(cli):
    ran = cli("mrz", "parse", "--json", *MISREAD_TD3)
    assert ran.status == 0
    (result,) = json_lines(ran.out)
    assert result["valid"] is True
    assert result["fields"]["document_number"] == "L898902C"
    assert all(set(repair) == REPAIR_KEYS for repair in result["repairs"])
    assert sorted(
        (repair["field"], repair["line"], repair["column"], repair["found"], repair["replaced_by"])
        for repair in result["repairs"]
    ) == [
        ("birth_date", 2, 16, "O", "0"),
        ("issuing_state", 1, 5, "0", "O"),
        ("name", 1, 24, "1", "I"),
    ]


def test_repairs_are_shown_in_the_text_output(cli):
    ran = cli("mrz", "parse", *MISREAD_TD3)
    assert ran.status == 0
    repaired = [line for line in ran.out.splitlines() if " Repaired " in line]
    assert len(repaired) == 3
    assert any("issuing_state: line 1 column 5 '0' -> 'O'" in line for line in repaired)


def test_no_repair_reports_the_confusions(cli):
    ran = cli("mrz", "parse", "--json", "--no-repair", "--today", "2026-11-26", *MISREAD_TD3)
    assert ran.status == 1
    (result,) = json_lines(ran.out)
    assert result["repairs"] == []
    assert result["fields"]["issuing_state"] == "UT0"
    assert {"UNKNOWN_STATE", "INVALID_DATE", "NAME_FORMAT"} <= set(failures(result))


class TestProcesses:
    """The installed console script reading real stdin."""

    def test_specimens_on_stdin(self, egate_process):
        done = egate_process("mrz", "parse", "--json", stdin=stdin_of(*SPECIMENS.values()))
        assert done.returncode == 0
        results = json_lines(done.stdout.decode())
        assert [result["valid"] for result in results] == [True] * 5
        assert done.stderr == b""

    def test_a_bad_document_among_good_ones(self, egate_process):
        done = egate_process("mrz", "parse", stdin=stdin_of(TD3, ["P<UTO"], BROKEN_TD3))
        assert done.returncode == 2
        titles = re.findall(r"Document \d+: \w+ \w+", done.stdout.decode())
        assert titles == ["Document 1: TD3 valid", "Document 3: TD3 INVALID"]
        assert done.stderr.decode().splitlines() == [
            "egate mrz parse: error: stdin document 2 (line 4): not an MRZ: 1 line of 5 "
            "characters (expected 2 lines of 36 or 44 characters, or 3 lines of 30)"
        ]

    def test_empty_input(self, egate_process):
        done = egate_process("mrz", "parse", via="module")
        assert (done.returncode, done.stdout, done.stderr) == (2, b"", NO_INPUT.encode())

    def test_megabytes_of_random_bytes(self, egate_process):
        noise = random.Random(9303).randbytes(3 * 1024 * 1024)
        done = egate_process("mrz", "parse", stdin=noise)
        assert done.returncode == 2
        errors = done.stderr.decode().splitlines()
        assert "Traceback" not in done.stderr.decode()
        assert 0 < len(errors) < 200
        assert all(line.startswith(NOT_AN_MRZ_PREFIX + "stdin document ") for line in errors)
        assert len(done.stdout) + len(done.stderr) < 64 * 1024
