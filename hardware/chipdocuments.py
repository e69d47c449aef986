"""Test documents on disk, for commissioning a gate before it has a chip reader driver.

A folder of test documents holds, for each document, ``NAME.mrz`` (its MRZ
lines, as printed and as stored in DG1) and ``NAME.jpg`` (its DG2 face
photo; ``.jpeg`` and ``.jp2`` too).  :func:`load_chip_documents` reads the
folder strictly: a file it cannot use is a :class:`ChipDocumentError` whose
one line names the file, so a typo surfaces when the gate file is loaded,
not as a traveller referred for an absent chip.

:class:`DocumentFolderChipReader` holds them as chips.  At a gate the chip
on the reader is that of the document whose MRZ the reader just read, and
``read(access_key)`` is given that MRZ's BAC information: so the chip whose
access key it is answers ``ok``; a chip with the same document number but
other dates (an altered data page) ``access_denied``; anything else
``absent``, as a passport without a chip.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from egate.documents.mrz import MrzFormatError, parse_mrz
from egate.gate.events import ChipStatus
from hardware.chip import ChipRead, MockChip, mrz_information

MRZ_SUFFIX = ".mrz"
PHOTO_SUFFIXES = (".jpg", ".jpeg", ".jp2")
# An MRZ is at most 3 lines of 44; a DG2 photo is tens of kilobytes.
MAX_MRZ_BYTES = 1024
MAX_PHOTO_BYTES = 4 * 1024 * 1024
# Only the dates' century depends on the day, and the access key uses none.
_ANY_DAY = date(2000, 1, 1)
_MRZ_LINE = re.compile(r"[A-Z0-9<]+")
# JPEG (SOI and a marker), a JPEG 2000 file (its signature box) or a bare codestream.
_PHOTO_MAGIC = (b"\xff\xd8\xff", b"\x00\x00\x00\x0cjP  \r\n\x87\n", b"\xff\x4f\xff\x51")


class ChipDocumentError(ValueError):
    """A test document that cannot be used; the message is one line naming the file."""


@dataclass(frozen=True, slots=True)
class ChipDocument:
    """One test document: its name (the files' stem), the key that opens it, its chip."""

    name: str
    access_key: str
    chip: MockChip

    def __repr__(self) -> str:
        # The access key holds the document number and birth date.
        return f"ChipDocument({self.name!r}, <personal data redacted>)"


def load_chip_documents(folder: Path) -> list[ChipDocument]:
    """The test documents in ``folder``, by name; ``ChipDocumentError`` for the first bad file."""
    try:
        if not folder.is_dir():
            raise ChipDocumentError(f"{folder}: not a folder")
        entries = sorted(folder.iterdir())
    except OSError as error:
        raise ChipDocumentError(f"{folder}: cannot list: {error.strerror or error}") from None
    mrz_files: dict[str, Path] = {}
    photos: dict[str, Path] = {}
    for path in entries:
        suffix = path.suffix.lower()
        if path.name.startswith(".") or suffix not in (MRZ_SUFFIX, *PHOTO_SUFFIXES):
            continue  # notes, hidden files: not documents
        found = mrz_files if suffix == MRZ_SUFFIX else photos
        if path.stem in found:
            raise ChipDocumentError(f"{path}: a second file for document {path.stem}")
        found[path.stem] = path
    for name, photo in photos.items():
        if name not in mrz_files:
            raise ChipDocumentError(f"{photo}: a photo without {name}{MRZ_SUFFIX}")
    if not mrz_files:
        raise ChipDocumentError(
            f"{folder}: no test documents (NAME{MRZ_SUFFIX} with NAME.jpg or NAME.jp2)"
        )
    documents: list[ChipDocument] = []
    by_key: dict[str, str] = {}
    for name, mrz_path in sorted(mrz_files.items()):
        photo_path = photos.get(name)
        if photo_path is None:
            raise ChipDocumentError(f"{mrz_path}: no photo ({name}.jpg, {name}.jpeg or {name}.jp2)")
        document = _document(name, mrz_path, photo_path)
        if document.access_key in by_key:
            other = by_key[document.access_key]
            raise ChipDocumentError(
                f"{mrz_path}: the same document number and dates as {other}{MRZ_SUFFIX}"
            )
        by_key[document.access_key] = name
        documents.append(document)
    return documents


def _document(name: str, mrz_path: Path, photo_path: Path) -> ChipDocument:
    raw = _read_regular(mrz_path, MAX_MRZ_BYTES)
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError:
        raise ChipDocumentError(f"{mrz_path}: not an MRZ: not ASCII text") from None
    lines = tuple(line.strip() for line in text.splitlines() if line.strip())
    for number, line in enumerate(lines, start=1):
        if not _MRZ_LINE.fullmatch(line):
            bad = next(char for char in line if not _MRZ_LINE.fullmatch(char))
            raise ChipDocumentError(
                f"{mrz_path}: not an MRZ: line {number} has {bad!r} (expected A-Z, 0-9 and <)"
            )
    try:
        result = parse_mrz(lines, _ANY_DAY, repair=False)
    except MrzFormatError as error:
        raise ChipDocumentError(f"{mrz_path}: not an MRZ: {error}") from None
    if result.lines != lines:
        # The reader would have to pad or cut the lines: they are not as printed.
        raise ChipDocumentError(
            f"{mrz_path}: not an MRZ: line lengths do not fit {result.format.value} "
            f"(lines of {', '.join(str(len(line)) for line in lines)} characters)"
        )
    photo = _read_regular(photo_path, MAX_PHOTO_BYTES)
    if not photo.startswith(_PHOTO_MAGIC):
        raise ChipDocumentError(f"{photo_path}: not a JPEG or JPEG 2000 file")
    return ChipDocument(name, mrz_information(result), MockChip(lines, photo))


def _read_regular(path: Path, limit: int) -> bytes:
    """The bytes of ``path``, a regular file of at most ``limit`` bytes (never a FIFO or device)."""
    try:
        if not stat.S_ISREG(path.stat().st_mode):
            raise ChipDocumentError(f"{path}: not a regular file")
        # Non-blocking: were it swapped for a FIFO since, opening must not hang.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)
        with os.fdopen(fd, "rb") as file:
            info = os.fstat(file.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise ChipDocumentError(f"{path}: not a regular file")
            if info.st_size > limit:
                raise ChipDocumentError(f"{path}: {info.st_size} bytes, at most {limit}")
            data = file.read(limit + 1)
    except OSError as error:
        raise ChipDocumentError(f"{path}: cannot read: {error.strerror or error}") from None
    if len(data) > limit:
        raise ChipDocumentError(f"{path}: more than {limit} bytes")
    if not data:
        raise ChipDocumentError(f"{path}: empty")
    return data


def _document_number(access_key: str) -> str:
    """The document number an access key starts with (before its check digit and the dates)."""
    return access_key[:-15].rstrip("<")


class DocumentFolderChipReader:
    """A test reader holding test documents: the chip on it is the document just read.

    Each document becomes a virtual chip, personalised and signed by the
    reader's own test PKI and read through the chip stack (access control,
    secure messaging, passive, active and chip authentication), so a test
    traveller passes the gate's chip checks as a genuine passport does.  It
    reads at once (no air time), and answers as
    :class:`~hardware.chip.ChipReader` requires.
    """

    def __init__(self, documents: Sequence[ChipDocument]) -> None:
        # The chip stack loads only for a gate with test documents.
        from hardware.emulators.emrtd.chipreader import VirtualChipReader

        self._stand = VirtualChipReader()
        self._by_key = {document.access_key: document.chip for document in documents}
        self._numbers = {document.chip.document_number for document in documents}

    def __len__(self) -> int:
        return len(self._by_key)

    def read(self, access_key: str) -> ChipRead:
        """The chip of the document ``access_key`` (the MRZ information read) belongs to."""
        chip = self._by_key.get(access_key)
        if chip is None and len(access_key) > 15:
            # That passport's chip, if its number is known: the printed dates may
            # not be the ones it was issued with, and access control will say so.
            number = _document_number(access_key)
            chip = next((c for c in self._by_key.values() if c.document_number == number), None)
        if chip is None:
            return ChipRead(ChipStatus.ABSENT)
        # Issued afresh for each read: two test passports may share a number
        # (a genuine one and its forged page).
        self._stand.load(chip)
        self._stand.present(chip.document_number)
        try:
            return self._stand.read(access_key)
        finally:
            self._stand.present(None)

    def __repr__(self) -> str:
        return f"DocumentFolderChipReader(<{len(self)} test documents>)"
