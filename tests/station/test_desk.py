"""The trainee desk: referring, deciding, scoring, the data page, the scorecard's desk section."""

from __future__ import annotations

import contextlib
import io
import json
import threading
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console

from egate.documents.composer import DocumentData, compose_mrz
from egate.documents.layout import MrzFormat
from station.training.desk import (
    Desk,
    DeskCase,
    DeskDecision,
    DeskExpectation,
    DeskMark,
    DeskScore,
    RefusalReason,
    desk_case,
    judge,
    officer_view,
)
from station.training.scenario import PassengerSpec, Scenario
from station.training.scorecard import Scorecard
from station.training.terminal import render_scorecard
from station.training.transcript import PassengerResult, ReplayRun

TODAY = date(2026, 3, 14)
ADMIT = DeskExpectation(DeskDecision.ADMIT)
SUPERVISOR = DeskExpectation(DeskDecision.SUPERVISOR)
REFUSE_IMPOSTOR = DeskExpectation(DeskDecision.REFUSE, RefusalReason.IMPOSTOR)
# The ICAO Doc 9303 specimen passport, as printed.
SPECIMEN = (
    "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<",
    "L898902C36UTO7408122F1204159ZE184226B<<<<<10",
)


def case(passenger: str, expected: DeskExpectation = ADMIT, outcome: str = "referred") -> DeskCase:
    return DeskCase(
        passenger=passenger,
        gate="G1",
        at_s=12.3456,
        outcome=outcome,
        reasons=("BIOMETRIC_MISMATCH",),
        expected=expected,
        document={"surname": "ERIKSSON", "document_number": "L898902C3"},
    )


# -- judging ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expected", "decision", "reason", "mark", "points"),
    [
        (REFUSE_IMPOSTOR, DeskDecision.REFUSE, RefusalReason.IMPOSTOR, DeskMark.CORRECT, 1.0),
        (
            REFUSE_IMPOSTOR,
            DeskDecision.REFUSE,
            RefusalReason.FORGED_DOCUMENT,
            DeskMark.REASON_WRONG,
            0.5,
        ),
        (REFUSE_IMPOSTOR, DeskDecision.SUPERVISOR, None, DeskMark.ESCALATED, 0.5),
        (REFUSE_IMPOSTOR, DeskDecision.ADMIT, None, DeskMark.WRONG, 0.0),
        (ADMIT, DeskDecision.ADMIT, None, DeskMark.CORRECT, 1.0),
        (ADMIT, DeskDecision.SUPERVISOR, None, DeskMark.WRONG, 0.0),
        (ADMIT, DeskDecision.REFUSE, RefusalReason.IMPOSTOR, DeskMark.WRONG, 0.0),
        (SUPERVISOR, DeskDecision.SUPERVISOR, None, DeskMark.CORRECT, 1.0),
        (SUPERVISOR, DeskDecision.REFUSE, RefusalReason.STOP_LIST, DeskMark.WRONG, 0.0),
        (SUPERVISOR, DeskDecision.ADMIT, None, DeskMark.WRONG, 0.0),
    ],
)
def test_a_decision_is_judged_against_the_expected_one(
    expected: DeskExpectation,
    decision: DeskDecision,
    reason: RefusalReason | None,
    mark: DeskMark,
    points: float,
) -> None:
    assert judge(expected, decision, reason) is mark
    desk = Desk()
    desk.refer(case("P1", expected))
    verdict = desk.decide("P1", decision, reason)
    assert (verdict.mark, verdict.points) == (mark, points)
    assert desk.score().points == points


def test_an_expectation_has_a_reason_exactly_when_it_refuses() -> None:
    with pytest.raises(ValueError, match="only a refusal"):
        DeskExpectation(DeskDecision.REFUSE)
    with pytest.raises(ValueError, match="only a refusal"):
        DeskExpectation(DeskDecision.ADMIT, RefusalReason.IMPOSTOR)


# -- misuse ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("passenger", "decision", "reason", "says"),
    [
        ("P9", "admit", None, "'P9' was not sent to the desk"),
        ("P1", "wave_through", None, "unknown decision 'wave_through': one of admit, refuse"),
        ("P1", "refuse", "looks_odd", "unknown reason 'looks_odd': one of impostor, forged"),
        ("P1", "refuse", None, "refuse needs a reason: one of impostor, forged_document"),
        ("P1", "admit", "impostor", "admit takes no reason (got impostor)"),
        ("P1", "supervisor", "stop_list", "supervisor takes no reason (got stop_list)"),
    ],
)
def test_misuse_is_a_one_line_value_error_and_changes_nothing(
    passenger: str, decision: str, reason: str | None, says: str
) -> None:
    desk = Desk()
    desk.refer(case("P1"))
    before = desk.version
    with pytest.raises(ValueError) as caught:
        desk.decide(passenger, decision, reason)
    assert says in str(caught.value)
    assert "\n" not in str(caught.value)
    assert desk.version == before
    assert desk.score().decided == 0


