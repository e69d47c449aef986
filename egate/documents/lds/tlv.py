"""BER-TLV as the LDS uses it (ISO/IEC 7816-4 and 8825-1): read with byte offsets, write DER.

A tag is kept as the integer its bytes spell (``0x5F1F``, ``0x7F61``, ``0x61``);
lengths may take the long form (``81 xx`` to ``84 xxxxxxxx``), never the
indefinite one.  Every fault raises ``LdsError`` naming the file and the byte
offset from the file's start, so a nested object read from its parent's value
keeps the offsets of the file it came from.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from egate.documents.lds.errors import LdsError

# Tags longer than this are not ISO/IEC 7816-4 tags; refusing them keeps a
# hostile file from spelling an endless tag.
MAX_TAG_BYTES = 3
# Long-form lengths up to 0x84 (four length bytes) are read.
MAX_LENGTH_BYTES = 4
# The most bytes a tag and length take: what a reader fetches first to learn a file's size.
MAX_HEADER_BYTES = MAX_TAG_BYTES + 1 + MAX_LENGTH_BYTES


@dataclass(frozen=True, slots=True)
class Tlv:
    """One data object: its tag, its value, and where both sit in the file."""

    tag: int
    value: bytes = field(repr=False)
    offset: int
    value_offset: int
    file: str

    @property
    def end(self) -> int:
        """The file offset just past this object."""
        return self.value_offset + len(self.value)

    @property
    def constructed(self) -> bool:
        """Whether the tag says the value is itself a sequence of data objects."""
        return bool(_first_tag_byte(self.tag) & 0x20)

    def children(self) -> list[Tlv]:
        """The data objects the value holds, with the file's offsets."""
        return read_tlvs(self.value, self.file, base=self.value_offset)

    def error(self, reason: str, at: int | None = None) -> LdsError:
        """An ``LdsError`` at this object (or at file offset ``at``)."""
        return LdsError(self.file, self.offset if at is None else at, reason)


def tag_name(tag: int) -> str:
    """A tag as Doc 9303 writes it: ``5F1F``, ``61``."""
    width = max(1, (tag.bit_length() + 7) // 8)
    return f"{tag:0{2 * width}X}"


def _first_tag_byte(tag: int) -> int:
    width = max(1, (tag.bit_length() + 7) // 8)
    return tag >> (8 * (width - 1))


def _read_tag(data: bytes, pos: int, file: str, base: int) -> tuple[int, int]:
    """The tag at ``pos`` and the position after it."""
    if pos >= len(data):
        raise LdsError(file, base + pos, "data object cut short before its tag")
    first = data[pos]
    tag, pos = first, pos + 1
    if first & 0x1F != 0x1F:
        return tag, pos
    for count in range(1, MAX_TAG_BYTES):
        if pos >= len(data):
            raise LdsError(file, base + pos, f"tag {tag_name(tag)} cut short")
        byte = data[pos]
        if count == 1 and byte == 0x80:
            raise LdsError(file, base + pos, f"tag {tag_name(first)}.. has a padded number")
        tag, pos = (tag << 8) | byte, pos + 1
        if not byte & 0x80:
            return tag, pos
    raise LdsError(file, base + pos - MAX_TAG_BYTES, f"tag longer than {MAX_TAG_BYTES} bytes")


def _read_length(data: bytes, pos: int, file: str, base: int, tag: int) -> tuple[int, int]:
    """The length at ``pos`` and the position after it."""
    if pos >= len(data):
        raise LdsError(file, base + pos, f"{tag_name(tag)}: length missing")
    first = data[pos]
    if first < 0x80:
        return first, pos + 1
    if first == 0x80:
        raise LdsError(file, base + pos, f"{tag_name(tag)}: indefinite length not allowed")
    count = first & 0x7F
    if count > MAX_LENGTH_BYTES:
        raise LdsError(file, base + pos, f"{tag_name(tag)}: length of {count} bytes not allowed")
    if pos + 1 + count > len(data):
        raise LdsError(file, base + pos, f"{tag_name(tag)}: length cut short")
    return int.from_bytes(data[pos + 1 : pos + 1 + count], "big"), pos + 1 + count


def read_tlv(data: bytes, file: str, pos: int = 0, base: int = 0) -> Tlv:
    """The data object starting at ``data[pos]``; ``base`` is ``data``'s offset in the file."""
    tag, after_tag = _read_tag(data, pos, file, base)
    length, value_pos = _read_length(data, after_tag, file, base, tag)
    if value_pos + length > len(data):
        raise LdsError(
            file,
            base + after_tag,
            f"{tag_name(tag)}: length {length} runs past the end "
            f"({len(data) - value_pos} bytes left)",
        )
    return Tlv(tag, bytes(data[value_pos : value_pos + length]), base + pos, base + value_pos, file)


def read_tlvs(data: bytes, file: str, base: int = 0) -> list[Tlv]:
    """All of ``data`` as a sequence of data objects."""
    objects: list[Tlv] = []
    pos = 0
    while pos < len(data):
        obj = read_tlv(data, file, pos, base)
        objects.append(obj)
        pos = obj.end - base
    return objects


def read_file_tlv(data: bytes, file: str, tag: int) -> Tlv:
    """A whole file that is one data object with ``tag`` and nothing after it."""
    obj = read_tlv(data, file)
    if obj.tag != tag:
        raise LdsError(file, 0, f"tag {tag_name(obj.tag)} where {tag_name(tag)} was expected")
    if obj.end != len(data):
        raise LdsError(file, obj.end, f"{len(data) - obj.end} bytes after the end of the file")
    return obj


def expect(obj: Tlv, tag: int) -> Tlv:
    """``obj`` itself, after checking its tag."""
    if obj.tag != tag:
        raise obj.error(f"tag {tag_name(obj.tag)} where {tag_name(tag)} was expected")
    return obj


def total_length(prefix: bytes, file: str) -> int:
    """The size of a file from its first bytes (at least ``MAX_HEADER_BYTES``, or all of it).

    A reader reads this much first, then the rest of the file in one go.
    """
    tag, after_tag = _read_tag(prefix, 0, file, 0)
    length, value_pos = _read_length(prefix, after_tag, file, 0, tag)
    return value_pos + length


def encode_tag(tag: int) -> bytes:
    """The bytes of ``tag`` (checked to be one well-formed BER tag)."""
    if tag < 0:
        raise ValueError(f"negative tag {tag}")
    raw = tag.to_bytes(max(1, (tag.bit_length() + 7) // 8), "big")
    try:
        parsed, end = _read_tag(raw, 0, "tag", 0)
    except LdsError as error:
        raise ValueError(f"{tag_name(tag)} is not a BER tag: {error.reason}") from None
    if parsed != tag or end != len(raw):
        raise ValueError(f"{tag_name(tag)} is not a BER tag")
    return raw


def encode_length(length: int) -> bytes:
    """A DER length: short form below 128, else the fewest long-form bytes."""
    if length < 0:
        raise ValueError(f"negative length {length}")
    if length < 0x80:
        return bytes([length])
    raw = length.to_bytes((length.bit_length() + 7) // 8, "big")
    if len(raw) > MAX_LENGTH_BYTES:
        raise ValueError(f"length {length} too large")
    return bytes([0x80 | len(raw)]) + raw


def encode_tlv(tag: int, value: bytes) -> bytes:
    """One data object: tag, DER length, value."""
    return encode_tag(tag) + encode_length(len(value)) + value
