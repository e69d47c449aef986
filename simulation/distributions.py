"""Durations for the capacity model: how long a step takes, as a probability distribution.

A simulated gate never waits a fixed time. Reading a passport, walking in,
looking at the camera, verifying the face: each takes a duration drawn from
a distribution, and the queues a hall builds up depend on the spread of
those durations as much as on their means. This module holds the kinds a
planner names in configuration:

* ``Exponential(mean)``: memoryless, the textbook M in M/M/c; checkable
  against Erlang-C.
* ``Deterministic(value)``: always the same time (the D in M/D/1).
* ``Uniform(low, high)`` and ``Triangular(low, mode, high)``: when all one
  knows is a range, perhaps with a most likely value.
* ``Lognormal(mean, sd)`` and ``Gamma(mean, sd)``: skewed, never negative,
  the usual shapes of measured service times. Both take the mean and the
  standard deviation of the duration itself, as a planner states them; the
  parameters of the underlying formulas are derived here.
* ``Empirical(values)``: measured durations, drawn again at random with
  replacement; loaded from a CSV column or from the calibration file of
  ``egate biometrics bench --out`` (``simulation.measured``).

Every distribution draws from a ``numpy.random.Generator`` it is handed, so a
run is reproducible from its seed and no state is global. ``sample`` gives
one duration; ``sample_many`` a whole array at once, which is far cheaper per
value. A model that asks for one value at a time wraps a distribution in a
``Stream``, which draws in batches behind the scenes.

In YAML, a distribution is a mapping whose ``kind`` selects the rest
(``simulation.distribution_specs``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


class Distribution(Protocol):
    """A duration in seconds, drawn at random."""

    @property
    def mean(self) -> float:
        """The expected duration."""
        ...

    def sample(self, rng: np.random.Generator) -> float:
        """One duration."""
        ...

    def sample_many(self, rng: np.random.Generator, count: int) -> FloatArray:
        """``count`` durations at once (float64)."""
        ...


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)


def _finite(name: str, value: float) -> None:
    _require(math.isfinite(value), f"{name} must be a finite number (got {value})")


@dataclass(frozen=True, slots=True)
class Exponential:
    """Memoryless durations: the M of M/M/c queues."""

    mean: float

    def __post_init__(self) -> None:
        _finite("mean", self.mean)
        _require(self.mean > 0, f"mean must be greater than 0 (got {self.mean})")

    def sample(self, rng: np.random.Generator) -> float:
        """One duration."""
        return float(rng.exponential(self.mean))

    def sample_many(self, rng: np.random.Generator, count: int) -> FloatArray:
        """``count`` durations at once."""
        return rng.exponential(self.mean, count)


@dataclass(frozen=True, slots=True)
class Deterministic:
    """Always the same duration; draws nothing from the generator."""

    value: float

    def __post_init__(self) -> None:
        _finite("value", self.value)
        _require(self.value >= 0, f"value must be at least 0 (got {self.value})")

    @property
    def mean(self) -> float:
        """The one duration."""
        return self.value

    def sample(self, rng: np.random.Generator) -> float:
        """The duration."""
        return self.value

    def sample_many(self, rng: np.random.Generator, count: int) -> FloatArray:
        """``count`` copies of the duration."""
        return np.full(count, self.value, dtype=np.float64)


@dataclass(frozen=True, slots=True)
class Uniform:
    """Any duration between ``low`` and ``high``, all equally likely."""

    low: float
    high: float

    def __post_init__(self) -> None:
        _finite("low", self.low)
        _finite("high", self.high)
        _require(self.low >= 0, f"low must be at least 0 (got {self.low})")
        _require(
            self.low <= self.high,
            f"low ({self.low}) must not be greater than high ({self.high})",
        )

    @property
    def mean(self) -> float:
        """The midpoint."""
        return (self.low + self.high) / 2

    def sample(self, rng: np.random.Generator) -> float:
        """One duration."""
        return float(rng.uniform(self.low, self.high))

    def sample_many(self, rng: np.random.Generator, count: int) -> FloatArray:
        """``count`` durations at once."""
        return rng.uniform(self.low, self.high, count)


@dataclass(frozen=True, slots=True)
class Triangular:
    """Between ``low`` and ``high``, most often near ``mode``: a range with a best guess."""

    low: float
    mode: float
    high: float

    def __post_init__(self) -> None:
        for name in ("low", "mode", "high"):
            _finite(name, getattr(self, name))
        _require(self.low >= 0, f"low must be at least 0 (got {self.low})")
        # numpy needs a range of some width; a single value is Deterministic.
        _require(
            self.low < self.high,
            f"low ({self.low}) must be less than high ({self.high})",
        )
        _require(
            self.low <= self.mode <= self.high,
            f"mode ({self.mode}) must lie between low ({self.low}) and high ({self.high})",
        )

    @property
    def mean(self) -> float:
        """The average of the three points."""
        return (self.low + self.mode + self.high) / 3

    def sample(self, rng: np.random.Generator) -> float:
        """One duration."""
        return float(rng.triangular(self.low, self.mode, self.high))

    def sample_many(self, rng: np.random.Generator, count: int) -> FloatArray:
        """``count`` durations at once."""
        return rng.triangular(self.low, self.mode, self.high, count)


def _check_mean_sd(mean: float, sd: float) -> None:
    _finite("mean", mean)
    _finite("sd", sd)
    _require(mean > 0, f"mean must be greater than 0 (got {mean})")
    _require(sd > 0, f"sd must be greater than 0 (got {sd}); a fixed time is deterministic")


@dataclass(frozen=True, slots=True)
class Lognormal:
    """Skewed positive durations whose logarithm is normal; given by their own mean and sd."""

    mean: float
    sd: float
    mu: float = field(init=False, repr=False, compare=False)
    sigma: float = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _check_mean_sd(self.mean, self.sd)
        # If log(X) ~ N(mu, sigma^2) then E[X] = exp(mu + sigma^2/2) and
        # Var[X] = E[X]^2 (exp(sigma^2) - 1); solved for mu and sigma.
        variance = math.log1p((self.sd / self.mean) ** 2)
        object.__setattr__(self, "sigma", math.sqrt(variance))
        object.__setattr__(self, "mu", math.log(self.mean) - variance / 2)

    def sample(self, rng: np.random.Generator) -> float:
        """One duration."""
        return float(rng.lognormal(self.mu, self.sigma))

    def sample_many(self, rng: np.random.Generator, count: int) -> FloatArray:
        """``count`` durations at once."""
        return rng.lognormal(self.mu, self.sigma, count)


@dataclass(frozen=True, slots=True)
class Gamma:
    """Skewed positive durations (a sum of exponential stages); given by their mean and sd."""

    mean: float
    sd: float
    shape: float = field(init=False, repr=False, compare=False)
    scale: float = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _check_mean_sd(self.mean, self.sd)
        # mean = shape * scale and variance = shape * scale^2.
        object.__setattr__(self, "shape", (self.mean / self.sd) ** 2)
        object.__setattr__(self, "scale", self.sd**2 / self.mean)

    def sample(self, rng: np.random.Generator) -> float:
        """One duration."""
        return float(rng.gamma(self.shape, self.scale))

    def sample_many(self, rng: np.random.Generator, count: int) -> FloatArray:
        """``count`` durations at once."""
        return rng.gamma(self.shape, self.scale, count)


class Empirical:
    """Measured durations, drawn again uniformly at random with replacement."""

    __slots__ = ("_mean", "_values")

    def __init__(self, values: Iterable[float]) -> None:
        array = np.array(list(values), dtype=np.float64)
        _require(
            array.ndim == 1 and array.size > 0,
            "an empirical distribution needs a flat list of values",
        )
        _require(bool(np.isfinite(array).all()), "empirical values must be finite numbers")
        _require(bool((array >= 0).all()), "empirical values must be at least 0")
        array.flags.writeable = False  # shared by every draw: nobody may change it
        self._values: FloatArray = array
        self._mean = float(array.mean())

    @property
    def values(self) -> FloatArray:
        """The observed durations (read-only)."""
        return self._values

    @property
    def mean(self) -> float:
        """The mean of the observed durations."""
        return self._mean

    def sample(self, rng: np.random.Generator) -> float:
        """One of the observed durations."""
        return float(self._values[rng.integers(self._values.size)])

    def sample_many(self, rng: np.random.Generator, count: int) -> FloatArray:
        """``count`` observed durations, with repeats."""
        return self._values[rng.integers(self._values.size, size=count)]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Empirical):
            return NotImplemented
        return bool(np.array_equal(self._values, other._values))

    def __hash__(self) -> int:
        return hash(self._values.tobytes())

    def __repr__(self) -> str:
        return f"Empirical({self._values.size} values, mean={self._mean:.6g})"


class Stream:
    """One distribution's durations handed out one at a time, drawn in batches.

    Per value, ``sample_many`` costs a small fraction of ``sample``: numpy
    pays its call overhead once per array. A SimPy process asks for one
    duration at a time, so it calls a stream instead: ``service = Stream(...)``,
    then ``yield env.timeout(service())``. The values are exactly those of
    successive ``sample_many(rng, batch)`` calls, in order.
    """

    __slots__ = ("_batch", "_distribution", "_pending", "_rng")

    def __init__(
        self, distribution: Distribution, rng: np.random.Generator, batch: int = 4096
    ) -> None:
        if batch < 1:
            raise ValueError(f"batch must be at least 1 (got {batch})")
        self._distribution = distribution
        self._rng = rng
        self._batch = batch
        self._pending: Iterator[float] = iter(())

    @property
    def distribution(self) -> Distribution:
        """What the values are drawn from."""
        return self._distribution

    def __call__(self) -> float:
        """The next duration."""
        try:
            return next(self._pending)
        except StopIteration:
            # ``tolist`` converts the whole batch to Python floats in C, so the
            # fast path above is a plain list iterator step.
            batch = self._distribution.sample_many(self._rng, self._batch)
            self._pending = iter(batch.tolist())
            return next(self._pending)

    def next(self) -> float:
        """The next duration (the same as calling the stream)."""
        return self()
