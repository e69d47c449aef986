"""EF.COM (Doc 9303 part 10 §4.6.1): the LDS and Unicode versions and the list of data groups.

EF.COM is tag 60 holding 5F01 (LDS version "aabb": version aa, update bb),
5F36 (Unicode version "aabbcc") and 5C (one tag per data group present).
It is not signed: a reader takes it as a hint and trusts EF.SOD's list.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from egate.documents.lds.errors import LdsError
from egate.documents.lds.files import data_group, file_by_tag
from egate.documents.lds.tlv import Tlv, encode_tlv, read_file_tlv, tag_name

FILE = "EF.COM"
COM_TAG = 0x60
LDS_VERSION_TAG = 0x5F01
UNICODE_VERSION_TAG = 0x5F36
TAG_LIST_TAG = 0x5C


@dataclass(frozen=True, slots=True)
class Com:
    """What EF.COM says: versions and the tags of the data groups present."""

    lds_version: str
    unicode_version: str
    tags: tuple[int, ...]

    @property
    def data_groups(self) -> tuple[int, ...]:
        """The numbers of the data groups listed (tags no data group has are left out)."""
        numbers = []
        for tag in self.tags:
            file = file_by_tag(tag)
            if file is not None and file.data_group is not None:
                numbers.append(file.data_group)
        return tuple(numbers)


def _digits(obj: Tlv, width: int, what: str) -> str:
    text = obj.value.decode("ascii", errors="replace")
    if len(obj.value) != width or not text.isdigit():
        raise obj.error(f"{what} is not {width} ASCII digits")
    return text


def parse_com(raw: bytes) -> Com:
    """EF.COM's content; ``LdsError`` if the bytes are not an EF.COM."""
    com = read_file_tlv(raw, FILE, COM_TAG)
    found: dict[int, Tlv] = {}
    for obj in com.children():
        if obj.tag in found:
            raise obj.error(f"{tag_name(obj.tag)} appears twice")
        found[obj.tag] = obj
    for tag in (LDS_VERSION_TAG, UNICODE_VERSION_TAG, TAG_LIST_TAG):
        if tag not in found:
            raise LdsError(FILE, com.value_offset, f"{tag_name(tag)} missing")
    return Com(
        lds_version=_digits(found[LDS_VERSION_TAG], 4, "the LDS version"),
        unicode_version=_digits(found[UNICODE_VERSION_TAG], 6, "the Unicode version"),
        tags=tuple(found[TAG_LIST_TAG].value),
    )


def encode_com(
    data_groups: Iterable[int], lds_version: str = "0108", unicode_version: str = "040000"
) -> bytes:
    """EF.COM listing ``data_groups`` (numbers 1 to 16) in the order given."""
    if len(lds_version) != 4 or not (lds_version.isascii() and lds_version.isdigit()):
        raise ValueError(f"LDS version {lds_version!r} is not four digits")
    if len(unicode_version) != 6 or not (unicode_version.isascii() and unicode_version.isdigit()):
        raise ValueError(f"Unicode version {unicode_version!r} is not six digits")
    tags = bytes(data_group(number).tag for number in data_groups)
    if len(set(tags)) != len(tags):
        raise ValueError("a data group is listed twice")
    return encode_tlv(
        COM_TAG,
        encode_tlv(LDS_VERSION_TAG, lds_version.encode("ascii"))
        + encode_tlv(UNICODE_VERSION_TAG, unicode_version.encode("ascii"))
        + encode_tlv(TAG_LIST_TAG, tags),
    )
