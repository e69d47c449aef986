"""The ICAO 9303 check digit: weights 7, 3, 1 repeating, sum modulo 10.

Digits count as their value, ``A``-``Z`` as 10-35 and the filler ``<`` as 0.
"""

from __future__ import annotations

import string

MRZ_ALPHABET = frozenset(string.ascii_uppercase + string.digits + "<")

_INVALID = 255
# Byte translation table from an ASCII character to its value, 255 for
# characters outside the alphabet: the sums then run in C over bytes.
_TABLE = bytes(
    int(chr(code))
    if chr(code) in string.digits
    else 10 + string.ascii_uppercase.index(chr(code))
    if chr(code) in string.ascii_uppercase
    else 0
    if chr(code) == "<"
    else _INVALID
    for code in range(256)
)


def character_values(data: str) -> bytes | None:
    """The value of every character of ``data``, or None when one leaves the MRZ alphabet."""
    if not data.isascii():
        return None
    values = data.encode("ascii").translate(_TABLE)
    return None if _INVALID in values else values


def check_digit_of_values(values: bytes) -> str:
    """The check digit over already translated character values."""
    return str((7 * sum(values[0::3]) + 3 * sum(values[1::3]) + sum(values[2::3])) % 10)


def check_digit(data: str) -> str | None:
    """The check digit of ``data`` as a character, or None when ``data`` leaves the MRZ alphabet."""
    values = character_values(data)
    return None if values is None else check_digit_of_values(values)


def check_digit_matches(data: str, digit: str) -> bool:
    """Whether ``digit`` is the check digit of ``data``.

    A field made only of fillers may carry ``<`` instead of ``0`` (Doc 9303
    allows it for the TD3 personal number; readers meet it on unknown birth
    dates too).
    """
    expected = check_digit(data)
    if expected is None:
        return False
    if digit == expected:
        return True
    return digit == "<" and expected == "0" and data.strip("<") == ""
