"""The eMRTD block-cipher primitives against published vectors (ICAO Doc 9303 part 11, NIST)."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hardware.emrtd.crypto import (
    KDF_ENC,
    KDF_MAC,
    KDF_PI,
    Cipher,
    adjust_des_parity,
    aes_cmac,
    aes_decrypt,
    aes_ecb_encrypt,
    aes_encrypt,
    bac_key_seed,
    bac_keys,
    kdf,
    pad,
    retail_mac,
    tdes_decrypt,
    tdes_encrypt,
    unpad,
)
from hardware.emrtd.errors import SecureMessagingError

H = bytes.fromhex

# Doc 9303 part 11, appendix D: BAC of the specimen passport.
K_SEED = H("239AB9CB282DAF66231DC5A4DF6BFBAE")
K_ENC = H("AB94FDECF2674FDFB9B391F85D7F76F2")
K_MAC = H("7962D9ECE03D1ACD4C76089DCE131543")
S = H("781723860C06C2264608F919887022120B795240CB7049B01C19B33E32804F0B")
E_IFD = H("72C29C2371CC9BDB65B779B8E8D37B29ECC154AA56A8799FAE2F498F76ED92F2")
M_IFD = H("5F1448EEA8AD90A7")

# Doc 9303 part 11, appendix G.1: PACE with the MRZ T22000129 / 640812 / 101031.
PACE_MRZ_K = H("7E2D2A41C74EA0B38CD36F863939BFA8E9032AAD")
PACE_K_PI = H("89DED1B26624EC1E634C1989302849DD")
PACE_SECRET = H("28768D20701247DAE81804C9E780EDE582A9996DB4A315020B2733197DB84925")
PACE_KS_ENC = H("F5F0E35C0D7161EE6724EE513A0D9A7F")
PACE_KS_MAC = H("FE251C7858B356B24514B3BD5F4297D1")

# NIST SP 800-38A F.2.1 and SP 800-38B D.1 (AES-128).
NIST_KEY = H("2B7E151628AED2A6ABF7158809CF4F3C")
NIST_BLOCK = H("6BC1BEE22E409F96E93D7E117393172A")


class TestPadding:
    def test_method_2(self):
        assert pad(b"") == H("8000000000000000")
        assert pad(H("01020304050607")) == H("0102030405060780")
        assert pad(H("0102030405060708")) == H("01020304050607088000000000000000")
        assert pad(H("01"), 16) == H("0180") + bytes(14)

    @given(st.binary(max_size=64), st.sampled_from([8, 16]))
    def test_unpad_inverts_pad(self, data: bytes, block_size: int):
        padded = pad(data, block_size)
        assert len(padded) % block_size == 0
        assert unpad(padded) == data
        assert unpad(padded, block_size) == data

    @pytest.mark.parametrize(
        "padded",
        [b"", bytes(8), H("0102030405060708"), H("8000000000000000000000"), H("80") + bytes(8)],
    )
    def test_a_missing_or_wrong_padding_is_a_typed_error(self, padded: bytes):
        with pytest.raises(SecureMessagingError, match="padding"):
            unpad(padded, 8)


class TestTripleDes:
    def test_the_bac_cryptogram_of_the_worked_example(self):
        assert tdes_encrypt(K_ENC, S) == E_IFD
        assert tdes_decrypt(K_ENC, E_IFD) == S

    def test_the_retail_mac_of_the_worked_example(self):
        assert retail_mac(K_MAC, E_IFD) == M_IFD

    def test_the_retail_mac_is_single_des_until_the_last_block(self):
        # With K1 = K2 the final decrypt/encrypt cancel: plain DES-CBC-MAC.
        key = H("0123456789ABCDEF")
        data = b"an eMRTD"
        assert retail_mac(key + key, data) == tdes_encrypt(key, pad(data))[-8:]

    def test_lengths_are_checked(self):
        with pytest.raises(ValueError):
            tdes_encrypt(K_ENC, b"1234567")
        with pytest.raises(ValueError):
            retail_mac(K_MAC[:8], b"")


class TestAes:
    def test_cbc(self):
        iv = bytes(range(16))
        ciphertext = H("7649ABAC8119B246CEE98E9B12E9197D")
        assert aes_encrypt(NIST_KEY, NIST_BLOCK, iv) == ciphertext
        assert aes_decrypt(NIST_KEY, ciphertext, iv) == NIST_BLOCK

    def test_ecb(self):
        assert aes_ecb_encrypt(NIST_KEY, NIST_BLOCK) == H("3AD77BB40D7A3660A89ECAF32466EF97")

    def test_cmac(self):
        assert aes_cmac(NIST_KEY, b"") == H("BB1D6929E95937287FA37D129B756746")
        assert aes_cmac(NIST_KEY, NIST_BLOCK) == H("070A16B46B4D4144F79BDD9DD04A287C")

    def test_lengths_are_checked(self):
        with pytest.raises(ValueError):
            aes_encrypt(NIST_KEY, b"short")
        with pytest.raises(ValueError):
            aes_cmac(b"seven..", b"")


class TestKdf:
    def test_bac_keys_of_the_worked_example(self):
        assert bac_key_seed("L898902C<369080619406236") == K_SEED
        assert bac_keys(K_SEED) == (K_ENC, K_MAC)
        assert kdf(K_SEED, KDF_ENC, Cipher.TDES) == K_ENC
        assert kdf(K_SEED, KDF_MAC, Cipher.TDES) == K_MAC

    def test_pace_keys_of_appendix_g(self):
        assert hashlib.sha1(b"T22000129364081251010318").digest() == PACE_MRZ_K
        assert kdf(PACE_MRZ_K, KDF_PI, Cipher.AES128) == PACE_K_PI
        assert kdf(PACE_SECRET, KDF_ENC, Cipher.AES128) == PACE_KS_ENC
        assert kdf(PACE_SECRET, KDF_MAC, Cipher.AES128) == PACE_KS_MAC

    def test_aes_192_and_256_hash_with_sha_256(self):
        digest = hashlib.sha256(PACE_SECRET + H("00000001")).digest()
        assert kdf(PACE_SECRET, KDF_ENC, Cipher.AES256) == digest
        assert kdf(PACE_SECRET, KDF_ENC, Cipher.AES192) == digest[:24]

    @pytest.mark.parametrize("cipher", list(Cipher))
    def test_key_lengths(self, cipher: Cipher):
        assert len(kdf(b"secret", KDF_MAC, cipher)) == cipher.key_length

    def test_3des_keys_have_odd_parity(self):
        key = kdf(b"secret", KDF_PI, Cipher.TDES)
        assert key == adjust_des_parity(key)
        assert all(byte.bit_count() % 2 == 1 for byte in key)

    def test_cipher_properties(self):
        assert [c.block_size for c in Cipher] == [8, 16, 16, 16]
        assert [c.is_aes for c in Cipher] == [False, True, True, True]
