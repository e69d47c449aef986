"""The block-cipher primitives of eMRTD access control and secure messaging (ICAO Doc 9303 part 11).

* ISO/IEC 9797-1 padding method 2: a byte 80, then 00 up to the block size.
* Two-key 3DES in CBC mode with a zero IV (BAC, secure messaging with 3DES).
* The retail MAC: ISO/IEC 9797-1 MAC algorithm 3 with DES and padding
  method 2 (single DES chained over the blocks, then 3DES on the last one).
* AES in CBC mode and AES-CMAC (PACE, chip authentication, secure messaging
  with AES).
* The key derivation function of Doc 9303 part 11 (section 9.7.1): a hash of
  the shared secret and a 32-bit counter (1 for K_enc, 2 for K_mac, 3 for the
  PACE password key K_pi), SHA-1 for 3DES and AES-128, SHA-256 for AES-192 and
  AES-256, with DES parity bits for 3DES.
* The BAC key seed and keys from the MRZ information.

All of them take and return ``bytes``; a padding that does not unpad is a
``SecureMessagingError``, a key or data of the wrong length a ``ValueError``
(a programming error: the card never chooses lengths here).
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Callable
from enum import Enum

from cryptography.hazmat.primitives.ciphers import Cipher as _BlockCipher
from cryptography.hazmat.primitives.ciphers import CipherAlgorithm, algorithms, modes
from cryptography.hazmat.primitives.cmac import CMAC

from hardware.emrtd.errors import SecureMessagingError

try:  # cryptography 43 and later keep 3DES among the "decrepit" algorithms.
    from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
except ImportError:  # pragma: no cover - older cryptography
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from cryptography.hazmat.primitives.ciphers.algorithms import (  # type: ignore[unused-ignore,attr-defined,no-redef]
            TripleDES,
        )

DES_BLOCK = 8
AES_BLOCK = 16
ZERO_IV_DES = bytes(DES_BLOCK)
ZERO_IV_AES = bytes(AES_BLOCK)

# The KDF counters of Doc 9303 part 11, 9.7.1.
KDF_ENC = 1
KDF_MAC = 2
KDF_PI = 3


class Cipher(Enum):
    """The block ciphers of secure messaging, with the key length the KDF derives for each."""

    TDES = "3DES"
    AES128 = "AES-128"
    AES192 = "AES-192"
    AES256 = "AES-256"

    @property
    def key_length(self) -> int:
        """Key length in bytes (two-key 3DES: 16)."""
        return _KEY_LENGTHS[self]

    @property
    def block_size(self) -> int:
        """Block length in bytes: 8 for 3DES, 16 for AES."""
        return DES_BLOCK if self is Cipher.TDES else AES_BLOCK

    @property
    def is_aes(self) -> bool:
        """Whether the cipher is one of the AES key lengths."""
        return self is not Cipher.TDES


_KEY_LENGTHS = {Cipher.TDES: 16, Cipher.AES128: 16, Cipher.AES192: 24, Cipher.AES256: 32}


# -- padding -------------------------------------------------------------


def pad(data: bytes, block_size: int = DES_BLOCK) -> bytes:
    """``data`` padded with ISO/IEC 9797-1 method 2 (80 00..) to a multiple of ``block_size``."""
    padding = block_size - len(data) % block_size
    return data + b"\x80" + bytes(padding - 1)


def unpad(data: bytes, block_size: int | None = None) -> bytes:
    """``data`` without its ISO/IEC 9797-1 method 2 padding (SecureMessagingError if it has none).

    With ``block_size`` the padded length must be a multiple of it and the
    padding no longer than one block.
    """
    if block_size is not None and len(data) % block_size:
        raise SecureMessagingError(
            f"padding: {len(data)} bytes is not a multiple of the block size {block_size}"
        )
    end = len(data.rstrip(b"\x00")) - 1
    if end < 0 or data[end] != 0x80:
        raise SecureMessagingError("padding: no 80 byte ends the data (ISO 9797-1 method 2)")
    if block_size is not None and len(data) - end > block_size:
        raise SecureMessagingError(f"padding: {len(data) - end} bytes, longer than a block")
    return data[:end]


# -- DES and 3DES ----------------------------------------------------------


def adjust_des_parity(key: bytes) -> bytes:
    """``key`` with each byte's lowest bit set so that the byte has an odd number of ones."""
    return bytes((byte & 0xFE) | ((byte >> 1).bit_count() + 1) % 2 for byte in key)


def _tdes(key: bytes) -> TripleDES:
    if len(key) not in (8, 16, 24):
        raise ValueError(f"a DES/3DES key has 8, 16 or 24 bytes, not {len(key)}")
    # Spelled out as three-key 3DES: cryptography deprecates the short forms.
    # K1 K1 K1 is single DES, K1 K2 K1 two-key 3DES.
    return TripleDES((key * 3)[:24] if len(key) == 8 else (key + key[:8])[:24])


def _run(
    algorithm: Callable[[bytes], CipherAlgorithm],
    key: bytes,
    mode: modes.CBC | modes.ECB,
    block_size: int,
    data: bytes,
    *,
    encrypt: bool,
) -> bytes:
    """``data`` (a whole number of blocks) through ``algorithm(key)`` in ``mode``."""
    if len(data) % block_size:
        raise ValueError(f"{len(data)} bytes is not a multiple of the block size {block_size}")
    cipher = _BlockCipher(algorithm(key), mode)
    context = cipher.encryptor() if encrypt else cipher.decryptor()
    return context.update(data) + context.finalize()


