"""FMR, FNMR, EER and operating points (ISO/IEC 19795), by hand and by property."""

from __future__ import annotations

import math

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from egate.biometrics.evaluation import (
    COMMON_FMR,
    EES_FMR,
    Comparison,
    ErrorRates,
    default_thresholds,
    summarise,
)

GENUINE = [0.2, 0.3, 0.5]
IMPOSTOR = [0.4, 0.7, 0.8, 0.9]


def rates_of(genuine: list[float], impostor: list[float]) -> ErrorRates:
    return ErrorRates(
        [Comparison(True, value) for value in genuine]
        + [Comparison(False, value) for value in impostor]
    )


@pytest.fixture
def by_hand() -> ErrorRates:
    return rates_of(GENUINE, IMPOSTOR)


# --- by hand -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("threshold", "false_matches", "false_non_matches"),
    [
        (0.0, 0, 3),
        (0.2, 0, 2),  # a distance equal to the threshold is a match
        (0.3, 0, 1),
        (0.45, 1, 1),
        (0.5, 1, 0),
        (0.7, 2, 0),
        (0.85, 3, 0),
        (1.0, 4, 0),
    ],
)
def test_rates_at_a_threshold(by_hand, threshold, false_matches, false_non_matches):
    rate = by_hand.at(threshold)
    assert (rate.false_matches, rate.false_non_matches) == (false_matches, false_non_matches)
    assert (rate.impostors, rate.genuines) == (4, 3)
    assert rate.fmr == false_matches / 4
    assert rate.fnmr == false_non_matches / 3
    assert rate.threshold == threshold


def test_equal_error_rate_by_hand(by_hand):
    # FMR is 1/4 from 0.4 to 0.7; FNMR falls from 1/3 to 0 at 0.5: they cross at 1/4.
    eer = by_hand.equal_error_rate()
    assert eer is not None
    rate, threshold = eer
    assert rate == pytest.approx(0.25)
    assert 0.4 <= threshold <= 0.5


def test_equal_error_rate_of_separable_scores_is_zero():
    eer = rates_of([0.1, 0.2], [0.7, 0.8]).equal_error_rate()
    assert eer is not None
    assert eer[0] == 0.0
    assert 0.2 <= eer[1] < 0.7


def test_equal_error_rate_of_swapped_scores_is_one():
    eer = rates_of([0.7, 0.8], [0.1, 0.2]).equal_error_rate()
    assert eer is not None and eer[0] == pytest.approx(1.0)


def test_equal_error_rate_needs_both_kinds():
    assert rates_of(GENUINE, []).equal_error_rate() is None
    assert rates_of([], IMPOSTOR).equal_error_rate() is None


@pytest.mark.parametrize(
    ("target", "fmr", "fnmr", "below"),
    [
        (0.25, 0.25, 0.0, 0.7),  # one false match allowed: just below the second impostor
        (0.5, 0.5, 0.0, 0.8),
        (0.1, 0.0, 1 / 3, 0.4),  # none allowed: just below the closest impostor
    ],
)
def test_operating_point_by_hand(by_hand, target, fmr, fnmr, below):
    point = by_hand.operating_point(target)
    assert point.target_fmr == target
    assert point.threshold == math.nextafter(below, -math.inf)
    assert (point.fmr, point.fnmr) == (fmr, pytest.approx(fnmr))
    assert point.impostors_needed == math.ceil(1 / target)


def test_operating_point_bounds_fmr_when_no_false_match_is_seen(by_hand):
    point = by_hand.operating_point(0.1)
    assert point.fmr == 0.0
    assert point.fmr_upper_bound == pytest.approx(3 / 4)  # the rule of three
    assert by_hand.operating_point(0.25).fmr_upper_bound is None  # one false match seen


def test_operating_point_of_target_one_accepts_everyone(by_hand):
    point = by_hand.operating_point(1.0)
    assert (point.fmr, point.fnmr) == (1.0, 0.0)


def test_operating_point_with_tied_impostors_stays_under_target():
    # Two impostors at the same distance: one false match allowed is none possible.
    point = rates_of([0.1], [0.4, 0.4, 0.9]).operating_point(0.34)
    assert point.fmr == 0.0
    assert point.threshold is not None and point.threshold < 0.4


def test_operating_point_without_impostors():
    point = rates_of(GENUINE, []).operating_point(0.001)
    assert (point.threshold, point.fmr, point.fnmr, point.fmr_upper_bound) == (None,) * 4
    assert point.impostors_needed == 1000


def test_grid_and_default_thresholds(by_hand):
    thresholds = default_thresholds()
    assert thresholds[0] == 0.3 and thresholds[-1] == 0.9 and len(thresholds) == 61
    assert thresholds[30] == 0.6
    grid = by_hand.grid(thresholds)
    assert [row.threshold for row in grid] == thresholds
    assert grid[30] == by_hand.at(0.6)


