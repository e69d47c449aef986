"""DG2 (Doc 9303 part 10 §4.7.2): the facial image, in CBEFF templates around ISO/IEC 19794-5.

DG2 is tag 75 holding a biometric information group template 7F61: a count
(02) and that many biometric information templates 7F60, each a biometric
header template A1 (type, subtype, format owner and type) and a biometric
data block 5F2E (or 7F2E) carrying an ISO/IEC 19794-5:2005 facial record:
the header 'FAC\\0' '010\\0', the record length and the number of images,
then per image its facial information (20 bytes), feature points (8 bytes
each), image information (12 bytes: type, data type JPEG or JPEG 2000, width,
height, ...) and the image itself.  Every length is checked against the bytes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import IntEnum

from egate.documents.lds.tlv import Tlv, encode_tlv, expect, read_file_tlv, tag_name

FILE = "DG2"
DG2_TAG = 0x75
GROUP_TAG = 0x7F61
COUNT_TAG = 0x02
TEMPLATE_TAG = 0x7F60
HEADER_TAG = 0xA1
DATA_BLOCK_TAGS = (0x5F2E, 0x7F2E)
# In the header template: biometric type and subtype, format owner and type.
TYPE_TAG, SUBTYPE_TAG, OWNER_TAG, FORMAT_TAG = 0x81, 0x82, 0x87, 0x88
FACIAL_FEATURES = 0x02  # biometric type (CBEFF)
JTC1_SC37 = 0x0101  # format owner
FACE_IMAGE_FORMAT = 0x0008  # format type: ISO/IEC 19794-5

MAGIC, VERSION = b"FAC\x00", b"010\x00"
RECORD_HEADER, FACIAL_INFORMATION, FEATURE_POINT, IMAGE_INFORMATION = 14, 20, 8, 12


class ImageType(IntEnum):
    """The image data type of ISO/IEC 19794-5."""

    JPEG = 0
    JPEG2000 = 1


@dataclass(frozen=True, slots=True)
class BiometricHeader:
    """The CBEFF biometric header template (A1) of one biometric information template."""

    biometric_type: int | None = FACIAL_FEATURES
    biometric_subtype: int | None = 0
    format_owner: int = JTC1_SC37
    format_type: int = FACE_IMAGE_FORMAT


@dataclass(frozen=True, slots=True)
class FaceImage:
    """One facial image and what its record says of it.  The repr shows no personal data."""

    image: bytes = field(repr=False)
    image_type: ImageType
    width: int
    height: int
    face_image_type: int = 1  # 0 basic, 1 full frontal, 2 token frontal
    colour_space: int = 0
    source_type: int = 0
    device_type: int = 0
    quality: int = 0
    gender: int = field(default=0, repr=False)
    eye_colour: int = field(default=0, repr=False)
    hair_colour: int = field(default=0, repr=False)
    feature_mask: int = field(default=0, repr=False)
    expression: int = field(default=0, repr=False)
    pose_angle: bytes = field(default=bytes(3), repr=False)
    pose_angle_uncertainty: bytes = field(default=bytes(3), repr=False)
    feature_points: tuple[bytes, ...] = field(default=(), repr=False)
    header: BiometricHeader = field(default=BiometricHeader(), repr=False)


@dataclass(frozen=True, slots=True)
class Dg2:
    """The facial images of DG2, in the file's order."""

    faces: tuple[FaceImage, ...]

    @property
    def face(self) -> FaceImage:
        """The first (usually the only) facial image."""
        return self.faces[0]


def _number(data: bytes, start: int, size: int) -> int:
    return int.from_bytes(data[start : start + size], "big")


def _header(template: Tlv) -> BiometricHeader:
    seen: dict[int, Tlv] = {}
    for obj in template.children():
        if obj.tag in seen:
            raise obj.error(f"{tag_name(obj.tag)} appears twice in the biometric header")
        seen[obj.tag] = obj
    for tag, size in ((OWNER_TAG, 2), (FORMAT_TAG, 2)):
        if tag not in seen:
            raise template.error(f"the biometric header has no {tag_name(tag)}")
        if len(seen[tag].value) != size:
            raise seen[tag].error(f"{tag_name(tag)} is not {size} bytes")
    kind, subtype = seen.get(TYPE_TAG), seen.get(SUBTYPE_TAG)
    if kind is not None and not 1 <= len(kind.value) <= 3:
        raise kind.error("the biometric type is not 1 to 3 bytes")
    if subtype is not None and len(subtype.value) != 1:
        raise subtype.error("the biometric subtype is not 1 byte")
    return BiometricHeader(
        biometric_type=None if kind is None else _number(kind.value, 0, 3),
        biometric_subtype=None if subtype is None else subtype.value[0],
        format_owner=_number(seen[OWNER_TAG].value, 0, 2),
        format_type=_number(seen[FORMAT_TAG].value, 0, 2),
    )


