"""Basic Access Control: the worked example of Doc 9303 part 11 appendix D, both sides, failures."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hardware.emrtd.apdu import CommandApdu, ResponseApdu
from hardware.emrtd.bac import WRONG_KEY, BacResponder, bac
from hardware.emrtd.crypto import Cipher, bac_key_seed, bac_keys, tdes_decrypt
from hardware.emrtd.errors import (
    AccessDenied,
    ChipError,
    ProtocolError,
    StatusError,
)
from hardware.emrtd.securemessaging import SecureTransport

H = bytes.fromhex

# Appendix D.2 and D.3.
MRZ_INFORMATION = "L898902C<369080619406236"
K_SEED = H("239AB9CB282DAF66231DC5A4DF6BFBAE")
K_ENC = H("AB94FDECF2674FDFB9B391F85D7F76F2")
K_MAC = H("7962D9ECE03D1ACD4C76089DCE131543")
RND_ICC = H("4608F91988702212")
RND_IFD = H("781723860C06C226")
K_IFD = H("0B795240CB7049B01C19B33E32804F0B")
S = H("781723860C06C2264608F919887022120B795240CB7049B01C19B33E32804F0B")
E_IFD = H("72C29C2371CC9BDB65B779B8E8D37B29ECC154AA56A8799FAE2F498F76ED92F2")
M_IFD = H("5F1448EEA8AD90A7")
# The chip's answer E_ICC || M_ICC, and what it holds.
E_ICC = H("46B9342A41396CD7386BF5803104D7CEDC122B9132139BAF2EEDC94EE178534F")
M_ICC = H("2F2D235D074D7449")
R = H("4608F91988702212781723860C06C2260B4F80323EB3191CB04970CB4052790B")
K_ICC = H("0B4F80323EB3191CB04970CB4052790B")
KS_SEED = H("0036D272F5C350ACAC50C3F572D23600")
KS_ENC = H("979EC13B1CBFE9DCD01AB0FED307EAE5")
KS_MAC = H("F1CB1F1FB5ADF208806B89DC579DC1F8")
SSC = 0x887022120C06C226
# D.4: SELECT EF.COM and the two READ BINARY of EF.COM, protected.
D4 = [
    ("00A4020C02011E", "0CA4020C158709016375432908C044F68E08BF8B92D635FF24F800",
     "990290008E08FA855A5D4C50A8ED9000", ""),
    ("00B0000004", "0CB000000D9701048E08ED6705417E96BA5500",
     "8709019FF0EC34F9922651990290008E08AD55CC17140B2DED9000", "60145F01"),
    ("00B0000412", "0CB000040D9701128E082EA28A70F3C7B53500",
     "871901FB9235F4E4037F2327DCC8964F1F9B8C30F42C8E2FFF224A990290008E08C8B2787EAEA07D749000",
     "04303130365F36063034303030305C026175"),
]  # fmt: skip
EF_COM = H("60145F0104303130365F36063034303030305C026175")


def draws(*values: bytes) -> Callable[[int], bytes]:
    """A random source that gives ``values`` in turn, each of the length asked."""
    queue: Iterator[bytes] = iter(values)

    def random(length: int) -> bytes:
        value = next(queue)
        assert len(value) == length
        return value

    return random


class Script:
    """A transport that expects exact command bytes (unless "") and plays back the answers."""

    def __init__(self, *exchanges: tuple[str, str]) -> None:
        self.exchanges = list(exchanges)

    def transmit(self, command: CommandApdu) -> ResponseApdu:
        expected, answer = self.exchanges.pop(0)
        assert not expected or command.encode() == H(expected)
        return ResponseApdu.decode(H(answer))


class VirtualChip:
    """A chip holding EF.COM behind BAC, answering as a virtual chip would."""

    def __init__(self, key_seed: bytes, random: Callable[[int], bytes]) -> None:
        self.responder = BacResponder(key_seed, random)

    def transmit(self, command: CommandApdu) -> ResponseApdu:
        command = CommandApdu.decode(command.encode())
        channel = self.responder.channel
        if channel is None:
            if command.ins == 0x84:
                return ResponseApdu(self.responder.get_challenge(), 0x9000)
            if command.ins == 0x82:
                try:
                    return ResponseApdu(self.responder.external_authenticate(command.data), 0x9000)
                except AccessDenied:
                    return ResponseApdu(b"", 0x6300)
            return ResponseApdu(b"", 0x6982)
        plain = channel.unwrap_command(command)
        if plain.ins == 0xB0:
            offset = plain.p1 << 8 | plain.p2
            answer = ResponseApdu(EF_COM[offset : offset + plain.ne], 0x9000)
        else:
            answer = ResponseApdu(b"", 0x9000)
        return channel.wrap_response(answer)


def read_ef_com(transport: SecureTransport) -> bytes:
    assert transport.transmit(CommandApdu.decode(H("00A4020C02011E"))).ok
    head = transport.transmit(CommandApdu(0x00, 0xB0, 0x00, 0x00, ne=4)).check("READ BINARY")
    rest = transport.transmit(CommandApdu(0x00, 0xB0, 0x00, 0x04, ne=head[1] + 2 - 4))
    return head + rest.check("READ BINARY")


class TestTheWorkedExample:
    def test_the_figures_hang_together(self):
        assert bac_key_seed(MRZ_INFORMATION) == K_SEED
        assert bac_keys(K_SEED) == (K_ENC, K_MAC)
        assert S == RND_IFD + RND_ICC + K_IFD
        assert tdes_decrypt(K_ENC, E_ICC) == R == RND_ICC + RND_IFD + K_ICC
        assert bytes(a ^ b for a, b in zip(K_IFD, K_ICC, strict=True)) == KS_SEED
        assert bac_keys(KS_SEED) == (KS_ENC, KS_MAC)

    def test_the_terminal_side(self):
        chip = Script(
            ("0084000008", RND_ICC.hex() + "9000"),
            ("0082000028" + (E_IFD + M_IFD).hex() + "28", (E_ICC + M_ICC).hex() + "9000"),
            *((protected, response) for _, protected, response, _ in D4),
        )
        channel = bac(chip, MRZ_INFORMATION, draws(RND_IFD, K_IFD))
        assert channel.cipher is Cipher.TDES
        assert channel.ssc == SSC
        assert read_ef_com(SecureTransport(chip, channel)) == EF_COM
        assert chip.exchanges == []

    def test_the_chip_side(self):
        responder = BacResponder(K_SEED, draws(RND_ICC, K_ICC))
        assert responder.channel is None
        assert responder.get_challenge() == RND_ICC
        assert responder.external_authenticate(E_IFD + M_IFD) == E_ICC + M_ICC
        channel = responder.channel
        assert channel is not None and channel.ssc == SSC
        for plain, protected, response, data in D4:
            assert channel.unwrap_command(CommandApdu.decode(H(protected))) == CommandApdu.decode(
                H(plain)
            )
            assert channel.wrap_response(ResponseApdu(H(data), 0x9000)).encode() == H(response)


def counter_random() -> Callable[[int], bytes]:
    state = [0]

    def random(length: int) -> bytes:
        state[0] += 1
        return bytes((state[0] * 37 + i) % 256 for i in range(length))

    return random


class TestTerminalAgainstChip:
    def test_bac_then_secure_messaging(self):
        chip = VirtualChip(K_SEED, counter_random())
        channel = bac(chip, MRZ_INFORMATION, counter_random())
        assert read_ef_com(SecureTransport(chip, channel)) == EF_COM

    def test_bac_then_aes_after_rekeying(self):
        # Chip authentication re-keys a BAC session, possibly to AES.
        chip = VirtualChip(K_SEED, counter_random())
        channel = bac(chip, MRZ_INFORMATION, counter_random())
        chip_channel = chip.responder.channel
        assert chip_channel is not None
        k_enc, k_mac = bytes(range(32)), bytes(range(32, 64))
        channel.rekey(k_enc, k_mac, Cipher.AES256)
        chip_channel.rekey(k_enc, k_mac, Cipher.AES256)
        assert read_ef_com(SecureTransport(chip, channel)) == EF_COM
        assert channel.ssc == chip_channel.ssc == 6

    def test_a_wrong_mrz_is_access_denied(self):
        chip = VirtualChip(K_SEED, counter_random())
        with pytest.raises(AccessDenied) as denied:
            bac(chip, "L898902C<369080619406244", counter_random())
        assert str(denied.value) == WRONG_KEY
        assert "check the document number, birth and expiry dates" in WRONG_KEY
        assert chip.responder.channel is None

    def test_a_chip_that_does_not_know_the_key_is_access_denied(self):
        # It accepts anything and answers with a cryptogram under another key.
        impostor = Script(
            ("0084000008", RND_ICC.hex() + "9000"),
            ("0082000028" + (E_IFD + M_IFD).hex() + "28", (E_ICC + M_ICC[:-1]).hex() + "009000"),
        )
        with pytest.raises(AccessDenied, match="fails its MAC"):
            bac(impostor, MRZ_INFORMATION, draws(RND_IFD, K_IFD))

    def test_a_replayed_answer_is_access_denied(self):
        # The worked example's answer, to a terminal that drew another RND.IFD.
        replay = Script(
            ("0084000008", RND_ICC.hex() + "9000"),
            ("", (E_ICC + M_ICC).hex() + "9000"),
        )
        with pytest.raises(AccessDenied, match="challenges"):
            bac(replay, MRZ_INFORMATION, draws(H("0102030405060708"), K_IFD))

    def test_a_chip_without_bac(self):
        chip = Script(("0084000008", "6D00"))
        with pytest.raises(StatusError, match="GET CHALLENGE: card answered 6D00"):
            bac(chip, MRZ_INFORMATION, draws())

    def test_a_short_challenge(self):
        chip = Script(("0084000008", "010203049000"))
        with pytest.raises(ProtocolError, match="4 bytes of challenge"):
            bac(chip, MRZ_INFORMATION, draws())

    def test_a_short_answer(self):
        chip = Script(
            ("0084000008", RND_ICC.hex() + "9000"),
            ("0082000028" + (E_IFD + M_IFD).hex() + "28", E_ICC.hex() + "9000"),
        )
        with pytest.raises(ProtocolError, match="32 bytes of answer"):
            bac(chip, MRZ_INFORMATION, draws(RND_IFD, K_IFD))

    @given(st.binary(max_size=60), st.binary(max_size=60))
    def test_arbitrary_answers_raise_only_typed_errors(self, challenge: bytes, answer: bytes):
        class Hostile:
            def transmit(self, command: CommandApdu) -> ResponseApdu:
                return ResponseApdu.decode(challenge if command.ins == 0x84 else answer)

        # Only a chip that knows the key could get BAC through.
        with pytest.raises((AccessDenied, ProtocolError, StatusError)):
            bac(Hostile(), MRZ_INFORMATION, counter_random())


class TestResponder:
    def test_a_wrong_key_is_refused(self):
        responder = BacResponder(bac_key_seed("L898902C<369080619406244"), counter_random())
        responder.get_challenge()
        with pytest.raises(AccessDenied, match="wrong key"):
            responder.external_authenticate(E_IFD + M_IFD)
        assert responder.channel is None

    def test_another_challenge_is_refused(self):
        responder = BacResponder(K_SEED, draws(H("0000000000000001")))
        responder.get_challenge()
        with pytest.raises(AccessDenied, match="challenge"):
            responder.external_authenticate(E_IFD + M_IFD)

    def test_a_challenge_serves_once(self):
        responder = BacResponder(K_SEED, draws(RND_ICC, K_ICC))
        responder.get_challenge()
        responder.external_authenticate(E_IFD + M_IFD)
        with pytest.raises(ProtocolError, match="without GET CHALLENGE"):
            responder.external_authenticate(E_IFD + M_IFD)
        assert responder.channel is None

    def test_a_wrong_length(self):
        responder = BacResponder(K_SEED, counter_random())
        responder.get_challenge()
        with pytest.raises(ProtocolError, match="39 bytes"):
            responder.external_authenticate((E_IFD + M_IFD)[:-1])

    @given(st.binary(max_size=60))
    def test_arbitrary_data_raises_only_typed_errors(self, data: bytes):
        responder = BacResponder(K_SEED, counter_random())
        responder.get_challenge()
        with pytest.raises((AccessDenied, ProtocolError)):
            responder.external_authenticate(data)

    def test_the_errors_are_chip_errors(self):
        assert issubclass(AccessDenied, ChipError) and issubclass(ProtocolError, ChipError)
