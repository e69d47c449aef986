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
  replacement; loaded from a CSV column (``load_empirical_csv``) or from the
  calibration file of ``egate biometrics bench --out`` (``load_calibration``).

Every distribution draws from a ``numpy.random.Generator`` it is handed, so a
run is reproducible from its seed and no state is global. ``sample`` gives
one duration; ``sample_many`` a whole array at once, which is far cheaper per
value. A model that asks for one value at a time wraps a distribution in a
``Stream``, which draws in batches behind the scenes.

In YAML, a distribution is a mapping whose ``kind`` selects the rest
(``DistributionSpec``)::

    service_time: {kind: lognormal, mean: 10, sd: 4}
    verify_time: {kind: calibration, file: bench.json}

and ``spec.build(base_dir)`` turns it into a distribution.
"""

from __future__ import annotations

import csv
import json
import math
import reprlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Literal, Protocol

import numpy as np
import numpy.typing as npt
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    PrivateAttr,
    Tag,
    ValidationInfo,
    field_validator,
    model_validator,
)

from egate.paths import existing_file

# The ``format`` of the files written by ``egate biometrics bench --out``.
# (Spelled out rather than imported: the benchmark module pulls in the face
# recognition stack, which the capacity model does not need.)
CALIBRATION_FORMAT = "egate-matching-calibration/1"

# Larger than any float: a JSON integer beyond it cannot become a duration.
_LONGEST = 2**1024

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


def _one_line(text: str) -> str:
    """``text`` with line breaks and other control characters escaped."""
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in text)


def load_empirical_csv(path: Path, column: str) -> Empirical:
    """The durations (seconds) in one column of a CSV file whose first line names the columns.

    Raises ``ValueError`` with a one-line message naming the file, the line
    and what is wrong.
    """
    values: list[float] = []
    try:
        # utf-8-sig: spreadsheets often start CSV files with a byte order mark.
        with path.open(encoding="utf-8-sig", newline="") as stream:
            # strict: a stray quote is an error, not part of a number.
            reader = csv.reader(stream, strict=True)
            header = next(reader, None)
            if header is None:
                raise ValueError(f"{path}: empty, expected a header line naming {column!r}")
            names = [name.strip() for name in header]
            if column not in names:
                raise ValueError(
                    f"{path}:{reader.line_num}: no column {column!r} "
                    f"(columns: {', '.join(map(repr, names))})"
                )
            index = names.index(column)
            for row in reader:
                if not row:  # a blank line
                    continue
                values.append(_duration_cell(row, index, f"{path}:{reader.line_num}", column))
    except OSError as error:
        raise ValueError(_one_line(f"{path}: cannot read: {error.strerror or error}")) from None
    except UnicodeDecodeError as error:
        raise ValueError(_one_line(f"{path}: not UTF-8 text ({error.reason})")) from None
    except csv.Error as error:
        raise ValueError(_one_line(f"{path}:{reader.line_num}: not valid CSV: {error}")) from None
    except ValueError as error:
        raise ValueError(_one_line(str(error))) from None
    if not values:
        raise ValueError(_one_line(f"{path}: no values in column {column!r}"))
    return Empirical(values)


def _duration_cell(row: list[str], index: int, where: str, column: str) -> float:
    """The duration in ``row[index]``; ``where`` is ``file:line`` for the error."""
    text = row[index].strip() if index < len(row) else ""
    if not text:
        raise ValueError(f"{where}: column {column!r} is empty")
    try:
        value = float(text)
    except ValueError:
        shown = reprlib.repr(text)
        raise ValueError(f"{where}: column {column!r}: {shown} is not a number") from None
    if not math.isfinite(value):
        raise ValueError(f"{where}: column {column!r}: {text!r} is not a finite number")
    if value < 0:
        raise ValueError(f"{where}: column {column!r}: {text} is negative (durations are >= 0)")
    return value


def load_calibration(path: Path) -> Empirical:
    """The matching core's measured service times from ``egate biometrics bench --out``.

    Raises ``ValueError`` with a one-line message naming the file and what is wrong.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ValueError(_one_line(f"{path}: cannot read: {error.strerror or error}")) from None
    except UnicodeDecodeError as error:
        raise ValueError(_one_line(f"{path}: not UTF-8 text ({error.reason})")) from None
    except json.JSONDecodeError as error:
        raise ValueError(_one_line(f"{path}:{error.lineno}: not valid JSON: {error.msg}")) from None
    try:
        return Empirical(_calibration_samples(data, path))
    except ValueError as error:
        raise ValueError(_one_line(str(error))) from None


