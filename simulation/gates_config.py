"""The ``gates`` section of a hall file: the bank of e-gates, its steps, rates and schedule.

How many gates, how travellers queue for them, how long each step of a
transaction takes (``StepsConfig``), how often each exception happens
(``OutcomeRates``, or FNMR and FMR from a rate table: ``BiometricRates``),
chips that fail their checks (``ChipChecksConfig``), the banks that open
and close by time of day and the failures. ``GatesConfig.rates()`` gives
the rates a gate runs with (``GateRates``). Periods of the day, shared with
the desks' roster, are in ``simulation.periods``.
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import Field, PrivateAttr, field_validator, model_validator

from egate.documents.chippolicy import ChipCheck, ChipPolicySettings
from egate.gate.settings import Topology
from egate.paths import ConfigFile
from simulation.chip_specs import ChipStepSpec
from simulation.classes import ConfigModel, Probability
from simulation.distribution_specs import DeterministicSpec, DistributionSpec
from simulation.fields import fail as _fail
from simulation.periods import BankPeriod, check_periods
from simulation.rates import interpolate, read_rates

__all__ = [
    "PA_REASONS",
    "BiometricRates",
    "ChipChecksConfig",
    "FailuresConfig",
    "GateRates",
    "GatesConfig",
    "OutcomeRates",
    "StepsConfig",
]

_Model = ConfigModel


def _zero() -> DistributionSpec:
    return DeterministicSpec(value=0)


class StepsConfig(_Model):
    """How long each step of a gate transaction takes; an omitted step takes no time.

    ``document``: placing the passport until MRZ and chip are read and judged
    (with a ``chip`` step: all of that but the chip read); ``chip``: reading
    the chip, from the chips travellers carry or measured reads
    (``simulation.chip_specs``); ``entry``: walking into the gate;
    ``capture``: one face capture attempt (repeated on a failure to acquire);
    ``verify``: the 1:1 comparison; ``exit``: leaving through the exit door.
    """

    document: DistributionSpec = Field(default_factory=_zero)
    chip: ChipStepSpec = Field(default_factory=_zero)
    entry: DistributionSpec = Field(default_factory=_zero)
    capture: DistributionSpec = Field(default_factory=_zero)
    verify: DistributionSpec = Field(default_factory=_zero)
    exit: DistributionSpec = Field(default_factory=_zero)


class OutcomeRates(_Model):
    """How often each exception happens at a gate (probabilities)."""

    failure_to_acquire: Probability = Field(default=0.0, description="Per capture attempt.")
    biometric_mismatch: Probability | None = Field(
        default=None, description="FNMR: a genuine traveller is not matched."
    )
    false_match: Probability | None = Field(
        default=None, description="FMR: an impostor is matched."
    )
    impostor_share: Probability = Field(
        default=0.0, description="Share of gate users presenting someone else's passport."
    )
    document_rejection: Probability = 0.0
    document_referral: Probability = 0.0
    chip_unreadable: Probability = 0.0
    tailgating: Probability = Field(default=0.0, description="Share of transactions alarmed.")

    @model_validator(mode="after")
    def _document_total(self) -> OutcomeRates:
        total = self.document_rejection + self.document_referral + self.chip_unreadable
        if total > 1:
            _fail(
                ("document_rejection",),
                f"document_rejection + document_referral + chip_unreadable is {total:.6g}, "
                "more than 1",
                self.document_rejection,
            )
        return self


class BiometricRates(_Model):
    """FNMR and FMR read from the ``rates.csv`` of ``egate biometrics eval`` at a threshold.

    A threshold between two rows of the table is interpolated linearly.
    """

    rates_file: ConfigFile
    threshold: float = Field(ge=0)
    _fnmr: float = PrivateAttr(default=0.0)
    _fmr: float = PrivateAttr(default=0.0)

    @model_validator(mode="after")
    def _read(self) -> BiometricRates:
        try:
            rows = read_rates(self.rates_file)
        except ValueError as error:
            _fail(("rates_file",), str(error), str(self.rates_file))
        low, high = rows[0][0], rows[-1][0]
        if not low - 1e-9 <= self.threshold <= high + 1e-9:
            _fail(
                ("threshold",),
                f"outside the thresholds of {self.rates_file.name} ({low:g} to {high:g})",
                self.threshold,
            )
        self._fmr, self._fnmr = interpolate(rows, self.threshold)
        return self

    @property
    def fnmr(self) -> float:
        """The false non-match rate at the threshold."""
        return self._fnmr

    @property
    def fmr(self) -> float:
        """The false match rate at the threshold."""
        return self._fmr


# What passive authentication can find wrong with a chip that was read.
PA_REASONS = (
    ChipCheck.SOD_MISSING,
    ChipCheck.SOD_INVALID,
    ChipCheck.SIGNATURE_INVALID,
    ChipCheck.DS_UNTRUSTED,
    ChipCheck.DS_EXPIRED,
    ChipCheck.DS_REVOKED,
    ChipCheck.HASH_MISMATCH,
)


def _default_pa_reasons() -> dict[ChipCheck, float]:
    return {ChipCheck.DS_UNTRUSTED: 1.0}


class ChipChecksConfig(_Model):
    """Chips that fail their checks: how often, why, and what the gate's chip policy does.

    ``pa_failure`` is the share of gate users whose chip fails passive
    authentication, split by ``pa_reasons`` (shares adding up to 1; by default
    all of them an untrusted document signer, the usual case: a state whose
    CSCA is not in the trust store); ``clone`` the share whose chip is a copy
    that fails active and chip authentication (``CHIP_CLONE_SUSPECTED``).
    ``policy`` is the gate file's ``policy.chip``: it decides whether each
    failure rejects or refers (``egate.documents.chippolicy``).
    """

    pa_failure: Probability = 0.0
    pa_reasons: dict[ChipCheck, Probability] = Field(default_factory=_default_pa_reasons)
    clone: Probability = 0.0
    policy: ChipPolicySettings = Field(default_factory=ChipPolicySettings)

    @field_validator("pa_reasons")
    @classmethod
    def _reasons(cls, reasons: dict[ChipCheck, float]) -> dict[ChipCheck, float]:
        for reason in reasons:
            if reason not in PA_REASONS:
                _fail(
                    (str(reason),),
                    f"not a failure of passive authentication (one of {', '.join(PA_REASONS)})",
                    str(reason),
                )
        total = math.fsum(reasons.values())
        if abs(total - 1) > 1e-6:
            raise ValueError(f"the reasons' shares must add up to 1 (they add up to {total:.6g})")
        return reasons

    def failures(self) -> tuple[tuple[ChipCheck, float], ...]:
        """(reason code, share of gate users) of each way a chip fails, in a stable order."""
        failures = [
            (reason, self.pa_failure * self.pa_reasons[reason])
            for reason in PA_REASONS
            if self.pa_reasons.get(reason, 0) > 0 and self.pa_failure > 0
        ]
        if self.clone > 0:
            failures.append((ChipCheck.CLONE_SUSPECTED, self.clone))
        return tuple(failures)


class GateRates(_Model):
    """The rates a gate runs with, once ``outcomes`` and ``biometrics`` are combined."""

    failure_to_acquire: float
    fnmr: float
    fmr: float
    impostor_share: float
    document_rejection: float
    document_referral: float
    chip_unreadable: float
    tailgating: float
    # Chips that fail a check, by the check that fails: (reason code, share of gate users).
    chip_failures: tuple[tuple[ChipCheck, float], ...] = ()

    def any_referral(self) -> bool:
        """Whether any gate user can end up at a desk."""
        return (
            self.failure_to_acquire > 0
            or self.fnmr > 0
            or (self.impostor_share > 0 and self.fmr < 1)
            or self.document_rejection + self.document_referral + self.chip_unreadable > 0
            or self.tailgating > 0
            or any(rate > 0 for _, rate in self.chip_failures)
        )


class FailuresConfig(_Model):
    """Gate failures: time between them and time to repair, both exponential."""

    mtbf_h: float = Field(gt=0, le=1_000_000, description="Mean time between failures, hours.")
    mttr_min: float = Field(gt=0, le=100_000, description="Mean time to repair, minutes.")


class GatesConfig(_Model):
    """The bank of e-gates: how many, how they queue, how long and how well they work."""

    count: int = Field(ge=0, le=500)
    topology: Topology = Topology.TWO_STEP
    queue: Literal["shared", "per_gate"] = "shared"
    steps: StepsConfig = Field(default_factory=StepsConfig)
    outcomes: OutcomeRates = Field(default_factory=OutcomeRates)
    biometrics: BiometricRates | None = None
    capture_attempts: int = Field(default=3, ge=1, le=10)
    retreat: DistributionSpec = Field(
        default_factory=_zero,
        description="A referred traveller inside the gate backing out (holds the gate).",
    )
    referral_walk: DistributionSpec = Field(
        default_factory=_zero, description="From the gate to the desk queue (seconds)."
    )
    banks: tuple[BankPeriod, ...] | None = None
    failures: FailuresConfig | None = None
    chip_checks: ChipChecksConfig | None = Field(
        default=None, description="Chips failing passive authentication, and clones."
    )

    @field_validator("banks")
    @classmethod
    def _banks_in_order(cls, banks: tuple[BankPeriod, ...] | None) -> tuple[BankPeriod, ...] | None:
        if banks is not None:
            check_periods(banks)
        return banks

    @model_validator(mode="after")
    def _consistent(self) -> GatesConfig:
        for index, bank in enumerate(self.banks or ()):
            if bank.open > self.count:
                _fail(
                    ("banks", index, "open"),
                    f"opens {bank.open} gates but there are {self.count}",
                    bank.open,
                )
        if self.chip_checks is not None:
            outcomes = self.outcomes
            total = (
                outcomes.document_rejection
                + outcomes.document_referral
                + outcomes.chip_unreadable
                + self.chip_checks.pa_failure
                + self.chip_checks.clone
            )
            if total > 1:
                _fail(
                    ("chip_checks", "pa_failure"),
                    f"with the document rates and the clones, {total:.6g} of gate users: "
                    "more than 1",
                    self.chip_checks.pa_failure,
                )
        if self.biometrics is not None:
            for name in ("biometric_mismatch", "false_match"):
                if getattr(self.outcomes, name) is not None:
                    _fail(
                        ("outcomes", name),
                        "give either this rate or biometrics.rates_file, not both",
                        getattr(self.outcomes, name),
                    )
        return self

    def rates(self) -> GateRates:
        """The effective rates (FNMR and FMR from the rate table when one is given)."""
        outcomes = self.outcomes
        if self.biometrics is not None:
            fnmr, fmr = self.biometrics.fnmr, self.biometrics.fmr
        else:
            fnmr = outcomes.biometric_mismatch or 0.0
            fmr = outcomes.false_match or 0.0
        return GateRates(
            failure_to_acquire=outcomes.failure_to_acquire,
            fnmr=fnmr,
            fmr=fmr,
            impostor_share=outcomes.impostor_share,
            document_rejection=outcomes.document_rejection,
            document_referral=outcomes.document_referral,
            chip_unreadable=outcomes.chip_unreadable,
            tailgating=outcomes.tailgating,
            chip_failures=() if self.chip_checks is None else self.chip_checks.failures(),
        )
