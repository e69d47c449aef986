"""BER-TLV reading with byte offsets, DER writing, and the file table."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from ldsfuzz import only_lds_errors

from egate.documents.lds.errors import LdsError
from egate.documents.lds.files import (
    EMRTD_AID,
    data_group,
    file_by_fid,
    file_by_sfi,
    file_by_tag,
    lds_file,
)
from egate.documents.lds.tlv import (
    encode_length,
    encode_tag,
    encode_tlv,
    read_file_tlv,
    read_tlv,
    read_tlvs,
    tag_name,
    total_length,
)


class TestReading:
    def test_one_byte_tag_short_length(self):
        obj = read_tlv(bytes.fromhex("5C026175"), "EF.COM")
        assert (obj.tag, obj.value, obj.offset, obj.value_offset, obj.end) == (
            0x5C,
            b"\x61\x75",
            0,
            2,
            4,
        )
        assert not obj.constructed

    def test_two_byte_tags(self):
        assert read_tlv(bytes.fromhex("5F1F0141"), "DG1").tag == 0x5F1F
        obj = read_tlv(bytes.fromhex("7F61020201"), "DG2")
        assert obj.tag == 0x7F61 and obj.constructed and obj.value == b"\x02\x01"

    def test_three_byte_tag(self):
        assert read_tlv(bytes.fromhex("5F811F00"), "X").tag == 0x5F811F

    @pytest.mark.parametrize(
        ("header", "length"),
        [("04 81 80", 0x80), ("04 82 0100", 0x100), ("04 83 010000", 0x10000)],
    )
    def test_long_form_lengths(self, header, length):
        raw = bytes.fromhex(header) + bytes(length)
        obj = read_tlv(raw, "X")
        assert len(obj.value) == length and obj.end == len(raw)

    def test_non_minimal_lengths_are_read(self):
        assert read_tlv(bytes.fromhex("0481020000"), "X").value == b"\0\0"

    def test_children_keep_the_files_offsets(self):
        raw = bytes.fromhex("6108 5F1F02 4142 5C01 61")
        outer = read_tlv(raw, "DG1")
        first, second = outer.children()
        assert (first.tag, first.offset, first.value_offset) == (0x5F1F, 2, 5)
        assert (second.tag, second.offset, second.value) == (0x5C, 7, b"\x61")

    def test_a_sequence(self):
        assert [o.tag for o in read_tlvs(bytes.fromhex("0100 0201FF 0300"), "X")] == [1, 2, 3]

    def test_tag_names(self):
        assert [tag_name(t) for t in (0x61, 0x5F1F, 0x7F61, 0)] == ["61", "5F1F", "7F61", "00"]


class TestFaults:
    @pytest.mark.parametrize(
        ("hex_bytes", "offset", "reason"),
        [
            ("", 0, "cut short before its tag"),
            ("5F", 1, "tag 5F cut short"),
            ("5F8001", 1, "padded"),
            ("5F818181", 0, "tag longer than 3 bytes"),
            ("61", 1, "length missing"),
            ("6180", 1, "indefinite length"),
            ("6185", 1, "length of 5 bytes"),
            ("6182FF", 1, "length cut short"),
            ("6105AABB", 1, "length 5 runs past the end (2 bytes left)"),
        ],
    )
    def test_each_fault_names_file_and_byte(self, hex_bytes, offset, reason):
        with pytest.raises(LdsError) as caught:
            read_tlv(bytes.fromhex(hex_bytes), "DG7")
        assert caught.value.file == "DG7" and caught.value.offset == offset
        assert str(caught.value).startswith(f"DG7: byte {offset}: ")
        assert reason in str(caught.value)

    def test_a_nested_fault_is_at_its_place_in_the_file(self):
        outer = read_tlv(bytes.fromhex("75 04 7F61 05 02"), "DG2")
        with pytest.raises(LdsError, match=r"^DG2: byte 4: 7F61: length 5 runs past"):
            outer.children()

    def test_a_file_is_one_object_of_its_tag(self):
        assert read_file_tlv(bytes.fromhex("6F0100"), "DG15", 0x6F).value == b"\0"
        with pytest.raises(LdsError, match=r"^DG15: byte 0: tag 6E where 6F was expected"):
            read_file_tlv(bytes.fromhex("6E0100"), "DG15", 0x6F)
        with pytest.raises(LdsError, match=r"^DG15: byte 3: 2 bytes after the end"):
            read_file_tlv(bytes.fromhex("6F01000000"), "DG15", 0x6F)

    def test_lds_error_is_a_value_error(self):
        assert issubclass(LdsError, ValueError)
        error = LdsError("DG2", 41, "bad")
        assert (error.file, error.offset, error.reason, str(error)) == (
            "DG2",
            41,
            "bad",
            "DG2: byte 41: bad",
        )


class TestWriting:
    def test_lengths_take_the_fewest_bytes(self):
        assert [encode_length(n).hex() for n in (0, 0x7F, 0x80, 0xFF, 0x100, 0x10000)] == [
            "00",
            "7f",
            "8180",
            "81ff",
            "820100",
            "83010000",
        ]

    def test_tags(self):
        assert encode_tag(0x5F1F) == b"\x5f\x1f" and encode_tag(0x61) == b"\x61"
        for bad in (0x1F, 0x5F, 0x5F80, 0x5F9F, -1):
            with pytest.raises(ValueError):
                encode_tag(bad)

    def test_total_length_from_the_first_bytes(self):
        assert total_length(bytes.fromhex("75823AE77F61"), "DG2") == 0x3AE7 + 4
        assert total_length(bytes.fromhex("6016"), "EF.COM") == 0x18
        with pytest.raises(LdsError, match=r"^DG2: byte 1: 75: length cut short"):
            total_length(bytes.fromhex("7582"), "DG2")


tags = st.sampled_from([0x01, 0x30, 0x61, 0x5C, 0x5F1F, 0x7F61, 0x7F2E, 0x5F811F])


@given(st.lists(st.tuples(tags, st.binary(max_size=300)), max_size=5))
def test_what_is_written_reads_back(objects):
    raw = b"".join(encode_tlv(tag, value) for tag, value in objects)
    assert [(o.tag, o.value) for o in read_tlvs(raw, "X")] == objects


@given(st.binary(max_size=64))
def test_arbitrary_bytes_raise_only_lds_errors(data):
    only_lds_errors(lambda raw: [o.children() for o in read_tlvs(raw, "DG9")], data, "DG9")
    only_lds_errors(lambda raw: total_length(raw, "DG9"), data, "DG9")


class TestFiles:
    def test_data_groups(self):
        dg2 = data_group(2)
        assert (dg2.name, dg2.fid, dg2.sfi, dg2.tag, dg2.data_group) == ("DG2", 0x0102, 2, 0x75, 2)
        assert [data_group(n).tag for n in (1, 11, 12, 14, 15, 16)] == [
            0x61,
            0x6B,
            0x6C,
            0x6E,
            0x6F,
            0x70,
        ]
        assert data_group(15).fid_bytes == b"\x01\x0f"

    def test_the_other_files(self):
        com, sod, access = lds_file("EF.COM"), lds_file("EF.SOD"), lds_file("EF.CardAccess")
        assert (com.fid, com.sfi, com.tag) == (0x011E, 0x1E, 0x60)
        assert (sod.fid, sod.sfi, sod.tag) == (0x011D, 0x1D, 0x77)
        assert (access.fid, access.sfi, access.master_file) == (0x011C, 0x1C, True)
        assert EMRTD_AID.hex().upper() == "A0000002471001"

    def test_lookups(self):
        assert file_by_fid(0x011D).name == "EF.SOD"
        assert file_by_fid(0x011D, master_file=True).name == "EF.CardSecurity"
        assert file_by_sfi(0x1C, master_file=True).name == "EF.CardAccess"
        assert file_by_tag(0x75).name == "DG2"
        assert file_by_fid(0x0199) is None and file_by_tag(0x99) is None
        with pytest.raises(KeyError):
            lds_file("DG17")
        with pytest.raises(KeyError):
            data_group(0)
