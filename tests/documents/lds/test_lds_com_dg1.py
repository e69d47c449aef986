"""EF.COM and DG1 on Doc 9303's and BSI TR-03105's worked examples, round trips, faults."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st
from ldsfuzz import damaged, only_lds_errors

from egate.documents.lds.com import Com, encode_com, parse_com
from egate.documents.lds.dg1 import encode_dg1, parse_dg1
from egate.documents.lds.errors import LdsError
from egate.documents.lds.tlv import encode_tlv
from egate.documents.mrz import parse_mrz

# Doc 9303 part 10 appendix A, EF.COM test cases 1 and 2: LDS 1.7 (and 15.99),
# Unicode 4.0.0, DG1, DG2, DG4 and DG12.
ICAO_COM = bytes.fromhex("60165F0104303130375F36063034303030305C046175766C")
ICAO_COM_1599 = bytes.fromhex("60165F0104313539395F36063034303030305C046175766C")
LDS = encode_tlv(0x5F01, b"0107")
UNICODE = encode_tlv(0x5F36, b"040000")
TAGS = encode_tlv(0x5C, b"\x61\x75")

# BSI TR-03105 part 5.1 default EAC+AA passport's DG1 (Erika Mustermann, TD3).
BSI_DG1 = bytes.fromhex(
    "615B5F1F58503C443C3C4D55535445524D414E4E3C3C4552494B413C3C3C3C3C3C3C3C3C3C3C3C3C3C3C"
    "3C3C3C3C3C3C3C433131543030324A4D34443C3C3936303831323246323331303331343C3C3C3C3C3C3C"
    "3C3C3C3C3C3C3C3034"
)
# Doc 9303 part 10 appendix A: a TD1 (Netherlands) and, as republished with its
# check digits mended, a TD2; part 4 appendix B's specimen passport (TD3).
ICAO_TD1 = bytes.fromhex(
    "615D5F1F5A493C4E4C44584938353933354638363939393939393939303C3C3C3C3C3C37323038313438"
    "46313130383236384E4C443C3C3C3C3C3C3C3C3C3C3C3856414E3C4445523C535445454E3C3C4D415249"
    "414E4E453C4C4F55495345"
)
ICAO_TD2 = bytes.fromhex(
    "614B5F1F48493C415441534D4954483C3C4A4F484E3C543C3C3C3C3C3C3C3C3C3C3C3C3C3C3C3C3C3C31"
    "32333435363738393C484D44373430363232314D31303132333132303132323C3C3C30"
)
ICAO_TD3 = bytes.fromhex(
    "615B5F1F58503C55544F4552494B53534F4E3C3C414E4E413C4D415249413C3C3C3C3C3C3C3C3C3C3C3C"
    "3C3C3C3C3C3C3C4C38393839303243333655544F3734303831323246313230343135395A453138343232"
    "36423C3C3C3C3C3130"
)


class TestCom:
    def test_the_icao_example(self):
        com = parse_com(ICAO_COM)
        assert com == Com("0107", "040000", (0x61, 0x75, 0x76, 0x6C))
        assert com.data_groups == (1, 2, 4, 12)
        assert parse_com(ICAO_COM_1599).lds_version == "1599"

    def test_written_as_the_icao_example(self):
        assert encode_com([1, 2, 4, 12], lds_version="0107", unicode_version="040000") == ICAO_COM

    def test_defaults_and_round_trip(self):
        com = parse_com(encode_com([1, 2, 14, 15]))
        assert (com.lds_version, com.unicode_version, com.data_groups) == (
            "0108",
            "040000",
            (1, 2, 14, 15),
        )

    def test_unknown_tags_are_kept_but_name_no_data_group(self):
        com = parse_com(encode_tlv(0x60, LDS + UNICODE + encode_tlv(0x5C, b"\x61\x99\x75")))
        assert com.tags == (0x61, 0x99, 0x75) and com.data_groups == (1, 2)

    @pytest.mark.parametrize(
        ("content", "message"),
        [
            (b"", r"^EF\.COM: byte 2: 5F01 missing"),
            (LDS + TAGS, r"^EF\.COM: byte 2: 5F36 missing"),
            (LDS + UNICODE, r"^EF\.COM: byte 2: 5C missing"),
            (LDS + UNICODE + TAGS + LDS, r"^EF\.COM: byte 22: 5F01 appears twice"),
            (encode_tlv(0x5F01, b"01A7") + UNICODE + TAGS, r"^EF\.COM: byte 2: the LDS version"),
            (LDS + encode_tlv(0x5F36, b"0400") + TAGS, r"^EF\.COM: byte 9: the Unicode version"),
            (LDS + b"\x5f", r"^EF\.COM: byte 10: tag 5F cut short"),
        ],
        ids=["empty", "no 5F36", "no 5C", "twice", "LDS version", "Unicode version", "cut"],
    )
    def test_faults(self, content, message):
        with pytest.raises(LdsError, match=message):
            parse_com(encode_tlv(0x60, content))

    def test_not_an_ef_com(self):
        with pytest.raises(LdsError, match=r"^EF\.COM: byte 0: tag 61 where 60 was expected"):
            parse_com(bytes.fromhex("6100"))

    def test_bad_arguments(self):
        with pytest.raises(ValueError, match="twice"):
            encode_com([1, 1])
        with pytest.raises(KeyError):
            encode_com([17])
        with pytest.raises(ValueError, match="four digits"):
            encode_com([1], lds_version="1.8")

    @given(st.binary(max_size=40))
    def test_arbitrary_bytes(self, data):
        only_lds_errors(parse_com, data, "EF.COM")

    @given(damaged(ICAO_COM))
    def test_damaged_files(self, data):
        only_lds_errors(parse_com, data, "EF.COM")


class TestDg1:
    def test_the_bsi_passport(self):
        dg1 = parse_dg1(BSI_DG1)
        assert dg1.format == "TD3"
        assert dg1.lines == (
            "P<D<<MUSTERMANN<<ERIKA<<<<<<<<<<<<<<<<<<<<<<",
            "C11T002JM4D<<9608122F2310314<<<<<<<<<<<<<<04",
        )
        mrz = parse_mrz(dg1.lines, date(2020, 1, 1), repair=False)
        assert mrz.valid and mrz.fields.surname == "MUSTERMANN"
        assert mrz.fields.document_number == "C11T002JM"

    @pytest.mark.parametrize(
        ("raw", "kind", "first_line", "number"),
        [
            (ICAO_TD1, "TD1", "I<NLDXI85935F86999999990<<<<<<", "XI85935F8"),
            (ICAO_TD2, "TD2", "I<ATASMITH<<JOHN<T<<<<<<<<<<<<<<<<<<", "123456789012"),
            (ICAO_TD3, "TD3", "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<", "L898902C3"),
        ],
    )
    def test_the_icao_examples(self, raw, kind, first_line, number):
        dg1 = parse_dg1(raw)
        assert dg1.format == kind and dg1.lines[0] == first_line
        mrz = parse_mrz(dg1.lines, date(2008, 1, 1), repair=False)
        assert mrz.valid and mrz.fields.document_number == number

    @pytest.mark.parametrize("raw", [BSI_DG1, ICAO_TD1, ICAO_TD2, ICAO_TD3])
    def test_written_byte_for_byte(self, raw):
        assert encode_dg1(parse_dg1(raw).lines) == raw

    def test_one_string_with_newlines(self):
        assert encode_dg1("\n".join(parse_dg1(BSI_DG1).lines)) == BSI_DG1

    def test_repr_hides_the_mrz(self):
        shown = repr(parse_dg1(BSI_DG1)) + str(parse_dg1(BSI_DG1))
        assert "MUSTERMANN" not in shown and "C11T002JM" not in shown
        assert "TD3" in shown and "redacted" in shown

    @pytest.mark.parametrize(
        ("raw", "message"),
        [
            ("6100", r"^DG1: byte 0: 5F1F \(the MRZ\) missing"),
            ("61045F1F0141", r"^DG1: byte 2: an MRZ of 1 characters"),
            ("61035C0141", r"^DG1: byte 2: tag 5C where 5F1F was expected"),
            ("61065F1F00 5C0100".replace(" ", ""), r"^DG1: byte 5: DG1 holds more"),
        ],
    )
    def test_faults(self, raw, message):
        with pytest.raises(LdsError, match=message):
            parse_dg1(bytes.fromhex(raw))

    def test_a_character_no_mrz_has(self):
        raw = bytearray(BSI_DG1)
        raw[5 + 3] = ord("d")
        with pytest.raises(LdsError, match=r"^DG1: byte 8: byte 64 is not an MRZ character"):
            parse_dg1(bytes(raw))

    def test_bad_arguments(self):
        lines = parse_dg1(BSI_DG1).lines
        with pytest.raises(ValueError, match="2 lines of 44"):
            encode_dg1([lines[0] + lines[1][:2], lines[1][2:]])
        with pytest.raises(ValueError, match="88 expected"):
            encode_dg1([lines[0]])
        with pytest.raises(ValueError, match="other than"):
            encode_dg1([lines[0].lower(), lines[1]])

    @given(st.binary(max_size=100))
    def test_arbitrary_bytes(self, data):
        only_lds_errors(parse_dg1, data, "DG1")

    @given(damaged(BSI_DG1))
    def test_damaged_files(self, data):
        only_lds_errors(parse_dg1, data, "DG1")
