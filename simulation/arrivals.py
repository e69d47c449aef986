"""When travellers reach the hall, and which class each belongs to.

A capacity model needs, for one replication, the moment each traveller joins
a queue. Two sources give it:

* A *flight schedule*. A flight's passengers leave the aircraft over some
  minutes after on-block (the ``deplane`` distribution) and then walk to the
  hall (``walk``); a traveller's arrival is ``on_block + deplane + walk``,
  drawn independently per passenger. This is what makes arrival banks: a
  wide-body's 300 passengers spill into the hall over 15 minutes.
* A *rate* that is constant within each period and changes between periods:
  a non-homogeneous Poisson process. Within a period of length ``T`` at rate
  ``r``, the number of arrivals is Poisson with mean ``r T`` and, given that
  number, the arrival moments are independent and uniform over the period.
  Drawing the count and then the moments is exact (no thinning, no
  approximation at period boundaries).

Each traveller's class is drawn from the class shares of their flight (or of
the rate arrivals). A class with a ``kiosk`` step (EES pre-enrolment, see
``simulation.classes``) reaches the queue that much later: its kiosk times
are drawn after every other draw, so that the rest of the arrivals stay the
same with kiosks or without (common random numbers across variants).
Everything is generated up front as numpy arrays, sorted by time, from one
injected ``numpy.random.Generator``: the simulation then only walks through
the arrays.

Times here are seconds since the model's time 0 (the configuration's
``start``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from simulation.classes import ClassInfo, TravellerClass
from simulation.config import ArrivalsConfig, Flight, HallConfig

__all__ = ["Arrivals", "flight_arrivals", "generate_arrivals", "rate_arrivals"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True, eq=False)
class Arrivals:
    """Every traveller of one replication, in order of arrival.

    ``times[i]`` is when traveller ``i`` joins a queue (seconds since time 0),
    ``classes[i]`` an index into ``class_names`` (and ``channels``: ``"gate"``
    or ``"desk"``), ``flights[i]`` the index of their flight in the schedule
    (-1 for rate arrivals).
    """

    times: FloatArray
    classes: IntArray
    flights: IntArray
    class_names: tuple[str, ...]
    channels: tuple[str, ...]

    def __len__(self) -> int:
        return int(self.times.size)

    def uses_gate(self) -> npt.NDArray[np.bool_]:
        """Whether each traveller heads for the gates (else the desks)."""
        gate_classes = np.array([channel == "gate" for channel in self.channels], dtype=bool)
        if not gate_classes.size:
            return np.zeros(self.times.size, dtype=bool)
        return gate_classes[self.classes]


def _draw_classes(
    rng: np.random.Generator,
    count: int,
    classes: tuple[TravellerClass, ...],
    index_of: dict[str, int],
) -> IntArray:
    """``count`` class indices drawn with the classes' shares."""
    shares = np.array([item.share for item in classes], dtype=np.float64)
    # One uniform per traveller against the cumulative shares: the same draws
    # whatever the classes' names, and no renormalising quirks of choice().
    bounds = np.cumsum(shares / shares.sum())
    picks = np.searchsorted(bounds, rng.random(count), side="right")
    picks = np.minimum(picks, len(classes) - 1)
    local_to_global = np.array([index_of[item.name] for item in classes], dtype=np.int64)
    result: IntArray = local_to_global[picks]
    return result


