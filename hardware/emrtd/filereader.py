"""Reading the chip's files: SELECT the application or a file, then READ BINARY piece by piece.

A file's size is not known before it is read: the reader reads its first
bytes (tag and length), then the rest in pieces of at most ``chunk`` bytes.
Under secure messaging a short response holds at most 256 bytes, so the
usual piece is 0xDF (223) bytes, which leaves room for the padding and the
data objects; a reader and chip that take extended length read larger pieces
and fewer commands, which matters on a slow link.  Offsets past 32767 need
READ BINARY with the odd instruction B1 (the offset in DO'54, the data in
DO'53).

A file's declared size is bounded (``max_size``): a chip claiming a 4 GB DG2
is refused before any memory is spent on it.
"""

from __future__ import annotations

from egate.documents.lds.errors import LdsError
from egate.documents.lds.files import EMRTD_AID, LdsFile
from egate.documents.lds.tlv import MAX_HEADER_BYTES, encode_tlv, read_tlv, total_length
from hardware.emrtd.apdu import EXTENDED_MAX_NE, SHORT_MAX_NE, CommandApdu, ResponseApdu, Transport
from hardware.emrtd.errors import ProtocolError
from hardware.emrtd.iso7816 import (
    INS_READ_BINARY,
    INS_READ_BINARY_ODD,
    INS_SELECT,
    SW_END_OF_FILE,
    SW_FILE_NOT_FOUND,
    TAG_DISCRETIONARY,
    TAG_OFFSET,
)

# Offsets P1-P2 can carry (bit 8 of P1 set means a short EF identifier).
MAX_EVEN_OFFSET = 0x7FFF
# The piece that fits a short secure-messaging response.
SM_SHORT_CHUNK = 0xDF
# No eMRTD file comes near this: a DG2 is tens of KB, a DG3 with ten
# fingerprints a few hundred KB.
DEFAULT_MAX_SIZE = 1 << 20


def select_application(transport: Transport) -> None:
    """SELECT the eMRTD application by its AID (StatusError when the chip has none)."""
    response = transport.transmit(CommandApdu(0x00, INS_SELECT, 0x04, 0x0C, EMRTD_AID))
    response.check("SELECT eMRTD application")


def select_command(file: LdsFile) -> CommandApdu:
    """SELECT ``file`` by its file id, no answer data (P1 02, P2 0C)."""
    return CommandApdu(0x00, INS_SELECT, 0x02, 0x0C, file.fid_bytes)


def select_file(transport: Transport, file: LdsFile) -> bool:
    """SELECT ``file`` by its file id; False when the chip does not have it."""
    response = transport.transmit(select_command(file))
    if response.sw == SW_FILE_NOT_FOUND:
        return False
    response.check(f"SELECT {file.name}")
    return True


def read_binary(transport: Transport, file: LdsFile, offset: int, length: int) -> bytes:
    """READ BINARY ``length`` bytes of the selected file from ``offset``.

    A shorter answer with 6282 (end of file) is returned as it is; an answer
    longer than asked for is a protocol error.
    """
    if offset <= MAX_EVEN_OFFSET:
        command = CommandApdu(0x00, INS_READ_BINARY, offset >> 8, offset & 0xFF, ne=length)
        data = _read_data(transport.transmit(command), file, offset)
    else:
        # The offset travels as a data object; the answer comes in DO'53.
        encoded = offset.to_bytes((offset.bit_length() + 7) // 8, "big")
        body = bytes((TAG_OFFSET, len(encoded))) + encoded
        # Le counts the DO'53 around the data: exactly the object of ``length``
        # bytes, which must fit the largest Le (65536) with its header.
        length = min(length, EXTENDED_MAX_NE - 4)
        wrapped_length = len(encode_tlv(TAG_DISCRETIONARY, bytes(length)))
        command = CommandApdu(0x00, INS_READ_BINARY_ODD, 0x00, 0x00, body, ne=wrapped_length)
        wrapped = _read_data(transport.transmit(command), file, offset)
        data = _unwrap_discretionary(wrapped, file, offset)
    if len(data) > length:
        raise ProtocolError(
            f"READ BINARY {file.name} at byte {offset}: {len(data)} bytes for {length} asked"
        )
    return data


def _read_data(response: ResponseApdu, file: LdsFile, offset: int) -> bytes:
    if response.sw == SW_END_OF_FILE:
        return response.data
    return response.check(f"READ BINARY {file.name} at byte {offset}")


def _unwrap_discretionary(wrapped: bytes, file: LdsFile, offset: int) -> bytes:
    try:
        obj = read_tlv(wrapped, file.name, base=offset)
    except LdsError as error:
        raise ProtocolError(f"READ BINARY {file.name} at byte {offset}: {error.reason}") from None
    if obj.tag != TAG_DISCRETIONARY:
        raise ProtocolError(
            f"READ BINARY {file.name} at byte {offset}: tag {obj.tag:X} where 53 was expected"
        )
    return obj.value


def read_file(
    transport: Transport,
    file: LdsFile,
    *,
    chunk: int = SM_SHORT_CHUNK,
    max_size: int = DEFAULT_MAX_SIZE,
) -> bytes | None:
    """The whole of ``file`` (None when the chip does not have it).

    Raises ``ProtocolError`` when the file's header is malformed, its size
    exceeds ``max_size`` or the chip stops short, ``StatusError`` when the
    chip refuses a command.
    """
    if not 1 <= chunk <= SHORT_MAX_NE * 256:
        raise ValueError(f"chunk {chunk} is outside 1..65536")
    if not select_file(transport, file):
        return None
    head = read_binary(transport, file, 0, min(MAX_HEADER_BYTES, chunk))
    try:
        size = total_length(head, file.name)
    except LdsError as error:
        raise ProtocolError(f"{error}") from None
    if size > max_size:
        raise ProtocolError(f"{file.name} declares {size} bytes, more than the {max_size} allowed")
    content = bytearray(head[:size])
    while len(content) < size:
        piece = read_binary(transport, file, len(content), min(chunk, size - len(content)))
        if not piece:
            raise ProtocolError(
                f"{file.name}: the chip sent nothing at byte {len(content)} of {size}"
            )
        content += piece
    return bytes(content)
