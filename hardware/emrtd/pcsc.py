"""The PC/SC transport: APDUs to a card in a contactless reader, through pcscd and pyscard.

pyscard is an optional dependency (it builds from source on Linux, against
libpcsclite): ``pip install 'egate[pcsc]'``.  It is imported only when a
reader is used; without it every call raises ``TransportError`` saying how
to install it, so the rest of egate works without it.

``list_readers()`` names the readers pcscd knows.  ``PcscTransport(reader)``
picks one by index (0: the first) or by a part of its name ("OMNIKEY",
"Virtual PCD"; the first match), or the first reader when None, and connects
to the card in it (shared, T=1 or T=0, whichever the card speaks).  No card
in the field is ``CardAbsent``, pcscd or the reader failing ``TransportError``.

``transmit`` sends the command's bytes as they are and returns the response;
it completes what T=0 cards leave to the application: a status 61xx (xx more
bytes waiting) is followed by GET RESPONSE until the data is whole, and 6Cxx
(wrong Le, xx available) by the same command again with Le = xx.
"""

from __future__ import annotations

import importlib
from dataclasses import replace
from types import ModuleType
from typing import Any

from hardware.emrtd.apdu import CommandApdu, ResponseApdu
from hardware.emrtd.errors import CardAbsent, ProtocolError, TransportError
from hardware.emrtd.iso7816 import INS_GET_RESPONSE

INSTALL_HINT = "PC/SC needs pyscard: pip install 'egate[pcsc]'"
# A card that keeps answering 61xx or 6Cxx is broken: stop after this many rounds.
MAX_ROUNDS = 64

# PC/SC return codes (winscard.h) that mean the card, not the reader, is missing.
_NO_CARD = {
    0x8010000C,  # SCARD_E_NO_SMARTCARD
    0x80100069,  # SCARD_W_REMOVED_CARD
    0x80100066,  # SCARD_W_UNRESPONSIVE_CARD
    0x80100067,  # SCARD_W_UNPOWERED_CARD
}
_NO_SERVICE = {0x8010001D, 0x8010001E}  # SCARD_E_NO_SERVICE, SCARD_E_SERVICE_STOPPED
_NO_READERS = 0x8010002E  # SCARD_E_NO_READERS_AVAILABLE


def _scard() -> ModuleType:
    """pyscard's PC/SC bindings (TransportError when pyscard is not installed)."""
    try:
        return importlib.import_module("smartcard.scard")
    except ImportError:
        raise TransportError(INSTALL_HINT) from None


def _describe(scard: ModuleType, hresult: int) -> str:
    code = hresult & 0xFFFFFFFF
    try:
        text = str(scard.SCardGetErrorMessage(hresult)).strip().rstrip(".")
    except Exception:  # a message is a nicety; the code says it all
        text = "PC/SC error"
    return f"{text} (0x{code:08X})"


def _failure(scard: ModuleType, what: str, hresult: int) -> TransportError:
    code = hresult & 0xFFFFFFFF
    if code in _NO_CARD:
        return CardAbsent(f"PC/SC: {what}: {_describe(scard, hresult)}")
    if code in _NO_SERVICE:
        return TransportError(f"PC/SC: {what}: pcscd is not running ({_describe(scard, hresult)})")
    return TransportError(f"PC/SC: {what}: {_describe(scard, hresult)}")


class _Context:
    """A PC/SC context, released on close."""

    def __init__(self) -> None:
        self.scard = _scard()
        hresult, context = self.scard.SCardEstablishContext(self.scard.SCARD_SCOPE_USER)
        if hresult != self.scard.SCARD_S_SUCCESS:
            raise _failure(self.scard, "cannot reach pcscd", hresult)
        self.handle: Any = context

    def readers(self) -> list[str]:
        hresult, readers = self.scard.SCardListReaders(self.handle, [])
        if hresult & 0xFFFFFFFF == _NO_READERS:
            return []
        if hresult != self.scard.SCARD_S_SUCCESS:
            raise _failure(self.scard, "cannot list readers", hresult)
        return [str(reader) for reader in readers]

    def close(self) -> None:
        self.scard.SCardReleaseContext(self.handle)


def list_readers() -> list[str]:
    """The names of the readers pcscd knows (TransportError without pcscd or pyscard)."""
    context = _Context()
    try:
        return context.readers()
    finally:
        context.close()


