"""What a gate does when a chip fails its checks: the chip's verdicts, and the policy on them.

The chip stack (``hardware.emrtd``) reads a chip and checks it: passive
authentication (is the data what a trusted state signed?), active and chip
authentication (is this the chip the state issued, or a copy?).
``ChipVerdicts`` is what those checks found, in the gate's words and without
personal data: the failed checks (``ChipCheck``), whether active and chip
authentication were offered and held, and for the audit trail the issuing
state and the document signer's certificate fingerprint.

``ChipPolicy`` turns them into a decision as the document policy does:
``accept``, ``refer`` or ``reject`` with reason codes.  Each check's failure
is a rejection or a referral as the gate file says (``policy.chip``).  With
``require_pa`` a chip whose data could not be checked at all (no EF.SOD, or
a reader that does not inspect chips) is referred; active and chip
authentication are required when the chip offers them
(``require_aa_when_present``, ``require_ca_when_present``): a chip that
offers them and fails is a suspected clone.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from egate.documents.verdict import PolicyDecision, Verdict


class ChipCheck(StrEnum):
    """A failed chip check, as a reason code."""

    SOD_MISSING = "CHIP_SOD_MISSING"
    SOD_INVALID = "CHIP_SOD_INVALID"
    SIGNATURE_INVALID = "CHIP_PA_SIGNATURE_INVALID"
    DS_UNTRUSTED = "CHIP_DS_UNTRUSTED"
    DS_EXPIRED = "CHIP_DS_EXPIRED"
    DS_REVOKED = "CHIP_DS_REVOKED"
    HASH_MISMATCH = "CHIP_HASH_MISMATCH"
    # The reader did not check the chip's data (a reader without the stack).
    PA_NOT_RUN = "CHIP_PA_NOT_RUN"
    # Active or chip authentication offered and failed: the chip is a copy.
    CLONE_SUSPECTED = "CHIP_CLONE_SUSPECTED"
    # Opened with BAC while the signed DG14 offers PACE that EF.CardAccess hides.
    ACCESS_DOWNGRADED = "CHIP_ACCESS_DOWNGRADED"


# The checks of passive authentication: any of them leaves the chip's data unproven.
PASSIVE_CHECKS = frozenset(
    {
        ChipCheck.SOD_MISSING,
        ChipCheck.SOD_INVALID,
        ChipCheck.SIGNATURE_INVALID,
        ChipCheck.DS_UNTRUSTED,
        ChipCheck.DS_EXPIRED,
        ChipCheck.DS_REVOKED,
        ChipCheck.PA_NOT_RUN,
    }
)


class Proof(StrEnum):
    """How active or chip authentication went."""

    NOT_OFFERED = "not_offered"
    OK = "ok"
    FAILED = "failed"
    # Offered, but in a form this gate cannot check (a DH key, a DSA key).
    UNSUPPORTED = "unsupported"


@dataclass(frozen=True, slots=True)
class ChipFinding:
    """One failed check; ``data_group`` for a hash mismatch."""

    check: ChipCheck
    data_group: int | None = None


@dataclass(frozen=True, slots=True)
class ChipVerdicts:
    """What the chip's checks found.  No personal data: codes, a state code, a fingerprint."""

    # The chip stack inspected the chip (False: a reader that only hands over data).
    inspected: bool = False
    findings: tuple[ChipFinding, ...] = ()
    active_authentication: Proof = Proof.NOT_OFFERED
    chip_authentication: Proof = Proof.NOT_OFFERED
    # For the audit trail: the issuing state of the DS certificate, and its fingerprint.
    issuing_state: str | None = None
    ds_fingerprint: str | None = None

    @property
    def failed(self) -> frozenset[ChipCheck]:
        """The checks that failed."""
        return frozenset(finding.check for finding in self.findings)

    @property
    def mismatched_data_groups(self) -> tuple[int, ...]:
        """The data groups whose hash is not the signed one."""
        return tuple(
            f.data_group
            for f in self.findings
            if f.check is ChipCheck.HASH_MISMATCH and f.data_group is not None
        )

    def proves(self, data_group: int) -> bool:
        """Whether passive authentication proved ``data_group`` as the issuing state wrote it."""
        return (
            self.inspected
            and not self.failed & PASSIVE_CHECKS
            and data_group not in self.mismatched_data_groups
        )


