"""The scorecard of a replay: counts, timings, throughput, JSON and the terminal tables."""

from __future__ import annotations

import io
import json
import math
import statistics
from datetime import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rich.console import Console

from station.training.scenario import PassengerKind, Scenario
from station.training.scorecard import (
    Scorecard,
    outcome_text,
    percentile,
    speed_note,
    transactions,
)
from station.training.terminal import line_style, render_line, render_scorecard
from station.training.transcript import Line, PassengerResult, ReplayRun, Step

START = "2026-03-02T07:30:00+08:00"


def document(number: int) -> dict[str, object]:
    return {
        "issuing_state": "UTO",
        "surname": "TRAVELLER",
        "number": f"X{number:07d}",
        "birth_date": "1980-01-01",
        "expiry_date": "2031-01-01",
    }


def passenger(pid: str, kind: str, expected: object, **extra: object) -> dict[str, object]:
    if kind == "tailgater":
        return {"id": pid, "kind": kind, "expected": expected, **extra}
    number = int(pid[1:])
    spec = {"document": document(number), "chip": "none", "face": "none"}
    return {"id": pid, "kind": kind, "expected": expected, **spec, **extra}


TAILGATING = {"outcome": "referred", "reason": "TAILGATING"}
SPECS = [
    passenger("P001", "genuine", "accepted"),
    passenger("P002", "genuine", "accepted"),
    passenger("P003", "impostor", {"outcome": "referred", "reason": "BIOMETRIC_MISMATCH"}),
    passenger(
        "P004", "document_fraud", {"outcome": "rejected", "reason": "CHECK_DIGIT_DOCUMENT_NUMBER"}
    ),
    passenger("P005", "genuine", TAILGATING),
    passenger("P006", "tailgater", TAILGATING, behaviour={"tailgates": "P005"}),
    passenger("P007", "genuine", "accepted"),
    passenger("P008", "tailgater", TAILGATING, behaviour={"tailgates": "P007"}),
    passenger("P009", "stop_list", {"outcome": "rejected", "reason": "STOP_LIST_HIT"}),
    passenger("P010", "ineligible", {"outcome": "rejected", "reason": "EXPIRED"}),
]
# id: (gate, outcome, reasons, duration) of what the gate did; None: no transaction of one's own.
ACTUAL: dict[str, tuple[str, str, tuple[str, ...], float] | None] = {
    "P001": ("G1", "accepted", (), 10.0),
    "P002": ("G2", "referred", ("BIOMETRIC_MISMATCH",), 20.0),  # a false reject
    "P003": ("G1", "referred", ("BIOMETRIC_MISMATCH",), 30.0),
    "P004": ("G2", "accepted", (), 40.0),  # a false accept
    "P005": ("G1", "referred", ("TAILGATING",), 50.0),
    "P006": None,  # shares P005's referred transaction: caught
    "P007": ("G2", "accepted", (), 60.0),
    "P008": None,  # followed P007 through an accepted transaction: missed
    "P009": ("G1", "rejected", ("STOP_LIST_HIT",), 70.0),
    "P010": ("G2", "rejected", ("EXPIRED",), 80.0),
}
VERIFY = {"P001": 0.4, "P002": 0.5, "P003": 0.6}


def scenario(**extra: object) -> Scenario:
    data = {"name": "Morning bank", "start": START, "gates": {"count": 2}, "passengers": SPECS}
    return Scenario.model_validate({**data, **extra})


def results(built: Scenario) -> list[PassengerResult]:
    found = []
    for index, spec in enumerate(built.passengers):
        result = PassengerResult(
            id=spec.id, kind=spec.kind, expected=spec.expected, learn=f"lesson {spec.id}"
        )
        actual = ACTUAL[spec.id]
        if actual is None:
            result.follows = spec.behaviour.tailgates
            if spec.id == "P006":  # the engine copied the shared transaction's outcome
                result.outcome, result.reasons = "referred", ("TAILGATING",)
        else:
            gate, outcome, reasons, duration = actual
            begin = index * 100.0
            steps = {"document": 2.0, "entry": 1.5, "capture": 1.0}
            if spec.id in VERIFY:
                steps["verify"] = VERIFY[spec.id]
            result.gate, result.outcome, result.reasons = gate, outcome, reasons
            result.transaction = f"T{spec.id}"
            result.arrived_at, result.started_at = begin - 1, begin
            result.ended_at, result.duration_s, result.steps = begin + duration, duration, steps
        found.append(result)
    return found


def make_run(speed: float = 1.0, **extra: object) -> ReplayRun:
    built = scenario(**extra)
    return ReplayRun(
        scenario=built,
        source="drill.yaml",
        speed=speed,
        fast=False,
        lines=[Line(0.0, "G1", "P001", Step.ARRIVAL, "steps up")],
        results=results(built),
        timing={"total": 10.0, "setup": 2.0, "replay": 8.0, "matching": 3.0, "extra": 0.5},
        duration=1800.0,
    )


@pytest.fixture(scope="module")
def card() -> Scorecard:
    return Scorecard.of(make_run())


