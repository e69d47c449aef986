"""PACE with ECDH Generic Mapping: appendix G.1 of Doc 9303 part 11 byte for byte, both sides."""

from __future__ import annotations

import contextlib
import random
from collections.abc import Callable, Iterator

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from hardware.emrtd.apdu import CommandApdu, ResponseApdu
from hardware.emrtd.crypto import KDF_ENC, KDF_MAC, KDF_PI, Cipher, kdf
from hardware.emrtd.ecmapping import STANDARDIZED_PARAMETER_IDS, decode_point
from hardware.emrtd.errors import AccessDenied, ChipError, ProtocolError, StatusError
from hardware.emrtd.pace import (
    PaceParameters,
    PacePassword,
    PasswordKind,
    authentication_token,
    mse_set_at_data,
    pace,
)
from hardware.emrtd.paceresponder import PaceResponder
from hardware.emrtd.securemessaging import SecureChannel

H = bytes.fromhex

# Doc 9303 part 11 appendix G.1: the MRZ of the worked example, its password key,
# id-PACE-ECDH-GM-AES-CBC-CMAC-128 on brainpoolP256r1 (parameter id 13).
MRZ_INFORMATION = "T22000129364081251010318"
K = H("7E2D2A41C74EA0B38CD36F863939BFA8E9032AAD")
K_PI = H("89DED1B26624EC1E634C1989302849DD")
OID = "0.4.0.127.0.7.2.2.4.2.2"
NONCE_Z = H("95A3A016522EE98D01E76CB6B98B42C3")
NONCE_S = H("3F00C4D39D153F2B2A214A078D899B22")
SK_MAP_IFD = H("7F4EF07B9EA82FD78AD689B38D0BC78CF21F249D953BC46F4C6E19259C010F99")
PK_MAP_IFD = H(
    "047ACF3EFC982EC45565A4B155129EFBC74650DCBFA6362D896FC70262E0C2CC5E"
    "544552DCB6725218799115B55C9BAA6D9F6BC3A9618E70C25AF71777A9C4922D"
)
SK_MAP_IC = H("498FF49756F2DC1587840041839A85982BE7761D14715FB091EFA7BCE9058560")
PK_MAP_IC = H(
    "04824FBA91C9CBE26BEF53A0EBE7342A3BF178CEA9F45DE0B70AA601651FBA3F57"
    "30D8C879AAA9C9F73991E61B58F4D52EB87A0A0C709A49DC63719363CCD13C54"
)
SK_DH_IFD = H("A73FB703AC1436A18E0CFA5ABB3F7BEC7A070E7A6788486BEE230C4A22762595")
PK_DH_IFD = H(
    "042DB7A64C0355044EC9DF190514C625CBA2CEA48754887122F3A5EF0D5EDD301C"
    "3556F3B3B186DF10B857B58F6A7EB80F20BA5DC7BE1D43D9BF850149FBB36462"
)
SK_DH_IC = H("107CF58696EF6155053340FD633392BA81909DF7B9706F226F32086C7AFF974A")
PK_DH_IC = H(
    "049E880F842905B8B3181F7AF7CAA9F0EFB743847F44A306D2D28C1D9EC65DF6DB"
    "7764B22277A2EDDC3C265A9F018F9CB852E111B768B326904B59A0193776F094"
)
SHARED_SECRET = H("28768D20701247DAE81804C9E780EDE582A9996DB4A315020B2733197DB84925")
KS_ENC = H("F5F0E35C0D7161EE6724EE513A0D9A7F")
KS_MAC = H("FE251C7858B356B24514B3BD5F4297D1")
T_IFD = H("C2B0BD78D94BA866")
T_IC = H("3ABB9674BCE93C08")

