"""The audit trail: one JSON object per line, appended so that no crash can tear it.

(A little past the ~400-line guideline: the file's life, append, rotation,
recovery of a torn tail and reading back, is one concept; each line is made
in egate.auditrecord.)

A gate records what it did (each transaction, each device fault and recovery,
each officer command, each service start and stop) as lines of a JSON Lines
file.  A line is one compact JSON object, UTF-8, ended by ``\\n``; the
caller's key order is kept and ``kind`` says what the record is::

    {"kind":"transaction","time":"2026-11-26T08:14:03.512Z","gate_id":"t2-lane-4",...}

Durability: each line goes to the file in a single ``os.write`` on a
descriptor opened with ``O_APPEND``, then (unless ``fsync=False``) an
``os.fsync``.  A process killed at any moment leaves whole lines, less at most
the record in flight.  A power loss can leave a last line without its newline,
and so can a kill in one rare case: Linux may cut short a write whose line
straddles a page boundary of the file when SIGKILL arrives between the two
pages.  Opening the trail again cuts such a torn tail off and reports how many
bytes went (``recovered_bytes``).

Transaction ids: ``last_transaction_number`` reads the highest number any
record names, so that a restarted gate never gives an id twice.

Rotation: when the next line would take the file past ``max_bytes``, the file
becomes ``PATH.1`` (``PATH.1`` becomes ``PATH.2`` and so on, the oldest beyond
``backups`` dropped) and a fresh ``PATH`` is started.  A line never spans two
files.  ``read_audit_rotated`` reads them back oldest first.

Privacy: the trail refuses records whose keys name personal data (names, the
MRZ, document numbers, images, face templates) at any depth, and string values
that look like an MRZ line (``egate.auditrecord``, which makes each line).
Documents appear only as salted hashes (``egate.privacy``).

The trail reads no clock: records carry their own times.
"""

from __future__ import annotations

import errno
import json
import os
import re
import stat
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, NoReturn

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt

from egate.auditrecord import encode_record

MIB = 1024 * 1024
DEFAULT_MAX_BYTES = 10 * MIB
DEFAULT_BACKUPS = 5
# Below this a file would hold only a handful of transactions.
MIN_MAX_BYTES = 4096
# Owner reads and writes, the group (e.g. a log shipper) reads; others nothing.
FILE_MODE = 0o640

_TAIL_CHUNK = 64 * 1024
# Transaction numbers are written with 6 digits and more when they outgrow them.
_MAX_NUMBER_DIGITS = 18


class AuditError(OSError):
    """The audit trail cannot be opened or written; the message is one line."""


class AuditFormatError(ValueError):
    """A line of an audit file is not a record; the message reads ``FILE:LINE: cause``."""