def tdes_encrypt(key: bytes, data: bytes, iv: bytes = ZERO_IV_DES) -> bytes:
    """3DES-CBC encryption of block-aligned ``data`` (two-key ``key``, zero IV by default)."""
    return _run(_tdes, key, modes.CBC(iv), DES_BLOCK, data, encrypt=True)


def tdes_decrypt(key: bytes, data: bytes, iv: bytes = ZERO_IV_DES) -> bytes:
    """3DES-CBC decryption of block-aligned ``data`` (two-key ``key``, zero IV by default)."""
    return _run(_tdes, key, modes.CBC(iv), DES_BLOCK, data, encrypt=False)


def retail_mac(key: bytes, data: bytes) -> bytes:
    """The 8-byte retail MAC of ``data``: ISO/IEC 9797-1 MAC algorithm 3, DES, padding method 2.

    ``key`` is the two-key 3DES key K1||K2: the padded blocks are chained with
    single DES under K1, and the last result is decrypted with K2 and
    encrypted again with K1.
    """
    if len(key) != 16:
        raise ValueError(f"the retail MAC takes a 16-byte key, not {len(key)}")
    k1, k2 = key[:8], key[8:]
    chained = tdes_encrypt(k1, pad(data, DES_BLOCK))[-DES_BLOCK:]
    decrypted = tdes_decrypt(k2, chained)
    return tdes_encrypt(k1, decrypted)


# -- AES ---------------------------------------------------------------


def _aes(key: bytes) -> algorithms.AES:
    if len(key) not in (16, 24, 32):
        raise ValueError(f"an AES key has 16, 24 or 32 bytes, not {len(key)}")
    return algorithms.AES(key)


def aes_encrypt(key: bytes, data: bytes, iv: bytes = ZERO_IV_AES) -> bytes:
    """AES-CBC encryption of block-aligned ``data`` (zero IV by default)."""
    return _run(_aes, key, modes.CBC(iv), AES_BLOCK, data, encrypt=True)


def aes_decrypt(key: bytes, data: bytes, iv: bytes = ZERO_IV_AES) -> bytes:
    """AES-CBC decryption of block-aligned ``data`` (zero IV by default)."""
    return _run(_aes, key, modes.CBC(iv), AES_BLOCK, data, encrypt=False)


def aes_ecb_encrypt(key: bytes, block: bytes) -> bytes:
    """AES of block-aligned ``block`` in ECB mode (the secure-messaging IV is E(K_enc, SSC))."""
    return _run(_aes, key, modes.ECB(), AES_BLOCK, block, encrypt=True)


def aes_cmac(key: bytes, data: bytes) -> bytes:
    """The full 16-byte AES-CMAC of ``data`` (NIST SP 800-38B); callers truncate to 8."""
    mac = CMAC(_aes(key))
    mac.update(data)
    return mac.finalize()


# -- either cipher -----------------------------------------------------------


def cbc_encrypt(cipher: Cipher, key: bytes, data: bytes, iv: bytes | None = None) -> bytes:
    """CBC encryption of block-aligned ``data`` with 3DES or AES (zero IV by default)."""
    iv = bytes(cipher.block_size) if iv is None else iv
    if cipher is Cipher.TDES:
        return tdes_encrypt(key, data, iv)
    return aes_encrypt(key, data, iv)


def cbc_decrypt(cipher: Cipher, key: bytes, data: bytes, iv: bytes | None = None) -> bytes:
    """CBC decryption of block-aligned ``data`` with 3DES or AES (zero IV by default)."""
    iv = bytes(cipher.block_size) if iv is None else iv
    if cipher is Cipher.TDES:
        return tdes_decrypt(key, data, iv)
    return aes_decrypt(key, data, iv)


# -- key derivation ----------------------------------------------------------


def kdf(secret: bytes, counter: int, cipher: Cipher) -> bytes:
    """The Doc 9303 part 11 key for ``counter`` (KDF_ENC, KDF_MAC, KDF_PI) from a shared secret.

    The key is the start of H(secret || counter as 32 bits): SHA-1 for 3DES
    and AES-128, SHA-256 for AES-192 and AES-256; a 3DES key gets DES
    parity bits.
    """
    if not 0 <= counter < 1 << 32:
        raise ValueError(f"KDF counter {counter} is not a 32-bit number")
    data = secret + counter.to_bytes(4, "big")
    if cipher in (Cipher.TDES, Cipher.AES128):
        digest = hashlib.sha1(data).digest()
    else:
        digest = hashlib.sha256(data).digest()
    key = digest[: cipher.key_length]
    return adjust_des_parity(key) if cipher is Cipher.TDES else key


def derive_key(key_seed: bytes, counter: int) -> bytes:
    """The 16-byte two-key 3DES key for ``counter`` (the KDF with 3DES, as BAC uses it)."""
    return kdf(key_seed, counter, Cipher.TDES)


def bac_key_seed(mrz_information: str) -> bytes:
    """K_seed: the first 16 bytes of SHA-1 over the MRZ information (ASCII; ValueError if not)."""
    return hashlib.sha1(mrz_information.encode("ascii")).digest()[:16]


def bac_keys(key_seed: bytes) -> tuple[bytes, bytes]:
    """(K_enc, K_mac) of Basic Access Control from K_seed."""
    return derive_key(key_seed, KDF_ENC), derive_key(key_seed, KDF_MAC)
