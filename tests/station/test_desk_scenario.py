"""The scenario's desk: key: the officer's right answer, its defaults by kind, its errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from egate.config import ConfigError
from station.people.passenger_spec import DESK_BY_KIND, DeskSpec
from station.training.desk import DeskDecision, DeskExpectation, RefusalReason
from station.training.scenario import PassengerKind, load_scenario

BASE = """\
name: desk drill
start: 2026-03-14T07:30:00+08:00
gates: {count: 1}
passengers:
  - id: P1
    kind: impostor
    document: {issuing_state: CHN, surname: ZHANG, number: EA1234567,
               birth_date: 1985-04-12, expiry_date: 2031-06-30}
    chip: none
    face: none
    expected: {outcome: referred, reason: CHIP_ABSENT}
    desk: {decision: refuse, reason: forged_document}
  - id: T1
    kind: tailgater
    behaviour: {tailgates: P1}
    expected: {outcome: referred, reason: TAILGATING}
  - id: P2
    kind: ineligible
    document: {issuing_state: CHN, surname: LI, number: EA1234568,
               birth_date: 1990-01-02, expiry_date: 2031-06-30}
    chip: none
    face: none
    expected: {outcome: referred, reason: CHIP_ABSENT}
    desk: supervisor
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "drill.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_desk_key_and_the_defaults_by_kind(tmp_path: Path) -> None:
    first, tailgater, second = load_scenario(write(tmp_path, BASE)).passengers
    assert first.desk_expectation == DeskExpectation(
        DeskDecision.REFUSE, RefusalReason.FORGED_DOCUMENT
    )
    assert tailgater.desk is None
    assert tailgater.desk_expectation == DeskExpectation(DeskDecision.SUPERVISOR)
    assert second.desk_expectation == DeskExpectation(DeskDecision.SUPERVISOR)
    without = BASE.replace("    desk: supervisor\n", "")
    assert load_scenario(write(tmp_path, without)).passengers[2].desk_expectation == (
        DeskExpectation(DeskDecision.ADMIT)
    )


def test_every_kind_has_its_default() -> None:
    assert set(DESK_BY_KIND) == set(PassengerKind)
    refuse, supervisor, admit = DeskDecision.REFUSE, DeskDecision.SUPERVISOR, DeskDecision.ADMIT
    assert {kind.value: (e.decision, e.reason) for kind, e in DESK_BY_KIND.items()} == {
        "genuine": (admit, None),
        "ineligible": (admit, None),
        "impostor": (refuse, RefusalReason.IMPOSTOR),
        "document_fraud": (refuse, RefusalReason.FORGED_DOCUMENT),
        "stop_list": (supervisor, None),
        "tailgater": (supervisor, None),
        "presentation_attack": (supervisor, None),
    }


@pytest.mark.parametrize(
    ("old", "new", "where", "says"),
    [
        (
            "desk: {decision: refuse, reason: forged_document}",
            "desk: {decision: refuse}",
            ":12: passenger P1: desk.reason",
            "refuse needs a reason: impostor, forged_document",
        ),
        (
            "desk: supervisor",
            "desk: refuse",
            ":24: passenger P2: desk.reason",
            "refuse needs a reason",
        ),
        (
            "desk: {decision: refuse, reason: forged_document}",
            "desk: {decision: admit, reason: forged_document}",
            ":12: passenger P1: desk.reason",
            "only refuse has a reason, not admit",
        ),
        (
            "desk: {decision: refuse, reason: forged_document}",
            "desk: {decision: refuse, reason: looks_odd}",
            ":12: passenger P1: desk.reason",
            "'impostor', 'forged_document'",
        ),
        (
            "desk: supervisor",
            "desk: wave_through",
            ":24: passenger P2: desk.decision",
            "'admit', 'refuse' or 'supervisor'",
        ),
        (
            "desk: {decision: refuse, reason: forged_document}",
            "desk: {decision: refuse, reason: impostor, note: odd}",
            ":12: passenger P1: desk.note",
            "unknown field",
        ),
    ],
)
def test_a_bad_desk_key_is_one_line_naming_file_line_passenger_and_field(
    tmp_path: Path, old: str, new: str, where: str, says: str
) -> None:
    assert old in BASE, old
    with pytest.raises(ConfigError) as caught:
        load_scenario(write(tmp_path, BASE.replace(old, new, 1)))
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{tmp_path / 'drill.yaml'}{where}:"), message
    assert says in message, message


def test_a_tailgater_may_have_a_desk_key_too(tmp_path: Path) -> None:
    line = "    expected: {outcome: referred, reason: TAILGATING}\n"
    text = BASE.replace(line, line + "    desk: admit\n", 1)
    tailgater = load_scenario(write(tmp_path, text)).passengers[1]
    assert tailgater.desk_expectation == DeskExpectation(DeskDecision.ADMIT)


def test_the_desk_key_in_python() -> None:
    assert DeskSpec.model_validate("admit").expectation == DeskExpectation(DeskDecision.ADMIT)
    spec = DeskSpec.model_validate({"decision": "refuse", "reason": "not_entitled"})
    assert spec.expectation == DeskExpectation(DeskDecision.REFUSE, RefusalReason.NOT_ENTITLED)
