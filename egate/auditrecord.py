"""An audit record as one line: compact JSON, UTF-8, refused if it would carry personal data.

``encode_record`` turns a record (a mapping) into the bytes of one audit line,
``\\n`` included, and refuses (``ValueError`` or ``TypeError``) what could
not be read back as the same record (cycles, NaN, keys that are not strings,
text that is not UTF-8) and what would put a traveller in the trail:
``find_personal_data`` looks at every depth for keys that name personal data
(names, the MRZ, document numbers, images, face templates; ``PERSONAL_KEYS``,
compared in snake_case) and for string values that look like an MRZ line.
The file the lines go to is ``egate.audit``'s.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

# Keys (normalised: snake_case, lower case) whose value would be personal data.
# fmt: off
PERSONAL_KEYS = frozenset({
    "name", "names", "first_name", "last_name", "full_name", "given_name", "given_names",
    "surname", "surnames", "primary_identifier", "secondary_identifier", "holder", "holder_name",
    "mrz", "mrz_line", "mrz_lines", "mrz_text",
    "document_number", "doc_number", "passport_number", "personal_number", "optional_data",
    "date_of_birth", "birth_date", "dob",
    "image", "images", "face", "faces", "face_image", "photo", "photos", "portrait", "picture",
    "template", "face_template", "descriptor", "face_descriptor", "encoding", "face_encoding",
    "embedding", "face_embedding",
})
# fmt: on
# An MRZ line: 30, 36 or 44 characters of A-Z, 0-9 and the filler '<', which
# always appears in one.  Lower-case hex hashes never match.
_MRZ_LINE = re.compile(r"(?=[A-Z0-9<]*<)[A-Z0-9<]{30,}")
_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_SEPARATORS = re.compile(r"[\s.\-]+")
# Characters JSON leaves raw but some line readers take for line breaks.
_LINE_BREAKS = {"\u0085": "\\u0085", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def normalise_key(key: str) -> str:
    """``key`` in lower snake_case: ``documentNumber``, ``Document-Number``: ``document_number``."""
    snake = _CAMEL_BOUNDARY.sub("_", key.strip())
    return _SEPARATORS.sub("_", snake).lower().strip("_")


def find_personal_data(record: Mapping[str, Any]) -> str | None:
    """Why ``record`` would carry personal data (naming the key), or None if it would not."""
    pending: list[tuple[str, Any]] = [("", record)]
    while pending:
        where, value = pending.pop()
        if isinstance(value, Mapping):
            for key, item in value.items():
                inner = f"{where}.{key}" if where else str(key)
                if isinstance(key, str) and normalise_key(key) in PERSONAL_KEYS:
                    return f"key {inner!r} is personal data"
                pending.append((inner, item))
        elif isinstance(value, list | tuple):
            pending.extend((f"{where}[{index}]", item) for index, item in enumerate(value))
        elif isinstance(value, str) and _MRZ_LINE.search(value):
            return f"the value of {where!r} looks like an MRZ line"
    return None


def encode_record(record: Mapping[str, Any]) -> bytes:
    """``record`` as one audit line, newline included; ValueError or TypeError if it cannot be."""
    if not isinstance(record, Mapping):
        raise TypeError(f"an audit record is a mapping, not {type(record).__name__}")
    try:
        # Serialise first: it rejects cycles, NaN and foreign types before the walk below.
        text = json.dumps(record, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    except ValueError as error:
        raise ValueError(f"audit record refused: {error}") from None
    except TypeError as error:
        raise TypeError(f"audit record refused: {error}") from None
    _check_keys(record)
    reason = find_personal_data(record)
    if reason is not None:
        raise ValueError(
            f"audit record refused: {reason} (names, MRZ, document numbers, images "
            "and face templates never go in the audit)"
        )
    for character, escape in _LINE_BREAKS.items():
        text = text.replace(character, escape)
    try:
        return text.encode("utf-8") + b"\n"
    except UnicodeEncodeError as error:
        raise ValueError(f"audit record refused: not UTF-8: {error.reason}") from None


def _check_keys(record: Mapping[str, Any]) -> None:
    """Refuse keys that are not strings: JSON would turn them into strings silently."""
    pending: list[Any] = [record]
    while pending:
        value = pending.pop()
        if isinstance(value, Mapping):
            for key, item in value.items():
                if not isinstance(key, str):
                    raise TypeError(f"audit record refused: key {key!r} is not a string")
                pending.append(item)
        elif isinstance(value, list | tuple):
            pending.extend(value)
