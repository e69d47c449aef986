"""Active authentication: terminal and chip, clones, a real passport's answer, hostile cards."""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import dsa, ec, rsa
from cryptography.hazmat.primitives.serialization import load_der_public_key
from hypothesis import given, settings
from hypothesis import strategies as st

from hardware.emrtd.activeauth import (
    SHA1,
    SHA256,
    SHA384,
    AaResult,
    AaStatus,
    ActiveAuthenticator,
    active_authenticate,
    decode_representative,
    hash_for_signature_algorithm,
    hash_name,
    verify_signature,
)
from hardware.emrtd.apdu import CommandApdu, ResponseApdu
from hardware.emrtd.crypto import Cipher, tdes_decrypt, unpad
from hardware.emrtd.errors import ChipError, StatusError
from hardware.emrtd.securemessaging import SecureChannel, SecureTransport


def counter_random() -> Callable[[int], bytes]:
    """Deterministic 'random' bytes: 00 01 02 ... continuing across calls."""
    counter = itertools.count()

    def draw(n: int) -> bytes:
        return bytes(next(counter) % 256 for _ in range(n))

    return draw


CHALLENGE = bytes(range(8))


class ChipTransport:
    """A transport to a chip that answers INTERNAL AUTHENTICATE, through the APDU byte codecs."""

    def __init__(self, chip: ActiveAuthenticator) -> None:
        self.chip = chip
        self.sent: list[bytes] = []

    def transmit(self, command: CommandApdu) -> ResponseApdu:
        raw = command.encode()
        self.sent.append(raw)
        response = self.chip.respond(CommandApdu.decode(raw))
        return ResponseApdu.decode(response.encode())


class ScriptedTransport:
    """A card that answers every command with the same raw bytes."""

    def __init__(self, raw: bytes) -> None:
        self.raw = raw

    def transmit(self, command: CommandApdu) -> ResponseApdu:
        return ResponseApdu.decode(self.raw)


@pytest.fixture(scope="module")
def rsa1024() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(65537, 1024)


@pytest.fixture(scope="module")
def rsa2048() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(65537, 2048)


@pytest.fixture(scope="module")
def p256() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture(scope="module")
def brainpool256() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.BrainpoolP256R1())