# -- counts ------------------------------------------------------------------------


def test_passengers_matched(card):
    assert (card.matched, card.total, card.all_matched) == (7, 10, False)
    missed = [result.id for result in card.results if not result.matched]
    assert missed == ["P002", "P004", "P008"]


@pytest.mark.parametrize(
    ("key", "n", "of"),
    [
        ("genuine_accepted", 2, 3),  # P005 was expected referred: not counted
        ("impostors_caught", 1, 1),
        ("document_frauds_caught", 0, 1),
        ("ineligible_stopped", 1, 1),
        ("stop_list_caught", 1, 1),
        ("tailgaters_caught", 1, 2),
        ("false_rejects", 1, 3),
        ("false_accepts", 2, 6),  # P004, and P008 through P007's accepted transaction
    ],
)
def test_counts(card, key, n, of):
    count = card.count(key)
    assert (count.n, count.of, count.text) == (n, of, f"{n} of {of}")


def test_which_counts_are_good(card):
    assert card.count("impostors_caught").ok
    assert not card.count("document_frauds_caught").ok
    assert not card.count("false_accepts").ok
    with pytest.raises(KeyError):
        card.count("nonsense")


def test_a_tailgater_without_outcome_of_their_own_takes_the_leaders():
    run = make_run()
    for result in run.results:
        if result.id == "P006":
            result.outcome, result.reasons = None, ()
    card = Scorecard.of(run)
    assert card.count("tailgaters_caught").text == "1 of 2"
    assert card.count("false_accepts").text == "2 of 6"


def test_transactions_group_a_tailgater_with_their_leader():
    found = transactions(make_run())
    assert len(found) == 8
    shared = [t for t in found if "P006" in t.passengers]
    assert [t.passengers for t in shared] == [("P005", "P006")]
    missed = [t.passengers for t in found if not t.matched]
    assert missed == [("P002",), ("P004",), ("P007", "P008")]


def test_a_transaction_is_counted_once_even_when_two_results_carry_its_id():
    run = make_run()
    run.results[5].transaction = "TP005"  # P006 carries its leader's transaction id
    run.results[5].duration_s = 50.0
    assert len(transactions(run)) == 8


# -- timings and throughput ------------------------------------------------------------


def test_step_timings(card):
    timings = {timing.step: timing for timing in card.timings}
    assert list(timings) == ["document", "entry", "capture", "verify", "exit", "transaction"]
    # Durations 10, 20, ..., 80: median 45, p95 at position 6.65 between 70 and 80.
    assert timings["transaction"].count == 8
    assert timings["transaction"].median_s == 45.0
    assert timings["transaction"].p95_s == pytest.approx(76.5)
    assert (timings["verify"].count, timings["verify"].median_s) == (3, 0.5)
    assert timings["verify"].p95_s == pytest.approx(0.59)
    assert (timings["document"].count, timings["document"].median_s) == (8, 2.0)
    assert (timings["exit"].count, timings["exit"].median_s, timings["exit"].p95_s) == (
        0,
        None,
        None,
    )


def test_throughput_per_gate(card):
    rows = {row.gate: row for row in card.throughput}
    assert list(rows) == ["G1", "G2", "all"]
    # Four transactions per gate in half an hour of scenario time.
    assert (rows["G1"].transactions, rows["G1"].accepted, rows["G1"].per_hour) == (4, 1, 8.0)
    assert (rows["G2"].transactions, rows["G2"].accepted, rows["G2"].per_hour) == (4, 2, 8.0)
    assert (rows["all"].transactions, rows["all"].accepted, rows["all"].per_hour) == (8, 3, 16.0)


def test_no_rate_over_no_time():
    run = make_run()
    run.duration = 0.0
    assert all(row.per_hour is None for row in Scorecard.of(run).throughput)


def test_where_the_time_went(card):
    shares = {part.key: (part.seconds, part.share) for part in card.time_spent}
    assert list(shares) == ["setup", "replay", "matching", "extra", "total"]
    assert shares["setup"] == (2.0, pytest.approx(0.2))
    # The matching core works beside the replay (several workers): no share of the total.
    assert shares["matching"] == (3.0, None)
    assert shares["extra"] == (0.5, pytest.approx(0.05))
    assert shares["total"] == (10.0, 1.0)


def test_no_shares_without_a_total():
    run = make_run()
    run.timing = {"setup": 1.0}
    assert [(p.key, p.share) for p in Scorecard.of(run).time_spent] == [("setup", None)]


def test_speed_note():
    assert speed_note(1.0) is None
    note = speed_note(10.0)
    assert note is not None
    assert "10x" in note
    assert "not sped up" in note


# -- JSON ---------------------------------------------------------------------------