def _sorted(
    parts: list[tuple[FloatArray, IntArray, IntArray]],
    table: tuple[ClassInfo, ...],
    cut_off: float | None,
    rng: np.random.Generator,
    base_dir: Path,
) -> Arrivals:
    times = np.concatenate([part[0] for part in parts]) if parts else np.empty(0)
    classes = np.concatenate([part[1] for part in parts]) if parts else np.empty(0, np.int64)
    flights = np.concatenate([part[2] for part in parts]) if parts else np.empty(0, np.int64)
    if cut_off is not None:
        keep = times < cut_off
        times, classes, flights = times[keep], classes[keep], flights[keep]
    for index, info in enumerate(table):
        if info.kiosk is not None:
            # Those who reached the hall before the horizon still use the kiosk.
            at_kiosk = classes == index
            times = times.copy()
            times[at_kiosk] += info.kiosk.build(base_dir).sample_many(rng, int(at_kiosk.sum()))
    # Stable, so travellers arriving at the same moment keep the schedule's order.
    order = np.argsort(times, kind="stable")
    return Arrivals(
        times=np.ascontiguousarray(times[order], dtype=np.float64),
        classes=np.ascontiguousarray(classes[order], dtype=np.int64),
        flights=np.ascontiguousarray(flights[order], dtype=np.int64),
        class_names=tuple(info.name for info in table),
        channels=tuple(info.channel for info in table),
    )


def flight_arrivals(
    arrivals: ArrivalsConfig,
    start: float,
    rng: np.random.Generator,
    base_dir: Path,
    horizon: float | None = None,
) -> Arrivals:
    """Travellers from the flight schedule; ``start`` and ``horizon`` are clock seconds.

    Travellers who would reach the hall at or after ``horizon`` are left out.
    """
    table = arrivals.class_infos()
    index_of = {info.name: index for index, info in enumerate(table)}
    parts: list[tuple[FloatArray, IntArray, IntArray]] = []
    for number, flight in enumerate(arrivals.timetable()):
        parts.append(_one_flight(arrivals, flight, number, start, rng, base_dir, index_of))
    return _sorted(parts, table, None if horizon is None else horizon - start, rng, base_dir)


def _one_flight(
    arrivals: ArrivalsConfig,
    flight: Flight,
    number: int,
    start: float,
    rng: np.random.Generator,
    base_dir: Path,
    index_of: dict[str, int],
) -> tuple[FloatArray, IntArray, IntArray]:
    count = flight.passengers
    assert count is not None  # the timetable counts every flight's passengers
    deplane = (flight.deplane or arrivals.deplane).build(base_dir)
    walk = (flight.walk or arrivals.walk).build(base_dir)
    times = (flight.on_block - start) + deplane.sample_many(rng, count)
    times = times + walk.sample_many(rng, count)
    classes = _draw_classes(rng, count, arrivals.flight_classes(flight), index_of)
    return times, classes, np.full(count, number, dtype=np.int64)


def rate_arrivals(
    arrivals: ArrivalsConfig,
    start: float,
    horizon: float,
    rng: np.random.Generator,
    base_dir: Path = Path(),
) -> Arrivals:
    """Poisson arrivals at the configured rate per period, up to ``horizon`` (clock seconds)."""
    table = arrivals.class_infos()
    index_of = {info.name: index for index, info in enumerate(table)}
    periods = arrivals.rate or ()
    classes = arrivals.flight_classes(None)
    parts: list[tuple[FloatArray, IntArray, IntArray]] = []
    for index, period in enumerate(periods):
        begin = period.start - start
        end = (periods[index + 1].start if index + 1 < len(periods) else horizon) - start
        length = end - begin
        if length <= 0:
            continue
        count = int(rng.poisson(period.per_hour * length / 3600.0))
        times = begin + np.sort(rng.uniform(0.0, length, count))
        parts.append(
            (
                times,
                _draw_classes(rng, count, classes, index_of),
                np.full(count, -1, dtype=np.int64),
            )
        )
    return _sorted(parts, table, None, rng, base_dir)


def generate_arrivals(config: HallConfig, rng: np.random.Generator, base_dir: Path) -> Arrivals:
    """The travellers of one replication of ``config``."""
    arrivals = config.arrivals
    if arrivals.rate is not None:
        assert config.horizon is not None  # the configuration requires it with a rate
        return rate_arrivals(arrivals, config.start, config.horizon, rng, base_dir)
    return flight_arrivals(arrivals, config.start, rng, base_dir, config.horizon)
