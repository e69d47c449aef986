"""The gate's indicator: signals, their order and time, and what a text may hold."""

from __future__ import annotations

import itertools

import pytest

from hardware.indicator import (
    COLOURS,
    MAX_TEXT,
    IndicatorError,
    RecordingIndicator,
    Shown,
    Signal,
    TerminalIndicator,
)


def ticking_clock():
    counter = itertools.count()
    return lambda: float(next(counter))


def test_every_signal_has_a_colour():
    assert set(COLOURS) == set(Signal)
    assert COLOURS[Signal.PASS] == "green"
    assert COLOURS[Signal.OFFICER] == "red"


def test_a_transaction_is_recorded_in_order_with_its_times():
    indicator = RecordingIndicator(ticking_clock())
    assert indicator.current is None
    indicator.show(Signal.READY, "place your passport")
    indicator.show(Signal.WAIT)
    indicator.show(Signal.LOOK, "look at the camera")
    indicator.show(Signal.PASS, "please walk through")
    assert indicator.history == [
        Shown(0.0, Signal.READY, "place your passport"),
        Shown(1.0, Signal.WAIT, ""),
        Shown(2.0, Signal.LOOK, "look at the camera"),
        Shown(3.0, Signal.PASS, "please walk through"),
    ]
    assert indicator.current == Shown(3.0, Signal.PASS, "please walk through")


def test_showing_the_same_again_is_not_a_change():
    indicator = RecordingIndicator(ticking_clock())
    indicator.show(Signal.WAIT)
    indicator.show(Signal.WAIT)
    indicator.show(Signal.WAIT, "still reading")
    assert [(shown.signal, shown.text) for shown in indicator.history] == [
        (Signal.WAIT, ""),
        (Signal.WAIT, "still reading"),
    ]


@pytest.mark.parametrize("text", ["x" * (MAX_TEXT + 1), "two\nlines", "bell\x07"])
def test_texts_are_short_printable_instructions(text):
    indicator = RecordingIndicator(ticking_clock())
    with pytest.raises(IndicatorError, match="printable and at most 80"):
        indicator.show(Signal.OFFICER, text)
    assert indicator.history == []


def test_the_terminal_indicator_writes_one_line_per_change():
    lines: list[str] = []
    indicator = TerminalIndicator("mock-1", lines.append, ticking_clock())
    indicator.show(Signal.OFFICER, "please see an officer")
    indicator.show(Signal.OFFICER, "please see an officer")
    indicator.show(Signal.CLOSED)
    assert lines == [
        "[gate mock-1] OFFICER (red): please see an officer",
        "[gate mock-1] CLOSED (red)",
    ]
    assert indicator.current is not None and indicator.current.signal is Signal.CLOSED
