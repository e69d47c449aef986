"""Sweeps: one hall run with a setting stepped through a range, to find the least that suffices.

A planner's questions are "how many gates (desks, matching workers) do we
need?" and "how strict can the face threshold be before the queues suffer?".
A sweep answers them by running the configuration once per value of one
setting, every value with the same seed and number of replications (so the
same travellers arrive: the configurations differ, not their luck), and
picking the smallest value whose travellers meet the service level.

Written as ``NAME=LOW..HIGH`` (every whole number in between),
``NAME=LOW..HIGH:STEP`` or ``NAME=V1,V2,...``:

* ``gates=4..16``: gates installed. A bank schedule keeps its shape: each
  period opens the same share of the gates as before (rounded).
* ``desks=20..40:4``: desks staffed; a roster is scaled so that its busiest
  period has this many.
* ``workers=1..8``: workers of the central matching core.
* ``threshold=0.5..0.65:0.05``: the face verification threshold; FNMR and
  FMR are read from ``gates.biometrics.rates_file`` at each value.

A configuration *meets the service level with 95% confidence* when the
lower end of the 95% confidence interval of the share of travellers waiting
at most ``max_wait_min`` (over the replications) is at least ``share``; it
meets it *on the mean only* when the mean reaches the target but the lower
end does not (with one replication there is no interval: never more than
that). Only the first counts as meeting: a share of 95.3% ± 8.3 may well be
90%. For every setting the smallest value that meets is the cheapest
(fewest servers) or, for the threshold, the strictest; the smallest that
meets on the mean only is reported beside it, as a hint that more
replications may settle it.

Several settings at once, every combination of their values, are a grid
(``simulation.grid``), built from these sweeps and this verdict.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pydantic import ValidationError

from simulation.config import HallConfig
from simulation.summary import Summary

__all__ = [
    "PARAMETERS",
    "Sweep",
    "SweepResult",
    "Verdict",
    "apply_setting",
    "describe",
    "meets_service_level",
    "parse_sweep",
    "service_level_verdict",
    "sweep_configs",
    "verdicts_of",
]

# Enough for any real question; more is a typo (threshold=0..1:0.0001).
MAX_VALUES = 200


@dataclass(frozen=True, slots=True)
class _Parameter:
    whole: bool  # values are whole numbers
    low: float  # the smallest value allowed
    high: float  # the largest
    what: str


PARAMETERS: dict[str, _Parameter] = {
    "gates": _Parameter(True, 1, 500, "gates installed"),
    "desks": _Parameter(True, 0, 1000, "desks staffed at the busiest time"),
    "workers": _Parameter(True, 1, 1000, "matching core workers"),
    "threshold": _Parameter(False, 0, 2, "face verification threshold"),
}

USAGE = f"expected NAME=LOW..HIGH[:STEP] or NAME=V1,V2,... with NAME one of {', '.join(PARAMETERS)}"


@dataclass(frozen=True, slots=True)
class Sweep:
    """A setting and the values it takes, in increasing order (ints for counts)."""

    parameter: str
    values: tuple[float, ...]

    def label(self, value: float) -> str:
        """A value as written: ``12`` for a count, ``0.55`` for a threshold."""
        return f"{value:g}" if not PARAMETERS[self.parameter].whole else str(int(value))

    def __str__(self) -> str:
        return f"{self.parameter}={','.join(self.label(value) for value in self.values)}"


def _number(text: str, whole: bool) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{text.strip()!r} is not a number") from None
    if not math.isfinite(value):
        raise ValueError(f"{text.strip()!r} is not a finite number")
    if whole and value != int(value):
        raise ValueError(f"{text.strip()!r} is not a whole number")
    return value


def parse_sweep(text: str) -> Sweep:
    """The sweep written as ``text``; ``ValueError`` with a one-line message if it is not one."""
    name, equals, spec = text.partition("=")
    name, spec = name.strip(), spec.strip()
    if not equals or not spec:
        raise ValueError(f"{text!r}: {USAGE}")
    parameter = PARAMETERS.get(name)
    if parameter is None:
        raise ValueError(f"{text!r}: unknown setting {name!r}; {USAGE}")
    try:
        values = _values(spec, parameter)
    except ValueError as error:
        raise ValueError(f"{text!r}: {error}; {USAGE}") from None
    for value in values:
        if not parameter.low <= value <= parameter.high:
            raise ValueError(
                f"{text!r}: {name} must be from {parameter.low:g} to {parameter.high:g} "
                f"(got {value:g})"
            )
    return Sweep(name, values)


def _values(spec: str, parameter: _Parameter) -> tuple[float, ...]:
    if ".." not in spec:
        items = [_number(item, parameter.whole) for item in spec.split(",")]
        if len(set(items)) != len(items):
            raise ValueError("a value is listed twice")
        values = sorted(items)
    else:
        low_text, _, rest = spec.partition("..")
        high_text, colon, step_text = rest.partition(":")
        low = _number(low_text, parameter.whole)
        high = _number(high_text, parameter.whole)
        step = _number(step_text, parameter.whole) if colon else 1.0
        if not parameter.whole and not colon:
            raise ValueError("give a step for a range of fractions (LOW..HIGH:STEP)")
        if step <= 0:
            raise ValueError("the step must be greater than 0")
        if high < low:
            raise ValueError(f"the range runs backwards ({low:g} > {high:g})")
        # A little slack, so that 0.5..0.65:0.05 ends on 0.65 despite rounding.
        count = math.floor((high - low) / step + 1e-9) + 1
        if count > MAX_VALUES:
            raise ValueError(f"{count} values, more than {MAX_VALUES}")
        values = [round(low + index * step, 9) for index in range(count)]
    if len(values) > MAX_VALUES:
        raise ValueError(f"{len(values)} values, more than {MAX_VALUES}")
    # Counts as ints, so that they print and compare as the counts they are.
    return tuple(int(value) if parameter.whole else value for value in values)


# --- changing a configuration -----------------------------------------------------------------


def _scaled(count: int, old_total: int, new_total: int) -> int:
    """``count`` of ``old_total`` as the same share of ``new_total``, rounded half up."""
    if old_total <= 0:
        return new_total if count else 0
    return min(new_total, math.floor(count * new_total / old_total + 0.5))


def _set_gates(data: dict[str, Any], config: HallConfig, value: int) -> None:
    gates = data["gates"]
    old = config.gates.count
    if config.gates.banks is not None:
        gates["banks"] = [
            {**bank, "open": _scaled(period.open, old, value)}
            for bank, period in zip(gates["banks"], config.gates.banks, strict=True)
        ]
    gates["count"] = value


def _set_desks(data: dict[str, Any], config: HallConfig, value: int) -> None:
    if config.desks is None:
        raise ValueError("desks: the configuration has no desks to change")
    desks = data["desks"]
    if config.desks.roster is None:
        desks["count"] = value
        return
    most = config.desks.most
    desks["roster"] = [
        {**shift, "desks": _scaled(period.desks, most, value)}
        for shift, period in zip(desks["roster"], config.desks.roster, strict=True)
    ]


def _set_workers(data: dict[str, Any], config: HallConfig, value: int) -> None:
    if config.matching is None:
        raise ValueError("workers: the configuration has no central matching core (matching:)")
    data["matching"]["workers"] = value


def _set_threshold(data: dict[str, Any], config: HallConfig, value: float) -> None:
    if config.gates.biometrics is None:
        raise ValueError(
            "threshold: needs gates.biometrics.rates_file in the configuration "
            "(the rates.csv of `egate biometrics eval --out`)"
        )
    data["gates"]["biometrics"]["threshold"] = value


_SETTERS: dict[str, Callable[[dict[str, Any], HallConfig, Any], None]] = {
    "gates": _set_gates,
    "desks": _set_desks,
    "workers": _set_workers,
    "threshold": _set_threshold,
}


def apply_setting(config: HallConfig, parameter: str, value: float) -> HallConfig:
    """``config`` with ``parameter`` set to ``value``, validated again.

    Raises ``ValueError`` with a one-line message when the setting does not
    apply to the configuration or the result is not a valid one.
    """
    if parameter not in _SETTERS:
        raise ValueError(f"unknown setting {parameter!r} (expected one of {', '.join(_SETTERS)})")
    # Only what the file set, so that defaults do not turn into conflicting settings
    # (an egate_share next to classes). Paths in it are already resolved.
    data = config.model_dump(mode="json", by_alias=True, exclude_unset=True)
    number: float | int = int(value) if PARAMETERS[parameter].whole else value
    _SETTERS[parameter](data, config, number)
    try:
        return HallConfig.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(step) for step in first["loc"]) or "(top level)"
        message = str(first["msg"]).removeprefix("Value error, ")
        raise ValueError(f"{parameter}={number:g}: {field}: {message}") from None


# --- results ---------------------------------------------------------------------------------


class Verdict(StrEnum):
    """How a configuration stands against the service level."""

    MET = "met"  # the lower end of the share's 95% interval reaches the target
    MEAN_ONLY = "met_on_mean_only"  # the mean reaches it, the lower end does not
    MISSED = "missed"  # the mean falls short

    @property
    def words(self) -> str:
        """The verdict as a planner reads it."""
        return _WORDS[self]


_WORDS = {
    Verdict.MET: "met with 95% confidence",
    Verdict.MEAN_ONLY: "met on the mean only",
    Verdict.MISSED: "missed",
}

# Shares are means of thousands of 0/1 values: a hair of rounding is not a miss.
_SLACK = 1e-12


def service_level_verdict(summary: Summary, config: HallConfig) -> Verdict:
    """Met (on the lower confidence bound), met on the mean only, or missed."""
    share = summary["service_level.share"]
    target = config.service_level.share - _SLACK
    if not (math.isfinite(share.mean) and share.mean >= target):
        return Verdict.MISSED
    if math.isfinite(share.low) and share.low >= target:
        return Verdict.MET
    return Verdict.MEAN_ONLY


def meets_service_level(summary: Summary, config: HallConfig) -> bool:
    """Whether the service level is met with 95% confidence (its lower bound reaches the target)."""
    return service_level_verdict(summary, config) is Verdict.MET


def verdicts_of(configs: Sequence[HallConfig], summaries: Sequence[Summary]) -> tuple[Verdict, ...]:
    """Each configuration's standing against its service level, from its summary."""
    return tuple(
        service_level_verdict(summary, config)
        for summary, config in zip(summaries, configs, strict=True)
    )