G1 = PaceParameters(OID, 13)
# The APDUs of appendix G.1: the terminal's command, the chip's answer.
TRANSCRIPT = [
    ("0022C1A40F800A04007F00070202040202830101", "9000"),
    ("10860000027C0000", "7C128010" + NONCE_Z.hex() + "9000"),
    ("10860000457C438141" + PK_MAP_IFD.hex() + "00", "7C438241" + PK_MAP_IC.hex() + "9000"),
    ("10860000457C438341" + PK_DH_IFD.hex() + "00", "7C438441" + PK_DH_IC.hex() + "9000"),
    ("008600000C7C0A8508" + T_IFD.hex() + "00", "7C0A8608" + T_IC.hex() + "9000"),
]
# SELECT of the eMRTD application under the G.1 session keys, SSC 0 (as computed by
# the independent jcexpress test suite's ICAO reference vectors).
SELECT_EMRTD = CommandApdu(0x00, 0xA4, 0x04, 0x0C, H("A0000002471001"))
SELECT_PROTECTED = H("0CA4040C1D871101752F676B09FAC86A87D632749A49C7CC8E08C18BA1FCE707BD9F00")


def draws(*values: bytes) -> Callable[[int], bytes]:
    """A random source handing out ``values`` in order, each of the length asked."""
    queue: Iterator[bytes] = iter(values)

    def draw(n: int) -> bytes:
        value = next(queue)
        assert len(value) == n
        return value

    return draw


class ScriptedCard:
    """A card that expects the commands of a transcript and gives its answers."""

    def __init__(self, transcript: list[tuple[str, str]]) -> None:
        self.steps = [(H(c), H(r)) for c, r in transcript]
        self.sent = 0

    def transmit(self, command: CommandApdu) -> ResponseApdu:
        expected, answer = self.steps[self.sent]
        assert command.encode().hex().upper() == expected.hex().upper()
        self.sent += 1
        return ResponseApdu.decode(answer)


class VirtualPaceChip:
    """A chip that speaks PACE through a responder, as the virtual chip drives it."""

    def __init__(self, responder: PaceResponder) -> None:
        self.responder = responder
        self.statuses: list[int] = []

    def transmit(self, command: CommandApdu) -> ResponseApdu:
        answer = self._answer(command)
        self.statuses.append(answer.sw)
        return answer

    def _answer(self, command: CommandApdu) -> ResponseApdu:
        try:
            if command.ins == 0x22 and (command.p1, command.p2) == (0xC1, 0xA4):
                self.responder.mse_set_at(command.data)
                return ResponseApdu(b"", 0x9000)
            if command.ins == 0x86:
                chained = bool(command.cla & 0x10)
                return ResponseApdu(
                    self.responder.general_authenticate(command.data, chained), 0x9000
                )
        except StatusError as error:
            return ResponseApdu(b"", error.sw)
        except AccessDenied:
            return ResponseApdu(b"", 0x6300)
        return ResponseApdu(b"", 0x6D00)


def same_keys(a: SecureChannel, b: SecureChannel) -> bool:
    """Whether two fresh channels protect a command identically."""
    return a.wrap(SELECT_EMRTD) == b.wrap(SELECT_EMRTD)


def g1_chip(*passwords: PacePassword) -> PaceResponder:
    return PaceResponder(
        [G1],
        passwords or [PacePassword.from_mrz(MRZ_INFORMATION)],
        draws(NONCE_S, SK_MAP_IC, SK_DH_IC),
    )


# -- appendix G.1 ------------------------------------------------------------


def test_the_mrz_password_and_its_nonce_key() -> None:
    password = PacePassword.from_mrz(MRZ_INFORMATION)
    assert password.kind is PasswordKind.MRZ
    assert password.key == K
    assert kdf(password.key, KDF_PI, Cipher.AES128) == K_PI


def test_the_session_keys_of_the_shared_secret() -> None:
    assert kdf(SHARED_SECRET, KDF_ENC, Cipher.AES128) == KS_ENC
    assert kdf(SHARED_SECRET, KDF_MAC, Cipher.AES128) == KS_MAC


