"""A limit on how often one kind of log line is written, with a count of what it held back."""

from __future__ import annotations


class LogLimiter:
    """Lets one line through per ``interval_s`` and counts the ones in between.

    A noisy device can report a fault thousands of times a second; the
    counter (a metric) sees each one, the log only a line now and then.
    """

    def __init__(self, interval_s: float) -> None:
        if not interval_s >= 0:
            raise ValueError("interval_s must be zero or more")
        self.interval_s = interval_s
        self._next: float | None = None
        self._held = 0

    def allow(self, now: float) -> int | None:
        """None to hold this line back; else how many were held back since the last one."""
        if self._next is not None and now < self._next:
            self._held += 1
            return None
        held, self._held = self._held, 0
        self._next = now + self.interval_s
        return held
