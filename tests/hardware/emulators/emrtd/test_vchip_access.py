"""The virtual chip's access control and secure messaging, driven by the inspection side's code."""

from __future__ import annotations

import random as random_module

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given, settings
from hypothesis import strategies as st

from egate.documents.lds.dg1 import encode_dg1
from egate.documents.lds.securityinfos import (
    PaceInfo,
    ca_protocol,
    encode_security_infos,
    pace_protocol,
)
from hardware.emrtd.activeauth import ActiveAuthenticator, active_authenticate
from hardware.emrtd.apdu import CommandApdu, ResponseApdu
from hardware.emrtd.bac import bac
from hardware.emrtd.chipauth import ChipAuthenticator, chip_authenticate
from hardware.emrtd.errors import AccessDenied
from hardware.emrtd.pace import PaceParameters, PacePassword, pace
from hardware.emrtd.securemessaging import SecureTransport
from hardware.emrtd.transport import VirtualTransport
from hardware.emulators.emrtd.airtime import AirTime
from hardware.emulators.emrtd.card import ChipSettings, VirtualChip, pace_parameters_of

SPECIMEN = (
    "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<",
    "L898902C<3UTO6908061F9406236ZE184226B<<<<<14",
)
MRZ_INFORMATION = "L898902C<369080619406236"
CAN = "123456"
AID = bytes.fromhex("A0000002471001")
DG1 = encode_dg1(SPECIMEN)
PACE_OID = pace_protocol("ECDH", "GM", "AES-128")
CARD_ACCESS = encode_security_infos([PaceInfo(PACE_OID, 2, 13)])  # brainpoolP256r1
AA_KEY = ec.generate_private_key(ec.SECP256R1())
CA_KEY = ec.generate_private_key(ec.SECP256R1())


def seeded(seed: int):
    generator = random_module.Random(seed)
    return lambda count: generator.randbytes(count)


def make_chip(*, active=None, chip_auth=None, **overrides) -> VirtualChip:
    files = {
        "DG1": DG1,
        "EF.COM": bytes.fromhex("60035C0161"),
        "EF.CardAccess": CARD_ACCESS,
        "DG14": bytes.fromhex("6E00"),  # chip authentication's proof selects it
    }
    return VirtualChip(
        files,
        mrz_information=MRZ_INFORMATION,
        can=CAN,
        settings=ChipSettings(**overrides),
        active_authenticator=active,
        chip_authenticator=chip_auth,
        air_time=AirTime.zero(),
        random=seeded(1),
    )


def read_dg1(transport) -> bytes:
    assert transport.transmit(CommandApdu(0x00, 0xA4, 0x04, 0x0C, AID)).sw == 0x9000
    assert transport.transmit(CommandApdu(0x00, 0xA4, 0x02, 0x0C, b"\x01\x01")).sw == 0x9000
    response = transport.transmit(CommandApdu(0x00, 0xB0, 0, 0, ne=256))
    assert response.sw in (0x9000, 0x6282)
    return response.data


def test_bac_opens_the_chip_and_files_are_read_under_secure_messaging():
    chip = make_chip()
    plain = VirtualTransport(chip)
    assert plain.transmit(CommandApdu(0x00, 0xA4, 0x04, 0x0C, AID)).sw == 0x9000
    channel = bac(plain, MRZ_INFORMATION, seeded(2))
    assert chip.secure_messaging
    assert read_dg1(SecureTransport(plain, channel)) == DG1


def test_bac_with_a_wrong_mrz_is_refused():
    chip = make_chip()
    plain = VirtualTransport(chip)
    with pytest.raises(AccessDenied):
        bac(plain, "L898902C<369080619406244", seeded(2))
    assert not chip.secure_messaging


def test_external_authenticate_needs_a_challenge_and_40_bytes():
    chip = make_chip()
    send = VirtualTransport(chip).transmit
    assert send(CommandApdu(0x00, 0x82, 0, 0, bytes(40), 40)).sw == 0x6985
    assert send(CommandApdu(0x00, 0x84, 0, 0, ne=8)).sw == 0x9000
    assert send(CommandApdu(0x00, 0x82, 0, 0, bytes(39), 40)).sw == 0x6700
    assert send(CommandApdu(0x00, 0x84, 0, 0, ne=4)).sw == 0x6700
    assert send(CommandApdu(0x00, 0x84, 0, 0, ne=8)).sw == 0x9000
    assert send(CommandApdu(0x00, 0x82, 0, 0, bytes(40), 40)).sw == 0x6300


