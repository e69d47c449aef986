"""Evaluating a desk roster: simulated on fixed replications, judged interval by interval.

The staffing optimiser (``simulation.optimiser``) asks one question many
times: does this roster, desks per slot, meet the service level in every
slot? ``Evaluator`` simulates it on the same replications each time (common
random numbers) and ``Evaluator.judge`` holds each slot to the target on
the lower end of its share's 95 % confidence interval.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

import numpy as np

from simulation.config import HallConfig
from simulation.hall import simulate
from simulation.periods import RosterPeriod
from simulation.summary import Estimate

__all__ = ["Evaluation", "Evaluator", "SlotResult", "Tally", "pool", "with_roster"]

# Shares are means of 0/1 values: a hair of rounding is not a miss (as the sweep's verdict).
_SLACK = 1e-12


@dataclass(frozen=True, slots=True)
class SlotResult:
    """One slot of one evaluation: the share of its arrivals within the target, and the verdict."""

    share: Estimate  # NaN when nobody arrived in the slot
    travellers: float  # arrivals per replication, on average
    met: bool  # on the lower confidence bound; True for a slot nobody arrived in


@dataclass(frozen=True, slots=True)
class Evaluation:
    """A roster simulated: desks per slot and each slot's result."""

    desks: tuple[int, ...]
    slots: tuple[SlotResult, ...]

    def missed(self, excused: frozenset[int] = frozenset()) -> list[int]:
        """The slots that miss the service level, less ``excused``."""
        return [
            index for index, slot in enumerate(self.slots) if not slot.met and index not in excused
        ]


def with_roster(
    config: HallConfig, start_s: float, slot_s: float, desks: Sequence[int]
) -> HallConfig:
    """``config`` with a desk roster of ``desks[i]`` officers from ``start_s + i * slot_s``.

    Equal neighbouring slots make one period; after the last slot no desk is
    staffed. Nothing else in the configuration changes.
    """
    if config.desks is None:
        raise ValueError("desks: the configuration has no desks to staff")
    periods = []
    begin = 0
    for index in range(1, len(desks) + 1):
        if index == len(desks) or desks[index] != desks[begin]:
            periods.append(
                RosterPeriod.model_validate(
                    {
                        "from": _clock(start_s + begin * slot_s),
                        "to": _clock(start_s + index * slot_s),
                        "desks": desks[begin],
                    }
                )
            )
            begin = index
    staffed = config.desks.model_copy(update={"count": None, "roster": tuple(periods)})
    return config.model_copy(update={"desks": staffed})


def _clock(seconds: float) -> str:
    """Clock seconds as ``HH:MM[:SS]`` (hours run on past 23), what a roster period reads."""
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours:02d}:{minutes:02d}" + (f":{secs:02d}" if secs else "")


Tally = tuple[list[int], list[int], list[float], float]


def _tally(
    config: HallConfig, base_dir: Path, seed: np.random.SeedSequence, slot_s: float, slots: int
) -> Tally:
    """One replication, per arrival slot: within the target, all, desk load; and its end."""
    records = simulate(config, base_dir, seed)
    end = records.end
    arrived = records.arrived
    waits = np.zeros_like(arrived)
    # Waits cut off by the end of the run count up to it, as in the run's own figures.
    for joined, started in (
        (arrived, records.gate_start),
        (records.core_asked, records.core_start),
        (records.desk_join, records.desk_start),
    ):
        used = ~np.isnan(joined)
        if joined is arrived:
            used = records.arrivals.uses_gate()
        began = np.where(np.isnan(started), end, started)
        waits += np.where(used, began - np.where(used, joined, 0.0), 0.0)
    # Model time 0 is config.start; slot 0 starts there.
    index = np.clip((arrived // slot_s).astype(np.int64), 0, slots - 1)
    within = waits <= config.service_level.max_wait_min * 60.0
    met = np.bincount(index[within], minlength=slots)[:slots]
    total = np.bincount(index, minlength=slots)[:slots]
    served = ~np.isnan(records.desk_end) & ~np.isnan(records.desk_join)
    desk_slot = np.clip((records.desk_join[served] // slot_s).astype(np.int64), 0, slots - 1)
    work = np.bincount(
        desk_slot,
        weights=records.desk_end[served] - records.desk_start[served],
        minlength=slots,
    )[:slots]
    return met.tolist(), total.tolist(), (work / slot_s).tolist(), float(end)


class Evaluator:
    """Simulates rosters on the same replications, counting every evaluation."""

    def __init__(
        self,
        config: HallConfig,
        base_dir: Path,
        seeds: Sequence[np.random.SeedSequence],
        slot_s: float,
        pool: Executor | None,
        progress: Callable[[str], None] | None,
    ) -> None:
        self.config = config
        self.base_dir = base_dir
        self.seeds = list(seeds)
        self.slot_s = slot_s
        self.pool = pool
        self.progress = progress
        self.count = 0
        self.target = config.service_level.share - _SLACK

    def run(self, config: HallConfig, slots: int) -> list[Tally]:
        """Every replication of ``config``, as per-slot tallies."""
        self.count += 1
        args = (config, self.base_dir)
        if self.pool is None:
            return [_tally(*args, seed, self.slot_s, slots) for seed in self.seeds]
        futures = [self.pool.submit(_tally, *args, seed, self.slot_s, slots) for seed in self.seeds]
        return [future.result() for future in futures]

    def judge(self, desks: Sequence[int], tallies: Sequence[Tally]) -> Evaluation:
        """Each slot's share within the target over the replications, and its verdict."""
        results = []
        for slot in range(len(desks)):
            shares = [
                met[slot] / total[slot] if total[slot] else math.nan for met, total, _, _ in tallies
            ]
            share = Estimate.of(shares, 0.0, 1.0)
            if not share.replications:
                results.append(SlotResult(share, 0.0, True))
                continue
            met_ = (
                share.mean >= self.target and math.isfinite(share.low) and share.low >= self.target
            )
            travellers = float(np.mean([total[slot] for _, total, _, _ in tallies]))
            results.append(SlotResult(share, travellers, met_))
        return Evaluation(tuple(desks), tuple(results))

    def evaluate(self, start_s: float, desks: Sequence[int], why: str) -> Evaluation:
        """The roster of ``desks`` per slot, simulated and judged."""
        if self.progress is not None:
            self.progress(f"evaluation {self.count + 1}: {why}")
        config = with_roster(self.config, start_s, self.slot_s, desks)
        return self.judge(desks, self.run(config, len(desks)))


@contextlib.contextmanager
def pool(processes: int) -> Iterator[Executor | None]:
    """A pool of ``processes`` spawned workers, or None to run in this process."""
    if processes == 1:
        yield None
        return
    with ProcessPoolExecutor(max_workers=processes, mp_context=get_context("spawn")) as pool:
        yield pool
