"""Secure messaging (ICAO Doc 9303 part 11, 9.8): the APDUs after BAC, PACE or chip authentication.

Once access control has agreed session keys K_enc and K_mac and a send
sequence counter (SSC), every command and response travels protected:

* the command's CLA gets the SM bits (0C), its data is padded and encrypted
  into DO'87 (padding indicator 01, then the cryptogram; DO'85 without the
  indicator for an odd INS, whose data is BER-TLV), its Le goes into DO'97,
  and DO'8E carries the MAC of SSC || padded header || those data objects;
  the protected command expects Le 00 (or 0000 when it needs extended length);
* the response carries DO'87 (its data), DO'99 (the status word) and DO'8E
  (the MAC of SSC || DO'87 || DO'99).

The SSC is incremented before each command and each response.  With 3DES
the SSC has 8 bytes, the IV is zero and the MAC is the retail MAC; with AES
the SSC has 16 bytes, the IV is AES(K_enc, SSC) and the MAC is AES-CMAC
truncated to 8 bytes, both over data padded to the block size.

``SecureChannel`` holds the keys and the SSC and works for either side: the
inspection system ``wrap``s commands and ``unwrap``s responses, a virtual
chip ``unwrap_command``s and ``wrap_response``s.  ``SecureTransport`` puts a
channel on any ``Transport``.  Whatever the card sends, ``unwrap`` raises
only ``SecureMessagingError`` (bad MAC, padding or data objects); a bare
error status without data objects (a card refusing a command outright, for
example 6987 or 6988) is returned as it is, for the caller's
``ResponseApdu.check`` to turn into a ``StatusError``.
"""

from __future__ import annotations

import hmac

from egate.documents.lds.tlv import encode_tlv
from hardware.emrtd.apdu import (
    EXTENDED_MAX_NE,
    SHORT_MAX_LC,
    SHORT_MAX_NE,
    CommandApdu,
    ResponseApdu,
    Transport,
)
from hardware.emrtd.crypto import (
    Cipher,
    aes_cmac,
    aes_ecb_encrypt,
    cbc_decrypt,
    cbc_encrypt,
    pad,
    retail_mac,
    unpad,
)
from hardware.emrtd.errors import SecureMessagingError
from hardware.emrtd.iso7816 import CLA_SM, SW_SUCCESS

MAC_LENGTH = 8

TAG_CRYPTOGRAM_TLV = 0x85  # odd INS: the plain data is BER-TLV, no padding indicator
TAG_CRYPTOGRAM = 0x87
TAG_LE = 0x97
TAG_STATUS = 0x99
TAG_MAC = 0x8E
PADDING_INDICATOR = 0x01


def _decode_dos(raw: bytes, where: str) -> list[tuple[int, bytes, int, int]]:
    """(tag, value, start, end) of each one-byte-tag data object in ``raw``."""
    objects = []
    offset = 0
    while offset < len(raw):
        start = offset
        if len(raw) - offset < 2:
            raise SecureMessagingError(f"{where}: byte {offset}: data object cut short")
        tag, first = raw[offset], raw[offset + 1]
        offset += 2
        if first < 0x80:
            length = first
        elif first in (0x81, 0x82):
            size = first - 0x80
            if len(raw) - offset < size:
                raise SecureMessagingError(f"{where}: byte {start}: length of {tag:02X} cut short")
            length = int.from_bytes(raw[offset : offset + size], "big")
            offset += size
        else:
            raise SecureMessagingError(
                f"{where}: byte {start}: length byte {first:02X} of {tag:02X} is not supported"
            )
        if len(raw) - offset < length:
            raise SecureMessagingError(
                f"{where}: byte {start}: data object {tag:02X} of {length} bytes"
                f" has only {len(raw) - offset}"
            )
        objects.append((tag, raw[offset : offset + length], start, offset + length))
        offset += length
    return objects


def _protected_objects(
    data: bytes, where: str, middle: int, middle_length: int | None = None
) -> tuple[tuple[int, bytes] | None, bytes | None, bytes, int]:
    """A protected data field's cryptogram, ``middle`` data object, MAC and where the MAC starts.

    In this order, each at most once: DO'87 or DO'85 (tag and value), then
    ``middle`` (DO'97, the command's Le, or DO'99, the response's status word,
    of ``middle_length`` bytes if given), then DO'8E, which ends the field
    and must be there.
    """
    cryptogram: tuple[int, bytes] | None = None
    found: bytes | None = None
    mac: bytes | None = None
    mac_start = 0
    for tag, value, start, _end in _decode_dos(data, where):
        if mac is not None:
            raise SecureMessagingError(f"{where}: byte {start}: data object after DO'8E")
        if tag in (TAG_CRYPTOGRAM, TAG_CRYPTOGRAM_TLV) and cryptogram is None and found is None:
            cryptogram = (tag, value)
        elif tag == middle and found is None:
            if middle_length is not None and len(value) != middle_length:
                raise SecureMessagingError(f"{where}: DO'{tag:02X} of {len(value)} bytes")
            found = value
        elif tag == TAG_MAC:
            if len(value) != MAC_LENGTH:
                raise SecureMessagingError(f"{where}: DO'8E of {len(value)} bytes")
            mac, mac_start = value, start
        else:
            raise SecureMessagingError(f"{where}: byte {start}: unexpected data object {tag:02X}")
    if mac is None:
        raise SecureMessagingError(f"{where}: no MAC (DO'8E)")
    return cryptogram, found, mac, mac_start


