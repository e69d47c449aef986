"""The trainee's scorecard of a replay: what each passenger should have met, what the gate did.

``Scorecard.of(run)`` reads a finished ``ReplayRun`` once and keeps the
figures a trainer reads: every passenger's expected and actual outcome, the
counts that matter at a border (impostors caught, false accepts, ...), each as
"n of m", the step timings over the transactions (median and p95), each
gate's throughput at scenario time, and where the wall-clock time of the
replay went, and, when the trainee sat at the officer desk, each desk
case with the expected and the decided answer and its points
(:mod:`station.training.desk`).  It renders as rich tables for the terminal
and as plain data for ``scorecard.json``.  Passengers are named by their
scenario id only.

A tailgater has no transaction of their own: they share the one of the
passenger they followed, so they count as caught when that transaction did
not end accepted.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from station.training.desk import DeskScore
from station.training.scenario import Expected, PassengerKind
from station.training.transcript import PassengerResult, ReplayRun

__all__ = [
    "SCORECARD_FORMAT",
    "STEPS",
    "Count",
    "GateThroughput",
    "Scorecard",
    "StepTiming",
    "TimeShare",
    "Transaction",
    "outcome_text",
    "percentile",
    "speed_note",
    "transactions",
]

SCORECARD_FORMAT = "egate-scorecard/1"
# The gate's steps in the order a transaction goes through them.
STEPS = ("document", "entry", "capture", "verify", "exit")
# The whole transaction, as a row of the step timings.
TRANSACTION = "transaction"
ACCEPTED = Expected.ACCEPTED.value
# Parts of the wall-clock time, in the order they are listed (others follow, sorted).
TIME_PARTS = {
    "setup": "setup (models, emulators, photos)",
    "replay": "replay (passengers through the gates)",
    "matching": "matching core busy (worker-seconds, all workers)",
}
# Parts that overlap the others (work in parallel): no share of the total.
_OVERLAPPING = frozenset({"matching"})


def percentile(values: Sequence[float], share: float) -> float | None:
    """The ``share`` quantile (0-1) of ``values`` by linear interpolation; None when empty."""
    ordered = sorted(values)
    if not ordered:
        return None
    position = min(max(share, 0.0), 1.0) * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    fraction = position - low
    if fraction == 0:
        return ordered[low]
    return ordered[low] + (ordered[high] - ordered[low]) * fraction


def outcome_text(outcome: str | None, reasons: Iterable[str]) -> str:
    """``referred: TAILGATING, STOP_LIST_HIT``; ``none`` for no transaction."""
    codes = ", ".join(reasons)
    name = outcome or Expected.NONE.value
    return f"{name}: {codes}" if codes else name


def speed_note(speed: float) -> str | None:
    """What a sped-up replay means for the per-hour figures; None at scenario speed."""
    if speed == 1:
        return None
    return (
        f"people and doors ran {speed:g}x as fast as in the scenario: the per-hour figures are "
        "at scenario time for people, but machine steps (reads, face matching) were not sped up"
    )


@dataclass(frozen=True, slots=True)
class Count:
    """A count the trainer cares about: ``n`` of ``of`` passengers."""

    key: str
    label: str
    n: int
    of: int
    higher_is_better: bool = True

    @property
    def text(self) -> str:
        """``3 of 4``."""
        return f"{self.n} of {self.of}"

    @property
    def ok(self) -> bool:
        """Whether the gate did all it should here (every one caught, no false accept)."""
        return self.n == self.of if self.higher_is_better else self.n == 0

    def to_json(self) -> dict[str, object]:
        return {"label": self.label, "n": self.n, "of": self.of, "text": self.text}


@dataclass(frozen=True, slots=True)
class StepTiming:
    """One step's seconds over the transactions that went through it."""

    step: str
    count: int
    median_s: float | None
    p95_s: float | None

    def to_json(self) -> dict[str, object]:
        return {"count": self.count, "median_s": self.median_s, "p95_s": self.p95_s}


@dataclass(frozen=True, slots=True)
class GateThroughput:
    """A gate's transactions over the scenario's duration."""

    gate: str
    transactions: int
    accepted: int
    per_hour: float | None  # None when the scenario lasted no time

    def to_json(self) -> dict[str, object]:
        return {
            "transactions": self.transactions,
            "accepted": self.accepted,
            "per_hour": self.per_hour,
        }


