"""The log limiter lets one line through per interval and says how many it held back."""

from __future__ import annotations

import pytest

from egate.ratelimit import LogLimiter


def test_one_line_per_interval_with_the_count_held_back() -> None:
    limit = LogLimiter(10.0)
    # 7,184 misreads in 20 s (one per KiB of noise): three lines, every misread counted.
    times = [i * 20.0 / 7184 for i in range(7184)]
    let_through = [(at, held) for at in times if (held := limit.allow(at)) is not None]
    assert [round(at) for at, _ in let_through] == [0, 10]
    assert [held for _, held in let_through] == [0, 3591]
    # The next line, once the interval is over, counts the rest.
    assert limit.allow(20.0) == 7184 - 2 - 3591


def test_zero_interval_lets_everything_through() -> None:
    limit = LogLimiter(0.0)
    assert [limit.allow(0.0) for _ in range(3)] == [0, 0, 0]


def test_negative_or_nan_interval_is_refused() -> None:
    for bad in (-1.0, float("nan")):
        with pytest.raises(ValueError, match="interval_s"):
            LogLimiter(bad)
