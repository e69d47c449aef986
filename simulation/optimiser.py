"""The staffing optimiser: the desk roster with the fewest officer-hours that meets every slot.

``optimise`` works on slots of the shift grid (``ShiftRules.step_min``) and
holds every slot to the service level on its own: of the travellers who
*arrive* in a slot, the share waiting at most ``max_wait_min`` must reach
``share`` on the lower end of its 95 % confidence interval (Student's t
over the replications, cut to [0, 1], as ``egate simulate`` decides the
whole run). Travellers are counted by the slot they arrive in, not the one
their wait ends in, so that a traveller still waiting when the run stops
counts against the slot that let them in rather than vanishing from it.

It goes in three steps, every evaluation simulating the same replications
(the same seeds: common random numbers, so two rosters are compared on the
same travellers):

1. **Requirement.** Start from square-root staffing of the desk load each
   slot brings (load + sqrt(load) / 2 officers), then raise each slot that
   misses and lower, every other slot at a time, those that meet; a lowered
   slot that makes a slot miss (itself, or one beside it: queues carry
   over) goes back up and is not lowered again. What made a slot go back
   up is kept as the proof of its requirement.
2. **Shifts.** Cover that requirement with whole shifts
   (``simulation.shifts.cover``), simulate the shift roster, and where a
   slot still misses raise its requirement above what the shifts gave and
   cover again.
3. **Trim.** Take out shifts, those covering the fewest slots whose
   requirement is proven first, in batches halved on a miss down to one
   shift, and keep each removal after which every slot still meets; it is
   done when every shift has missed alone.

Each step stops when the evaluation budget is spent; the result says what
it proved and where it stopped.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from simulation.config import HallConfig
from simulation.periods import period_bounds
from simulation.replications import replication_seeds
from simulation.rostereval import Evaluation, Evaluator, SlotResult, Tally, pool, with_roster
from simulation.shifts import Shift, ShiftRules, cover, coverage, lower_bound
from simulation.summary import Estimate

__all__ = [
    "Evaluation",
    "OptimiserResult",
    "OptimiserSettings",
    "Proof",
    "SlotResult",
    "optimise",
    "with_roster",
]


@dataclass(frozen=True, slots=True)
class OptimiserSettings:
    """What the optimiser may do: shifts, desks at most, replications and evaluations."""

    rules: ShiftRules = field(default_factory=ShiftRules)
    max_desks: int | None = None  # None: twice the file's most, at least 10
    replications: int = 5
    budget: int = 30  # evaluations, each simulating every replication
    processes: int = 1
    seed: int | None = None  # None: the file's

    def __post_init__(self) -> None:
        if self.replications < 2:
            raise ValueError(
                f"replications: at least 2 for a confidence interval (got {self.replications})"
            )
        if self.budget < 2:
            raise ValueError(f"evaluations: at least 2 (got {self.budget})")
        if self.max_desks is not None and self.max_desks < max(1, self.rules.min_staff):
            raise ValueError(f"max desks: at least 1 and the minimum staff (got {self.max_desks})")
        if self.processes < 1:
            raise ValueError(f"processes: at least 1 (got {self.processes})")


@dataclass(frozen=True, slots=True)
class Proof:
    """Why slot ``slot`` needs at least ``needs`` desks: with one fewer, ``failed`` missed."""

    slot: int
    needs: int
    failed: int  # the slot that missed (this one, or one beside it)
    share: Estimate  # that slot's share within the target, then
    certain: bool  # the whole interval was below the target: a miss with 95 % confidence


@dataclass(frozen=True, slots=True)
class OptimiserResult:
    """What ``optimise`` found: the shifts, the roster they make, and what it proved."""

    config: HallConfig  # the file with the roster found
    rules: ShiftRules
    start_s: float  # clock seconds of slot 0
    requirement: tuple[int, ...]  # desks per slot the search found needed
    shifts: tuple[Shift, ...]
    evaluation: Evaluation  # of the roster returned
    baseline: Evaluation  # of the file's own roster
    baseline_hours: float  # the file's roster's officer-hours within the slots
    proofs: tuple[Proof, ...]  # for slots whose requirement is the roster's desks
    impossible: tuple[int, ...]  # slots missing even with the most desks allowed
    max_desks: int
    replications: int  # per evaluation, the same seeds in each
    evaluations: int
    budget: int
    trimmed: bool  # every shift was tried for removal
    bound: int  # no cover of the requirement has fewer shifts

    @property
    def slot_s(self) -> float:
        """A slot's width in seconds."""
        return self.rules.step_min * 60.0

    @property
    def desks(self) -> tuple[int, ...]:
        """Officers at a desk per slot on the roster returned."""
        return self.evaluation.desks

    @property
    def officer_hours(self) -> float:
        """Shifts times their length (breaks are paid time)."""
        return len(self.shifts) * self.rules.length_min / 60.0

    @property
    def met(self) -> bool:
        """Whether the roster returned meets every slot with confidence."""
        return not self.evaluation.missed()

    def slot_start(self, slot: int) -> float:
        """Clock seconds at which ``slot`` starts."""
        return self.start_s + slot * self.slot_s