FailureAction = Literal["reject", "refer"]

_DEFAULT_ACTIONS: dict[ChipCheck, FailureAction] = {
    # Data that is not what its signature says: a forgery.
    ChipCheck.HASH_MISMATCH: "reject",
    ChipCheck.SIGNATURE_INVALID: "reject",
    ChipCheck.SOD_INVALID: "reject",
    ChipCheck.DS_REVOKED: "reject",
    ChipCheck.CLONE_SUSPECTED: "reject",
    # Not proven either way: an officer looks (a state missing from the store, an old signer).
    ChipCheck.SOD_MISSING: "refer",
    ChipCheck.DS_UNTRUSTED: "refer",
    ChipCheck.DS_EXPIRED: "refer",
    ChipCheck.PA_NOT_RUN: "refer",
    ChipCheck.ACCESS_DOWNGRADED: "refer",
}


class ChipPolicySettings(BaseModel):
    """The gate file's ``policy.chip``: which chip checks are required, and what a failure does."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    require_pa: bool = Field(
        default=True,
        description=(
            "Passive authentication must prove the chip's data: without it (no EF.SOD, an "
            "untrusted signer, a reader that does not check) the traveller is referred."
        ),
    )
    require_aa_when_present: bool = Field(
        default=True, description="A chip offering active authentication must pass it."
    )
    require_ca_when_present: bool = Field(
        default=True, description="A chip offering chip authentication must pass it."
    )
    on_failure: dict[ChipCheck, FailureAction] = Field(
        default_factory=lambda: dict(_DEFAULT_ACTIONS),
        description="What each failed check does: reject (alert) or refer to an officer.",
    )

    def action(self, check: ChipCheck) -> FailureAction:
        """What a failure of ``check`` does (the default when the file does not say)."""
        return self.on_failure.get(check, _DEFAULT_ACTIONS[check])


class ChipPolicy:
    """Judges a chip's verdicts (see the module docstring).

    >>> policy = ChipPolicy(ChipPolicySettings())
    >>> policy.judge(ChipVerdicts(inspected=True)).verdict
    <Verdict.ACCEPT: 'accept'>
    >>> forged = ChipVerdicts(True, (ChipFinding(ChipCheck.HASH_MISMATCH, 2),))
    >>> policy.judge(forged).reasons
    ('CHIP_HASH_MISMATCH',)
    """

    def __init__(self, settings: ChipPolicySettings) -> None:
        self.settings = settings

    def required_failures(self, verdicts: ChipVerdicts) -> tuple[ChipCheck, ...]:
        """The failed checks this policy holds against the chip, in a stable order."""
        failed = set(verdicts.failed)
        if not verdicts.inspected:
            failed.add(ChipCheck.PA_NOT_RUN)
        if not self.settings.require_pa:
            failed -= PASSIVE_CHECKS
        proofs = (
            (verdicts.active_authentication, self.settings.require_aa_when_present),
            (verdicts.chip_authentication, self.settings.require_ca_when_present),
        )
        if any(proof is Proof.FAILED and required for proof, required in proofs):
            failed.add(ChipCheck.CLONE_SUSPECTED)
        else:
            failed.discard(ChipCheck.CLONE_SUSPECTED)
        return tuple(check for check in ChipCheck if check in failed)

    def judge(self, verdicts: ChipVerdicts) -> PolicyDecision:
        """Accept, refer or reject the chip, with each failed check's reason code."""
        failures = self.required_failures(verdicts)
        rejected = [c.value for c in failures if self.settings.action(c) == "reject"]
        referred = [c.value for c in failures if self.settings.action(c) == "refer"]
        if rejected:
            return PolicyDecision(Verdict.REJECT, (*rejected, *referred), None)
        if referred:
            return PolicyDecision(Verdict.REFER, tuple(referred), None)
        return PolicyDecision(Verdict.ACCEPT, (), None)
