"""The stop list: its CSV format, its one-line errors, and no numbers kept in clear."""

from __future__ import annotations

from pathlib import Path

import pytest

from egate.documents.stoplist import StopList, StopListError
from egate.privacy import Pseudonymizer

SALT = b"stop-list-test-salt-32-bytes...."
# A document number that must never show up in a message or in the object.
SECRET = "Q7SECRET9"


@pytest.fixture
def pseudonyms() -> Pseudonymizer:
    return Pseudonymizer(SALT)


def write(tmp_path: Path, content: str | bytes, name: str = "stop.csv") -> Path:
    path = tmp_path / name
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8", newline="")
    else:
        path.write_bytes(content)
    return path


def test_a_list_with_extra_columns_comments_and_blank_lines(tmp_path, pseudonyms):
    path = write(
        tmp_path,
        "# Lost and stolen documents, week 48\n"
        "\n"
        "issuing_state,document_number,reason,reported\n"
        f"UTO,{SECRET},stolen,2026-11-20\n"
        "# a comment between entries\n"
        "   \n"
        "D,C01X00T47,lost,2026-11-21\n"
        "FRA,12AB34567,revoked,\n",
    )
    stop_list = StopList.load(path, pseudonyms)

    assert len(stop_list) == 3
    assert stop_list.lists("UTO", SECRET)
    assert stop_list.lists("D", "C01X00T47")
    assert stop_list.lists("FRA", "12AB34567")


def test_lookups_need_both_state_and_number(tmp_path, pseudonyms):
    stop_list = StopList.load(
        write(tmp_path, f"issuing_state,document_number\nUTO,{SECRET}\n"), pseudonyms
    )
    assert stop_list.lists("UTO", SECRET)
    assert not stop_list.lists("D", SECRET)
    assert not stop_list.lists("UTO", "Q7SECRET8")
    assert not stop_list.lists("UTO", SECRET[:-1])


def test_lookups_ignore_case_and_fillers(tmp_path, pseudonyms):
    stop_list = StopList.load(
        write(tmp_path, f"issuing_state,document_number\nuto , {SECRET.lower()} \n"), pseudonyms
    )
    assert stop_list.lists("UTO", SECRET)
    assert stop_list.lists("UTO<", SECRET + "<<")


def test_columns_may_come_in_any_order_with_any_case(tmp_path, pseudonyms):
    path = write(tmp_path, f"Reason,Document_Number,ISSUING_STATE\nstolen,{SECRET},UTO\n")
    assert StopList.load(path, pseudonyms).lists("UTO", SECRET)


def test_quoted_fields_crlf_and_a_byte_order_mark(tmp_path, pseudonyms):
    path = write(
        tmp_path,
        f'\ufeffissuing_state,document_number,reason\r\n"UTO","{SECRET}","stolen, reported"\r\n',
    )
    stop_list = StopList.load(path, pseudonyms)
    assert len(stop_list) == 1
    assert stop_list.lists("UTO", SECRET)


def test_a_quote_in_a_comment_does_not_hide_the_entries_after_it(tmp_path, pseudonyms):
    path = write(
        tmp_path,
        'issuing_state,document_number\n# weekly list,"see notes\nUTO,X00000001\nUTO,X00000002\n',
    )
    stop_list = StopList.load(path, pseudonyms)
    assert len(stop_list) == 2
    assert stop_list.lists("UTO", "X00000001")
    assert stop_list.lists("UTO", "X00000002")


def test_a_header_without_entries_is_an_empty_list(tmp_path, pseudonyms):
    stop_list = StopList.load(write(tmp_path, "issuing_state,document_number\n"), pseudonyms)
    assert len(stop_list) == 0
    assert not stop_list.lists("UTO", SECRET)


def test_the_longest_document_numbers_are_accepted(tmp_path, pseudonyms):
    number = "A" * 22
    stop_list = StopList.load(
        write(tmp_path, f"issuing_state,document_number\nUTO,{number}\n"), pseudonyms
    )
    assert stop_list.lists("UTO", number)


def test_the_empty_list_lists_nothing(pseudonyms):
    empty = StopList.empty(pseudonyms)
    assert len(empty) == 0
    assert not empty.lists("UTO", SECRET)


def test_keys_depend_on_the_salt(tmp_path):
    path = write(tmp_path, f"issuing_state,document_number\nUTO,{SECRET}\n")
    mine = StopList.load(path, Pseudonymizer(SALT))
    theirs = StopList.load(path, Pseudonymizer(bytes(16)))
    assert mine.lists("UTO", SECRET)
    assert theirs.lists("UTO", SECRET)
    assert getattr(mine, "_keys") != getattr(theirs, "_keys")  # noqa: B009


def test_no_document_number_is_kept_in_clear(tmp_path, pseudonyms):
    path = write(
        tmp_path,
        f"issuing_state,document_number,reason\nUTO,{SECRET},stolen\nD,C01X00T47,lost\n",
    )
    stop_list = StopList.load(path, pseudonyms)

    assert not hasattr(stop_list, "__dict__")  # all it holds is in its slots
    held = {name: getattr(stop_list, name) for name in StopList.__slots__}
    dump = repr(stop_list) + str(stop_list) + repr(held) + "".join(map(str, held["_keys"]))
    for number in (SECRET, "C01X00T47"):
        assert number not in dump
        assert number.lower() not in dump
    assert all(len(key) == 64 for key in held["_keys"])
    assert repr(stop_list) == f"StopList(2 documents from {path})"


