"""DG11 (Doc 9303 part 10 §4.7.11): additional personal details, every field optional.

Tag 6B: a tag list (5C), then the full name (5F0E), other names (A0 with
5F0F), personal number (5F10), full date of birth (5F2B, yyyymmdd), place of
birth (5F11), permanent address (5F42), telephone (5F12), profession (5F13),
title (5F14), personal summary (5F15), proof of citizenship (5F16, an image),
other valid travel document numbers (5F17) and custody information (5F18).
All of it is personal data: the repr names the fields present, never a value.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from egate.documents.lds.details import date_digits, encode_details, encode_text, read_details, text

FILE = "DG11"
DG11_TAG = 0x6B
OTHER_NAME_TAG = 0x5F0F
PROOF_OF_CITIZENSHIP_TAG = 0x5F16
DATE_OF_BIRTH_TAG = 0x5F2B

# Field -> tag, in the order they are written.
FIELD_TAGS = {
    "full_name": 0x5F0E,
    "personal_number": 0x5F10,
    "full_date_of_birth": DATE_OF_BIRTH_TAG,
    "place_of_birth": 0x5F11,
    "permanent_address": 0x5F42,
    "telephone": 0x5F12,
    "profession": 0x5F13,
    "title": 0x5F14,
    "personal_summary": 0x5F15,
    "proof_of_citizenship": PROOF_OF_CITIZENSHIP_TAG,  # an image: bytes, not text
    "other_valid_td_numbers": 0x5F17,
    "custody_information": 0x5F18,
}


@dataclass(frozen=True, slots=True)
class PersonalDetails:
    """DG11's fields; ``None`` (or empty) where the chip has none.  Text keeps Doc 9303's '<'."""

    full_name: str | None = None
    other_names: tuple[str, ...] = ()
    personal_number: str | None = None
    full_date_of_birth: str | None = None
    place_of_birth: str | None = None
    permanent_address: str | None = None
    telephone: str | None = None
    profession: str | None = None
    title: str | None = None
    personal_summary: str | None = None
    proof_of_citizenship: bytes | None = None
    other_valid_td_numbers: str | None = None
    custody_information: str | None = None

    def present(self) -> tuple[str, ...]:
        """The names of the fields that hold something."""
        return tuple(f.name for f in fields(self) if getattr(self, f.name) not in (None, ()))

    def __repr__(self) -> str:
        return f"PersonalDetails(redacted: {', '.join(self.present()) or 'nothing'})"


def parse_dg11(raw: bytes) -> PersonalDetails:
    """DG11's fields; ``LdsError`` if the bytes are not a DG11."""
    read = read_details(raw, FILE, DG11_TAG, OTHER_NAME_TAG)
    values: dict[str, str] = {}
    for name, tag in FIELD_TAGS.items():
        obj = read.fields.get(tag)
        if obj is not None and tag != PROOF_OF_CITIZENSHIP_TAG:
            values[name] = date_digits(obj) if tag == DATE_OF_BIRTH_TAG else text(obj)
    proof = read.fields.get(PROOF_OF_CITIZENSHIP_TAG)
    return PersonalDetails(
        other_names=read.names,
        proof_of_citizenship=None if proof is None else proof.value,
        **values,
    )


def encode_dg11(details: PersonalDetails) -> bytes:
    """DG11 holding the fields of ``details`` that are set."""
    written = [
        (tag, details.proof_of_citizenship)
        if tag == PROOF_OF_CITIZENSHIP_TAG
        else (tag, encode_text(getattr(details, name)))
        for name, tag in FIELD_TAGS.items()
    ]
    return encode_details(DG11_TAG, written, OTHER_NAME_TAG, details.other_names)
