"""DG11 (personal details) and DG12 (document details): fields, names in A0, BCD dates, repr."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from ldsfuzz import damaged, only_lds_errors

from egate.documents.lds.dg11 import PersonalDetails, encode_dg11, parse_dg11
from egate.documents.lds.dg12 import DocumentDetails, encode_dg12, parse_dg12
from egate.documents.lds.errors import LdsError
from egate.documents.lds.tlv import encode_tlv, read_tlv

# A published DG11 (the pymrtd test suite's): full name, date and place of birth.
PUBLISHED_DG11 = bytes.fromhex(
    "6B305C065F0E5F2B5F115F0E0C546573743C3C5465737465725F2B0831393730313230315F110B4E6F72"
    "7468616D70746F6E"
)
FULL_DG11 = PersonalDetails(
    full_name="MUSTERMANN<<ERIKA",
    other_names=("GABLER<<ERIKA", "MÜLLER<<ERIKA"),
    personal_number="123456789",
    full_date_of_birth="19640812",
    place_of_birth="BERLIN<DEUTSCHLAND",
    permanent_address="HEIDESTRASSE<17<KÖLN",
    telephone="+49 221 0000",
    profession="ENGINEER",
    title="DR",
    personal_summary="none",
    proof_of_citizenship=b"\xff\xd8jpeg\xff\xd9",
    other_valid_td_numbers="C01X00T47",
    custody_information="none",
)
FULL_DG12 = DocumentDetails(
    issuing_authority="STADT KÖLN",
    date_of_issue="20200101",
    other_persons=("MUSTERMANN<<MAX",),
    endorsements_and_observations="none",
    tax_or_exit_requirements="none",
    image_of_front=b"front",
    image_of_rear=b"rear",
    personalization_time="20200101120000",
    personalization_system_serial="SN-1",
)


class TestDg11:
    def test_the_published_example(self):
        details = parse_dg11(PUBLISHED_DG11)
        assert details == PersonalDetails(
            full_name="Test<<Tester", full_date_of_birth="19701201", place_of_birth="Northampton"
        )
        assert encode_dg11(details) == PUBLISHED_DG11

    def test_every_field_round_trips(self):
        raw = encode_dg11(FULL_DG11)
        assert parse_dg11(raw) == FULL_DG11
        tag_list = read_tlv(raw, "DG11").children()[0]
        assert tag_list.tag == 0x5C
        assert tag_list.value.hex().upper() == (
            "5F0E5F105F2B5F115F425F125F135F145F155F165F175F185F0F"
        )

    def test_the_other_names_sit_in_a0_behind_a_count(self):
        raw = encode_dg11(PersonalDetails(other_names=("A", "B")))
        assert raw.endswith(bytes.fromhex("A00B 020102 5F0F0141 5F0F0142".replace(" ", "")))

    def test_an_empty_file(self):
        assert parse_dg11(encode_dg11(PersonalDetails())) == PersonalDetails()

    def test_a_bcd_date_of_birth(self):
        raw = encode_tlv(
            0x6B, encode_tlv(0x5C, b"\x5f\x2b") + encode_tlv(0x5F2B, b"\x19\x64\x08\x12")
        )
        assert parse_dg11(raw).full_date_of_birth == "19640812"

    def test_a_name_outside_a0_and_unknown_tags(self):
        body = encode_tlv(0x5C, b"") + encode_tlv(0x5F0F, b"X") + encode_tlv(0x5F50, b"?")
        assert parse_dg11(encode_tlv(0x6B, body)).other_names == ("X",)

    def test_repr_names_fields_never_values(self):
        shown = repr(FULL_DG11) + str(FULL_DG11)
        for secret in ("MUSTERMANN", "GABLER", "19640812", "BERLIN", "123456789", "jpeg"):
            assert secret not in shown
        assert "full_name" in shown and "redacted" in shown
        assert repr(PersonalDetails()) == "PersonalDetails(redacted: nothing)"

    @pytest.mark.parametrize(
        ("body", "message"),
        [
            (b"", r"^DG11: byte 0: the tag list \(5C\) is missing"),
            (bytes.fromhex("5C00 5F0E0141 5F0E0142"), r"^DG11: byte 8: 5F0E appears twice"),
            (bytes.fromhex("5C00 5F0E02C328"), r"^DG11: byte 7: 5F0E is not UTF-8"),
            (bytes.fromhex("5C00 5F2B04AABBCCDD"), r"^DG11: byte 4: 5F2B is neither text nor BCD"),
            (bytes.fromhex("5C00 A000"), r"^DG11: byte 4: A0 does not start with a one-byte"),
            (bytes.fromhex("5C00 A003020102"), r"^DG11: byte 6: count 2 but 0 names follow"),
            (bytes.fromhex("5C00 A0060201015F1A00"), r"^DG11: byte 9: 5F1A in A0 \(5F0F expected"),
        ],
    )
    def test_faults(self, body, message):
        with pytest.raises(LdsError, match=message):
            parse_dg11(encode_tlv(0x6B, body))

    @given(st.binary(max_size=80))
    def test_arbitrary_bytes(self, data):
        only_lds_errors(parse_dg11, data, "DG11")

    @given(damaged(encode_dg11(FULL_DG11)))
    def test_damaged_files(self, data):
        only_lds_errors(parse_dg11, data, "DG11")


class TestDg12:
    def test_every_field_round_trips(self):
        assert parse_dg12(encode_dg12(FULL_DG12)) == FULL_DG12

    def test_the_layout(self):
        raw = encode_dg12(DocumentDetails(issuing_authority="X", date_of_issue="20200101"))
        assert raw == bytes.fromhex("6C155C045F195F265F1901585F26083230323030313031")

    def test_bcd_dates(self):
        body = (
            encode_tlv(0x5C, b"")
            + encode_tlv(0x5F26, bytes.fromhex("20200101"))
            + encode_tlv(0x5F55, bytes.fromhex("20200101120000"))
        )
        details = parse_dg12(encode_tlv(0x6C, body))
        assert (details.date_of_issue, details.personalization_time) == (
            "20200101",
            "20200101120000",
        )

    def test_repr_hides_people_and_images(self):
        shown = repr(FULL_DG12)
        assert "MUSTERMANN" not in shown and "front" not in shown
        assert "STADT KÖLN" in shown and "20200101" in shown

    def test_a_wrong_tag(self):
        with pytest.raises(LdsError, match=r"^DG12: byte 0: tag 6B where 6C was expected"):
            parse_dg12(encode_dg11(FULL_DG11))

    @given(st.binary(max_size=80))
    def test_arbitrary_bytes(self, data):
        only_lds_errors(parse_dg12, data, "DG12")

    @given(damaged(encode_dg12(FULL_DG12)))
    def test_damaged_files(self, data):
        only_lds_errors(parse_dg12, data, "DG12")