def _calibration_samples(data: object, path: Path) -> list[float]:
    if not isinstance(data, dict):
        raise ValueError(f"{path}: not a calibration file (expected a JSON object)")
    found = data.get("format")
    if found != CALIBRATION_FORMAT:
        raise ValueError(
            f"{path}: not a calibration file "
            f"(format {reprlib.repr(found)}, expected {CALIBRATION_FORMAT!r})"
        )
    service = data.get("service_time_seconds")
    samples = service.get("samples") if isinstance(service, dict) else None
    if not isinstance(samples, list) or not samples:
        raise ValueError(f"{path}: service_time_seconds.samples: expected a list of durations")
    durations = []
    for index, value in enumerate(samples):
        # bool is an int to Python, but true is no duration.
        if isinstance(value, bool) or not isinstance(value, int | float):
            problem = f"{reprlib.repr(value)} is not a number"
        # A huge JSON integer overflows float(); compare it as it is.
        elif value < 0 or value > _LONGEST or not math.isfinite(value):
            problem = f"{reprlib.repr(value)} is not a duration (a finite number >= 0)"
        else:
            durations.append(float(value))
            continue
        raise ValueError(f"{path}: service_time_seconds.samples[{index}]: {problem}")
    return durations


# --- configuration ------------------------------------------------------------------------------


class _Spec(BaseModel):
    """What every distribution in a configuration file shares."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    def build(self, base_dir: Path) -> Distribution:
        """The distribution; ``base_dir`` is the configuration file's folder."""
        raise NotImplementedError


class ExponentialSpec(_Spec):
    """``{kind: exponential, mean: 12}``: memoryless durations."""

    kind: Literal["exponential"] = "exponential"
    mean: float = Field(gt=0, description="Mean duration in seconds.")

    def build(self, base_dir: Path) -> Exponential:
        """The distribution."""
        return Exponential(self.mean)


class DeterministicSpec(_Spec):
    """``{kind: deterministic, value: 3}``: always the same duration."""

    kind: Literal["deterministic"] = "deterministic"
    value: float = Field(ge=0, description="The duration in seconds.")

    def build(self, base_dir: Path) -> Deterministic:
        """The distribution."""
        return Deterministic(self.value)


class UniformSpec(_Spec):
    """``{kind: uniform, low: 1, high: 3}``: any duration in a range."""

    kind: Literal["uniform"] = "uniform"
    low: float = Field(ge=0, description="Shortest duration in seconds.")
    high: float = Field(ge=0, description="Longest duration in seconds.")

    @model_validator(mode="after")
    def _consistent(self) -> UniformSpec:
        self.build(Path())  # the distribution's own checks, with its messages
        return self

    def build(self, base_dir: Path) -> Uniform:
        """The distribution."""
        return Uniform(self.low, self.high)


class TriangularSpec(_Spec):
    """``{kind: triangular, low: 5, mode: 8, high: 15}``: a range with a most likely value."""

    kind: Literal["triangular"] = "triangular"
    low: float = Field(ge=0, description="Shortest duration in seconds.")
    mode: float = Field(ge=0, description="Most likely duration in seconds.")
    high: float = Field(ge=0, description="Longest duration in seconds.")

    @model_validator(mode="after")
    def _consistent(self) -> TriangularSpec:
        self.build(Path())
        return self

    def build(self, base_dir: Path) -> Triangular:
        """The distribution."""
        return Triangular(self.low, self.mode, self.high)