def optimise(
    config: HallConfig,
    base_dir: Path,
    settings: OptimiserSettings,
    progress: Callable[[str], None] | None = None,
) -> OptimiserResult:
    """The desk roster of whole shifts with the fewest officer-hours found to meet every slot.

    ``base_dir`` is the folder relative file names in ``config`` are read
    from; ``progress`` is told what each evaluation is for.
    """
    if config.desks is None:
        raise ValueError("desks: the configuration has no desks to staff")
    rules = settings.rules
    most = settings.max_desks or max(10, 2 * config.desks.most)
    seeds = replication_seeds(
        config.seed if settings.seed is None else settings.seed, settings.replications
    )
    with pool(settings.processes) as workers:
        evaluator = Evaluator(config, base_dir, seeds, rules.step_min * 60.0, workers, progress)
        return _Search(config, evaluator, rules, most, settings.budget).run()


class _Search:
    """The three steps of ``optimise``, sharing the slots, the budget and the proofs."""

    def __init__(
        self, config: HallConfig, evaluator: Evaluator, rules: ShiftRules, most: int, budget: int
    ) -> None:
        self.config = config
        self.evaluator = evaluator
        self.rules = rules
        self.most = most
        self.budget = budget
        self.slot_s = rules.step_min * 60.0
        # Slot 0 starts with the run: model time 0, whose arrivals are counted from it.
        self.start_s = config.start
        self.slots = 0
        self.proofs: dict[int, Proof] = {}
        self.impossible: set[int] = set()

    def left(self) -> int:
        return self.budget - self.evaluator.count

    def run(self) -> OptimiserResult:
        baseline, load = self._baseline()
        requirement, evaluation = self._requirement(load)
        shifts, evaluation = self._shifts(requirement, evaluation)
        shifts, evaluation, trimmed = self._trim(requirement, shifts, evaluation)
        desks = evaluation.desks
        final = with_roster(self.config, self.start_s, self.slot_s, desks)
        proofs = tuple(
            proof for slot, proof in sorted(self.proofs.items()) if proof.needs == desks[slot]
        )
        return OptimiserResult(
            config=final,
            rules=self.rules,
            start_s=self.start_s,
            requirement=tuple(requirement),
            shifts=shifts,
            evaluation=evaluation,
            baseline=baseline,
            baseline_hours=sum(baseline.desks) * self.slot_s / 3600.0,
            proofs=proofs,
            impossible=tuple(sorted(self.impossible)),
            max_desks=self.most,
            replications=len(self.evaluator.seeds),
            evaluations=self.evaluator.count,
            budget=self.budget,
            trimmed=trimmed,
            bound=lower_bound(requirement, self.rules),
        )

    def _baseline(self) -> tuple[Evaluation, list[float]]:
        """The file's own roster: how many slots the search needs, the desk load, its verdicts."""
        if self.evaluator.progress is not None:
            self.evaluator.progress("evaluation 1: the file's own roster")
        seconds = self.config.drain_limit_h * 3600.0 + _last_arrival(self.config)
        tallies = self.evaluator.run(self.config, math.ceil(seconds / self.slot_s) + 1)
        last = max(
            (slot for _, total, _, _ in tallies for slot, count in enumerate(total) if count),
            default=0,
        )
        # Up to the last slot anyone arrives in, and one more for the queue left then.
        self.slots = last + 2
        cut: list[Tally] = [
            (met[: self.slots], total[: self.slots], work[: self.slots], end)
            for met, total, work, end in tallies
        ]
        load = [float(np.mean([work[slot] for _, _, work, _ in cut])) for slot in range(self.slots)]
        file_desks = _roster_desks(self.config, self.start_s, self.slot_s, self.slots)
        return self.evaluator.judge(file_desks, cut), load

    def evaluate(self, desks: Sequence[int], why: str) -> Evaluation:
        return self.evaluator.evaluate(self.start_s, desks, why)

    def _requirement(self, load: Sequence[float]) -> tuple[list[int], Evaluation | None]:
        """Step 1: the fewest desks per slot meeting every slot, found by evaluation."""
        floor = self.rules.min_staff
        need = [
            min(self.most, max(floor, math.ceil(value + 0.5 * math.sqrt(value)) if value else 0))
            for value in load
        ]
        tight: set[int] = set()
        verified: Evaluation | None = None
        parity, idle = 0, 0
        candidate = list(need)
        lowered: list[int] = []
        # Steps 2 and 3 keep two fifths of the budget (at least two evaluations).
        reserve = max(2, 2 * self.budget // 5)
        why = "the requirement per interval: a first guess"
        while self.left() > reserve:
            if verified is None or candidate != need:
                evaluation = self.evaluate(candidate, why)
                missed = evaluation.missed(frozenset(self.impossible))
                if not missed:
                    need, verified, lowered = list(candidate), evaluation, []
                elif lowered:
                    # Lowering made slots miss: the lowered slots at or beside each go back up.
                    why = f"the requirement, {len(missed)} intervals missed put back"
                    culprits = {
                        culprit: slot for slot in missed for culprit in _beside(slot, lowered)
                    }
                    for culprit, slot in sorted(culprits.items()):
                        self._prove(culprit, candidate[culprit] + 1, slot, evaluation)
                        candidate[culprit] += 1
                        tight.add(culprit)
                        lowered.remove(culprit)
                    continue
                else:
                    # Raise every slot that misses, by what its shortfall suggests.
                    why = f"the requirement, {len(missed)} intervals that missed raised"
                    for slot in missed:
                        if candidate[slot] >= self.most:
                            self.impossible.add(slot)
                            continue
                        share = evaluation.slots[slot].share.mean
                        step = max(1, math.ceil(candidate[slot] * (self.evaluator.target - share)))
                        self._prove(slot, candidate[slot] + 1, slot, evaluation)
                        candidate[slot] = min(self.most, candidate[slot] + step)
                    continue
            # Everything meets: lower every other slot that may go lower.
            lowered = [
                slot
                for slot in range(parity, self.slots, 2)
                if candidate[slot] > floor and slot not in tight
            ]
            parity = 1 - parity
            idle = 0 if lowered else idle + 1
            if idle >= 2:
                break
            candidate = [value - (slot in lowered) for slot, value in enumerate(candidate)]
            why = f"the requirement, {len(lowered)} intervals lowered by one desk"
        return need, verified

    def _prove(self, slot: int, needs: int, failed: int, evaluation: Evaluation) -> None:
        share = evaluation.slots[failed].share
        certain = math.isfinite(share.high) and share.high < self.evaluator.target
        self.proofs[slot] = Proof(slot, needs, failed, share, certain)

    def _shifts(
        self, need: list[int], evaluation: Evaluation | None
    ) -> tuple[tuple[Shift, ...], Evaluation]:
        """Step 2: whole shifts covering the requirement, raised where the shift roster misses."""
        need = list(need)
        shifts = cover(need, self.rules)
        desks = coverage(shifts, self.slots, self.rules)
        found = self.evaluate(desks, "the shift roster")
        while self.left() > 0:
            missed = found.missed(frozenset(self.impossible))
            if not missed:
                break
            for slot in missed:
                if desks[slot] >= self.most:
                    self.impossible.add(slot)
                else:
                    need[slot] = max(need[slot], desks[slot]) + 1
            shifts = cover(need, self.rules)
            desks = coverage(shifts, self.slots, self.rules)
            found = self.evaluate(desks, "the shift roster, repaired")
        return shifts, found

    def _trim(
        self, need: Sequence[int], shifts: tuple[Shift, ...], found: Evaluation
    ) -> tuple[tuple[Shift, ...], Evaluation, bool]:
        """Step 3: take out single shifts while every slot still meets."""
        if found.missed(frozenset(self.impossible)):
            return shifts, found, False
        rules = self.rules

        def proven(shift: Shift) -> int:
            # Slots this shift holds at a requirement some evaluation showed is needed.
            desks = found.desks
            return sum(
                1
                for slot in shift.on_duty(rules)
                if slot < self.slots
                and slot in self.proofs
                and desks[slot] <= self.proofs[slot].needs
            )

        # Shifts are tried in batches, halved on a miss down to one shift: where most can
        # go, a batch saves evaluations; a shift that misses alone is kept for good.
        pending = sorted(set(shifts), key=lambda shift: (proven(shift), shift))
        kept = list(shifts)
        size = max(1, len(pending) // 16)
        while pending:
            if self.left() <= 0:
                return tuple(sorted(kept)), found, False
            batch = pending[:size]
            trial = list(kept)
            for shift in batch:
                trial.remove(shift)
            desks = coverage(trial, self.slots, rules)
            if min(desks, default=rules.min_staff) >= rules.min_staff:
                words = "one shift" if size == 1 else f"{size} shifts"
                evaluation = self.evaluate(desks, f"without {words}")
                if not evaluation.missed(frozenset(self.impossible)):
                    kept, found = trial, evaluation
                    # Another copy of a shift taken out may be spare too: try it again.
                    pending = pending[size:] + [shift for shift in batch if shift in kept]
                    continue
            if size == 1:
                pending.pop(0)
            size = max(1, size // 2)
        return tuple(sorted(kept)), found, True


def _beside(slot: int, lowered: Sequence[int]) -> list[int]:
    """The lowered slot itself, or the nearest lowered slot on each side of it."""
    if slot in lowered:
        return [slot]
    before = [value for value in lowered if value < slot]
    after = [value for value in lowered if value > slot]
    return ([max(before)] if before else []) + ([min(after)] if after else [])


def _last_arrival(config: HallConfig) -> float:
    """Model seconds of the last on-block or of the horizon: arrivals end about then."""
    moments = [flight.on_block for flight in config.arrivals.timetable()]
    if config.horizon is not None:
        moments.append(config.horizon)
    return max(moments, default=config.start) - config.start + 3600.0


def _roster_desks(config: HallConfig, start_s: float, slot_s: float, slots: int) -> list[int]:
    """The file's own desks per slot (the most staffed at any moment of the slot)."""
    assert config.desks is not None
    if config.desks.roster is None:
        return [config.desks.count or 0] * slots
    bounds = period_bounds(config.desks.roster, math.inf)
    desks = []
    for slot in range(slots):
        begin, end = start_s + slot * slot_s, start_s + (slot + 1) * slot_s
        desks.append(
            max(
                (
                    period.desks
                    for period, (low, high) in zip(config.desks.roster, bounds, strict=True)
                    if low < end and high > begin
                ),
                default=0,
            )
        )
    return desks
