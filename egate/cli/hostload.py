"""What else the host's processors did while egate measured itself.

A benchmark on a shared machine is stretched by whatever else runs: other
processes in the same system, and (on a virtual machine) the hypervisor
giving the processors to other guests, which Linux counts as *steal*.  A
``HostLoad`` reads the kernel's processor counters (``/proc/stat``) and this
process's own processor time (its threads, and its child processes once they
have ended and been waited for, as a matching core's workers are when it
closes) at the start and the end of a run, so a report can say how busy the
machine was besides the run itself.  Where ``/proc/stat`` cannot be read
(not Linux) it reports nothing.

``/proc/stat``'s first line sums all processors, in clock ticks: ``cpu user
nice system idle iowait irq softirq steal guest guest_nice``.  Busy time is
user + nice + system + irq + softirq (guest time is already inside user and
nice); steal is time a processor was ready but the hypervisor ran something
else.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

PROC_STAT = Path("/proc/stat")
# user nice system idle iowait irq softirq steal: the columns read.
_COLUMNS = 8


@dataclass(frozen=True, slots=True)
class HostTicks:
    """The processors' counters at one moment, in seconds."""

    busy: float
    steal: float
    total: float
    own: float
    processors: int


@dataclass(frozen=True, slots=True)
class HostUsage:
    """How busy the host was over a run, besides the run itself."""

    seconds: float
    # Processors kept busy by other work, on average (1.0: one whole processor).
    other_processors: float
    # Share of all processor time the hypervisor gave to other guests.
    steal_share: float

    def as_dict(self) -> dict[str, float]:
        """Plain data for a JSON report."""
        return {
            "seconds": round(self.seconds, 3),
            "other_processors": round(self.other_processors, 3),
            "steal_share": round(self.steal_share, 4),
        }


def own_processor_seconds() -> float:
    """Processor seconds of this process and of its children that have been waited for."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


class HostLoad:
    """Reads the host's counters at the start and the end of a run.

    ``read``: the text of ``/proc/stat`` (None when it cannot be read);
    ``own``: this process's processor seconds; ``ticks_per_second``: the
    kernel's clock ticks a second (``SC_CLK_TCK``).
    """

    def __init__(
        self,
        read: Callable[[], str | None] | None = None,
        own: Callable[[], float] = own_processor_seconds,
        ticks_per_second: float | None = None,
    ) -> None:
        self._read = read or _read_proc_stat
        self._own = own
        self._hz = ticks_per_second or _clock_ticks()
        self._start: HostTicks | None = None

    def sample(self) -> HostTicks | None:
        """The counters now, or None when they cannot be read or parsed."""
        text = self._read()
        if text is None:
            return None
        lines = text.splitlines()
        fields = lines[0].split() if lines else []
        if len(fields) < _COLUMNS + 1 or fields[0] != "cpu":
            return None
        # One "cpuN" line per processor online follows the sum.
        processors = sum(1 for line in lines[1:] if line[:3] == "cpu" and line[3:4].isdigit())
        try:
            user, nice, system, idle, iowait, irq, softirq, steal = (
                int(value) / self._hz for value in fields[1 : _COLUMNS + 1]
            )
        except ValueError:
            return None
        busy = user + nice + system + irq + softirq
        total = busy + idle + iowait + steal
        return HostTicks(busy, steal, total, self._own(), max(1, processors))

    def start(self) -> None:
        """Mark the start of the run."""
        self._start = self.sample()

    def finish(self) -> HostUsage | None:
        """What the host did since ``start``, or None when it could not be read."""
        end = self.sample()
        if self._start is None or end is None:
            return None
        return usage_between(self._start, end)


def usage_between(start: HostTicks, end: HostTicks) -> HostUsage | None:
    """The host's usage between two samples, besides this process (None if no time passed)."""
    total = end.total - start.total
    if total <= 0:
        return None
    seconds = total / end.processors
    other = max(0.0, (end.busy - start.busy) - (end.own - start.own))
    return HostUsage(
        seconds=seconds,
        other_processors=other / seconds,
        steal_share=max(0.0, end.steal - start.steal) / total,
    )


def _read_proc_stat() -> str | None:
    try:
        return PROC_STAT.read_text(encoding="ascii", errors="replace")
    except OSError:
        return None


def _clock_ticks() -> float:
    try:
        return float(os.sysconf("SC_CLK_TCK"))
    except (AttributeError, ValueError, OSError):
        return 100.0
