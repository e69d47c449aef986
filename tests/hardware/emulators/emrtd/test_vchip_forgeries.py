"""Forged virtual chips: each forgery fails the check a forged passport fails, for real."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime

import pytest
from PIL import Image

from egate.documents.chippolicy import ChipCheck, ChipPolicy, ChipPolicySettings, Proof
from egate.documents.composer import DocumentData, compose_mrz
from egate.documents.forgery import altered_expiry
from egate.documents.layout import MrzFormat
from egate.documents.mrz import parse_mrz
from egate.documents.verdict import Verdict
from egate.gate.events import ChipStatus
from hardware.chip import ChipForgery, ChipRead, MockChip, mrz_information
from hardware.emulators.emrtd.chipreader import VirtualChipReader

NOW = datetime(2026, 3, 14, 8, 0, tzinfo=UTC)
DATA = DocumentData(
    format=MrzFormat.TD3,
    document_type="P",
    issuing_state="UTO",
    surname="ERIKSSON",
    given_names="ANNA MARIA",
    document_number="L898902C",
    nationality="UTO",
    birth_date=date(1974, 8, 12),
    sex="F",
    expiry_date=date(2031, 4, 15),
)
GENUINE = compose_mrz(DATA)
ALTERED = compose_mrz(altered_expiry(DATA, 5))


def _jpeg(shade: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (60, 80), (shade, shade, shade)).save(out, "JPEG")
    return out.getvalue()


PHOTO = _jpeg(200)


@pytest.fixture(scope="module")
def reader() -> VirtualChipReader:
    # One reader for the module: its PKI and the forgers' signers are made once.
    return VirtualChipReader(now=lambda: NOW, sleep=lambda _: None)


def _key(lines: tuple[str, ...]) -> str:
    return mrz_information(parse_mrz(lines, NOW.date(), repair=False))


def _read(reader: VirtualChipReader, chip: MockChip, printed: tuple[str, ...]) -> ChipRead:
    reader.load(chip)
    reader.present(chip.document_number)
    try:
        return reader.read(_key(printed))
    finally:
        reader.present(None)


def _judged(read: ChipRead) -> tuple[frozenset[ChipCheck], Verdict, tuple[str, ...]]:
    assert read.status is ChipStatus.OK
    assert read.inspection is not None
    verdicts = read.inspection.verdicts()
    decision = ChipPolicy(ChipPolicySettings()).judge(verdicts)
    return verdicts.failed, decision.verdict, decision.reasons


def test_a_genuine_chip_passes_every_check(reader: VirtualChipReader) -> None:
    failed, verdict, _ = _judged(_read(reader, MockChip.of(GENUINE, PHOTO), GENUINE))
    assert failed == frozenset()
    assert verdict is Verdict.ACCEPT


def test_a_substituted_photo_is_a_dg2_hash_mismatch(reader: VirtualChipReader) -> None:
    chip = MockChip.of(GENUINE, PHOTO, forgery=ChipForgery.PHOTO_SUBSTITUTED)
    read = _read(reader, chip, GENUINE)
    assert read.dg2_image == PHOTO  # the forger's photo is what the chip shows
    assert read.inspection is not None
    verdicts = read.inspection.verdicts()
    assert verdicts.mismatched_data_groups == (2,)
    assert not verdicts.proves(2)
    _, verdict, reasons = _judged(read)
    assert (verdict, reasons) == (Verdict.REJECT, ("CHIP_HASH_MISMATCH",))


def test_altered_data_opens_with_the_altered_key_and_mismatches_dg1(
    reader: VirtualChipReader,
) -> None:
    chip = MockChip.of(ALTERED, PHOTO, forgery=ChipForgery.DATA_ALTERED, issued_mrz=GENUINE)
    read = _read(reader, chip, ALTERED)
    assert read.dg1_mrz == ALTERED  # DG1 agrees with the altered page
    assert read.inspection is not None
    assert read.inspection.verdicts().mismatched_data_groups == (1,)
    _, verdict, reasons = _judged(read)
    assert (verdict, reasons) == (Verdict.REJECT, ("CHIP_HASH_MISMATCH",))
    # The true data's key no longer opens it.
    reader.load(chip)
    reader.present(chip.document_number)
    assert reader.read(_key(GENUINE)).status is ChipStatus.ACCESS_DENIED
    reader.present(None)


@pytest.mark.parametrize(
    ("forgery", "check", "verdict"),
    [
        (ChipForgery.RESIGNED_UNKNOWN_CSCA, ChipCheck.DS_UNTRUSTED, Verdict.REFER),
        (ChipForgery.DS_EXPIRED, ChipCheck.DS_EXPIRED, Verdict.REFER),
        (ChipForgery.DS_REVOKED, ChipCheck.DS_REVOKED, Verdict.REJECT),
        (ChipForgery.NO_SOD, ChipCheck.SOD_MISSING, Verdict.REFER),
    ],
)
def test_a_chip_signed_wrongly_fails_the_signer_check(
    reader: VirtualChipReader, forgery: ChipForgery, check: ChipCheck, verdict: Verdict
) -> None:
    failed, decided, reasons = _judged(
        _read(reader, MockChip.of(GENUINE, PHOTO, forgery=forgery), GENUINE)
    )
    assert failed == {check}
    assert (decided, reasons) == (verdict, (check.value,))


def test_a_revoked_signer_leaves_genuine_chips_alone(reader: VirtualChipReader) -> None:
    _read(reader, MockChip.of(GENUINE, PHOTO, forgery=ChipForgery.DS_REVOKED), GENUINE)
    assert reader.trust.crls  # the CSCA's CRL is in the store now
    failed, verdict, _ = _judged(_read(reader, MockChip.of(GENUINE, PHOTO), GENUINE))
    assert (failed, verdict) == (frozenset(), Verdict.ACCEPT)


@pytest.mark.parametrize("protocol", ["pace", "bac"])
def test_a_clone_fails_active_and_chip_authentication(
    reader: VirtualChipReader, protocol: str
) -> None:
    chip = MockChip.of(
        GENUINE,
        PHOTO,
        forgery=ChipForgery.CLONED,
        protocol="pace" if protocol == "pace" else "bac",
    )
    read = _read(reader, chip, GENUINE)
    assert read.inspection is not None
    verdicts = read.inspection.verdicts()
    # With PACE chip authentication fails (and stands for active authentication);
    # with BAC there is none, and active authentication fails.
    if protocol == "pace":
        assert verdicts.chip_authentication is Proof.FAILED
    else:
        assert verdicts.chip_authentication is Proof.NOT_OFFERED
        assert verdicts.active_authentication is Proof.FAILED
    assert verdicts.proves(2)  # the data is genuine: only the chip is not
    _, verdict, reasons = _judged(read)
    assert (verdict, reasons) == (Verdict.REJECT, ("CHIP_CLONE_SUSPECTED",))


def test_air_rate_spends_air_time_through_sleep_at_the_chips_speed() -> None:
    slept: list[float] = []
    reader = VirtualChipReader(now=lambda: NOW, sleep=slept.append)
    slow = MockChip.of(GENUINE, PHOTO, protocol="bac", air_kbps=106, read_seconds=30.0)
    _read(reader, slow, GENUINE)
    at_106 = sum(slept)
    assert 0.1 < at_106 < 30.0  # air time, not read_seconds
    slept.clear()
    _read(reader, MockChip.of(GENUINE, PHOTO, protocol="bac", air_kbps=848), GENUINE)
    assert sum(slept) < at_106
    slept.clear()
    _read(reader, MockChip.of(GENUINE, PHOTO, protocol="bac", air_kbps=106, speed=10), GENUINE)
    assert sum(slept) == pytest.approx(at_106 / 10, rel=0.05)


def test_a_mock_chip_checks_its_forgery_fields() -> None:
    with pytest.raises(ValueError, match="air_kbps"):
        MockChip.of(GENUINE, PHOTO, air_kbps=100)
    with pytest.raises(ValueError, match="issued_mrz"):
        MockChip.of(GENUINE, PHOTO, forgery=ChipForgery.DATA_ALTERED)
    assert "cloned" in repr(MockChip.of(GENUINE, PHOTO, forgery=ChipForgery.CLONED))