def _encode_le(ne: int) -> bytes:
    """DO'97's value: Le in one byte (00 for 256) or, for extended length, two (0000 for 65536)."""
    if ne <= SHORT_MAX_NE:
        return bytes((ne % SHORT_MAX_NE,))
    return (ne % EXTENDED_MAX_NE).to_bytes(2, "big")


def _decode_le(value: bytes) -> int:
    if len(value) == 0:
        return 0
    if len(value) == 1:
        return value[0] or SHORT_MAX_NE
    if len(value) == 2:
        return int.from_bytes(value, "big") or EXTENDED_MAX_NE
    raise SecureMessagingError(f"command: DO'97 of {len(value)} bytes is not an Le")


class SecureChannel:
    """The session keys and send sequence counter of one secure-messaging session.

    ``cipher`` is ``Cipher.TDES`` (after BAC) or an AES key length (after
    PACE or chip authentication with AES); ``ssc`` is the counter's start
    (BAC: RND.ICC[4:8] || RND.IFD[4:8]; PACE and chip authentication: 0).
    A terminal uses ``wrap`` and ``unwrap``, a chip ``unwrap_command`` and
    ``wrap_response``.
    """

    def __init__(self, k_enc: bytes, k_mac: bytes, ssc: int | bytes, cipher: Cipher) -> None:
        self._set_keys(k_enc, k_mac, cipher)
        self._ssc = int.from_bytes(ssc, "big") if isinstance(ssc, bytes) else ssc
        if not 0 <= self._ssc < 1 << (8 * cipher.block_size):
            raise ValueError(f"SSC {self._ssc:X} does not fit {cipher.block_size} bytes")
        # The chip answers an odd-INS command's data in DO'85 (see wrap_response).
        self._odd_ins = False

    def _set_keys(self, k_enc: bytes, k_mac: bytes, cipher: Cipher) -> None:
        for name, key in (("K_enc", k_enc), ("K_mac", k_mac)):
            if len(key) != cipher.key_length:
                raise ValueError(f"{name} of {len(key)} bytes does not fit {cipher.value}")
        self._k_enc = bytes(k_enc)
        self._k_mac = bytes(k_mac)
        self._cipher = cipher

    @property
    def cipher(self) -> Cipher:
        """The block cipher of the session."""
        return self._cipher

    @property
    def ssc(self) -> int:
        """The send sequence counter as last used."""
        return self._ssc

    @property
    def ssc_bytes(self) -> bytes:
        """The send sequence counter as it enters the MAC: 8 bytes (3DES) or 16 (AES)."""
        return self._ssc.to_bytes(self._cipher.block_size, "big")

    def rekey(self, k_enc: bytes, k_mac: bytes, cipher: Cipher) -> None:
        """Continue with new session keys (chip authentication): the SSC starts again at 0."""
        self._set_keys(k_enc, k_mac, cipher)
        self._ssc = 0

    def __repr__(self) -> str:
        # The keys stay out of logs.
        return f"SecureChannel({self._cipher.value}, ssc={self.ssc_bytes.hex().upper()})"

    # -- the primitives of the session ------------------------------------

    def _increment(self) -> None:
        self._ssc = (self._ssc + 1) % (1 << (8 * self._cipher.block_size))

    def _iv(self) -> bytes:
        if self._cipher.is_aes:
            return aes_ecb_encrypt(self._k_enc, self.ssc_bytes)
        return bytes(self._cipher.block_size)

    def _encrypt(self, data: bytes) -> bytes:
        padded = pad(data, self._cipher.block_size)
        return cbc_encrypt(self._cipher, self._k_enc, padded, self._iv())

    def _cryptogram(self, data: bytes, *, odd_ins: bool) -> bytes:
        """``data`` encrypted in DO'87 (after the padding indicator), or DO'85 for an odd INS.

        No data, no data object.
        """
        if not data:
            return b""
        cryptogram = self._encrypt(data)
        if odd_ins:
            return encode_tlv(TAG_CRYPTOGRAM_TLV, cryptogram)
        return encode_tlv(TAG_CRYPTOGRAM, bytes((PADDING_INDICATOR,)) + cryptogram)

    def _decrypt(self, cryptogram: bytes, where: str) -> bytes:
        block = self._cipher.block_size
        if not cryptogram or len(cryptogram) % block:
            raise SecureMessagingError(
                f"{where}: cryptogram of {len(cryptogram)} bytes is not whole {block}-byte blocks"
            )
        padded = cbc_decrypt(self._cipher, self._k_enc, cryptogram, self._iv())
        try:
            return unpad(padded, block)
        except SecureMessagingError as error:
            raise SecureMessagingError(f"{where}: decrypted data: {error}") from None

    def _mac(self, data: bytes) -> bytes:
        """The 8-byte MAC of SSC || ``data``, padded to the block size."""
        message = self.ssc_bytes + data
        if self._cipher.is_aes:
            return aes_cmac(self._k_mac, pad(message, self._cipher.block_size))[:MAC_LENGTH]
        return retail_mac(self._k_mac, message)

    def _check_mac(self, data: bytes, mac: bytes, where: str) -> None:
        if not hmac.compare_digest(self._mac(data), mac):
            raise SecureMessagingError(f"{where}: the MAC (DO'8E) does not verify")

    # -- terminal side ------------------------------------------------------

    def wrap(self, command: CommandApdu) -> CommandApdu:
        """The protected form of ``command``, to send to the chip."""
        self._increment()
        cla = command.cla | CLA_SM
        header = bytes((cla, command.ins, command.p1, command.p2))
        objects = self._cryptogram(command.data, odd_ins=bool(command.ins & 1))
        if command.ne:
            objects += encode_tlv(TAG_LE, _encode_le(command.ne))
        mac = self._mac(pad(header, self._cipher.block_size) + objects)
        data = objects + encode_tlv(TAG_MAC, mac)
        extended = command.extended or len(data) > SHORT_MAX_LC
        ne = EXTENDED_MAX_NE if extended else SHORT_MAX_NE
        return CommandApdu(cla, command.ins, command.p1, command.p2, data, ne)

    def unwrap(self, response: ResponseApdu) -> ResponseApdu:
        """The plain response from the chip's protected one (SecureMessagingError if not).

        A bare error status with no data objects comes back unchanged.
        """
        self._increment()
        if not response.data and response.sw != SW_SUCCESS:
            return response
        where = f"response {response.sw:04X}"
        cryptogram, status, mac, mac_start = _protected_objects(response.data, where, TAG_STATUS, 2)
        if status is None:
            raise SecureMessagingError(f"{where}: no status word (DO'99)")
        self._check_mac(response.data[:mac_start], mac, where)
        return ResponseApdu(self._plain(cryptogram, where), int.from_bytes(status, "big"))

    def _plain(self, cryptogram: tuple[int, bytes] | None, where: str) -> bytes:
        if cryptogram is None:
            return b""
        tag, value = cryptogram
        if tag == TAG_CRYPTOGRAM:
            if not value or value[0] != PADDING_INDICATOR:
                raise SecureMessagingError(f"{where}: DO'87 lacks the padding indicator 01")
            value = value[1:]
        return self._decrypt(value, where)

    # -- chip side ----------------------------------------------------------

    def unwrap_command(self, command: CommandApdu) -> CommandApdu:
        """The plain command from the terminal's protected one (SecureMessagingError if not)."""
        self._increment()
        where = f"command {command.ins:02X}"
        if command.cla & CLA_SM != CLA_SM:
            raise SecureMessagingError(
                f"{where}: CLA {command.cla:02X} announces no secure messaging"
            )
        cryptogram, le, mac, mac_start = _protected_objects(command.data, where, TAG_LE)
        header = pad(command.header, self._cipher.block_size)
        self._check_mac(header + command.data[:mac_start], mac, where)
        ne = 0 if le is None else _decode_le(le)
        data = self._plain(cryptogram, where)
        self._odd_ins = bool(command.ins & 1)
        try:
            return CommandApdu(
                command.cla & ~CLA_SM & 0xFF, command.ins, command.p1, command.p2, data, ne
            )
        except ValueError as error:
            raise SecureMessagingError(f"{where}: {error}") from None

    def wrap_response(self, response: ResponseApdu) -> ResponseApdu:
        """The protected form of the chip's ``response`` to the last unwrapped command."""
        self._increment()
        objects = self._cryptogram(response.data, odd_ins=self._odd_ins)
        objects += encode_tlv(TAG_STATUS, response.sw.to_bytes(2, "big"))
        return ResponseApdu(objects + encode_tlv(TAG_MAC, self._mac(objects)), response.sw)


class SecureTransport:
    """A ``Transport`` that protects every command on ``inner`` with ``channel``."""

    def __init__(self, inner: Transport, channel: SecureChannel) -> None:
        self.inner = inner
        self.channel = channel

    def transmit(self, command: CommandApdu) -> ResponseApdu:
        """Wrap ``command``, send it, and unwrap the chip's answer."""
        return self.channel.unwrap(self.inner.transmit(self.channel.wrap(command)))