def test_the_tokens_of_appendix_g1() -> None:
    domain = G1.domain
    chip_key = decode_point(domain, PK_DH_IC, "PK_DH,IC")
    terminal_key = decode_point(domain, PK_DH_IFD, "PK_DH,IFD")
    assert authentication_token(G1, KS_MAC, chip_key) == T_IFD
    assert authentication_token(G1, KS_MAC, terminal_key) == T_IC


def test_the_terminal_reproduces_appendix_g1_byte_for_byte() -> None:
    card = ScriptedCard(TRANSCRIPT)
    channel = pace(card, PacePassword.from_mrz(MRZ_INFORMATION), G1, draws(SK_MAP_IFD, SK_DH_IFD))
    assert card.sent == len(TRANSCRIPT)
    assert channel.cipher is Cipher.AES128
    assert channel.ssc == 0
    assert same_keys(channel, SecureChannel(KS_ENC, KS_MAC, 0, Cipher.AES128))


def test_the_channel_protects_the_next_command_with_the_session_keys() -> None:
    channel = pace(
        ScriptedCard(TRANSCRIPT),
        PacePassword.from_mrz(MRZ_INFORMATION),
        G1,
        draws(SK_MAP_IFD, SK_DH_IFD),
    )
    assert channel.wrap(SELECT_EMRTD).encode() == SELECT_PROTECTED
    answer = channel.unwrap(ResponseApdu.decode(H("990290008E08BEA7B381C494A0799000")))
    assert answer == ResponseApdu(b"", 0x9000)


def test_the_parameter_id_goes_in_tag_84_when_asked() -> None:
    transcript = [("0022C1A412800A04007F0007020204020283010184010D", "9000"), *TRANSCRIPT[1:]]
    card = ScriptedCard(transcript)
    info = PaceParameters(OID, 13, send_parameter_id=True)
    pace(card, PacePassword.from_mrz(MRZ_INFORMATION), info, draws(SK_MAP_IFD, SK_DH_IFD))
    assert card.sent == len(transcript)


def test_the_chip_reproduces_appendix_g1_byte_for_byte() -> None:
    chip = g1_chip()
    commands = [CommandApdu.decode(H(c)) for c, _ in TRANSCRIPT]
    chip.mse_set_at(commands[0].data)
    for command, (_, response) in zip(commands[1:], TRANSCRIPT[1:], strict=True):
        assert chip.channel is None
        answer = chip.general_authenticate(command.data, chained=command.cla == 0x10)
        assert answer == H(response)[:-2]
    assert chip.channel is not None
    assert same_keys(chip.channel, SecureChannel(KS_ENC, KS_MAC, 0, Cipher.AES128))


def test_terminal_and_chip_of_appendix_g1_meet() -> None:
    chip = VirtualPaceChip(g1_chip())
    channel = pace(chip, PacePassword.from_mrz(MRZ_INFORMATION), G1, draws(SK_MAP_IFD, SK_DH_IFD))
    assert chip.statuses == [0x9000] * 5
    assert chip.responder.channel is not None
    assert same_keys(channel, chip.responder.channel)


# -- round trips -------------------------------------------------------------

CIPHERS = {
    "0.4.0.127.0.7.2.2.4.2.1": Cipher.TDES,
    "0.4.0.127.0.7.2.2.4.2.2": Cipher.AES128,
    "0.4.0.127.0.7.2.2.4.2.3": Cipher.AES192,
    "0.4.0.127.0.7.2.2.4.2.4": Cipher.AES256,
}


def seeded(seed: int) -> Callable[[int], bytes]:
    """A deterministic random source for the round trips."""
    return random.Random(seed).randbytes


def exchange(terminal: SecureChannel, chip: SecureChannel) -> None:
    """One protected command and answer across the two channels."""
    command = CommandApdu(0x00, 0xB0, 0x00, 0x00, ne=4)
    received = chip.unwrap_command(terminal.wrap(command))
    assert received == command
    answer = terminal.unwrap(chip.wrap_response(ResponseApdu(b"\x60\x14\x5f\x01", 0x9000)))
    assert answer == ResponseApdu(b"\x60\x14\x5f\x01", 0x9000)


