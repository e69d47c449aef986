"""Replications: many independent runs of a configuration, spread over cores or a cluster.

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

Where the runs go is ``simulation.backend``'s choice: in this process, a
pool of worker processes, an embedded Dask ``LocalCluster``, or a Dask
scheduler with workers on other machines (``cluster=``). Results are put
back in job order whatever order they finish in, so the summaries are the
same bit for bit on all of them. With a ``RunStore`` each finished run is
kept on disk as it comes, and a later call with the same store computes only
the runs it lacks (``simulation.runstore``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from simulation.backend import Job, open_backend
from simulation.config import HallConfig
from simulation.hall import simulate
from simulation.runstore import RunStore, config_digest
from simulation.statistics import RunResult, summarise_run
from simulation.summary import Summary

__all__ = [
    "Progress",
    "plan_jobs",
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


def plan_jobs(
    configs: Sequence[HallConfig],
    base_dirs: Path | Sequence[Path] = Path(),
    *,
    replications: int | None = None,
    seed: int | None = None,
) -> list[tuple[int, Job]]:
    """Every replication of every configuration as (configuration number, job), in order.

    The arguments are ``run_configurations``'s. Each job's key is its run
    key (``simulation.runstore.run_key``), under which a store keeps it.
    """
    if isinstance(base_dirs, Path):
        folders = [base_dirs] * len(configs)
    else:
        folders = list(base_dirs)
        if len(folders) != len(configs):
            raise ValueError(f"{len(configs)} configurations but {len(folders)} base folders")
    jobs: list[tuple[int, Job]] = []
    for number, (config, folder) in enumerate(zip(configs, folders, strict=True)):
        count = config.replications if replications is None else replications
        if count < 1:
            raise ValueError(f"replications must be at least 1 (got {count})")
        chosen = config.seed if seed is None else seed
        digest = config_digest(config, chosen)
        for index, child in enumerate(replication_seeds(chosen, count)):
            jobs.append((number, Job(config, folder, child, f"{digest}-r{index}")))
    return jobs


def run_configurations(
    configs: Sequence[HallConfig],
    base_dirs: Path | Sequence[Path] = Path(),
    *,
    replications: int | None = None,
    seed: int | None = None,
    processes: int | None = None,
    progress: Progress | None = None,
    cluster: str | None = None,
    store: RunStore | None = None,
    retries: int = 2,
) -> list[Summary]:
    """Run every configuration's replications in one go; a ``Summary`` per configuration.

    ``replications`` and ``seed`` override each configuration's own;
    ``processes`` defaults to the number of cores (1 runs everything in this
    process). ``base_dirs`` is one folder for all, or one per configuration.
    ``cluster`` is the address of a Dask scheduler to run on
    (``simulation.cluster``; ``ClusterError`` when it cannot be used), and
    ``retries`` how often a job whose worker was lost is run again. With
    ``store``, runs it holds are taken from it, and each new run is saved
    in it as soon as it finishes.
    """
    planned = plan_jobs(configs, base_dirs, replications=replications, seed=seed)
    if processes is not None and processes < 1:
        raise ValueError(f"processes must be at least 1 (got {processes})")
    results: list[RunResult | None] = [None] * len(planned)
    done = 0
    if store is not None:
        for index, (_, job) in enumerate(planned):
            results[index] = store.load(job.key)
            if results[index] is not None:
                done += 1
                if progress is not None:
                    progress(done, len(planned))
    missing = [index for index, result in enumerate(results) if result is None]

    def finished(position: int, result: RunResult) -> None:
        nonlocal done
        index = missing[position]
        results[index] = result
        if store is not None:
            store.save(planned[index][1].key, result)
        done += 1
        if progress is not None:
            progress(done, len(planned))

    if missing:
        with open_backend(
            len(missing), processes=processes, cluster=cluster, retries=retries
        ) as backend:
            backend.run([planned[index][1] for index in missing], finished)
    summaries = []
    for number in range(len(configs)):
        runs = [
            result
            for result, (owner, _) in zip(results, planned, strict=True)
            if owner == number and result is not None
        ]
        summaries.append(Summary.of(runs))
    return summaries


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
