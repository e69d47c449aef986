"""A stop list of lost, stolen or revoked documents, held only as salted keys.

The list arrives as a CSV file from the authority (columns ``issuing_state``
and ``document_number``; other columns such as a reason or a date are allowed
and ignored).  Each row is turned into a pseudonymous key as it is read, so
the gate never keeps the numbers in clear, and a document is looked up by
the key of what its MRZ says.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from pathlib import Path

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
            with path.open(newline="", encoding="utf-8") as stream:
                return cls(_keys(path, stream, pseudonymizer), pseudonymizer, str(path))
        except OSError as error:
            raise StopListError(f"{path}: cannot read: {error.strerror or error}") from None
        except UnicodeDecodeError as error:
            raise StopListError(f"{path}: byte {error.start}: not UTF-8 text") from None
        except csv.Error as error:
            raise StopListError(f"{path}: not CSV: {error}") from None


def _keys(path: Path, stream: Iterable[str], pseudonymizer: Pseudonymizer) -> Iterable[str]:
    reader = csv.reader(stream)
    # Lines starting with # are comments; the reader still counts them, so
    # line numbers in errors match the file.
    rows = (row for row in reader if not (row and row[0].lstrip().startswith("#")))
    header = next(rows, None)
    if header is None:
        raise StopListError(f"{path}: empty file (expected a header: {','.join(REQUIRED_COLUMNS)})")
    columns = [name.strip().lower() for name in header]
    missing = [name for name in REQUIRED_COLUMNS if name not in columns]
    if missing:
        raise StopListError(f"{path}: header lacks column {', '.join(missing)}")
    state_at, number_at = (columns.index(name) for name in REQUIRED_COLUMNS)
    keys = []
    for row in rows:
        if not any(cell.strip() for cell in row):
            continue
        where = f"{path}:{reader.line_num}"
        if len(row) != len(columns):
            raise StopListError(f"{where}: {len(row)} fields, the header has {len(columns)}")
        state = row[state_at].strip().upper()
        number = row[number_at].strip().upper()
        if not is_known_state(state):
            raise StopListError(f"{where}: issuing_state: not an ICAO state code")
        # The number itself stays out of the message: it is personal data.
        if not (0 < len(number) <= MAX_DOCUMENT_NUMBER and number.isascii() and number.isalnum()):
            raise StopListError(
                f"{where}: document_number: expected 1 to {MAX_DOCUMENT_NUMBER} letters A-Z "
                f"or digits, got {len(number)} characters"
            )
        keys.append(pseudonymizer.document_key(state, number))
    return keys
