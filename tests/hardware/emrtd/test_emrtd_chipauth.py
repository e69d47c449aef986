"""Chip authentication: real passports' sessions, terminal and chip, clones, hostile cards."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hypothesis import given, settings
from hypothesis import strategies as st

from hardware.emrtd.apdu import CommandApdu, ResponseApdu
from hardware.emrtd.chipauth import (
    CA_PROTOCOLS,
    ID_CA_DH_AES_CBC_CMAC_128,
    ID_CA_ECDH_3DES_CBC_CBC,
    ID_CA_ECDH_AES_CBC_CMAC_128,
    ID_CA_ECDH_AES_CBC_CMAC_192,
    ID_CA_ECDH_AES_CBC_CMAC_256,
    CaResult,
    CaStatus,
    ChipAuthenticator,
    chip_authenticate,
    key_reference,
    protocol_name,
)
from hardware.emrtd.crypto import KDF_ENC, KDF_MAC, Cipher, kdf
from hardware.emrtd.errors import ChipError, ProtocolError, SecureMessagingError, StatusError
from hardware.emrtd.securemessaging import SecureChannel, SecureTransport

SELECT_DG14 = CommandApdu(0x00, 0xA4, 0x02, 0x0C, bytes.fromhex("010E"))


def counter_random(start: int = 1) -> Callable[[int], bytes]:
    """Deterministic 'random' bytes, a counter in each draw (a valid private key on every curve)."""
    counter = itertools.count(start)

    def draw(n: int) -> bytes:
        return (next(counter) * 0x0101_0101_0101).to_bytes(n, "big")

    return draw


class Recorded:
    """A card that replays a recorded session: each command must be the recorded one."""

    def __init__(self, exchanges: list[tuple[str, str]]) -> None:
        self.exchanges = list(exchanges)

    def transmit(self, command: CommandApdu) -> ResponseApdu:
        sent, answer = self.exchanges.pop(0)
        assert command.encode().hex().upper() == sent.upper()
        return ResponseApdu.decode(bytes.fromhex(answer))


class SmChip:
    """A chip under secure messaging that runs chip authentication, as a virtual chip does.

    A command whose MAC fails is refused in plain (6988); ``lenient`` is a
    clone that answers anyway, under its own keys.
    """

    def __init__(
        self, channel: SecureChannel, authenticator: ChipAuthenticator, *, lenient: bool = False
    ) -> None:
        self.channel = channel
        self.authenticator = authenticator
        self.lenient = lenient
        self.plain: list[CommandApdu] = []

    def transmit(self, command: CommandApdu) -> ResponseApdu:
        command = CommandApdu.decode(command.encode())
        channel = self.channel
        try:
            plain: CommandApdu | None = channel.unwrap_command(command)
        except SecureMessagingError:
            if not self.lenient:
                return ResponseApdu(b"", 0x6988)
            plain = None
        if plain is not None:
            self.plain.append(plain)
        if plain is not None and plain.ins in (0x22, 0x86):
            response = self.authenticator.respond(plain)
        else:
            response = ResponseApdu(b"", 0x9000)
        wrapped = channel.wrap_response(response)
        # The answer goes under the keys the command came with; the new ones follow.
        agreed = self.authenticator.take_channel()
        if agreed is not None:
            self.channel = agreed
        return ResponseApdu.decode(wrapped.encode())


def session(cipher: Cipher) -> tuple[SecureChannel, SecureChannel]:
    """A terminal's and a chip's secure channel after access control, same keys and SSC."""
    k_enc = bytes(range(1, cipher.key_length + 1))
    k_mac = bytes(range(101, 101 + cipher.key_length))
    if cipher is Cipher.TDES:
        k_enc, k_mac = kdf(k_enc, KDF_ENC, cipher), kdf(k_mac, KDF_MAC, cipher)
    ssc = 0x1234
    return SecureChannel(k_enc, k_mac, ssc, cipher), SecureChannel(k_enc, k_mac, ssc, cipher)


# -- real passports ------------------------------------------------------------------------

# Chip authentication sessions recorded by gmrtd from real passports
# (chipauth/chip_auth_test.go: TestChipAuthAT, ...DE, ...MY, ...FR): DG14's
# chip key, the secure-messaging state before, the ephemeral private key
# gmrtd drew, the APDUs, and the session keys after.
GMRTD_SESSIONS = {
    "AT, ECDH AES-128 on brainpoolP256r1": dict(
        curve=ec.BrainpoolP256R1(),
        chip_key="041983917269AC877C0B61544C2C022000D2A5ABA723E2D80141E648B40911DC3459761F27480E"
        "4B57181A53D8FE1190EA86C939AC14363178CAFFC621F0F905C3",
        protocol=ID_CA_ECDH_AES_CBC_CMAC_128,
        key_id=None,
        general_authenticate=None,
        before=(
            "524170DE3419B7AF2F23E45AD6EF9595",
            "97893F5FDC29A5C13A924FE7D8ED44FD",
            "000000000000000000000000000000F0",
            Cipher.AES128,
        ),
        ephemeral="80EBAFC8A51BECD4D90BB640EE38C9FD5C12748D28AAA37096B98C4533C4F5F5",
        exchanges=[
            (
                "0C2241A41D8711015D8F69B1EA365CCE4304970DB12421F38E085340D338128085E700",
                "990290008E083F5136E82A6C34779000",
            ),
            (
                "0C860000608751019E18F1BA79D805379752BB560EB70AAC3CE3BC5AFE2FDD4AEB325CA8B578B4A9"
                "3B9F66A5DF40005F8E878535251D33DD974AAF77FB858773E5799FA9DC1034E89B1150EC7F0BB3DB"
                "4BF37A1B9EA4458A9701008E089D204D950C0B95DB00",
                "8711010B0A5DFFC7432DE4DEB604291377A05B990290008E08B3384A1F5D1579739000",
            ),
            (
                "0CA4020C1D8711011B2EE500E84960DF7F37AFE7ADFF53838E084500F3B43E192A5700",
                "990290008E0803C4B125B4218CEF9000",
            ),
        ],
        after=("C8E27260EFD3F318D18C080CBF11C7E6", "A942190365204A21409EB28B52BF9160"),
    ),
    "DE, ECDH AES-128 on brainpoolP256r1 with key id C3": dict(
        curve=ec.BrainpoolP256R1(),
        chip_key="047036BC5D0BCF31913B59103BB6F2C0C98C99EF4C19B9517340B76BFE4EE2194C76C3F3314E"
        "021D4B092DB5A32AB7D6E297F2FBEAE45AA28DEFC4DA750FEAD54E",
        protocol=ID_CA_ECDH_AES_CBC_CMAC_128,
        key_id=0xC3,
        general_authenticate=None,
        before=(
            "CC86415F2ED7E8FD663B754265695AE1",
            "581E84B8EE06C4D3EEE30461498D7FB3",
            "000000000000000000000000000000BA",
            Cipher.AES128,
        ),
        ephemeral="84A5145885678EE9307C28C52736896267511203B7B8009C5FE27ABCBAECDCAA",
        exchanges=[
            (
                "0C2241A41D871101980953D37F67558690045D78A853B18A8E08929767A2CEF172E200",
                "990290008E08FC873EBB62219C8A9000",
            ),
            (
                "0C8600006087510161912C367A6322D24AA1D4522DC47A7345369257672DF1D1163D506EB6489395"
                "D8083FAD393A394297CE8703C42F22C864C1F4C8E70EE1CF9B497ACF6579190D90F36CF9E16FE214"
                "9FF57247285D9E1E9701008E08A1D7A16EFBFD932C00",
                "87110123E7159AC9B0EF92CE1F6755B89697E3990290008E088972F1595E1508C29000",
            ),
            (
                "0CA4020C1D871101FAD37EADBCDE7E6A0833035A9FFF5B708E0836560BBCE1FECD5F00",
                "990290008E0829D0E1EBBB61BE7A9000",
            ),
        ],
        after=("AF0EEDB52E87B945FC5503B1C6875C1C", "CEB85BEDCECFF1DD1E25DFB672C4A5BF"),
    ),
    "MY, ECDH 3DES on brainpoolP256r1 through GENERAL AUTHENTICATE": dict(
        curve=ec.BrainpoolP256R1(),
        chip_key="04A04F85AFDFC316FB5E9F33F94CA45837D20D9D91AD5002307C3F124B6EF5B92565D018A6B7"
        "F69DB73976BFBB4278757405C64E96104D161649E8A94078EAEFCE",
        protocol=ID_CA_ECDH_3DES_CBC_CBC,
        key_id=None,
        general_authenticate=True,
        before=(
            "896de34a942c7076fec207207acb79c2",
            "d6c47ff4677ac8ae91cb49f4ce673432",
            "9646c154bfb7be79",
            Cipher.TDES,
        ),
        ephemeral="3a31f4e18418312fcb40f3efbe719182c046a9719e1ed8c376197aa9e8ed7465",
        exchanges=[
            (
                "0C2241A41D8711019D1E70C6F5EE06A7CA1E98FBF5C945C98E087AC379DC78702E6300",
                "990290008E08643C2C3AC66585E49000",
            ),
            (
                "0C86000058874901A9C6BF370C62AA43CA1EC9B97071727654822361DEB8BA4E5719AA05D8E86AA3"
                "6164DFA5E506DBF60DC7418858179FD25DAC5E9E49393DDE37E29652444941B562142AB5F19AEA91"
                "9701008E085083316637060C4D00",
                "87090108166157B375BC1E990290008E08FF8A254C50179F519000",
            ),
            (
                "0CA4020C1587090106904D37288D69488E08A13B74E87B87E44600",
                "990290008E08C2BF01FDDD1D599D9000",
            ),
        ],
        after=("75b95468910849cdf1a1a2ae5452ce9b", "cd0bef85d5a82a7ae0fbc12368a41fef"),
    ),
    "FR, no ChipAuthenticationInfo: ECDH 3DES (MSE:Set KAT) on P-256 after AES-256 PACE": dict(
        curve=ec.SECP256R1(),
        chip_key="048367FC170D90AD53A28C6526A9C7EC4F5C59C4F7F5D992583F951A1654B4D1D6332163A33D"
        "82CBF245154887A8812ED9A55C15AD9D5C5C463851875BBA9AEABD",
        protocol=None,
        key_id=None,
        general_authenticate=None,
        before=(
            "17da5d46e356f5b31c3d65b1369ef531ca811effc76967d2b62335e1ad9fe5cb",
            "5cb99a25e6081581fac80c8da621087939b6bde273f2f7c65693b3a0ea3051ed",
            "000000000000000000000000000000c6",
            Cipher.AES256,
        ),
        ephemeral="d9c3b06a4dcb735351429403fcb56db520dc882512d775971f724d6112f96586",
        exchanges=[
            (
                "0c2241a65d8751013ae386873df68bd7e9f8d7ab2e696ced29eeb8da78d502645b5e97d566361341"
                "e2eaa56318f6d84bf0bc44f7808afaf14798d16048aab03545f017f557d2cce9dee724f099e3d643"
                "abd0fb03e567d9b18e08f2d238dede5abbf100",
                "990290008e089666ac14d11e8c2c9000",
            ),
            (
                "0ca4020c15870901db66e918fe3525f98e08d870008cea2ba80000",
                "990290008e08420dea0a913418ae9000",
            ),
        ],
        after=("8ae910a12991fbfe5e37c2c726a2df29", "1adac8970843d9bf8570737a04a8d50d"),
    ),
}


@pytest.mark.parametrize("name", list(GMRTD_SESSIONS))
def test_real_passport_sessions(name: str) -> None:
    case = GMRTD_SESSIONS[name]
    curve = case["curve"]
    assert isinstance(curve, ec.EllipticCurve)
    chip_key = ec.EllipticCurvePublicKey.from_encoded_point(curve, bytes.fromhex(case["chip_key"]))
    k_enc, k_mac, ssc, cipher = case["before"]
    channel = SecureChannel(bytes.fromhex(k_enc), bytes.fromhex(k_mac), bytes.fromhex(ssc), cipher)
    card = Recorded(case["exchanges"])
    ephemeral = bytes.fromhex(case["ephemeral"])

    result = chip_authenticate(
        SecureTransport(card, channel),
        chip_key,
        protocol=case["protocol"],
        key_id=case["key_id"],
        general_authenticate=case["general_authenticate"],
        random=lambda n: ephemeral,
    )

    expected_protocol = case["protocol"] or ID_CA_ECDH_3DES_CBC_CBC
    assert result == CaResult(CaStatus.OK, expected_protocol, CA_PROTOCOLS[expected_protocol])
    assert card.exchanges == []  # every recorded command was sent, byte for byte
    # The session keys both sides derived from the ECDH x-coordinate, and the
    # SSC after the one command and answer under them.
    secret = ec.derive_private_key(int(case["ephemeral"], 16), curve).exchange(ec.ECDH(), chip_key)
    after_cipher = CA_PROTOCOLS[expected_protocol]
    assert kdf(secret, KDF_ENC, after_cipher).hex() == case["after"][0].lower()
    assert kdf(secret, KDF_MAC, after_cipher).hex() == case["after"][1].lower()
    assert channel.cipher is after_cipher and channel.ssc == 2


# -- terminal and chip ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("before", "protocol", "general_authenticate", "curve"),
    [
        (Cipher.TDES, ID_CA_ECDH_3DES_CBC_CBC, None, ec.BrainpoolP256R1()),
        (Cipher.TDES, ID_CA_ECDH_3DES_CBC_CBC, True, ec.SECP256R1()),
        (Cipher.TDES, ID_CA_ECDH_AES_CBC_CMAC_128, None, ec.BrainpoolP256R1()),
        (Cipher.AES128, ID_CA_ECDH_AES_CBC_CMAC_128, None, ec.SECP256R1()),
        (Cipher.AES128, ID_CA_ECDH_AES_CBC_CMAC_192, None, ec.SECP384R1()),
        (Cipher.AES256, ID_CA_ECDH_AES_CBC_CMAC_256, None, ec.BrainpoolP384R1()),
        (Cipher.AES256, ID_CA_ECDH_3DES_CBC_CBC, None, ec.BrainpoolP512R1()),
    ],
)
def test_round_trip(
    before: Cipher, protocol: str, general_authenticate: bool | None, curve: ec.EllipticCurve
) -> None:
    chip_key = ec.generate_private_key(curve)
    terminal_channel, chip_channel = session(before)
    chip = SmChip(chip_channel, ChipAuthenticator(chip_key))
    transport = SecureTransport(chip, terminal_channel)

    result = chip_authenticate(
        transport,
        chip_key.public_key(),
        protocol=protocol,
        general_authenticate=general_authenticate,
        random=counter_random(),
    )

    cipher = CA_PROTOCOLS[protocol]
    assert result == CaResult(CaStatus.OK, protocol, cipher)
    use_ga = cipher.is_aes if general_authenticate is None else general_authenticate
    assert [(c.ins, c.p1, c.p2) for c in chip.plain] == (
        [(0x22, 0x41, 0xA4), (0x86, 0, 0), (0xA4, 2, 0x0C)]
        if use_ga
        else [(0x22, 0x41, 0xA6), (0xA4, 2, 0x0C)]
    )
    # Both sides carry on under the new keys.
    assert terminal_channel.cipher is cipher and chip.channel.cipher is cipher
    assert terminal_channel.ssc == chip.channel.ssc == 2
    for _ in range(3):
        assert transport.transmit(SELECT_DG14).sw == 0x9000
    assert terminal_channel.ssc == 8


def test_commands_carry_the_ephemeral_key_and_key_id() -> None:
    chip_key = ec.generate_private_key(ec.BrainpoolP256R1())
    terminal_channel, chip_channel = session(Cipher.AES128)
    chip = SmChip(chip_channel, ChipAuthenticator(chip_key, key_id=0x01C3))
    random = counter_random(7)
    result = chip_authenticate(
        SecureTransport(chip, terminal_channel),
        chip_key.public_key(),
        protocol=ID_CA_ECDH_AES_CBC_CMAC_128,
        key_id=0x01C3,
        random=random,
    )
    assert result.ok
    ephemeral = ec.derive_private_key(int.from_bytes(counter_random(7)(32), "big"), chip_key.curve)
    point = ephemeral.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    mse, ga, _select = chip.plain
    # 80: id-CA-ECDH-AES-CBC-CMAC-128; 84: the key id.
    assert mse.data == bytes.fromhex("800A04007F00070202030202") + bytes.fromhex("840201C3")
    assert ga.data == bytes.fromhex("7C43") + bytes.fromhex("8041") + point
    assert ga.ne == 256


def test_kat_command_data() -> None:
    chip_key = ec.generate_private_key(ec.SECP256R1())
    terminal_channel, chip_channel = session(Cipher.TDES)
    chip = SmChip(chip_channel, ChipAuthenticator(chip_key, key_id=5))
    assert chip_authenticate(
        SecureTransport(chip, terminal_channel),
        chip_key.public_key(),
        key_id=5,
        random=counter_random(),
    ).ok
    kat = chip.plain[0]
    assert kat.data[:2] == bytes.fromhex("9141") and kat.data[2] == 0x04
    assert kat.data[67:] == bytes.fromhex("840105")
    assert kat.ne == 0


# -- clones ---------------------------------------------------------------------------------


def test_clone_that_checks_the_mac_fails() -> None:
    genuine = ec.generate_private_key(ec.BrainpoolP256R1())
    terminal_channel, chip_channel = session(Cipher.AES128)
    clone = SmChip(chip_channel, ChipAuthenticator(ec.generate_private_key(ec.BrainpoolP256R1())))
    result = chip_authenticate(
        SecureTransport(clone, terminal_channel),
        genuine.public_key(),
        protocol=ID_CA_ECDH_AES_CBC_CMAC_128,
        random=counter_random(),
    )
    assert result == CaResult(
        CaStatus.CA_FAILED,
        ID_CA_ECDH_AES_CBC_CMAC_128,
        Cipher.AES128,
        "the chip answered 6988 without secure messaging under the new keys",
    )
    assert not result.ok


def test_clone_that_answers_anyway_fails() -> None:
    genuine = ec.generate_private_key(ec.SECP256R1())
    terminal_channel, chip_channel = session(Cipher.TDES)
    clone = SmChip(
        chip_channel, ChipAuthenticator(ec.generate_private_key(ec.SECP256R1())), lenient=True
    )
    result = chip_authenticate(
        SecureTransport(clone, terminal_channel), genuine.public_key(), random=counter_random()
    )
    assert result.status is CaStatus.CA_FAILED
    assert result.reason == (
        "the chip's answer under the new keys: response 9000: the MAC (DO'8E) does not verify"
    )


# -- what is not run -------------------------------------------------------------------------


class NoCard:
    def transmit(self, command: CommandApdu) -> ResponseApdu:
        raise AssertionError("no command should be sent")


@pytest.mark.parametrize(
    ("key", "protocol", "reason"),
    [
        (
            ec.generate_private_key(ec.SECP256R1()).public_key(),
            ID_CA_DH_AES_CBC_CMAC_128,
            "id-CA-DH-AES-CBC-CMAC-128: Diffie-Hellman chip authentication is not supported",
        ),
        (
            ec.generate_private_key(ec.SECP256R1()).public_key(),
            "1.2.3.4",
            "1.2.3.4 is not a chip-authentication protocol this terminal runs",
        ),
        (
            rsa.generate_private_key(65537, 1024).public_key(),
            ID_CA_ECDH_AES_CBC_CMAC_128,
            "id-CA-ECDH-AES-CBC-CMAC-128 needs an EC key in DG14, not a RSAPublicKey",
        ),
        (
            ec.generate_private_key(ec.SECP256K1()).public_key(),
            ID_CA_ECDH_AES_CBC_CMAC_128,
            "DG14's key is on secp256k1, not a Doc 9303 curve",
        ),
    ],
)
def test_unsupported_is_not_sent(key: object, protocol: str, reason: str) -> None:
    terminal_channel, _chip_channel = session(Cipher.TDES)
    result = chip_authenticate(
        SecureTransport(NoCard(), terminal_channel),
        key,  # type: ignore[arg-type]
        protocol=protocol,
        random=counter_random(),
    )
    assert result == CaResult(CaStatus.UNSUPPORTED, protocol, None, reason)
    assert terminal_channel.ssc == 0x1234  # untouched


def test_protocol_names_and_key_references() -> None:
    assert protocol_name(ID_CA_ECDH_AES_CBC_CMAC_256) == "id-CA-ECDH-AES-CBC-CMAC-256"
    assert protocol_name("1.2.3") == "1.2.3"
    assert key_reference(0) == b"\x00"
    assert key_reference(0xC3) == b"\xc3"
    assert key_reference(0x1C3) == b"\x01\xc3"
    with pytest.raises(ValueError):
        key_reference(-1)


# -- card errors -----------------------------------------------------------------------------


class RefusingChip(SmChip):
    """A chip that refuses chip authentication with ``sw``, under secure messaging."""

    def __init__(self, channel: SecureChannel, sw: int) -> None:
        super().__init__(channel, ChipAuthenticator(ec.generate_private_key(ec.SECP256R1())))
        self.sw = sw

    def transmit(self, command: CommandApdu) -> ResponseApdu:
        self.channel.unwrap_command(command)
        return self.channel.wrap_response(ResponseApdu(b"", self.sw))


def test_refusal_is_a_status_error() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    terminal_channel, chip_channel = session(Cipher.TDES)
    with pytest.raises(StatusError) as caught:
        chip_authenticate(
            SecureTransport(RefusingChip(chip_channel, 0x6A80), terminal_channel),
            key.public_key(),
            random=counter_random(),
        )
    assert str(caught.value) == (
        "MSE:Set KAT (chip authentication): card answered 6A80 "
        "(incorrect parameters in the data field)"
    )


def test_wrong_key_id_is_refused() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    terminal_channel, chip_channel = session(Cipher.AES128)
    chip = SmChip(chip_channel, ChipAuthenticator(key, key_id=1))
    with pytest.raises(StatusError) as caught:
        chip_authenticate(
            SecureTransport(chip, terminal_channel),
            key.public_key(),
            protocol=ID_CA_ECDH_AES_CBC_CMAC_128,
            key_id=2,
            random=counter_random(),
        )
    assert caught.value.sw == 0x6A88


class OddAnswerChip(SmChip):
    """A chip whose GENERAL AUTHENTICATE answer is ``answer`` instead of 7C 00."""

    def __init__(self, channel: SecureChannel, answer: bytes) -> None:
        super().__init__(channel, ChipAuthenticator(ec.generate_private_key(ec.SECP256R1())))
        self.answer = answer

    def transmit(self, command: CommandApdu) -> ResponseApdu:
        plain = self.channel.unwrap_command(command)
        data = self.answer if plain.ins == 0x86 else b""
        return self.channel.wrap_response(ResponseApdu(data, 0x9000))


@pytest.mark.parametrize(
    "answer", [b"", bytes.fromhex("7D00"), bytes.fromhex("7C00 7C00"), b"\x7c"]
)
def test_general_authenticate_answer_must_be_a_7c_template(answer: bytes) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    terminal_channel, chip_channel = session(Cipher.AES128)
    with pytest.raises(ProtocolError, match="GENERAL AUTHENTICATE"):
        chip_authenticate(
            SecureTransport(OddAnswerChip(chip_channel, answer), terminal_channel),
            key.public_key(),
            protocol=ID_CA_ECDH_AES_CBC_CMAC_128,
            random=counter_random(),
        )


# -- the chip's side ---------------------------------------------------------------------------


def _chip() -> tuple[ChipAuthenticator, bytes]:
    authenticator = ChipAuthenticator(ec.generate_private_key(ec.BrainpoolP256R1()))
    terminal = ec.generate_private_key(ec.BrainpoolP256R1()).public_key()
    return authenticator, terminal.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)


AT_128 = bytes.fromhex("800A04007F00070202030202")


def test_chip_refuses_malformed_commands() -> None:
    chip, point = _chip()
    compressed = bytes((0x02 + (point[-1] & 1),)) + point[1:33]

    def answer(ins: int, p1: int, p2: int, data: bytes) -> int:
        return chip.respond(CommandApdu(0, ins, p1, p2, data)).sw

    assert answer(0x86, 0, 0, bytes.fromhex("7C43") + b"\x80\x41" + point) == 0x6985  # no Set AT
    assert answer(0x22, 0x41, 0xA6, b"\x91\x41" + point[:-1] + b"\x00") == 0x6A80  # off the curve
    assert answer(0x22, 0x41, 0xA6, b"\x91\x21" + compressed) == 0x6A80
    assert answer(0x22, 0x41, 0xA6, b"\x84\x01\x01") == 0x6A80  # no key
    assert answer(0x22, 0x41, 0xA6, b"\x91\x41" + point + b"\x84\x01\x01") == 0x6A88
    assert answer(0x22, 0x41, 0xA4, bytes.fromhex("800A04007F00070202030102")) == 0x6A80  # DH
    assert answer(0x22, 0x41, 0xA4, b"") == 0x6A80
    assert answer(0x22, 0x81, 0xB6, AT_128) == 0x6A86
    assert answer(0x22, 0x41, 0xA6, b"\x91\x85") == 0x6A80  # not TLV
    assert answer(0x88, 0, 0, bytes(8)) == 0x6D00
    assert chip.take_channel() is None
    # A GENERAL AUTHENTICATE the chip refuses also forgets the MSE:Set AT before it.
    for p2, data, sw in [
        (1, bytes.fromhex("7C43") + b"\x80\x41" + point, 0x6A86),
        (0, bytes.fromhex("7C03") + b"\x81\x01\x00", 0x6A80),
        (0, bytes.fromhex("7D43") + b"\x80\x41" + point, 0x6A80),
        (0, bytes.fromhex("7C43") + b"\x80\x41" + point[:-1] + b"\x00", 0x6A80),
    ]:
        assert answer(0x22, 0x41, 0xA4, AT_128) == 0x9000
        assert answer(0x86, 0, p2, data) == sw
        assert answer(0x86, 0, 0, bytes.fromhex("7C43") + b"\x80\x41" + point) == 0x6985
    assert chip.take_channel() is None


def test_chip_agrees_once() -> None:
    chip, point = _chip()
    assert chip.respond(CommandApdu(0, 0x22, 0x41, 0xA4, AT_128)).sw == 0x9000
    answer = chip.respond(CommandApdu(0, 0x86, 0, 0, b"\x7c\x43\x80\x41" + point, 256))
    assert answer == ResponseApdu(b"\x7c\x00", 0x9000)
    channel = chip.take_channel()
    assert channel is not None and channel.cipher is Cipher.AES128 and channel.ssc == 0
    assert chip.take_channel() is None
    # With 3DES, MSE:Set KAT agrees at once.
    assert chip.respond(CommandApdu(0, 0x22, 0x41, 0xA6, b"\x91\x41" + point)).sw == 0x9000
    channel = chip.take_channel()
    assert channel is not None and channel.cipher is Cipher.TDES


def test_chip_key_checks() -> None:
    with pytest.raises(ValueError, match="secp256k1"):
        ChipAuthenticator(ec.generate_private_key(ec.SECP256K1()))
    with pytest.raises(ValueError, match="EC keys"):
        ChipAuthenticator(rsa.generate_private_key(65537, 1024))  # type: ignore[arg-type]
    key = ec.generate_private_key(ec.SECP384R1())
    chip = ChipAuthenticator(key, key_id=7)
    assert chip.key_id == 7
    assert chip.public_key().public_numbers() == key.public_key().public_numbers()


# -- arbitrary card bytes ----------------------------------------------------------------------


_P256 = ec.generate_private_key(ec.SECP256R1())


class ArbitraryCard:
    """A card that answers each command with the next raw bytes."""

    def __init__(self, answers: list[bytes]) -> None:
        self.answers = list(answers)

    def transmit(self, command: CommandApdu) -> ResponseApdu:
        return ResponseApdu.decode(self.answers.pop(0) if self.answers else b"")


@settings(max_examples=200, deadline=None)
@given(answers=st.lists(st.binary(max_size=80), min_size=1, max_size=4), aes=st.booleans())
def test_arbitrary_card_bytes_raise_only_typed_errors(answers: list[bytes], aes: bool) -> None:
    key = _P256
    terminal_channel, _ = session(Cipher.AES128 if aes else Cipher.TDES)
    try:
        result = chip_authenticate(
            SecureTransport(ArbitraryCard(answers), terminal_channel),
            key.public_key(),
            protocol=ID_CA_ECDH_AES_CBC_CMAC_128 if aes else None,
            random=counter_random(),
        )
    except ChipError:
        return
    assert result.status is not CaStatus.UNSUPPORTED


class ArbitraryPlainChip(SmChip):
    """A chip that answers under correct secure messaging, with arbitrary plain data."""

    def __init__(self, channel: SecureChannel, answers: list[tuple[bytes, int]]) -> None:
        super().__init__(channel, ChipAuthenticator(_P256))
        self.answers = list(answers)

    def transmit(self, command: CommandApdu) -> ResponseApdu:
        self.channel.unwrap_command(command)
        data, sw = self.answers.pop(0) if self.answers else (b"", 0x9000)
        return self.channel.wrap_response(ResponseApdu(data, sw))


@settings(max_examples=200, deadline=None)
@given(
    answers=st.lists(
        st.tuples(st.binary(max_size=40), st.sampled_from([0x9000, 0x6A80, 0x6300, 0x6282])),
        min_size=1,
        max_size=3,
    )
)
def test_arbitrary_protected_answers_raise_only_typed_errors(
    answers: list[tuple[bytes, int]],
) -> None:
    terminal_channel, chip_channel = session(Cipher.AES128)
    try:
        result = chip_authenticate(
            SecureTransport(ArbitraryPlainChip(chip_channel, answers), terminal_channel),
            _P256.public_key(),
            protocol=ID_CA_ECDH_AES_CBC_CMAC_128,
            random=counter_random(),
        )
    except ChipError:
        return
    # This chip never re-keys: the answer under the new keys cannot verify.
    assert result.status is CaStatus.CA_FAILED


@settings(max_examples=300, deadline=None)
@given(
    ins=st.sampled_from([0x22, 0x86, 0x88]),
    p1p2=st.sampled_from([(0x41, 0xA6), (0x41, 0xA4), (0, 0), (0xC1, 0xA4)]),
    data=st.binary(max_size=80),
    prefix=st.sampled_from([b"", b"\x91\x41", b"\x7c\x43\x80\x41", AT_128]),
)
def test_chip_side_answers_any_command(
    ins: int, p1p2: tuple[int, int], data: bytes, prefix: bytes
) -> None:
    chip = ChipAuthenticator(_P256)
    chip.respond(CommandApdu(0, 0x22, 0x41, 0xA4, AT_128))
    response = chip.respond(CommandApdu(0, ins, *p1p2, prefix + data))
    agrees = (ins, p1p2) in {(0x86, (0, 0)), (0x22, (0x41, 0xA6))}
    assert (chip.take_channel() is not None) == (response.sw == 0x9000 and agrees)