def _face(block: Tlv, data: bytes, pos: int, header: BiometricHeader) -> tuple[FaceImage, int]:
    """The facial image whose facial information starts at ``data[pos]``, and where it ends."""
    at = block.value_offset + pos
    if len(data) - pos < FACIAL_INFORMATION:
        raise block.error("facial information cut short", at)
    length, points = _number(data, pos, 4), _number(data, pos + 4, 2)
    needed = FACIAL_INFORMATION + FEATURE_POINT * points + IMAGE_INFORMATION
    if length <= needed:
        raise block.error(f"facial record data length {length} leaves no image", at)
    if pos + length > len(data):
        raise block.error(f"facial record data length {length} runs past the record", at)
    info = pos + FACIAL_INFORMATION + FEATURE_POINT * points
    try:
        image_type = ImageType(data[info + 1])
    except ValueError:
        raise block.error(
            f"image data type {data[info + 1]} (0 JPEG or 1 JPEG 2000 expected)",
            block.value_offset + info + 1,
        ) from None
    start = pos + FACIAL_INFORMATION
    face = FaceImage(
        image=data[info + IMAGE_INFORMATION : pos + length],
        image_type=image_type,
        width=_number(data, info + 2, 2),
        height=_number(data, info + 4, 2),
        face_image_type=data[info],
        colour_space=data[info + 6],
        source_type=data[info + 7],
        device_type=_number(data, info + 8, 2),
        quality=_number(data, info + 10, 2),
        gender=data[pos + 6],
        eye_colour=data[pos + 7],
        hair_colour=data[pos + 8],
        feature_mask=_number(data, pos + 9, 3),
        expression=_number(data, pos + 12, 2),
        pose_angle=data[pos + 14 : pos + 17],
        pose_angle_uncertainty=data[pos + 17 : pos + 20],
        feature_points=tuple(
            data[start + FEATURE_POINT * i : start + FEATURE_POINT * (i + 1)] for i in range(points)
        ),
        header=header,
    )
    return face, pos + length


def _record(block: Tlv, header: BiometricHeader) -> list[FaceImage]:
    """The facial images of the ISO/IEC 19794-5 record in a biometric data block."""
    data, base = block.value, block.value_offset
    if len(data) < RECORD_HEADER:
        raise block.error(f"facial record header cut short ({len(data)} of 14 bytes)", base)
    if data[:4] != MAGIC:
        raise block.error(f"facial record starts {data[:4].hex()} ('FAC\\0' expected)", base)
    if data[4:8] != VERSION:
        raise block.error(f"facial record version {data[4:8].hex()} ('010\\0' expected)", base + 4)
    if _number(data, 8, 4) != len(data):
        raise block.error(
            f"facial record length {_number(data, 8, 4)} but the block holds {len(data)} bytes",
            base + 8,
        )
    count = _number(data, 12, 2)
    if count == 0:
        raise block.error("the facial record holds no image", base + 12)
    faces, pos = [], RECORD_HEADER
    for _ in range(count):
        face, pos = _face(block, data, pos, header)
        faces.append(face)
    if pos != len(data):
        raise block.error(f"{len(data) - pos} bytes after the last facial image", base + pos)
    return faces


def _template(template: Tlv) -> list[FaceImage]:
    parts = expect(template, TEMPLATE_TAG).children()
    headers = [obj for obj in parts if obj.tag == HEADER_TAG]
    blocks = [obj for obj in parts if obj.tag in DATA_BLOCK_TAGS]
    if len(headers) != 1 or len(blocks) != 1:
        raise template.error("a biometric information template needs one A1 and one 5F2E/7F2E")
    return _record(blocks[0], _header(headers[0]))


def parse_dg2(raw: bytes) -> Dg2:
    """DG2's facial images; ``LdsError`` if the bytes are not a DG2 holding one."""
    dg2 = read_file_tlv(raw, FILE, DG2_TAG)
    groups = dg2.children()
    if len(groups) != 1:
        raise dg2.error(f"DG2 holds {len(groups)} data objects (one 7F61 expected)")
    items = expect(groups[0], GROUP_TAG).children()
    if not items:
        raise groups[0].error("the biometric information group is empty")
    count = expect(items[0], COUNT_TAG)
    if len(count.value) != 1:
        raise count.error("the template count is not one byte")
    if count.value[0] != len(items) - 1 or count.value[0] == 0:
        raise count.error(f"count {count.value[0]} but {len(items) - 1} templates follow")
    faces: list[FaceImage] = []
    for template in items[1:]:
        faces.extend(_template(template))
    return Dg2(tuple(faces))