class LognormalSpec(_Spec):
    """``{kind: lognormal, mean: 10, sd: 4}``: skewed durations, by their own mean and sd."""

    kind: Literal["lognormal"] = "lognormal"
    mean: float = Field(gt=0, description="Mean duration in seconds.")
    sd: float = Field(gt=0, description="Standard deviation of the duration in seconds.")

    def build(self, base_dir: Path) -> Lognormal:
        """The distribution."""
        return Lognormal(self.mean, self.sd)


class GammaSpec(_Spec):
    """``{kind: gamma, mean: 10, sd: 4}``: skewed durations, by their own mean and sd."""

    kind: Literal["gamma"] = "gamma"
    mean: float = Field(gt=0, description="Mean duration in seconds.")
    sd: float = Field(gt=0, description="Standard deviation of the duration in seconds.")

    def build(self, base_dir: Path) -> Gamma:
        """The distribution."""
        return Gamma(self.mean, self.sd)


class _FileSpec(_Spec):
    """A distribution read from a file named relative to the configuration file.

    Validated with the loader's context ``base_dir`` (as ``load_config``
    does), the path is resolved and the file read at once, so that a bad
    file is a configuration error with a line number. Validated without it
    (a spec built in Python), a relative path is resolved by ``build``.
    """

    file: Path = Field(description="The file, relative to the configuration file.")
    _loaded: Empirical | None = PrivateAttr(default=None)

    @field_validator("file")
    @classmethod
    def _resolve(cls, path: Path, info: ValidationInfo) -> Path:
        if (info.context or {}).get("base_dir") is None:
            return path
        # Absolute, so that build() never joins the folder a second time.
        return existing_file(path, info).absolute()

    @model_validator(mode="after")
    def _read_now(self) -> _FileSpec:
        if self.file.is_absolute():
            self._loaded = self._load(self.file)
        return self

    def _load(self, path: Path) -> Empirical:
        raise NotImplementedError

    def build(self, base_dir: Path) -> Empirical:
        """The measured durations."""
        if self._loaded is not None:
            return self._loaded
        return self._load(base_dir / self.file)


class EmpiricalSpec(_FileSpec):
    """``{kind: empirical, file: times.csv, column: seconds}``: measured durations from a CSV."""

    kind: Literal["empirical"] = "empirical"
    column: str = Field(min_length=1, description="Name of the column holding seconds.")

    def _load(self, path: Path) -> Empirical:
        return load_empirical_csv(path, self.column)


class CalibrationSpec(_FileSpec):
    """``{kind: calibration, file: bench.json}``: service times from ``egate biometrics bench``."""

    kind: Literal["calibration"] = "calibration"

    def _load(self, path: Path) -> Empirical:
        return load_calibration(path)


_SPECS: tuple[type[_Spec], ...] = (
    ExponentialSpec,
    DeterministicSpec,
    UniformSpec,
    TriangularSpec,
    LognormalSpec,
    GammaSpec,
    EmpiricalSpec,
    CalibrationSpec,
)
KINDS: tuple[str, ...] = tuple(spec.model_fields["kind"].default for spec in _SPECS)


def _kind_of(value: object) -> object:
    """The ``kind`` of a mapping or of a spec object, None when there is none."""
    if isinstance(value, dict):
        return value.get("kind")
    return getattr(value, "kind", None)


# A callable discriminator, rather than ``Field(discriminator="kind")``, for the
# sake of one message: pydantic's own says "Unable to extract tag using
# discriminator 'kind'" when ``kind`` is missing. This one names the kinds
# whether ``kind`` is missing, misspelled or not a string.
DistributionSpec = Annotated[
    Annotated[ExponentialSpec, Tag("exponential")]
    | Annotated[DeterministicSpec, Tag("deterministic")]
    | Annotated[UniformSpec, Tag("uniform")]
    | Annotated[TriangularSpec, Tag("triangular")]
    | Annotated[LognormalSpec, Tag("lognormal")]
    | Annotated[GammaSpec, Tag("gamma")]
    | Annotated[EmpiricalSpec, Tag("empirical")]
    | Annotated[CalibrationSpec, Tag("calibration")],
    Discriminator(
        _kind_of,
        custom_error_type="distribution_kind",
        custom_error_message=f"expected a distribution with kind one of: {', '.join(KINDS)}",
    ),
]