def test_a_chip_without_bac_does_not_know_get_challenge():
    chip = make_chip(bac=False)
    assert VirtualTransport(chip).transmit(CommandApdu(0x00, 0x84, 0, 0, ne=8)).sw == 0x6D00


def test_a_plain_command_ends_secure_messaging():
    chip = make_chip()
    plain = VirtualTransport(chip)
    channel = bac(plain, MRZ_INFORMATION, seeded(2))
    assert plain.transmit(CommandApdu(0x00, 0xA4, 0x04, 0x0C, AID)).sw == 0x9000
    assert not chip.secure_messaging
    # The session is gone: a protected command is refused in plain.
    response = plain.transmit(channel.wrap(CommandApdu(0x00, 0xA4, 0x02, 0x0C, b"\x01\x01")))
    assert response == ResponseApdu(b"", 0x6987)


def test_a_wrong_mac_ends_secure_messaging():
    chip = make_chip()
    plain = VirtualTransport(chip)
    channel = bac(plain, MRZ_INFORMATION, seeded(2))
    protected = channel.wrap(CommandApdu(0x00, 0xA4, 0x04, 0x0C, AID))
    tampered = CommandApdu(
        protected.cla,
        protected.ins,
        protected.p1,
        protected.p2,
        protected.data[:-1] + bytes([protected.data[-1] ^ 1]),
        protected.ne,
    )
    assert plain.transmit(tampered) == ResponseApdu(b"", 0x6988)
    assert not chip.secure_messaging


def test_plain_access_chips_answer_without_access_control():
    chip = make_chip(plain_access=True)
    assert read_dg1(VirtualTransport(chip)) == DG1


@pytest.mark.parametrize(
    "password",
    [PacePassword.from_mrz(MRZ_INFORMATION), PacePassword.from_can(CAN)],
    ids=["mrz", "can"],
)
def test_pace_opens_the_chip(password):
    chip = make_chip()
    plain = VirtualTransport(chip)
    (parameters,) = pace_parameters_of(CARD_ACCESS)
    assert parameters == PaceParameters(PACE_OID, 13)
    channel = pace(plain, password, parameters, seeded(3))
    assert chip.secure_messaging
    assert read_dg1(SecureTransport(plain, channel)) == DG1


def test_pace_with_a_wrong_can_is_refused():
    chip = make_chip()
    with pytest.raises(AccessDenied):
        pace(
            VirtualTransport(chip),
            PacePassword.from_can("654321"),
            PaceParameters(PACE_OID, 13),
            seeded(3),
        )
    assert not chip.secure_messaging


def test_pace_steps_out_of_order_and_unknown_parameters():
    chip = make_chip()
    send = VirtualTransport(chip).transmit
    assert send(CommandApdu(0x10, 0x86, 0, 0, bytes.fromhex("7C00"), 256)).sw == 0x6985
    unknown_curve = bytes.fromhex("800A04007F00070202040202") + bytes.fromhex("830101840112")
    assert send(CommandApdu(0x00, 0x22, 0xC1, 0xA4, unknown_curve)).sw == 0x6A88
    assert send(CommandApdu(0x00, 0x22, 0xC1, 0xA5, unknown_curve)).sw == 0x6A86


def test_a_chip_without_pace_refuses_mse_set_at():
    chip = make_chip(pace=False)
    data = bytes.fromhex("800A04007F00070202040202830101")
    assert VirtualTransport(chip).transmit(CommandApdu(0x00, 0x22, 0xC1, 0xA4, data)).sw == 0x6D00


def test_a_card_access_with_nothing_usable_offers_no_pace():
    assert pace_parameters_of(b"\x31\x00") == ()
    assert pace_parameters_of(b"garbage") == ()


def test_active_authentication_under_secure_messaging():
    key = ec.generate_private_key(ec.SECP256R1())
    chip = make_chip(active=ActiveAuthenticator(key, random=seeded(4)))
    plain = VirtualTransport(chip)
    # Outside secure messaging the chip refuses.
    assert plain.transmit(CommandApdu(0x00, 0x88, 0, 0, bytes(8), 256)).sw == 0x6982
    secure = SecureTransport(plain, bac(plain, MRZ_INFORMATION, seeded(2)))
    result = active_authenticate(
        secure, key.public_key(), hash_algorithm="SHA-256", random=seeded(5)
    )
    assert result.ok
    assert chip.secure_messaging