def test_a_passenger_that_is_no_id_is_not_at_the_desk() -> None:
    desk = Desk()
    desk.refer(case("P1"))
    for strange in (5, ["P1"], None):
        with pytest.raises(ValueError, match="was not sent to the desk"):
            desk.decide(strange, "admit")  # type: ignore[arg-type]


def test_a_case_is_decided_once() -> None:
    desk = Desk()
    desk.refer(case("P1", REFUSE_IMPOSTOR))
    first = desk.decide("P1", "refuse", "impostor")
    with pytest.raises(ValueError, match="P1 is already decided \\(refuse\\)"):
        desk.decide("P1", DeskDecision.ADMIT)
    assert desk.score().cases[0].verdict == first
    assert desk.score().points == 1.0


def test_only_referred_and_rejected_travellers_come_and_each_once() -> None:
    desk = Desk()
    for outcome in ("accepted", "aborted"):
        with pytest.raises(ValueError, match=f"a {outcome} traveller is not sent to a desk"):
            desk.refer(case("P1", outcome=outcome))
    desk.refer(case("P1", outcome="rejected"))
    with pytest.raises(ValueError, match="P1 is already at the desk"):
        desk.refer(case("P1"))
    assert [scored.passenger for scored in desk.score().cases] == ["P1"]


def test_a_closed_desk_takes_no_more_decisions() -> None:
    desk = Desk()
    desk.refer(case("P1"))
    desk.close()
    with pytest.raises(ValueError, match="the desk is closed"):
        desk.decide("P1", "admit")
    assert desk.closed and desk.to_json()["closed"] is True
    assert desk.score().cases[0].verdict.mark is DeskMark.UNDECIDED


def test_every_change_is_announced_and_counted() -> None:
    heard: list[int] = []
    desk = Desk(on_change=lambda: heard.append(1))
    desk.refer(case("P1"))
    desk.refer(case("P2"))
    desk.decide("P1", "admit")
    desk.close()
    assert len(heard) == 4 and desk.version == 4


# -- the live desk's JSON -----------------------------------------------------------------


def test_the_expected_answer_shows_only_once_decided() -> None:
    desk = Desk()
    desk.refer(case("P1", REFUSE_IMPOSTOR))
    desk.refer(case("P2", SUPERVISOR, outcome="rejected"))
    data = desk.to_json()
    assert json.loads(json.dumps(data)) == data
    assert "impostor" not in json.dumps(data)  # nothing gives the answer away
    first, second = data["cases"]  # type: ignore[misc]
    assert first == {
        "passenger": "P1",
        "gate": "G1",
        "at_s": 12.346,
        "outcome": "referred",
        "reasons": ["BIOMETRIC_MISMATCH"],
        "look_at": first["look_at"],
        "document": {"surname": "ERIKSSON", "document_number": "L898902C3"},
        "chip_photo": "/api/photo/P1/chip",
        "capture_photo": "/api/photo/P1/capture",
        "decided": None,
    }
    assert "compare the traveller" in first["look_at"]
    assert data["score"] == {"points": 0, "of": 2, "decided": 0}

    desk.decide("P1", "supervisor")
    first, second = desk.to_json()["cases"]  # type: ignore[misc]
    assert first["decided"] == {
        "decision": "supervisor",
        "reason": None,
        "verdict": "escalated",
        "points": 0.5,
        "expected": {"decision": "refuse", "reason": "impostor"},
    }
    assert second["decided"] is None
    assert desk.to_json()["score"] == {"points": 0.5, "of": 2, "decided": 1}


def test_the_data_page_stays_out_of_repr() -> None:
    shown = repr(case("P1"))
    assert "ERIKSSON" not in shown and "L898902C3" not in shown


# -- any sequence of decisions ------------------------------------------------------------

EXPECTATIONS = st.sampled_from(
    [
        ADMIT,
        SUPERVISOR,
        *(DeskExpectation(DeskDecision.REFUSE, reason) for reason in RefusalReason),
    ]
)
PASSENGERS = [f"P{n}" for n in range(6)]
ATTEMPTS = st.tuples(
    st.sampled_from([*PASSENGERS, "P99"]),
    st.sampled_from(list(DeskDecision)),
    st.none() | st.sampled_from(list(RefusalReason)),
)