def _unsigned(value: int, size: int, what: str) -> bytes:
    if not 0 <= value < 1 << (8 * size):
        raise ValueError(f"{what} {value} does not fit {size} bytes")
    return value.to_bytes(size, "big")


def _encode_face(face: FaceImage) -> bytes:
    for name, raw, size in (
        ("pose angle", face.pose_angle, 3),
        ("pose angle uncertainty", face.pose_angle_uncertainty, 3),
        *(("feature point", point, FEATURE_POINT) for point in face.feature_points),
    ):
        if len(raw) != size:
            raise ValueError(f"{name} is {len(raw)} bytes, not {size}")
    if not face.image:
        raise ValueError("no image")
    body = (
        _unsigned(len(face.feature_points), 2, "feature point count")
        + _unsigned(face.gender, 1, "gender")
        + _unsigned(face.eye_colour, 1, "eye colour")
        + _unsigned(face.hair_colour, 1, "hair colour")
        + _unsigned(face.feature_mask, 3, "feature mask")
        + _unsigned(face.expression, 2, "expression")
        + face.pose_angle
        + face.pose_angle_uncertainty
        + b"".join(face.feature_points)
        + _unsigned(face.face_image_type, 1, "face image type")
        + _unsigned(ImageType(face.image_type), 1, "image data type")
        + _unsigned(face.width, 2, "width")
        + _unsigned(face.height, 2, "height")
        + _unsigned(face.colour_space, 1, "colour space")
        + _unsigned(face.source_type, 1, "source type")
        + _unsigned(face.device_type, 2, "device type")
        + _unsigned(face.quality, 2, "quality")
        + face.image
    )
    return _unsigned(4 + len(body), 4, "facial record data length") + body


def encode_face_record(faces: Sequence[FaceImage]) -> bytes:
    """An ISO/IEC 19794-5:2005 facial record holding ``faces``."""
    if not faces:
        raise ValueError("a facial record needs an image")
    data = b"".join(_encode_face(face) for face in faces)
    return (
        MAGIC
        + VERSION
        + _unsigned(RECORD_HEADER + len(data), 4, "record length")
        + _unsigned(len(faces), 2, "image count")
        + data
    )


def _encode_header(header: BiometricHeader) -> bytes:
    parts = b""
    if header.biometric_type is not None:
        size = max(1, (header.biometric_type.bit_length() + 7) // 8)
        parts += encode_tlv(TYPE_TAG, _unsigned(header.biometric_type, size, "biometric type"))
    if header.biometric_subtype is not None:
        parts += encode_tlv(SUBTYPE_TAG, _unsigned(header.biometric_subtype, 1, "subtype"))
    parts += encode_tlv(OWNER_TAG, _unsigned(header.format_owner, 2, "format owner"))
    parts += encode_tlv(FORMAT_TAG, _unsigned(header.format_type, 2, "format type"))
    return encode_tlv(HEADER_TAG, parts)


def encode_dg2_faces(faces: Sequence[FaceImage], data_block_tag: int = 0x5F2E) -> bytes:
    """DG2 with one biometric information template per face."""
    if not 1 <= len(faces) <= 255:
        raise ValueError(f"DG2 holds 1 to 255 templates, not {len(faces)}")
    if data_block_tag not in DATA_BLOCK_TAGS:
        raise ValueError(f"data block tag {tag_name(data_block_tag)} (5F2E or 7F2E expected)")
    templates = b"".join(
        encode_tlv(
            TEMPLATE_TAG,
            _encode_header(face.header) + encode_tlv(data_block_tag, encode_face_record([face])),
        )
        for face in faces
    )
    group = encode_tlv(COUNT_TAG, bytes([len(faces)])) + templates
    return encode_tlv(DG2_TAG, encode_tlv(GROUP_TAG, group))


def encode_dg2(
    image: bytes,
    image_type: ImageType | int,
    width: int,
    height: int,
    *,
    face_image_type: int = 1,
    colour_space: int = 0,
    source_type: int = 0,
    device_type: int = 0,
    quality: int = 0,
    data_block_tag: int = 0x5F2E,
) -> bytes:
    """DG2 holding one facial image (JPEG or JPEG 2000 bytes) of ``width`` x ``height``."""
    face = FaceImage(
        image=image,
        image_type=ImageType(image_type),
        width=width,
        height=height,
        face_image_type=face_image_type,
        colour_space=colour_space,
        source_type=source_type,
        device_type=device_type,
        quality=quality,
    )
    return encode_dg2_faces([face], data_block_tag)
