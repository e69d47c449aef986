"""Forging documents on purpose: the defects a training traveller's passport carries.

A drill needs passports that are wrong in the ways real ones are: a clumsy
edit that breaks a check digit, a careful one that moves a date and
recomputes the check digits (only the chip, keyed to the true data, still
knows), a data page substituted on someone else's chip.  ``forged_page``
writes the MRZ printed on such a page and ``forged_chip`` the DG1 its chip
holds, both from the true data with :func:`egate.documents.composer.compose_mrz`.
Training scenarios and the mock gate's sample travellers forge their
documents here, with the one vocabulary of :class:`Defect`.

An expired passport is no forgery: it is a genuine document composed with
an expiry date in the past.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import replace
from datetime import date, timedelta
from enum import StrEnum

from egate.documents.composer import DocumentData, compose_mrz
from egate.documents.layout import LAYOUTS, MrzFormat

# How far a forger moves a date unless told otherwise: the expiry five years
# later, the birth date three years back.
EXPIRY_LATER_BY_YEARS = 5
BIRTH_DATE_EARLIER_BY = timedelta(days=3 * 365)


class Defect(StrEnum):
    """A deliberate fault written into a composed document."""

    BAD_CHECK_DIGIT = "bad_check_digit"  # the printed document number's check digit is wrong
    BAD_BIRTH_DATE_CHECK_DIGIT = "bad_birth_date_check_digit"  # the birth date's (and composite)
    BAD_EXPIRY_CHECK_DIGIT = "bad_expiry_check_digit"  # the expiry date's (and composite)
    BAD_COMPOSITE_CHECK_DIGIT = "bad_composite_check_digit"  # only the composite digit is wrong
    ALTERED_EXPIRY = "altered_expiry"  # printed expiry extended, check digits recomputed
    ALTERED_BIRTH_DATE = "altered_birth_date"  # printed birth date changed, check digits fixed
    CHIP_MISMATCH = "chip_mismatch"  # the chip's DG1 holds another name than the page
    # Forged chips (made by the virtual chip reader; see hardware.chip.ChipForgery).
    CHIP_PHOTO_SUBSTITUTED = "chip_photo_substituted"  # DG2 replaced, EF.SOD unchanged
    CHIP_DATA_ALTERED = "chip_data_altered"  # page and DG1 altered alike, EF.SOD unchanged
    CHIP_RESIGNED_UNKNOWN_CSCA = "chip_resigned_unknown_csca"  # a forger's own PKI signs
    CHIP_DS_EXPIRED = "chip_ds_expired"  # signed under an expired Document Signer
    CHIP_DS_REVOKED = "chip_ds_revoked"  # signed under a revoked Document Signer
    CHIP_CLONED = "chip_cloned"  # a copy without the chip's AA/CA private keys
    CHIP_NO_SOD = "chip_no_sod"  # EF.SOD removed


# The check-digit defects: which digit of the layout each makes wrong.  A
# date's digit counts in the composite too, so that one fails with it.
BAD_CHECK_DIGITS = {
    Defect.BAD_CHECK_DIGIT: "document_number_check",
    Defect.BAD_BIRTH_DATE_CHECK_DIGIT: "birth_date_check",
    Defect.BAD_EXPIRY_CHECK_DIGIT: "expiry_date_check",
    Defect.BAD_COMPOSITE_CHECK_DIGIT: "composite_check",
}

# The defects that forge the chip itself (one at most per document).
CHIP_FORGERIES = frozenset(
    {
        Defect.CHIP_PHOTO_SUBSTITUTED,
        Defect.CHIP_DATA_ALTERED,
        Defect.CHIP_RESIGNED_UNKNOWN_CSCA,
        Defect.CHIP_DS_EXPIRED,
        Defect.CHIP_DS_REVOKED,
        Defect.CHIP_CLONED,
        Defect.CHIP_NO_SOD,
    }
)


def forged_page(
    data: DocumentData,
    defects: Collection[Defect],
    *,
    birth_date_earlier_by: timedelta = BIRTH_DATE_EARLIER_BY,
) -> tuple[str, ...]:
    """The MRZ printed on the data page of ``data`` with ``defects`` written into it.

    A substituted page (``CHIP_MISMATCH``) prints the true data: it is the
    chip that holds someone else's (:func:`forged_chip`).  An altered chip
    (``CHIP_DATA_ALTERED``) goes with a page whose expiry was moved, as
    ``ALTERED_EXPIRY``'s.
    """
    printed = data
    if Defect.ALTERED_EXPIRY in defects or Defect.CHIP_DATA_ALTERED in defects:
        printed = altered_expiry(printed, EXPIRY_LATER_BY_YEARS)
    if Defect.ALTERED_BIRTH_DATE in defects:
        printed = altered_birth_date(printed, birth_date_earlier_by)
    lines = compose_mrz(printed)
    for defect, digit in BAD_CHECK_DIGITS.items():
        if defect in defects:
            lines = wrong_check_digit(lines, data.format, digit)
    return lines


def forged_chip(data: DocumentData, defects: Collection[Defect]) -> tuple[str, ...]:
    """The DG1 on the chip of a document of ``data`` with ``defects``: the true data.

    When the data page was substituted (``CHIP_MISMATCH``) the chip still
    holds the first holder's name.  An altered chip (``CHIP_DATA_ALTERED``)
    holds DG1 edited to agree with the altered page; it was issued with
    :func:`issued_chip`'s.
    """
    if Defect.CHIP_DATA_ALTERED in defects:
        data = altered_expiry(data, EXPIRY_LATER_BY_YEARS)
    if Defect.CHIP_MISMATCH in defects:
        data = replace(data, surname=other_surname(data.surname))
    return compose_mrz(data)


def issued_chip(data: DocumentData, defects: Collection[Defect]) -> tuple[str, ...] | None:
    """The DG1 an altered chip (``CHIP_DATA_ALTERED``) was issued with; None for any other."""
    if Defect.CHIP_DATA_ALTERED not in defects:
        return None
    if Defect.CHIP_MISMATCH in defects:
        data = replace(data, surname=other_surname(data.surname))
    return compose_mrz(data)


def altered_expiry(data: DocumentData, years: int) -> DocumentData:
    """``data`` with the expiry date ``years`` later (29 February becomes the 28th)."""
    return replace(data, expiry_date=years_later(data.expiry_date, years))


def altered_birth_date(data: DocumentData, earlier_by: timedelta) -> DocumentData:
    """``data`` with the birth date ``earlier_by`` earlier: the holder made older."""
    birth = data.birth_date
    if not isinstance(birth, date):
        raise ValueError("only a full birth date can be altered")
    return replace(data, birth_date=birth - earlier_by)


def other_surname(surname: str) -> str:
    """A different surname of the same length, for a substituted data page."""
    return "".join("B" if char == "A" else "A" if char.isalpha() else char for char in surname)


def years_later(day: date, years: int) -> date:
    """The same day ``years`` later (29 February becomes the 28th)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def wrong_check_digit(
    lines: tuple[str, ...], fmt: MrzFormat, digit: str = "document_number_check"
) -> tuple[str, ...]:
    """``lines`` with one check digit off by one: by default the document number's.

    ``digit`` names the layout's position (``birth_date_check``,
    ``expiry_date_check``, ``composite_check``, ...).
    """
    text = "".join(lines)
    at = getattr(LAYOUTS[fmt], digit)
    if not isinstance(at, int):
        raise ValueError(f"a {fmt.value} MRZ has no {digit.replace('_', ' ')} digit")
    digit = str((int(text[at]) + 1) % 10)
    text = text[:at] + digit + text[at + 1 :]
    width = len(lines[0])
    return tuple(text[start : start + width] for start in range(0, len(text), width))