@pytest.mark.parametrize("parameter_id", STANDARDIZED_PARAMETER_IDS)
@pytest.mark.parametrize("oid", list(CIPHERS))
def test_terminal_and_chip_agree_on_every_curve_and_cipher(oid: str, parameter_id: int) -> None:
    info = PaceParameters(oid, parameter_id)
    password = PacePassword.from_mrz(MRZ_INFORMATION)
    chip = VirtualPaceChip(PaceResponder([info], [password], seeded(parameter_id)))
    channel = pace(chip, password, info, seeded(1000 + parameter_id))
    assert chip.responder.channel is not None
    assert channel.cipher is CIPHERS[oid] is chip.responder.channel.cipher
    exchange(channel, chip.responder.channel)


def test_the_can_opens_a_chip_that_has_one() -> None:
    info = PaceParameters("0.4.0.127.0.7.2.2.4.2.4", 16)
    chip = VirtualPaceChip(
        PaceResponder(
            [info],
            [PacePassword.from_mrz(MRZ_INFORMATION), PacePassword.from_can("123456")],
            seeded(1),
        )
    )
    channel = pace(chip, PacePassword.from_can("123456"), info, seeded(2))
    assert chip.responder.channel is not None
    exchange(channel, chip.responder.channel)


def test_the_chip_picks_the_parameters_the_terminal_names() -> None:
    offered = [PaceParameters(OID, 13), PaceParameters(OID, 12), PaceParameters(OID, 17)]
    password = PacePassword.from_mrz(MRZ_INFORMATION)
    chip = VirtualPaceChip(PaceResponder(offered, [password], seeded(3)))
    info = PaceParameters(OID, 17, send_parameter_id=True)
    channel = pace(chip, password, info, seeded(4))
    assert chip.responder.channel is not None
    exchange(channel, chip.responder.channel)


# -- wrong passwords -----------------------------------------------------------


def test_a_wrong_birth_date_is_access_denied_with_a_clear_reason() -> None:
    chip = VirtualPaceChip(g1_chip())
    wrong = PacePassword.from_mrz("T22000129364081351010318")
    with pytest.raises(AccessDenied, match=r"refused the MRZ password \(status 6300") as caught:
        pace(chip, wrong, G1, seeded(5))
    assert "MRZ (document number, birth or expiry date) does not open this chip" in str(
        caught.value
    )
    assert chip.statuses == [0x9000, 0x9000, 0x9000, 0x9000, 0x6300]
    assert chip.responder.channel is None


def test_a_wrong_can_is_access_denied() -> None:
    info = PaceParameters(OID, 12)
    chip = VirtualPaceChip(PaceResponder([info], [PacePassword.from_can("123456")], seeded(6)))
    with pytest.raises(AccessDenied, match="the CAN does not open this chip"):
        pace(chip, PacePassword.from_can("123465"), info, seeded(7))


def test_the_chip_side_raises_access_denied_on_a_wrong_token() -> None:
    chip = g1_chip()
    commands = [CommandApdu.decode(H(c)) for c, _ in TRANSCRIPT]
    chip.mse_set_at(commands[0].data)
    for command in commands[1:4]:
        chip.general_authenticate(command.data)
    with pytest.raises(AccessDenied, match="terminal's authentication token is wrong"):
        chip.general_authenticate(H("7C0A8508") + bytes(8))
    assert chip.channel is None
    # The run is over: the terminal starts again with MSE:Set AT.
    with pytest.raises(StatusError) as caught:
        chip.general_authenticate(H("7C0A8508") + T_IFD)
    assert caught.value.sw == 0x6985


def test_a_chip_with_a_wrong_token_is_access_denied() -> None:
    transcript = [*TRANSCRIPT[:-1], (TRANSCRIPT[-1][0], "7C0A8608" + bytes(8).hex() + "9000")]
    with pytest.raises(AccessDenied, match="chip did not prove it knows the password"):
        pace(
            ScriptedCard(transcript),
            PacePassword.from_mrz(MRZ_INFORMATION),
            G1,
            draws(SK_MAP_IFD, SK_DH_IFD),
        )


