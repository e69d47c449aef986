"""DG12 (Doc 9303 part 10 §4.7.12): additional document details, every field optional.

Tag 6C: a tag list (5C), then the issuing authority (5F19), date of issue
(5F26, yyyymmdd), names of other persons (A0 with 5F1A), endorsements and
observations (5F1B), tax or exit requirements (5F1C), images of the front and
rear of the document (5F1D, 5F1E), date and time of personalization (5F55,
yyyymmddhhmmss) and the personalization system's serial number (5F56).  The
other persons, endorsements and images may name people: the repr hides them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from egate.documents.lds.details import date_digits, encode_details, encode_text, read_details, text

FILE = "DG12"
DG12_TAG = 0x6C
OTHER_PERSON_TAG = 0x5F1A
FRONT_IMAGE_TAG, REAR_IMAGE_TAG = 0x5F1D, 0x5F1E
# Date fields -> the size of their BCD form (some issuers write dates as BCD).
BCD_DATES = {0x5F26: 4, 0x5F55: 7}

# Text field -> tag, in the order they are written.
TEXT_TAGS = {
    "issuing_authority": 0x5F19,
    "date_of_issue": 0x5F26,
    "endorsements_and_observations": 0x5F1B,
    "tax_or_exit_requirements": 0x5F1C,
    "personalization_time": 0x5F55,
    "personalization_system_serial": 0x5F56,
}


@dataclass(frozen=True, slots=True)
class DocumentDetails:
    """DG12's fields; ``None`` (or empty) where the chip has none."""

    issuing_authority: str | None = None
    date_of_issue: str | None = None
    other_persons: tuple[str, ...] = field(default=(), repr=False)
    endorsements_and_observations: str | None = field(default=None, repr=False)
    tax_or_exit_requirements: str | None = field(default=None, repr=False)
    image_of_front: bytes | None = field(default=None, repr=False)
    image_of_rear: bytes | None = field(default=None, repr=False)
    personalization_time: str | None = None
    personalization_system_serial: str | None = None


def parse_dg12(raw: bytes) -> DocumentDetails:
    """DG12's fields; ``LdsError`` if the bytes are not a DG12."""
    read = read_details(raw, FILE, DG12_TAG, OTHER_PERSON_TAG)
    values: dict[str, str] = {}
    for name, tag in TEXT_TAGS.items():
        obj = read.fields.get(tag)
        if obj is not None:
            values[name] = date_digits(obj, BCD_DATES[tag]) if tag in BCD_DATES else text(obj)
    front, rear = read.fields.get(FRONT_IMAGE_TAG), read.fields.get(REAR_IMAGE_TAG)
    return DocumentDetails(
        other_persons=read.names,
        image_of_front=None if front is None else front.value,
        image_of_rear=None if rear is None else rear.value,
        **values,
    )


def encode_dg12(details: DocumentDetails) -> bytes:
    """DG12 holding the fields of ``details`` that are set."""
    written = [(tag, encode_text(getattr(details, name))) for name, tag in TEXT_TAGS.items()]
    written += [(FRONT_IMAGE_TAG, details.image_of_front), (REAR_IMAGE_TAG, details.image_of_rear)]
    return encode_details(DG12_TAG, written, OTHER_PERSON_TAG, details.other_persons)
