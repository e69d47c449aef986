"""The service's own-time timer: device and observer time taken out, nested work counted once."""

from __future__ import annotations

import pytest

from station.owntime import OwnTime


class Counter:
    """A performance counter moved by hand."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def counter() -> Counter:
    return Counter()


def test_own_work_less_device_time_is_counted(counter: Counter) -> None:
    timer = OwnTime(counter)
    with timer.own():
        counter.now += 0.004
        with timer.device():
            counter.now += 0.100
        counter.now += 0.001
    assert timer.take() == pytest.approx(0.005)


def test_take_starts_again_from_zero(counter: Counter) -> None:
    timer = OwnTime(counter)
    for _ in range(2):
        with timer.own():
            counter.now += 0.002
    assert timer.take() == pytest.approx(0.004)
    assert timer.take() == 0.0


def test_device_time_outside_own_work_counts_for_nothing(counter: Counter) -> None:
    timer = OwnTime(counter)
    with timer.device():
        counter.now += 1.0
    with timer.own():
        counter.now += 0.003
    assert timer.take() == pytest.approx(0.003)


def test_nested_own_work_is_counted_once(counter: Counter) -> None:
    timer = OwnTime(counter)
    with timer.own():
        counter.now += 0.001
        with timer.own():
            counter.now += 0.002
            with timer.device():
                counter.now += 0.050
    assert timer.take() == pytest.approx(0.003)


def test_own_time_is_never_negative(counter: Counter) -> None:
    timer = OwnTime(counter)
    with timer.own(), timer.device():
        counter.now += 0.01
    assert timer.take() == 0.0
