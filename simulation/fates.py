"""What happens to a gate user, drawn up front: their *fate*, packed into one integer.

A fate says how the document reads (accepted, rejected, referred, a chip
that cannot be read, or a chip that fails one of its checks: passive
authentication or, for a clone, active and chip authentication), how many
face captures fail before one succeeds,
whether someone follows the traveller in, whether the traveller is an
impostor, and whether the face comparison fails to match. Every fate is
drawn at once from the configured rates (``draw_fates``) as a code that
``decode`` unpacks; the gate controller then decides what to do with it.

Because the controller starts every transaction from the same idle state,
the same fate always takes the same path through it: ``Plans`` remembers
the path (``Plan``) the first transaction with a given code took, so that
later ones replay it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from egate.documents.chippolicy import (
    ChipCheck,
    ChipFinding,
    ChipPolicy,
    ChipPolicySettings,
    ChipVerdicts,
    Proof,
)
from egate.documents.verdict import Verdict
from egate.gate import events as e
from egate.gate.commands import Finish, Outcome
from egate.gate.events import ChipStatus, DocumentCheck
from simulation.config import GateRates

__all__ = [
    "DOCUMENT_EVENTS",
    "DocumentOutcome",
    "Fate",
    "Plan",
    "Plans",
    "decode",
    "document_outcomes",
    "draw_fates",
]

# A fate's outcome at the document reader; chip failures follow, one per kind.
_DOC_OK, _DOC_REJECT, _DOC_REFER, _DOC_CHIP = range(4)
_ACCEPTED_DOCUMENT = DocumentCheck(Verdict.ACCEPT)
# What the document reader and the chip reader tell the controller, by outcome.
DOCUMENT_EVENTS = {
    _DOC_OK: (e.DocumentRead(True, _ACCEPTED_DOCUMENT), e.ChipRead(ChipStatus.OK)),
    _DOC_REJECT: (e.DocumentRead(True, DocumentCheck(Verdict.REJECT)), e.ChipRead(ChipStatus.OK)),
    _DOC_REFER: (e.DocumentRead(True, DocumentCheck(Verdict.REFER)), e.ChipRead(ChipStatus.OK)),
    _DOC_CHIP: (e.DocumentRead(True, _ACCEPTED_DOCUMENT), e.ChipRead(ChipStatus.UNREADABLE)),
}


@dataclass(frozen=True, slots=True)
class DocumentOutcome:
    """What the readers tell the controller for one document outcome of a fate.

    ``reference_failure``: the chip's photo cannot serve for face
    verification (passive authentication did not prove DG2, yet the chip
    policy let the document through): as on a gate, the face is not compared
    and the controller hears ``FaceVerified`` with this reason instead.
    """

    events: tuple[e.Event, ...]
    reference_failure: str | None = None


def _chip_verdicts(failure: ChipCheck) -> ChipVerdicts:
    """What an inspection finds on a chip that fails ``failure``."""
    if failure is ChipCheck.CLONE_SUSPECTED:
        # A copy holds neither private key: active and chip authentication both fail.
        return ChipVerdicts(
            inspected=True, active_authentication=Proof.FAILED, chip_authentication=Proof.FAILED
        )
    group = 2 if failure is ChipCheck.HASH_MISMATCH else None  # a substituted photo
    return ChipVerdicts(inspected=True, findings=(ChipFinding(failure, group),))


def document_outcomes(
    failures: Sequence[ChipCheck], policy: ChipPolicySettings | None = None
) -> tuple[DocumentOutcome, ...]:
    """The outcomes of ``draw_fates``' document index: the four above, then each chip failure.

    The chip policy (``policy``, the gate file's ``policy.chip``) judges each
    failure as the gate's service does: reject, refer or accept.
    """
    outcomes = [DocumentOutcome(DOCUMENT_EVENTS[index]) for index in range(4)]
    judge = ChipPolicy(policy if policy is not None else ChipPolicySettings())
    for failure in failures:
        verdicts = _chip_verdicts(failure)
        check = DocumentCheck.from_decision(judge.judge(verdicts))
        unproven = check.verdict is Verdict.ACCEPT and not verdicts.proves(2)
        outcomes.append(
            DocumentOutcome(
                (e.DocumentRead(True, _ACCEPTED_DOCUMENT), e.ChipRead(ChipStatus.OK, True, check)),
                "REFERENCE_UNVERIFIED" if unproven else None,
            )
        )
    return tuple(outcomes)


@dataclass(frozen=True, slots=True)
class Fate:
    """What will happen to one gate user, decoded from its fate code."""

    document: int
    failed_captures: int  # before the first good one; capture_attempts or more: never
    tailgated: bool
    impostor: bool
    no_match: bool


def draw_fates(rates: GateRates, count: int, attempts: int, rng: np.random.Generator) -> list[int]:
    """The fate codes of ``count`` travellers, drawn at once (desk users' codes go unused).

    The code packs document outcome (4 values and one per kind of chip
    failure in ``rates.chip_failures``), failed captures (0..attempts),
    tailgating, impostor and no-match (2 each).
    """
    uniforms = rng.random((5, count))
    chip = [rate for _, rate in rates.chip_failures]
    kinds = 4 + len(chip)
    document_bounds = np.cumsum(
        [rates.document_rejection, rates.document_referral, rates.chip_unreadable, *chip]
    )
    # Below the first bound: rejected, below the second: referred, ...; so
    # that _DOC_OK is 0, shift the categories round by one.
    document = (np.searchsorted(document_bounds, uniforms[0], side="right") + 1) % kinds
    fta = rates.failure_to_acquire
    if fta >= 1:
        failed = np.full(count, attempts, dtype=np.int64)
    elif fta > 0:
        # P(at least k failures in a row) = fta**k; 1 - u avoids log(0).
        ratio = np.log1p(-uniforms[1]) / math.log(fta)
        failed = np.floor(np.minimum(ratio, attempts)).astype(np.int64)
    else:
        failed = np.zeros(count, dtype=np.int64)
    tailgated = uniforms[2] < rates.tailgating
    impostor = uniforms[3] < rates.impostor_share
    no_match = np.where(impostor, uniforms[4] >= rates.fmr, uniforms[4] < rates.fnmr)
    code = document + kinds * (
        failed + (attempts + 1) * (tailgated + 2 * (impostor + 2 * no_match))
    )
    result: list[int] = code.astype(np.int64).tolist()
    return result


def decode(code: int, attempts: int, chip_failures: int = 0) -> Fate:
    """The fate packed in ``code`` by ``draw_fates`` with the same ``attempts`` and failures."""
    kinds = 4 + chip_failures
    document, rest = code % kinds, code // kinds
    failed, rest = rest % (attempts + 1), rest // (attempts + 1)
    return Fate(document, failed, bool(rest & 1), bool(rest & 2), bool(rest & 4))


@dataclass(frozen=True, slots=True)
class Plan:
    """The path the controller took for one fate: steps to spend time in, and the ending."""

    number: int
    steps: tuple[int, ...]
    outcome: Outcome
    reasons: tuple[str, ...]
    impostor: bool
    referred: bool  # sent to the desks (referred or rejected)


class Plans:
    """The paths the controller took, by fate code, in the order they were first taken."""

    def __init__(self) -> None:
        self.by_code: dict[int, Plan] = {}
        self.in_order: list[Plan] = []

    def learn(self, code: int, steps: tuple[int, ...], finish: Finish, impostor: bool) -> Plan:
        """Remember the path a transaction with fate ``code`` took (or check it again)."""
        known = self.by_code.get(code)
        if known is not None:
            # The controller is deterministic: the same fate takes the same path.
            if (known.steps, known.outcome, known.reasons) != (
                steps,
                finish.outcome,
                finish.reasons,
            ):
                raise RuntimeError(f"the controller decided fate {code} differently twice")
            return known
        referred = finish.outcome is not Outcome.ACCEPTED
        plan = Plan(len(self.in_order), steps, finish.outcome, finish.reasons, impostor, referred)
        self.by_code[code] = plan
        self.in_order.append(plan)
        return plan