def test_a_password_the_chip_lacks_is_refused_at_mse() -> None:
    chip = VirtualPaceChip(g1_chip())
    with pytest.raises(StatusError, match="PACE MSE:Set AT: card answered 6A88") as caught:
        pace(chip, PacePassword.from_can("123456"), G1, seeded(8))
    assert caught.value.sw == 0x6A88


def test_parameters_the_chip_lacks_are_refused_at_mse() -> None:
    chip = VirtualPaceChip(g1_chip())
    info = PaceParameters(OID, 12, send_parameter_id=True)
    with pytest.raises(StatusError, match="6A88"):
        pace(chip, PacePassword.from_mrz(MRZ_INFORMATION), info, seeded(9))


# -- passwords and parameters ------------------------------------------------------


def test_passwords_stay_out_of_reprs() -> None:
    assert repr(PacePassword.from_mrz(MRZ_INFORMATION)) == "PacePassword(MRZ, key=<redacted>)"
    assert repr(PacePassword.from_can("123456")) == "PacePassword(CAN, key=<redacted>)"


@pytest.mark.parametrize("can", ["", "12a456", "\uff11\uff12\uff13\uff14\uff15\uff16", " 123456"])
def test_a_can_is_digits(can: str) -> None:
    with pytest.raises(ValueError, match="digits"):
        PacePassword.from_can(can)


def test_parameters_name_their_protocol_cipher_and_curve() -> None:
    assert G1.name == "id-PACE-ECDH-GM-AES-CBC-CMAC-128"
    assert G1.cipher is Cipher.AES128
    assert G1.domain.name == "brainpoolP256r1"
    assert G1.oid_bytes == H("04007F00070202040202")
    assert PaceParameters("0.4.0.127.0.7.2.2.4.2.1", 12).name == "id-PACE-ECDH-GM-3DES-CBC-CBC"
    assert mse_set_at_data(G1, PasswordKind.CAN) == H("800A04007F00070202040202830102")


@pytest.mark.parametrize(
    ("oid", "parameter_id", "message"),
    [
        ("0.4.0.127.0.7.2.2.4.1.2", 2, "protocol 0.4.0.127.0.7.2.2.4.1.2 is not supported"),
        ("0.4.0.127.0.7.2.2.4.4.2", 13, "protocol 0.4.0.127.0.7.2.2.4.4.2 is not supported"),
        ("0.4.0.127.0.7.2.2.4.6.2", 13, "protocol 0.4.0.127.0.7.2.2.4.6.2 is not supported"),
        (OID, 2, "domain parameters 2 are not supported"),
        (OID, 32, "domain parameters 32 are not supported"),
    ],
)
def test_unsupported_parameters(oid: str, parameter_id: int, message: str) -> None:
    assert not PaceParameters.supported(oid, parameter_id)
    with pytest.raises(ProtocolError, match=message):
        PaceParameters(oid, parameter_id)


def test_supported_parameters() -> None:
    assert PaceParameters.supported(OID, 13)
    assert PaceParameters.supported("0.4.0.127.0.7.2.2.4.2.4", 18)


# -- what the chip may answer --------------------------------------------------------


def with_answer(step: int, answer: str) -> list[tuple[str, str]]:
    """The G.1 transcript up to ``step``, where the chip answers ``answer`` instead."""
    return [*TRANSCRIPT[:step], (TRANSCRIPT[step][0], answer)]


def run_g1(transcript: list[tuple[str, str]]) -> SecureChannel:
    return pace(
        ScriptedCard(transcript),
        PacePassword.from_mrz(MRZ_INFORMATION),
        G1,
        draws(SK_MAP_IFD, SK_DH_IFD),
    )


