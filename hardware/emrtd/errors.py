"""The typed errors of the chip stack: whatever a card sends, only these come out of it.

A card is a device like any other: its bytes may be cut short, malformed or
hostile.  Every layer (transport, secure messaging, access control, file
reading) turns a bad answer into one of these, with a message that names what
was wrong and where (the command, the file, the byte offset), so that the
inspection can report the chip ``unreadable`` or ``access_denied`` and never
crash the gate.
"""

from __future__ import annotations


class ChipError(Exception):
    """Base of every error the chip stack raises."""


class TransportError(ChipError):
    """The reader or the link failed: no card, card removed, reader gone."""


class CardAbsent(TransportError):
    """No card answers in the reader's field."""


class ProtocolError(ChipError):
    """The card's answer does not follow ISO 7816-4 or Doc 9303 (malformed, cut short)."""


class StatusError(ChipError):
    """The card answered a command with a status word other than success."""

    def __init__(self, command: str, sw: int) -> None:
        super().__init__(f"{command}: card answered {sw:04X} ({describe_status(sw)})")
        self.command = command
        self.sw = sw


class SecureMessagingError(ChipError):
    """A secure-messaging response failed its MAC, its padding or its structure."""


class AccessDenied(ChipError):
    """Access control failed: the key from the MRZ (or the CAN) does not open the chip."""


# ISO 7816-4 status words an inspection system meets, for messages.
_STATUS_WORDS = {
    0x9000: "success",
    0x6282: "end of file reached before the requested length",
    0x6300: "authentication failed",
    0x6700: "wrong length",
    0x6881: "logical channel not supported",
    0x6882: "secure messaging not supported",
    0x6982: "security status not satisfied",
    0x6983: "authentication method blocked",
    0x6984: "reference data not usable",
    0x6985: "conditions of use not satisfied",
    0x6986: "command not allowed",
    0x6987: "expected secure messaging data objects missing",
    0x6988: "incorrect secure messaging data objects",
    0x6A80: "incorrect parameters in the data field",
    0x6A82: "file or application not found",
    0x6A86: "incorrect parameters P1-P2",
    0x6A88: "referenced data not found",
    0x6B00: "wrong parameters (offset outside the file)",
    0x6D00: "instruction not supported",
    0x6E00: "class not supported",
    0x6F00: "no precise diagnosis",
}


def describe_status(sw: int) -> str:
    """A short English description of an ISO 7816-4 status word."""
    if sw in _STATUS_WORDS:
        return _STATUS_WORDS[sw]
    if sw >> 8 == 0x61:
        return f"{sw & 0xFF} more bytes available"
    if sw >> 8 == 0x6C:
        return f"wrong Le, {sw & 0xFF} bytes available"
    if sw & 0xFFF0 == 0x63C0:
        return f"verification failed, {sw & 0x0F} tries left"
    return "unknown status"
