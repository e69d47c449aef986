"""Secure messaging: the worked example of Doc 9303 part 11 appendix D.4, AES, hostile answers."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hardware.emrtd.apdu import CommandApdu, ResponseApdu
from hardware.emrtd.crypto import Cipher, aes_cmac, pad, retail_mac
from hardware.emrtd.errors import SecureMessagingError, StatusError
from hardware.emrtd.securemessaging import SecureChannel, SecureTransport

H = bytes.fromhex

# Appendix D: the session keys and SSC that BAC of the specimen agrees (D.3), and
# the three exchanges of D.4 that read EF.COM: (plain command, protected command,
# protected response, plain response data).
KS_ENC = H("979EC13B1CBFE9DCD01AB0FED307EAE5")
KS_MAC = H("F1CB1F1FB5ADF208806B89DC579DC1F8")
SSC = H("887022120C06C226")
ICAO_EXCHANGES = [
    (
        "00A4020C02011E",
        "0CA4020C158709016375432908C044F68E08BF8B92D635FF24F800",
        "990290008E08FA855A5D4C50A8ED9000",
        "",
    ),
    (
        "00B0000004",
        "0CB000000D9701048E08ED6705417E96BA5500",
        "8709019FF0EC34F9922651990290008E08AD55CC17140B2DED9000",
        "60145F01",
    ),
    (
        "00B0000412",
        "0CB000040D9701128E082EA28A70F3C7B53500",
        "871901FB9235F4E4037F2327DCC8964F1F9B8C30F42C8E2FFF224A990290008E08C8B2787EAEA07D749000",
        "04303130365F36063034303030305C026175",
    ),
]

# The same reading of EF.COM with AES-256 session keys, from the test suite of
# the gmrtd project (Go): SSC starts at 0x20.
AES_KS_ENC = H("74B94F408BBB2CD92571FD5B6370A94CCE7A2FA42AE3EB4DA47B97CE6EAA24C6")
AES_KS_MAC = H("9E28D5D9FF1D979BE752E8926BF0E1D35A440FC0AEFC4AA3BC5610055AC8B113")
AES_EXCHANGES = [
    (
        "00A4020C02011E",
        "0CA4020C1D8711011D35E7EB510E21A0DD12380D9AD2B92D8E0828CB68B81D3FAFC000",
        "990290008E08E083EAA61ADABFCE9000",
        "",
    ),
    (
        "00B0000004",
        "0CB000000D9701048E084AFC933E0CDBE5F000",
        "871101D8059A9CF835105082CA2B1837E4AEC0990290008E08B36DB56761D706BB9000",
        "60185F01",
    ),
    (
        "00B0000416",
        "0CB000040D9701168E0811F7EFC907D1F27400",
        "87210142E919C115FAF69350B01813D77A9E8D91912A7F717AFD073F199070E61B79C6"
        "990290008E083382E3D983F441369000",
        "04303130385F36063034303030305C06617563766D6E",
    ),
]


def icao_channel() -> SecureChannel:
    return SecureChannel(KS_ENC, KS_MAC, SSC, Cipher.TDES)


def aes_channel() -> SecureChannel:
    return SecureChannel(AES_KS_ENC, AES_KS_MAC, 0x20, Cipher.AES256)


VECTORS = [
    pytest.param(icao_channel, ICAO_EXCHANGES, 0x887022120C06C22C, id="3DES-appendix-D"),
    pytest.param(aes_channel, AES_EXCHANGES, 0x26, id="AES-256"),
]


class TestWorkedExamples:
    @pytest.mark.parametrize(("channel", "exchanges", "last_ssc"), VECTORS)
    def test_the_terminal_side(self, channel, exchanges, last_ssc):
        terminal = channel()
        for plain, protected, response, data in exchanges:
            assert terminal.wrap(CommandApdu.decode(H(plain))).encode() == H(protected)
            assert terminal.unwrap(ResponseApdu.decode(H(response))) == ResponseApdu(
                H(data), 0x9000
            )
        assert terminal.ssc == last_ssc

    @pytest.mark.parametrize(("channel", "exchanges", "last_ssc"), VECTORS)
    def test_the_chip_side(self, channel, exchanges, last_ssc):
        chip = channel()
        for plain, protected, response, data in exchanges:
            assert chip.unwrap_command(CommandApdu.decode(H(protected))) == CommandApdu.decode(
                H(plain)
            )
            assert chip.wrap_response(ResponseApdu(H(data), 0x9000)).encode() == H(response)
        assert chip.ssc == last_ssc

    def test_the_icao_steps_of_the_first_command(self):
        # D.4 step by step: SSC+1, padded header, DO'87, MAC over SSC || M, padded.
        m = H("0CA4020C80000000") + H("8709016375432908C044F6")
        assert retail_mac(KS_MAC, H("887022120C06C227") + m) == H("BF8B92D635FF24F8")

    def test_the_ssc_width_follows_the_cipher(self):
        assert icao_channel().ssc_bytes == SSC
        assert aes_channel().ssc_bytes == H("00000000000000000000000000000020")


COMMANDS = [
    CommandApdu(0x00, 0xA4, 0x02, 0x0C, H("011E")),  # case 3
    CommandApdu(0x00, 0xB0, 0x00, 0x00, ne=4),  # case 2
    CommandApdu(0x00, 0xB0, 0x00, 0x00, ne=256),  # Le 00
    CommandApdu(0x00, 0xB0, 0x00, 0x00, ne=2048),  # extended Le
    CommandApdu(0x00, 0xB0, 0x00, 0x00, ne=65536),  # extended Le 0000
    CommandApdu(0x00, 0x88, 0x00, 0x00, H("0102030405060708"), ne=256),  # case 4
    CommandApdu(0x00, 0xB1, 0x00, 0x00, H("54028001"), ne=256),  # odd INS: DO'85
    CommandApdu(0x00, 0x2A, 0x00, 0xBE, bytes(range(256)) * 2),  # long data
    CommandApdu(0x10, 0x86, 0x00, 0x00, H("7C00")),  # command chaining bit kept
    CommandApdu(0x00, 0x84, 0x00, 0x00),  # case 1
]

CHANNELS = [
    pytest.param(Cipher.TDES, id="3DES"),
    pytest.param(Cipher.AES128, id="AES-128"),
    pytest.param(Cipher.AES192, id="AES-192"),
    pytest.param(Cipher.AES256, id="AES-256"),
]


def pair(cipher: Cipher, ssc: int = 7) -> tuple[SecureChannel, SecureChannel]:
    k_enc = bytes(range(1, cipher.key_length + 1))
    k_mac = bytes(range(101, cipher.key_length + 101))
    return SecureChannel(k_enc, k_mac, ssc, cipher), SecureChannel(k_enc, k_mac, ssc, cipher)


class TestRoundTrip:
    @pytest.mark.parametrize("cipher", CHANNELS)
    @pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c.encode()[:4].hex())
    def test_commands_and_responses(self, cipher: Cipher, command: CommandApdu):
        terminal, chip = pair(cipher)
        protected = terminal.wrap(command)
        assert protected.cla & 0x0C == 0x0C
        # What the card receives is a well-formed APDU, short or extended as needed.
        received = CommandApdu.decode(protected.encode())
        assert received.extended == (command.extended or len(protected.data) > 255)
        assert chip.unwrap_command(received) == command
        answer = ResponseApdu((bytes(range(200)) * 20)[: min(command.ne, 4000)], 0x9000)
        protected_answer = ResponseApdu.decode(chip.wrap_response(answer).encode())
        assert terminal.unwrap(protected_answer) == answer
        assert terminal.ssc == chip.ssc == 9

    @pytest.mark.parametrize("cipher", CHANNELS)
    def test_an_odd_ins_uses_do_85_both_ways(self, cipher: Cipher):
        terminal, chip = pair(cipher)
        protected = terminal.wrap(CommandApdu(0x00, 0xB1, 0x00, 0x00, H("54028001"), ne=256))
        assert protected.data[0] == 0x85
        chip.unwrap_command(protected)
        answer = chip.wrap_response(ResponseApdu(H("5303010203"), 0x9000))
        assert answer.data[0] == 0x85
        assert terminal.unwrap(answer).data == H("5303010203")

    @pytest.mark.parametrize("cipher", CHANNELS)
    def test_a_protected_error_status(self, cipher: Cipher):
        terminal, chip = pair(cipher)
        chip.unwrap_command(terminal.wrap(CommandApdu(0x00, 0xA4, 0x02, 0x0C, H("0101"))))
        answer = terminal.unwrap(chip.wrap_response(ResponseApdu(b"", 0x6A82)))
        assert answer == ResponseApdu(b"", 0x6A82)
        with pytest.raises(StatusError, match="6A82"):
            answer.check("SELECT DG1")

    def test_rekey_starts_the_counter_again(self):
        terminal, chip = pair(Cipher.TDES)
        new_enc, new_mac = bytes(range(50, 66)), bytes(range(70, 86))
        terminal.rekey(new_enc, new_mac, Cipher.AES128)
        chip.rekey(new_enc, new_mac, Cipher.AES128)
        assert terminal.ssc == 0 and terminal.cipher is Cipher.AES128
        command = CommandApdu(0x00, 0xB0, 0x81, 0x00, ne=4)
        assert chip.unwrap_command(terminal.wrap(command)) == command
        assert terminal.unwrap(chip.wrap_response(ResponseApdu(H("61"), 0x9000))).data == H("61")

    def test_keys_must_fit_the_cipher(self):
        with pytest.raises(ValueError, match="K_enc"):
            SecureChannel(bytes(16), bytes(16), 0, Cipher.AES256)
        with pytest.raises(ValueError, match="SSC"):
            SecureChannel(bytes(16), bytes(16), 1 << 64, Cipher.TDES)

    def test_the_repr_keeps_the_keys_out(self):
        text = repr(icao_channel())
        assert KS_ENC.hex() not in text.lower() and "887022120C06C226" in text


class TestTransport:
    def test_a_secure_transport_over_a_chip(self):
        terminal, chip = pair(Cipher.AES128)

        class Chip:
            def transmit(self, command: CommandApdu) -> ResponseApdu:
                plain = chip.unwrap_command(CommandApdu.decode(command.encode()))
                return chip.wrap_response(ResponseApdu(plain.data[::-1], 0x9000))

        transport = SecureTransport(Chip(), terminal)
        answer = transport.transmit(CommandApdu(0x00, 0xDA, 0x00, 0x00, H("010203"), ne=3))
        assert answer == ResponseApdu(H("030201"), 0x9000)
        assert transport.channel is terminal and terminal.ssc == 9


class TestHostileResponses:
    def first_response(self) -> tuple[SecureChannel, bytes]:
        terminal = icao_channel()
        terminal.wrap(CommandApdu.decode(H(ICAO_EXCHANGES[1][0])))
        return terminal, H(ICAO_EXCHANGES[1][2])

    def test_a_tampered_mac(self):
        terminal, raw = self.first_response()
        tampered = raw[:-3] + bytes([raw[-3] ^ 1]) + raw[-2:]
        with pytest.raises(SecureMessagingError, match="MAC"):
            terminal.unwrap(ResponseApdu.decode(tampered))

    def test_a_tampered_cryptogram(self):
        terminal, raw = self.first_response()
        tampered = raw[:5] + bytes([raw[5] ^ 0x80]) + raw[6:]
        with pytest.raises(SecureMessagingError, match="MAC"):
            terminal.unwrap(ResponseApdu.decode(tampered))

    def test_a_replayed_response_fails_on_the_counter(self):
        terminal = icao_channel()
        terminal.wrap(CommandApdu.decode(H(ICAO_EXCHANGES[0][0])))
        terminal.unwrap(ResponseApdu.decode(H(ICAO_EXCHANGES[0][2])))
        terminal.wrap(CommandApdu.decode(H(ICAO_EXCHANGES[1][0])))
        with pytest.raises(SecureMessagingError, match="MAC"):
            terminal.unwrap(ResponseApdu.decode(H(ICAO_EXCHANGES[0][2])))

    @pytest.mark.parametrize("sw", [0x6987, 0x6988, 0x6982])
    def test_a_bare_refusal_is_passed_through(self, sw: int):
        terminal, _ = self.first_response()
        answer = terminal.unwrap(ResponseApdu(b"", sw))
        assert answer == ResponseApdu(b"", sw)
        with pytest.raises(StatusError, match=f"{sw:04X}"):
            answer.check("READ BINARY")

    def test_a_bare_success_is_refused(self):
        terminal, _ = self.first_response()
        with pytest.raises(SecureMessagingError, match="no MAC"):
            terminal.unwrap(ResponseApdu(b"", 0x9000))

    @pytest.mark.parametrize(
        ("objects", "message"),
        [
            ("8E08" + "00" * 8, "no status word"),
            ("990290008E04" + "00" * 4, "DO'8E of 4 bytes"),
            ("9903900000" + "8E08" + "00" * 8, "DO'99 of 3 bytes"),
            ("990290008E08" + "00" * 8 + "9000", "after DO'8E"),
            ("5302AAAA990290008E08" + "00" * 8, "unexpected data object 53"),
            ("8709", "87 of 9 bytes has only 0"),
            ("8785", "length byte 85"),
        ],
    )
    def test_malformed_data_objects(self, objects: str, message: str):
        terminal, _ = self.first_response()
        with pytest.raises(SecureMessagingError, match=message):
            terminal.unwrap(ResponseApdu(H(objects), 0x9000))

    @pytest.mark.parametrize(
        ("cryptogram", "message"),
        [
            ("870101", "0 bytes is not whole 8-byte blocks"),
            ("8709020102030405060708", "padding indicator"),
            ("8709010000000000000000", "decrypted data: padding"),
        ],
    )
    def test_a_well_maced_but_bad_cryptogram(self, cryptogram: str, message: str):
        terminal, _ = self.first_response()
        objects = H(cryptogram) + H("99029000")
        mac = retail_mac(
            KS_MAC, terminal.ssc_bytes[:-1] + bytes([terminal.ssc_bytes[-1] + 1]) + objects
        )
        with pytest.raises(SecureMessagingError, match=message):
            terminal.unwrap(ResponseApdu(objects + H("8E08") + mac, 0x9000))

    @given(st.binary(max_size=300), st.integers(0, 0xFFFF))
    def test_arbitrary_bytes_raise_only_typed_errors(self, data: bytes, sw: int):
        for terminal in (icao_channel(), aes_channel()):
            with contextlib.suppress(SecureMessagingError):
                terminal.unwrap(ResponseApdu(data, sw))

    @given(st.binary(max_size=80))
    def test_arbitrary_objects_under_a_good_mac_raise_only_typed_errors(self, objects: bytes):
        # The MAC checks out, so the parsing after it meets the hostile bytes.
        terminal = SecureChannel(AES_KS_ENC[:16], AES_KS_MAC[:16], 0, Cipher.AES128)
        mac = aes_cmac(AES_KS_MAC[:16], pad(bytes(15) + b"\x01" + objects, 16))[:8]
        try:
            answer = terminal.unwrap(ResponseApdu(objects + H("8E08") + mac, 0x9000))
        except SecureMessagingError:
            return
        assert isinstance(answer.data, bytes)

    @given(st.binary(min_size=4, max_size=300))
    def test_the_chip_side_raises_only_typed_errors(self, raw: bytes):
        chip = icao_channel()
        command = CommandApdu(raw[0] | 0x0C, raw[1], raw[2], raw[3], raw[4:], 256)
        with contextlib.suppress(SecureMessagingError):
            chip.unwrap_command(command)

    def test_the_chip_refuses_a_plain_command(self):
        with pytest.raises(SecureMessagingError, match="no secure messaging"):
            icao_channel().unwrap_command(CommandApdu.decode(H("00B0000004")))