def test_json_round_trips(card):
    data = card.to_json()
    assert json.loads(json.dumps(data)) == data
    for key in ("scenario", "source", "speed", "fast", "passengers", "counts", "timings"):
        assert key in data
    assert data["scenario"] == "Morning bank"
    assert data["source"] == "drill.yaml"
    assert data["all_matched"] is False
    assert data["counts"]["false_accepts"] == {
        "label": "false accepts (non-genuine accepted)",
        "n": 2,
        "of": 6,
        "text": "2 of 6",
    }
    assert data["timings"]["transaction"] == {"count": 8, "median_s": 45.0, "p95_s": 76.5}
    assert data["throughput"]["gates"]["G1"] == {"transactions": 4, "accepted": 1, "per_hour": 8.0}
    assert data["throughput"]["all"]["per_hour"] == 16.0
    assert data["throughput"]["note"] is None
    assert data["where_time_went"]["replay"] == {"seconds": 8.0, "share": 0.8}
    passengers = data["passengers"]
    assert [p["id"] for p in passengers] == [spec["id"] for spec in SPECS]
    assert passengers[1]["matched"] is False
    assert passengers[1]["actual"] == {"outcome": "referred", "reasons": ["BIOMETRIC_MISMATCH"]}


def test_json_of_a_sped_up_run_says_so():
    data = Scorecard.of(make_run(speed=20.0)).to_json()
    assert data["speed"] == 20.0
    assert "20x" in str(data["throughput"]["note"])


# -- the terminal ---------------------------------------------------------------------


def rendered(card: Scorecard) -> str:
    stream = io.StringIO()
    render_scorecard(card, Console(file=stream, width=100, color_system=None, legacy_windows=False))
    return stream.getvalue()


def test_render_marks_the_mismatches(card):
    text = rendered(card)
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 100
    marked = {line.split()[1] for line in lines if line.strip().startswith("✗")}
    assert marked == {"P002", "P004", "P008"}
    assert sum(line.strip().startswith("✓") for line in lines) == 7
    assert "7 of 10 passengers as expected" in text
    assert "false accepts (non-genuine accepted)" in text
    assert "2 of 6" in text
    assert "referred: BIOMETRIC_MISMATCH" in text
    assert "76.50" in text  # the p95 of whole transactions
    assert "16.0" in text  # transactions per hour, all gates


def test_render_of_a_sped_up_run_carries_the_note():
    text = " ".join(rendered(Scorecard.of(make_run(speed=10.0))).split())
    assert "people and doors ran 10x as fast" in text


def test_render_line_has_fixed_columns():
    start = datetime.fromisoformat(START)
    line = Line(65.2, "G1", "P007", Step.VERIFY, "match, distance 0.41")
    assert render_line(line, start) == "07:31:05.2  G1  P007   verify     match, distance 0.41"
    hall = Line(3.0, "G12", None, Step.DEVICE, "camera unplugged")
    assert render_line(hall, start) == "07:30:03.0  G12 -      device     camera unplugged"
    assert render_line(hall, start, gate_width=5).startswith("07:30:03.0  G12   -")


def test_line_style():
    assert line_style(Line(0, "G1", None, Step.ALARM, "forced")) == "bold red"
    decision = Line(0, "G1", "P1", Step.DECISION, "accepted", {"outcome": "accepted"})
    assert line_style(decision) == "green"
    assert line_style(Line(0, "G1", "P1", Step.CAPTURE, "face found")) is None


def test_outcome_text():
    assert outcome_text(None, ()) == "none"
    assert outcome_text("rejected", ("EXPIRED", "MINOR")) == "rejected: EXPIRED, MINOR"


def test_the_kinds_are_all_counted():
    counted = {
        "genuine",
        "impostor",
        "document_fraud",
        "ineligible",
        "stop_list",
        "tailgater",
        "presentation_attack",
    }
    assert {kind.value for kind in PassengerKind} == counted


# -- the percentile helper -------------------------------------------------------------

values = st.lists(
    st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False),
    min_size=1,
    max_size=60,
)


def test_percentile_of_nothing():
    assert percentile([], 0.5) is None


def test_percentile_examples():
    assert percentile([3.0], 0.95) == 3.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.5
    assert percentile([0.0, 10.0], 0.95) == pytest.approx(9.5)


@given(values, st.floats(min_value=0, max_value=1))
def test_percentile_lies_within_the_values(data, share):
    found = percentile(data, share)
    assert found is not None
    assert min(data) <= found <= max(data)


@given(values)
def test_percentile_ends_and_middle(data):
    assert percentile(data, 0.0) == min(data)
    assert percentile(data, 1.0) == max(data)
    assert math.isclose(percentile(data, 0.5) or 0.0, statistics.median(data), abs_tol=1e-6)


@given(values)
def test_p95_agrees_with_the_standard_library(data):
    if len(data) < 2:
        return
    expected = statistics.quantiles(data, n=20, method="inclusive")[-1]
    assert math.isclose(percentile(data, 0.95) or 0.0, expected, rel_tol=1e-9, abs_tol=1e-6)


@given(values, st.floats(min_value=0, max_value=1), st.floats(min_value=0, max_value=1))
def test_percentile_grows_with_the_share(data, one, other):
    low, high = sorted((one, other))
    assert (percentile(data, low) or 0.0) <= (percentile(data, high) or 0.0) + 1e-9
