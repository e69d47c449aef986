"""Chip forgeries and chip protocol in a scenario passenger, down to the mock chip."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from egate.documents.composer import compose_mrz
from egate.documents.forgery import Defect, forged_chip, forged_page, issued_chip
from hardware.chip import ChipForgery
from station.people.passenger_spec import PassengerSpec
from station.people.traveller import mock_document
from station.training.lookat import LOOK_AT, look_at

DOCUMENT: dict[str, Any] = {
    "issuing_state": "CHN",
    "surname": "PENG",
    "given_names": "LIJUN",
    "number": "EK3370918",
    "birth_date": "1975-05-28",
    "sex": "M",
    "expiry_date": "2025-11-30",
}


def _passenger(defects: list[str], chip: object = None, **extra: object) -> PassengerSpec:
    return PassengerSpec.model_validate(
        {
            "id": "K01",
            "kind": "document_fraud",
            "document": {**DOCUMENT, "defects": defects},
            "chip": chip if chip is not None else {"state": "ok"},
            "face": "none",
            "expected": {"outcome": "rejected", "reason": "CHIP_HASH_MISMATCH"},
            **extra,
        }
    )


@pytest.mark.parametrize("forgery", list(ChipForgery))
def test_each_chip_defect_becomes_the_mock_chips_forgery(forgery: ChipForgery) -> None:
    passenger = _passenger([f"chip_{forgery.value}"])
    chip = mock_document(passenger, None, ()).chip
    assert chip is not None and chip.forgery is forgery


def test_altered_data_alters_page_and_chip_alike_and_keeps_the_issued_dg1() -> None:
    passenger = _passenger(["chip_data_altered"])
    document = mock_document(passenger, None, ())
    assert document.chip is not None
    assert document.mrz == document.chip.dg1_mrz  # the page and DG1 agree
    assert passenger.document is not None
    data = passenger.document._data()
    assert document.chip.issued_mrz == compose_mrz(data) != document.mrz
    assert forged_page(data, [Defect.CHIP_DATA_ALTERED]) == forged_chip(
        data, [Defect.CHIP_DATA_ALTERED]
    )
    assert issued_chip(data, [Defect.ALTERED_EXPIRY]) is None


def test_protocol_air_rate_and_speed_reach_the_chip() -> None:
    passenger = _passenger([], {"protocol": "bac", "air_kbps": 212})
    chip = mock_document(passenger, None, (), speed=20).chip
    assert chip is not None
    assert (chip.protocol, chip.air_kbps, chip.speed, chip.forgery) == ("bac", 212, 20, None)


@pytest.mark.parametrize(
    ("defects", "chip", "message"),
    [
        (["chip_cloned", "chip_no_sod"], None, "one chip forgery at most"),
        (["chip_cloned"], "unreadable", "needs a chip in state ok"),
        ([], {"air_kbps": 100}, "air_kbps"),
        ([], {"protocol": "eac"}, "protocol"),
    ],
)
def test_bad_chip_forgeries_are_reported(defects: list[str], chip: object, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        _passenger(defects, chip)


def test_the_officer_is_told_what_to_look_at_for_every_chip_reason() -> None:
    from egate.documents.chippolicy import ChipCheck

    assert {check.value for check in ChipCheck} <= set(LOOK_AT)
    advice = look_at(["CHIP_HASH_MISMATCH", "UNKNOWN", "CHIP_HASH_MISMATCH"])
    assert advice == LOOK_AT["CHIP_HASH_MISMATCH"]
    assert look_at([]) == ""