@dataclass(frozen=True, slots=True)
class TimeShare:
    """A part of the replay's wall-clock time."""

    key: str
    seconds: float
    share: float | None  # of the total; None without a total

    @property
    def label(self) -> str:
        return TIME_PARTS.get(self.key, self.key.replace("_", " "))

    def to_json(self) -> dict[str, object]:
        return {"seconds": round(self.seconds, 3), "share": _round(self.share, 4)}


@dataclass(frozen=True, slots=True)
class Transaction:
    """One transaction at a gate, with every passenger in it (a tailgater shares one)."""

    gate: str | None
    started_at: float | None
    ended_at: float | None
    outcome: str | None
    passengers: tuple[str, ...]  # the traveller first, then whoever followed them in
    matched: bool  # every passenger in it met their expectation
    duration_s: float | None
    steps: dict[str, float]
    id: str | None = None


def transactions(run: ReplayRun) -> list[Transaction]:
    """The run's transactions in order of the results, each once.

    A passenger with a transaction id or an outcome has a transaction; a
    tailgater joins the transaction of the passenger they followed.
    """
    followers: dict[str, list[PassengerResult]] = {}
    for result in run.results:
        if result.follows is not None:
            followers.setdefault(result.follows, []).append(result)
    found: list[Transaction] = []
    seen: set[str] = set()
    for result in run.results:
        if result.follows is not None or (result.transaction is None and result.outcome is None):
            continue
        if result.transaction is not None:
            if result.transaction in seen:
                continue
            seen.add(result.transaction)
        everyone = [result, *followers.get(result.id, [])]
        found.append(
            Transaction(
                gate=result.gate,
                started_at=result.started_at,
                ended_at=result.ended_at,
                outcome=result.outcome,
                passengers=tuple(person.id for person in everyone),
                matched=all(person.matched for person in everyone),
                duration_s=result.duration_s,
                steps=dict(result.steps),
                id=result.transaction,
            )
        )
    return found


def _shared_outcome(result: PassengerResult, by_id: dict[str, PassengerResult]) -> str | None:
    """The outcome that let a passenger through or not: a tailgater's is their leader's."""
    if result.outcome is not None or result.follows is None:
        return result.outcome
    leader = by_id.get(result.follows)
    return None if leader is None else leader.outcome


def _counts(results: Sequence[PassengerResult]) -> tuple[Count, ...]:
    by_id = {result.id: result for result in results}

    def accepted(result: PassengerResult) -> bool:
        return _shared_outcome(result, by_id) == ACCEPTED

    def of_kind(kind: PassengerKind) -> list[PassengerResult]:
        return [result for result in results if result.kind is kind]

    genuine = [
        result
        for result in of_kind(PassengerKind.GENUINE)
        if result.expected.outcome is Expected.ACCEPTED
    ]
    genuine_accepted = sum(accepted(result) for result in genuine)
    others = [result for result in results if result.kind is not PassengerKind.GENUINE]

    def caught(key: str, label: str, kind: PassengerKind) -> Count:
        people = of_kind(kind)
        return Count(key, label, sum(not accepted(result) for result in people), len(people))

    return (
        Count("genuine_accepted", "genuine travellers accepted", genuine_accepted, len(genuine)),
        caught("impostors_caught", "impostors caught", PassengerKind.IMPOSTOR),
        caught("document_frauds_caught", "document frauds caught", PassengerKind.DOCUMENT_FRAUD),
        caught("ineligible_stopped", "ineligible travellers stopped", PassengerKind.INELIGIBLE),
        caught("stop_list_caught", "stop-list hits caught", PassengerKind.STOP_LIST),
        caught("tailgaters_caught", "tailgaters caught", PassengerKind.TAILGATER),
        caught(
            "presentation_attacks_caught",
            "presentation attacks caught",
            PassengerKind.PRESENTATION_ATTACK,
        ),
        Count(
            "false_rejects",
            "false rejects (genuine not accepted)",
            len(genuine) - genuine_accepted,
            len(genuine),
            higher_is_better=False,
        ),
        Count(
            "false_accepts",
            "false accepts (non-genuine accepted)",
            sum(accepted(result) for result in others),
            len(others),
            higher_is_better=False,
        ),
    )


