"""Forged documents: each defect does what it says to the page or the chip, and nothing else."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import pytest

from egate.documents.composer import DocumentData, compose_mrz
from egate.documents.dates import MrzDate
from egate.documents.forgery import (
    BIRTH_DATE_EARLIER_BY,
    Defect,
    altered_birth_date,
    forged_chip,
    forged_page,
    other_surname,
    wrong_check_digit,
    years_later,
)
from egate.documents.layout import MrzFormat
from egate.documents.mrz import MrzResult, parse_mrz

TODAY = date(2026, 3, 14)


def data(fmt: MrzFormat = MrzFormat.TD3) -> DocumentData:
    return DocumentData(
        format=fmt,
        document_type="P" if fmt is MrzFormat.TD3 else "I",
        issuing_state="UTO",
        surname="ERIKSSON",
        given_names="ANNA MARIA",
        document_number="L898902C3",
        nationality="UTO",
        birth_date=date(1974, 8, 12),
        sex="F",
        expiry_date=date(2032, 2, 29),
    )


def read(lines: tuple[str, ...]) -> MrzResult:
    return parse_mrz(lines, TODAY, repair=False)


def test_no_defect_is_the_composed_document_on_page_and_chip():
    true = compose_mrz(data())
    assert forged_page(data(), ()) == true
    assert forged_chip(data(), ()) == true


@pytest.mark.parametrize("fmt", [MrzFormat.TD1, MrzFormat.TD2, MrzFormat.TD3])
def test_a_bad_check_digit_breaks_the_document_number_check(fmt):
    page = forged_page(data(fmt), (Defect.BAD_CHECK_DIGIT,))
    result = read(page)
    assert not result.valid and "CHECK_DIGIT_DOCUMENT_NUMBER" in result.failures
    assert forged_chip(data(fmt), (Defect.BAD_CHECK_DIGIT,)) == compose_mrz(data(fmt))


def test_an_altered_expiry_is_five_years_later_with_sound_check_digits():
    result = read(forged_page(data(), (Defect.ALTERED_EXPIRY,)))
    assert result.valid
    assert result.fields.expiry_date == date(2037, 2, 28)  # no 29 February in 2037
    assert forged_chip(data(), (Defect.ALTERED_EXPIRY,)) == compose_mrz(data())


def test_an_altered_birth_date_makes_the_holder_older():
    defects = (Defect.ALTERED_BIRTH_DATE,)
    result = read(forged_page(data(), defects))
    assert result.valid
    assert result.fields.birth_date == MrzDate.of(date(1974, 8, 12) - BIRTH_DATE_EARLIER_BY)
    moved = read(forged_page(data(), defects, birth_date_earlier_by=timedelta(days=400)))
    assert moved.valid and moved.fields.birth_date == MrzDate.of(date(1973, 7, 8))
    assert forged_chip(data(), defects) == compose_mrz(data())


def test_a_substituted_page_leaves_another_name_on_the_chip():
    defects = (Defect.CHIP_MISMATCH,)
    assert forged_page(data(), defects) == compose_mrz(data())
    chip, page = read(forged_chip(data(), defects)), read(forged_page(data(), defects))
    assert chip.valid and chip.fields.surname != page.fields.surname
    assert len(chip.fields.surname) == len(page.fields.surname)
    assert chip.fields.document_number == page.fields.document_number


def test_the_forgers_tools():
    assert other_surname("ANNA-LI") == "BAAB-AA"
    assert years_later(date(2024, 2, 29), 1) == date(2025, 2, 28)
    assert years_later(date(2024, 3, 1), 5) == date(2029, 3, 1)
    lines = compose_mrz(data())
    once = wrong_check_digit(lines, MrzFormat.TD3)
    assert once != lines and len(once) == len(lines) and len(once[1]) == len(lines[1])
    with pytest.raises(ValueError, match="full birth date"):
        altered_birth_date(replace(data(), birth_date=None), timedelta(days=1))
