"""ISO/IEC 7816-4 command and response APDUs (short and extended length), and their transport.

A command is CLA INS P1 P2, then the optional data field (length Lc) and the
optional expected length Le.  Short APDUs carry Lc and Le in one byte each
(Le 00 meaning 256); extended APDUs carry them in two bytes after a 00 marker
(Le 0000 meaning 65536), which an inspection system needs to read a large DG2
in a few commands.  A response is the data followed by the two status bytes
SW1 SW2 (9000: success).

``Transport`` is what every layer above talks to: the PC/SC reader, the
in-process virtual chip, or a secure channel wrapping either.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from hardware.emrtd.errors import ProtocolError, StatusError
from hardware.emrtd.iso7816 import SW_SUCCESS as SW_SUCCESS

SHORT_MAX_LC = 255
SHORT_MAX_NE = 256
EXTENDED_MAX_LC = 65535
EXTENDED_MAX_NE = 65536


@dataclass(frozen=True, slots=True)
class CommandApdu:
    """One command to the card.  ``ne`` is the number of response bytes expected (0: none)."""

    cla: int
    ins: int
    p1: int
    p2: int
    data: bytes = b""
    ne: int = 0

    def __post_init__(self) -> None:
        for name in ("cla", "ins", "p1", "p2"):
            value = getattr(self, name)
            if not 0 <= value <= 0xFF:
                raise ValueError(f"APDU {name} {value} is not a byte")
        if len(self.data) > EXTENDED_MAX_LC:
            raise ValueError(f"APDU data of {len(self.data)} bytes exceeds {EXTENDED_MAX_LC}")
        if not 0 <= self.ne <= EXTENDED_MAX_NE:
            raise ValueError(f"APDU Ne {self.ne} is outside 0..{EXTENDED_MAX_NE}")

    @property
    def extended(self) -> bool:
        """Whether the command needs extended length fields."""
        return len(self.data) > SHORT_MAX_LC or self.ne > SHORT_MAX_NE

    @property
    def header(self) -> bytes:
        """CLA INS P1 P2."""
        return bytes((self.cla, self.ins, self.p1, self.p2))

    def encode(self) -> bytes:
        """The bytes sent to the card (ISO 7816-4 cases 1 to 4, short or extended)."""
        out = bytearray(self.header)
        if self.extended:
            if self.data:
                out += b"\x00" + len(self.data).to_bytes(2, "big") + self.data
                if self.ne:
                    out += (self.ne % EXTENDED_MAX_NE).to_bytes(2, "big")
            elif self.ne:
                out += b"\x00" + (self.ne % EXTENDED_MAX_NE).to_bytes(2, "big")
            return bytes(out)
        if self.data:
            out += bytes((len(self.data),)) + self.data
        if self.ne:
            out += bytes((self.ne % SHORT_MAX_NE,))
        return bytes(out)

    @classmethod
    def decode(cls, raw: bytes) -> CommandApdu:
        """Parse a command as a card receives it (ProtocolError when malformed)."""
        if len(raw) < 4:
            raise ProtocolError(f"command APDU of {len(raw)} bytes is shorter than its header")
        cla, ins, p1, p2 = raw[:4]
        body = raw[4:]
        if not body:
            return cls(cla, ins, p1, p2)
        if len(body) == 1:
            return cls(cla, ins, p1, p2, ne=body[0] or SHORT_MAX_NE)
        if body[0] != 0:
            lc = body[0]
            if len(body) == 1 + lc:
                return cls(cla, ins, p1, p2, body[1:])
            if len(body) == 2 + lc:
                return cls(cla, ins, p1, p2, body[1 : 1 + lc], body[-1] or SHORT_MAX_NE)
            raise ProtocolError(f"command APDU: Lc {lc} does not match {len(body) - 1} bytes")
        # Extended length: 00 then two length bytes.
        if len(body) == 3:
            return cls(cla, ins, p1, p2, ne=int.from_bytes(body[1:3], "big") or EXTENDED_MAX_NE)
        lc = int.from_bytes(body[1:3], "big") if len(body) >= 3 else 0
        if lc == 0:
            raise ProtocolError("command APDU: extended Lc of 0")
        if len(body) == 3 + lc:
            return cls(cla, ins, p1, p2, body[3:])
        if len(body) == 5 + lc:
            ne = int.from_bytes(body[-2:], "big") or EXTENDED_MAX_NE
            return cls(cla, ins, p1, p2, body[3 : 3 + lc], ne)
        raise ProtocolError(f"command APDU: extended Lc {lc} does not match {len(body) - 3} bytes")


@dataclass(frozen=True, slots=True)
class ResponseApdu:
    """The card's answer: data and status word."""

    data: bytes
    sw: int

    @property
    def ok(self) -> bool:
        """Whether the status word is 9000."""
        return self.sw == SW_SUCCESS

    def encode(self) -> bytes:
        """The bytes the card sends: data, SW1, SW2."""
        return self.data + self.sw.to_bytes(2, "big")

    @classmethod
    def decode(cls, raw: bytes, command: CommandApdu | None = None) -> ResponseApdu:
        """Parse the card's bytes (ProtocolError when there is no status word).

        ``command``, the command answered, is named by its header in the error.
        """
        if len(raw) < 2:
            where = "" if command is None else f"{command.header.hex().upper()}: "
            raise ProtocolError(f"{where}response APDU of {len(raw)} bytes has no status word")
        return cls(bytes(raw[:-2]), int.from_bytes(raw[-2:], "big"))

    def check(self, command: str) -> bytes:
        """The data when the status is 9000, else StatusError naming ``command``."""
        if self.sw != SW_SUCCESS:
            raise StatusError(command, self.sw)
        return self.data


class Transport(Protocol):
    """Sends command APDUs to a card and returns its responses.

    Implementations raise ``TransportError`` (or ``CardAbsent``) when the
    link fails and ``ProtocolError`` when the answer is not an APDU; status
    words other than 9000 are returned, not raised.
    """

    def transmit(self, command: CommandApdu) -> ResponseApdu:
        """Send one command and return the card's answer."""
        ...
