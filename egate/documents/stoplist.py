"""A stop list of lost, stolen or revoked documents, held only as salted keys.

The list arrives as a CSV file from the authority: UTF-8 (a byte order mark
is allowed), one record per line, a header naming at least the columns
``issuing_state`` and ``document_number`` (other columns such as a reason or
a date are allowed and ignored); lines starting with ``#`` and blank lines are
skipped.  Each row is turned into a pseudonymous key as it is read, so the
gate never keeps the numbers in clear, and a document is looked up by the key
of what its MRZ says.
"""

from __future__ import annotations

import codecs
import csv
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import NamedTuple

from egate.documents.states import is_known_state
from egate.privacy import Pseudonymizer

REQUIRED_COLUMNS = ("issuing_state", "document_number")
# Doc 9303 allows long document numbers in TD1 and TD2 of up to 22 characters.
MAX_DOCUMENT_NUMBER = 22


class StopListError(ValueError):
    """A stop list file that cannot be read; the message names file, line and field."""


class StopList:
    """Salted keys of listed documents."""

    __slots__ = ("_keys", "_pseudonymizer", "source")

    def __init__(self, keys: Iterable[str], pseudonymizer: Pseudonymizer, source: str) -> None:
        self._keys = frozenset(keys)
        self._pseudonymizer = pseudonymizer
        self.source = source

    def __len__(self) -> int:
        return len(self._keys)

    def __repr__(self) -> str:
        return f"StopList({len(self)} documents from {self.source})"

    @property
    def keys(self) -> frozenset[str]:
        """The salted keys of the listed documents (to merge lists)."""
        return self._keys

    def lists(self, issuing_state: str, document_number: str) -> bool:
        """Whether the document with this issuing state and number is on the list."""
        return self._pseudonymizer.document_key(issuing_state, document_number) in self._keys

    @classmethod
    def empty(cls, pseudonymizer: Pseudonymizer) -> StopList:
        """A list with no documents."""
        return cls((), pseudonymizer, "nothing")

    @classmethod
    def load(cls, path: Path, pseudonymizer: Pseudonymizer) -> StopList:
        """Read a stop list CSV file; raises ``StopListError`` naming file, line and field."""
        try:
            with path.open("rb") as stream:
                return cls(_keys(path, stream, pseudonymizer), pseudonymizer, str(path))
        except OSError as error:
            raise StopListError(f"{path}: cannot read: {error.strerror or error}") from None


class _Record(NamedTuple):
    """One line of the file as CSV fields."""

    line: int
    fields: list[str]
    # Index of the first field that was not valid UTF-8 (decoded with U+FFFD), if any.
    not_utf8: int | None


def _records(path: Path, stream: Iterable[bytes]) -> Iterator[_Record]:
    """The records of a stop list file, comments and blank lines skipped.

    Every physical line is one record.  Comments are recognised before the
    CSV parser sees the line, so a quote inside a comment cannot swallow the
    entries that follow it.
    """
    for number, raw in enumerate(stream, start=1):
        if number == 1:
            # Spreadsheet programs often start UTF-8 files with a byte order mark.
            raw = raw.removeprefix(codecs.BOM_UTF8)
        try:
            line, utf8 = raw.decode("utf-8"), True
        except UnicodeDecodeError:
            line, utf8 = raw.decode("utf-8", errors="replace"), False
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            # strict: an unclosed quote is an error, not a field running to the end.
            fields = next(csv.reader([line.rstrip("\r\n")], strict=True), [])
        except csv.Error as error:
            raise StopListError(f"{path}:{number}: not CSV: {error}") from None
        bad = (
            None
            if utf8
            else next((index for index, cell in enumerate(fields) if "\ufffd" in cell), 0)
        )
        yield _Record(number, fields, bad)


def _keys(path: Path, stream: Iterable[bytes], pseudonymizer: Pseudonymizer) -> list[str]:
    records = _records(path, stream)
    header = next(records, None)
    if header is None:
        raise StopListError(f"{path}: empty file (expected a header: {','.join(REQUIRED_COLUMNS)})")
    if header.not_utf8 is not None:
        raise StopListError(f"{path}:{header.line}: header: not UTF-8 text")
    columns = [name.strip().lower() for name in header.fields]
    missing = [name for name in REQUIRED_COLUMNS if name not in columns]
    if missing:
        raise StopListError(
            f"{path}:{header.line}: header lacks column {', '.join(missing)} "
            f"(expected a header: {','.join(REQUIRED_COLUMNS)})"
        )
    state_at, number_at = (columns.index(name) for name in REQUIRED_COLUMNS)
    keys = []
    for record in records:
        where = f"{path}:{record.line}"
        row = record.fields
        if record.not_utf8 is not None:
            at = record.not_utf8
            column = columns[at] if at < len(columns) and columns[at] else f"field {at + 1}"
            raise StopListError(f"{where}: {column}: not UTF-8 text")
        if len(row) != len(columns):
            raise StopListError(f"{where}: {len(row)} fields, the header has {len(columns)}")
        state = row[state_at].strip().upper()
        number = row[number_at].strip().upper()
        # Neither value goes into a message: in a shifted row the state column
        # may hold a document number, which is personal data.
        if not is_known_state(state):
            raise StopListError(f"{where}: issuing_state: not an ICAO state code")
        if not (0 < len(number) <= MAX_DOCUMENT_NUMBER and number.isascii() and number.isalnum()):
            raise StopListError(
                f"{where}: document_number: expected 1 to {MAX_DOCUMENT_NUMBER} letters A-Z "
                f"or digits, got {len(number)} characters"
            )
        keys.append(pseudonymizer.document_key(state, number))
    return keys
