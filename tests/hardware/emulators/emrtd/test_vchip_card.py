"""The virtual chip's file system and dispatch: SELECT, READ BINARY, access rules, faults."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from egate.documents.lds.dg1 import encode_dg1
from hardware.emrtd.apdu import CommandApdu, ResponseApdu
from hardware.emulators.emrtd.airtime import AirTime
from hardware.emulators.emrtd.card import ChipSettings, VirtualChip

AID = bytes.fromhex("A0000002471001")
SPECIMEN = (
    "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<",
    "L898902C<3UTO6908061F9406236ZE184226B<<<<<14",
)
MRZ_INFORMATION = "L898902C<369080619406236"
# A DG2 longer than 32767 bytes, so that its tail needs READ BINARY B1.
DG2 = bytes([0x75, 0x82, 0x9C, 0x00]) + bytes(range(256)) * 156
CARD_ACCESS = bytes.fromhex("3114300F060A04007F0007020204020202010202010D")
COM = bytes.fromhex("60165F0104303130375F36063034303030305C046175")


def make_chip(**overrides: object) -> VirtualChip:
    files = {
        "EF.COM": COM,
        "DG1": encode_dg1(SPECIMEN),
        "DG2": DG2,
        "EF.CardAccess": CARD_ACCESS,
        "EF.SOD": b"\x77\x03\x01\x02\x03",
    }
    chip_settings = ChipSettings(**overrides)
    return VirtualChip(
        files, mrz_information=MRZ_INFORMATION, settings=chip_settings, air_time=AirTime.zero()
    )


def send(chip: VirtualChip, command: CommandApdu) -> ResponseApdu:
    return ResponseApdu.decode(chip.process(command.encode()))


def select_aid(chip: VirtualChip) -> ResponseApdu:
    return send(chip, CommandApdu(0x00, 0xA4, 0x04, 0x0C, AID))


def select_ef(chip: VirtualChip, fid: int, p1: int = 0x02) -> ResponseApdu:
    return send(chip, CommandApdu(0x00, 0xA4, p1, 0x0C, fid.to_bytes(2, "big")))


def read(chip: VirtualChip, offset: int, ne: int) -> ResponseApdu:
    return send(chip, CommandApdu(0x00, 0xB0, offset >> 8, offset & 0xFF, ne=ne))


def read_odd(chip: VirtualChip, offset: int, ne: int, reference: int = 0) -> ResponseApdu:
    do54 = bytes([0x54, 3]) + offset.to_bytes(3, "big")
    return send(chip, CommandApdu(0x00, 0xB1, reference >> 8, reference & 0xFF, do54, ne))


def test_select_the_application_and_read_a_file_whole():
    chip = make_chip(plain_access=True)
    assert select_aid(chip) == ResponseApdu(b"", 0x9000)
    assert select_ef(chip, 0x0101) == ResponseApdu(b"", 0x9000)
    first = read(chip, 0, 4)
    assert first == ResponseApdu(encode_dg1(SPECIMEN)[:4], 0x9000)
    rest = read(chip, 4, 256)
    assert rest.sw == 0x6282  # the file ends before Le
    assert first.data + rest.data == encode_dg1(SPECIMEN)


def test_read_binary_with_a_short_ef_id_selects_the_file():
    chip = make_chip(plain_access=True)
    select_aid(chip)
    response = send(chip, CommandApdu(0x00, 0xB0, 0x80 | 0x1E, 2, ne=3))
    assert response == ResponseApdu(COM[2:5], 0x9000)
    # The file stays current: an offset read continues in EF.COM.
    assert read(chip, 5, 2) == ResponseApdu(COM[5:7], 0x9000)


def test_extended_le_reads_a_large_file_in_one_command():
    chip = make_chip(plain_access=True)
    select_aid(chip)
    select_ef(chip, 0x0102)
    assert read(chip, 0, 65536) == ResponseApdu(DG2, 0x6282)


def test_read_binary_odd_ins_reaches_offsets_beyond_32767():
    chip = make_chip(plain_access=True)
    select_aid(chip)
    select_ef(chip, 0x0102)
    offset = 35000
    response = read_odd(chip, offset, 256)
    assert response.sw == 0x9000
    # DO 53 with a two-byte long-form length: 53 81 xx, filling Le exactly.
    assert response.data[:3] == bytes([0x53, 0x81, 253])
    assert response.data[3:] == DG2[offset : offset + 253]
    # By short EF id in P1-P2, past the end of the file's bytes.
    tail = read_odd(chip, len(DG2) - 10, 256, reference=0x02)
    assert tail == ResponseApdu(bytes([0x53, 10]) + DG2[-10:], 0x9000)


def test_select_by_fid_from_the_mf_and_file_control_parameters():
    chip = make_chip()
    answer = send(chip, CommandApdu(0x00, 0xA4, 0x02, 0x04, bytes.fromhex("011C"), 256))
    assert answer.sw == 0x9000
    size = len(CARD_ACCESS).to_bytes(2, "big")
    assert answer.data == bytes([0x62, 11, 0x80, 2, *size, 0x82, 1, 1, 0x83, 2, 0x01, 0x1C])
    assert read(chip, 0, 256) == ResponseApdu(CARD_ACCESS, 0x6282)
    # The application's files are not children of the MF.
    assert select_ef(chip, 0x0101).sw == 0x6A82


def test_ef_cardaccess_is_public_and_everything_else_needs_access_control():
    chip = make_chip()
    assert send(chip, CommandApdu(0x00, 0xB0, 0x80 | 0x1C, 0, ne=256)).data == CARD_ACCESS
    assert select_aid(chip).sw == 0x9000
    # EF.CardAccess from inside the application, by short EF id: still public.
    assert send(chip, CommandApdu(0x00, 0xB0, 0x9C, 0, ne=4)).data == CARD_ACCESS[:4]
    assert select_ef(chip, 0x0101).sw == 0x6982
    assert send(chip, CommandApdu(0x00, 0xB0, 0x81, 0, ne=4)).sw == 0x6982
    assert send(chip, CommandApdu(0x00, 0x88, 0, 0, bytes(8), 256)).sw == 0x6D00


def test_a_chip_without_pace_hides_ef_cardaccess():
    chip = make_chip(pace=False)
    assert select_ef(chip, 0x011C).sw == 0x6A82


def test_a_pace_chip_needs_ef_cardaccess():
    with pytest.raises(ValueError, match=r"EF\.CardAccess"):
        VirtualChip({"DG1": encode_dg1(SPECIMEN)}, mrz_information=MRZ_INFORMATION)


@pytest.mark.parametrize(
    ("command", "sw"),
    [
        (b"\x00\xa4", 0x6700),  # shorter than a header
        (b"\x00\xa4\x04\x0c\x05\x01", 0x6700),  # Lc says more than there is
        (b"\x80\xa4\x04\x0c", 0x6E00),  # proprietary class
        (b"\x01\xa4\x04\x0c", 0x6881),  # a logical channel
        (b"\x04\xa4\x04\x0c", 0x6E00),  # proprietary secure messaging
        (b"\x0c\xb0\x00\x00\x00", 0x6987),  # secure messaging without a session
        (b"\x00\xca\x00\x00\x00", 0x6D00),  # GET DATA: not an eMRTD command
        (b"\x00\xa4\x01\x0c\x02\x01\x01", 0x6A86),  # select a child DF: not here
        (b"\x00\xa4\x04\x01\x07" + AID, 0x6A86),  # next occurrence
        (b"\x00\xa4\x04\x0c\x07\xa0\x00\x00\x02\x47\x10\x02", 0x6A82),  # another AID
        (b"\x00\xa4\x02\x0c\x03\x01\x01\x01", 0x6700),  # a FID of three bytes
        (b"\x00\xa4\x02\x0c\x02\x01\x42", 0x6A82),  # no such file
        (b"\x00\xb0\x00\x00\x10", 0x6986),  # READ BINARY with no current EF
        (b"\x00\xb0\xbf\x00\x10", 0x6A86),  # short EF id with bits 7-6 set
        (b"\x00\xb0\x9b\x00\x10", 0x6A82),  # short EF id of no file
    ],
)
def test_malformed_commands_get_their_status_words(command, sw):
    chip = make_chip()
    assert ResponseApdu.decode(chip.process(command)).sw == sw


def test_read_binary_status_words():
    chip = make_chip(plain_access=True)
    select_aid(chip)
    select_ef(chip, 0x0101)
    size = len(encode_dg1(SPECIMEN))
    assert read(chip, size + 1, 1).sw == 0x6B00
    assert read(chip, size, 1) == ResponseApdu(b"", 0x6282)
    assert send(chip, CommandApdu(0x00, 0xB0, 0, 0)).sw == 0x6700  # no Le
    assert send(chip, CommandApdu(0x00, 0xB0, 0, 0, b"\x01", 1)).sw == 0x6700  # data
    bad_do = CommandApdu(0x00, 0xB1, 0, 0, bytes.fromhex("5300"), 16)
    assert send(chip, bad_do).sw == 0x6A80
    too_small = read_odd(chip, 0, 2)
    assert too_small.sw == 0x6700  # Le leaves no room for a byte inside DO 53


def test_read_buffer_limits_one_answer():
    chip = make_chip(plain_access=True, read_buffer=1000)
    select_aid(chip)
    select_ef(chip, 0x0102)
    assert read(chip, 0, 65536) == ResponseApdu(DG2[:1000], 0x9000)


def test_mute_after_is_a_card_taken_off_the_reader():
    chip = make_chip(mute_after=2)
    assert chip.process(bytes.fromhex("00A4040C07") + AID) == b"\x90\x00"
    assert chip.process(bytes.fromhex("00A4040C07") + AID) == b"\x90\x00"
    assert chip.process(bytes.fromhex("00A4040C07") + AID) == b""
    assert not chip.present
    assert chip.process(b"\x00\xa4\x00\x0c") == b""
    chip.insert()
    assert chip.present
    assert chip.process(b"\x00\xa4\x00\x0c") == b"\x90\x00"


def test_corrupt_flips_one_byte_of_a_file():
    chip = make_chip(plain_access=True, corrupt={"DG2": 5})
    select_aid(chip)
    select_ef(chip, 0x0102)
    data = read(chip, 0, 8).data
    assert data[:5] == DG2[:5]
    assert data[5] == DG2[5] ^ 0xFF
    assert data[6:] == DG2[6:8]
    assert chip.file("DG2") != DG2


def test_settings_are_checked():
    with pytest.raises(ValueError, match="not an LDS file"):
        ChipSettings(corrupt={"DG99": 1})
    with pytest.raises(ValueError, match="beyond"):
        make_chip(corrupt={"EF.SOD": 99})
    with pytest.raises(ValueError, match="not LDS file names"):
        VirtualChip({"EF.FOO": b""}, mrz_information=MRZ_INFORMATION)


def test_repr_names_files_not_their_content():
    text = repr(make_chip())
    assert "DG1=" in text
    assert "ERIKSSON" not in text


def test_reset_closes_the_application():
    chip = make_chip(plain_access=True)
    select_aid(chip)
    assert select_ef(chip, 0x0101).sw == 0x9000
    chip.reset()
    assert select_ef(chip, 0x0101).sw == 0x6A82


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=300))
@example(b"\x00\xb1\x00\x00\x03\x54\x01\xff\x00")
@example(b"\x0c\xb0\x00\x00\x00\x00\x00")
@example(b"\x00\xb1\x01\x02\x00\x00\x05\x54\x03\x01\x00\x00\x00\x00")
def test_no_byte_string_makes_the_chip_raise(apdu):
    for chip in (make_chip(), make_chip(plain_access=True)):
        select_aid(chip)
        answer = chip.process(apdu)
        assert len(answer) >= 2
        # 6F00 is the chip's last resort: a command it could not handle.
        assert answer[-2:] != b"\x6f\x00"


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from([0x00, 0x0C, 0x10]),
    st.sampled_from([0xA4, 0xB0, 0xB1, 0x84, 0x82, 0x22, 0x86, 0x88]),
    st.integers(0, 255),
    st.integers(0, 255),
    st.binary(max_size=40),
    st.integers(0, 65536),
)
def test_well_formed_commands_of_every_kind_get_a_status_word(cla, ins, p1, p2, data, ne):
    chip = make_chip()
    select_aid(chip)
    answer = chip.process(CommandApdu(cla, ins, p1, p2, data, ne).encode())
    assert len(answer) >= 2
    assert answer[-2:] != b"\x6f\x00"