class AuditSettings(BaseModel):
    """Where and how a gate keeps its audit trail (``service.audit`` in the gate's file)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: Path = Field(
        default=Path("audit/egate-audit.jsonl"),
        description="The audit file (relative to the configuration file's folder).",
    )
    # Strict: YAML reads `yes` as true, which pydantic would otherwise take for 1.
    max_bytes: StrictInt = Field(
        default=DEFAULT_MAX_BYTES,
        ge=MIN_MAX_BYTES,
        description="Size past which the file is rotated.",
    )
    backups: StrictInt = Field(
        default=DEFAULT_BACKUPS,
        ge=0,
        description="Rotated files kept (PATH.1 is the newest); 0 keeps none.",
    )
    fsync: StrictBool = Field(
        default=True,
        description="Flush every record to disk before write() returns.",
    )


class AuditTrail:
    """An append-only audit file with size-based rotation; safe to share between threads."""

    def __init__(
        self,
        path: Path,
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        backups: int = DEFAULT_BACKUPS,
        fsync: bool = True,
    ) -> None:
        if max_bytes < 1:
            raise ValueError(f"max_bytes must be positive, not {max_bytes}")
        if backups < 0:
            raise ValueError(f"backups must be 0 or more, not {backups}")
        self._path = Path(path)
        self._max_bytes = max_bytes
        self._backups = backups
        self._fsync = fsync
        self._lock = threading.Lock()
        self._records = 0
        try:
            self._path.parent.mkdir(parents=True, exist_ok=True)
        except FileExistsError:
            raise AuditError(
                f"{self._path}: cannot create its folder {self._path.parent}: "
                "a file of that name is in the way"
            ) from None
        except OSError as error:
            raise _error(
                self._path, f"cannot create its folder {self._path.parent}", error
            ) from None
        self._fd: int | None = self._open()
        self._size, self._recovered = self._recover(self._fd)

    @classmethod
    def from_settings(cls, settings: AuditSettings, base_dir: Path) -> AuditTrail:
        """The trail ``settings`` describe; a relative path is taken from ``base_dir``."""
        path = settings.path if settings.path.is_absolute() else base_dir / settings.path
        return cls(
            path,
            max_bytes=settings.max_bytes,
            backups=settings.backups,
            fsync=settings.fsync,
        )

    @property
    def path(self) -> Path:
        """The file being written (rotated files are ``PATH.1``, ``PATH.2``, ...)."""
        return self._path

    @property
    def recovered_bytes(self) -> int:
        """Bytes of a torn last line cut off when the trail was opened (0: none)."""
        return self._recovered

    @property
    def records_written(self) -> int:
        """Records this object has written, across rotations."""
        return self._records

    def __repr__(self) -> str:
        state = "closed" if self._fd is None else f"{self._records} records"
        return f"AuditTrail({str(self._path)!r}, {state})"

    def write(self, record: Mapping[str, Any]) -> None:
        """Append ``record`` as one line; return once it is on disk (if ``fsync``).

        Raises ValueError or TypeError for a record that cannot go in the trail
        (personal data, NaN, non-JSON values) and AuditError when the file
        cannot take it; either way nothing of the record is in the file.
        """
        line = encode_record(record)
        with self._lock:
            fd = self._fd
            if fd is None:
                raise AuditError(f"{self._path}: the audit trail is closed")
            if self._size > 0 and self._size + len(line) > self._max_bytes:
                fd = self._rotate(fd)
            self._append(fd, line)
            self._records += 1

    def close(self) -> None:
        """Close the file; later writes raise AuditError.  Closing twice is harmless."""
        with self._lock:
            fd, self._fd = self._fd, None
            if fd is not None:
                os.close(fd)

    def __enter__(self) -> AuditTrail:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _open(self) -> int:
        """A descriptor on ``path`` for appending (and reading its tail)."""
        flags = os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC
        try:
            fd = os.open(self._path, flags, FILE_MODE)
        except OSError as error:
            raise _error(self._path, "cannot open the audit file", error) from None
        try:
            # A FIFO or a device would take appends but could not be rotated or recovered.
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise AuditError(f"{self._path}: cannot open the audit file: not a regular file")
            if self._fsync:
                # The file may be new: make its name durable too.
                self._sync_folder()
        except BaseException:
            os.close(fd)
            raise
        return fd

    def _recover(self, fd: int) -> tuple[int, int]:
        """(size, bytes cut): cut a last line that has no newline, left by a torn write."""
        try:
            size = os.fstat(fd).st_size
            end = size
            while end > 0:
                start = max(0, end - _TAIL_CHUNK)
                chunk = os.pread(fd, end - start, start)
                newline = chunk.rfind(b"\n")
                if newline >= 0:
                    end = start + newline + 1
                    break
                end = start
            if end < size:
                os.ftruncate(fd, end)
                if self._fsync:
                    os.fsync(fd)
        except OSError as error:
            os.close(fd)
            raise _error(self._path, "cannot cut the torn end of the audit file", error) from None
        return end, size - end

    def _append(self, fd: int, line: bytes) -> None:
        """Write ``line`` in one call, so a kill leaves all of it or (almost always) none."""
        try:
            written = os.write(fd, line)
        except OSError as error:
            raise _error(self._path, "cannot write the audit record", error) from None
        if written != len(line):
            # A full disk can take part of a line: cut it, or the next record would join it.
            self._cut_back(fd)
            raise AuditError(
                f"{self._path}: cannot write the audit record: only {written} of "
                f"{len(line)} bytes written (disk full?)"
            )
        self._size += written
        if self._fsync:
            try:
                os.fsync(fd)
            except OSError as error:
                raise _error(self._path, "cannot flush the audit record", error) from None

    def _cut_back(self, fd: int) -> None:
        """Truncate to the last whole line after a short write."""
        try:
            os.ftruncate(fd, self._size)
        except OSError:
            # The next record would join the torn line: stop here, a reopen cuts it.
            self._fd = None
            os.close(fd)

    def _rotate(self, current: int) -> int:
        """PATH -> PATH.1 -> PATH.2 ...; the oldest beyond ``backups`` is dropped.

        Returns the descriptor to write to from now on.

        Renames go oldest first so that a crash midway leaves the files in
        order (perhaps with a gap in the numbers, which readers skip).  On an
        error the current descriptor stays in use, so no record is lost.
        """
        if self._backups == 0:
            # Nothing to keep: start the same file again rather than unlink an open one.
            try:
                os.ftruncate(current, 0)
            except OSError as error:
                raise _error(self._path, "cannot rotate the audit file", error) from None
            self._size = 0
            return current
        try:
            for number in range(self._backups - 1, 0, -1):
                older = _backup(self._path, number)
                if older.exists():
                    os.replace(older, _backup(self._path, number + 1))
            # Absent if opening a fresh file failed after this rename last time.
            if self._path.exists():
                os.replace(self._path, _backup(self._path, 1))
        except OSError as error:
            raise _error(self._path, "cannot rotate the audit file", error) from None
        fd = self._open()
        os.close(current)
        self._fd, self._size = fd, 0
        return fd

    def _sync_folder(self) -> None:
        """Make renames and new names in the file's folder durable."""
        try:
            folder = os.open(self._path.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            try:
                os.fsync(folder)
            finally:
                os.close(folder)
        except OSError as error:
            raise _error(self._path, "cannot flush its folder", error) from None


def _backup(path: Path, number: int) -> Path:
    return path.with_name(f"{path.name}.{number}")


def _error(path: Path, doing: str, error: OSError) -> AuditError:
    """A one-line AuditError naming ``path``, keeping the cause's errno for callers."""
    audit_error = AuditError(f"{path}: {doing}: {error.strerror or error}")
    audit_error.errno = error.errno
    return audit_error


def read_audit(path: Path) -> Iterator[dict[str, Any]]:
    """The records of one audit file, in order; AuditFormatError on a line that is not one."""
    with open(path, "rb") as stream:
        for number, raw in enumerate(stream, start=1):
            where = f"{path}:{number}"
            if not raw.endswith(b"\n"):
                raise AuditFormatError(f"{where}: the last line has no newline (a torn write)")
            try:
                # Without its newline, so a column points into the line.
                text = raw[:-1].decode("utf-8")
            except UnicodeDecodeError as error:
                raise AuditFormatError(f"{where}: not UTF-8: {error.reason}") from None
            try:
                record = json.loads(text, parse_constant=_refuse_constant)
            except json.JSONDecodeError as error:
                raise AuditFormatError(
                    f"{where}: not JSON: {error.msg} (column {error.colno})"
                ) from None
            except ValueError as error:
                raise AuditFormatError(f"{where}: {error}") from None
            if not isinstance(record, dict):
                raise AuditFormatError(f"{where}: not a JSON object")
            yield record


def read_audit_rotated(path: Path) -> Iterator[dict[str, Any]]:
    """The records of ``PATH.N`` ... ``PATH.1`` then ``PATH``: the whole trail, oldest first."""
    yield from _chain(rotated_files(path))


def rotated_files(path: Path) -> list[Path]:
    """The files of the trail at ``path``, oldest first; FileNotFoundError if there are none."""
    pattern = re.compile(re.escape(path.name) + r"\.([0-9]+)")
    try:
        siblings = list(path.parent.iterdir())
    except FileNotFoundError:
        siblings = []
    numbered = sorted(
        (int(match.group(1)), sibling)
        for sibling in siblings
        if (match := pattern.fullmatch(sibling.name))
    )
    files = [sibling for _, sibling in reversed(numbered)]
    if path.exists():
        files.append(path)
    if not files:
        raise FileNotFoundError(errno.ENOENT, "no audit trail", str(path))
    return files


def last_transaction_number(path: Path, gate_id: str) -> int:
    """The highest transaction number of ``gate_id`` that any record of the trail names (0: none).

    Transaction ids read ``<gate_id>-<number>`` (``t2-lane-4-000731``).  A
    restarted service numbers on from here, so an id is never given twice.
    Every record that names a transaction counts, whatever its kind: after a
    kill between an alarm for ``...-000007`` and that transaction's own
    record, 7 is taken although no ``transaction`` record holds it.  An id
    that no record names was seen by nobody (ids leave the service only
    through the trail, and a record is on disk before anything else shows
    it), so reusing its number is harmless.  A trail that does not exist yet
    gives 0; a line that is not a record raises ``AuditFormatError``.
    """
    prefix = f"{gate_id}-"
    last = 0
    try:
        files = rotated_files(path)
    except FileNotFoundError:
        return 0
    for record in _chain(files):
        transaction = record.get("transaction")
        if isinstance(transaction, str) and transaction.startswith(prefix):
            number = transaction[len(prefix) :]
            # ASCII digits only (isdecimal alone admits other scripts' digits,
            # which int() reads), and few enough that int() takes them.
            if number.isascii() and number.isdecimal() and len(number) <= _MAX_NUMBER_DIGITS:
                last = max(last, int(number))
    return last


def _chain(files: list[Path]) -> Iterator[dict[str, Any]]:
    for file in files:
        yield from read_audit(file)


def _refuse_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not JSON")