def test_summary_of_the_example(by_hand):
    summary = summarise(by_hand, photos=9, failures={"a.jpg": "FACE_NOT_FOUND"}, skipped_pairs=2,
                        target_fmr=0.25)  # fmt: skip
    assert summary["photos"] == 9
    assert summary["failure_to_acquire"] == {
        "count": 1,
        "rate": round(1 / 9, 6),
        "reasons": {"FACE_NOT_FOUND": 1},
    }
    assert summary["comparisons"] == {"genuine": 3, "impostor": 4, "skipped": 2}
    assert summary["eer"] == {"rate": 0.25, "threshold": pytest.approx(0.425, abs=0.075)}
    points = {point["target_fmr"]: point for point in summary["operating_points"]}
    assert sorted(points) == [EES_FMR, COMMON_FMR, 0.25]
    assert points[0.25]["measurable"] is True
    assert points[0.25]["fmr"] == 0.25
    assert summary["at_thresholds"] == {
        "0.50": {"fmr": 0.25, "fnmr": 0.0},
        "0.60": {"fmr": 0.25, "fnmr": 0.0},
    }


def test_summary_says_what_cannot_be_measured(by_hand):
    summary = summarise(by_hand, photos=7, failures={}, skipped_pairs=0, target_fmr=COMMON_FMR)
    points = {point["target_fmr"]: point for point in summary["operating_points"]}
    assert set(points) == {EES_FMR, COMMON_FMR}
    for target, needed in ((EES_FMR, 2000), (COMMON_FMR, 1000)):
        assert points[target]["measurable"] is False
        assert points[target]["impostor_comparisons_needed"] == needed
        assert points[target]["fmr"] == 0.0
        assert points[target]["fmr_upper_bound_95"] == 0.75
    notes = summary["notes"]
    assert len(notes) == 2
    assert notes[0] == (
        "FMR 0.05% needs at least 2000 impostor comparisons to be measured; "
        "this rests on 4; with no false match seen, FMR < 75.00% (95%)"
    )
    assert "1000 impostor comparisons" in notes[1]


def test_summary_without_comparisons_is_plain_data():
    summary = summarise(rates_of([], []), photos=2, failures={}, skipped_pairs=1, target_fmr=0.01)
    assert summary["eer"] is None
    assert summary["at_thresholds"]["0.60"] == {"fmr": None, "fnmr": None}
    assert all(point["threshold"] is None for point in summary["operating_points"])
    assert all("rests on 0" in note for note in summary["notes"])


# --- properties ----------------------------------------------------------------

distances = st.lists(
    st.floats(min_value=0.0, max_value=2.0, allow_nan=False), min_size=1, max_size=40
)
thresholds = st.floats(min_value=-0.5, max_value=2.5, allow_nan=False)
targets = st.floats(min_value=1e-6, max_value=1.0, exclude_min=False)


@given(distances, distances, thresholds, thresholds)
def test_fmr_rises_and_fnmr_falls_with_the_threshold(genuine, impostor, first, second):
    rates = rates_of(genuine, impostor)
    low, high = sorted((first, second))
    assert rates.at(low).fmr <= rates.at(high).fmr
    assert rates.at(low).fnmr >= rates.at(high).fnmr


@given(distances, distances, targets)
@example([0.1], [0.5], math.nextafter(1.0, 0.0))
@example([0.1], [index / 1000 for index in range(1000)], 0.001 - 1e-16)
@example([0.1], [index / 10 for index in range(10)], 0.3)
def test_operating_point_never_exceeds_its_target(genuine, impostor, target):
    point = rates_of(genuine, impostor).operating_point(target)
    assert point.fmr is not None and point.fmr <= target
    assert point.threshold is not None
    # ... and is the largest such threshold: the next impostor would break the target.
    rates = rates_of(genuine, impostor)
    beyond = [value for value in rates.impostor if value > point.threshold]
    if beyond:
        assert rates.at(min(beyond)).fmr > target


@given(distances, distances)
def test_equal_error_rate_lies_between_zero_and_one(genuine, impostor):
    eer = rates_of(genuine, impostor).equal_error_rate()
    assert eer is not None
    rate, threshold = eer
    assert 0.0 <= rate <= 1.0
    assert 0.0 <= threshold <= 2.0


@given(distances, distances)
def test_equal_error_rate_is_zero_exactly_when_scores_separate(genuine, impostor):
    eer = rates_of(genuine, impostor).equal_error_rate()
    assert eer is not None
    separable = max(genuine) < min(impostor)
    assert (eer[0] == 0.0) == separable
