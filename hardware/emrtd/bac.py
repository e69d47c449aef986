"""Basic Access Control (ICAO Doc 9303 part 11, section 4.3): the terminal and the chip.

The inspection system proves it read the data page: from the MRZ information
(document number, birth date, expiry date, each with its check digit) it
derives K_enc and K_mac, asks the chip for an 8-byte challenge RND.ICC (GET
CHALLENGE), and sends EXTERNAL AUTHENTICATE with E_IFD || M_IFD, where E_IFD
is RND.IFD || RND.ICC || K.IFD encrypted with 3DES under K_enc and M_IFD its
retail MAC under K_mac.  A chip that finds its own challenge inside answers
E_ICC || M_ICC over RND.ICC || RND.IFD || K.ICC; a chip that does not answers
6300.  Both sides then derive the session keys from K.IFD xor K.ICC, and
secure messaging starts with the SSC RND.ICC[4:8] || RND.IFD[4:8].

``bac`` is the terminal side and returns the ``SecureChannel``;
``BacResponder`` is the chip side a virtual chip answers with.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable

from hardware.emrtd.apdu import CommandApdu, Transport
from hardware.emrtd.crypto import (
    Cipher,
    bac_key_seed,
    bac_keys,
    retail_mac,
    tdes_decrypt,
    tdes_encrypt,
)
from hardware.emrtd.errors import AccessDenied, ProtocolError
from hardware.emrtd.iso7816 import (
    INS_EXTERNAL_AUTHENTICATE,
    INS_GET_CHALLENGE,
    SW_AUTHENTICATION_FAILED,
    SW_SECURITY_STATUS,
)
from hardware.emrtd.securemessaging import SecureChannel

Random = Callable[[int], bytes]

CHALLENGE_LENGTH = 8
KEY_MATERIAL_LENGTH = 16
# E_IFD (or E_ICC): 32 bytes of cryptogram, then an 8-byte MAC.
AUTHENTICATION_LENGTH = 40

# The status words with which chips refuse the terminal's cryptogram:
# 6300 as Doc 9303 has it, 6982 from some older chips.
_REFUSALS = {SW_AUTHENTICATION_FAILED, SW_SECURITY_STATUS}

WRONG_KEY = (
    "BAC: the chip refused the key from the MRZ (check the document number, birth and expiry dates)"
)


def _random(random: Random, length: int) -> bytes:
    value = random(length)
    if len(value) != length:
        raise ValueError(f"the random source gave {len(value)} bytes for {length}")
    return value


def _xor(a: bytes, b: bytes) -> bytes:
    return bytes(x ^ y for x, y in zip(a, b, strict=True))


def _session(k_ifd: bytes, k_icc: bytes, rnd_icc: bytes, rnd_ifd: bytes) -> SecureChannel:
    ks_enc, ks_mac = bac_keys(_xor(k_ifd, k_icc))
    return SecureChannel(ks_enc, ks_mac, rnd_icc[4:] + rnd_ifd[4:], Cipher.TDES)


def _authenticate(k_enc: bytes, k_mac: bytes, plain: bytes) -> bytes:
    cryptogram = tdes_encrypt(k_enc, plain)
    return cryptogram + retail_mac(k_mac, cryptogram)


def _verify(k_enc: bytes, k_mac: bytes, data: bytes) -> bytes | None:
    """The plain 32 bytes of E || M, or None when the MAC does not verify."""
    cryptogram, mac = data[:32], data[32:]
    if not hmac.compare_digest(retail_mac(k_mac, cryptogram), mac):
        return None
    return tdes_decrypt(k_enc, cryptogram)


def bac(transport: Transport, mrz_information: str, random: Random) -> SecureChannel:
    """Open the chip with the MRZ information; the secure channel of the session.

    ``random(n)`` gives n random bytes: RND.IFD (8) is drawn first, then
    K.IFD (16).  Raises ``AccessDenied`` when the chip refuses the key or its
    answer does not prove the same key, ``StatusError`` for another refusal
    (a chip without BAC), ``ProtocolError`` for an answer of the wrong length;
    ``ValueError`` if the MRZ information is not ASCII.
    """
    k_enc, k_mac = bac_keys(bac_key_seed(mrz_information))
    challenge = transport.transmit(
        CommandApdu(0x00, INS_GET_CHALLENGE, 0x00, 0x00, ne=CHALLENGE_LENGTH)
    )
    rnd_icc = challenge.check("BAC: GET CHALLENGE")
    if len(rnd_icc) != CHALLENGE_LENGTH:
        raise ProtocolError(
            f"BAC: GET CHALLENGE: {len(rnd_icc)} bytes of challenge, not {CHALLENGE_LENGTH}"
        )
    rnd_ifd = _random(random, CHALLENGE_LENGTH)
    k_ifd = _random(random, KEY_MATERIAL_LENGTH)
    command = CommandApdu(
        0x00,
        INS_EXTERNAL_AUTHENTICATE,
        0x00,
        0x00,
        _authenticate(k_enc, k_mac, rnd_ifd + rnd_icc + k_ifd),
        ne=AUTHENTICATION_LENGTH,
    )
    response = transport.transmit(command)
    if response.sw in _REFUSALS:
        raise AccessDenied(WRONG_KEY)
    data = response.check("BAC: EXTERNAL AUTHENTICATE")
    if len(data) != AUTHENTICATION_LENGTH:
        raise ProtocolError(
            f"BAC: EXTERNAL AUTHENTICATE: {len(data)} bytes of answer, not {AUTHENTICATION_LENGTH}"
        )
    plain = _verify(k_enc, k_mac, data)
    if plain is None:
        raise AccessDenied(
            "BAC: the chip's answer to EXTERNAL AUTHENTICATE fails its MAC"
            " (not the key from the MRZ)"
        )
    if plain[:8] != rnd_icc or plain[8:16] != rnd_ifd:
        raise AccessDenied("BAC: the chip's answer does not return the two challenges")
    return _session(k_ifd, plain[16:], rnd_icc, rnd_ifd)


class BacResponder:
    """The chip's side of BAC, for a virtual chip: it knows K_seed and draws RND.ICC and K.ICC.

    ``get_challenge`` answers GET CHALLENGE, ``external_authenticate`` answers
    EXTERNAL AUTHENTICATE (``AccessDenied`` on a wrong key: the chip answers
    6300; ``ProtocolError`` on data of the wrong length or without a
    challenge first: 6700 or 6985).  After success ``channel`` holds the
    chip's side of secure messaging; a challenge serves one attempt only.
    """

    def __init__(self, key_seed: bytes, random: Random) -> None:
        self._k_enc, self._k_mac = bac_keys(key_seed)
        self._random = random
        self._challenge: bytes | None = None
        self.channel: SecureChannel | None = None

    def get_challenge(self) -> bytes:
        """A fresh RND.ICC."""
        self._challenge = _random(self._random, CHALLENGE_LENGTH)
        return self._challenge

    def external_authenticate(self, data: bytes) -> bytes:
        """E_ICC || M_ICC for the terminal's E_IFD || M_IFD, opening ``channel``."""
        rnd_icc, self._challenge = self._challenge, None
        self.channel = None
        if rnd_icc is None:
            raise ProtocolError("BAC: EXTERNAL AUTHENTICATE without GET CHALLENGE first")
        if len(data) != AUTHENTICATION_LENGTH:
            raise ProtocolError(
                f"BAC: EXTERNAL AUTHENTICATE: {len(data)} bytes, not {AUTHENTICATION_LENGTH}"
            )
        plain = _verify(self._k_enc, self._k_mac, data)
        if plain is None:
            raise AccessDenied("BAC: the terminal's cryptogram fails its MAC (wrong key)")
        if plain[8:16] != rnd_icc:
            raise AccessDenied("BAC: the terminal's cryptogram does not hold the challenge")
        rnd_ifd, k_ifd = plain[:8], plain[16:]
        k_icc = _random(self._random, KEY_MATERIAL_LENGTH)
        answer = _authenticate(self._k_enc, self._k_mac, rnd_icc + rnd_ifd + k_icc)
        self.channel = _session(k_ifd, k_icc, rnd_icc, rnd_ifd)
        return answer

    def __repr__(self) -> str:
        return f"BacResponder(authenticated={self.channel is not None})"