@pytest.mark.parametrize(
    ("step", "answer", "error", "message"),
    [
        (0, "6A80", StatusError, "PACE MSE:Set AT: card answered 6A80"),
        (0, "63C0", StatusError, "PACE MSE:Set AT: card answered 63C0"),
        (1, "6982", StatusError, r"encrypted nonce\): card answered 6982"),
        (1, "7C008000" + "9000", ProtocolError, "7C: byte 2|expected one dynamic"),
        (
            1,
            "7C048005AABB" + "9000",
            ProtocolError,
            r"\(encrypted nonce\): byte 3: 80: length 5 runs past the end",
        ),
        (1, "7C0280009000", ProtocolError, "encrypted nonce has 0 bytes"),
        (1, "7C0880061122334455669000", ProtocolError, "encrypted nonce has 6 bytes"),
        (1, "7C0281009000", ProtocolError, "data object 80 is missing"),
        (1, "7C128110" + NONCE_Z.hex() + "9000", ProtocolError, "data object 80 is missing"),
        (2, "7C438241" + PK_MAP_IC[:-1].hex() + "009000", ProtocolError, "mapping key is not a"),
        (2, "7C438341" + PK_MAP_IC.hex() + "9000", ProtocolError, "data object 82 is missing"),
        (3, "7C438441" + PK_DH_IFD.hex() + "9000", ProtocolError, "the terminal's own"),
        (3, "7C03840100" + "9000", ProtocolError, "ephemeral key is not an uncompressed"),
        (4, "7C0A8708" + T_IC.hex() + "9000", ProtocolError, "data object 86 is missing"),
        (4, "6982", AccessDenied, r"status 6982"),
    ],
)
def test_bad_answers_raise_typed_errors_naming_the_step(
    step: int, answer: str, error: type[ChipError], message: str
) -> None:
    with pytest.raises(error, match=message):
        run_g1(with_answer(step, answer))


def test_a_retry_counter_warning_at_mse_is_not_an_error() -> None:
    channel = run_g1([(TRANSCRIPT[0][0], "63C3"), *TRANSCRIPT[1:]])
    assert same_keys(channel, SecureChannel(KS_ENC, KS_MAC, 0, Cipher.AES128))


def test_extra_data_objects_in_the_last_answer_are_ignored() -> None:
    # A chip with terminal authentication adds its certification authority references.
    last = "7C1486083ABB9674BCE93C08870841424344454647489000"
    channel = run_g1([*TRANSCRIPT[:-1], (TRANSCRIPT[-1][0], last)])
    assert channel.ssc == 0


class FuzzedCard:
    """The G.1 chip, except that one answer is replaced by arbitrary bytes."""

    def __init__(self, step: int, answer: bytes) -> None:
        self.step = step
        self.answer = answer
        self.sent = 0

    def transmit(self, command: CommandApdu) -> ResponseApdu:
        step, self.sent = self.sent, self.sent + 1
        if step == self.step:
            return ResponseApdu.decode(self.answer)
        return ResponseApdu.decode(H(TRANSCRIPT[step][1]))


@settings(max_examples=300, deadline=None, derandomize=True)
@given(
    step=st.integers(0, 4),
    answer=st.one_of(
        st.binary(min_size=2, max_size=200),
        st.binary(max_size=150).map(lambda b: bytes((0x7C, len(b) & 0x7F)) + b + H("9000")),
        st.tuples(st.sampled_from([0x80, 0x82, 0x84, 0x86]), st.binary(max_size=130)).map(
            lambda t: bytes((0x7C, 0x81, len(t[1]) + 3, t[0], 0x81, len(t[1]))) + t[1] + H("9000")
        ),
    ),
)
@example(step=3, answer=H("7C438441") + PK_DH_IFD + H("9000"))
def test_any_answer_of_the_chip_raises_only_typed_errors(step: int, answer: bytes) -> None:
    with contextlib.suppress(ChipError):
        run_g1_fuzzed(step, answer)