# -- round trips ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key_name", "hash_algorithm", "explicit", "trailer"),
    [
        ("rsa1024", None, False, "bc"),
        ("rsa1024", "SHA-1", True, "33cc"),
        ("rsa1024", "SHA-256", False, "34cc"),
        ("rsa2048", "SHA-1", False, "bc"),
        ("rsa2048", "SHA-256", False, "34cc"),
        ("rsa2048", "SHA-512", False, "35cc"),
    ],
)
def test_rsa_round_trip(
    request: pytest.FixtureRequest,
    key_name: str,
    hash_algorithm: str | None,
    explicit: bool,
    trailer: str,
) -> None:
    key: rsa.RSAPrivateKey = request.getfixturevalue(key_name)
    chip = ActiveAuthenticator(
        key, hash_algorithm, random=counter_random(), explicit_trailer=explicit
    )
    transport = ChipTransport(chip)
    result = active_authenticate(transport, key.public_key(), random=lambda n: CHALLENGE[:n])
    expected_hash = hash_algorithm or SHA1
    assert result == AaResult(
        AaStatus.OK,
        f"RSA-{key.key_size} ISO/IEC 9796-2",
        expected_hash,
        CHALLENGE,
        result.signature,
    )
    assert result.ok and result.reason == ""
    assert len(result.signature) == key.key_size // 8
    # INTERNAL AUTHENTICATE 00 88 00 00, Lc 08, the challenge, Le 00.
    assert transport.sent == [bytes.fromhex("0088000008") + CHALLENGE + b"\x00"]
    # The representative the chip signed: 6A, M1 (the chip's nonce), the hash, the trailer.
    numbers = key.public_key().public_numbers()
    recovered = pow(int.from_bytes(result.signature, "big"), numbers.e, numbers.n)
    representative = recovered.to_bytes(key.key_size // 8, "big")
    assert representative[0] == 0x6A
    assert representative.hex().endswith(trailer)
    m1, digest, name = decode_representative(representative)
    assert name == expected_hash
    assert m1 == bytes(range(len(m1)))  # drawn from the injected random
    assert digest == hashlib.new(name.replace("-", ""), m1 + CHALLENGE).digest()


def test_rsa_3072_needs_an_extended_le() -> None:
    key = rsa.generate_private_key(65537, 3072)
    transport = ChipTransport(ActiveAuthenticator(key, "SHA-384", random=counter_random()))
    result = active_authenticate(transport, key.public_key(), random=lambda n: CHALLENGE)
    assert result.ok and result.hash_algorithm == SHA384
    assert len(result.signature) == 384
    # Extended length: Lc 00 00 08, Le 01 80 (384 bytes).
    assert transport.sent == [bytes.fromhex("00880000000008") + CHALLENGE + bytes.fromhex("0180")]


@pytest.mark.parametrize(
    ("key_name", "hash_algorithm"),
    [("p256", None), ("p256", "SHA-384"), ("brainpool256", "SHA-1"), ("brainpool256", "SHA-256")],
)
def test_ecdsa_round_trip(
    request: pytest.FixtureRequest, key_name: str, hash_algorithm: str | None
) -> None:
    key: ec.EllipticCurvePrivateKey = request.getfixturevalue(key_name)
    chip = ActiveAuthenticator(key, hash_algorithm, random=counter_random())
    transport = ChipTransport(chip)
    # The terminal learns the hash from DG14's ActiveAuthenticationInfo OID.
    oid = chip.signature_algorithm
    assert oid is not None
    named = hash_for_signature_algorithm(oid)
    result = active_authenticate(
        transport, key.public_key(), hash_algorithm=named, random=lambda n: CHALLENGE
    )
    assert result.ok, result.reason
    assert result.algorithm == f"ECDSA {key.curve.name}"
    assert result.hash_algorithm == (hash_algorithm or SHA256)
    # The plain format: r || s, 32 bytes each.
    assert len(result.signature) == 64
    assert transport.sent == [bytes.fromhex("0088000008") + CHALLENGE + b"\x00"]


def test_ecdsa_plain_oids() -> None:
    assert hash_for_signature_algorithm("0.4.0.127.0.7.1.1.4.1.1") == SHA1
    assert hash_for_signature_algorithm("0.4.0.127.0.7.1.1.4.1.3") == SHA256
    assert hash_for_signature_algorithm("0.4.0.127.0.7.1.1.4.1.5") == "SHA-512"
    assert hash_for_signature_algorithm("1.2.840.10045.4.3.2") is None
    assert hash_name("sha256") == hash_name("SHA_256") == SHA256
    with pytest.raises(ValueError, match="MD5"):
        hash_name("MD5")


def test_ecdsa_without_a_named_hash_tries_each(p256: ec.EllipticCurvePrivateKey) -> None:
    chip = ActiveAuthenticator(p256, "SHA-384", random=counter_random())
    result = active_authenticate(ChipTransport(chip), p256.public_key(), random=lambda n: CHALLENGE)
    assert result.ok and result.hash_algorithm == SHA384


def test_ecdsa_with_the_wrong_hash_fails(p256: ec.EllipticCurvePrivateKey) -> None:
    chip = ActiveAuthenticator(p256, "SHA-1", random=counter_random())
    result = active_authenticate(
        ChipTransport(chip), p256.public_key(), hash_algorithm="SHA-256", random=lambda n: CHALLENGE
    )
    assert result.status is AaStatus.AA_FAILED
    assert result.reason == "the ECDSA signature does not verify with SHA-256"


# -- clones and replays ---------------------------------------------------------------


def test_rsa_clone_fails(rsa1024: rsa.RSAPrivateKey) -> None:
    # The clone copied DG15 but signs with a key of its own.
    clone = ActiveAuthenticator(rsa.generate_private_key(65537, 1024), random=counter_random())
    result = active_authenticate(
        ChipTransport(clone), rsa1024.public_key(), random=lambda n: CHALLENGE
    )
    assert result.status is AaStatus.AA_FAILED and not result.ok
    # What the clone's key makes of the representative is noise: no header, trailer or hash.
    assert result.reason.startswith(
        (
            "the recovered message representative ends in neither BC nor CC",
            "the message representative starts with",
            "the 128-byte signature is not smaller than the modulus",
        )
    )


def test_rsa_replayed_signature_fails(rsa1024: rsa.RSAPrivateKey) -> None:
    # A clone replaying an answer the genuine chip gave to an earlier challenge.
    genuine = ActiveAuthenticator(rsa1024, random=counter_random())
    recorded = genuine.internal_authenticate(b"earlier!")
    result = active_authenticate(
        ScriptedTransport(recorded + b"\x90\x00"), rsa1024.public_key(), random=lambda n: CHALLENGE
    )
    assert result.status is AaStatus.AA_FAILED
    assert result.hash_algorithm == SHA1
    assert result.reason == "the recovered SHA-1 hash is not that of M1 and the challenge"


@pytest.mark.parametrize("curve", [ec.SECP256R1(), ec.BrainpoolP256R1()])
def test_ecdsa_clone_fails(curve: ec.EllipticCurve) -> None:
    genuine = ec.generate_private_key(curve)
    clone = ActiveAuthenticator(ec.generate_private_key(curve), random=counter_random())
    result = active_authenticate(
        ChipTransport(clone),
        genuine.public_key(),
        hash_algorithm="SHA-256",
        random=lambda n: CHALLENGE,
    )
    assert result.status is AaStatus.AA_FAILED
    assert result.reason == "the ECDSA signature does not verify with SHA-256"


def test_rsa_signature_sent_as_n_minus_s_verifies(rsa1024: rsa.RSAPrivateKey) -> None:
    # ISO/IEC 9796-2 lets the signer send min(s, n - s).
    signature = ActiveAuthenticator(rsa1024, random=counter_random()).internal_authenticate(
        CHALLENGE
    )
    n = rsa1024.public_key().public_numbers().n
    other = (n - int.from_bytes(signature, "big")).to_bytes(128, "big")
    assert verify_signature(rsa1024.public_key(), CHALLENGE, other).ok


def test_rsa_signature_not_below_the_modulus(rsa1024: rsa.RSAPrivateKey) -> None:
    result = verify_signature(rsa1024.public_key(), CHALLENGE, b"\xff" * 128)
    assert result.reason == "the 128-byte signature is not smaller than the modulus"
    assert verify_signature(rsa1024.public_key(), CHALLENGE, b"").reason == (
        "the chip answered with an empty signature"
    )


def test_ecdsa_signature_of_the_wrong_length(p256: ec.EllipticCurvePrivateKey) -> None:
    result = verify_signature(p256.public_key(), CHALLENGE, bytes(70), hash_algorithm="SHA-256")
    assert result.status is AaStatus.AA_FAILED
    assert result.reason == (
        "the ECDSA signature has 70 bytes, the plain format on secp256r1 64, and is not DER either"
    )


def test_ecdsa_der_signature_is_read_too(p256: ec.EllipticCurvePrivateKey) -> None:
    der = p256.sign(CHALLENGE, ec.ECDSA(hashes.SHA256()))
    result = verify_signature(p256.public_key(), CHALLENGE, der, hash_algorithm="sha256")
    assert result.ok and result.hash_algorithm == SHA256
    assert not verify_signature(p256.public_key(), bytes(8), der).ok


@pytest.mark.filterwarnings("ignore:DSA is deprecated")
def test_a_dsa_key_in_dg15_is_not_sent_to_the_chip() -> None:
    key = dsa.generate_private_key(1024).public_key()
    transport = ScriptedTransport(b"\x90\x00")
    result = active_authenticate(transport, key, random=lambda n: CHALLENGE)
    assert result.status is AaStatus.UNSUPPORTED and not result.ok
    assert result.reason == "DG15 holds a DSAPublicKey: only RSA and ECDSA are supported"


def test_card_refusal_is_a_status_error(rsa1024: rsa.RSAPrivateKey) -> None:
    with pytest.raises(StatusError) as caught:
        active_authenticate(
            ScriptedTransport(b"\x69\x82"), rsa1024.public_key(), random=lambda n: CHALLENGE
        )
    assert caught.value.sw == 0x6982
    assert (
        str(caught.value)
        == "INTERNAL AUTHENTICATE: card answered 6982 (security status not satisfied)"
    )


# -- published data ------------------------------------------------------------------

# A real passport's RSA-1792 active authentication, recorded by gmrtd
# (activeauth/active_auth_test.go, TestDoActiveAuth): DG15, the challenge
# RND.IFD, and the chip's answer under 3DES secure messaging.
GMRTD_DG15 = bytes.fromhex(
    "6F8201023081FF300D06092A864886F70D01010105000381ED003081E90281E100BB8F93F4DC95E205CDA17C6927"
    "AB1E365B13065D03CD12E0FCE95D96840529453202F56CC4C13F77CD062930C8BC89A2873B257045C286E601CF3C"
    "09323A53103314902804AA10A314628CE222206A8866946A36B442041BB54AC81E6855DD1D6E16101833D65A191C"
    "20AC8B33B8A1A32920F46043F8031CF2BC17417030865FC5BE5A39DEE423BCBA3CA8177168EB23CFE01BA43EC877"
    "11B1CFFF85DB46F300DD8AE317B50D543B573E119E23AF7070D0B2FED6A3B2313A5EC02A531AAED1741F4390D101"
    "3E2A0F081EAC5DC8B0A1B2C6BDB1206F08D30E3643E1E5BDF536110203010001"
)
GMRTD_CHALLENGE = bytes.fromhex("96302b0f3d7e7864")
GMRTD_KS_ENC = bytes.fromhex("b99d546108eaa251570876b6d3456dce")
GMRTD_RESPONSE = bytes.fromhex(
    "8781e901d04ca80f527df94f4a430d3d6e6cb6c2af4c6756c068a93132d147fa27833125304132981b8bd8009448"
    "e89f259eec8552b54285cef9d8f1b7fb31b9f279221c7e925f4951811f3fe2e01d76e68dbc7cde9c873c5f61862f"
    "3c5469792a72f92c8943b890436f5e9feaead9f2a361fcd7a615493d1b3519865f32ee9a125886588eb21fee0e70"
    "9353d0731139fdc958d6b2127fad6947b438998b526819803f70f78614cd42f4a6619c6af95dfd2ab09bedf71e70"
    "7abc39a250aee68006d522ad37d159674984a07d11c001022c853aeb7acdb059ede5721a3b9f20441bda7e242ee8"
    "df1369d25316990290008e08fd2493147866f0ed9000"
)


def _gmrtd_signature() -> bytes:
    # DO'87 (length 81 E9): the padding-content indicator 01, then 232 encrypted bytes.
    assert GMRTD_RESPONSE[:4] == bytes.fromhex("8781e901")
    encrypted = GMRTD_RESPONSE[4 : 4 + 0xE8]
    return unpad(tdes_decrypt(GMRTD_KS_ENC, encrypted))


def test_real_passport_rsa_signature_verifies() -> None:
    public_key = load_der_public_key(GMRTD_DG15[4:])
    assert isinstance(public_key, rsa.RSAPublicKey) and public_key.key_size == 1792
    signature = _gmrtd_signature()
    assert len(signature) == 224
    result = verify_signature(public_key, GMRTD_CHALLENGE, signature)
    assert result.status is AaStatus.OK
    assert result.hash_algorithm == SHA256  # the trailer 34 CC
    assert result.algorithm == "RSA-1792 ISO/IEC 9796-2"
    # The same answer to another challenge is a replay.
    replay = verify_signature(public_key, bytes(8), signature)
    assert replay.status is AaStatus.AA_FAILED


GMRTD_COMMAND = "0c88000020871101ed7f8cb47a4eea086324a7f9dd7427809701008e0897f54bae49aa71f800"


class Recorded:
    """The recorded card: checks the command byte for byte and replays the answer."""

    def __init__(self, command: str, answer: bytes) -> None:
        self.command = command
        self.answer = answer

    def transmit(self, command: CommandApdu) -> ResponseApdu:
        assert command.encode().hex() == self.command
        return ResponseApdu.decode(self.answer)


def test_real_passport_session_under_secure_messaging() -> None:
    public_key = load_der_public_key(GMRTD_DG15[4:])
    assert isinstance(public_key, rsa.RSAPublicKey)
    channel = SecureChannel(
        GMRTD_KS_ENC, bytes.fromhex("e3857ca24946251c151c540e13f2cd51"), 0xCC, Cipher.TDES
    )
    transport = SecureTransport(Recorded(GMRTD_COMMAND, GMRTD_RESPONSE), channel)
    result = active_authenticate(transport, public_key, random=lambda n: GMRTD_CHALLENGE)
    assert result.ok and result.hash_algorithm == SHA256
    assert result.challenge == GMRTD_CHALLENGE and result.signature == _gmrtd_signature()
    assert channel.ssc == 0xCE


# gmrtd's decodeF cases (activeauth/active_auth_test.go, TestDecodeF): the same M1 with each hash.
_M1 = bytes.fromhex("1234567890ABCDEF1234567890ABCDEF11223344")


@pytest.mark.parametrize(
    ("representative", "digest", "name"),
    [
        (
            "6A" + _M1.hex() + "e9b287952a913cc5b60ff74ecfc87e40e81563b1BC",
            "e9b287952a913cc5b60ff74ecfc87e40e81563b1",
            "SHA-1",
        ),
        (
            "6A" + _M1.hex() + "aefc05e88f48eb88d367ba3dacb7d6a8543ec02bd315e47ddbe2045d38CC",
            "aefc05e88f48eb88d367ba3dacb7d6a8543ec02bd315e47ddbe2045d",
            "SHA-224",
        ),
        (
            "6A"
            + _M1.hex()
            + "783980d44fd3a80f0e4210eb9c73ea399932062d465438f8e1ff13377de8308934CC",
            "783980d44fd3a80f0e4210eb9c73ea399932062d465438f8e1ff13377de83089",
            "SHA-256",
        ),
    ],
)
def test_decode_representative_vectors(representative: str, digest: str, name: str) -> None:
    m1, found, hash_used = decode_representative(bytes.fromhex(representative))
    assert (m1, found.hex(), hash_used) == (_M1, digest, name)
    # The hash is over M1 and the challenge 01..08 of those cases.
    assert hashlib.new(name.replace("-", ""), m1 + bytes(range(1, 9))).hexdigest() == digest


@pytest.mark.parametrize(
    ("representative", "reason"),
    [
        ("", "a 0-byte message representative is too short"),
        ("6B000000", "the message representative starts with 6B, not 6A"),
        ("6A000000", "the message representative ends in 00, not BC or CC"),
        ("6A0000CC", "the trailer 00CC names no supported hash"),
        ("6Ab287952a913cc5b60ff74ecfc87e40e81563b1BC", "cannot hold a SHA-1 hash"),
    ],
)
def test_decode_representative_rejects(representative: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        decode_representative(bytes.fromhex(representative))


# -- the chip's side --------------------------------------------------------------------


def test_chip_answers_bad_commands_with_status_words(p256: ec.EllipticCurvePrivateKey) -> None:
    chip = ActiveAuthenticator(p256, random=counter_random())
    assert chip.respond(CommandApdu(0, 0x88, 0, 0, bytes(7), 256)).sw == 0x6700
    assert chip.respond(CommandApdu(0, 0x88, 0, 1, bytes(8), 256)).sw == 0x6A86
    assert chip.respond(CommandApdu(0, 0x84, 0, 0, ne=8)).sw == 0x6D00
    with pytest.raises(StatusError):
        chip.internal_authenticate(bytes(9))


def test_chip_key_checks(rsa1024: rsa.RSAPrivateKey) -> None:
    chip = ActiveAuthenticator(rsa1024, random=counter_random())
    assert chip.hash_algorithm == SHA1 and chip.signature_algorithm is None
    assert chip.public_key().public_numbers() == rsa1024.public_key().public_numbers()
    with pytest.raises(ValueError, match="multiple of 8 bits from 1024"):
        ActiveAuthenticator(rsa.generate_private_key(65537, 1028), random=counter_random())
    with pytest.raises(ValueError, match="knows no hash"):
        ActiveAuthenticator(rsa1024, "MD5", random=counter_random())


# -- arbitrary card bytes ------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(raw=st.binary(max_size=300), use_ec=st.booleans())
def test_arbitrary_card_answers_raise_only_typed_errors(
    raw: bytes, use_ec: bool, rsa1024: rsa.RSAPrivateKey, p256: ec.EllipticCurvePrivateKey
) -> None:
    key = p256.public_key() if use_ec else rsa1024.public_key()
    try:
        result = active_authenticate(ScriptedTransport(raw), key, random=lambda n: CHALLENGE)
    except ChipError:
        return
    assert result.status is AaStatus.AA_FAILED and result.reason


@settings(max_examples=200, deadline=None)
@given(signature=st.binary(min_size=128, max_size=128))
def test_arbitrary_rsa_signatures_fail_cleanly(
    signature: bytes, rsa1024: rsa.RSAPrivateKey
) -> None:
    result = verify_signature(rsa1024.public_key(), CHALLENGE, signature)
    assert result.status is AaStatus.AA_FAILED and result.reason


@settings(max_examples=200, deadline=None)
@given(raw=st.binary(min_size=4, max_size=40))
def test_chip_side_answers_any_command(raw: bytes, p256: ec.EllipticCurvePrivateKey) -> None:
    chip = ActiveAuthenticator(p256, random=counter_random())
    try:
        command = CommandApdu.decode(raw)
    except ChipError:
        return
    response = chip.respond(command)
    assert response.ok == (
        command.ins == 0x88 and not command.p1 and not command.p2 and len(command.data) == 8
    )
