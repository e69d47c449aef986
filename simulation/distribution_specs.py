"""Distributions as a planner names them in YAML: a mapping whose ``kind`` selects the rest.

::

    service_time: {kind: lognormal, mean: 10, sd: 4}
    verify_time: {kind: calibration, file: bench.json}

``DistributionSpec`` validates any of them (an unknown ``kind`` is one
message naming the kinds), and ``spec.build(base_dir)`` turns it into a
distribution of ``simulation.distributions``; a file is read relative to
``base_dir``, the configuration file's folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
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
from simulation.distributions import (
    Deterministic,
    Distribution,
    Empirical,
    Exponential,
    Gamma,
    Lognormal,
    Triangular,
    Uniform,
)
from simulation.fields import StrictKeys
from simulation.measured import load_calibration, load_empirical_csv

__all__ = [
    "KINDS",
    "CalibrationSpec",
    "DeterministicSpec",
    "DistributionSpec",
    "EmpiricalSpec",
    "ExponentialSpec",
    "GammaSpec",
    "LognormalSpec",
    "TriangularSpec",
    "UniformSpec",
]


class _Spec(StrictKeys):
    """What every distribution in a configuration file shares (a misspelt key is named)."""

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
