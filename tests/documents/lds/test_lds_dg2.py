"""DG2 on BSI TR-03105-5's reference DG2, round trips, 5F2E and 7F2E, every length checked."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from ldsfuzz import damaged, only_lds_errors

from egate.documents.lds.dg2 import (
    BiometricHeader,
    FaceImage,
    ImageType,
    encode_dg2,
    encode_dg2_faces,
    encode_face_record,
    parse_dg2,
)
from egate.documents.lds.errors import LdsError
from egate.documents.lds.tlv import encode_tlv

BSI_DG2 = (Path(__file__).parent / "data" / "bsi_tr03105_dg2.bin").read_bytes()
# Where the facial record starts in BSI_DG2: after 75, 7F61, the count, 7F60, A1 and 5F2E.
RECORD = 38
JP2_SIGNATURE = bytes.fromhex("0000000C6A5020200D0A870A")
SMALL = encode_dg2(b"\xff\xd8 a tiny jpeg \xff\xd9", ImageType.JPEG, 4, 3, colour_space=1)


def dg2_around(record: bytes, block_tag: int = 0x5F2E) -> bytes:
    """A DG2 holding ``record`` in one template with the standard header."""
    header = encode_tlv(0xA1, bytes.fromhex("810102 820100 87020101 88020008"))
    template = encode_tlv(0x7F60, header + encode_tlv(block_tag, record))
    return encode_tlv(0x75, encode_tlv(0x7F61, b"\x02\x01\x01" + template))


class TestBsiReference:
    def test_the_face(self):
        dg2 = parse_dg2(BSI_DG2)
        assert len(dg2.faces) == 1
        face = dg2.face
        assert (face.image_type, face.width, face.height) == (ImageType.JPEG2000, 337, 449)
        assert (face.face_image_type, face.colour_space, face.source_type) == (1, 0, 0)
        assert (face.device_type, face.quality, face.feature_points) == (0, 0, ())
        assert len(face.image) == 14999 and face.image.startswith(JP2_SIGNATURE)
        assert face.image.endswith(b"\xff\xd9")
        assert face.header == BiometricHeader(2, 0, 0x0101, 0x0008)

    def test_written_byte_for_byte(self):
        image = parse_dg2(BSI_DG2).face.image
        assert encode_dg2(image, ImageType.JPEG2000, 337, 449) == BSI_DG2
        assert encode_dg2_faces(parse_dg2(BSI_DG2).faces) == BSI_DG2

    def test_the_record_header(self):
        assert BSI_DG2[RECORD : RECORD + 8] == b"FAC\x00010\x00"

    def test_7f2e_is_read_as_5f2e(self):
        raw = bytearray(BSI_DG2)
        assert raw[RECORD - 5 : RECORD - 3] == b"\x5f\x2e"
        raw[RECORD - 5] = 0x7F
        assert parse_dg2(bytes(raw)) == parse_dg2(BSI_DG2)

    def test_repr_shows_no_image_and_no_personal_data(self):
        shown = repr(parse_dg2(BSI_DG2))
        assert "337" in shown and "JPEG2000" in shown
        assert "gender" not in shown and "image=" not in shown and "\\x" not in shown


class TestRoundTrips:
    def test_the_data_block_tag_and_fields(self):
        face = FaceImage(
            image=b"jp2 bytes",
            image_type=ImageType.JPEG2000,
            width=480,
            height=640,
            colour_space=1,
            source_type=2,
            device_type=0x1234,
            quality=0x0102,
            gender=2,
            eye_colour=3,
            hair_colour=4,
            feature_mask=0x010203,
            expression=1,
            pose_angle=b"\x01\x02\x03",
            pose_angle_uncertainty=b"\x04\x05\x06",
            feature_points=(bytes(range(8)), bytes(range(8, 16))),
        )
        for tag in (0x5F2E, 0x7F2E):
            assert parse_dg2(encode_dg2_faces([face], tag)).faces == (face,)

    def test_two_templates(self):
        faces = (replace(parse_dg2(SMALL).face, width=5), parse_dg2(SMALL).face)
        raw = encode_dg2_faces(faces)
        assert parse_dg2(raw).faces == faces and raw[raw.index(b"\x02\x01") + 2] == 2

    def test_two_images_in_one_record(self):
        one = parse_dg2(SMALL).face
        two = replace(one, image=b"another", image_type=ImageType.JPEG2000)
        assert parse_dg2(dg2_around(encode_face_record([one, two]))).faces == (one, two)

    def test_bad_arguments(self):
        with pytest.raises(ValueError, match="width 70000 does not fit 2 bytes"):
            encode_dg2(b"x", ImageType.JPEG, 70000, 1)
        with pytest.raises(ValueError):
            encode_dg2(b"x", 7, 1, 1)
        with pytest.raises(ValueError, match="no image"):
            encode_dg2(b"", ImageType.JPEG, 1, 1)
        with pytest.raises(ValueError, match="5F2E or 7F2E"):
            encode_dg2(b"x", ImageType.JPEG, 1, 1, data_block_tag=0x5F2F)
        with pytest.raises(ValueError, match="1 to 255"):
            encode_dg2_faces([])


def corrupt(offset: int, value: bytes) -> bytes:
    raw = bytearray(BSI_DG2)
    raw[offset : offset + len(value)] = value
    return bytes(raw)


class TestFaults:
    @pytest.mark.parametrize(
        ("raw", "message"),
        [
            (corrupt(RECORD, b"FAX"), rf"^DG2: byte {RECORD}: facial record starts 46415800"),
            (corrupt(RECORD + 4, b"030"), rf"^DG2: byte {RECORD + 4}: facial record version"),
            (
                corrupt(RECORD + 8, (15044).to_bytes(4, "big")),
                rf"^DG2: byte {RECORD + 8}: facial record length 15044 but the block holds 15045",
            ),
            (corrupt(RECORD + 12, b"\0\0"), rf"^DG2: byte {RECORD + 12}: .* holds no image"),
            (corrupt(RECORD + 12, b"\0\2"), rf"^DG2: byte {RECORD + 14 + 15031}: facial inform"),
            (
                corrupt(RECORD + 14, (15032).to_bytes(4, "big")),
                rf"^DG2: byte {RECORD + 14}: facial record data length 15032 runs past",
            ),
            (
                corrupt(RECORD + 14, (15030).to_bytes(4, "big")),
                rf"^DG2: byte {RECORD + 14 + 15030}: 1 bytes after the last facial image",
            ),
            (
                corrupt(RECORD + 14, (32).to_bytes(4, "big")),
                rf"^DG2: byte {RECORD + 14}: facial record data length 32 leaves no image",
            ),
            (corrupt(RECORD + 18, b"\x07\xff"), rf"^DG2: byte {RECORD + 14}: .* leaves no image"),
            (corrupt(RECORD + 35, b"\x02"), rf"^DG2: byte {RECORD + 35}: image data type 2"),
            (corrupt(11, b"\x02"), r"^DG2: byte 9: count 2 but 1 templates follow"),
            (corrupt(9, b"\x03"), r"^DG2: byte 9: tag 03 where 02 was expected"),
            (corrupt(12, b"\x7f\x62"), r"^DG2: byte 12: tag 7F62 where 7F60 was expected"),
            (corrupt(17, b"\xa2"), r"^DG2: byte 12: a biometric information template needs"),
            (corrupt(25, b"\x89"), r"^DG2: byte 17: the biometric header has no 87"),
            (corrupt(RECORD - 5, b"\x5f\x2f"), r"^DG2: byte 12: .* one A1 and one 5F2E/7F2E"),
        ],
        ids=lambda value: "" if isinstance(value, bytes) else value[:40],
    )
    def test_each_fault_names_its_byte(self, raw, message):
        with pytest.raises(LdsError, match=message):
            parse_dg2(raw)

    def test_a_record_shorter_than_its_header(self):
        with pytest.raises(LdsError, match=r"^DG2: byte 30: facial record header cut short"):
            parse_dg2(dg2_around(b"FAC\x00010\x00"))

    def test_the_group_and_count(self):
        with pytest.raises(LdsError, match=r"^DG2: byte 0: DG2 holds 0 data objects"):
            parse_dg2(bytes.fromhex("7500"))
        with pytest.raises(LdsError, match=r"^DG2: byte 2: the biometric information group is"):
            parse_dg2(bytes.fromhex("75037F6100"))
        with pytest.raises(LdsError, match=r"^DG2: byte 5: count 0 but 0 templates follow"):
            parse_dg2(bytes.fromhex("75067F6103020100"))

    @given(st.binary(max_size=120))
    def test_arbitrary_bytes(self, data):
        only_lds_errors(parse_dg2, data, "DG2")

    @given(damaged(SMALL))
    def test_damaged_files(self, data):
        only_lds_errors(parse_dg2, data, "DG2")

    @given(st.integers(0, 80), st.binary(min_size=1, max_size=4))
    def test_the_reference_damaged_in_its_headers(self, offset, value):
        only_lds_errors(parse_dg2, corrupt(offset, value), "DG2")
