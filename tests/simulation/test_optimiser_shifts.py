"""Covering a desk requirement with whole shifts: every slot covered, every shift a legal one."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulation.shifts import Shift, ShiftRules, cover, coverage, lower_bound


@st.composite
def rules_and_need(draw: st.DrawFn) -> tuple[ShiftRules, list[int]]:
    step = draw(st.sampled_from([15, 30, 60]))
    length_slots = draw(st.integers(1, 16))
    break_slots = draw(st.integers(0, max(0, length_slots // 3 - 1)))
    rules = ShiftRules(
        length_min=length_slots * step,
        break_min=break_slots * step,
        step_min=step,
        min_staff=draw(st.integers(0, 3)),
    )
    need = draw(st.lists(st.integers(0, 12), min_size=1, max_size=60))
    return rules, need


@settings(max_examples=300, deadline=None)
@given(rules_and_need())
def test_every_slot_has_its_requirement_and_every_shift_is_legal(
    case: tuple[ShiftRules, list[int]],
):
    rules, need = case
    shifts = cover(need, rules)
    have = coverage(shifts, len(need), rules)
    assert all(have[slot] >= max(need[slot], rules.min_staff) for slot in range(len(need)))
    assert len(shifts) >= lower_bound(need, rules)
    for shift in shifts:
        # Starting within the slots (and running past the last one, maybe).
        assert 0 <= shift.start < len(need)
        if rules.break_slots:
            assert shift.break_start is not None
            assert shift.break_start - shift.start in rules.break_starts()
            # The break is in the middle third of the shift, and off the desk.
            assert rules.length_slots / 3 <= shift.break_start - shift.start
            assert shift.break_start - shift.start + rules.break_slots <= 2 * rules.length_slots / 3
            assert len(shift.on_duty(rules)) == rules.length_slots - rules.break_slots
        else:
            assert shift.break_start is None
    # No shift is spare: without any one of them some slot goes short.
    for shift in set(shifts):
        fewer = list(shifts)
        fewer.remove(shift)
        short = coverage(fewer, len(need), rules)
        assert any(short[slot] < max(need[slot], rules.min_staff) for slot in range(len(need)))


def fewest_shifts(need: list[int], rules: ShiftRules) -> int:
    """The optimum by brute force: the fewest shifts without breaks covering ``need``."""
    starts = range(len(need))
    wanted = [max(value, rules.min_staff) for value in need]
    for count in itertools.count(max(wanted)):
        for chosen in itertools.combinations_with_replacement(starts, count):
            have = coverage([Shift(start) for start in chosen], len(need), rules)
            if all(h >= w for h, w in zip(have, wanted, strict=True)):
                return count
    raise AssertionError  # (itertools.count never ends)


@settings(max_examples=40, deadline=None)
@given(
    st.integers(1, 3).flatmap(
        lambda length: st.tuples(
            st.just(length), st.lists(st.integers(0, 2), min_size=1, max_size=6)
        )
    )
)
def test_without_breaks_the_cover_is_the_fewest_shifts(case: tuple[int, list[int]]):
    length, need = case
    rules = ShiftRules(length_min=length * 30, break_min=0, step_min=30, min_staff=0)
    assert len(cover(need, rules)) == fewest_shifts(need, rules) == lower_bound(need, rules)


def test_a_break_goes_where_officers_are_to_spare():
    # Eight one-hour slots, a one-hour break in the middle third (hours 3 to 5):
    # two officers wanted everywhere but at 04:00, where one will do.
    rules = ShiftRules(length_min=480, break_min=60, step_min=60, min_staff=0)
    need = [2, 2, 2, 2, 1, 2, 2, 2]
    shifts = cover(need, rules)
    assert coverage(shifts, 8, rules)[4] >= 1
    assert any(shift.break_start == 4 for shift in shifts)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"length_min": 470}, "shift length: a whole number of 30-minute steps"),
        ({"break_min": 45}, "break: a whole number of 30-minute steps"),
        ({"length_min": 120, "break_min": 60}, "does not fit in the middle third"),
        ({"step_min": 0}, "at least 1 minute"),
        ({"min_staff": -1}, "minimum staff"),
    ],
)
def test_rules_that_cannot_be_cut_are_refused(kwargs: dict[str, int], message: str):
    with pytest.raises(ValueError, match=message):
        ShiftRules(**kwargs)