def choose_reader(readers: list[str], reader: str | int | None) -> str:
    """The reader ``reader`` designates among ``readers`` (TransportError if none does).

    None: the first; an int: that index; a string: the first reader whose
    name contains it, ignoring case.
    """
    if not readers:
        raise TransportError("PC/SC: no reader is connected")
    if reader is None:
        return readers[0]
    if isinstance(reader, int):
        if not 0 <= reader < len(readers):
            raise TransportError(
                f"PC/SC: no reader {reader}: there are {len(readers)} ({'; '.join(readers)})"
            )
        return readers[reader]
    for name in readers:
        if reader.casefold() in name.casefold():
            return name
    raise TransportError(f"PC/SC: no reader matches {reader!r} (readers: {'; '.join(readers)})")


class PcscTransport:
    """A ``Transport`` to the card in a PC/SC reader (see the module docstring).

    Use as a context manager, or call ``close``: it disconnects from the card
    (leaving it powered) and releases the PC/SC context.
    """

    def __init__(self, reader: str | int | None = None) -> None:
        self._context = _Context()
        scard = self._context.scard
        try:
            self.reader = choose_reader(self._context.readers(), reader)
            hresult, card, protocol = scard.SCardConnect(
                self._context.handle,
                self.reader,
                scard.SCARD_SHARE_SHARED,
                scard.SCARD_PROTOCOL_T0 | scard.SCARD_PROTOCOL_T1,
            )
            if hresult != scard.SCARD_S_SUCCESS:
                raise _failure(scard, f"{self.reader}: cannot connect to the card", hresult)
        except BaseException:
            self._context.close()
            raise
        self._card: Any = card
        self._protocol: Any = protocol
        self._connected = True

    @property
    def protocol(self) -> str:
        """The protocol the card speaks: "T=1" or "T=0"."""
        return "T=1" if self._protocol == self._context.scard.SCARD_PROTOCOL_T1 else "T=0"

    @property
    def atr(self) -> bytes:
        """The card's answer to reset."""
        scard = self._context.scard
        hresult, _reader, _state, _protocol, atr = scard.SCardStatus(self._card)
        if hresult != scard.SCARD_S_SUCCESS:
            raise _failure(scard, f"{self.reader}: card status", hresult)
        return bytes(atr)

    def transmit_raw(self, apdu: bytes) -> bytes:
        """Send the bytes of one command APDU; the card's bytes (data and status word)."""
        if not self._connected:
            raise TransportError(f"PC/SC: {self.reader}: the transport is closed")
        scard = self._context.scard
        hresult, response = scard.SCardTransmit(self._card, self._protocol, list(apdu))
        if hresult != scard.SCARD_S_SUCCESS:
            raise _failure(scard, f"{self.reader}: {apdu[:4].hex().upper()}", hresult)
        return bytes(response)

    def transmit(self, command: CommandApdu) -> ResponseApdu:
        """Send ``command``; its response, after GET RESPONSE and Le corrections (61xx, 6Cxx)."""
        data = b""
        current = command
        for _ in range(MAX_ROUNDS):
            response = ResponseApdu.decode(self.transmit_raw(current.encode()), current)
            sw1, sw2 = response.sw >> 8, response.sw & 0xFF
            if sw1 == 0x6C and current.ins != INS_GET_RESPONSE:
                current = replace(current, ne=sw2 or 256)
                continue
            data += response.data
            if sw1 != 0x61:
                return ResponseApdu(data, response.sw)
            # The channel bits of CLA stay; GET RESPONSE itself is never protected.
            current = CommandApdu(command.cla & 0x03, INS_GET_RESPONSE, 0, 0, ne=sw2 or 256)
        raise ProtocolError(
            f"{command.header.hex().upper()}: the card asked for GET RESPONSE or a new Le "
            f"{MAX_ROUNDS} times"
        )

    def close(self) -> None:
        """Disconnect from the card and release the PC/SC context (idempotent)."""
        if self._connected:
            self._connected = False
            scard = self._context.scard
            scard.SCardDisconnect(self._card, scard.SCARD_LEAVE_CARD)
            self._context.close()

    def __enter__(self) -> PcscTransport:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = self.protocol if self._connected else "closed"
        return f"PcscTransport({self.reader!r}, {state})"
