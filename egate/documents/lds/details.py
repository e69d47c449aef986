"""What DG11 and DG12 share: a tag list (5C), optional fields, and a list of names in A0.

Both are a template of optional data objects, announced by a tag list, with
text in UTF-8 and one repeated field (other names in DG11, other persons in
DG12) grouped in A0 behind a count (02).  Unknown tags are passed over, so a
later edition of Doc 9303 does not make a file unreadable.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from egate.documents.lds.tlv import Tlv, encode_tlv, read_file_tlv, tag_name

TAG_LIST_TAG = 0x5C
NAMES_TAG = 0xA0
COUNT_TAG = 0x02


@dataclass(frozen=True, slots=True)
class Details:
    """A DG11/DG12 template read: its fields by tag and its list of names."""

    fields: dict[int, Tlv]
    names: tuple[str, ...]


def text(obj: Tlv) -> str:
    """A field's value as UTF-8 text."""
    try:
        return obj.value.decode("utf-8")
    except UnicodeDecodeError as error:
        raise obj.error(
            f"{tag_name(obj.tag)} is not UTF-8", obj.value_offset + error.start
        ) from None


def date_digits(obj: Tlv, bcd_length: int = 4) -> str:
    """A date field as its digits: text ("19700101") or, as some issuers write it, BCD."""
    if len(obj.value) == bcd_length and not obj.value.isdigit():
        digits = obj.value.hex()
        if not digits.isdigit():
            raise obj.error(f"{tag_name(obj.tag)} is neither text nor BCD digits")
        return digits
    return text(obj)


def _names(template: Tlv, name_tag: int) -> list[str]:
    items = template.children()
    if not items or items[0].tag != COUNT_TAG or len(items[0].value) != 1:
        raise template.error("A0 does not start with a one-byte count (02)")
    names = items[1:]
    if items[0].value[0] != len(names):
        raise items[0].error(f"count {items[0].value[0]} but {len(names)} names follow")
    for obj in names:
        if obj.tag != name_tag:
            raise obj.error(f"{tag_name(obj.tag)} in A0 ({tag_name(name_tag)} expected)")
    return [text(obj) for obj in names]


def read_details(raw: bytes, file: str, outer_tag: int, name_tag: int) -> Details:
    """The fields of a DG11/DG12 file; ``LdsError`` if its structure is broken."""
    outer = read_file_tlv(raw, file, outer_tag)
    fields: dict[int, Tlv] = {}
    names: list[str] = []
    for obj in outer.children():
        if obj.tag == NAMES_TAG:
            names.extend(_names(obj, name_tag))
        elif obj.tag == name_tag:  # a name outside A0: some issuers leave A0 out
            names.append(text(obj))
        elif obj.tag in fields:
            raise obj.error(f"{tag_name(obj.tag)} appears twice")
        else:
            fields[obj.tag] = obj
    if TAG_LIST_TAG not in fields:
        raise outer.error("the tag list (5C) is missing")
    return Details(fields, tuple(names))


def encode_details(
    outer_tag: int, fields: Sequence[tuple[int, bytes | None]], name_tag: int, names: Sequence[str]
) -> bytes:
    """A DG11/DG12 file: tag list, the fields given (``None`` left out), names in A0 last."""
    present = [(tag, value) for tag, value in fields if value is not None]
    listed = [tag for tag, _ in present] + ([name_tag] if names else [])
    tag_list = b"".join(tag.to_bytes(2 if tag > 0xFF else 1, "big") for tag in listed)
    body = encode_tlv(TAG_LIST_TAG, tag_list)
    body += b"".join(encode_tlv(tag, value) for tag, value in present)
    if names:
        if len(names) > 255:
            raise ValueError(f"{len(names)} names do not fit a one-byte count")
        encoded = b"".join(encode_tlv(name_tag, name.encode("utf-8")) for name in names)
        body += encode_tlv(NAMES_TAG, encode_tlv(COUNT_TAG, bytes([len(names)])) + encoded)
    return encode_tlv(outer_tag, body)


def encode_text(value: str | None) -> bytes | None:
    """A text field's bytes (UTF-8), or ``None`` for a field left out."""
    return None if value is None else value.encode("utf-8")