def test_chip_authentication_with_3des_re_keys_a_bac_session():
    key = ec.generate_private_key(ec.BrainpoolP256R1())
    chip = make_chip(chip_auth=ChipAuthenticator(key))
    plain = VirtualTransport(chip)
    plain.transmit(CommandApdu(0x00, 0xA4, 0x04, 0x0C, AID))
    secure = SecureTransport(plain, bac(plain, MRZ_INFORMATION, seeded(2)))
    result = chip_authenticate(secure, key.public_key(), random=seeded(6))
    assert result.ok, result.reason
    assert read_dg1(secure) == DG1  # under the new keys


def test_chip_authentication_with_aes_after_pace():
    key = ec.generate_private_key(ec.SECP256R1())
    chip = make_chip(chip_auth=ChipAuthenticator(key, key_id=1))
    plain = VirtualTransport(chip)
    channel = pace(plain, PacePassword.from_can(CAN), PaceParameters(PACE_OID, 13), seeded(3))
    secure = SecureTransport(plain, channel)
    result = chip_authenticate(
        secure,
        key.public_key(),
        protocol=ca_protocol("ECDH", "AES-128"),
        key_id=1,
        random=seeded(6),
    )
    assert result.ok, result.reason
    assert read_dg1(secure) == DG1


def test_a_clone_fails_chip_authentication():
    chip = make_chip(chip_auth=ChipAuthenticator(ec.generate_private_key(ec.SECP256R1())))
    plain = VirtualTransport(chip)
    secure = SecureTransport(plain, bac(plain, MRZ_INFORMATION, seeded(2)))
    other = ec.generate_private_key(ec.SECP256R1()).public_key()  # DG14 of another chip
    assert not chip_authenticate(secure, other, random=seeded(6)).ok


def test_chip_authentication_needs_secure_messaging_and_a_key():
    send = VirtualTransport(make_chip()).transmit
    assert send(CommandApdu(0x00, 0x22, 0x41, 0xA6, bytes.fromhex("9100"))).sw == 0x6982
    chip = make_chip()
    plain = VirtualTransport(chip)
    secure = SecureTransport(plain, bac(plain, MRZ_INFORMATION, seeded(2)))
    assert secure.transmit(CommandApdu(0x00, 0x22, 0x41, 0xA6, bytes.fromhex("9100"))).sw == 0x6A86
    assert secure.transmit(CommandApdu(0x00, 0x86, 0, 0, bytes.fromhex("7C00"), 256)).sw == 0x6D00


def test_air_time_is_spent_through_the_injected_sleep():
    chip = VirtualChip(
        {"DG1": DG1},
        mrz_information=MRZ_INFORMATION,
        settings=ChipSettings(pace=False, plain_access=True),
        air_time=AirTime(bit_rate_kbps=106),
    )
    slept: list[float] = []
    transport = VirtualTransport(chip, sleep=slept.append)
    read_dg1(transport)
    assert len(slept) == 3
    expected = chip.air_time.seconds(5 + 7, 2, 0xA4)
    assert slept[0] == pytest.approx(expected)
    assert transport.air_seconds == pytest.approx(sum(slept))


@settings(max_examples=150, deadline=None)
@given(
    st.sampled_from([0x00, 0x0C, 0x10, 0x1C]),
    st.sampled_from([0xA4, 0xB0, 0xB1, 0x84, 0x82, 0x22, 0x86, 0x88, 0xCA]),
    st.integers(0, 255),
    st.integers(0, 255),
    st.binary(max_size=60),
    st.integers(0, 65536),
    st.booleans(),
)
def test_any_command_in_a_session_gets_a_status_word(cla, ins, p1, p2, data, ne, wrap):
    chip = make_chip(
        active=ActiveAuthenticator(AA_KEY, random=seeded(4)),
        chip_auth=ChipAuthenticator(CA_KEY),
    )
    plain = VirtualTransport(chip)
    channel = bac(plain, MRZ_INFORMATION, seeded(2))
    plain_command = CommandApdu(cla & 0xF3, ins, p1, p2, data, ne)
    command = channel.wrap(plain_command) if wrap else CommandApdu(cla, ins, p1, p2, data, ne)
    answer = chip.process(command.encode())
    assert len(answer) >= 2
    assert answer[-2:] != b"\x6f\x00"
