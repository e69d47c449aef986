"""The typed errors of the chip stack: whatever a card sends, only these come out of it.

A card is a device like any other: its bytes may be cut short, malformed or
hostile.  Every layer (transport, secure messaging, access control, file
reading) turns a bad answer into one of these, with a message that names what
was wrong and where (the command, the file, the byte offset), so that the
inspection can report the chip ``unreadable`` or ``access_denied`` and never
crash the gate.
"""

from __future__ import annotations

from hardware.emrtd.iso7816 import describe_status as describe_status


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