def run_g1_fuzzed(step: int, answer: bytes) -> None:
    pace(
        FuzzedCard(step, answer),
        PacePassword.from_mrz(MRZ_INFORMATION),
        G1,
        draws(SK_MAP_IFD, SK_DH_IFD),
    )


# -- what the terminal may send the chip ---------------------------------------------


def test_general_authenticate_before_mse_is_out_of_order() -> None:
    with pytest.raises(StatusError) as caught:
        g1_chip().general_authenticate(H("7C00"))
    assert caught.value.sw == 0x6985


def test_the_last_step_must_end_the_chain() -> None:
    chip = g1_chip()
    chip.mse_set_at(CommandApdu.decode(H(TRANSCRIPT[0][0])).data)
    with pytest.raises(StatusError) as caught:
        chip.general_authenticate(H("7C00"), chained=False)
    assert caught.value.sw == 0x6985


@pytest.mark.parametrize(
    ("data", "sw"),
    [
        ("", 0x6A80),
        ("800A04007F00070202040202", 0x6A80),
        ("830101", 0x6A80),
        ("800A04007F0007020204020283", 0x6A80),
        ("800A04007F00070202040203830101", 0x6A88),
        ("800A04007F00070202040202830103", 0x6A88),
        ("800A04007F0007020204020283020101", 0x6A88),
        ("800A04007F0007020204020283010184010C", 0x6A88),
    ],
)
def test_a_bad_mse_set_at_is_refused(data: str, sw: int) -> None:
    with pytest.raises(StatusError) as caught:
        g1_chip().mse_set_at(H(data))
    assert caught.value.sw == sw


def test_unknown_objects_in_mse_set_at_are_ignored() -> None:
    # A terminal with terminal authentication sends its CHAT in 7F4C.
    chip = g1_chip()
    chip.mse_set_at(H("800A04007F00070202040202830101") + H("7F4C0E060904007F000703010202530103"))
    assert chip.general_authenticate(H("7C00")) == H("7C128010") + NONCE_Z


@pytest.mark.parametrize(
    "data",
    [
        "",
        "7C",
        "7C0180",
        "7C028000",  # the first step carries no data object
        "7C00" + "00",
        "7D00",
    ],
)
def test_a_malformed_first_step_is_wrong_data(data: str) -> None:
    chip = g1_chip()
    chip.mse_set_at(CommandApdu.decode(H(TRANSCRIPT[0][0])).data)
    with pytest.raises(StatusError) as caught:
        chip.general_authenticate(H(data))
    assert caught.value.sw == 0x6A80


def test_a_reflected_ephemeral_key_is_wrong_data() -> None:
    chip = g1_chip()
    commands = [CommandApdu.decode(H(c)) for c, _ in TRANSCRIPT]
    chip.mse_set_at(commands[0].data)
    chip.general_authenticate(commands[1].data)
    chip.general_authenticate(commands[2].data)
    with pytest.raises(StatusError) as caught:
        chip.general_authenticate(H("7C438341") + PK_DH_IC)
    assert caught.value.sw == 0x6A80


@settings(max_examples=300, deadline=None, derandomize=True)
@given(
    steps=st.integers(0, 4),
    data=st.one_of(
        st.binary(max_size=140),
        st.tuples(st.sampled_from([0x80, 0x81, 0x83, 0x85]), st.binary(max_size=70)).map(
            lambda t: bytes((0x7C, len(t[1]) + 2, t[0], len(t[1]))) + t[1]
        ),
    ),
    mse=st.booleans(),
)
def test_any_command_data_raises_only_status_errors_or_access_denied(
    steps: int, data: bytes, mse: bool
) -> None:
    chip = g1_chip()
    commands = [CommandApdu.decode(H(c)) for c, _ in TRANSCRIPT]
    chip.mse_set_at(commands[0].data)
    for command in commands[1 : 1 + steps]:
        chip.general_authenticate(command.data)
    try:
        if mse:
            chip.mse_set_at(data)
        else:
            chip.general_authenticate(data)
    except (StatusError, AccessDenied):
        pass
