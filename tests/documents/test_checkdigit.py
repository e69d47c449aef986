"""The ICAO 9303 check digit: worked examples, a reference implementation, the alphabet."""

from __future__ import annotations

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from egate.documents.checkdigit import (
    MRZ_ALPHABET,
    character_values,
    check_digit,
    check_digit_matches,
    check_digit_of_values,
)

ALPHABET = string.digits + string.ascii_uppercase + "<"


def reference_check_digit(data: str) -> str:
    """Doc 9303 written out plainly: values times 7, 3, 1 repeating, sum modulo 10."""
    total = 0
    for index, char in enumerate(data):
        if char.isdigit():
            value = int(char)
        elif char == "<":
            value = 0
        else:
            value = ord(char) - ord("A") + 10
        total += value * (7, 3, 1)[index % 3]
    return str(total % 10)


@pytest.mark.parametrize(
    ("data", "digit"),
    [
        # Fields of the Doc 9303 TD3 specimen, with the check digits ICAO prints.
        ("L898902C<", "3"),
        ("690806", "1"),
        ("940623", "6"),
        ("ZE184226B<<<<<", "1"),
        # The TD3 specimen composite: line 2 positions 1-10, 14-20, 22-43.
        ("L898902C<3" + "6908061" + "9406236ZE184226B<<<<<1", "4"),
        # TD1 specimen: document number and composite.
        ("D23145890", "7"),
        ("D231458907<<<<<<<<<<<<<<<" + "7408122" + "1204159" + "<<<<<<<<<<<", "6"),
        # A long TD1 document number (Doc 9303 part 5 example).
        ("D23145890734", "9"),
        ("", "0"),
        ("<<<<<<", "0"),
    ],
)
def test_worked_examples(data, digit):
    assert check_digit(data) == digit
    assert reference_check_digit(data) == digit


def test_character_values():
    assert character_values("09AZ<") == bytes([0, 9, 10, 35, 0])
    assert character_values("L898902C<") == bytes([21, 8, 9, 8, 9, 0, 2, 12, 0])


@pytest.mark.parametrize(
    "data",
    ["a", "L898902c<", "É", "ÉRIKSSON", "\x00", "12\x1c", " ", "-", "1\n2", "٣", "²"],
)
def test_characters_outside_the_alphabet_give_none(data):
    assert character_values(data) is None
    assert check_digit(data) is None
    assert not check_digit_matches(data, "0")


@given(st.text(alphabet=ALPHABET, max_size=60))
def test_check_digit_agrees_with_reference(data):
    assert check_digit(data) == reference_check_digit(data)
    values = character_values(data)
    assert values is not None
    assert check_digit_of_values(values) == reference_check_digit(data)


@given(st.text(max_size=20))
def test_check_digit_is_none_exactly_outside_the_alphabet(data):
    inside = all(char in MRZ_ALPHABET for char in data)
    assert (check_digit(data) is not None) is inside


def test_alphabet():
    assert set(ALPHABET) == MRZ_ALPHABET
    assert len(MRZ_ALPHABET) == 37


@pytest.mark.parametrize(
    ("data", "digit", "matches"),
    [
        ("L898902C<", "3", True),
        ("L898902C<", "4", False),
        ("L898902C<", "<", False),
        # A field made only of fillers may carry < in place of its check digit 0.
        ("<<<<<<<<<<<<<<", "<", True),
        ("<<<<<<<<<<<<<<", "0", True),
        ("<<<<<<<<<<<<<<", "1", False),
        # ... but only then: a field whose digit is 0 for another reason may not.
        ("0<<<<<", "<", False),
        ("0<<<<<", "0", True),
    ],
)
def test_check_digit_matches(data, digit, matches):
    assert check_digit_matches(data, digit) is matches
