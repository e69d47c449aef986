"""The one error the LDS parsers raise: what file, what byte, what was wrong."""

from __future__ import annotations


class LdsError(ValueError):
    """A chip file's bytes do not follow ICAO Doc 9303 part 10/11.

    ``file`` is the file's name ("DG2", "EF.COM", "EF.CardAccess"), ``offset``
    the byte from the file's start where the fault was found; the message reads
    "DG2: byte 41: ...".  Whatever bytes a parser is given, this is the only
    error it raises, so a reader can report the file unreadable and go on.
    """

    def __init__(self, file: str, offset: int, reason: str) -> None:
        super().__init__(f"{file}: byte {offset}: {reason}")
        self.file = file
        self.offset = offset
        self.reason = reason