@settings(max_examples=200, deadline=None)
@given(expected=st.lists(EXPECTATIONS, min_size=6, max_size=6), attempts=st.lists(ATTEMPTS))
def test_any_sequence_of_decisions_scores_each_case_once(
    expected: list[DeskExpectation],
    attempts: list[tuple[str, DeskDecision, RefusalReason | None]],
) -> None:
    desk = Desk()
    for passenger, answer in zip(PASSENGERS, expected, strict=True):
        desk.refer(case(passenger, answer))
    accepted: dict[str, float] = {}
    for passenger, decision, reason in attempts:
        try:
            verdict = desk.decide(passenger, decision, reason)
        except ValueError:
            continue
        assert passenger not in accepted  # never a second verdict for one case
        accepted[passenger] = verdict.points
    score = desk.score()
    assert score.of == 6
    assert score.decided == len(accepted)
    assert score.points == sum(accepted.values())
    assert score.points == sum(scored.verdict.points for scored in score.cases)
    assert 0 <= score.points <= score.of
    live = desk.to_json()["score"]
    assert live == {"points": score.points, "of": 6, "decided": len(accepted)}


def test_decisions_racing_from_many_threads_score_once() -> None:
    desk = Desk()
    desk.refer(case("P1"))
    barrier = threading.Barrier(8)
    won: list[float] = []

    def decide() -> None:
        barrier.wait()
        with contextlib.suppress(ValueError):  # the losers find it decided
            won.append(desk.decide("P1", "admit").points)

    threads = [threading.Thread(target=decide) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert won == [1.0]
    assert desk.score().points == 1.0


# -- the data page ---------------------------------------------------------------------


def test_the_officer_reads_the_data_page() -> None:
    assert officer_view(SPECIMEN, TODAY) == {
        "document_type": "P",
        "issuing_state": "UTO",
        "document_number": "L898902C3",
        "surname": "ERIKSSON",
        "given_names": "ANNA MARIA",
        "nationality": "UTO",
        "birth_date": "1974-08-12",
        "sex": "F",
        "expiry_date": "2012-04-15",
    }


def test_an_unspecified_sex_prints_as_x_and_no_mrz_reads_as_nothing() -> None:
    unspecified = (SPECIMEN[0], SPECIMEN[1][:20] + "<" + SPECIMEN[1][21:])
    assert officer_view(unspecified, TODAY)["sex"] == "X"
    assert officer_view(["NOT AN MRZ"], TODAY) == {}


names = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=2, max_size=12)


@settings(max_examples=60, deadline=None)
@given(
    surname=names,
    given=names,
    number=st.text(alphabet="ABCDEFGHJKLMNPRSTUVWXYZ0123456789", min_size=6, max_size=9),
    birth=st.dates(min_value=date(1940, 1, 1), max_value=date(2008, 12, 31)),
    expiry=st.dates(min_value=date(2027, 1, 1), max_value=date(2035, 12, 31)),
    sex=st.sampled_from(["F", "M"]),
)
def test_the_page_shows_what_was_composed(
    surname: str, given: str, number: str, birth: date, expiry: date, sex: str
) -> None:
    data = DocumentData(
        format=MrzFormat.TD3,
        document_type="P",
        issuing_state="CHN",
        surname=surname,
        given_names=given,
        document_number=number,
        nationality="CHN",
        birth_date=birth,
        sex=sex,
        expiry_date=expiry,
    )
    page = officer_view(compose_mrz(data), TODAY)
    assert page["surname"] == surname and page["given_names"] == given
    assert page["document_number"] == number
    assert page["birth_date"] == birth.isoformat()
    assert page["expiry_date"] == expiry.isoformat()
    assert (page["sex"], page["nationality"], page["issuing_state"]) == (sex, "CHN", "CHN")


def test_a_scenario_passenger_becomes_a_case() -> None:
    spec = PassengerSpec.model_validate(
        {
            "id": "P3",
            "kind": "impostor",
            "document": {
                "issuing_state": "CHN",
                "surname": "ZHANG",
                "given_names": "WEI",
                "number": "EA1234567",
                "birth_date": "1985-04-12",
                "sex": "M",
                "expiry_date": "2031-06-30",
            },
            "chip": "none",
            "face": "none",
            "expected": {"outcome": "referred", "reason": "BIOMETRIC_MISMATCH"},
        }
    )
    made = desk_case(
        spec, gate="G2", at_s=4.0, outcome="referred", reasons=["BIOMETRIC_MISMATCH"], today=TODAY
    )
    assert made.expected == REFUSE_IMPOSTOR
    assert made.reasons == ("BIOMETRIC_MISMATCH",)
    assert made.document["surname"] == "ZHANG"
    assert made.document["birth_date"] == "1985-04-12"
    assert made.document["document_number"] == "EA1234567"
    copy = desk_case(
        spec, gate="G1", at_s=9.0, outcome="rejected", reasons=(), today=TODAY, passenger="P3+1"
    )
    assert (copy.passenger, copy.expected, copy.document) == ("P3+1", made.expected, made.document)


