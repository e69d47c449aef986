"""Hypothesis strategies for the LDS parser tests: arbitrary bytes and damaged good files."""

from __future__ import annotations

from collections.abc import Callable

from hypothesis import strategies as st

from egate.documents.lds.errors import LdsError


def damaged(valid: bytes) -> st.SearchStrategy[bytes]:
    """``valid`` with a few bytes replaced, removed or inserted, or cut short."""

    @st.composite
    def build(draw: st.DrawFn) -> bytes:
        data = bytearray(valid)
        for _ in range(draw(st.integers(1, 4))):
            position = draw(st.integers(0, max(0, len(data) - 1)))
            action = draw(st.sampled_from(["replace", "delete", "insert", "cut"]))
            if action == "replace" and data:
                data[position] = draw(st.integers(0, 255))
            elif action == "delete" and data:
                del data[position]
            elif action == "insert":
                data.insert(position, draw(st.integers(0, 255)))
            elif action == "cut":
                del data[position:]
        return bytes(data)

    return build()


def only_lds_errors(parse: Callable[[bytes], object], data: bytes, file: str) -> None:
    """Parse ``data``; anything but success or an ``LdsError`` naming ``file`` fails the test."""
    try:
        parse(data)
    except LdsError as error:
        assert error.file == file
        assert 0 <= error.offset <= len(data)
        assert str(error).startswith(f"{file}: byte {error.offset}: ")
