"""Replications: many independent runs of a configuration, spread over the machine's cores.

One run of a stochastic model is one sample; its figures are only
estimates. Running the model again with independent random numbers (a
*replication*) and looking at the spread of the results tells how far to
trust them: ``Summary`` reports each figure's mean over the replications
with a 95% confidence interval.

Random numbers come from ``numpy.random.SeedSequence``: the configuration's
``seed`` is spawned into one child per replication, and each replication
splits its child further into one stream per purpose (arrivals, each gate
step, desks, ...; see ``simulation.hall``). So replication ``r`` of seed
``s`` is the same bit for bit however many replications are asked for, in
whatever process it runs and in whatever order the runs finish; and two
configurations run with the same seed see the same travellers arrive as
long as their arrivals are configured alike (common random numbers: a
sweep compares configurations rather than luck).

Runs go to a pool of worker processes (the ``spawn`` start method, which
behaves the same on every platform and inherits no state) when there is
more than one, one per core by default.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from multiprocessing import get_context
from pathlib import Path

import numpy as np

from simulation.config import HallConfig
from simulation.hall import simulate
from simulation.statistics import RunResult, summarise_run
from simulation.summary import Summary

__all__ = [
    "Progress",
    "replication_seeds",
    "run_configurations",
    "run_replication",
    "run_replications",
]

Progress = Callable[[int, int], None]
"""Called after each finished replication with (finished so far, total)."""


def replication_seeds(seed: int, replications: int) -> list[np.random.SeedSequence]:
    """The seeds of replications 0 .. ``replications - 1`` of ``seed``."""
    return np.random.SeedSequence(seed).spawn(replications)


def run_replication(
    config: HallConfig,
    base_dir: Path,
    seed: np.random.SeedSequence | int,
    *,
    replay_decisions: bool = True,
) -> RunResult:
    """One replication: ``seed`` is its seed sequence, or its index under ``config.seed``.

    ``base_dir`` is the folder that relative file names in ``config`` are
    read from (the configuration file's). ``replay_decisions=False`` runs
    every gate transaction through its controller (same results, slower).
    """
    if isinstance(seed, int):
        if seed < 0:
            raise ValueError(f"a replication index is at least 0 (got {seed})")
        seed = replication_seeds(config.seed, seed + 1)[seed]
    records = simulate(config, base_dir, seed, replay_decisions=replay_decisions)
    return summarise_run(records)


def _job(config: HallConfig, base_dir: Path, seed: np.random.SeedSequence) -> RunResult:
    """What a worker process runs (module level, so that it pickles by name)."""
    return run_replication(config, base_dir, seed)


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def run_configurations(
    configs: Sequence[HallConfig],
    base_dirs: Path | Sequence[Path] = Path(),
    *,
    replications: int | None = None,
    seed: int | None = None,
    processes: int | None = None,
    progress: Progress | None = None,
) -> list[Summary]:
    """Run every configuration's replications in one pool; a ``Summary`` per configuration.

    ``replications`` and ``seed`` override each configuration's own;
    ``processes`` defaults to the number of cores (1 runs everything in this
    process). ``base_dirs`` is one folder for all, or one per configuration.
    """
    if isinstance(base_dirs, Path):
        folders = [base_dirs] * len(configs)
    else:
        folders = list(base_dirs)
        if len(folders) != len(configs):
            raise ValueError(f"{len(configs)} configurations but {len(folders)} base folders")
    jobs: list[tuple[int, HallConfig, Path, np.random.SeedSequence]] = []
    for number, (config, folder) in enumerate(zip(configs, folders, strict=True)):
        count = config.replications if replications is None else replications
        if count < 1:
            raise ValueError(f"replications must be at least 1 (got {count})")
        for child in replication_seeds(config.seed if seed is None else seed, count):
            jobs.append((number, config, folder, child))
    workers = min(_cores() if processes is None else processes, len(jobs))
    if workers < 1:
        raise ValueError(f"processes must be at least 1 (got {processes})")
    results: list[RunResult | None] = [None] * len(jobs)
    if workers == 1:
        for index, (_, config, folder, child) in enumerate(jobs):
            results[index] = _job(config, folder, child)
            if progress is not None:
                progress(index + 1, len(jobs))
    else:
        _in_pool(jobs, workers, results, progress)
    summaries = []
    for number in range(len(configs)):
        runs = [
            result
            for result, job in zip(results, jobs, strict=True)
            if job[0] == number and result is not None
        ]
        summaries.append(Summary.of(runs))
    return summaries


def _in_pool(
    jobs: Sequence[tuple[int, HallConfig, Path, np.random.SeedSequence]],
    workers: int,
    results: list[RunResult | None],
    progress: Progress | None,
) -> None:
    """Fill ``results`` (in job order) from a pool of ``workers`` processes."""
    with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool:
        futures: dict[Future[RunResult], int] = {
            pool.submit(_job, config, folder, child): index
            for index, (_, config, folder, child) in enumerate(jobs)
        }
        try:
            for done, future in enumerate(as_completed(futures), start=1):
                results[futures[future]] = future.result()
                if progress is not None:
                    progress(done, len(jobs))
        except BaseException:
            # An error or an interrupt: do not start what is still queued.
            pool.shutdown(wait=True, cancel_futures=True)
            raise


def run_replications(
    config: HallConfig,
    base_dir: Path = Path(),
    replications: int | None = None,
    seed: int | None = None,
    processes: int | None = None,
    progress: Progress | None = None,
) -> Summary:
    """The replications of one configuration (by default its own count and seed), summarised."""
    return run_configurations(
        [config],
        base_dir,
        replications=replications,
        seed=seed,
        processes=processes,
        progress=progress,
    )[0]
