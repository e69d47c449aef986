"""The service's own time in a transaction: what it spends, less what devices and observers take.

The gate's budget (``benchmarks/service_overhead.py``: a p95 under 20 ms a
transaction) is for the service's own work: handing events to the controller
and carrying out its commands, the document policy's verdict, the chip
photo's hand-over to the matching core.  Time spent inside a device (a camera
grab, a door or indicator order) or a caller's observer (a transcript printed
live, a record shown) is not the service's and is taken out::

    own_time = OwnTime()
    with own_time.own():             # the service at work ...
        with own_time.device():      # ... waiting on a device: not counted
            camera.grab()
    seconds = own_time.take()        # at a transaction's end: its own time, from zero again
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager


class OwnTime:
    """Adds up the service's own time until it is taken (see the module docstring)."""

    def __init__(self, counter: Callable[[], float] = time.perf_counter) -> None:
        self._counter = counter
        self._own = 0.0
        # Device time within the measurement in progress (None: no measurement in progress).
        self._device: float | None = None

    @contextmanager
    def own(self) -> Iterator[None]:
        """Count the block as own time, less the device time within it.

        Inside another ``own`` block it is counted once, by the outer one.
        """
        if self._device is not None:
            yield
            return
        started = self._counter()
        self._device = 0.0
        try:
            yield
        finally:
            self._own += max(0.0, self._counter() - started - self._device)
            self._device = None

    @contextmanager
    def device(self) -> Iterator[None]:
        """Take the block out of the own time being measured (outside one, nothing counts)."""
        started = self._counter()
        try:
            yield
        finally:
            if self._device is not None:
                self._device += self._counter() - started

    def take(self) -> float:
        """The own time added up since the last ``take``; it starts again from zero."""
        own, self._own = self._own, 0.0
        return own
