"""The trainee's officer desk: travellers the gate sent away, and what the trainee decided.

Every traveller a replay's gate refers or rejects arrives at the desk as a
``DeskCase``: what the gate said (outcome, reason codes, what to look at)
and what an officer reads on the data page.  The trainee admits, refuses
with a reason, or calls a supervisor; ``Desk.decide`` judges that against
the scenario's ground truth (``DeskExpectation``: the passenger's ``desk:``
key, else their kind's) and scores it:

* the expected decision (and, for a refusal, the expected reason): 1 point,
  ``correct``;
* a refusal with another reason: 0.5, ``reason_wrong``;
* a supervisor called where a refusal was expected: 0.5, ``escalated``;
* anything else: 0, ``wrong``; a case never decided: 0, ``undecided``.

The replay thread refers cases while a web server's thread decides them,
so a ``Desk`` guards its state with a lock; each case is decided once.
The expected answer of a case is shown only once it is decided.  The
scorecard's ``DeskScore`` names passengers by their scenario id only: the
data page's fields stay on the live desk.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import TypeVar
from urllib.parse import quote

from egate.documents.mrz import MrzFormatError, parse_mrz
from station.people.passenger_spec import (
    DeskDecision,
    DeskExpectation,
    PassengerSpec,
    RefusalReason,
)
from station.training.lookat import look_at

__all__ = [
    "DESK_OUTCOMES",
    "Desk",
    "DeskCase",
    "DeskDecision",
    "DeskExpectation",
    "DeskMark",
    "DeskScore",
    "DeskVerdict",
    "RefusalReason",
    "ScoredCase",
    "answer_text",
    "desk_case",
    "judge",
    "officer_view",
]

# The gate outcomes that send a traveller to an officer (an aborted
# transaction sends nobody: the traveller may simply try again).
DESK_OUTCOMES = frozenset({"referred", "rejected"})


class DeskMark(StrEnum):
    """How a desk decision compares with the expected one (the ``verdict`` in JSON)."""

    CORRECT = "correct"
    REASON_WRONG = "reason_wrong"  # refused, as expected, but for another reason
    ESCALATED = "escalated"  # a supervisor called where a refusal was expected
    WRONG = "wrong"
    UNDECIDED = "undecided"


POINTS: dict[DeskMark, float] = {
    DeskMark.CORRECT: 1.0,
    DeskMark.REASON_WRONG: 0.5,
    DeskMark.ESCALATED: 0.5,
    DeskMark.WRONG: 0.0,
    DeskMark.UNDECIDED: 0.0,
}


def judge(
    expected: DeskExpectation, decision: DeskDecision, reason: RefusalReason | None
) -> DeskMark:
    """The mark of ``decision`` (with ``reason``) against ``expected``."""
    if decision is expected.decision and reason is expected.reason:
        return DeskMark.CORRECT
    if expected.decision is DeskDecision.REFUSE:
        if decision is DeskDecision.REFUSE:
            return DeskMark.REASON_WRONG
        if decision is DeskDecision.SUPERVISOR:
            return DeskMark.ESCALATED
    return DeskMark.WRONG


def officer_view(printed_mrz_lines: Sequence[str], today: date) -> dict[str, str]:
    """What an officer reads on the data page whose MRZ is ``printed_mrz_lines``.

    The page as printed (no OCR repair: the officer reads it with their own
    eyes); dates in ISO 8601, "" where the MRZ holds none that is valid.
    ``today`` resolves two-digit years.  Lines that are no MRZ at all give {}.
    """
    try:
        fields = parse_mrz(printed_mrz_lines, today, repair=False).fields
    except MrzFormatError:
        return {}
    return {
        "document_type": fields.document_type,
        "issuing_state": fields.issuing_state,
        "document_number": fields.document_number,
        "surname": fields.surname,
        "given_names": fields.given_names,
        "nationality": fields.nationality,
        "birth_date": "" if fields.birth_date is None else fields.birth_date.isoformat(),
        # The MRZ's "<" (unspecified) is printed as X on the data page.
        "sex": fields.sex or "X",
        "expiry_date": "" if fields.expiry_date is None else fields.expiry_date.isoformat(),
    }


@dataclass(frozen=True, slots=True)
class DeskCase:
    """A traveller at the desk: what the gate said, what the page says, the right answer."""

    passenger: str
    gate: str | None
    at_s: float  # scenario seconds when the gate sent them (their transaction ended)
    outcome: str  # referred or rejected
    reasons: tuple[str, ...]
    expected: DeskExpectation
    # The data page's fields (officer_view); kept out of repr, so out of logs.
    document: dict[str, str] = field(default_factory=dict, repr=False)


def desk_case(
    spec: PassengerSpec,
    *,
    gate: str | None,
    at_s: float,
    outcome: str,
    reasons: Sequence[str],
    today: date,
    passenger: str | None = None,
) -> DeskCase:
    """The desk case of scenario passenger ``spec`` whose transaction ended ``outcome``.

    ``today`` is the scenario's day (``Scenario.today``); ``passenger`` the
    id at the desk when it is not ``spec.id`` (a copy the instructor added).
    A tailgater brings no document: their page is empty.
    """
    page = {} if spec.document is None else officer_view(spec.document.printed(), today)
    return DeskCase(
        passenger=spec.id if passenger is None else passenger,
        gate=gate,
        at_s=at_s,
        outcome=outcome,
        reasons=tuple(reasons),
        expected=spec.desk_expectation,
        document=page,
    )


def answer_text(decision: DeskDecision | None, reason: RefusalReason | None) -> str:
    """An answer in words: ``refuse: impostor``, ``admit``; ``-`` for none yet."""
    if decision is None:
        return "-"
    return decision.value if reason is None else f"{decision.value}: {reason.value}"


@dataclass(frozen=True, slots=True)
class DeskVerdict:
    """The judgement of one case: what was decided (None: nothing yet), its mark and points."""

    passenger: str
    expected: DeskExpectation
    decision: DeskDecision | None
    reason: RefusalReason | None
    mark: DeskMark

    @property
    def points(self) -> float:
        """1 for correct, 0.5 for a wrong reason or an escalation, else 0."""
        return POINTS[self.mark]

    @property
    def decided(self) -> bool:
        """Whether the trainee has decided the case."""
        return self.decision is not None

    def to_json(self) -> dict[str, object]:
        """The decision, its verdict, points and the expected answer (the desk's "decided")."""
        return {
            "decision": None if self.decision is None else self.decision.value,
            "reason": None if self.reason is None else self.reason.value,
            "verdict": self.mark.value,
            "points": self.points,
            "expected": self.expected.to_json(),
        }


@dataclass(frozen=True, slots=True)
class ScoredCase:
    """A case on the scorecard: no data page, the passenger is their scenario id."""

    passenger: str
    gate: str | None
    at_s: float
    outcome: str
    reasons: tuple[str, ...]
    verdict: DeskVerdict

    def to_json(self) -> dict[str, object]:
        """The case for ``scorecard.json``: expected against decided, verdict and points."""
        verdict = self.verdict
        return {
            "passenger": self.passenger,
            "gate": self.gate,
            "at_s": round(self.at_s, 3),
            "outcome": self.outcome,
            "reasons": list(self.reasons),
            "expected": verdict.expected.to_json(),
            "decided": (
                None
                if verdict.decision is None
                else {
                    "decision": verdict.decision.value,
                    "reason": None if verdict.reason is None else verdict.reason.value,
                }
            ),
            "verdict": verdict.mark.value,
            "points": verdict.points,
        }


@dataclass(frozen=True, slots=True)
class DeskScore:
    """The desk's cases in the order they arrived, each judged, for the scorecard."""

    cases: tuple[ScoredCase, ...] = ()

    @property
    def points(self) -> float:
        """The points of every case together."""
        return sum((case.verdict.points for case in self.cases), 0.0)

    @property
    def of(self) -> int:
        """How many cases came to the desk (one point each at best)."""
        return len(self.cases)

    @property
    def decided(self) -> int:
        """How many cases the trainee decided."""
        return sum(case.verdict.decided for case in self.cases)

    @property
    def text(self) -> str:
        """``2.5 of 4``: the points of the most there were."""
        return f"{self.points:g} of {self.of}"

    def to_json(self) -> dict[str, object]:
        """The desk section of ``scorecard.json``."""
        return {
            "points": self.points,
            "of": self.of,
            "decided": self.decided,
            "text": self.text,
            "cases": [case.to_json() for case in self.cases],
        }


_Choice = TypeVar("_Choice", bound=StrEnum)


def _choice(kind: type[_Choice], value: _Choice | str, what: str) -> _Choice:
    """``value`` as a member of ``kind``; a ValueError naming the choices otherwise."""
    try:
        return kind(value)
    except ValueError:
        choices = ", ".join(member.value for member in kind)
        raise ValueError(f"unknown {what} {value!r}: one of {choices}") from None


def _answer(
    decision: DeskDecision | str, reason: RefusalReason | str | None
) -> tuple[DeskDecision, RefusalReason | None]:
    """A decision and its reason as the desk takes them; ValueError for one it cannot."""
    chosen = _choice(DeskDecision, decision, "decision")
    why = None if reason is None else _choice(RefusalReason, reason, "reason")
    if chosen is DeskDecision.REFUSE and why is None:
        choices = ", ".join(member.value for member in RefusalReason)
        raise ValueError(f"refuse needs a reason: one of {choices}")
    if chosen is not DeskDecision.REFUSE and why is not None:
        raise ValueError(f"{chosen.value} takes no reason (got {why.value}): only refuse has")
    return chosen, why


class Desk:
    """The officer desk of one replay: cases referred by the gate, decided by the trainee.

    Thread-safe: the replay refers cases while another thread decides them.
    ``on_change`` (if given) is called after every change, outside the lock,
    so a live view can bump its version.
    """

    def __init__(self, on_change: Callable[[], None] | None = None) -> None:
        self._lock = threading.Lock()
        self._cases: dict[str, DeskCase] = {}  # in order of arrival
        self._verdicts: dict[str, DeskVerdict] = {}
        self._closed = False
        self._version = 0
        self._on_change = on_change

    @property
    def version(self) -> int:
        """Bumps on every referral, decision and closing."""
        with self._lock:
            return self._version

    @property
    def closed(self) -> bool:
        """Whether the desk takes no more decisions (the replay has ended)."""
        with self._lock:
            return self._closed

    def _changed(self) -> None:
        if self._on_change is not None:
            self._on_change()

    def refer(self, case: DeskCase) -> None:
        """A traveller arrives at the desk.

        ValueError for an outcome that sends nobody to a desk (accepted,
        aborted) or a passenger already there.
        """
        if case.outcome not in DESK_OUTCOMES:
            raise ValueError(f"{case.passenger}: a {case.outcome} traveller is not sent to a desk")
        with self._lock:
            if case.passenger in self._cases:
                raise ValueError(f"{case.passenger} is already at the desk")
            self._cases[case.passenger] = case
            self._version += 1
        self._changed()

    def decide(
        self,
        passenger: str,
        decision: DeskDecision | str,
        reason: RefusalReason | str | None = None,
    ) -> DeskVerdict:
        """Record the trainee's decision on ``passenger``'s case and judge it.

        ValueError (one line, checked in this order) for a closed desk, a
        passenger not at the desk, a case decided before, an unknown decision
        or reason, a refusal without a reason, a reason with admit or
        supervisor.  Decision and reason may be given as their values.
        """
        with self._lock:
            # Check and record under one lock: two decisions racing for a
            # case cannot both be scored.
            if self._closed:
                raise ValueError("the desk is closed: the replay has ended")
            case = self._cases.get(passenger) if isinstance(passenger, str) else None
            if case is None:
                raise ValueError(f"{passenger!r} was not sent to the desk")
            earlier = self._verdicts.get(passenger)
            if earlier is not None:
                raise ValueError(f"{passenger} is already decided ({earlier.decision})")
            chosen, why = _answer(decision, reason)
            verdict = DeskVerdict(
                passenger, case.expected, chosen, why, judge(case.expected, chosen, why)
            )
            self._verdicts[passenger] = verdict
            self._version += 1
        self._changed()
        return verdict

    def close(self) -> None:
        """Take no more decisions: the replay has ended and its scorecard is made."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._version += 1
        self._changed()

    def _verdict(self, case: DeskCase) -> DeskVerdict:
        found = self._verdicts.get(case.passenger)
        if found is not None:
            return found
        return DeskVerdict(case.passenger, case.expected, None, None, DeskMark.UNDECIDED)

    def score(self) -> DeskScore:
        """Every case so far with its verdict (undecided ones score 0)."""
        with self._lock:
            return DeskScore(
                tuple(
                    ScoredCase(
                        case.passenger,
                        case.gate,
                        case.at_s,
                        case.outcome,
                        case.reasons,
                        self._verdict(case),
                    )
                    for case in self._cases.values()
                )
            )

    def to_json(self) -> dict[str, object]:
        """The desk for the live console: cases (the expected answer only once decided), score."""
        with self._lock:
            cases = [self._case_json(case) for case in self._cases.values()]
            verdicts = list(self._verdicts.values())
            referred = len(self._cases)
            closed = self._closed
        return {
            "cases": cases,
            "score": {
                "points": sum((verdict.points for verdict in verdicts), 0.0),
                "of": referred,
                "decided": len(verdicts),
            },
            "closed": closed,
        }

    def _case_json(self, case: DeskCase) -> dict[str, object]:
        verdict = self._verdicts.get(case.passenger)
        photo = f"/api/photo/{quote(case.passenger, safe='')}"
        return {
            "passenger": case.passenger,
            "gate": case.gate,
            "at_s": round(case.at_s, 3),
            "outcome": case.outcome,
            "reasons": list(case.reasons),
            "look_at": look_at(case.reasons),
            "document": dict(case.document),
            "chip_photo": f"{photo}/chip",
            "capture_photo": f"{photo}/capture",
            # Never the expected answer before the trainee has given theirs.
            "decided": None if verdict is None else verdict.to_json(),
        }
