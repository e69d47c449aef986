"""The 3M RTE framing: ``SOH length "OU" STX flag data ETX BCC``, as docs/readers.md says."""

from __future__ import annotations

from collections.abc import Sequence
from functools import reduce
from operator import xor

from hardware.frames import (
    DEFAULT_IDLE_TIMEOUT_S,
    ETX,
    MAX_FRAME_BYTES,
    SOH,
    STX,
    BadFrame,
    StartByteFraming,
    encode_line,
    split_frame_lines,
)


def block_check(data: bytes) -> int:
    """The XOR of every byte of ``data`` (the RTE block check character)."""
    return reduce(xor, data, 0)


# RTE header: SOH, length (2 bytes), "OU", STX, flag; then data, ETX, BCC.
_RTE_HEADER = 7
_RTE_OVERHEAD = _RTE_HEADER + 2
# The OCR data holds three line slots, bottom-aligned; unread slots send only
# their CR. Lines are padded with "_" to 30 characters (3-line documents) or 44.
_RTE_SLOTS = 3
_RTE_PAD = b"_"
RTE_FLAG = ord("0")


class RteFraming(StartByteFraming):
    """``SOH len_lo len_hi "O" "U" STX flag data ETX BCC``, as 3M RTE readers send.

    ``len`` is a little-endian 14-bit count of every byte of the block, SOH
    and BCC included; ``BCC`` is the XOR of every byte after SOH up to and
    including ETX. The data holds three lines, each ending in CR (a line not
    found sends only its CR), padded with ``_``; padding and empty leading or
    trailing lines are removed. A wrong length or BCC makes the frame a misread.
    """

    name = "rte"
    control_bytes = frozenset({SOH, STX, ETX})
    _start = SOH

    def __init__(self, *, idle_timeout_s: float = DEFAULT_IDLE_TIMEOUT_S) -> None:
        super().__init__(idle_timeout_s)
        self._length = 0
        self._in_data = False

    def _begin(self) -> None:
        self._length = 0
        self._in_data = False

    def _step(self, byte: int) -> tuple[str, ...] | BadFrame | None:
        position = len(self._raw) - 1
        if self._in_data:
            return self._data_byte(byte, position)
        if position == 2:
            length = self._raw[1] | (byte << 8)
            if byte & 0xC0 or not _RTE_OVERHEAD <= length <= MAX_FRAME_BYTES:
                return BadFrame(f"length field {length} is no block length")
            self._length = length
        elif (position == 3 and byte != ord("O")) or (position == 4 and byte != ord("U")):
            return BadFrame('header does not read "OU"')
        elif position == 5 and byte != STX:
            return BadFrame(f"header followed by 0x{byte:02X}, not STX")
        elif position == _RTE_HEADER - 1:
            self._in_data = True  # the flag byte: any value
        return None

    def _data_byte(self, byte: int, position: int) -> tuple[str, ...] | BadFrame | None:
        if position == self._length - 1:
            # The block check character, whatever its value.
            expected = block_check(bytes(self._raw[1:-1]))
            if byte != expected:
                # When the BCC byte is a SOH, it may be the next frame after a
                # frame that lost its BCC: read again from it.
                return BadFrame(
                    f"bad BCC: computed 0x{expected:02X}, received 0x{byte:02X}",
                    rescan_from=position,
                )
            data = bytes(self._raw[_RTE_HEADER:-2])
            lines = split_frame_lines(data, _RTE_PAD)
            while lines and not lines[-1]:
                lines.pop()
            while lines and not lines[0]:
                lines.pop(0)
            return tuple(lines)
        if byte == ETX:
            if position != self._length - 2:
                return BadFrame(f"length field says {self._length} bytes, block has {position + 2}")
            return None
        if byte in (SOH, STX):
            return BadFrame(f"unexpected 0x{byte:02X} in the data: frame cut short?")
        if position >= self._length - 2:
            return BadFrame(f"no ETX where the length field ({self._length}) puts it")
        return None

    def encode(self, lines: Sequence[str], *, flag: int = RTE_FLAG) -> bytes:
        width = 30 if len(lines) == 3 else 44
        slots = [""] * (_RTE_SLOTS - len(lines)) + list(lines)
        data = b"".join(
            (encode_line(line).ljust(width, _RTE_PAD) if line else b"") + b"\r" for line in slots
        )
        length = _RTE_OVERHEAD + len(data)
        body = (
            bytes([length & 0xFF, length >> 8]) + b"OU" + bytes([STX, flag]) + data + bytes([ETX])
        )
        return bytes([SOH]) + body + bytes([block_check(body)])