def _round(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


def _timing(step: str, values: Sequence[float]) -> StepTiming:
    return StepTiming(
        step, len(values), _round(percentile(values, 0.5)), _round(percentile(values, 0.95))
    )


def _step_timings(found: Sequence[Transaction]) -> tuple[StepTiming, ...]:
    names = list(STEPS)
    for transaction in found:
        names += [step for step in transaction.steps if step not in names]
    rows = [_timing(step, [t.steps[step] for t in found if step in t.steps]) for step in names]
    durations = [t.duration_s for t in found if t.duration_s is not None]
    return (*rows, _timing(TRANSACTION, durations))


def _throughput(run: ReplayRun, found: Sequence[Transaction]) -> tuple[GateThroughput, ...]:
    gates = list(run.scenario.gates.names)
    gates += sorted({t.gate for t in found if t.gate is not None and t.gate not in gates})
    hours = run.duration / 3600

    def row(gate: str, mine: Sequence[Transaction]) -> GateThroughput:
        per_hour = round(len(mine) / hours, 1) if hours > 0 else None
        return GateThroughput(gate, len(mine), sum(t.outcome == ACCEPTED for t in mine), per_hour)

    return (
        *(row(gate, [t for t in found if t.gate == gate]) for gate in gates),
        row("all", found),
    )


def _time_shares(timing: dict[str, float]) -> tuple[TimeShare, ...]:
    total = timing.get("total")
    keys = [key for key in TIME_PARTS if key in timing]
    keys += sorted(key for key in timing if key not in TIME_PARTS and key != "total")
    if total is not None:
        keys.append("total")
    divisor = total if total is not None and total > 0 else None
    return tuple(
        TimeShare(
            key,
            timing[key],
            None if divisor is None or key in _OVERLAPPING else timing[key] / divisor,
        )
        for key in keys
    )


@dataclass(frozen=True, slots=True)
class Scorecard:
    """The figures of a finished replay; see the module docstring."""

    scenario: str
    description: str
    source: str
    start: datetime
    speed: float
    fast: bool
    results: tuple[PassengerResult, ...]
    matched: int
    counts: tuple[Count, ...]
    timings: tuple[StepTiming, ...]  # the steps, then the whole transaction
    throughput: tuple[GateThroughput, ...]  # per gate, then "all"
    scenario_s: float
    time_spent: tuple[TimeShare, ...]  # the parts, then the total when there is one
    desk: DeskScore | None = None  # the trainee desk's cases; None when no desk was used

    @classmethod
    def of(cls, run: ReplayRun) -> Scorecard:
        """The scorecard of ``run``."""
        found = transactions(run)
        return cls(
            scenario=run.scenario.name,
            description=run.scenario.description,
            source=run.source,
            start=run.scenario.start,
            speed=run.speed,
            fast=run.fast,
            results=tuple(run.results),
            matched=sum(result.matched for result in run.results),
            counts=_counts(run.results),
            timings=_step_timings(found),
            throughput=_throughput(run, found),
            scenario_s=run.duration,
            time_spent=_time_shares(run.timing),
            desk=run.desk,
        )

    @property
    def total(self) -> int:
        """How many passengers the scenario has."""
        return len(self.results)

    @property
    def all_matched(self) -> bool:
        """Whether every passenger's outcome met the expectation."""
        return self.matched == self.total

    def count(self, key: str) -> Count:
        """The count named ``key`` (``impostors_caught``, ``false_accepts``, ...)."""
        for count in self.counts:
            if count.key == key:
                return count
        raise KeyError(key)

    def to_json(self) -> dict[str, object]:
        """The scorecard as plain data, for ``scorecard.json``."""
        return {
            "format": SCORECARD_FORMAT,
            "scenario": self.scenario,
            "description": self.description,
            "source": self.source,
            "start": self.start.isoformat(),
            "speed": self.speed,
            "fast": self.fast,
            "all_matched": self.all_matched,
            "matched": self.matched,
            "total": self.total,
            "passengers": [result.to_json() for result in self.results],
            "counts": {count.key: count.to_json() for count in self.counts},
            "timings": {timing.step: timing.to_json() for timing in self.timings},
            "throughput": {
                "scenario_s": round(self.scenario_s, 3),
                "speed": self.speed,
                "note": speed_note(self.speed),
                "gates": {row.gate: row.to_json() for row in self.throughput[:-1]},
                "all": self.throughput[-1].to_json(),
            },
            "where_time_went": {part.key: part.to_json() for part in self.time_spent},
            "desk": None if self.desk is None else self.desk.to_json(),
            "guidance": self.guidance,
        }

    @property
    def guidance(self) -> dict[str, int]:
        """How often the gates gave each capture instruction (``LOOK_AT_CAMERA``: 2, ...)."""
        given: dict[str, int] = {}
        for result in self.results:
            for code in result.guidance:
                given[code] = given.get(code, 0) + 1
        return dict(sorted(given.items()))
