"""The chip reader: BAC key derivation (ICAO 9303 part 11) and the mock reader's statuses."""

from __future__ import annotations

from datetime import date

import pytest

from egate.documents.checkdigit import check_digit
from egate.documents.layout import MrzFormat
from egate.documents.mrz import parse_mrz
from egate.documents.specimens import SPECIMENS
from hardware.chip import (
    ChipRead,
    ChipReader,
    ChipStatus,
    MockChip,
    MockChipReader,
    adjust_des_parity,
    bac_key_seed,
    bac_keys,
    mrz_information,
)

TODAY = date(2024, 5, 1)
# The worked example of ICAO Doc 9303 part 11, appendix D: the BAC keys of the specimen.
EXAMPLE_MRZ_INFORMATION = "L898902C<369080619406236"
EXAMPLE_K_SEED = "239AB9CB282DAF66231DC5A4DF6BFBAE"
EXAMPLE_K_ENC = "AB94FDECF2674FDFB9B391F85D7F76F2"
EXAMPLE_K_MAC = "7962D9ECE03D1ACD4C76089DCE131543"

TD3 = SPECIMENS[MrzFormat.TD3]
TD1 = SPECIMENS[MrzFormat.TD1]
FACE = b"\xff\xd8\xff\xe0 a JPEG, as DG2 stores it"


def odd_parity(key: bytes) -> bool:
    return all(byte.bit_count() % 2 == 1 for byte in key)


class TestBasicAccessControl:
    def test_the_worked_example(self):
        seed = bac_key_seed(EXAMPLE_MRZ_INFORMATION)
        assert seed.hex().upper() == EXAMPLE_K_SEED
        k_enc, k_mac = bac_keys(seed)
        assert k_enc.hex().upper() == EXAMPLE_K_ENC
        assert k_mac.hex().upper() == EXAMPLE_K_MAC
        assert odd_parity(k_enc) and odd_parity(k_mac)

    def test_parity_adjustment(self):
        assert adjust_des_parity(bytes([0x00, 0x01, 0xFF, 0xFE, 0x80])) == bytes(
            [0x01, 0x01, 0xFE, 0xFE, 0x80]
        )
        every = bytes(range(256))
        adjusted = adjust_des_parity(every)
        assert odd_parity(adjusted)
        # Only the lowest bit of each byte may change.
        assert all(a >> 1 == b >> 1 for a, b in zip(every, adjusted, strict=True))

    def test_the_key_seed_is_ascii_only(self):
        with pytest.raises(ValueError):
            bac_key_seed("L898902C<36908061940623É")


class TestMrzInformation:
    def test_the_specimen_passport_gives_the_worked_example(self):
        assert mrz_information(parse_mrz(TD3, TODAY)) == EXAMPLE_MRZ_INFORMATION

    def test_an_identity_card(self):
        assert mrz_information(parse_mrz(TD1, TODAY)) == "D23145890774081221204159"

    def test_a_repaired_read_gives_the_printed_key(self):
        misread = (TD3[0], TD3[1].replace("6908061", "69O8O61"))
        result = parse_mrz(misread, TODAY)
        assert result.valid and result.repairs
        assert mrz_information(result) == EXAMPLE_MRZ_INFORMATION

    def test_a_long_document_number_counts_whole(self):
        number = "D23145890734"
        digit = check_digit(number)
        line1 = f"I<UTO{number[:9]}<{number[9:]}{digit}<".ljust(30, "<")
        lines = (line1, TD1[1], TD1[2])
        assert len(line1) == 30
        assert mrz_information(parse_mrz(lines, TODAY)) == f"{number}{digit}7408122" + "1204159"


def chip(**options) -> MockChip:
    return MockChip.of(TD3, FACE, **options)


class RecordedSleep:
    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture
def sleep() -> RecordedSleep:
    return RecordedSleep()


@pytest.fixture
def reader(sleep) -> MockChipReader:
    reader = MockChipReader(sleep=sleep)
    reader.load(chip())
    reader.present("L898902C")
    return reader