@dataclass(frozen=True, slots=True)
class SweepResult:
    """What a sweep found: one configuration and summary per value, and the smallest that meets."""

    sweep: Sweep
    configs: tuple[HallConfig, ...]
    summaries: tuple[Summary, ...]

    @property
    def verdicts(self) -> tuple[Verdict, ...]:
        """Per value, how its configuration stands against the service level."""
        return verdicts_of(self.configs, self.summaries)

    @property
    def met(self) -> tuple[bool, ...]:
        """Per value, whether its configuration meets the service level with 95% confidence."""
        return tuple(verdict is Verdict.MET for verdict in self.verdicts)

    @property
    def smallest(self) -> float | None:
        """The smallest value that meets the service level with 95% confidence, or None."""
        for value, met in zip(self.sweep.values, self.met, strict=True):
            if met:
                return value
        return None

    @property
    def smallest_on_mean(self) -> float | None:
        """The smallest value whose mean share reaches the target (confident or not), or None."""
        for value, verdict in zip(self.sweep.values, self.verdicts, strict=True):
            if verdict is not Verdict.MISSED:
                return value
        return None


def sweep_configs(config: HallConfig, sweep: Sweep) -> tuple[HallConfig, ...]:
    """One configuration per value of ``sweep``."""
    return tuple(apply_setting(config, sweep.parameter, value) for value in sweep.values)


def describe(sweep: Sweep, values: Sequence[float] | None = None) -> str:
    """``gates 4..16`` style text for headings."""
    shown = sweep.values if values is None else values
    if len(shown) > 3:
        return f"{sweep.parameter} {sweep.label(shown[0])}..{sweep.label(shown[-1])}"
    return f"{sweep.parameter} {', '.join(sweep.label(value) for value in shown)}"
