"""The virtual chip's file system (ICAO Doc 9303 part 10, ISO/IEC 7816-4): SELECT and READ BINARY.

The master file (MF) holds EF.CardAccess (FID 011C, short EF id 1C),
readable without access control so that a terminal learns the chip's PACE
parameters; the eMRTD application (AID A0 00 00 02 47 10 01) holds EF.COM,
DG1 to DG16 and EF.SOD.

* SELECT (A4): the MF (P1 00, no data or 3F00), an EF by FID (P1 00 or 02),
  the application by AID (P1 04); P2 0C (no answer data) or 00/04 (a file
  control parameter template 62).
* READ BINARY (B0) with a 15-bit offset in P1-P2, or a short EF id in P1 (bit
  8 set) and an 8-bit offset in P2; READ BINARY (B1, odd instruction) with
  the offset in a data object 54 for offsets beyond 32767, answering the data
  in a data object 53; extended Le.

A refused command raises ``StatusError`` with the status word to answer;
``hardware.emulators.emrtd.card`` keeps the chip's sessions and dispatch.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from egate.documents.lds.errors import LdsError
from egate.documents.lds.files import EMRTD_AID, FILES, lds_file
from egate.documents.lds.tlv import encode_tlv, read_tlvs
from hardware.emrtd.apdu import CommandApdu, ResponseApdu
from hardware.emrtd.errors import StatusError
from hardware.emrtd.iso7816 import (
    INS_READ_BINARY,
    INS_READ_BINARY_ODD,
    SW_END_OF_FILE,
    SW_FILE_NOT_FOUND,
    SW_NO_CURRENT_EF,
    SW_SECURITY_STATUS,
    SW_SUCCESS,
    SW_WRONG_DATA,
    SW_WRONG_LENGTH,
    SW_WRONG_OFFSET,
    SW_WRONG_P1P2,
    TAG_DISCRETIONARY,
    TAG_OFFSET,
)

MF_FID = 0x3F00

# The files a chip may hold (Doc 9303 part 10: EF.COM, DG1-DG16, EF.SOD, EF.CardAccess, ...).
FILE_NAMES = tuple(file.name for file in FILES)


@dataclass(slots=True)
class _File:
    """One elementary file: its name, where it is, and its bytes."""

    name: str
    fid: int
    sfi: int
    data: bytes
    in_mf: bool


class ChipFiles:
    """A chip's files and what is selected: the MF or the application, and the current EF.

    ``files`` maps LDS file names to their bytes as stored on the chip;
    ``corrupt`` names the byte to serve flipped in some of them (a fault).
    ``pace``: the chip has PACE, so EF.CardAccess is visible.
    ``plain_access``: SELECT and READ BINARY of any file work without
    access control.  ``read_buffer`` is the most data one READ BINARY answers.
    """

    def __init__(
        self,
        files: Mapping[str, bytes],
        *,
        corrupt: Mapping[str, int],
        pace: bool,
        plain_access: bool,
        read_buffer: int,
    ) -> None:
        self._files: list[_File] = []
        for name, data in files.items():
            where = lds_file(name)
            served = _corrupted(name, bytes(data), corrupt)
            self._files.append(_File(name, where.fid, where.sfi, served, where.master_file))
        self._pace = pace
        self._plain_access = plain_access
        self._read_buffer = read_buffer
        self._in_application = False
        self._current: _File | None = None

    def __repr__(self) -> str:
        return f"ChipFiles({self.sizes()})"

    def sizes(self) -> str:
        """The files by name and size: their bytes are personal data, never shown."""
        return ", ".join(f"{file.name}={len(file.data)}B" for file in self._files)

    def reset(self) -> None:
        """A power cycle: the MF is selected again, no EF is current."""
        self._in_application = False
        self._current = None

    def file(self, name: str) -> bytes | None:
        """The bytes the chip serves for file ``name`` (faults included), or None."""
        found = next((file for file in self._files if file.name == name), None)
        return None if found is None else found.data

    def select(self, command: CommandApdu, protected: bool) -> ResponseApdu:
        """SELECT: the MF, the application by AID, or an EF by FID (``protected``: under SM)."""
        p1, p2 = command.p1, command.p2
        if p2 not in (0x00, 0x04, 0x0C):
            raise StatusError("SELECT", SW_WRONG_P1P2)
        if p1 == 0x04:
            if command.data != EMRTD_AID:
                raise StatusError("SELECT", SW_FILE_NOT_FOUND if command.data else SW_WRONG_LENGTH)
            self._in_application = True
            self._current = None
            return self._control_parameters(p2, command.ne, None)
        if p1 not in (0x00, 0x02):
            raise StatusError("SELECT", SW_WRONG_P1P2)
        if p1 == 0x00 and command.data in (b"", MF_FID.to_bytes(2, "big")):
            self._in_application = False
            self._current = None
            return self._control_parameters(p2, command.ne, None)
        if len(command.data) != 2:
            raise StatusError("SELECT", SW_WRONG_LENGTH)
        fid = int.from_bytes(command.data, "big")
        found = self._find(lambda file: file.fid == fid)
        if found is None:
            raise StatusError("SELECT", SW_FILE_NOT_FOUND)
        self._check_access(found, protected, "SELECT")
        self._current = found
        return self._control_parameters(p2, command.ne, found)

    def _find(self, match: Callable[[_File], bool]) -> _File | None:
        """A visible file of the current DF that ``match``es, else one of the MF."""
        visible = [file for file in self._files if self._visible(file)]
        here = [file for file in visible if file.in_mf != self._in_application]
        parent = [file for file in visible if file.in_mf and self._in_application]
        return next((file for file in (*here, *parent) if match(file)), None)

    def _visible(self, file: _File) -> bool:
        # A chip without PACE has no EF.CardAccess: a terminal finding one would try PACE.
        return not (file.name == "EF.CardAccess" and not self._pace)

    def _check_access(self, file: _File, protected: bool, what: str) -> None:
        # A protected command comes after access control; EF.CardAccess is
        # public (it is visible only on a chip with PACE).
        if protected or self._plain_access or file.name == "EF.CardAccess":
            return
        raise StatusError(what, SW_SECURITY_STATUS)

    def _control_parameters(self, p2: int, ne: int, file: _File | None) -> ResponseApdu:
        """The answer to SELECT: nothing for P2 0C, else an FCP template 62 when Le asks for one."""
        if p2 == 0x0C or not ne:
            return ResponseApdu(b"", SW_SUCCESS)
        if file is None:
            # A DF: its descriptor (38: DF) and, for the application, its name.
            body = encode_tlv(0x82, b"\x38")
            if self._in_application:
                body += encode_tlv(0x84, EMRTD_AID)
        else:
            body = (
                encode_tlv(0x80, len(file.data).to_bytes(2, "big"))
                + encode_tlv(0x82, b"\x01")  # a transparent working EF
                + encode_tlv(0x83, file.fid.to_bytes(2, "big"))
            )
        template = encode_tlv(0x62, body)
        return ResponseApdu(template[:ne], SW_SUCCESS)

    def read_binary(self, command: CommandApdu, protected: bool) -> ResponseApdu:
        """READ BINARY (B0 or B1) of the current EF or one named (``protected``: under SM)."""
        if command.ins == INS_READ_BINARY_ODD:
            file, offset = self._odd_target(command)
        elif command.p1 & 0x80:
            if command.p1 & 0x60:
                raise StatusError("READ BINARY", SW_WRONG_P1P2)
            sfi = command.p1 & 0x1F
            file = self._find(lambda candidate: candidate.sfi == sfi)
            if file is None:
                raise StatusError("READ BINARY", SW_FILE_NOT_FOUND)
            offset = command.p2
        else:
            file = self._current
            offset = (command.p1 << 8) | command.p2
        if file is None:
            raise StatusError("READ BINARY", SW_NO_CURRENT_EF)
        if command.data and command.ins == INS_READ_BINARY:
            raise StatusError("READ BINARY", SW_WRONG_LENGTH)
        if not command.ne:
            raise StatusError("READ BINARY", SW_WRONG_LENGTH)
        self._check_access(file, protected, "READ BINARY")
        self._current = file
        size = len(file.data)
        if offset > size:
            raise StatusError("READ BINARY", SW_WRONG_OFFSET)
        wanted = min(command.ne, self._read_buffer)
        if command.ins == INS_READ_BINARY:
            data = file.data[offset : offset + wanted]
        else:
            data = _discretionary(file.data[offset:], wanted)
            if not data:
                raise StatusError("READ BINARY", SW_WRONG_LENGTH)
        # ISO/IEC 7816-4: fewer bytes than Le because the file ends: 6282.
        short = (
            command.ins == INS_READ_BINARY
            and offset + len(data) == size
            and offset + command.ne > size
        )
        return ResponseApdu(data, SW_END_OF_FILE if short else SW_SUCCESS)

    def _odd_target(self, command: CommandApdu) -> tuple[_File | None, int]:
        """The file and offset of READ BINARY B1: P1-P2 names the file, DO 54 the offset."""
        try:
            objects = read_tlvs(command.data, "READ BINARY")
        except LdsError:
            raise StatusError("READ BINARY", SW_WRONG_DATA) from None
        if len(objects) != 1 or objects[0].tag != TAG_OFFSET or not 1 <= len(objects[0].value) <= 3:
            raise StatusError("READ BINARY", SW_WRONG_DATA)
        offset = int.from_bytes(objects[0].value, "big")
        reference = (command.p1 << 8) | command.p2
        if reference == 0:
            return self._current, offset
        # ISO/IEC 7816-4: a number up to 30 is a short EF id, anything else a FID.
        if reference <= 0x1E:
            found = self._find(lambda file: file.sfi == reference)
        else:
            found = self._find(lambda file: file.fid == reference)
        if found is None:
            raise StatusError("READ BINARY", SW_FILE_NOT_FOUND)
        return found, offset


def _discretionary(rest: bytes, ne: int) -> bytes:
    """As much of ``rest`` as fits in a data object 53 of at most ``ne`` bytes, as that object."""
    for header in (2, 3, 4, 5):
        count = min(len(rest), ne - header)
        if count <= 0:
            return b""
        obj = encode_tlv(TAG_DISCRETIONARY, rest[:count])
        if len(obj) <= ne:
            return obj
    return b""


def _corrupted(name: str, data: bytes, corrupt: Mapping[str, int]) -> bytes:
    """``data`` with the byte ``corrupt`` flips for ``name`` flipped."""
    offset = corrupt.get(name)
    if offset is None:
        return data
    if offset >= len(data):
        raise ValueError(f"corrupt: {name}: offset {offset} is beyond its {len(data)} bytes")
    flipped = bytearray(data)
    flipped[offset] ^= 0xFF
    return bytes(flipped)