# -- the scorecard's desk section ---------------------------------------------------------


def run_with(desk: DeskScore | None) -> ReplayRun:
    scenario = Scenario.model_validate(
        {
            "name": "Desk drill",
            "start": "2026-03-14T07:30:00+08:00",
            "gates": {"count": 1},
            "passengers": [
                {
                    "id": "P1",
                    "document": {
                        "issuing_state": "UTO",
                        "surname": "TRAVELLER",
                        "number": "X0000001",
                        "birth_date": "1980-01-01",
                        "expiry_date": "2031-01-01",
                    },
                    "chip": "none",
                    "face": "none",
                    "expected": {"outcome": "referred", "reason": "CHIP_ABSENT"},
                }
            ],
        }
    )
    spec = scenario.passengers[0]
    result = PassengerResult(id="P1", kind=spec.kind, expected=spec.expected, gate="G1")
    result.outcome, result.reasons = "referred", ("CHIP_ABSENT",)
    return ReplayRun(
        scenario=scenario, source="drill.yaml", speed=1.0, fast=False, results=[result], desk=desk
    )


def decided_desk() -> DeskScore:
    desk = Desk()
    desk.refer(case("P1", REFUSE_IMPOSTOR))
    desk.refer(case("P2", SUPERVISOR, outcome="rejected"))
    desk.refer(case("P3", ADMIT))
    desk.refer(case("P4", DeskExpectation(DeskDecision.REFUSE, RefusalReason.STOP_LIST)))
    desk.decide("P1", "refuse", "forged_document")
    desk.decide("P2", "supervisor")
    desk.decide("P3", "refuse", "impostor")
    desk.close()
    return desk.score()


def test_the_scorecard_json_has_a_desk_section() -> None:
    data = Scorecard.of(run_with(decided_desk())).to_json()
    assert json.loads(json.dumps(data)) == data
    desk = data["desk"]
    assert isinstance(desk, dict)
    assert (desk["points"], desk["of"], desk["decided"], desk["text"]) == (1.5, 4, 3, "1.5 of 4")
    first, second, third, fourth = desk["cases"]
    assert first == {
        "passenger": "P1",
        "gate": "G1",
        "at_s": 12.346,
        "outcome": "referred",
        "reasons": ["BIOMETRIC_MISMATCH"],
        "expected": {"decision": "refuse", "reason": "impostor"},
        "decided": {"decision": "refuse", "reason": "forged_document"},
        "verdict": "reason_wrong",
        "points": 0.5,
    }
    assert (second["verdict"], second["points"]) == ("correct", 1.0)
    assert (third["verdict"], third["points"]) == ("wrong", 0.0)
    assert fourth["decided"] is None
    assert (fourth["verdict"], fourth["points"]) == ("undecided", 0.0)
    assert fourth["expected"] == {"decision": "refuse", "reason": "stop_list"}
    # The scorecard names passengers by id: no data page in it.
    assert "ERIKSSON" not in json.dumps(data) and "L898902C3" not in json.dumps(data)


def test_without_a_desk_the_section_is_null_and_not_printed() -> None:
    card = Scorecard.of(run_with(None))
    assert card.to_json()["desk"] is None
    assert "Trainee desk" not in rendered(card)


def rendered(card: Scorecard) -> str:
    stream = io.StringIO()
    render_scorecard(card, Console(file=stream, width=100, color_system=None, legacy_windows=False))
    return stream.getvalue()


def test_the_terminal_prints_the_desk_as_its_own_table() -> None:
    text = rendered(Scorecard.of(run_with(decided_desk())))
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 100
    assert "Trainee desk: 1.5 of 4 points, 3 of 4 decided" in text
    rows = {line.split()[0]: line for line in lines if line.split()[:2][-1:] == ["G1"]}
    assert set(rows) == {"P1", "P2", "P3", "P4"}
    assert "refuse: impostor" in rows["P1"] and "reason wrong" in rows["P1"]
    assert rows["P1"].rstrip().endswith("0.5")
    assert "supervisor" in rows["P2"] and "correct" in rows["P2"]
    assert rows["P2"].rstrip().endswith("1")
    assert "admit" in rows["P3"] and "wrong" in rows["P3"]
    assert "undecided" in rows["P4"] and rows["P4"].rstrip().endswith("0")