class TestMockChipReader:
    def test_the_right_key_reads_dg1_and_dg2(self, reader, sleep):
        assert isinstance(reader, ChipReader)
        read = reader.read(EXAMPLE_MRZ_INFORMATION)
        assert read == ChipRead(ChipStatus.OK, TD3, FACE, 0.0)
        assert sleep.calls == []

    @pytest.mark.parametrize(
        "key",
        [
            "L898902C<369080619406237",  # expiry check digit misread
            "L898902C3<69080619406236",
            "",
            "L898902C<36908061940623É",
        ],
    )
    def test_a_wrong_key_is_denied(self, reader, key):
        assert reader.read(key) == ChipRead(ChipStatus.ACCESS_DENIED)

    def test_nothing_on_the_reader_is_absent(self, reader):
        reader.present(None)
        assert reader.read(EXAMPLE_MRZ_INFORMATION).status is ChipStatus.ABSENT

    def test_a_document_without_a_loaded_chip_is_absent(self, reader):
        reader.present("D23145890")
        assert reader.read(EXAMPLE_MRZ_INFORMATION) == ChipRead(ChipStatus.ABSENT)

    def test_chips_are_kept_per_document_number(self, reader):
        reader.load(MockChip.of(TD1, None))
        reader.present("D23145890")
        assert reader.read(EXAMPLE_MRZ_INFORMATION).status is ChipStatus.ACCESS_DENIED
        read = reader.read("D23145890774081221204159")
        assert read.status is ChipStatus.OK and read.dg1_mrz == TD1 and read.dg2_image is None

    def test_a_damaged_chip_is_unreadable_and_takes_its_time(self, sleep):
        reader = MockChipReader(sleep=sleep)
        reader.load(chip(unreadable=True, read_seconds=6.5))
        reader.present("L898902C")
        assert reader.read(EXAMPLE_MRZ_INFORMATION) == ChipRead(
            ChipStatus.UNREADABLE, read_seconds=6.5
        )
        assert sleep.calls == [6.5]

    def test_fail_next_makes_reads_unreadable_then_recovers(self, reader):
        reader.fail_next(2)
        statuses = [reader.read(EXAMPLE_MRZ_INFORMATION).status for _ in range(3)]
        assert statuses == [ChipStatus.UNREADABLE, ChipStatus.UNREADABLE, ChipStatus.OK]
        with pytest.raises(ValueError):
            reader.fail_next(-1)

    def test_read_time_is_slept_and_reported(self, sleep):
        reader = MockChipReader(sleep=sleep)
        reader.load(chip(read_seconds=12.0))
        reader.present("L898902C")
        assert reader.read(EXAMPLE_MRZ_INFORMATION).read_seconds == 12.0
        assert reader.read("L898902C<369080619406230").status is ChipStatus.ACCESS_DENIED
        assert sleep.calls == [12.0]  # a denied read fails at authentication, at once

    def test_an_altered_printed_mrz_does_not_open_the_chip(self, sleep):
        # The data page was altered (new expiry date); the chip keeps the key it was issued with.
        expiry = "300623" + check_digit("300623")
        altered = (TD3[0], TD3[1][:21] + expiry + TD3[1][28:])
        original_key = EXAMPLE_MRZ_INFORMATION
        reader = MockChipReader(sleep=sleep)
        reader.load(MockChip.of(altered, FACE, access_key=original_key))
        reader.present("L898902C")
        printed_key = mrz_information(parse_mrz(altered, TODAY, repair=False))
        assert printed_key == "L898902C<36908061" + expiry
        assert reader.read(printed_key).status is ChipStatus.ACCESS_DENIED
        assert reader.read(original_key).status is ChipStatus.OK

    def test_negative_read_time_is_refused(self):
        with pytest.raises(ValueError, match="read_seconds"):
            chip(read_seconds=-1.0)


class TestPrivacy:
    def test_reprs_show_no_personal_data(self, reader):
        read = reader.read(EXAMPLE_MRZ_INFORMATION)
        shown = repr(read) + repr(chip())
        assert "L898902C" not in shown and "ERIKSSON" not in shown and "JPEG" not in shown
        assert repr(read) == (
            f"ChipRead(status=ok, read_seconds=0.00, dg1=<redacted>, dg2=<{len(FACE)} bytes>)"
        )

    def test_a_failed_read_carries_no_data(self):
        with pytest.raises(ValueError, match="carries no data"):
            ChipRead(ChipStatus.ACCESS_DENIED, dg1_mrz=TD3)