# Each bad file: its content, the line the error must name, and what it must say.
BAD_FILES = {
    "missing header column": (
        f"# header below\nstate,document_number\nUTO,{SECRET}\n",
        2,
        "header lacks column issuing_state",
    ),
    "both header columns missing": (
        f"a,b\nUTO,{SECRET}\n",
        1,
        "header lacks column issuing_state, document_number",
    ),
    "unknown state": (
        f"issuing_state,document_number\nUTO,X00000001\nZZZ,{SECRET}\n",
        3,
        "issuing_state: not an ICAO state code",
    ),
    "columns swapped": (
        f"issuing_state,document_number\n{SECRET},UTO\n",
        2,
        "issuing_state: not an ICAO state code",
    ),
    "number with a stray character": (
        f"issuing_state,document_number\nUTO,{SECRET}-1\n",
        2,
        "document_number: expected 1 to 22 letters A-Z or digits, got 11 characters",
    ),
    "number with a filler": (
        f"issuing_state,document_number\nUTO,{SECRET}<\n",
        2,
        "document_number: expected 1 to 22 letters A-Z or digits, got 10 characters",
    ),
    "number too long": (
        f"issuing_state,document_number\nUTO,{SECRET * 3}\n",
        2,
        "document_number: expected 1 to 22 letters A-Z or digits, got 27 characters",
    ),
    "number missing": (
        "issuing_state,document_number\n\nUTO,\n",
        3,
        "document_number: expected 1 to 22 letters A-Z or digits, got 0 characters",
    ),
    "number with non-ASCII letters": (
        f"issuing_state,document_number\nUTO,{SECRET}Ä\n",
        2,
        "document_number: expected 1 to 22",
    ),
    "too many fields": (
        f"issuing_state,document_number\nUTO,{SECRET},stolen\n",
        2,
        "3 fields, the header has 2",
    ),
    "too few fields": (
        f"issuing_state,document_number,reason\nUTO,{SECRET},stolen\n{SECRET}\n",
        3,
        "1 fields, the header has 3",
    ),
    "unclosed quote": (
        f'issuing_state,document_number\nUTO,"{SECRET}\nUTO,X00000001\n',
        2,
        "not CSV",
    ),
}


@pytest.mark.parametrize(("content", "line", "says"), BAD_FILES.values(), ids=BAD_FILES.keys())
def test_errors_name_file_line_and_field_but_never_the_number(
    tmp_path, pseudonyms, content, line, says
):
    path = write(tmp_path, content)
    with pytest.raises(StopListError) as caught:
        StopList.load(path, pseudonyms)
    message = str(caught.value)
    assert message.startswith(f"{path}:{line}: ")
    assert says in message
    assert "\n" not in message
    assert SECRET not in message


# Each file with bytes that are not UTF-8: its content, the line and the field named.
NOT_UTF8 = {
    "in the number": (
        f"issuing_state,document_number,reason\nUTO,{SECRET}\xe9,stolen\n".encode("latin-1"),
        2,
        "document_number",
    ),
    "in another column": (
        f"issuing_state,document_number,reason\nUTO,{SECRET},vol\xe9\n".encode("latin-1"),
        2,
        "reason",
    ),
    "far down": (
        b"issuing_state,document_number\n" + b"UTO,X00000001\n" * 3000 + b"\xffTO,X1\n",
        3002,
        "issuing_state",
    ),
    "in the header": (b"issuing_state,document_\xfcnumber\nUTO,X1\n", 1, "header"),
}


@pytest.mark.parametrize(("content", "line", "field"), NOT_UTF8.values(), ids=NOT_UTF8.keys())
def test_bytes_that_are_not_utf8(tmp_path, pseudonyms, content, line, field):
    path = write(tmp_path, content)
    with pytest.raises(StopListError) as caught:
        StopList.load(path, pseudonyms)
    assert str(caught.value) == f"{path}:{line}: {field}: not UTF-8 text"


def test_a_comment_that_is_not_utf8_is_still_a_comment(tmp_path, pseudonyms):
    path = write(
        tmp_path, "# Liste g\xe9n\xe9rale\nissuing_state,document_number\nD,X1\n".encode("latin-1")
    )
    assert StopList.load(path, pseudonyms).lists("D", "X1")


@pytest.mark.parametrize("content", ["", "\n\n", "# only a comment\n", "   \n# \n"])
def test_an_empty_file(tmp_path, pseudonyms, content):
    path = write(tmp_path, content)
    with pytest.raises(StopListError) as caught:
        StopList.load(path, pseudonyms)
    assert str(caught.value) == (
        f"{path}: empty file (expected a header: issuing_state,document_number)"
    )


def test_a_missing_file(tmp_path, pseudonyms):
    path = tmp_path / "nowhere.csv"
    with pytest.raises(StopListError) as caught:
        StopList.load(path, pseudonyms)
    assert str(caught.value) == f"{path}: cannot read: No such file or directory"


def test_a_folder_is_not_a_stop_list(tmp_path, pseudonyms):
    with pytest.raises(StopListError) as caught:
        StopList.load(tmp_path, pseudonyms)
    assert str(caught.value).startswith(f"{tmp_path}: cannot read: ")
