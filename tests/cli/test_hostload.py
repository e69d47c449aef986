"""HostLoad: how busy the machine was besides a run, from /proc/stat."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from egate.cli.hostload import HostLoad, HostTicks, usage_between

# user nice system idle iowait irq softirq steal guest guest_nice, in ticks of 1/100 s.
START = (
    "cpu  100 0 50 1000 0 0 0 0 0 0\ncpu0 50 0 25 500 0 0 0 0 0 0\ncpu1 50 0 25 500 0 0 0 0 0 0\n"
)
END = (
    "cpu  300 0 100 1100 0 0 0 50 0 0\n"
    "cpu0 150 0 50 550 0 0 0 25 0 0\n"
    "cpu1 150 0 50 550 0 0 0 25 0 0\n"
)


def test_other_work_is_the_busy_time_less_this_process() -> None:
    texts = iter([START, END])
    own = iter([10.0, 11.0])
    host = HostLoad(read=lambda: next(texts), own=lambda: next(own), ticks_per_second=100)
    host.start()
    usage = host.finish()
    assert usage is not None
    # 4 processor-seconds passed on 2 processors: 2 s.  Busy 2.5 s, 1 s of it this process's.
    assert usage.seconds == pytest.approx(2.0)
    assert usage.other_processors == pytest.approx(0.75)
    assert usage.steal_share == pytest.approx(0.125)
    assert usage.as_dict() == {"seconds": 2.0, "other_processors": 0.75, "steal_share": 0.125}


def test_this_process_alone_is_no_other_work() -> None:
    texts = iter([START, END])
    # This process used all 2.5 busy seconds (and its counter runs a little ahead).
    own = iter([0.0, 2.6])
    host = HostLoad(read=lambda: next(texts), own=lambda: next(own), ticks_per_second=100)
    host.start()
    usage = host.finish()
    assert usage is not None and usage.other_processors == 0.0


@pytest.mark.parametrize(
    "text",
    [None, "", "intr 1 2 3\n", "cpu 1 2 3\n", "cpu a b c d e f g h\n", "cpu0 1 1 1 1 1 1 1 1\n"],
)
def test_unreadable_counters_give_no_figure(text: str | None) -> None:
    host = HostLoad(read=lambda: text, own=lambda: 0.0, ticks_per_second=100)
    assert host.sample() is None
    host.start()
    assert host.finish() is None


def test_no_time_passed_gives_no_figure() -> None:
    tick = HostTicks(busy=1.0, steal=0.0, total=10.0, own=0.0, processors=2)
    assert usage_between(tick, tick) is None


def test_finish_without_start_gives_no_figure() -> None:
    host = HostLoad(read=lambda: START, own=lambda: 0.0, ticks_per_second=100)
    assert host.finish() is None


@pytest.mark.skipif(not Path("/proc/stat").exists(), reason="no /proc/stat: not Linux")
def test_the_kernels_counters_are_read() -> None:
    sample = HostLoad().sample()
    assert sample is not None
    online = sum(
        1
        for line in Path("/proc/stat").read_text().splitlines()
        if line.startswith("cpu") and line[3:4].isdigit()
    )
    assert sample.processors == online >= 1
    assert sample.total >= sample.busy > 0 and sample.own > 0


@pytest.mark.skipif(sys.platform.startswith("linux"), reason="Linux has /proc/stat")
def test_elsewhere_nothing_is_read() -> None:
    assert HostLoad().sample() is None
